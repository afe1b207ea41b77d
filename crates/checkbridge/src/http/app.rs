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
    });
    let ops = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(engine.clone());
    let reports = super::reports::router(super::reports::ReportState::new(
        engine.clone(),
        engine.public_base_url(),
    ));
    hooks.merge(ops).merge(reports)
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
