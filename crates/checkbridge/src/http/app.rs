//! The whole HTTP side of a replica: the webhook receiver, the report links PageUp shows,
//! and health endpoints.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
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
        .route("/reports/{tenant}/{check}", get(report_overall))
        .route("/reports/{tenant}/{check}/{search}", get(report_search))
        .with_state(engine.clone());
    hooks.merge(ops)
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

async fn report_overall(
    state: State<Engine>,
    Path((tenant, check)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    report(state, tenant, check, None, headers).await
}

async fn report_search(
    state: State<Engine>,
    Path((tenant, check, search)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    report(state, tenant, check, Some(search), headers).await
}

/// A report link. Reports are shown only behind a login; until a reader is signed in, the
/// answer is 401 and says nothing of the check, not even whether it exists.
async fn report(
    State(_engine): State<Engine>,
    _tenant: String,
    _check: String,
    _search: Option<String>,
    _headers: HeaderMap,
) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"checkbridge reports\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        ],
        "<!doctype html><title>Sign in required</title><h1>Sign in required</h1>\
         <p>Background check reports are shown only to signed-in users.</p>",
    )
        .into_response()
}
