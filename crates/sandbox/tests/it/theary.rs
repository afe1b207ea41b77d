//! Theary sandbox over real HTTP, without the client crate.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use sandbox::common::{bind_local, serve, Server};
use sandbox::theary::{self, ClientSpec, Outcome, SandboxConfig, ScenarioRule};
use serde_json::{json, Value};
use sha2::Sha256;

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

#[tokio::test]
async fn tokens_and_the_documented_401_bodies() {
    let (sb, http, token) = setup().await;
    assert_eq!(
        token_status(&sb, &http, "cid", "wrong", AUD).await,
        (401, "access_denied".into())
    );
    assert_eq!(
        token_status(&sb, &http, "cid", "s", "https://other").await,
        (403, "access_denied".into())
    );
    let r = http
        .post(format!("{}/oauth/token", sb.auth_url()))
        .json(&json!({ "client_id": "cid" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let orders = format!("{}/background-check/v1/orders", sb.api_base());
    let r = http.get(&orders).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.json::<Value>().await.unwrap()),
        (401, json!({ "statusCode": 401, "message": "Unauthorized" }))
    );
    let r = http
        .get(&orders)
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "Invalid or expired token"
    );
    assert_eq!(
        http.get(&orders)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    sb.state.expire_tokens();
    let r = http.get(&orders).bearer_auth(&token).send().await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.json::<Value>().await.unwrap()["message"].clone()
        ),
        (401, json!("Invalid or expired token"))
    );
    let health = http
        .get(format!("{}/health", sb.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.json::<Value>().await.unwrap()["success"], true);
}

async fn token_status(
    sb: &theary::ThearySandbox,
    http: &reqwest::Client,
    id: &str,
    secret: &str,
    aud: &str,
) -> (u16, String) {
    let (s, v) = token(sb, http, id, secret, aud).await;
    (s, v["error"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn every_validation_rule_with_its_message() {
    let (sb, http, token) = setup().await;
    let cases: Vec<Case> = vec![
        (Box::new(|o| { o["applicant"]["firstName"] = json!(""); }), "applicant.firstName should not be empty"),
        (Box::new(|o| { o["applicant"].as_object_mut().unwrap().remove("ssn"); }), "applicant.ssn should not be empty"),
        (Box::new(|o| { o["applicant"]["ssn"] = json!("123456789"); }), "applicant.ssn must match XXX-XX-XXXX format"),
        (Box::new(|o| { o["applicant"]["birthday"] = json!("15/05/1990"); }), "applicant.birthday must be a valid date in YYYY-MM-DD format"),
        (Box::new(|o| { o["applicant"]["email"] = json!("not-an-email"); }), "applicant.email must be an email"),
        (Box::new(|o| { o["businessContext"]["worksiteState"] = json!("Calif"); }), "businessContext.worksiteState must be exactly 2 characters"),
        (Box::new(|o| { o["businessContext"]["proposedSalary"] = json!("100k"); }), "businessContext.proposedSalary must be a number"),
        (Box::new(|o| { o["businessContext"]["positionLevel"] = json!("JUNIOR"); }), "businessContext.positionLevel must be one of the following values: EXECUTIVE, STANDARD, SENSITIVE"),
        (Box::new(|o| { o.as_object_mut().unwrap().remove("businessContext"); }), "businessContext should not be empty"),
        (Box::new(|o| { o["searchTypes"] = json!([]); }), "searchTypes must contain at least 1 elements"),
        (Box::new(|o| { o["searchTypes"][0]["searchType"] = json!("DRUG"); }), "searchTypes.0.searchType must be one of the following values: EMPLOYMENT, EDUCATION"),
        (Box::new(|o| { o["searchTypes"][0]["searchType"] = json!("CRIMINAL"); }), "searchTypes.0.searchType CRIMINAL is not accepted"),
        (Box::new(|o| { o["criminalCheck"] = json!({ "jurisdictions": [{}] }); }), "criminalCheck is not accepted"),
        (Box::new(|o| { o["history"]["criminal"] = json!([]); }), "history.criminal is not accepted"),
        (Box::new(|o| { o["history"]["employment"][0]["startDate"] = json!("2020-13-01"); }), "history.employment.0.startDate must be a valid date in YYYY-MM-DD format"),
        (Box::new(|o| { o["history"]["education"] = json!([{ "institutionName": "UC" }]); }), "history.education.0.qualification should not be empty"),
        (Box::new(|o| { o["applicant"]["addresses"] = json!([
            { "addressType": "home", "addressLine1": "1 A St", "addressCity": "LA", "addressState": "CA", "addressZipCode": "90210", "startDate": "2020-01-01" },
            { "addressType": "home", "addressLine1": "2 B St", "addressCity": "LA", "addressState": "CA", "addressZipCode": "90210", "startDate": "2021-01-01" }]); }),
         "applicant.addresses must have exactly one current address (endDate null)"),
        (Box::new(|o| { o["webhookConfig"] = json!({ "fallbackEndpoint": "http://example.com/hook" }); }), "webhookConfig.fallbackEndpoint must be a valid HTTPS URL"),
        (Box::new(|o| { o["webhookConfig"] = json!({ "retryAttempts": 11 }); }), "webhookConfig.retryAttempts must not be greater than 10"),
        (Box::new(|o| { o["webhookConfig"] = json!({ "closeoutEndpoints": { "EMPLOYMENT": { "url": "https://x.example", "events": ["verification.bogus"] } } }); }),
         "webhookConfig.closeoutEndpoints.EMPLOYMENT.events must contain only"),
    ];
    for (mutate, expected) in cases {
        let mut body = order("Tech Corp", None);
        mutate(&mut body);
        let (status, err) = create(&sb, &http, &token, &body).await;
        assert_eq!(status, 400, "{expected}");
        assert_eq!(err["error"], "Bad Request");
        let messages: Vec<String> = err["message"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect();
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "{expected} not in {messages:?}"
        );
    }
    // Every problem at once.
    let (_, err) = create(
        &sb,
        &http,
        &token,
        &json!({ "applicant": {}, "searchTypes": [] }),
    )
    .await;
    assert!(err["message"].as_array().unwrap().len() >= 5, "{err}");
    let r = http
        .post(format!("{}/background-check/v1/orders", sb.api_base()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        sb.state.order_count("acme"),
        0,
        "nothing invalid was created"
    );
}

#[tokio::test]
async fn legacy_mode_requires_jurisdictions_for_criminal() {
    let sb = theary::spawn(SandboxConfig {
        legacy_criminal: true,
        ..config()
    })
    .await
    .unwrap();
    sb.state.add_client(ClientSpec {
        tenant: "t".into(),
        client_id: "c".into(),
        client_secret: "s".into(),
        audience: AUD.into(),
    });
    let http = reqwest::Client::new();
    let token = token(&sb, &http, "c", "s", AUD).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut body = order("Tech Corp", None);
    body["searchTypes"] = json!([{ "searchType": "CRIMINAL" }]);
    let (s, err) = create(&sb, &http, &token, &body).await;
    assert_eq!(s, 400);
    assert_eq!(
        err["message"][0],
        "Criminal check jurisdictions are required when requesting criminal background checks"
    );
    body["criminalCheck"] = json!({ "jurisdictions": [{ "state": "CA" }] });
    assert_eq!(create(&sb, &http, &token, &body).await.0, 201);
}

#[tokio::test]
async fn create_read_cancel_and_tenant_isolation() {
    let (sb, http, token) = setup().await;
    sb.state.add_client(ClientSpec {
        tenant: "other".into(),
        client_id: "c2".into(),
        client_secret: "s".into(),
        audience: AUD.into(),
    });
    let other = token_of(&sb, &http, "c2").await;
    let mut body = order("Tech Corp", None);
    body["searchTypes"] = json!([{ "searchType": "EMPLOYMENT", "externalSearchId": "e1" }, { "searchType": "EDUCATION", "externalSearchId": "e2" }]);
    let (s, created) = create(&sb, &http, &token, &body).await;
    assert_eq!(s, 201);
    let order_id = created["verificationOrderId"].as_str().unwrap().to_owned();
    assert!(order_id.starts_with("ord_"));
    assert!(created["searchIds"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s.as_str().unwrap().starts_with("search_")));
    let base = format!("{}/background-check/v1/orders", sb.api_base());
    let bare = order_id.trim_start_matches("ord_");
    for id in [order_id.as_str(), bare] {
        let o: Value = http
            .get(format!("{base}/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (o["id"].as_str(), o["status"].as_str()),
            (Some(bare), Some("pending"))
        );
        assert_eq!(o["applicant"]["ssn"], "***-**-6789");
    }
    let r = http
        .get(format!("{base}/{order_id}"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.json::<Value>().await.unwrap()),
        (
            404,
            json!({ "error": "Order not found", "orderId": order_id })
        )
    );
    let searches: Value = http
        .get(format!("{base}/{order_id}/searches"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(searches.as_array().unwrap().len(), 2);
    let sid = created["searchIds"][1].as_str().unwrap();
    let one: Value = http
        .get(format!("{base}/{order_id}/searches/{sid}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            one["externalSearchId"].as_str(),
            one["searchStatus"].as_str()
        ),
        (Some("e2"), Some("IN_PROGRESS"))
    );
    let r = http
        .get(format!("{base}/{order_id}/searches/search_nope"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "Search not found"
    );
    // Timestamps carry milliseconds, and an order changes when its searches do.
    let before: Value = http
        .get(format!("{base}/{order_id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created_at = before["createdAt"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            created_at.len(),
            &created_at[19..20],
            created_at.ends_with('Z')
        ),
        (24, ".", true),
        "{created_at}"
    );
    sb.state.advance();
    let after: Value = http
        .get(format!("{base}/{order_id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let searches: Value = http
        .get(format!("{base}/{order_id}/searches"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let latest = searches
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["updatedAt"].as_str().unwrap().to_owned())
        .chain([created_at.clone()])
        .max()
        .unwrap();
    assert_eq!(after["updatedAt"].as_str().unwrap(), latest);
    assert_eq!(after["status"], "in_progress");
    let list: Value = http
        .get(format!("{base}?page=1&limit=10"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["pagination"]["total"], 1);
    let list: Value = http
        .get(&base)
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["pagination"]["total"], 0);
    assert_eq!(
        http.delete(format!("{base}/{order_id}"))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let c: Value = http
        .delete(format!("{base}/{order_id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (c["status"].as_str(), c["affectedSearches"].as_u64()),
        (Some("cancelled"), Some(2))
    );
    assert_eq!(sb.state.advance(), 0, "cancelled searches do not move");
}

async fn token_of(sb: &theary::ThearySandbox, http: &reqwest::Client, id: &str) -> String {
    token(sb, http, id, "s", AUD).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn engine_scenarios_by_keyword() {
    let (sb, http, token) = setup().await;
    let (server, rx) = Receiver::spawn().await;
    let hook = json!({ "secret": "k", "fallbackEndpoint": {
        "url": format!("{}/hook", server.base_url()),
        "events": ["verification.completed", "verification.action_required"] } });
    let cases = [
        (
            "Tech Corp",
            "verification.completed",
            json!("VERIFIED"),
            Some(false),
        ),
        (
            "Discrepancy Inc",
            "verification.completed",
            json!("VERIFIED"),
            Some(true),
        ),
        (
            "NoRecord LLC",
            "verification.completed",
            json!("NO_RECORD"),
            Some(false),
        ),
        (
            "WrongOrg Ltd",
            "verification.completed",
            json!("WRONG_ORG"),
            Some(false),
        ),
        (
            "Unable Co",
            "verification.completed",
            json!("UNABLE_TO_VERIFY"),
            Some(false),
        ),
        (
            "ThirdParty Payroll",
            "verification.action_required",
            json!("THIRD_PARTY_RECORD"),
            None,
        ),
        (
            "Escalate Corp",
            "verification.action_required",
            json!("HUMAN_ESCALATION"),
            None,
        ),
    ];
    for (employer, ..) in &cases {
        let mut body = order(employer, Some(hook.clone()));
        body["searchTypes"][0]["externalSearchId"] = json!(employer);
        assert_eq!(create(&sb, &http, &token, &body).await.0, 201);
    }
    assert_eq!(
        create(
            &sb,
            &http,
            &token,
            &order("Stall Systems", Some(hook.clone()))
        )
        .await
        .0,
        201
    );
    for _ in 0..3 {
        sb.state.advance();
    }
    let events = rx.wait_for(&sb, cases.len()).await;
    assert!(sb.state.wait_deliveries_idle(Duration::from_secs(5)).await);
    assert_eq!(
        rx.events().len(),
        cases.len(),
        "terminal events only, as subscribed; the stalled search sent none"
    );
    let n = cases.len();
    for (employer, event, value, discrepancy) in cases {
        let (_, headers, body) = events
            .iter()
            .find(|(_, _, b)| b["data"]["externalSearchId"] == employer)
            .unwrap_or_else(|| panic!("no event for {employer}"));
        assert_eq!(headers["x-event-type"], event);
        match discrepancy {
            Some(disc) => {
                assert_eq!(
                    body["data"]["verificationResult"]["outcome"], value,
                    "{employer}"
                );
                assert_eq!(
                    body["data"]["verificationResult"]["discrepancy"], disc,
                    "{employer}"
                );
            }
            None => assert_eq!(body["data"]["reasonCode"], value, "{employer}"),
        }
    }
    // A rule from the admin API wins over the defaults; resolve finishes a stalled search.
    sb.state.add_rule(ScenarioRule {
        keyword: "tech".into(),
        search_type: None,
        outcome: Outcome::Completed {
            outcome: "NO_RECORD".into(),
            discrepancy: false,
        },
    });
    let (_, created) = create(&sb, &http, &token, &order("Tech Corp", Some(hook.clone()))).await;
    for _ in 0..3 {
        sb.state.advance();
    }
    let stalled = sb
        .state
        .orders("acme")
        .iter()
        .find(|o| o["entityName"] == "Apple" && o["status"] == "in_progress")
        .map(|o| o["id"].clone());
    assert!(stalled.is_some());
    let events = rx.wait_for(&sb, n + 1).await;
    let sid = created["searchIds"][0]
        .as_str()
        .unwrap()
        .trim_start_matches("search_");
    let last = events
        .iter()
        .find(|(_, _, b)| b["data"]["searchId"] == sid)
        .unwrap();
    assert_eq!(last.2["data"]["verificationResult"]["outcome"], "NO_RECORD");
}

#[tokio::test]
async fn routing_headers_signature_and_override() {
    let (sb, http, token) = setup().await;
    let (server, rx) = Receiver::spawn().await;
    let base = server.base_url();
    let hook = json!({
        "secret": "order-secret",
        "closeoutEndpoints": {
            "EMPLOYMENT": [
                { "url": format!("{base}/emp"), "headers": { "X-Customer": "acme" }, "events": ["verification.completed"] },
                { "url": format!("{base}/emp-notify"), "events": ["verification.notification"], "secret": "target-secret", "basicAuth": { "username": "api", "password": "pw" } }
            ]
        },
        "fallbackEndpoint": [
            { "url": format!("{base}/fallback"), "events": all_events(), "searchTypes": ["EDUCATION"] },
            { "url": format!("{base}/never"), "events": all_events(), "searchTypes": ["EMPLOYMENT"] }
        ]
    });
    let mut body = order("Tech Corp", Some(hook));
    body["searchTypes"] = json!([
        { "searchType": "EMPLOYMENT", "externalSearchId": "x-emp" },
        { "searchType": "EDUCATION", "externalSearchId": "x-edu" }
    ]);
    body["history"]["education"] = json!([{ "institutionName": "UC", "qualification": "BS", "fieldOfStudy": "CS", "graduationDate": "2018-05-15" }]);
    create(&sb, &http, &token, &body).await;
    for _ in 0..3 {
        sb.state.advance();
    }
    // EMPLOYMENT: 2 notifications to /emp-notify + completed to /emp; EDUCATION: 3 to /fallback.
    rx.wait_for(&sb, 6).await;
    assert!(sb.state.wait_deliveries_idle(Duration::from_secs(5)).await);
    let raw = rx.got.lock().unwrap().clone();
    assert_eq!(raw.len(), 6);
    let count = |p: &str| raw.iter().filter(|(path, ..)| path == p).count();
    assert_eq!(
        (
            count("/emp"),
            count("/emp-notify"),
            count("/fallback"),
            count("/never")
        ),
        (1, 2, 3, 0)
    );
    for (path, headers, bytes) in &raw {
        let secret = if path == "/emp-notify" {
            "target-secret"
        } else {
            "order-secret"
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(bytes);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(headers["x-webhook-signature"], expected.as_str(), "{path}");
        assert_eq!(headers["user-agent"], "Theary-Webhook-Delivery/1.0");
        assert!(uuid::Uuid::parse_str(headers["x-event-id"].to_str().unwrap()).is_ok());
        let source = if path == "/fallback" {
            "fallback"
        } else {
            "type-specific"
        };
        assert_eq!(headers["x-endpoint-source"], source);
        let ext = if path == "/fallback" {
            "x-edu"
        } else {
            "x-emp"
        };
        assert_eq!(headers["x-external-search-id"], ext);
    }
    let emp = raw.iter().find(|(p, ..)| p == "/emp").unwrap();
    assert_eq!(emp.1["x-customer"], "acme");
    let notify = raw.iter().find(|(p, ..)| p == "/emp-notify").unwrap();
    assert!(notify.1["authorization"]
        .to_str()
        .unwrap()
        .starts_with("Basic "));

    // webhookOverride replaces the order's configuration for that search.
    let mut body = order(
        "Tech Corp",
        Some(json!({ "fallbackEndpoint": format!("{base}/order-level") })),
    );
    body["searchTypes"][0]["searchConfig"] = json!({ "notifications": { "webhookOverride": {
        "secret": "ov", "fallbackEndpoint": { "url": format!("{base}/override"), "events": all_events() } } } });
    create(&sb, &http, &token, &body).await;
    for _ in 0..3 {
        sb.state.advance();
    }
    rx.wait_for(&sb, 9).await;
    assert!(sb.state.wait_deliveries_idle(Duration::from_secs(5)).await);
    let raw = rx.got.lock().unwrap().clone();
    assert_eq!(raw.iter().filter(|(p, ..)| p == "/override").count(), 3);
    assert_eq!(raw.iter().filter(|(p, ..)| p == "/order-level").count(), 0);
}

#[tokio::test]
async fn retries_on_5xx_up_to_the_limit_and_never_on_4xx() {
    let (sb, http, token) = setup().await;
    let (server, rx) = Receiver::spawn().await;
    // Statuses are popped from the end: 500, 500, then 200.
    *rx.statuses.lock().unwrap() = vec![200, 500, 500];
    let hook = json!({ "secret": "k", "retryAttempts": 3, "fallbackEndpoint": format!("{}/h", server.base_url()) });
    let attempts: Vec<_> = run_one_search(&sb, &http, &token, hook.clone())
        .await
        .iter()
        .map(|d| (d.attempt, d.status))
        .collect();
    assert_eq!(
        attempts,
        vec![(1, Some(500)), (2, Some(500)), (3, Some(200))]
    );
    let ids: Vec<_> = rx
        .events()
        .iter()
        .map(|(_, h, _)| h["x-event-id"].clone())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "X-Event-Id is stable across retries"
    );

    *rx.statuses.lock().unwrap() = vec![500; 10];
    let limited = json!({ "secret": "k", "retryAttempts": 2, "fallbackEndpoint": format!("{}/h", server.base_url()) });
    assert_eq!(
        run_one_search(&sb, &http, &token, limited).await.len(),
        3,
        "1 + retryAttempts"
    );

    *rx.statuses.lock().unwrap() = vec![400];
    assert_eq!(
        run_one_search(&sb, &http, &token, hook).await.len(),
        1,
        "a 4xx is not retried"
    );
}

#[tokio::test]
async fn delivery_faults_duplicate_reorder_bad_signature_and_drop() {
    let (sb, http, token) = setup().await;
    let (server, rx) = Receiver::spawn().await;
    let hook = json!({ "secret": "k", "fallbackEndpoint": { "url": format!("{}/h", server.base_url()), "events": all_events() } });
    create(&sb, &http, &token, &order("Tech Corp", Some(hook))).await;
    sb.state.delivery_faults().duplicate_next(1);
    sb.state.advance(); // CONTACT_PLAN, twice
    rx.wait_for(&sb, 2).await;
    sb.state.delivery_faults().bad_signature_next(1);
    sb.state.advance(); // OUTBOUND_ATTEMPT, badly signed
    rx.wait_for(&sb, 3).await;
    sb.state.delivery_faults().drop_next(1);
    sb.state.advance(); // completed, dropped
    assert!(sb.state.wait_deliveries_idle(Duration::from_secs(5)).await);
    let events = rx.events();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].1["x-event-id"], events[1].1["x-event-id"]);
    let (_, h, _) = &events[2];
    let raw = rx.got.lock().unwrap()[2].2.clone();
    let mut mac = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
    mac.update(&raw);
    assert_ne!(
        h["x-webhook-signature"],
        format!("sha256={}", hex::encode(mac.finalize().into_bytes())).as_str()
    );
    assert!(sb
        .state
        .deliveries()
        .iter()
        .any(|d| d.error.as_deref() == Some("dropped by a sandbox delivery fault")));
}

#[tokio::test]
async fn quickstart_curl_commands_work_as_printed() {
    let (sb, _http, _) = setup().await;
    let (server, rx) = Receiver::spawn().await;
    let client = ClientSpec {
        tenant: "acme".into(),
        client_id: "cid".into(),
        client_secret: "s".into(),
        audience: AUD.into(),
    };
    let text = sb.quickstart(&client, Some(&format!("{}/hook", server.base_url())));
    let stdout = crate::run_quickstart(&text, |script| script).await;
    assert!(
        stdout.contains("\"verificationOrderId\":\"ord_"),
        "{stdout}"
    );
    assert_eq!(sb.state.order_count("acme"), 1);
    for _ in 0..3 {
        sb.state.advance();
    }
    let events = rx.wait_for(&sb, 3).await;
    assert_eq!(events.last().unwrap().2["event"], "verification.completed");
}

#[tokio::test]
async fn changes_are_signalled_on_order_advance_and_delivery() {
    let (sb, http, token) = setup().await;
    let (server, _rx) = Receiver::spawn().await;
    let mut changes = sb.state.changes();
    let hook = json!({ "secret": "k", "fallbackEndpoint": { "url": format!("{}/h", server.base_url()), "events": all_events() } });
    assert_eq!(
        create(&sb, &http, &token, &order("Tech Corp", Some(hook)))
            .await
            .0,
        201
    );
    assert!(changes.has_changed().unwrap(), "an order is a change");
    changes.borrow_and_update();
    // The delivery is recorded after `advance` returns: wait for it on the signal.
    sb.state.advance();
    assert!(changes.has_changed().unwrap(), "a search advanced");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sb.state.deliveries().is_empty() {
        tokio::time::timeout_at(deadline, changes.changed())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(sb.state.deliveries()[0].status, Some(200));
}
