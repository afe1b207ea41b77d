//! A receiver written the way the service must be: verify the raw body, dedupe on X-Event-Id.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use sandbox::common::{bind_local, serve};
use theary::signature::verify;
use theary::wire::*;

use crate::client::{order, setup};

#[derive(Clone, Default)]
struct Seen {
    ids: Arc<Mutex<HashSet<String>>>,
    events: Arc<Mutex<Vec<WebhookEvent>>>,
    rejected: Arc<Mutex<usize>>,
    duplicates: Arc<Mutex<usize>>,
}

async fn receive(
    State(seen): State<Seen>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let header = headers
        .get("x-webhook-signature")
        .and_then(|v| v.to_str().ok());
    let Ok(verified) = verify(b"per-order-secret-0123", &body, header) else {
        *seen.rejected.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED;
    };
    let id = headers
        .get("x-event-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !seen.ids.lock().unwrap().insert(id) {
        *seen.duplicates.lock().unwrap() += 1;
        return StatusCode::OK;
    }
    seen.events.lock().unwrap().push(verified.parse().unwrap());
    StatusCode::OK
}

#[tokio::test]
async fn each_event_is_seen_exactly_once_through_duplicates_reordering_and_bad_signatures() {
    let (sandbox, client, config) = setup().await;
    let seen = Seen::default();
    let app = Router::new()
        .route("/hooks", post(receive))
        .with_state(seen.clone());
    let server = serve(bind_local(0).await.unwrap(), app).unwrap();
    let hook = WebhookConfig {
        secret: Some(Secret::new("per-order-secret-0123")),
        retry_attempts: Some(3),
        fallback_endpoint: Some(Endpoints::Target(WebhookTarget {
            url: format!("{}/hooks", server.base_url()),
            events: Some(vec![
                EventType::Completed,
                EventType::ActionRequired,
                EventType::Notification,
            ]),
            ..Default::default()
        })),
        ..Default::default()
    };
    let mut searches = Vec::new();
    for (i, employer) in ["Tech Corp", "Discrepancy Inc", "ThirdParty Payroll"]
        .iter()
        .enumerate()
    {
        let mut o = order(employer, &format!("ext-{i}"));
        o.webhook_config = Some(hook.clone());
        searches.extend(client.create_order(&config, &o).await.unwrap().search_ids);
    }
    let faults = sandbox.state.delivery_faults();
    faults.duplicate_next(2);
    sandbox.state.advance(); // 3 contact plans; two delivered twice
    faults.reorder_next(3);
    sandbox.state.advance(); // 3 outbound attempts, delivered in reverse
    faults.bad_signature_next(1);
    sandbox.state.advance(); // 3 terminal events; the first is badly signed and refused
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.events.lock().unwrap().len() < 8 {
        assert!(
            Instant::now() < deadline,
            "only {} events",
            seen.events.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        sandbox
            .state
            .wait_deliveries_idle(Duration::from_secs(5))
            .await
    );
    let events = seen.events.lock().unwrap().clone();
    assert_eq!(
        events.len(),
        8,
        "9 events less the one refused for its signature"
    );
    assert_eq!(*seen.duplicates.lock().unwrap(), 2);
    assert!(*seen.rejected.lock().unwrap() >= 1);
    let refused: Vec<_> = sandbox
        .state
        .deliveries()
        .into_iter()
        .filter(|d| d.status == Some(401))
        .collect();
    assert_eq!(refused.len(), 1, "a 401 is not retried by Theary");
    for e in &events {
        assert!(
            theary::contains_id(&searches, e.search_id().unwrap()),
            "{e:?}"
        );
    }
    let terminal = events
        .iter()
        .filter(|e| matches!(e.event, Event::Completed(_) | Event::ActionRequired(_)))
        .count();
    assert_eq!(terminal, 2);
    // The three outbound attempts were held back: each reached the receiver only after the
    // terminal event of its own search, the reverse of the order Theary produced them in.
    let position = |search: &str, terminal: bool| {
        events.iter().position(|e| {
            e.search_id() == Some(search)
                && (terminal == matches!(e.event, Event::Completed(_) | Event::ActionRequired(_)))
                && (terminal
                    || matches!(&e.event, Event::Notification(n)
                        if n.notification_type == Some(NotificationType::OutboundAttempt)))
        })
    };
    let mut reversed = 0;
    for e in &events {
        let Some(search) = e.search_id() else {
            continue;
        };
        if !matches!(e.event, Event::Completed(_) | Event::ActionRequired(_)) {
            continue;
        }
        let (done, attempt) = (position(search, true), position(search, false));
        assert!(
            done.zip(attempt).is_some_and(|(d, a)| d < a),
            "search {search}: the held outbound attempt arrived after its completion"
        );
        reversed += 1;
    }
    assert_eq!(
        reversed, 2,
        "both searches whose terminal event was accepted"
    );
    assert_eq!(sandbox.state.delivery_faults().fired().reorder, 3);
}
