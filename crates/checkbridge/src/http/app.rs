//! The whole HTTP side of a replica: the webhook receiver, the report pages behind login
//! that PageUp's report links open, and health endpoints.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::webhooks::{self, WebhookState};
use crate::sync::Engine;

/// Routes of the service.
pub fn router(engine: &Engine) -> Router {
    let tenants: BTreeSet<String> = engine.tenant_keys().map(str::to_owned).collect();
    let hooks = webhooks::router(WebhookState {
        store: engine.store().clone(),
        keyring: engine.keyring().clone(),
        tenants: Arc::new(tenants),
        reconcile_after: engine.reconcile_after(),
        on_change: Some(engine.pusher_wake()),
        health: Some(engine.health().clone()),
        metrics: Some(engine.metrics().clone()),
    });
    let ops = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(engine.clone());
    let reports = super::reports::router(super::reports::ReportState::new(
        engine.clone(),
        engine.public_base_url(),
    ));
    hooks.merge(ops).merge(reports)
}

async fn metrics(State(engine): State<Engine>) -> Response {
    let store = engine.store();
    let (owed, oldest, issues) = match (
        store.owed(None).await,
        store.oldest_owed_push(crate::time::now_ms()).await,
        store.open_issues().await,
    ) {
        (Ok(o), Ok(t), Ok(i)) => (o, t, i),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            tracing::error!(error = %crate::sync::error_chain(&e), "metrics: database unavailable");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
        }
    };
    #[expect(clippy::cast_precision_loss, reason = "counts and ages far below 2^52")]
    let gauges = [
        (
            "checkbridge_owed_orders",
            "checks waiting for their Theary order",
            owed.orders as f64,
        ),
        (
            "checkbridge_owed_pushes",
            "checks whose PageUp document is behind",
            owed.pushes as f64,
        ),
        (
            "checkbridge_open_searches",
            "searches of ordered checks with no result yet",
            owed.open_searches as f64,
        ),
        (
            "checkbridge_oldest_owed_push_seconds",
            "age of the oldest PageUp update still owed",
            oldest as f64 / 1000.0,
        ),
        (
            "checkbridge_open_health_issues",
            "health issues open now (see /ops or `checkbridge tenants health`)",
            issues.len() as f64,
        ),
    ];
    let m = engine.metrics();
    let (pageup, theary) = engine.clients();
    m.set(
        "checkbridge_token_fetches_total",
        &[("partner", "pageup")],
        pageup.token_fetches(),
    );
    m.set(
        "checkbridge_token_fetches_total",
        &[("partner", "theary")],
        theary.token_fetches(),
    );
    m.set(
        "checkbridge_call_retries_total",
        &[("partner", "pageup")],
        pageup.retries(),
    );
    m.set(
        "checkbridge_call_retries_total",
        &[("partner", "theary")],
        theary.retries(),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        engine.metrics().render(&gauges),
    )
        .into_response()
}

async fn ready(State(engine): State<Engine>) -> Response {
    match engine.store().ping().await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::error!(error = %crate::sync::error_chain(&e), "not ready: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}
