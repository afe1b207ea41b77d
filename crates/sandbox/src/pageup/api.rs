//! The emulated PageUp API: `GET` of pending invitations (oldest first, at most
//! [`PAGE_SIZE`], through the fuzzy serializer and streamed, so generated 20 MB documents are
//! never held whole) and `PUT` of a check's status (validated, then applied as a full
//! override). Every route is faulted and journalled by `common`; the bearer token is checked
//! by `auth`.

use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{authorize, token};
use super::error::{error, errors, json_rejection};
use super::state::{PageUpState, PutRefused, SCOPE_READ, SCOPE_WRITE};
use super::validate::validate_document;
use crate::common;
use crate::fuzzjson::{self, Chunk, DOCUMENT_PIECE};

/// At most this many invitations per `GET`, as the guide says.
pub const PAGE_SIZE: usize = 5;

/// The API routes (login server included), behind the fault and journal layer.
pub(super) fn routes(state: &PageUpState) -> Router {
    Router::new()
        .route("/connect/token", post(token))
        .route("/v3/{tenant}/backgroundcheck", get(list_pending))
        .route("/v3/{tenant}/backgroundcheck/{id}", put(update_status))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.inst.clone(),
            common::fault_and_journal,
        ))
        .with_state(state.clone())
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "The resource does not exist.")
}

// ---------------------------------------------------------------------------------------
// GET pending

#[derive(Debug, Deserialize)]
struct ListQuery {
    provider: Option<String>,
}

async fn list_pending(
    State(state): State<PageUpState>,
    Path(tenant): Path<String>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(denied) = authorize(&state, &headers, &tenant, SCOPE_READ) {
        return denied.into_response();
    }
    let provider = query.provider.as_deref().filter(|p| !p.is_empty());
    let page: Vec<Value> = state
        .pending(&tenant, provider, PAGE_SIZE)
        .iter()
        .map(|inv| state.config.shape.reshape(inv))
        .collect();
    let list = if state.config.wrap_list {
        json!({ "items": page })
    } else {
        Value::Array(page)
    };
    streamed_json(fuzzjson::write(&list, state.config.fuzz))
}

/// Streams JSON chunks, turning generated documents into base64 piece by piece.
fn streamed_json(chunks: Vec<Chunk>) -> Response {
    let stream = futures::stream::iter(chunks).flat_map(|chunk| {
        let pieces: Box<dyn Iterator<Item = Bytes> + Send> = match chunk {
            Chunk::Text(t) => Box::new(std::iter::once(Bytes::from(t))),
            Chunk::Document(size) => {
                let n = size.div_ceil(DOCUMENT_PIECE);
                let open = std::iter::once(Bytes::from_static(b"\""));
                let close = std::iter::once(Bytes::from_static(b"\""));
                let body = (0..n).map(move |i| {
                    let start = i * DOCUMENT_PIECE;
                    let raw = fuzzjson::document_bytes(start, DOCUMENT_PIECE.min(size - start));
                    Bytes::from(base64::engine::general_purpose::STANDARD.encode(raw))
                });
                Box::new(open.chain(body).chain(close))
            }
        };
        futures::stream::iter(pieces.map(Ok::<_, std::io::Error>))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

// ---------------------------------------------------------------------------------------
// PUT status

async fn update_status(
    State(state): State<PageUpState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    if let Err(denied) = authorize(&state, &headers, &tenant, SCOPE_WRITE) {
        return denied.into_response();
    }
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) => return json_rejection(rejection),
    };
    let document = match validate_document(&body) {
        Ok(d) => d,
        Err(problems) => return errors(StatusCode::BAD_REQUEST, &problems),
    };
    match state.apply_put(&tenant, &id, &document) {
        Ok(()) => {}
        Err(PutRefused::NotFound) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("Background check {id} not found."),
            )
        }
        Err(PutRefused::Transition { from, to }) => {
            let hint = if to == "pending" {
                " (pending is reachable only from queued)"
            } else {
                ""
            };
            return errors(
                StatusCode::BAD_REQUEST,
                &[(
                    Some("status"),
                    format!("Cannot move background check {id} from {from} to {to}{hint}."),
                )],
            );
        }
    }
    let mut answer = document;
    answer["id"] = json!(id);
    let text = fuzzjson::to_string(&answer, state.config.fuzz);
    (
        StatusCode::OK,
        [("content-type", "application/json; charset=utf-8")],
        text,
    )
        .into_response()
}
