//! Theary sandbox over real HTTP, without the client crate.
//!
//! Helpers here; the tests by what they exercise: `api` (tokens, validation, orders, the
//! quick start), `engine` (outcomes and the change signal), `delivery` (webhook routing,
//! signatures, retries and delivery faults), `criminal` (the seed's rules: criminal checks
//! and the Create Order document's own example), `fidelity` (tenant webhooks, search-config
//! replacement, batches, release-form uploads, inbound notifications).

mod api;
mod criminal;
mod delivery;
mod engine;
mod fidelity;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use sandbox::common::{bind_local, serve, Server};
use sandbox::theary::{self, ClientSpec, SandboxConfig};
use serde_json::{json, Value};

const AUD: &str = "https://empv-auth-dev.theary.ai";

/// One request a receiver got: path, headers, raw body.
type Received = (String, HeaderMap, Vec<u8>);
/// A change to a valid order, and the message it must cause.
type Case = (Box<dyn Fn(&mut Value)>, &'static str);

/// A webhook receiver that records every request and answers with a scripted status.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    statuses: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    async fn spawn() -> (Server, Receiver) {
        let r = Receiver::default();
        let app = Router::new()
            .route(
                "/{*path}",
                post(
                    |State(r): State<Receiver>,
                     uri: axum::http::Uri,
                     headers: HeaderMap,
                     body: axum::body::Bytes| async move {
                        r.got
                            .lock()
                            .unwrap()
                            .push((uri.path().to_owned(), headers, body.to_vec()));
                        let status = r.statuses.lock().unwrap().pop().unwrap_or(200);
                        StatusCode::from_u16(status).unwrap()
                    },
                ),
            )
            .with_state(r.clone());
        (serve(bind_local(0).await.unwrap(), app).unwrap(), r)
    }
    fn events(&self) -> Vec<(String, HeaderMap, Value)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(p, h, b)| (p.clone(), h.clone(), serde_json::from_slice(b).unwrap()))
            .collect()
    }
    /// Waits until `n` requests have arrived. The sandbox records a delivery attempt only
    /// once this receiver has answered it, and signals every record: each signal is the
    /// moment to count again.
    async fn wait_for(
        &self,
        sb: &theary::ThearySandbox,
        n: usize,
    ) -> Vec<(String, HeaderMap, Value)> {
        let mut changes = sb.state.changes();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let e = self.events();
            if e.len() >= n {
                return e;
            }
            let signalled = tokio::time::timeout_at(deadline, changes.changed()).await;
            assert!(
                signalled.is_ok(),
                "expected {n} deliveries, got {}",
                e.len()
            );
            signalled.unwrap().unwrap();
        }
    }
}

fn config() -> SandboxConfig {
    SandboxConfig {
        auto_run: false,
        retry_base: Duration::from_millis(5),
        delivery_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

async fn setup() -> (theary::ThearySandbox, reqwest::Client, String) {
    let sb = theary::spawn(config()).await.unwrap();
    sb.state.add_client(ClientSpec {
        tenant: "acme".into(),
        client_id: "cid".into(),
        client_secret: "s".into(),
        audience: AUD.into(),
    });
    let http = reqwest::Client::new();
    let token = token(&sb, &http, "cid", "s", AUD).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (sb, http, token)
}

async fn token(
    sb: &theary::ThearySandbox,
    http: &reqwest::Client,
    id: &str,
    secret: &str,
    aud: &str,
) -> (u16, Value) {
    let r = http
        .post(format!("{}/oauth/token", sb.auth_url()))
        .json(&json!({ "client_id": id, "client_secret": secret, "audience": aud, "grant_type": "client_credentials" }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn order(employer: &str, hook: Option<Value>) -> Value {
    let mut o = json!({
        "applicant": { "firstName": "John", "lastName": "Smith", "ssn": "123-45-6789" },
        "businessContext": { "entityName": "Apple", "appliedJobTitle": "Engineer", "worksiteCity": "San Francisco", "worksiteState": "CA", "proposedSalary": 100000 },
        "searchTypes": [{ "searchType": "EMPLOYMENT", "externalSearchId": "ext-emp" }],
        "history": { "employment": [{ "employerName": employer, "position": "Engineer", "startDate": "2020-01-15", "endDate": "2023-06-30" }] }
    });
    if let Some(h) = hook {
        o["webhookConfig"] = h;
    }
    o
}

async fn create(
    sb: &theary::ThearySandbox,
    http: &reqwest::Client,
    token: &str,
    body: &Value,
) -> (u16, Value) {
    let r = http
        .post(format!("{}/background-check/v1/orders", sb.api_base()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Orders one search, runs it to its end, waits for deliveries to settle, and returns the
/// delivery attempts made for that search.
async fn run_one_search(
    sb: &theary::ThearySandbox,
    http: &reqwest::Client,
    token: &str,
    hook: Value,
) -> Vec<theary::DeliveryRecord> {
    let (_, created) = create(sb, http, token, &order("Tech Corp", Some(hook))).await;
    let sid = created["searchIds"][0]
        .as_str()
        .unwrap()
        .trim_start_matches("search_")
        .to_owned();
    for _ in 0..3 {
        sb.state.advance();
    }
    assert!(sb.state.wait_deliveries_idle(Duration::from_secs(5)).await);
    sb.state
        .deliveries()
        .into_iter()
        .filter(|d| d.search_id == sid)
        .collect()
}

fn all_events() -> Value {
    json!([
        "verification.completed",
        "verification.action_required",
        "verification.notification"
    ])
}
