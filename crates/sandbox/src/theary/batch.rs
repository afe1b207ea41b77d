//! `POST /background-check/v1/batches` as the reference notes describe it: every entry of
//! `orders` is validated and created on its own (Theary runs `createOrder` per entry in
//! parallel), so a batch is not atomic. When any entry fails the request fails as a whole
//! (400, each problem named `orders.<i>.<field>`) while the valid entries stay created; the
//! sandbox adds `results`, one per entry, so a caller can see which were created. Listing,
//! reading and deleting batches are Theary's placeholders, answered verbatim.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Tenant;
use super::engine;
use super::error::{nest_error, rejection};
use super::state::ThearyState;
use super::validate;

const NOT_TRACKED: &str = "Batch tracking not yet implemented - orders are processed individually";

pub(super) async fn create_batch(
    State(state): State<ThearyState>,
    Tenant(tenant): Tenant,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(b)) => b,
        Err(r) => return rejection(r),
    };
    let orders = match body.get("orders") {
        None | Some(Value::Null) => {
            return nest_error(
                StatusCode::BAD_REQUEST,
                json!(["orders should not be empty"]),
            )
        }
        Some(Value::Array(a)) if a.is_empty() => {
            return nest_error(
                StatusCode::BAD_REQUEST,
                json!(["orders must contain at least 1 elements"]),
            )
        }
        Some(Value::Array(a)) => a,
        Some(_) => return nest_error(StatusCode::BAD_REQUEST, json!(["orders must be an array"])),
    };
    let rules = state.rules();
    let mut results = Vec::with_capacity(orders.len());
    let mut problems = Vec::new();
    let mut created = Vec::new();
    for (i, entry) in orders.iter().enumerate() {
        let found = if entry.is_object() {
            validate::validate(entry, &rules)
        } else {
            vec!["must be an object".to_owned()]
        };
        if found.is_empty() {
            let (order_id, search_ids) = engine::create(&state, &tenant, entry);
            let ids = json!({
                "verificationOrderId": format!("ord_{order_id}"),
                "searchIds": search_ids.iter().map(|s| format!("search_{s}")).collect::<Vec<_>>(),
            });
            results.push(json!({ "index": i, "success": true, "order": ids }));
            created.push(ids);
        } else {
            problems.extend(found.iter().map(|m| {
                if entry.is_object() {
                    format!("orders.{i}.{m}")
                } else {
                    format!("orders.{i} {m}")
                }
            }));
            results.push(json!({ "index": i, "success": false, "message": found }));
        }
    }
    if !problems.is_empty() {
        let mut response = json!({
            "statusCode": 400, "message": problems, "error": "Bad Request",
            "ordersCreated": created.len(), "results": results,
        });
        if created.is_empty() {
            response["note"] = json!("No order of this batch was created");
        } else {
            response["note"] = json!("Batches are not atomic: the valid orders were created");
        }
        return (StatusCode::BAD_REQUEST, Json(response)).into_response();
    }
    (
        StatusCode::CREATED,
        Json(json!({
            "success": true,
            "batchId": format!("batch_{}", uuid::Uuid::new_v4()),
            "ordersCreated": created.len(),
            "orders": created,
        })),
    )
        .into_response()
}

#[derive(Deserialize)]
pub(super) struct Page {
    page: Option<String>,
    limit: Option<String>,
}

/// A positive integer query value, or `default` when absent or unreadable (a placeholder
/// does not validate).
fn positive(v: Option<&str>, default: u64) -> u64 {
    v.and_then(|v| v.parse().ok())
        .filter(|v| *v >= 1)
        .unwrap_or(default)
}

pub(super) async fn list_batches(_tenant: Tenant, Query(q): Query<Page>) -> Response {
    let page = positive(q.page.as_deref(), 1);
    let limit = positive(q.limit.as_deref(), 10);
    Json(json!({
        "batches": [],
        "pagination": { "page": page, "limit": limit, "total": 0, "totalPages": 0, "hasNext": false, "hasPrev": false },
        "message": NOT_TRACKED,
        "note": "Use individual order endpoints to track order status",
    }))
    .into_response()
}

pub(super) async fn get_batch(_tenant: Tenant, Path(id): Path<String>) -> Response {
    Json(json!({
        "batchId": id,
        "message": NOT_TRACKED,
        "note": "Use individual order endpoints to track order status",
    }))
    .into_response()
}

pub(super) async fn delete_batch(_tenant: Tenant, Path(id): Path<String>) -> Response {
    Json(json!({
        "success": false,
        "batchId": id,
        "message": "Batch deletion not yet implemented - orders are processed individually",
        "note": "Use individual order DELETE endpoints to cancel specific orders",
    }))
    .into_response()
}
