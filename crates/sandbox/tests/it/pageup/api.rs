//! The API: pages of 5 oldest first, the fuzzy serializer, `PUT` as a full override with its
//! workflow and 400s, provider filter and tenant isolation, generated documents.

use std::collections::BTreeSet;

use sandbox::pageup::{transition_allowed, GenerateOptions, PageUpConfig};
use serde_json::{json, Value};

use super::{assert_fuzzed, doc, list_url, put, put_url, setup, unfuzz, TENANT};

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
