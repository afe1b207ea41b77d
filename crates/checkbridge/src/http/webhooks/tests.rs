use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sandbox::common::{bind_local, serve, Server};
use serde_json::{json, Value};
use theary::signature::sign;

use super::*;
use crate::domain::ids::{CheckId, ThearyOrderId};
use crate::store::{NewCheck, NewSearch, Plan};

const SECRET: &str = "per-order-secret-0123";

struct Fixture {
    server: Server,
    store: Store,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/cb.db", dir.path().display()))
        .await
        .unwrap();
    let keyring = Keyring::new(crate::crypto::MasterKeys::ephemeral(), store.clone());
    let acme = TenantKey::from("acme");
    let check_id = CheckId::from("check-1");
    let sealed_secret = keyring
        .seal(Place::webhook_secret(&acme, &check_id), SECRET.as_bytes())
        .await
        .unwrap();
    let searches = [NewSearch {
        id: "ours-emp".into(),
        search_type: theary::wire::SearchType::Employment,
    }];
    let check = store
        .record_claimed(
            &NewCheck {
                id: &check_id,
                tenant: &acme,
                pageup_id: &"42".into(),
                webhook_secret: &sealed_secret,
                searches: &searches,
                plan: Plan::Order { order_json: "{}" },
            },
            1,
        )
        .await
        .unwrap();
    store
        .lease_order_work("w", 1, Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert!(store
        .record_order(
            &crate::store::PlacedOrder {
                tenant: &acme,
                check_id: &check.id,
                owner: "w",
                reference: &ThearyOrderId::new("ord_1"),
                theary_ids: &[("ours-emp".into(), ThearySearchId::new("e2b1c9a4"))],
                reconcile_at: 1_000,
            },
            2
        )
        .await
        .unwrap());
    let tenants = Arc::new(BTreeSet::from([acme.clone(), TenantKey::from("globex")]));
    let server = serve(
        bind_local(0).await.unwrap(),
        router(WebhookState {
            store: store.clone(),
            keyring,
            tenants,
            reconcile_after: Duration::from_secs(600),
            on_change: None,
            health: None,
            metrics: None,
            refused_log: Arc::new(super::RefusedLog::new(10)),
        }),
    )
    .unwrap();
    Fixture {
        server,
        store,
        _dir: dir,
        http: reqwest::Client::new(),
    }
}

fn event(search_id: &str, external: Option<&str>) -> Vec<u8> {
    let mut data = json!({ "searchType": "EMPLOYMENT", "searchId": search_id, "notificationType": "CONTACT_PLAN" });
    if let Some(e) = external {
        data["externalSearchId"] = json!(e);
    }
    serde_json::to_vec(&json!({ "event": "verification.notification", "occurredAt": "2026-07-02T14:00:05.882Z", "data": data })).unwrap()
}

impl Fixture {
    async fn post(&self, path: &str, body: Vec<u8>, headers: &[(&str, String)]) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.server.base_url()))
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let r = req.body(body).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

fn signed(body: &[u8], event_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-webhook-signature", sign(SECRET.as_bytes(), body)),
        ("x-event-id", event_id.to_owned()),
    ]
}

#[tokio::test]
async fn a_verified_event_is_stored_once_then_acknowledged() {
    let f = fixture().await;
    let body = event("e2b1c9a4", Some("ours-emp"));
    let (status, answer) = f
        .post(
            "/webhooks/theary/acme/employment",
            body.clone(),
            &signed(&body, "evt-1"),
        )
        .await;
    assert_eq!((status, answer["duplicate"].clone()), (200, json!(false)));
    let (status, answer) = f
        .post(
            "/webhooks/theary/acme",
            body.clone(),
            &signed(&body, "evt-1"),
        )
        .await;
    assert_eq!(
        (status, answer["duplicate"].clone()),
        (200, json!(true)),
        "a duplicate is a no-op"
    );
    // Found by Theary's search id alone, with or without its prefix, and without X-Event-Id.
    let bare = event("search_e2b1c9a4", None);
    let headers = vec![("x-webhook-signature", sign(SECRET.as_bytes(), &bare))];
    assert_eq!(
        f.post("/webhooks/theary/acme", bare.clone(), &headers)
            .await
            .0,
        200
    );
    assert_eq!(
        f.post("/webhooks/theary/acme", bare, &headers).await.1["duplicate"],
        json!(true),
        "identical bodies dedupe"
    );
    let stored = f
        .store
        .webhook_events(&"acme".into(), &"ours-emp".into())
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|(_, t)| t == "verification.notification"));
}

/// Path, body, headers, expected status and error code.
type Case = (
    &'static str,
    Vec<u8>,
    Vec<(&'static str, String)>,
    u16,
    &'static str,
);

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_nothing_is_stored() {
    let f = fixture().await;
    let body = event("e2b1c9a4", Some("ours-emp"));
    let cases: Vec<Case> = vec![
        (
            "/webhooks/theary/acme",
            body.clone(),
            vec![("x-event-id", "a".into())],
            401,
            "invalid_signature",
        ),
        (
            "/webhooks/theary/acme",
            body.clone(),
            vec![("x-webhook-signature", "sha256=".into())],
            401,
            "invalid_signature",
        ),
        (
            "/webhooks/theary/acme",
            body.clone(),
            vec![("x-webhook-signature", sign(b"another-orders-secret", &body))],
            401,
            "invalid_signature",
        ),
        (
            "/webhooks/theary/acme",
            event("unknown", Some("not-ours")),
            signed(&body, "b"),
            404,
            "not_found",
        ),
        (
            "/webhooks/theary/globex",
            body.clone(),
            signed(&body, "c"),
            404,
            "not_found",
        ),
        (
            "/webhooks/theary/nobody",
            body.clone(),
            signed(&body, "d"),
            404,
            "not_found",
        ),
        (
            "/webhooks/theary/acme",
            b"{not json".to_vec(),
            signed(b"{not json", "e"),
            400,
            "malformed_json",
        ),
        (
            "/webhooks/theary/acme",
            vec![b' '; MAX_BODY + 1],
            vec![],
            413,
            "body_too_large",
        ),
    ];
    for (path, body, headers, status, code) in cases {
        let (got, answer) = f.post(path, body, &headers).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{path} {headers:?}"
        );
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Signed with the right secret but not an event: refused after verification.
    let junk = br#"{"data":{"externalSearchId":"ours-emp"}}"#.to_vec();
    let (status, answer) = f
        .post("/webhooks/theary/acme", junk.clone(), &signed(&junk, "f"))
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("malformed_event"))
    );
    assert!(
        f.store
            .webhook_events(&"acme".into(), &"ours-emp".into())
            .await
            .unwrap()
            .is_empty(),
        "nothing unverified or malformed was stored"
    );
}
