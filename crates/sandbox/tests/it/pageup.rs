//! PageUp sandbox over real HTTP, without the client crate.

use std::collections::BTreeSet;
use std::time::Duration;

use sandbox::pageup::{self, transition_allowed, ClientSpec, GenerateOptions, PageUpConfig};
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

#[tokio::test]
async fn drains_23_in_pages_of_5_only_after_claiming() {
    let (sb, http, token) = setup(PageUpConfig::default()).await;
    let ids = sb.state.seed_generated(
        TENANT,
        23,
        &GenerateOptions {
            seed: Some(7),
            ..Default::default()
        },
    );
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    loop {
        let page: Value = http
            .get(list_url(&sb, TENANT))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page = page.as_array().unwrap().clone();
        // Without claiming, the same page comes back.
        let again: Value = http
            .get(list_url(&sb, TENANT))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(again.as_array().unwrap().len(), page.len());
        if page.is_empty() {
            break;
        }
        pages.push(page.len());
        for inv in &page {
            let id = inv["id"].as_str().unwrap().to_owned();
            let (s, _) = put(&http, &put_url(&sb, TENANT, &id), &token, doc("queued")).await;
            assert_eq!(s, 200);
            seen.push(id);
        }
    }
    assert_eq!(pages, vec![5, 5, 5, 5, 3]);
    assert_eq!(seen, ids, "oldest first, each exactly once");
}

#[tokio::test]
async fn every_object_is_fuzzed_freshly_and_the_list_can_be_wrapped() {
    let (sb, http, token) = setup(PageUpConfig {
        wrap_list: true,
        ..Default::default()
    })
    .await;
    sb.state.seed_generated(
        TENANT,
        2,
        &GenerateOptions {
            seed: Some(1),
            ..Default::default()
        },
    );
    let get = || async {
        http.get(list_url(&sb, TENANT))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let (a, b) = (get().await, get().await);
    assert_ne!(a, b, "fresh GUIDs and order on every response");
    let a: Value = serde_json::from_str(&a).unwrap();
    let b: Value = serde_json::from_str(&b).unwrap();
    assert_fuzzed(&a);
    assert_eq!(unfuzz(&a), unfuzz(&b));
    assert_eq!(unfuzz(&a)["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn put_is_a_full_override_with_history() {
    let (sb, http, token) = setup(PageUpConfig::default()).await;
    let id = sb
        .state
        .seed(TENANT, json!({ "candidate": { "firstName": "Jane" } }));
    let url = put_url(&sb, TENANT, &id);
    assert_eq!(put(&http, &url, &token, doc("queued")).await.0, 200);
    let (s, body) = put(
        &http,
        &url,
        &token,
        json!({ "status": "new", "referenceNumber": "ord_1" }),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(unfuzz(&body)["referenceNumber"], "ord_1");
    // A later PUT that leaves referenceNumber out clears it, as the guide warns.
    assert_eq!(
        put(&http, &url, &token, json!({ "status": "inprogress" }))
            .await
            .0,
        200
    );
    let view = sb.state.check(TENANT, &id).unwrap();
    assert_eq!(view.document["referenceNumber"], "");
    let steps: Vec<_> = view
        .history
        .iter()
        .map(|h| (h.from.as_str(), h.to.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("pending", "queued"),
            ("queued", "new"),
            ("new", "inprogress")
        ]
    );
    // Unknown fields are ignored; status is case-insensitive.
    let (s, body) = put(
        &http,
        &url,
        &token,
        json!({ "Status": "x", "status": "InProgress", "extra": 1 }),
    )
    .await;
    assert_eq!(
        (s, unfuzz(&body)["status"].clone()),
        (200, json!("inprogress"))
    );
}

#[test]
fn transition_table() {
    let legal = [
        ("pending", "queued"),
        ("queued", "pending"),
        ("queued", "new"),
        ("queued", "failed"),
        ("new", "inprogress"),
        ("new", "completed"),
        ("new", "failed"),
        ("new", "cancelled"),
        ("new", "expired"),
        ("inprogress", "inprogress"),
        ("inprogress", "completed"),
        ("inprogress", "expired"),
        ("completed", "completed"),
        ("completed", "queued"),
        ("failed", "queued"),
    ];
    let illegal = [
        ("pending", "new"),
        ("pending", "completed"),
        ("new", "pending"),
        ("inprogress", "pending"),
        ("completed", "inprogress"),
        ("completed", "failed"),
        ("failed", "completed"),
        ("cancelled", "new"),
        ("expired", "inprogress"),
        ("inprogress", "new"),
    ];
    for (from, to) in legal {
        assert!(
            transition_allowed(from, to),
            "{from} -> {to} should be allowed"
        );
    }
    for (from, to) in illegal {
        assert!(
            !transition_allowed(from, to),
            "{from} -> {to} should be refused"
        );
    }
}

#[tokio::test]
async fn bad_puts_get_clear_400s_and_change_nothing() {
    let (sb, http, token) = setup(PageUpConfig {
        max_body_bytes: 64 * 1024,
        ..Default::default()
    })
    .await;
    let id = sb.state.seed(TENANT, json!({}));
    let url = put_url(&sb, TENANT, &id);
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "referenceNumber": "x" }), "Status is required"),
        (json!({ "status": "done" }), "is not valid"),
        (json!({ "status": 3 }), "must be a string"),
        (json!([1, 2]), "must be a JSON object"),
        (json!({ "status": "new" }), "from pending to new"),
    ];
    for (body, needle) in cases {
        let (s, err) = put(&http, &url, &token, body.clone()).await;
        assert_eq!(s, 400, "{body}");
        let text = err.to_string();
        assert!(text.contains(needle), "{body}: {text}");
    }
    assert_eq!(put(&http, &url, &token, doc("queued")).await.0, 200);
    assert_eq!(put(&http, &url, &token, doc("new")).await.0, 200);
    let cases: Vec<(Value, &str)> = vec![
        (doc("completed"), "at least one result"),
        (
            json!({ "status": "completed", "results": [{ "reportLink": "https://x", "status": "pass" }] }),
            "reportType is required",
        ),
        (
            json!({ "status": "completed", "results": "no" }),
            "results must be an array",
        ),
        (doc("failed"), "reasonForFail"),
    ];
    for (body, needle) in cases {
        let (s, err) = put(&http, &url, &token, body.clone()).await;
        assert_eq!(s, 400, "{body}");
        assert!(err.to_string().contains(needle), "{body}: {err}");
    }
    let malformed = http
        .put(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"status\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let m: Value = malformed.json().await.unwrap();
    assert!(m[0]["message"].as_str().unwrap().contains("not valid JSON"));
    let big = json!({ "status": "inprogress", "reasonForFail": "x".repeat(100 * 1024) });
    let r = http
        .put(&url)
        .bearer_auth(&token)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let missing = put(&http, &put_url(&sb, TENANT, "nope"), &token, doc("queued")).await;
    assert_eq!(missing.0, 404);
    let view = sb.state.check(TENANT, &id).unwrap();
    assert_eq!(
        (view.status.as_str(), view.history.len()),
        ("new", 2),
        "rejected PUTs changed nothing"
    );
}

#[tokio::test]
async fn provider_filter_and_tenant_isolation() {
    let (sb, http, token) = setup(PageUpConfig {
        fuzz: false,
        ..Default::default()
    })
    .await;
    sb.state.seed(TENANT, json!({ "provider": "bg" }));
    sb.state.seed(TENANT, json!({ "provider": "other" }));
    sb.state.seed("555", json!({ "provider": "bg" }));
    let count = |q: &'static str| {
        let http = http.clone();
        let url = format!("{}{q}", list_url(&sb, TENANT));
        let token = token.clone();
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(count("").await, 2);
    assert_eq!(count("?provider=bg").await, 1);
    let other_id = sb.state.checks("555")[0].id.clone();
    assert_eq!(
        put(
            &http,
            &put_url(&sb, TENANT, &other_id),
            &token,
            doc("queued")
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn generated_resume_streams_as_valid_base64_pdf() {
    let (sb, http, token) = setup(PageUpConfig::default()).await;
    let size = 1_000_003;
    sb.state.seed_generated(
        TENANT,
        1,
        &GenerateOptions {
            document_bytes: size,
            ..Default::default()
        },
    );
    let body: Value = http
        .get(list_url(&sb, TENANT))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let docs = unfuzz(&body)[0]["documents"].clone();
    let resume = docs
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["documentType"] == "resume")
        .unwrap()
        .clone();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(resume["content"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes.len(), size);
    assert!(bytes.starts_with(b"%PDF-1.4"));
    let keys: BTreeSet<_> = unfuzz(&body)[0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for k in [
        "id",
        "status",
        "candidate",
        "job",
        "employmentHistory",
        "documents",
        "note",
        "packageCode",
    ] {
        assert!(keys.contains(k), "{k}");
    }
}

#[tokio::test]
async fn admin_api_seeds_reads_and_injects_faults() {
    let (sb, http, token) = setup(PageUpConfig::default()).await;
    let admin = format!("{}/__admin", sb.base_url());
    let r = http
        .post(format!("{admin}/tenants/{TENANT}/invitations/generate"))
        .json(&json!({ "count": 3, "seed": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(format!("{admin}/tenants/{TENANT}/invitations"))
        .json(&json!({ "id": 42 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["id"], "42");
    let checks: Value = http
        .get(format!("{admin}/tenants/{TENANT}/checks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(checks.as_array().unwrap().len(), 4);
    http.post(format!("{admin}/faults"))
        .json(&json!({ "pathPrefix": "/v3/", "count": 1, "status": 503 }))
        .send()
        .await
        .unwrap();
    let url = list_url(&sb, TENANT);
    assert_eq!(
        http.get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        http.get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let journal: Value = http
        .get(format!("{admin}/journal"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<_> = journal
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["method"] == "GET")
        .map(|e| e["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!(503), json!(200)]);
    let r = http
        .get(format!("{admin}/tenants/{TENANT}/checks/none"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// The quick start's curl commands work as printed.
#[tokio::test]
async fn quickstart_curl_commands_work_as_printed() {
    let (sb, _http, _) = setup(PageUpConfig::default()).await;
    let id = sb
        .state
        .seed_generated(TENANT, 1, &GenerateOptions::default())
        .remove(0);
    let text = sb.quickstart(&ClientSpec::full(TENANT, "cid", "secret"));
    let stdout =
        crate::run_quickstart(&text, |script| script.replace("/ID", &format!("/{id}"))).await;
    assert!(
        stdout.contains(&format!("\"{id}\"")),
        "listed and claimed: {stdout}"
    );
    assert_eq!(sb.state.check(TENANT, &id).unwrap().status, "queued");
}

#[tokio::test]
async fn changes_are_signalled_on_seed_and_accepted_put_only() {
    let (sb, http, token) = setup(PageUpConfig::default()).await;
    let mut changes = sb.state.changes();
    let id = sb.state.seed(TENANT, json!({}));
    assert!(changes.has_changed().unwrap(), "a seed is a change");
    changes.borrow_and_update();
    // A refused PUT changes nothing, so it signals nothing.
    let (status, _) = put(&http, &put_url(&sb, TENANT, &id), &token, doc("new")).await;
    assert_eq!(status, 400);
    assert!(!changes.has_changed().unwrap());
    // A claim does: a waiter wakes at once.
    let (status, _) = put(&http, &put_url(&sb, TENANT, &id), &token, doc("queued")).await;
    assert_eq!(status, 200);
    tokio::time::timeout(Duration::from_secs(5), changes.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sb.state.check(TENANT, &id).unwrap().status, "queued");
}
