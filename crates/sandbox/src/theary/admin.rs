//! The `/__admin` routes: set the sandbox up (clients, scenario rules), drive it (advance
//! every search, resolve one, expire tokens), read the delivery log and set delivery faults,
//! plus the shared fault and journal routes. Not faulted or journalled.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::delivery::DeliveryFaultSettings;
use super::error::rejection;
use super::state::{bare, ClientSpec, Outcome, ScenarioRule, ThearyState};
use crate::common;

/// The admin routes (mounted under `/__admin`).
pub(super) fn routes(state: &ThearyState) -> Router {
    Router::new()
        .route("/clients", post(admin_client))
        .route("/rules", post(admin_rule))
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
