//! PageUp's error shape, `[{"field"?, "message"}]`, and how a body that cannot be read as
//! JSON is answered in it. Shared by the API, the login server's callers and the admin
//! routes, so every refusal looks the same.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// PageUp's error shape: an array of `{"field"?, "message"}`.
pub(super) fn errors(status: StatusCode, items: &[(Option<&str>, String)]) -> Response {
    let body: Vec<Value> = items
        .iter()
        .map(|(field, message)| match field {
            Some(f) => json!({ "field": f, "message": message }),
            None => json!({ "message": message }),
        })
        .collect();
    (
        status,
        [("content-type", "application/json")],
        Value::Array(body).to_string(),
    )
        .into_response()
}

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    errors(status, &[(None, message.into())])
}

pub(super) fn json_rejection(rejection: JsonRejection) -> Response {
    match rejection {
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is too large.",
            )
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is too large.",
        ),
        JsonRejection::MissingJsonContentType(_) => error(
            StatusCode::BAD_REQUEST,
            "The request body must be JSON (Content-Type: application/json).",
        ),
        other => error(
            StatusCode::BAD_REQUEST,
            format!("The request body is not valid JSON: {}", other.body_text()),
        ),
    }
}
