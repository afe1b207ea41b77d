//! PageUp sandbox over real HTTP, without the client crate.
//!
//! Helpers here; the tests by what they exercise: `auth` (the login server and the bearer
//! check), `api` (listing, fuzzing, `PUT` and its workflow, generated documents), `admin` (the
//! admin API, the quick start and the change signal).

mod admin;
mod api;
mod auth;

use sandbox::pageup::{self, ClientSpec, PageUpConfig};
use serde_json::{json, Value};

const TENANT: &str = "218";

async fn setup(config: PageUpConfig) -> (pageup::PageUpSandbox, reqwest::Client, String) {
    let sb = pageup::spawn(config).await.unwrap();
    sb.state
        .add_client(ClientSpec::full(TENANT, "cid", "secret"));
    let http = reqwest::Client::new();
    let token = token(&sb, &http, "cid", "secret", None).await;
    (sb, http, token)
}

async fn token_response(
    sb: &pageup::PageUpSandbox,
    http: &reqwest::Client,
    id: &str,
    secret: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    http.post(sb.token_url()).form(&form).send().await.unwrap()
}

async fn token(
    sb: &pageup::PageUpSandbox,
    http: &reqwest::Client,
    id: &str,
    secret: &str,
    scope: Option<&str>,
) -> String {
    let r = token_response(sb, http, id, secret, scope).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["token_type"], "Bearer");
    body["access_token"].as_str().unwrap().to_owned()
}

fn list_url(sb: &pageup::PageUpSandbox, tenant: &str) -> String {
    sb.list_url_template().replace("{tenant}", tenant)
}

fn put_url(sb: &pageup::PageUpSandbox, tenant: &str, id: &str) -> String {
    sb.update_url_template()
        .replace("{tenant}", tenant)
        .replace("{id}", id)
}

async fn put(http: &reqwest::Client, url: &str, token: &str, body: Value) -> (u16, Value) {
    let r = http
        .put(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn doc(status: &str) -> Value {
    json!({ "status": status, "referenceNumber": "", "reasonForFail": "", "results": [] })
}

/// Removes the fuzzy serializer's GUID-named extras.
fn unfuzz(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| uuid::Uuid::parse_str(k).is_err())
                .map(|(k, v)| (k.clone(), unfuzz(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(unfuzz).collect()),
        other => other.clone(),
    }
}

/// Every object has exactly one GUID-named property whose value is a GUID.
fn assert_fuzzed(v: &Value) {
    match v {
        Value::Object(m) => {
            let extras: Vec<_> = m
                .iter()
                .filter(|(k, _)| uuid::Uuid::parse_str(k).is_ok())
                .collect();
            assert_eq!(extras.len(), 1, "one GUID extra per object: {v}");
            assert!(uuid::Uuid::parse_str(extras[0].1.as_str().unwrap()).is_ok());
            m.values().for_each(assert_fuzzed);
        }
        Value::Array(a) => a.iter().for_each(assert_fuzzed),
        _ => {}
    }
}
