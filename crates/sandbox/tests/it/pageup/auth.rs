//! The login server and the bearer check: IdentityServer-style errors, and missing, expired
//! and insufficient tokens refused distinctly.

use std::time::Duration;

use sandbox::pageup::{self, ClientSpec, PageUpConfig};
use serde_json::{json, Value};

use super::{list_url, setup, token, token_response, TENANT};

#[tokio::test]
async fn login_errors_are_identity_server_style() {
    let sb = pageup::spawn(PageUpConfig::default()).await.unwrap();
    sb.state.add_client(ClientSpec {
        scopes: vec![pageup::SCOPE_READ.into()],
        ..ClientSpec::full(TENANT, "cid", "s")
    });
    let http = reqwest::Client::new();
    let err = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 400);
        r.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        err(token_response(&sb, &http, "cid", "wrong", None).await).await,
        "invalid_client"
    );
    assert_eq!(
        err(token_response(&sb, &http, "nobody", "s", None).await).await,
        "invalid_client"
    );
    let scope = format!("{} {}", pageup::SCOPE_READ, pageup::SCOPE_WRITE);
    assert_eq!(
        err(token_response(&sb, &http, "cid", "s", Some(&scope)).await).await,
        "invalid_scope"
    );
    let r = http
        .post(sb.token_url())
        .form(&[
            ("grant_type", "password"),
            ("client_id", "cid"),
            ("client_secret", "s"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(err(r).await, "unsupported_grant_type");
    let r = http
        .post(sb.token_url())
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(err(r).await, "invalid_request");
}

#[tokio::test]
async fn api_refuses_missing_expired_and_insufficient_tokens_distinctly() {
    let (sb, http, good) = setup(PageUpConfig::default()).await;
    let url = list_url(&sb, TENANT);
    let message = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        (status, body[0]["message"].as_str().unwrap().to_owned())
    };
    let (s, m) = message(http.get(&url).send().await.unwrap()).await;
    assert_eq!((s, m.contains("no bearer token")), (401, true));
    let (s, _) = message(http.get(&url).bearer_auth("garbage").send().await.unwrap()).await;
    assert_eq!(s, 401);

    sb.state.add_client(ClientSpec {
        scopes: vec![pageup::SCOPE_WRITE.into()],
        ..ClientSpec::full(TENANT, "w", "s")
    });
    let write_only = token(&sb, &http, "w", "s", None).await;
    let (s, m) = message(
        http.get(&url)
            .bearer_auth(&write_only)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, m.contains("scope Public.BackgroundCheck.Read")),
        (403, true),
        "{m}"
    );

    sb.state.add_client(ClientSpec {
        partner_id: None,
        ..ClientSpec::full(TENANT, "np", "s")
    });
    let no_partner = token(&sb, &http, "np", "s", None).await;
    let (s, m) = message(
        http.get(&url)
            .bearer_auth(&no_partner)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, m.contains("partner id")), (403, true), "{m}");

    let (s, m) = message(
        http.get(list_url(&sb, "999"))
            .bearer_auth(&good)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, m.contains("not for tenant 999")), (403, true), "{m}");

    assert_eq!(
        http.get(&url)
            .bearer_auth(&good)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    sb.state.expire_tokens();
    let (s, m) = message(http.get(&url).bearer_auth(&good).send().await.unwrap()).await;
    assert_eq!((s, m.contains("expired")), (401, true), "{m}");
}

#[tokio::test]
async fn short_lifetime_tokens_expire() {
    let (sb, http, _) = setup(PageUpConfig::default()).await;
    sb.state.set_token_lifetime(Duration::from_millis(1));
    let short = token_response(&sb, &http, "cid", "secret", None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let short = short["access_token"].as_str().unwrap().to_owned();
    // The token expired 1 ms after issue: any later request sees it expired.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let status = http
            .get(list_url(&sb, TENANT))
            .bearer_auth(&short)
            .send()
            .await
            .unwrap()
            .status();
        if status == 401 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "token never expired");
    }
}
