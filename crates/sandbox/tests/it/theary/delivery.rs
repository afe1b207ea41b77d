//! Webhook delivery: routing by search type and event, signatures and headers, overrides,
//! retries, and the delivery faults.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{all_events, create, order, run_one_search, setup, Receiver};

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
async fn delivery_faults_duplicate_bad_signature_and_drop() {
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
    let fired = sb.state.delivery_faults().fired();
    assert_eq!(
        (
            fired.duplicate,
            fired.bad_signature,
            fired.drop,
            fired.reorder
        ),
        (1, 1, 1, 0)
    );
}

/// The notification type of a received event (`CONTACT_PLAN`, `OUTBOUND_ATTEMPT`), or its
/// event type for a terminal one.
fn kind_of(event: &(String, axum::http::HeaderMap, serde_json::Value)) -> String {
    event.2["data"]["notificationType"]
        .as_str()
        .or_else(|| event.1["x-event-type"].to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_reordered_event_arrives_after_the_later_event_of_its_search() {
    let (sb, http, token) = setup().await;
    let (server, rx) = Receiver::spawn().await;
    let hook = json!({ "secret": "k", "fallbackEndpoint": { "url": format!("{}/h", server.base_url()), "events": all_events() } });
    create(&sb, &http, &token, &order("Tech Corp", Some(hook))).await;
    sb.state.delivery_faults().reorder_next(1);
    sb.state.advance(); // CONTACT_PLAN, held back
    sb.state.advance(); // OUTBOUND_ATTEMPT, delivered; then CONTACT_PLAN goes
    let events = rx.wait_for(&sb, 2).await;
    let order: Vec<String> = events.iter().map(kind_of).collect();
    assert_eq!(
        order,
        ["OUTBOUND_ATTEMPT", "CONTACT_PLAN"],
        "produced the other way round"
    );
    assert_eq!(sb.state.delivery_faults().fired().reorder, 1);

    // The last event of a search has nothing after it: it is held for a bounded time only.
    sb.state.delivery_faults().reorder_next(1);
    sb.state.advance(); // verification.completed, held, then sent anyway
    let events = rx.wait_for(&sb, 3).await;
    assert_eq!(kind_of(&events[2]), "verification.completed");
    assert!(sb.state.wait_deliveries_idle(Duration::from_secs(5)).await);
    assert_eq!(sb.state.delivery_faults().fired().reorder, 2);
}
