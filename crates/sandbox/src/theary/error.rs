//! Theary's error shape, NestJS style: `{statusCode, message, error}` (no `error` on a 401),
//! and how an unreadable JSON body is answered in it. Shared by the API and admin routes.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub(super) fn nest_error(status: StatusCode, message: Value) -> Response {
    let mut body = json!({ "statusCode": status.as_u16(), "message": message });
    if let Some(reason) = status.canonical_reason() {
        if status != StatusCode::UNAUTHORIZED {
            body["error"] = json!(reason);
        }
    }
    (status, Json(body)).into_response()
}

pub(super) fn rejection(r: JsonRejection) -> Response {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return nest_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!("Request body is too large"),
        );
    }
    nest_error(
        StatusCode::BAD_REQUEST,
        json!(format!("Invalid JSON body: {}", r.body_text())),
    )
}
