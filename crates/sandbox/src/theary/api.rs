//! The emulated Theary API: create an order (validated as Theary documents it, then handed
//! to the engine), list and read orders and their searches in Theary's read models, cancel an
//! order, the events stub, batches (`batch`), inbound notifications (`inbound`) and the
//! release-form upload (`files`). Every route is faulted and journalled by `common`, and every
//! order route needs a bearer token (`auth`); one tenant never sees another's orders.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{token, Tenant};
use super::error::{nest_error, rejection};
use super::state::{bare, now_iso, order_json, search_json, ThearyState};
use super::validate;
use super::{batch, engine, files, inbound};
use crate::common;

/// The API routes (token endpoint and health included), behind the fault and journal layer.
pub(super) fn routes(state: &ThearyState) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route(
            "/health",
            get(|| async { Json(json!({ "success": true, "image": "verification-api:sandbox" })) }),
        )
        .route(
            "/background-check/v1/orders",
            post(create_order).get(list_orders),
        )
        .route(
            "/background-check/v1/orders/{id}",
            get(get_order).delete(cancel_order),
        )
        .route(
            "/background-check/v1/orders/{id}/searches",
            get(list_searches),
        )
        .route(
            "/background-check/v1/orders/{id}/searches/{search_id}",
            get(get_search),
        )
        .route("/background-check/v1/orders/{id}/events", get(events_stub))
        .route(
            "/background-check/v1/batches",
            post(batch::create_batch).get(batch::list_batches),
        )
        .route(
            "/background-check/v1/batches/{id}",
            get(batch::get_batch).delete(batch::delete_batch),
        )
        .route(
            "/background-check/v1/inbound/notifications",
            post(inbound::receive),
        )
        .route(
            "/files/release-form/generate-upload-url",
            get(files::generate_upload_url),
        )
        .route("/__storage/{bucket}/{*object}", put(files::put_object))
        .fallback(|| async {
            nest_error(
                StatusCode::NOT_FOUND,
                json!("Cannot find the requested route"),
            )
        })
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.inst.clone(),
            common::fault_and_journal,
        ))
        .with_state(state.clone())
}

async fn create_order(
    State(state): State<ThearyState>,
    Tenant(tenant): Tenant,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(b)) => b,
        Err(r) => return rejection(r),
    };
    let problems = validate::validate(&body, &state.rules());
    if !problems.is_empty() {
        return nest_error(StatusCode::BAD_REQUEST, json!(problems));
    }
    let (order_id, search_ids) = engine::create(&state, &tenant, &body);
    (
        StatusCode::CREATED,
        Json(json!({
            "verificationOrderId": format!("ord_{order_id}"),
            "searchIds": search_ids.iter().map(|s| format!("search_{s}")).collect::<Vec<_>>(),
        })),
    )
        .into_response()
}

fn order_not_found(id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "Order not found", "orderId": id })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct Page {
    page: Option<String>,
    limit: Option<String>,
}

async fn list_orders(
    State(state): State<ThearyState>,
    Tenant(tenant): Tenant,
    Query(q): Query<Page>,
) -> Response {
    let page = q
        .page
        .as_deref()
        .map_or(Some(1), |p| p.parse::<usize>().ok().filter(|p| *p >= 1));
    let limit = q.limit.as_deref().map_or(Some(10), |l| {
        l.parse::<usize>().ok().filter(|l| (1..=100).contains(l))
    });
    let (Some(page), Some(limit)) = (page, limit) else {
        return nest_error(
            StatusCode::BAD_REQUEST,
            json!([
                "page must be a positive integer",
                "limit must be between 1 and 100"
            ]),
        );
    };
    let orders = state.orders(&tenant);
    let total = orders.len();
    let data: Vec<Value> = orders
        .into_iter()
        .skip((page - 1) * limit)
        .take(limit)
        .collect();
    let total_pages = total.div_ceil(limit);
    Json(json!({
        "data": data,
        "pagination": { "page": page, "limit": limit, "total": total, "totalPages": total_pages, "hasNext": page < total_pages, "hasPrev": page > 1 },
    }))
    .into_response()
}

async fn get_order(
    State(state): State<ThearyState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Response {
    let data = state.lock();
    match data.orders.get(bare(&id)).filter(|o| o.tenant == tenant) {
        Some(o) => Json(order_json(&data, o)).into_response(),
        None => order_not_found(&id),
    }
}

async fn list_searches(
    State(state): State<ThearyState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Response {
    let data = state.lock();
    match data.orders.get(bare(&id)).filter(|o| o.tenant == tenant) {
        Some(o) => Json(
            o.search_ids
                .iter()
                .filter_map(|s| data.searches.get(s))
                .map(|s| search_json(s, false))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        None => order_not_found(&id),
    }
}

async fn get_search(
    State(state): State<ThearyState>,
    Tenant(tenant): Tenant,
    Path((id, search_id)): Path<(String, String)>,
) -> Response {
    let data = state.lock();
    let Some(order) = data.orders.get(bare(&id)).filter(|o| o.tenant == tenant) else {
        return order_not_found(&id);
    };
    match data
        .searches
        .get(bare(&search_id))
        .filter(|s| s.order_id == order.id)
    {
        Some(s) => Json(search_json(s, true)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "Search not found", "orderId": id, "searchId": search_id })),
        )
            .into_response(),
    }
}

async fn cancel_order(
    State(state): State<ThearyState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Response {
    match engine::cancel(&state, &tenant, bare(&id)) {
        Some(affected) => Json(json!({ "orderId": id, "status": "cancelled", "deletedAt": now_iso(), "affectedSearches": affected })).into_response(),
        None => order_not_found(&id),
    }
}

async fn events_stub(_tenant: Tenant, Path(id): Path<String>) -> Response {
    Json(json!({ "orderId": id, "events": [], "message": "Events system not yet implemented" }))
        .into_response()
}
