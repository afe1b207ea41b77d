//! The mail sandbox over real SMTP (lettre as the client) and its HTTP listing.

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use sandbox::mail::{self, MailConfig};

fn message(to: &str, subject: &str, id: &str) -> Message {
    Message::builder()
        .from("Sender <sender@example.com>".parse::<Mailbox>().unwrap())
        .to(to.parse::<Mailbox>().unwrap())
        .subject(subject)
        .message_id(Some(format!("<{id}>")))
        .multipart(MultiPart::alternative_plain_html(
            "plain body".to_owned(),
            "<p>html body</p>".to_owned(),
        ))
        .unwrap()
}

fn client(port: u16, credentials: Option<(&str, &str)>) -> AsyncSmtpTransport<Tokio1Executor> {
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(port);
    if let Some((u, p)) = credentials {
        b = b.credentials(Credentials::new(u.to_owned(), p.to_owned()));
    }
    b.build()
}

#[tokio::test]
async fn messages_are_kept_listed_filtered_and_cleared() {
    let sb = mail::spawn(MailConfig::default()).await.unwrap();
    let smtp = client(sb.smtp_addr().port(), None);
    smtp.send(message("a@example.com", "one", "1@t"))
        .await
        .unwrap();
    smtp.send(message("b@example.com", "two", "2@t"))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let base = sb.base_url();

    let all: Vec<serde_json::Value> = http
        .get(format!("{base}/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["subject"], "one");
    assert_eq!(all[0]["message_id"], "1@t");
    assert_eq!(all[0]["to"], serde_json::json!(["a@example.com"]));
    assert_eq!(all[0]["text"], "plain body");
    assert_eq!(all[0]["html"], "<p>html body</p>");
    assert_eq!(all[0]["tls"], false);
    assert!(all[0]["authenticated_as"].is_null());

    let to_b: Vec<serde_json::Value> = http
        .get(format!("{base}/messages?to=B@example.com"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(to_b.len(), 1);
    assert_eq!(to_b[0]["subject"], "two");

    let id = to_b[0]["id"].as_u64().unwrap();
    let one: serde_json::Value = http
        .get(format!("{base}/messages/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(one["raw"].as_str().unwrap().contains("Subject: two"));
    for missing in ["999", "not-a-number"] {
        let r = http
            .get(format!("{base}/messages/{missing}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }

    let r = http
        .delete(format!("{base}/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(sb.state.messages().is_empty());

    let doc: serde_json::Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/messages/{id}"].get("get").is_some(), "{doc}");
    assert!(doc["paths"]["/__admin/smtp-reject"].get("post").is_some());
    let journal: Vec<serde_json::Value> = http
        .get(format!("{base}/__admin/journal"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(journal.iter().any(|e| e["path"] == "/messages"));

    let r = http
        .post(format!("{base}/__admin/smtp-reject"))
        .json(&serde_json::json!({ "code": 250 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    sb.stop().await;
}

#[tokio::test]
async fn with_users_configured_mail_needs_auth_with_one_of_them() {
    let sb = mail::spawn(MailConfig {
        users: vec![("u".to_owned(), "right".to_owned())],
        ..Default::default()
    })
    .await
    .unwrap();
    let port = sb.smtp_addr().port();
    let err = client(port, None)
        .send(message("a@example.com", "x", "1@t"))
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    let err = client(port, Some(("u", "wrong")))
        .send(message("a@example.com", "x", "2@t"))
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    client(port, Some(("u", "right")))
        .send(message("a@example.com", "x", "3@t"))
        .await
        .unwrap();
    let kept = sb.state.messages();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].authenticated_as.as_deref(), Some("u"));
    assert_eq!(kept[0].message_id.as_deref(), Some("3@t"));
    // The Debug of the config names users, never passwords.
    assert!(!format!("{:?}", sb.state).contains("right"));
    sb.stop().await;
}

#[tokio::test]
async fn an_oversized_message_is_refused_and_the_next_one_accepted() {
    let sb = mail::spawn(MailConfig {
        max_message_bytes: 2048,
        ..Default::default()
    })
    .await
    .unwrap();
    let smtp = client(sb.smtp_addr().port(), None);
    let big = Message::builder()
        .from("s@example.com".parse::<Mailbox>().unwrap())
        .to("a@example.com".parse::<Mailbox>().unwrap())
        .subject("big")
        .body("x".repeat(10_000))
        .unwrap();
    let err = smtp.send(big).await.unwrap_err();
    assert_eq!(err.status().map(u16::from), Some(552), "{err:?}");
    smtp.send(message("a@example.com", "small", "s@t"))
        .await
        .unwrap();
    assert_eq!(sb.state.messages().len(), 1);
    sb.stop().await;
}
