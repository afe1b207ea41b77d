//! The `/__admin` routes: what a test, the demo or a person at a terminal uses to set the
//! sandbox up and look inside it (clients, seeded and generated invitations, checks with
//! their `PUT` history, timings, token knobs), plus the shared fault and journal routes.
//! Not faulted or journalled, so looking never changes what the API saw.

use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{error, json_rejection};
use super::generate::GenerateOptions;
use super::state::{ClientSpec, PageUpState};
use crate::common;

/// The admin routes (mounted under `/__admin`).
pub(super) fn routes(state: &PageUpState) -> Router {
    Router::new()
        .route("/clients", post(admin_add_client))
        .route("/tenants/{tenant}/invitations", post(admin_seed))
        .route(
            "/tenants/{tenant}/invitations/generate",
            post(admin_generate),
        )
        .route("/tenants/{tenant}/checks", get(admin_checks))
        .route("/tenants/{tenant}/checks/{id}", get(admin_check))
        .route(
            "/timings",
            get(|State(s): State<PageUpState>| async move { Json(s.timings()) }),
        )
        .route(
            "/progress",
            get(|State(s): State<PageUpState>| async move { Json(s.progress()) }),
        )
        .route("/tokens/expire", post(admin_expire_tokens))
        .route("/token-lifetime", put(admin_token_lifetime))
        .with_state(state.clone())
        .merge(common::admin_routes(state.inst.clone()))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
}

async fn admin_add_client(
    State(state): State<PageUpState>,
    body: Result<Json<ClientSpec>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(spec)) => {
            state.add_client(spec);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(rejection) => json_rejection(rejection),
    }
}

async fn admin_seed(
    State(state): State<PageUpState>,
    Path(tenant): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(invitation)) if invitation.is_object() => {
            let id = state.seed(&tenant, invitation);
            (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
        }
        Ok(_) => error(
            StatusCode::BAD_REQUEST,
            "An invitation must be a JSON object.",
        ),
        Err(rejection) => json_rejection(rejection),
    }
}

#[derive(Debug, Deserialize)]
struct GenerateRequest {
    count: usize,
    #[serde(flatten)]
    options: GenerateOptions,
}

async fn admin_generate(
    State(state): State<PageUpState>,
    Path(tenant): Path<String>,
    body: Result<Json<GenerateRequest>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(req)) if req.count <= 100_000 => {
            let ids = state.seed_generated(&tenant, req.count, &req.options);
            (StatusCode::CREATED, Json(json!({ "ids": ids }))).into_response()
        }
        Ok(_) => error(StatusCode::BAD_REQUEST, "count must be at most 100000."),
        Err(rejection) => json_rejection(rejection),
    }
}

async fn admin_checks(State(state): State<PageUpState>, Path(tenant): Path<String>) -> Response {
    Json(state.checks(&tenant)).into_response()
}

async fn admin_check(
    State(state): State<PageUpState>,
    Path((tenant, id)): Path<(String, String)>,
) -> Response {
    match state.check(&tenant, &id) {
        Some(view) => Json(view).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("Background check {id} not found."),
        ),
    }
}

async fn admin_expire_tokens(State(state): State<PageUpState>) -> StatusCode {
    state.expire_tokens();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct LifetimeBody {
    secs: u64,
}

async fn admin_token_lifetime(
    State(state): State<PageUpState>,
    body: Result<Json<LifetimeBody>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(b)) => {
            state.set_token_lifetime(Duration::from_secs(b.secs));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(rejection) => json_rejection(rejection),
    }
}
