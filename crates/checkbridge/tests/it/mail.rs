//! The mailer over real SMTP into the mail sandbox, read back over its HTTP listing.

use std::time::Duration;

use checkbridge::config::{MailConfig, MailSettings, MailTls};
use checkbridge::mail::{
    invitation_mail, InvitationContent, InvitationKind, Mailer, MessageId, OutgoingMail,
};
use sandbox::mail::{MailConfig as SandboxConfig, SmtpReject};

const USER: &str = "checkbridge";
const PASSWORD: &str = "mail-sandbox-password";

fn settings(port: u16, tls: MailTls, password: Option<&str>) -> MailSettings {
    MailConfig {
        smtp_url: None,
        host: Some("127.0.0.1".to_owned()),
        port: Some(u64::from(port)),
        tls: Some(tls),
        username: password.map(|_| USER.to_owned()),
        password: password.map(|p| p.to_owned().into()),
        from: Some("Acme Checks <checks@acme.example>".to_owned()),
        timeout_secs: 10,
    }
    .settings()
    .unwrap()
}

fn invitation(first_name: &str, id: &str) -> (OutgoingMail, url::Url) {
    let link = url::Url::parse("https://cb.example.com/candidate/tok_3f9a?step=1&x=2").unwrap();
    let rendered = invitation_mail(
        &InvitationContent {
            tenant_name: "Acme Corp",
            job_title: "Warehouse Lead",
            first_name,
            link: &link,
        },
        InvitationKind::Invitation,
    )
    .unwrap();
    let mail = OutgoingMail::new(
        "Ana Candidate <ana@candidate.example>",
        rendered,
        MessageId::parse(id).unwrap(),
    )
    .unwrap();
    (mail, link)
}

/// What the sandbox lists for `to`, over HTTP. A send returns after the server's final
/// reply, which comes after the sandbox kept the message, so no waiting is needed.
async fn listed(base: &str, to: &str) -> Vec<serde_json::Value> {
    reqwest::Client::new()
        .get(format!("{base}/messages"))
        .query(&[("to", to)])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_invitation_goes_over_starttls_with_auth_and_reads_back_escaped_with_its_message_id() {
    let sb = sandbox::mail::spawn(SandboxConfig {
        users: vec![(USER.to_owned(), PASSWORD.to_owned())],
        starttls: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let pem = sb.certificate_pem().unwrap().as_bytes().to_vec();
    let mailer = Mailer::with_roots(
        &settings(sb.smtp_addr().port(), MailTls::Starttls, Some(PASSWORD)),
        &[&pem],
    )
    .unwrap();
    let (mail, link) = invitation("<script>alert(1)</script>", "inv-42.1@checkbridge.example");
    mailer.send(&mail).await.unwrap();

    let list = listed(&sb.base_url(), "ana@candidate.example").await;
    assert_eq!(list.len(), 1, "{list:?}");
    let m = &list[0];
    assert_eq!(
        m["subject"],
        "Acme Corp: your background check for Warehouse Lead"
    );
    assert_eq!(m["message_id"], "inv-42.1@checkbridge.example");
    assert_eq!(m["from"], "checks@acme.example");
    assert_eq!(m["authenticated_as"], USER);
    assert_eq!(m["tls"], true);
    assert!(m.get("raw").is_none(), "the listing carries no raw text");
    let text = m["text"].as_str().unwrap();
    let html = m["html"].as_str().unwrap();
    assert!(text.contains(link.as_str()), "{text}");
    assert!(text.contains("Hello <script>alert(1)</script>,"), "{text}");
    let escaped = link.as_str().replace('&', "&amp;").replace('/', "&#x2f;");
    assert!(html.contains(&format!("href=\"{escaped}\"")), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");

    // The raw message, one by id: multipart/alternative with the caller's Message-ID.
    let id = m["id"].as_u64().unwrap();
    let full: serde_json::Value = reqwest::get(format!("{}/messages/{id}", sb.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let raw = full["raw"].as_str().unwrap();
    assert!(
        raw.contains("Message-ID: <inv-42.1@checkbridge.example>"),
        "{raw}"
    );
    assert!(raw.contains("multipart/alternative"), "{raw}");
    // Nobody else got it.
    assert!(listed(&sb.base_url(), "someone@else.example")
        .await
        .is_empty());
    sb.stop().await;
}

#[tokio::test]
async fn refusals_are_permanent_and_outages_transient() {
    let sb = sandbox::mail::spawn(SandboxConfig {
        users: vec![(USER.to_owned(), PASSWORD.to_owned())],
        ..Default::default()
    })
    .await
    .unwrap();
    let port = sb.smtp_addr().port();
    let mailer = Mailer::new(&settings(port, MailTls::None, Some(PASSWORD))).unwrap();
    let (mail, _) = invitation("Ana", "inv-7.1@checkbridge.example");

    sb.state.reject_next(SmtpReject {
        code: 451,
        count: 1,
        message: None,
    });
    let err = mailer.send(&mail).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(err.smtp_code(), Some(451), "{err:?}");

    sb.state.reject_next(SmtpReject {
        code: 554,
        count: 1,
        message: None,
    });
    let err = mailer.send(&mail).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert_eq!(err.smtp_code(), Some(554));

    // Wrong credentials: our configuration, not the message: stays owed.
    let wrong = Mailer::new(&settings(port, MailTls::None, Some("wrong"))).unwrap();
    let err = wrong.send(&mail).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(err.smtp_code(), Some(535));
    assert!(!format!("{err:?} {err}").contains(PASSWORD));

    // The resend after all that arrives once, under the same Message-ID.
    mailer.send(&mail).await.unwrap();
    let list = sb.state.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0].message_id.as_deref(),
        Some("inv-7.1@checkbridge.example")
    );

    // Nobody listening: transient.
    sb.stop().await;
    let err = mailer.send(&mail).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}
