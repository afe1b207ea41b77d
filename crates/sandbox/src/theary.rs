//! Emulator of Theary's background-check API: an Auth0-style token endpoint, the order API
//! with the documented validation, a verification engine that moves each search through
//! notifications to an outcome, and signed webhook delivery with retries, as documented in
//! `shared/reference/theary-api.md`. Independent of the `theary` client crate on purpose.
//!
//! Ids: the create response carries `ord_`/`search_` prefixes; reads and webhooks carry the
//! bare UUIDs, as Theary's own examples do. Both forms are accepted on input.
//!
//! Outcomes are chosen by keyword, case-insensitively, in the employer or institution name of
//! the first history entry for the search's type (or `businessContext.entityName`):
//! `discrepancy` VERIFIED with a discrepancy; `norecord`/`no record` NO_RECORD; `wrongorg`
//! WRONG_ORG; `unable` UNABLE_TO_VERIFY; `thirdparty`/`work number` action required
//! THIRD_PARTY_RECORD; `escalate` action required HUMAN_ESCALATION; `stall` never finishes by
//! itself. Otherwise VERIFIED, or with a `seed`, a seeded realistic mix. Rules added through
//! the admin API are checked first.

mod engine;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::common::{self, Faults, Instrumentation, Journal, Server};

pub use engine::{DeliveryFaults, DeliveryRecord};

/// Sandbox settings.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Lifetime of issued tokens.
    pub token_lifetime: Duration,
    /// Accept CRIMINAL searches (requiring `criminalCheck.jurisdictions`), as older Theary did.
    pub legacy_criminal: bool,
    /// Time between a search's stages when `auto_run` is on.
    pub step: Duration,
    /// Advance searches by themselves every `step`.
    pub auto_run: bool,
    /// Base of the delivery retry backoff.
    pub retry_base: Duration,
    /// Timeout of one delivery attempt.
    pub delivery_timeout: Duration,
    /// Accept `http://` webhook URLs on loopback hosts (for local receivers).
    pub allow_http_loopback: bool,
    /// Seeded random outcomes for searches no rule matches.
    pub seed: Option<u64>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            token_lifetime: Duration::from_secs(3600),
            legacy_criminal: false,
            step: Duration::from_secs(2),
            auto_run: true,
            retry_base: Duration::from_secs(1),
            delivery_timeout: Duration::from_secs(10),
            allow_http_loopback: true,
            seed: None,
            max_body_bytes: 12 * 1024 * 1024,
        }
    }
}

/// Client credentials known to the auth server.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClientSpec {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    pub audience: String,
}

/// A rule choosing a search's outcome.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScenarioRule {
    /// Matched case-insensitively in the employer/institution name (or entity name).
    pub keyword: String,
    /// Only for this search type, when set.
    #[serde(default)]
    pub search_type: Option<String>,
    pub outcome: Outcome,
}

/// How a search ends.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Completed {
        outcome: String,
        discrepancy: bool,
    },
    ActionRequired {
        reason_code: String,
    },
    /// Never finishes by itself.
    Stall,
}

#[derive(Debug)]
pub(crate) struct SearchRec {
    pub id: String,
    pub order_id: String,
    pub search_type: String,
    pub external_search_id: Option<String>,
    pub stage: u8,
    pub status: &'static str,
    pub outcome: Outcome,
    pub webhook: Option<Value>,
    pub subject: Value,
    pub entity_name: String,
    pub verification_id: String,
    pub result: Option<Value>,
    pub activity: Vec<Value>,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
}

#[derive(Debug)]
pub(crate) struct OrderRec {
    pub id: String,
    pub tenant: String,
    pub seq: u64,
    pub cancelled: bool,
    pub applicant: Value,
    pub entity_name: String,
    pub job_title: String,
    pub search_ids: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug)]
pub(crate) struct Data {
    clients: HashMap<String, ClientSpec>,
    token_generation: u64,
    token_lifetime: Duration,
    pub orders: HashMap<String, OrderRec>,
    pub searches: BTreeMap<String, SearchRec>,
    rules: Vec<ScenarioRule>,
    pub rng: Option<StdRng>,
    next_seq: u64,
}

/// Shared state of one Theary sandbox. Cheap to clone.
#[derive(Clone)]
pub struct ThearyState {
    pub(crate) data: Arc<Mutex<Data>>,
    pub(crate) config: Arc<SandboxConfig>,
    key: Arc<[u8; 32]>,
    inst: Instrumentation,
    pub(crate) delivery: engine::Delivery,
}

impl std::fmt::Debug for ThearyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThearyState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ThearyState {
    pub fn new(config: SandboxConfig) -> Self {
        let data = Data {
            clients: HashMap::new(),
            token_generation: 0,
            token_lifetime: config.token_lifetime,
            orders: HashMap::new(),
            searches: BTreeMap::new(),
            rules: Vec::new(),
            rng: config.seed.map(StdRng::seed_from_u64),
            next_seq: 0,
        };
        let delivery = engine::Delivery::new(&config);
        Self {
            data: Arc::new(Mutex::new(data)),
            config: Arc::new(config),
            key: Arc::new(rand::random()),
            inst: Instrumentation::default(),
            delivery,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add_client(&self, spec: ClientSpec) {
        self.lock().clients.insert(spec.client_id.clone(), spec);
    }

    pub fn set_token_lifetime(&self, d: Duration) {
        self.lock().token_lifetime = d;
    }

    /// Every token issued so far is expired from now on.
    pub fn expire_tokens(&self) {
        self.lock().token_generation += 1;
    }

    /// Adds a scenario rule, checked before the earlier ones and the defaults.
    pub fn add_rule(&self, rule: ScenarioRule) {
        self.lock().rules.insert(0, rule);
    }

    /// Moves every open search one stage now. Returns how many moved.
    pub fn advance(&self) -> usize {
        engine::advance(self)
    }

    /// Finishes a search now with `outcome` (any open search, stalled ones included).
    pub fn resolve_search(&self, search_id: &str, outcome: Outcome) -> bool {
        engine::resolve(self, search_id, outcome)
    }

    /// Orders of `tenant` as `GET /orders/{id}` shows them, oldest first.
    pub fn orders(&self, tenant: &str) -> Vec<Value> {
        let data = self.lock();
        let mut orders: Vec<&OrderRec> = data
            .orders
            .values()
            .filter(|o| o.tenant == tenant)
            .collect();
        orders.sort_by_key(|o| o.seq);
        orders.into_iter().map(|o| order_json(&data, o)).collect()
    }

    pub fn order_count(&self, tenant: &str) -> usize {
        self.lock()
            .orders
            .values()
            .filter(|o| o.tenant == tenant)
            .count()
    }

    /// Every delivery attempt so far.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.delivery.records()
    }

    /// Delivery fault knobs.
    pub fn delivery_faults(&self) -> &DeliveryFaults {
        self.delivery.faults()
    }

    /// API fault injection.
    pub fn faults(&self) -> &Faults {
        &self.inst.faults
    }

    /// Every API request received.
    pub fn journal(&self) -> &Journal {
        &self.inst.journal
    }

    /// Waits until no delivery is queued or in flight (or `timeout` passes); true when idle.
    pub async fn wait_deliveries_idle(&self, timeout: Duration) -> bool {
        self.delivery.wait_idle(timeout).await
    }
}

/// A running Theary sandbox.
#[derive(Debug)]
pub struct ThearySandbox {
    pub server: Server,
    pub state: ThearyState,
}

impl ThearySandbox {
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }
    /// Auth server base: the token endpoint is `{auth_url}/oauth/token`.
    pub fn auth_url(&self) -> String {
        self.base_url()
    }
    /// API base: routes are `{api_base}/background-check/v1/...`.
    pub fn api_base(&self) -> String {
        self.base_url()
    }

    /// Quick-start text; its curl commands work as printed.
    pub fn quickstart(&self, client: &ClientSpec, webhook_url: Option<&str>) -> String {
        let base = self.base_url();
        let hook = webhook_url.unwrap_or("http://127.0.0.1:9/webhooks/theary");
        let hook_note = if webhook_url.is_some() {
            String::new()
        } else {
            "# (no --webhook-url given: deliveries to this placeholder fail and show in the delivery log)\n".to_owned()
        };
        format!(
            "Theary sandbox (background-check API emulator)\n\
             ==============================================\n\
             Base URL:       {base}\n\
             Token URL:      POST {base}/oauth/token (JSON)\n\
             Orders:         {base}/background-check/v1/orders\n\
             Admin API:      {base}/__admin (deliveries, rules, advance, faults, journal)\n\
             Tenant:         {tenant}\n\
             Client id:      {id}\n\
             Client secret:  {secret}\n\
             Audience:       {aud}\n\
             Step:           {step} s between a search's stages\n\
             \n\
             # 1. Get a token:\n\
             THEARY_TOKEN=$(curl -s {base}/oauth/token -H 'Content-Type: application/json' \\\n\
             \x20 -d '{{\"client_id\":\"{id}\",\"client_secret\":\"{secret}\",\"audience\":\"{aud}\",\"grant_type\":\"client_credentials\"}}' \\\n\
             \x20 | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n\
             # 2. Order an employment check; signed webhooks go to {hook}\n\
             {hook_note}\
             curl -s {base}/background-check/v1/orders -H \"Authorization: Bearer $THEARY_TOKEN\" -H 'Content-Type: application/json' -d '{{\n\
             \x20 \"applicant\": {{\"firstName\": \"John\", \"lastName\": \"Smith\", \"ssn\": \"123-45-6789\"}},\n\
             \x20 \"businessContext\": {{\"entityName\": \"Apple\", \"appliedJobTitle\": \"Engineer\", \"worksiteCity\": \"San Francisco\", \"worksiteState\": \"CA\", \"proposedSalary\": 100000}},\n\
             \x20 \"searchTypes\": [{{\"searchType\": \"EMPLOYMENT\", \"externalSearchId\": \"my-emp-001\"}}],\n\
             \x20 \"history\": {{\"employment\": [{{\"employerName\": \"Tech Corp\", \"position\": \"Engineer\"}}]}},\n\
             \x20 \"webhookConfig\": {{\"secret\": \"a-secret-of-16-chars-or-more\", \"fallbackEndpoint\": {{\"url\": \"{hook}\",\n\
             \x20   \"events\": [\"verification.completed\", \"verification.action_required\", \"verification.notification\"]}}}}}}'\n\
             # 3. Watch it progress (outcome by keyword in the employer name: discrepancy, norecord,\n\
             #    wrongorg, unable, thirdparty, escalate, stall; otherwise VERIFIED):\n\
             curl -s {base}/background-check/v1/orders -H \"Authorization: Bearer $THEARY_TOKEN\"\n\
             curl -s {base}/__admin/deliveries\n",
            tenant = client.tenant,
            id = client.client_id,
            secret = client.client_secret,
            aud = client.audience,
            step = self.state.config.step.as_secs_f64(),
        )
    }
}

pub async fn spawn(config: SandboxConfig) -> std::io::Result<ThearySandbox> {
    spawn_on(common::bind_local(0).await?, config).await
}

pub async fn spawn_on(
    listener: tokio::net::TcpListener,
    config: SandboxConfig,
) -> std::io::Result<ThearySandbox> {
    let auto = config.auto_run.then_some(config.step);
    let state = ThearyState::new(config);
    let server = common::serve(listener, router(state.clone()))?;
    if let Some(step) = auto {
        engine::start_auto_run(&state, step);
    }
    Ok(ThearySandbox { server, state })
}

pub fn router(state: ThearyState) -> Router {
    let limit = state.config.max_body_bytes;
    let api = Router::new()
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
        .fallback(|| async {
            nest_error(
                StatusCode::NOT_FOUND,
                json!("Cannot find the requested route"),
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.inst.clone(),
            common::fault_and_journal,
        ))
        .with_state(state.clone());
    let admin = Router::new()
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
        .merge(common::admin_routes(state.inst.clone()));
    api.nest("/__admin", admin)
}

// ------------------------------------------------------------------------------------------
// Helpers

/// Now as ISO 8601 with milliseconds, the form Theary's examples use.
pub(crate) fn now_iso() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Strips an `ord_`/`search_` prefix.
pub(crate) fn bare(id: &str) -> &str {
    id.strip_prefix("ord_")
        .or_else(|| id.strip_prefix("search_"))
        .unwrap_or(id)
}

fn nest_error(status: StatusCode, message: Value) -> Response {
    let mut body = json!({ "statusCode": status.as_u16(), "message": message });
    if let Some(reason) = status.canonical_reason() {
        if status != StatusCode::UNAUTHORIZED {
            body["error"] = json!(reason);
        }
    }
    (status, Json(body)).into_response()
}

fn rejection(r: JsonRejection) -> Response {
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

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    tenant: String,
    aud: String,
    sub: String,
    iat: u64,
    exp: u64,
    exp_ms: u64,
    generation: u64,
}

/// The tenant of the request's bearer token. As an extractor, it answers the documented 401
/// before any other part of the request is read.
struct Tenant(String);

impl axum::extract::FromRequestParts<ThearyState> for Tenant {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &ThearyState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(state, &parts.headers)
            .map(Tenant)
            .map_err(|r| *r)
    }
}

/// The tenant of a valid bearer token, or the documented 401.
fn authenticate(state: &ThearyState, headers: &HeaderMap) -> Result<String, Box<Response>> {
    let unauthorized = |m: &str| {
        Box::new(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "statusCode": 401, "message": m })),
            )
                .into_response(),
        )
    };
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("Unauthorized"))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&state.key[..]),
        &validation,
    )
    .map_err(|_| unauthorized("Invalid or expired token"))?
    .claims;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if now_ms >= claims.exp_ms
        || claims.generation < state.lock().token_generation
        || claims.tenant.is_empty()
    {
        return Err(unauthorized("Invalid or expired token"));
    }
    Ok(claims.tenant)
}

// ------------------------------------------------------------------------------------------
// Auth server

async fn token(
    State(state): State<ThearyState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let auth_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response()
    };
    let Ok(Json(body)) = body else {
        return auth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be JSON",
        );
    };
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let grant = field("grant_type");
    if grant.is_empty() || field("client_id").is_empty() || field("client_secret").is_empty() {
        return auth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: grant_type, client_id or client_secret",
        );
    }
    if grant != "client_credentials" {
        return auth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        );
    }
    let (spec, lifetime, generation) = {
        let data = state.lock();
        (
            data.clients.get(&field("client_id")).cloned(),
            data.token_lifetime,
            data.token_generation,
        )
    };
    let Some(spec) = spec.filter(|s| s.client_secret == field("client_secret")) else {
        return auth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    };
    let audience = field("audience");
    if audience != spec.audience {
        return auth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            &format!("Service not enabled within domain: {audience}"),
        );
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let exp_ms = now + lifetime.as_millis() as u64;
    let claims = Claims {
        tenant: spec.tenant,
        aud: audience,
        sub: spec.client_id,
        iat: now_secs(),
        exp: exp_ms.div_ceil(1000),
        exp_ms,
        generation,
    };
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    match jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(&state.key[..])) {
        Ok(jwt) => Json(json!({ "access_token": jwt, "expires_in": lifetime.as_secs(), "token_type": "Bearer" })).into_response(),
        Err(_) => auth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "could not sign the token"),
    }
}

// ------------------------------------------------------------------------------------------
// Orders

async fn create_order(
    State(state): State<ThearyState>,
    Tenant(tenant): Tenant,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(b)) => b,
        Err(r) => return rejection(r),
    };
    let rules = validate::Rules {
        legacy_criminal: state.config.legacy_criminal,
        allow_http_loopback: state.config.allow_http_loopback,
    };
    let problems = validate::validate(&body, &rules);
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

pub(crate) fn order_status(data: &Data, o: &OrderRec) -> &'static str {
    if o.cancelled {
        return "cancelled";
    }
    let searches: Vec<&SearchRec> = o
        .search_ids
        .iter()
        .filter_map(|id| data.searches.get(id))
        .collect();
    if searches.iter().all(|s| s.status != "IN_PROGRESS") {
        "completed"
    } else if searches
        .iter()
        .any(|s| s.stage > 0 || s.status != "IN_PROGRESS")
    {
        "in_progress"
    } else {
        "pending"
    }
}

fn order_json(data: &Data, o: &OrderRec) -> Value {
    let status = order_status(data, o);
    let search_types: Vec<Value> = o
        .search_ids
        .iter()
        .filter_map(|id| data.searches.get(id))
        .map(|s| json!({ "searchType": s.search_type, "searchTitle": s.subject.get("title").cloned().unwrap_or(Value::Null) }))
        .collect();
    // An order changes whenever one of its searches does.
    let updated_at = o
        .search_ids
        .iter()
        .filter_map(|id| data.searches.get(id).map(|s| s.updated_at.clone()))
        .chain(std::iter::once(o.updated_at.clone()))
        .max();
    let completed_at = (status == "completed")
        .then(|| {
            o.search_ids
                .iter()
                .filter_map(|id| data.searches.get(id)?.completed_at.clone())
                .max()
        })
        .flatten();
    json!({
        "id": o.id, "status": status, "applicant": o.applicant, "entityName": o.entity_name, "jobTitle": o.job_title,
        "searchTypes": search_types, "createdAt": o.created_at, "updatedAt": updated_at, "completedAt": completed_at,
    })
}

pub(crate) fn search_json(s: &SearchRec, detail: bool) -> Value {
    let mut v = json!({
        "id": s.id, "orderId": s.order_id, "externalSearchId": s.external_search_id, "searchType": s.search_type,
        "searchStatus": s.status, "searchTitle": s.subject.get("title"), "entityName": s.entity_name,
        "entityLocation": s.subject.get("location"), "startDate": s.subject.get("startDate"), "endDate": s.subject.get("endDate"),
        "completedAt": s.completed_at, "createdAt": s.created_at, "updatedAt": s.updated_at,
        "verificationResult": s.result.iter().map(|r| json!({
            "id": r.get("id"), "outcome": r.get("outcome"), "resultDetails": r, "submittedAt": s.completed_at,
        })).collect::<Vec<_>>(),
        "activity": s.activity,
    });
    if detail {
        v["questionnaireUrl"] = Value::Null;
        v["questionnaireAccessCode"] = Value::Null;
    }
    v
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

// ------------------------------------------------------------------------------------------
// Admin

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
    body: Result<Json<engine::DeliveryFaultSettings>, JsonRejection>,
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
