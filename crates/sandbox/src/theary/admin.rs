//! The `/__admin` routes: set the sandbox up (clients, scenario rules), drive it (advance
//! every search, resolve one, expire tokens, tenant-level webhook configuration), read the delivery log and set delivery faults,
//! plus the shared fault and journal routes. Not faulted or journalled.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::delivery::DeliveryFaultSettings;
use super::error::{nest_error, rejection};
use super::state::{bare, ClientSpec, Outcome, ScenarioRule, ThearyState};
use super::validate;
use crate::common;

/// The admin routes (mounted under `/__admin`).
pub(super) fn routes(state: &ThearyState) -> Router {
    Router::new()
        .route("/clients", post(admin_client))
        .route("/rules", post(admin_rule))
        .route(
            "/tenants/{tenant}/webhook-config",
            get(admin_get_tenant_webhook)
                .put(admin_set_tenant_webhook)
                .delete(admin_clear_tenant_webhook),
        )
        .route("/advance", post(admin_advance))
        .route("/searches/{id}/resolve", post(admin_resolve))
        .route("/tokens/expire", post(admin_expire))
        .route("/deliveries", get(admin_deliveries))
        .route(
            "/delivery-faults",
            post(admin_delivery_faults)
                .delete(admin_clear_delivery_faults)
                .get(admin_get_delivery_faults),
        )
        .with_state(state.clone())
        .merge(common::admin_routes(state.inst.clone()))
}

async fn admin_client(
    State(state): State<ThearyState>,
    body: Result<Json<ClientSpec>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(spec)) => {
            state.add_client(spec);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => rejection(r),
    }
}

async fn admin_rule(
    State(state): State<ThearyState>,
    body: Result<Json<ScenarioRule>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(rule)) => {
            state.add_rule(rule);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => rejection(r),
    }
}

/// Theary sets tenant-level webhooks up out of band (the account manager); here they are set
/// through the admin API, validated like an order's `webhookConfig`.
async fn admin_set_tenant_webhook(
    State(state): State<ThearyState>,
    Path(tenant): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let config = match body {
        Ok(Json(c)) => c,
        Err(r) => return rejection(r),
    };
    let problems = validate::validate_webhook(&config, &state.rules());
    if !problems.is_empty() {
        return nest_error(StatusCode::BAD_REQUEST, json!(problems));
    }
    state.set_tenant_webhook(&tenant, Some(config));
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_get_tenant_webhook(
    State(state): State<ThearyState>,
    Path(tenant): Path<String>,
) -> Response {
    match state.tenant_webhook(&tenant) {
        Some(c) => Json(c).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "No tenant-level webhook configuration", "tenant": tenant })),
        )
            .into_response(),
    }
}

async fn admin_clear_tenant_webhook(
    State(state): State<ThearyState>,
    Path(tenant): Path<String>,
) -> StatusCode {
    state.set_tenant_webhook(&tenant, None);
    StatusCode::NO_CONTENT
}

async fn admin_advance(State(state): State<ThearyState>) -> Response {
    Json(json!({ "moved": state.advance() })).into_response()
}

async fn admin_resolve(
    State(state): State<ThearyState>,
    Path(id): Path<String>,
    body: Result<Json<Outcome>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(outcome)) => {
            if state.resolve_search(bare(&id), outcome) {
                StatusCode::NO_CONTENT.into_response()
            } else {
                (
                    StatusCode::NOT_FOUND,
                    Json(
                        json!({ "error": "Search not found or already finished", "searchId": id }),
                    ),
                )
                    .into_response()
            }
        }
        Err(r) => rejection(r),
    }
}

async fn admin_expire(State(state): State<ThearyState>) -> StatusCode {
    state.expire_tokens();
    StatusCode::NO_CONTENT
}

async fn admin_deliveries(State(state): State<ThearyState>) -> Response {
    Json(state.deliveries()).into_response()
}

async fn admin_delivery_faults(
    State(state): State<ThearyState>,
    body: Result<Json<DeliveryFaultSettings>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(settings)) => {
            state.delivery_faults().add(&settings);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => rejection(r),
    }
}

async fn admin_get_delivery_faults(State(state): State<ThearyState>) -> Response {
    Json(state.delivery_faults().settings()).into_response()
}

async fn admin_clear_delivery_faults(State(state): State<ThearyState>) -> StatusCode {
    state.delivery_faults().clear();
    StatusCode::NO_CONTENT
}
