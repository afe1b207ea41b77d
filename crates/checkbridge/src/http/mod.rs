//! The service's HTTP side, one module per concern: `webhooks` (Theary's signed events),
//! `session` (sign-in and out, cookies, CSRF, the login throttle), `sso` (single sign-on
//! through each tenant's identity provider; it uses `session`'s sessions), `reports` (the report
//! pages and their PDF), `ops` (the operator page), `api` (the admin API under `/api/v1`,
//! bearer tokens, its OpenAPI description), `pages` (what the pages share) and `app`
//! (the router over one `AppState`, health and metrics). Only `app` knows them all; the
//! others import `pages` and `session` at most, never each other. Errors answer a stable
//! JSON body `{code, message}`; a 500's body says nothing of the cause, which is logged once.

pub mod api;
pub mod app;
pub mod auth;
pub mod candidate;
pub mod limits;
pub mod ops;
pub mod pages;
pub mod pdf;
pub mod reports;
pub mod session;
pub mod sso;
pub mod webhooks;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// An internal failure: the cause is logged here, the caller sees nothing of it.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        let chain = crate::error::error_chain(cause);
        tracing::error!(error = %chain, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "code": self.code, "message": self.message })),
        )
            .into_response()
    }
}
