//! `POST /webhooks/theary/{tenant}[/{search type}]`: Theary's per-search events.
//!
//! Order of work, so nothing unverified reaches state: find the search (from
//! `X-External-Search-Id`, our id, or else from the body's ids, read but not stored), verify
//! the raw body against that order's secret, parse it, store it once under its event id, and
//! only then answer 200. A duplicate is answered 200 and changes nothing; so is a replay, the
//! same signed body for the same search under a fresh event id (Theary's signature covers
//! neither an id nor a time, so the body's digest, keyed with the order's secret, is the
//! replay key). Errors: unknown tenant and unknown search alike 404 `not_found` (so the
//! answer does not tell which tenants exist), bad or missing signature 401, oversized body
//! 413, malformed JSON 400.
//!
//! A refused request is unauthenticated: what it leaves behind is bounded. The tenant's error
//! log gets a fixed-size summary (`webhook.refused`, the status and our own code, never the
//! caller's headers or body), at most `[http].refused_log_per_minute` per tenant, kept
//! `[http].refused_log_hours`; the rest are counted in `/metrics` only. Bodies are never
//! logged: they carry candidate data.

use std::collections::BTreeSet;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use theary::signature;

use super::ApiError;
use crate::crypto::{Keyring, Place};
use crate::domain::events;
use crate::domain::ids::{TenantKey, ThearySearchId};
use crate::store::{EventRecord, Store, WebhookTarget};
use crate::time::now_ms;

/// Largest webhook body accepted. Theary's events are a few kilobytes.
pub const MAX_BODY: usize = 256 * 1024;

/// What the receiver needs.
#[derive(Clone, Debug)]
pub struct WebhookState {
    pub store: Store,
    /// Opens the orders' webhook secrets; seals what is stored.
    pub keyring: Keyring,
    /// Keys of the tenants this service serves.
    pub tenants: Arc<BTreeSet<TenantKey>>,
    /// How long a search may stay quiet before the reconciler asks Theary about it.
    pub reconcile_after: std::time::Duration,
    /// Counters for `/metrics`.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Woken when an event moves a search (PageUp is then owed a new document).
    pub on_change: Option<Arc<tokio::sync::Notify>>,
    /// Told of each delivery that verified or failed verification (health issues).
    pub health: Option<Arc<crate::health::Monitor>>,
    /// How many refusals each tenant's error log takes per minute.
    pub refused_log: Arc<RefusedLog>,
}

/// The per-tenant rate limit on logging refused, unauthenticated requests: at most `per_minute`
/// rows per tenant in each clock minute (per replica).
#[derive(Debug)]
pub struct RefusedLog {
    per_minute: u64,
    windows: std::sync::Mutex<std::collections::HashMap<TenantKey, (i64, u64)>>,
}

impl RefusedLog {
    pub fn new(per_minute: u64) -> RefusedLog {
        RefusedLog {
            per_minute,
            windows: std::sync::Mutex::default(),
        }
    }

    /// Whether a refusal for `tenant` at `now` (ms) may be logged.
    pub fn admit(&self, tenant: &TenantKey, now: i64) -> bool {
        let minute = now.div_euclid(60_000);
        let Ok(mut w) = self.windows.lock() else {
            return false;
        };
        let slot = w.entry(tenant.clone()).or_insert((minute, 0));
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        slot.1 += 1;
        slot.1 <= self.per_minute
    }
}

/// The receiver's routes.
pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route("/webhooks/theary/{tenant}", post(receive))
        .route(
            "/webhooks/theary/{tenant}/{search_type}",
            post(receive_typed),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// What the receiver answers an event it stored (or had stored before).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Received {
    /// Always true.
    pub received: bool,
    /// The same event (or the same signed body) was received before; nothing changed.
    pub duplicate: bool,
}

/// The receiver's error answer (its own shape, older than the admin API's).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookError {
    /// `not_found`, `invalid_signature`, `malformed_json`, `malformed_event`, `no_search`,
    /// `search_mismatch`, `body_too_large`.
    pub code: String,
    pub message: String,
}

/// A Theary event for a search of a type (the type is not read: the search says it).
#[utoipa::path(
    post,
    path = "/webhooks/theary/{tenant}/{search_type}",
    tag = "webhooks",
    security(()),
    params(
        ("tenant" = String, Path, description = "The tenant's key"),
        ("search_type" = String, Path, description = "Theary's search type (not read)"),
        ("X-Webhook-Signature" = Option<String>, Header, description = "`sha256=` and the hex HMAC-SHA256 of the body under the order's secret"),
        ("X-Event-Id" = Option<String>, Header, description = "Theary's event id (the duplicate key)"),
        ("X-External-Search-Id" = Option<String>, Header, description = "Our search id"),
    ),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "Theary's event: `event`, `occurredAt`, `data` with `externalSearchId` or `searchId`"),
    responses(
        (status = 200, description = "Stored (or a duplicate)", body = Received),
        (status = 400, description = "Not an event, or no search named", body = WebhookError),
        (status = 401, description = "Missing or wrong signature", body = WebhookError),
        (status = 404, description = "No such tenant or search", body = WebhookError),
        (status = 413, description = "Body over 256 KiB", body = WebhookError),
    )
)]
async fn receive_typed(
    state: State<WebhookState>,
    Path((tenant, _search_type)): Path<(TenantKey, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Received>, ApiError> {
    receive(state, Path(tenant), headers, body).await
}

/// Ids in an event's data, read only to find the search (and so its secret), and its type,
/// read only to judge whether a delivery that fails verification is plausibly Theary's.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    event: Option<String>,
    data: ProbeData,
}

/// Event types Theary sends.
const EVENT_TYPES: [&str; 3] = [
    "verification.completed",
    "verification.action_required",
    "verification.notification",
];

/// Whether a delivery that reached verification looks like Theary's own, as well as can be
/// told without the signature: a well-formed signature header and an event id, a body of a
/// known event type, and Theary's id of the search (which no link we publish shows). Only
/// such deliveries failing count toward the "Theary's deliveries are failing verification"
/// issue; anything else is unverified traffic, only counted (a stranger who read a search
/// id in a report link cannot open an issue or fire an alert).
fn plausible(headers: &HeaderMap, probe: Option<&Probe>, target: &WebhookTarget) -> bool {
    let signature_shaped = header(headers, signature::HEADER)
        .and_then(|v| v.strip_prefix("sha256="))
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    let Some(probe) = probe else {
        return false;
    };
    let known_type = probe
        .event
        .as_deref()
        .is_some_and(|t| EVENT_TYPES.contains(&t));
    let names_theirs = match (&target.theary_search_id, &probe.data.search_id) {
        (Some(ours), Some(given)) => ThearySearchId::new(given.as_str()) == *ours,
        _ => false,
    };
    signature_shaped && header(headers, "x-event-id").is_some() && known_type && names_theirs
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProbeData {
    #[serde(default)]
    external_search_id: Option<String>,
    #[serde(default)]
    search_id: Option<String>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A Theary event for one search, verified against the order's secret before anything is read.
#[utoipa::path(
    post,
    path = "/webhooks/theary/{tenant}",
    tag = "webhooks",
    security(()),
    params(
        ("tenant" = String, Path, description = "The tenant's key"),
        ("X-Webhook-Signature" = Option<String>, Header, description = "`sha256=` and the hex HMAC-SHA256 of the body under the order's secret"),
        ("X-Event-Id" = Option<String>, Header, description = "Theary's event id (the duplicate key)"),
        ("X-External-Search-Id" = Option<String>, Header, description = "Our search id"),
    ),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "Theary's event: `event`, `occurredAt`, `data` with `externalSearchId` or `searchId`"),
    responses(
        (status = 200, description = "Stored (or a duplicate)", body = Received),
        (status = 400, description = "Not an event, or no search named", body = WebhookError),
        (status = 401, description = "Missing or wrong signature", body = WebhookError),
        (status = 404, description = "No such tenant or search", body = WebhookError),
        (status = 413, description = "Body over 256 KiB", body = WebhookError),
    )
)]
async fn receive(
    State(state): State<WebhookState>,
    Path(tenant): Path<TenantKey>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Received>, ApiError> {
    let started = std::time::Instant::now();
    let mut plausible = false;
    let result = receive_checked(&state, &tenant, &headers, body, &mut plausible).await;
    if let Some(m) = &state.metrics {
        let code = result.as_ref().map_or_else(|e| e.code, |_| "ok");
        m.webhook_handled(code, started.elapsed());
    }
    let unauthorized = matches!(&result, Err(e) if e.status == StatusCode::UNAUTHORIZED);
    if let Some(h) = &state.health {
        if state.tenants.contains(&tenant) {
            match &result {
                Ok(_) => h.record_webhook(tenant.as_str(), true, now_ms()),
                Err(_) if unauthorized && plausible => {
                    h.record_webhook(tenant.as_str(), false, now_ms());
                }
                Err(_) => {}
            }
        }
    }
    if unauthorized && !plausible {
        // Unverified traffic: a counter and a low-severity note, never an issue.
        tracing::info!(tenant = %tenant, "unverified webhook traffic (not plausibly Theary's) refused");
        if let Some(m) = &state.metrics {
            let label = if state.tenants.contains(&tenant) {
                tenant.as_str()
            } else {
                "unknown"
            };
            m.webhook_unverified(label);
        }
    }
    if let (Err(e), Some(m)) = (&result, &state.metrics) {
        let label = if state.tenants.contains(&tenant) {
            tenant.as_str()
        } else {
            "unknown"
        };
        m.webhook_event(label, "unknown", e.code);
    }
    // A refused delivery goes to the tenant's error log (an unknown tenant has none) as a
    // fixed-size summary of our own words, rate-limited: the caller is unauthenticated.
    if let Err(e) = &result {
        let now = now_ms();
        if state.tenants.contains(&tenant)
            && e.status != StatusCode::INTERNAL_SERVER_ERROR
            && state.refused_log.admit(&tenant, now)
        {
            let entry = crate::store::ErrorEntry {
                at: now,
                tenant: tenant.clone(),
                operation: "webhook.refused".to_owned(),
                http_status: Some(i64::from(e.status.as_u16())),
                message: e.code.to_owned(),
                correlation: uuid::Uuid::new_v4().to_string(),
                check_id: None,
            };
            if let Err(err) = state.store.log_refused(&entry).await {
                tracing::error!(error = %crate::error::error_chain(&err), "error log unavailable");
            }
        }
    }
    result
}

/// The receiver's work; sets `plausible` when a delivery reached verification looking like
/// Theary's (see [`plausible`]).
async fn receive_checked(
    state: &WebhookState,
    tenant: &TenantKey,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    plausible_out: &mut bool,
) -> Result<Json<Received>, ApiError> {
    let tenant = tenant.clone();
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("webhook bodies are limited to {MAX_BODY} bytes"),
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "the request body could not be read",
            )
        }
    })?;
    let probe = serde_json::from_slice::<Probe>(&body).ok();
    let candidates: Vec<String> = header(headers, "x-external-search-id")
        .map(str::to_owned)
        .into_iter()
        .chain(probe.iter().flat_map(|p| {
            p.data
                .external_search_id
                .iter()
                .chain(p.data.search_id.iter())
                .cloned()
        }))
        .collect();
    if candidates.is_empty() {
        return Err(match probe {
            None => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "the body is not a webhook event in JSON",
            ),
            Some(_) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "no_search",
                "the event names no search",
            ),
        });
    }
    // An unknown tenant answers as an unknown search does: same status, same body.
    let mut target = None;
    let known_tenant = state.tenants.contains(&tenant);
    for candidate in candidates.iter().filter(|_| known_tenant) {
        if let Some(t) = state
            .store
            .webhook_target(&tenant, candidate)
            .await
            .map_err(|e| ApiError::internal(&e))?
        {
            target = Some(t);
            break;
        }
    }
    let Some(target) = target else {
        tracing::info!(
            known_tenant,
            "webhook for an unknown tenant or search refused"
        );
        return Err(not_found());
    };
    *plausible_out = plausible(headers, probe.as_ref(), &target);
    let secret = state
        .keyring
        .open(
            Place::webhook_secret(&tenant, &target.check_id),
            &target.secret,
        )
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let verified = signature::verify(&secret, &body, header(headers, signature::HEADER)).map_err(|e| {
        tracing::warn!(tenant = %tenant, search = %target.search_id, reason = %e, "webhook signature refused");
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string())
    })?;
    let event = verified.parse().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_event",
            format!("the event could not be read: {e}"),
        )
    })?;
    if let Some(ext) = event.external_search_id() {
        if target.search_id != ext
            && candidates
                .first()
                .is_some_and(|c| target.search_id == c.as_str())
        {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "search_mismatch",
                "the event's externalSearchId does not match its header",
            ));
        }
    }
    // The replay key: the body's digest keyed with the order's secret (not the bare body's
    // hash, which would let anyone holding a guess of the body confirm it).
    let replay_key = {
        let mut key = zeroize::Zeroizing::new(b"checkbridge.replay\0".to_vec());
        key.extend_from_slice(&secret);
        signature::sign(&key, &body)
    };
    // Theary sends X-Event-Id for deduplication; without it, identical redeliveries still
    // dedupe on a digest of the body.
    let event_id = match header(headers, "x-event-id") {
        Some(id) => id.to_owned(),
        None => format!("sha256:{}", hex::encode(Sha256::digest(&body))),
    };
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_event",
            "the body is not UTF-8 text",
        )
    })?;
    // Candidate data is stored sealed, bound to its row.
    let mut update = events::update_for_event(&event.event, text);
    if let Some(u) = update.as_mut() {
        if let Some(result) = u.result_json.take() {
            let place = Place::search_result(&tenant, &target.search_id);
            u.result_json = Some(
                state
                    .keyring
                    .seal(place, result.as_bytes())
                    .await
                    .map_err(|e| ApiError::internal(&e))?,
            );
        }
    }
    let sealed_body = state
        .keyring
        .seal(Place::event_body(&tenant, &event_id), text.as_bytes())
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let event_type = event.event_type();
    let now = now_ms();
    let theary_search_id = event.search_id().map(ThearySearchId::new);
    let record = EventRecord {
        event_id: &event_id,
        tenant: &tenant,
        search_id: &target.search_id,
        check_id: &target.check_id,
        event_type: event_type.as_str(),
        body: &sealed_body,
        theary_search_id: theary_search_id.as_ref(),
        body_digest: Some(&replay_key),
    };
    let reconcile_at =
        now.saturating_add(i64::try_from(state.reconcile_after.as_millis()).unwrap_or(i64::MAX));
    let new = state
        .store
        .record_event(&record, update.as_ref(), now, reconcile_at)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    if let Some(m) = &state.metrics {
        let result = if new { "stored" } else { "duplicate" };
        m.webhook_event(tenant.as_str(), event_type.as_str(), result);
    }
    if new && update.is_some() {
        if let Some(wake) = &state.on_change {
            wake.notify_one();
        }
    }
    tracing::info!(tenant = %tenant, search = %target.search_id, event = %event.event_type(), duplicate = !new, "webhook event stored");
    Ok(Json(Received {
        received: true,
        duplicate: !new,
    }))
}

/// The answer for an unknown tenant and an unknown search alike.
fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such tenant or search",
    )
}

#[cfg(test)]
mod tests;
