//! The admin HTTP API, `/api/v1`: what an operator does with `checkbridge checks`, `tenants`,
//! `logs` and `users list`, for automation. Its OpenAPI 3.1 description is generated from
//! these handlers (`utoipa`) and served at `/api/v1/openapi.json`, with the webhook receiver.
//!
//! Every request but the description's carries `Authorization: Bearer cbt_...` (a token
//! made with `checkbridge tokens create`). A missing, unknown or revoked token is a 401; a
//! `read` token asking to retry or cancel is a 403. A token made for one tenant sees that
//! tenant only, as a reader does on the pages: another tenant, or another tenant's check,
//! is the same 404 as one that does not exist. A token of every tenant sees them all, as an
//! operator does. Each request a token makes is written to the access record (actor
//! `token:<id>`, action `api_request`, the method, path and status as its detail), and the
//! token's `last_used_at` is set, in one transaction, after the answer is made.
//!
//! Every error has one shape, `{"error": {"code": "...", "message": "..."}}`: bad query
//! parameters are a 400 naming the parameter (never a 500), bodies over [`MAX_BODY`] a 413.
//! The handlers call the same library functions as the command line (`admin::checks`,
//! `admin::errorlog`, `admin::tokens`); none reaches the store without a tenant it checked.

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRef, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use theary::ThearyClient;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::pages::{Tenants, Views};
use crate::admin::checks::{self, CheckDetail, CheckItem};
use crate::admin::tokens::{self, TokenText, ALL_TENANTS};
use crate::config::TenantConfig;
use crate::domain::check::ApiScope;
use crate::domain::ids::TenantKey;
use crate::store::{ApiTokenListing, Store, StoreError};
use crate::time::now_ms;

/// Where the API lives.
pub const BASE: &str = "/api/v1";

/// Largest request body the API reads (none of its operations takes one yet).
pub const MAX_BODY: usize = 16 * 1024;

/// Most checks one list answers.
const MAX_LIMIT: i64 = 1_000;

/// What the API needs beyond the store and the tenants: Theary's client, to cancel orders.
#[derive(Clone)]
pub struct ApiClients {
    pub theary: ThearyClient,
}

/// The API's routes (the description's without a token, the rest behind one), tokens
/// looked up in `store`.
pub fn router<S>(store: Store) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Store: FromRef<S>,
    Views: FromRef<S>,
    ApiClients: FromRef<S>,
{
    let authed = Router::new()
        .route("/api/v1/tenants", get(list_tenants))
        .route("/api/v1/tenants/{tenant}/checks", get(list_checks))
        .route("/api/v1/tenants/{tenant}/checks/{check}", get(show_check))
        .route(
            "/api/v1/tenants/{tenant}/checks/{check}/retry",
            post(retry_check),
        )
        .route(
            "/api/v1/tenants/{tenant}/checks/{check}/cancel",
            post(cancel_check),
        )
        .route("/api/v1/tenants/{tenant}/errors", get(export_errors))
        .route("/api/v1/tenants/{tenant}/readers", get(list_readers))
        .route_layer(axum::middleware::from_fn_with_state(store, authenticate));
    Router::new()
        .route("/api/v1/openapi.json", get(openapi_json))
        // Anything else under the prefix (an empty segment, a typo) is the API's own 404.
        .route(
            "/api/v1/{*rest}",
            axum::routing::any(|| async {
                Problem::new(StatusCode::NOT_FOUND, "not_found", "no such API route")
            }),
        )
        .merge(authed)
        .route_layer(axum::middleware::from_fn(cap_body))
}

/// The description as served.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi_json() -> Response {
    match openapi().to_json() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the OpenAPI description does not serialise");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
            .into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Errors

/// The one error shape of the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable code for programs, a sentence for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `unauthorized`, `forbidden`, `not_found`, `bad_request`, `body_too_large`,
    /// `theary_unavailable`, `unavailable`, `internal`.
    pub code: String,
    pub message: String,
}

/// An error answer of the API.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Problem {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// The one answer for what does not exist and for what the token may not see.
    fn not_found() -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such tenant or check",
        )
    }

    /// A database failure: logged here with its cause, answered without it.
    fn store(e: &StoreError) -> Problem {
        tracing::error!(error = %crate::error::error_chain(e), "api: database unavailable");
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the database is unavailable; try again shortly",
        )
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        Problem::store(&e)
    }
}

impl From<QueryRejection> for Problem {
    fn from(r: QueryRejection) -> Self {
        Problem::bad_request(format!("query parameters: {}", r.body_text()))
    }
}

impl From<PathRejection> for Problem {
    fn from(r: PathRejection) -> Self {
        Problem::bad_request(format!("path: {}", r.body_text()))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut r = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

// ---------------------------------------------------------------------------------------
// Authentication, the access record, the body cap

/// The token that made the request (in the request's extensions once authenticated).
#[derive(Debug, Clone)]
pub struct Caller(pub ApiTokenListing);

impl Caller {
    /// A 403 unless the token's scope allows `needed`.
    fn require(&self, needed: ApiScope) -> Result<(), Problem> {
        if self.0.scope.allows(needed) {
            Ok(())
        } else {
            Err(Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this needs a token of scope {needed}; this one is {}",
                    self.0.scope
                ),
            ))
        }
    }
}

/// What a request was about, set by its handler, written to the access record.
#[derive(Debug, Clone)]
struct Touched {
    tenant: TenantKey,
    check: Option<String>,
}

/// Authenticates the bearer token, runs the request, and records the use.
async fn authenticate(State(store): State<Store>, mut req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| TokenText::new(v.trim()));
    let Some(presented) = presented else {
        return Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <token> (checkbridge tokens create)",
        )
        .into_response();
    };
    let token = match tokens::authenticate(&store, &presented).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the token is unknown or revoked",
            )
            .into_response()
        }
        Err(e) => return Problem::store(&e).into_response(),
    };
    drop(presented);
    let detail_head = format!("{} {}", req.method(), req.uri().path());
    req.extensions_mut().insert(Caller(token.clone()));
    let response = next.run(req).await;
    // A tenant's token is recorded in its tenant's record whatever it asked; an
    // every-tenant token in the record of the tenant the request was about, if any.
    let touched = response.extensions().get::<Touched>();
    let tenant = if token.tenant.as_str() == ALL_TENANTS {
        touched.map_or_else(|| TenantKey::new(ALL_TENANTS), |t| t.tenant.clone())
    } else {
        token.tenant.clone()
    };
    let check = touched
        .and_then(|t| t.check.clone())
        .unwrap_or_else(|| "*".to_owned());
    let detail = format!("{detail_head} {}", response.status().as_u16());
    if let Err(e) = store
        .record_api_use(&token.id, &tenant, &check, &detail, now_ms())
        .await
    {
        // The answer is made; an unrecorded use must not pass silently, nor be answered
        // as a success.
        return Problem::store(&e).into_response();
    }
    response
}

/// Refuses request bodies over [`MAX_BODY`] with the API's 413.
async fn cap_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => {
            let mut r = Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("API request bodies are limited to {MAX_BODY} bytes"),
            )
            .into_response();
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            r
        }
    }
}

/// `tenant` if it is configured and the caller may see it; else the one 404.
fn visible<'a>(
    tenants: &'a Tenants,
    caller: &Caller,
    tenant: &str,
) -> Result<(TenantKey, &'a TenantConfig), Problem> {
    let key = TenantKey::from(tenant);
    match tenants.get(&key) {
        Some(cfg) if caller.0.sees(&key) => Ok((key, cfg)),
        _ => Err(Problem::not_found()),
    }
}

/// `r` marked with what it was about, for the access record.
fn touched(r: impl IntoResponse, tenant: &TenantKey, check: Option<&str>) -> Response {
    let mut r = r.into_response();
    r.extensions_mut().insert(Touched {
        tenant: tenant.clone(),
        check: check.map(str::to_owned),
    });
    r
}

/// A check id as a path gives it: our UUID or PageUp's id, printable text only (anything
/// else cannot name a check, and is the same 404).
fn check_id(text: &str) -> Result<&str, Problem> {
    if text.is_empty() || text.len() > 200 || text.chars().any(char::is_control) {
        return Err(Problem::not_found());
    }
    Ok(text)
}

fn parse_bool(name: &str, text: Option<&str>) -> Result<bool, Problem> {
    match text {
        None => Ok(false),
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => Err(Problem::bad_request(format!(
            "{name} {other:?}: use true or false"
        ))),
    }
}

fn parse_limit(text: Option<&str>, default: i64, max: i64) -> Result<i64, Problem> {
    match text {
        None => Ok(default),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                Problem::bad_request(format!("limit {t:?}: use a number from 1 to {max}"))
            }),
    }
}

fn parse_since(text: Option<&str>, default: &str) -> Result<i64, Problem> {
    let text = text.unwrap_or(default);
    crate::time::parse_window(text)
        .map(|w| now_ms().saturating_sub(w))
        .ok_or_else(|| {
            Problem::bad_request(format!(
                "since {text:?}: use a number and m, h or d, e.g. 7d"
            ))
        })
}

// ---------------------------------------------------------------------------------------
// Tenants

/// An open health issue of a tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueItem {
    pub kind: String,
    pub subject: String,
    pub summary: String,
    /// RFC 3339, UTC.
    pub opened_at: Option<String>,
}

/// A tenant with its health and owed work.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantItem {
    pub tenant: String,
    pub name: Option<String>,
    pub enabled: bool,
    /// No open health issue.
    pub healthy: bool,
    pub issues: Vec<IssueItem>,
    pub orders_owed: i64,
    pub pushes_owed: i64,
    /// When PageUp is next polled (RFC 3339); null if never polled.
    pub next_poll_at: Option<String>,
    pub last_poll_error: Option<String>,
}

/// The tenants the token sees, with their health.
#[utoipa::path(
    get,
    path = "/api/v1/tenants",
    tag = "tenants",
    responses(
        (status = 200, description = "The tenants the token sees", body = Vec<TenantItem>),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
async fn list_tenants(
    State(store): State<Store>,
    State(views): State<Views>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, Problem> {
    let tenants = views.tenants();
    let issues = store.open_issues().await?;
    let mut rows = Vec::new();
    for key in tenants.keys().filter(|k| caller.0.sees(k)) {
        let cfg = tenants.get(key);
        let owed = store.owed(Some(key)).await?;
        let poll = store.poll_state(key).await?;
        let mine: Vec<IssueItem> = issues
            .iter()
            .filter(|i| &i.tenant == key)
            .map(|i| IssueItem {
                kind: i.kind.clone(),
                subject: i.subject.clone(),
                summary: i.summary.clone(),
                opened_at: checks::when_json(i.opened_at),
            })
            .collect();
        rows.push(TenantItem {
            tenant: key.to_string(),
            name: cfg.and_then(|c| c.name.clone()),
            enabled: cfg.is_some_and(|c| c.enabled),
            healthy: mine.is_empty(),
            issues: mine,
            orders_owed: owed.orders,
            pushes_owed: owed.pushes,
            next_poll_at: poll
                .as_ref()
                .and_then(|p| checks::when_json(p.next_poll_at)),
            last_poll_error: poll.and_then(|p| p.last_error),
        });
    }
    Ok(Json(rows).into_response())
}

// ---------------------------------------------------------------------------------------
// Checks

/// Filters of a check list, all optional (as `checkbridge checks list` takes them).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChecksQuery {
    /// Only checks in this phase.
    #[param(value_type = Option<String>, pattern = "^(claimed|ordered|failed|cancelled)$")]
    pub phase: Option<String>,
    /// Only checks claimed within this period: a number and m, h or d (`30m`, `24h`, `7d`).
    #[param(value_type = Option<String>, pattern = "^[1-9][0-9]{0,5}[mhd]$")]
    pub since: Option<String>,
    /// Only checks owing an order or a PageUp update.
    #[param(value_type = Option<bool>)]
    pub owing: Option<String>,
    /// Only checks whose last order or PageUp update failed.
    #[param(value_type = Option<bool>)]
    pub errors: Option<String>,
    /// At most this many, newest first (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// A tenant's checks, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/checks",
    tag = "checks",
    params(("tenant" = String, Path, description = "The tenant's key"), ChecksQuery),
    responses(
        (status = 200, description = "The checks, newest first", body = Vec<CheckItem>),
        (status = 400, description = "A query parameter is malformed", body = ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 404, description = "No such tenant, or not the token's", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
async fn list_checks(
    State(store): State<Store>,
    State(views): State<Views>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ChecksQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Path(tenant) = path?;
    let (key, _) = visible(views.tenants(), &caller, &tenant)?;
    let Query(q) = query?;
    let filter = checks::filter(
        &key,
        q.phase.as_deref(),
        q.since.as_deref(),
        parse_bool("owing", q.owing.as_deref())?,
        parse_bool("errors", q.errors.as_deref())?,
    )
    .map_err(|e| Problem::bad_request(e.to_string()))?;
    let limit = parse_limit(q.limit.as_deref(), 50, MAX_LIMIT)?;
    let found = checks::list(&store, &filter, limit).await?;
    Ok(touched(Json(found), &key, None))
}

/// One check (our id or PageUp's) in full: state, searches, access record, errors.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/checks/{check}",
    tag = "checks",
    params(
        ("tenant" = String, Path, description = "The tenant's key"),
        ("check" = String, Path, description = "Our check id or PageUp's"),
    ),
    responses(
        (status = 200, description = "The check", body = CheckDetail),
        (status = 400, description = "The path is malformed", body = ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 404, description = "No such tenant or check, or not the token's", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
async fn show_check(
    State(store): State<Store>,
    State(views): State<Views>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, Problem> {
    let Path((tenant, check)) = path?;
    let (key, cfg) = visible(views.tenants(), &caller, &tenant)?;
    let id = check_id(&check)?;
    match checks::detail(&store, views.links(), cfg, &key, id).await? {
        Some(d) => {
            let check = d.check.clone();
            Ok(touched(Json(d), &key, Some(&check)))
        }
        None => Ok(touched(Problem::not_found(), &key, None)),
    }
}

/// What a retry or a cancel did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResult {
    pub check: String,
    pub pageup_id: String,
    /// `due_now` (retry: owed work is due now), `cancelled`, or `already_final` (cancel:
    /// nothing changed).
    pub outcome: String,
    /// The check's phase before the action.
    pub phase: String,
}

/// Makes a check's owed work due now (its order if not placed, its PageUp document).
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/checks/{check}/retry",
    tag = "checks",
    params(
        ("tenant" = String, Path, description = "The tenant's key"),
        ("check" = String, Path, description = "Our check id or PageUp's"),
    ),
    responses(
        (status = 200, description = "Owed work is due now", body = ActionResult),
        (status = 400, description = "The path is malformed", body = ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 403, description = "The token's scope is read", body = ErrorBody),
        (status = 404, description = "No such tenant or check, or not the token's", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
async fn retry_check(
    State(store): State<Store>,
    State(views): State<Views>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, Problem> {
    let Path((tenant, check)) = path?;
    let (key, _) = visible(views.tenants(), &caller, &tenant)?;
    caller.require(ApiScope::Operate)?;
    let id = check_id(&check)?;
    let actor = format!("token:{}", caller.0.id);
    match checks::retry(&store, &key, id, &actor).await? {
        Some(c) => Ok(touched(
            Json(ActionResult {
                check: c.id.to_string(),
                pageup_id: c.pageup_id.to_string(),
                outcome: "due_now".into(),
                phase: c.phase.to_string(),
            }),
            &key,
            Some(c.id.as_str()),
        )),
        None => Ok(touched(Problem::not_found(), &key, None)),
    }
}

/// Cancels a check: its order at Theary (if placed), then PageUp is told `cancelled`.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/checks/{check}/cancel",
    tag = "checks",
    params(
        ("tenant" = String, Path, description = "The tenant's key"),
        ("check" = String, Path, description = "Our check id or PageUp's"),
    ),
    responses(
        (status = 200, description = "Cancelled, or already final", body = ActionResult),
        (status = 400, description = "The path is malformed", body = ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 403, description = "The token's scope is read", body = ErrorBody),
        (status = 404, description = "No such tenant or check, or not the token's", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 502, description = "Theary did not cancel the order; nothing changed here", body = ErrorBody),
    )
)]
async fn cancel_check(
    State(store): State<Store>,
    State(views): State<Views>,
    State(clients): State<ApiClients>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, Problem> {
    let Path((tenant, check)) = path?;
    let (key, cfg) = visible(views.tenants(), &caller, &tenant)?;
    caller.require(ApiScope::Operate)?;
    let id = check_id(&check)?;
    let actor = format!("token:{}", caller.0.id);
    let done = match checks::cancel(&store, &clients.theary, cfg, &key, id, &actor).await {
        Ok(Some(done)) => done,
        Ok(None) => return Ok(touched(Problem::not_found(), &key, None)),
        Err(checks::CancelError::Store(e)) => return Err(e.into()),
        Err(e @ checks::CancelError::Theary { .. }) => {
            tracing::warn!(tenant = %key, error = %crate::error::error_chain(&e), "api: cancel refused by Theary");
            return Ok(touched(
                Problem::new(
                    StatusCode::BAD_GATEWAY,
                    "theary_unavailable",
                    "Theary did not cancel the order; nothing changed here, try again",
                ),
                &key,
                None,
            ));
        }
    };
    let (c, outcome) = match done {
        checks::Cancelled::Now(c) => (c, "cancelled"),
        checks::Cancelled::AlreadyFinal(c) => (c, "already_final"),
    };
    Ok(touched(
        Json(ActionResult {
            check: c.id.to_string(),
            pageup_id: c.pageup_id.to_string(),
            outcome: outcome.into(),
            phase: c.phase.to_string(),
        }),
        &key,
        Some(c.id.as_str()),
    ))
}

// ---------------------------------------------------------------------------------------
// The error log

/// Which part of the error log, and how it is written.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ErrorsQuery {
    /// How far back: a number and m, h or d (default `7d`).
    #[param(value_type = Option<String>, pattern = "^[1-9][0-9]{0,5}[mhd]$")]
    pub since: Option<String>,
    /// Only operations starting with this (e.g. `pageup.update`).
    #[param(value_type = Option<String>, max_length = 100)]
    pub operation: Option<String>,
    /// At most this many entries, newest first (default 1000).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    pub limit: Option<String>,
    /// `json` (default: one document), `jsonl` or `csv` (as `checkbridge logs export`
    /// writes them, oldest first).
    #[param(value_type = Option<String>, pattern = "^(json|jsonl|csv)$")]
    pub format: Option<String>,
}

/// One entry of the error log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorItem {
    /// RFC 3339, UTC.
    pub time: Option<String>,
    pub operation: String,
    pub http_status: Option<i64>,
    /// The partner's message (redacted), or our own words for a refused request.
    pub message: String,
    pub correlation_id: String,
    pub check_id: Option<String>,
}

/// A page of the error log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorLog {
    pub tenant: String,
    /// How many entries matched (more than `entries` when the limit cut them).
    pub total: i64,
    /// Newest first.
    pub entries: Vec<ErrorItem>,
}

/// A tenant's error log: failed calls and refused requests, as PageUp support asks for it.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/errors",
    tag = "errors",
    params(("tenant" = String, Path, description = "The tenant's key"), ErrorsQuery),
    responses(
        (status = 200, description = "The error log", content(
            (ErrorLog = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A query parameter is malformed", body = ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 404, description = "No such tenant, or not the token's", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
async fn export_errors(
    State(store): State<Store>,
    State(views): State<Views>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ErrorsQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Path(tenant) = path?;
    let (key, _) = visible(views.tenants(), &caller, &tenant)?;
    let Query(q) = query?;
    let since = parse_since(q.since.as_deref(), "7d")?;
    let limit = parse_limit(q.limit.as_deref(), 1_000, 10_000)?;
    let operation = match q.operation.as_deref() {
        Some(o) if o.chars().count() > 100 || o.chars().any(char::is_control) => {
            return Err(Problem::bad_request(
                "operation: at most 100 printable characters",
            ))
        }
        o => o.filter(|o| !o.is_empty()),
    };
    let format = match q.format.as_deref() {
        None | Some("json") => None,
        Some("jsonl") => Some(crate::admin::errorlog::Format::Jsonl),
        Some("csv") => Some(crate::admin::errorlog::Format::Csv),
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "format {other:?}: use json, jsonl or csv"
            )))
        }
    };
    let (entries, total) = store.recent_errors(&key, since, operation, limit).await?;
    let Some(format) = format else {
        let log = ErrorLog {
            tenant: key.to_string(),
            total,
            entries: entries
                .into_iter()
                .map(|e| ErrorItem {
                    time: checks::when_json(e.at),
                    operation: e.operation,
                    http_status: e.http_status,
                    message: e.message,
                    correlation_id: e.correlation,
                    check_id: e.check_id.map(|c| c.to_string()),
                })
                .collect(),
        };
        return Ok(touched(Json(log), &key, None));
    };
    let mut oldest_first = entries;
    oldest_first.reverse();
    let text = crate::admin::errorlog::render(&oldest_first, format).map_err(|e| {
        tracing::error!(error = %e, "api: error log does not render");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    })?;
    let content_type = match format {
        crate::admin::errorlog::Format::Jsonl => "application/x-ndjson",
        crate::admin::errorlog::Format::Csv => "text/csv; charset=utf-8",
    };
    Ok(touched(
        ([(header::CONTENT_TYPE, content_type)], text),
        &key,
        None,
    ))
}

// ---------------------------------------------------------------------------------------
// Readers

/// A person who may read the tenant's reports (never a password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReaderItem {
    pub username: String,
    pub role: String,
    pub created_at: Option<String>,
    /// Set when sign-in is refused.
    pub disabled_at: Option<String>,
    /// Sessions not yet expired.
    pub sessions: i64,
}

/// The readers of a tenant's reports.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/readers",
    tag = "readers",
    params(("tenant" = String, Path, description = "The tenant's key")),
    responses(
        (status = 200, description = "The tenant's readers, by name", body = Vec<ReaderItem>),
        (status = 400, description = "The path is malformed", body = ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 404, description = "No such tenant, or not the token's", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
async fn list_readers(
    State(store): State<Store>,
    State(views): State<Views>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(tenant) = path?;
    let (key, _) = visible(views.tenants(), &caller, &tenant)?;
    let readers: Vec<ReaderItem> = store
        .list_users(now_ms())
        .await?
        .into_iter()
        .filter(|u| u.tenant == key.as_str())
        .map(|u| ReaderItem {
            username: u.username,
            role: u.role,
            created_at: checks::when_json(u.created_at),
            disabled_at: u.disabled_at.and_then(checks::when_json),
            sessions: u.sessions,
        })
        .collect();
    Ok(touched(Json(readers), &key, None))
}

// ---------------------------------------------------------------------------------------
// The description

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `checkbridge tokens create --scope read|operate`",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "checkbridge",
        description = "The admin API of checkbridge (tenants, checks, the error log, readers; \
                       bearer tokens) and the webhook receiver Theary delivers to (HMAC-signed, \
                       no token). Errors of the admin API are `{\"error\": {\"code\", \"message\"}}`; \
                       the webhook receiver answers `{\"code\", \"message\"}`.",
        version = "1"
    ),
    paths(
        list_tenants,
        list_checks,
        show_check,
        retry_check,
        cancel_check,
        export_errors,
        list_readers,
        super::webhooks::receive,
        super::webhooks::receive_typed,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "tenants", description = "Tenants and their health"),
        (name = "checks", description = "Background checks: list, show, retry, cancel"),
        (name = "errors", description = "The error log"),
        (name = "readers", description = "Who may read a tenant's reports"),
        (name = "webhooks", description = "Theary's signed events (no bearer token)"),
    )
)]
struct ApiDoc;
