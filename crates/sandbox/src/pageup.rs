//! Emulator of PageUp's Background Check API: the login server (client credentials), `GET`
//! of pending invitations (at most 5, fuzzed), and `PUT` of a check's status (full override,
//! workflow enforced), plus an admin API to seed data, read state and inject faults.
//!
//! It follows PageUp's integrator guide and the public notes in `shared/reference/pageup-api.md`;
//! paths and the invitation schema are the assumed ones documented in `crates/pageup/README.md`.
//! It is independent of the `pageup` client crate on purpose.

mod generate;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::common::{self, Faults, Instrumentation, Journal, Server};
use crate::fuzzjson::{self, Chunk, DOCUMENT_PIECE};

pub use generate::{invitation as generated_invitation, GenerateOptions};

/// Scope needed by `GET`.
pub const SCOPE_READ: &str = "Public.BackgroundCheck.Read";
/// Scope needed by `PUT`.
pub const SCOPE_WRITE: &str = "Public.BackgroundCheck.Write";
/// At most this many invitations per `GET`, as the guide says.
pub const PAGE_SIZE: usize = 5;

/// Every status of the guide's workflow.
pub const STATUSES: [&str; 8] = [
    "pending",
    "queued",
    "new",
    "inprogress",
    "completed",
    "failed",
    "cancelled",
    "expired",
];

/// Sandbox settings.
#[derive(Debug, Clone)]
pub struct PageUpConfig {
    /// Lifetime of issued tokens (PageUp: 300 s).
    pub token_lifetime: Duration,
    /// Wrap the `GET` list as `{"items": [...]}` instead of a bare array.
    pub wrap_list: bool,
    /// Apply the fuzzy serializer (shuffled properties, GUID extras).
    pub fuzz: bool,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
}

impl Default for PageUpConfig {
    fn default() -> Self {
        Self {
            token_lifetime: Duration::from_secs(300),
            wrap_list: false,
            fuzz: true,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// Client credentials known to the login server, bound to one tenant.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClientSpec {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    /// Scopes the client may request.
    pub scopes: Vec<String>,
    /// Partner id put in the token's `partnerid` claim; `None` leaves the claim out.
    pub partner_id: Option<String>,
}

impl ClientSpec {
    /// A client with both background-check scopes and a partner id.
    pub fn full(tenant: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            tenant: tenant.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            scopes: vec![SCOPE_READ.to_owned(), SCOPE_WRITE.to_owned()],
            partner_id: Some("partner-1".to_owned()),
        }
    }
}

/// One accepted `PUT`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PutRecord {
    pub at_ms: u64,
    pub from: String,
    pub to: String,
    pub body: Value,
}

/// A check as the sandbox holds it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CheckView {
    pub id: String,
    pub tenant: String,
    pub status: String,
    /// The last accepted `PUT` body (`{}` before any).
    pub document: Value,
    pub history: Vec<PutRecord>,
}

#[derive(Debug)]
struct Check {
    view: CheckView,
    invitation: Value,
    /// Arrival order, for oldest-first listing.
    seq: u64,
    /// When it was seeded (ms since the epoch).
    seeded_ms: u64,
}

/// When a check was seeded and first reached `queued` and `new` (ms since the epoch), for
/// latency figures.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CheckTiming {
    pub tenant: String,
    pub id: String,
    pub status: String,
    pub seeded_ms: u64,
    pub queued_ms: Option<u64>,
    pub new_ms: Option<u64>,
}

#[derive(Debug, Default)]
struct Data {
    clients: HashMap<String, ClientSpec>,
    /// tenant -> check id -> check
    checks: HashMap<String, BTreeMap<String, Check>>,
    next_seq: u64,
    next_id: u64,
    /// Tokens of an older generation than this are treated as expired.
    token_generation: u64,
    token_lifetime: Duration,
}

/// Shared state of one PageUp sandbox. Cheap to clone.
#[derive(Clone)]
pub struct PageUpState {
    data: Arc<Mutex<Data>>,
    config: Arc<PageUpConfig>,
    key: Arc<[u8; 32]>,
    inst: Instrumentation,
    started: Instant,
    /// `started` in ms since the epoch (history times are relative to it).
    started_epoch_ms: u64,
}

impl std::fmt::Debug for PageUpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageUpState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PageUpState {
    /// Fresh, empty state.
    pub fn new(config: PageUpConfig) -> Self {
        let data = Data {
            token_lifetime: config.token_lifetime,
            next_id: 10_000,
            ..Default::default()
        };
        Self {
            data: Arc::new(Mutex::new(data)),
            config: Arc::new(config),
            key: Arc::new(rand::random()),
            inst: Instrumentation::default(),
            started: Instant::now(),
            started_epoch_ms: now_ms(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers client credentials (replacing any with the same id).
    pub fn add_client(&self, spec: ClientSpec) {
        let mut data = self.lock();
        data.checks.entry(spec.tenant.clone()).or_default();
        data.clients.insert(spec.client_id.clone(), spec);
    }

    /// Adds one invitation for `tenant`. An `id` is generated when absent; status is
    /// `pending` unless given. Returns the check id.
    pub fn seed(&self, tenant: &str, mut invitation: Value) -> String {
        let mut data = self.lock();
        if !invitation.is_object() {
            invitation = json!({});
        }
        let id = match invitation.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                data.next_id += 1;
                data.next_id.to_string()
            }
        };
        let status = invitation
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(|| "pending".to_owned());
        invitation["id"] = json!(id);
        invitation["status"] = json!(status);
        data.next_seq += 1;
        let seq = data.next_seq;
        let view = CheckView {
            id: id.clone(),
            tenant: tenant.to_owned(),
            status,
            document: json!({}),
            history: Vec::new(),
        };
        data.checks.entry(tenant.to_owned()).or_default().insert(
            id.clone(),
            Check {
                view,
                invitation,
                seq,
                seeded_ms: now_ms(),
            },
        );
        id
    }

    /// Adds `count` realistic generated invitations. Returns their ids.
    pub fn seed_generated(
        &self,
        tenant: &str,
        count: usize,
        opts: &GenerateOptions,
    ) -> Vec<String> {
        let base = {
            let mut data = self.lock();
            let base = data.next_id;
            data.next_id += count as u64;
            base
        };
        (0..count)
            .map(|i| {
                let id = (base + 1 + i as u64).to_string();
                self.seed(tenant, generate::invitation(&id, i, opts))
            })
            .collect()
    }

    /// One check's state and history.
    pub fn check(&self, tenant: &str, id: &str) -> Option<CheckView> {
        self.lock()
            .checks
            .get(tenant)?
            .get(id)
            .map(|c| c.view.clone())
    }

    /// Every check of `tenant`, in arrival order.
    pub fn checks(&self, tenant: &str) -> Vec<CheckView> {
        let data = self.lock();
        let mut all: Vec<&Check> = data
            .checks
            .get(tenant)
            .map(|m| m.values().collect())
            .unwrap_or_default();
        all.sort_by_key(|c| c.seq);
        all.into_iter().map(|c| c.view.clone()).collect()
    }

    /// Every check's seeding time and first `queued` and `new`, across tenants.
    pub fn timings(&self) -> Vec<CheckTiming> {
        let data = self.lock();
        let first = |c: &Check, to: &str| {
            c.view
                .history
                .iter()
                .find(|p| p.to == to)
                .map(|p| self.started_epoch_ms + p.at_ms)
        };
        data.checks
            .values()
            .flat_map(|m| m.values())
            .map(|c| CheckTiming {
                tenant: c.view.tenant.clone(),
                id: c.view.id.clone(),
                status: c.view.status.clone(),
                seeded_ms: c.seeded_ms,
                queued_ms: first(c, "queued"),
                new_ms: first(c, "new"),
            })
            .collect()
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, d: Duration) {
        self.lock().token_lifetime = d;
    }

    /// Makes every token issued so far expired.
    pub fn expire_tokens(&self) {
        self.lock().token_generation += 1;
    }

    /// API fault injection.
    pub fn faults(&self) -> &Faults {
        &self.inst.faults
    }

    /// Every API request received.
    pub fn journal(&self) -> &Journal {
        &self.inst.journal
    }
}

/// A running PageUp sandbox.
#[derive(Debug)]
pub struct PageUpSandbox {
    pub server: Server,
    pub state: PageUpState,
}

impl PageUpSandbox {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }
    /// The login server's token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/connect/token", self.base_url())
    }
    /// Template for listing pending checks (`{tenant}` placeholder).
    pub fn list_url_template(&self) -> String {
        format!("{}/v3/{{tenant}}/backgroundcheck", self.base_url())
    }
    /// Template for updating a check (`{tenant}` and `{id}` placeholders).
    pub fn update_url_template(&self) -> String {
        format!("{}/v3/{{tenant}}/backgroundcheck/{{id}}", self.base_url())
    }

    /// Quick-start text for a person at a terminal; its curl commands work as printed.
    pub fn quickstart(&self, client: &ClientSpec) -> String {
        let base = self.base_url();
        let t = &client.tenant;
        format!(
            "PageUp sandbox (Background Check API emulator)\n\
             ==============================================\n\
             Base URL:       {base}\n\
             Token URL:      {base}/connect/token\n\
             List pending:   GET {base}/v3/{t}/backgroundcheck[?provider=...]\n\
             Update status:  PUT {base}/v3/{t}/backgroundcheck/{{id}}\n\
             Admin API:      {base}/__admin (checks, invitations, faults, journal)\n\
             Tenant:         {t}\n\
             Client id:      {id}\n\
             Client secret:  {secret}\n\
             Scopes:         {scopes}\n\
             \n\
             # 1. Get a token (valid {life} s):\n\
             PAGEUP_TOKEN=$(curl -s {base}/connect/token -d grant_type=client_credentials \\\n\
             \x20 -d client_id={id} -d client_secret={secret} \\\n\
             \x20 --data-urlencode 'scope={scopes}' | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n\
             # 2. List up to 5 pending checks (properties shuffled, GUID extras: PageUp's fuzzy serializer):\n\
             curl -s -H \"Authorization: Bearer $PAGEUP_TOKEN\" {base}/v3/{t}/backgroundcheck\n\
             # 3. Claim one (replace ID): the whole document, PUT is a full override:\n\
             curl -s -X PUT -H \"Authorization: Bearer $PAGEUP_TOKEN\" -H 'Content-Type: application/json' \\\n\
             \x20 -d '{{\"status\":\"queued\",\"referenceNumber\":\"\",\"reasonForFail\":\"\",\"results\":[]}}' \\\n\
             \x20 {base}/v3/{t}/backgroundcheck/ID\n\
             # 4. See its state and PUT history:\n\
             curl -s {base}/__admin/tenants/{t}/checks/ID\n",
            id = client.client_id,
            secret = client.client_secret,
            scopes = client.scopes.join(" "),
            life = self.state.lock().token_lifetime.as_secs(),
        )
    }
}

/// Starts a sandbox on `127.0.0.1`, on a free port.
pub async fn spawn(config: PageUpConfig) -> std::io::Result<PageUpSandbox> {
    spawn_on(common::bind_local(0).await?, config).await
}

/// Starts a sandbox on an already-bound listener.
pub async fn spawn_on(
    listener: tokio::net::TcpListener,
    config: PageUpConfig,
) -> std::io::Result<PageUpSandbox> {
    let state = PageUpState::new(config);
    let server = common::serve(listener, router(state.clone()))?;
    Ok(PageUpSandbox { server, state })
}

/// The sandbox's routes: the API (faulted and journalled) and `/__admin`.
pub fn router(state: PageUpState) -> Router {
    let limit = state.config.max_body_bytes;
    let api = Router::new()
        .route("/connect/token", post(token))
        .route("/v3/{tenant}/backgroundcheck", get(list_pending))
        .route("/v3/{tenant}/backgroundcheck/{id}", put(update_status))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.inst.clone(),
            common::fault_and_journal,
        ))
        .with_state(state.clone());
    let admin = Router::new()
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
        .route("/tokens/expire", post(admin_expire_tokens))
        .route("/token-lifetime", put(admin_token_lifetime))
        .with_state(state.clone())
        .merge(common::admin_routes(state.inst.clone()))
        .layer(DefaultBodyLimit::max(limit));
    api.nest("/__admin", admin)
}

// ---------------------------------------------------------------------------------------
// Errors

/// PageUp's error shape: an array of `{"field"?, "message"}`.
fn errors(status: StatusCode, items: &[(Option<&str>, String)]) -> Response {
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

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    errors(status, &[(None, message.into())])
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "The resource does not exist.")
}

fn json_rejection(rejection: JsonRejection) -> Response {
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

// ---------------------------------------------------------------------------------------
// Login server

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    client_id: String,
    instanceid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    partnerid: Option<String>,
    scope: Vec<String>,
    iat: u64,
    exp: u64,
    /// Token generation at issue; `expire_tokens` starts a new one.
    generation: u64,
    /// Expiry in milliseconds, so short test lifetimes are exact.
    exp_ms: u64,
    jti: String,
}

fn oauth_error(code: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": code, "error_description": description })),
    )
        .into_response()
}

async fn token(
    State(state): State<PageUpState>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    };
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                "unsupported_grant_type",
                "only client_credentials is supported",
            )
        }
        None => return oauth_error("invalid_request", "grant_type is missing"),
    }
    let (Some(client_id), Some(secret)) = (form.client_id, form.client_secret) else {
        return oauth_error("invalid_client", "client_id and client_secret are required");
    };
    let (spec, lifetime, generation) = {
        let data = state.lock();
        (
            data.clients.get(&client_id).cloned(),
            data.token_lifetime,
            data.token_generation,
        )
    };
    let Some(spec) = spec.filter(|s| s.client_secret == secret) else {
        return oauth_error("invalid_client", "unknown client or wrong secret");
    };
    let requested: Vec<String> = form
        .scope
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let scopes = if requested.is_empty() {
        spec.scopes.clone()
    } else {
        requested
    };
    if let Some(bad) = scopes.iter().find(|s| !spec.scopes.contains(s)) {
        return oauth_error(
            "invalid_scope",
            &format!("scope {bad} is not allowed for this client"),
        );
    }
    let now = now_ms();
    let exp_ms = now + lifetime.as_millis() as u64;
    let claims = Claims {
        client_id,
        instanceid: spec.tenant.clone(),
        partnerid: spec.partner_id.clone(),
        scope: scopes.clone(),
        iat: now / 1000,
        exp: exp_ms.div_ceil(1000),
        generation,
        exp_ms,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    match jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&state.key[..]),
    ) {
        Ok(jwt) => Json(json!({
            "access_token": jwt,
            "expires_in": lifetime.as_secs(),
            "token_type": "Bearer",
            "scope": scopes.join(" "),
        }))
        .into_response(),
        Err(_) => oauth_error("server_error", "could not sign the token"),
    }
}

/// Why a request was refused: status and PageUp-style message.
struct Denied(StatusCode, String);

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

/// Checks the bearer token for `tenant` and `scope`; the error is the response to send.
fn authorize(
    state: &PageUpState,
    headers: &HeaderMap,
    tenant: &str,
    scope: &str,
) -> Result<Claims, Denied> {
    let unauthorized = |m: &str| Denied(StatusCode::UNAUTHORIZED, m.to_owned());
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            unauthorized("Authorization has been denied for this request: no bearer token.")
        })?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| {
            unauthorized("Authorization has been denied for this request: no bearer token.")
        })?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(
        token.trim(),
        &jsonwebtoken::DecodingKey::from_secret(&state.key[..]),
        &validation,
    )
    .map_err(|_| {
        unauthorized("Your API key is invalid or expired: the access token is not valid.")
    })?
    .claims;
    let now = now_ms();
    if now >= claims.exp_ms || claims.generation < state.lock().token_generation {
        return Err(unauthorized(
            "Your API key is invalid or expired: the access token has expired.",
        ));
    }
    if !claims.scope.iter().any(|s| s == scope) {
        return Err(Denied(
            StatusCode::FORBIDDEN,
            format!(
                "You do not have permission to access the resource: the token lacks scope {scope}."
            ),
        ));
    }
    if claims.partnerid.as_deref().is_none_or(str::is_empty) {
        return Err(Denied(
            StatusCode::FORBIDDEN,
            "You do not have permission to access the resource: the token has no partner id claim."
                .to_owned(),
        ));
    }
    if claims.instanceid != tenant {
        return Err(Denied(
            StatusCode::FORBIDDEN,
            format!("You do not have permission to access the resource: the token is not for tenant {tenant}."),
        ));
    }
    Ok(claims)
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
    let page: Vec<Value> = {
        let data = state.lock();
        let mut pending: Vec<&Check> = data
            .checks
            .get(&tenant)
            .map(|m| m.values().filter(|c| c.view.status == "pending").collect())
            .unwrap_or_default();
        if let Some(provider) = query.provider.as_deref().filter(|p| !p.is_empty()) {
            pending.retain(|c| {
                c.invitation
                    .get("provider")
                    .and_then(Value::as_str)
                    .is_none_or(|p| p.eq_ignore_ascii_case(provider))
            });
        }
        pending.sort_by_key(|c| c.seq);
        pending
            .into_iter()
            .take(PAGE_SIZE)
            .map(|c| c.invitation.clone())
            .collect()
    };
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

use futures::StreamExt as _;

// ---------------------------------------------------------------------------------------
// PUT status

/// Whether the workflow allows `from` -> `to`.
pub fn transition_allowed(from: &str, to: &str) -> bool {
    if from == to || to == "queued" {
        return true;
    }
    match from {
        "pending" => false,
        "queued" => matches!(
            to,
            "pending" | "new" | "inprogress" | "completed" | "failed" | "cancelled" | "expired"
        ),
        "new" | "inprogress" => matches!(
            to,
            "inprogress" | "completed" | "failed" | "cancelled" | "expired"
        ),
        _ => false,
    }
}

/// Validates a PUT body; returns the normalised document or every problem found.
fn validate_document(body: &Value) -> Result<Value, Vec<(Option<&'static str>, String)>> {
    let mut problems: Vec<(Option<&'static str>, String)> = Vec::new();
    let Some(obj) = body.as_object() else {
        return Err(vec![(
            None,
            "The request body must be a JSON object.".to_owned(),
        )]);
    };
    let status = match obj.get("status") {
        None | Some(Value::Null) => {
            problems.push((Some("status"), "Status is required.".to_owned()));
            None
        }
        Some(Value::String(s)) => {
            let s = s.trim().to_ascii_lowercase();
            if STATUSES.contains(&s.as_str()) {
                Some(s)
            } else {
                problems.push((
                    Some("status"),
                    format!(
                        "Status '{s}' is not valid. Valid values: {}.",
                        STATUSES.join(", ")
                    ),
                ));
                None
            }
        }
        Some(_) => {
            problems.push((Some("status"), "Status must be a string.".to_owned()));
            None
        }
    };
    let text = |field: &'static str, problems: &mut Vec<(Option<&'static str>, String)>| match obj
        .get(field)
    {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            problems.push((Some(field), format!("{field} must be a string.")));
            String::new()
        }
    };
    let reference = text("referenceNumber", &mut problems);
    let reason = text("reasonForFail", &mut problems);
    let mut results = Vec::new();
    match obj.get("results") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let Some(r) = item.as_object() else {
                    problems.push((Some("results"), format!("results[{i}] must be an object.")));
                    continue;
                };
                let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                for k in ["reportLink", "reportType", "status"] {
                    if r.get(k).is_some_and(|v| !v.is_string() && !v.is_null()) {
                        problems.push((
                            Some("results"),
                            format!("results[{i}].{k} must be a string."),
                        ));
                    }
                }
                if field("reportType").trim().is_empty() {
                    problems.push((
                        Some("results"),
                        format!("results[{i}].reportType is required: it tells the recruiter which check the result is for."),
                    ));
                }
                results.push(json!({
                    "reportLink": field("reportLink"),
                    "reportType": field("reportType"),
                    "status": field("status"),
                }));
            }
        }
        Some(_) => problems.push((Some("results"), "results must be an array.".to_owned())),
    }
    match status.as_deref() {
        Some("completed") if results.is_empty() => problems.push((
            Some("results"),
            "A completed background check needs at least one result with its reportLink."
                .to_owned(),
        )),
        Some("failed") if reason.trim().is_empty() => problems.push((
            Some("reasonForFail"),
            "A failed background check needs a reasonForFail the recruiter can act on.".to_owned(),
        )),
        _ => {}
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(json!({
        "status": status.unwrap_or_default(),
        "referenceNumber": reference,
        "reasonForFail": reason,
        "results": results,
    }))
}

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
    let at_ms = state.started.elapsed().as_millis() as u64;
    let mut data = state.lock();
    let Some(check) = data.checks.get_mut(&tenant).and_then(|m| m.get_mut(&id)) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("Background check {id} not found."),
        );
    };
    let from = check.view.status.clone();
    let to = document["status"].as_str().unwrap_or_default().to_owned();
    if !transition_allowed(&from, &to) {
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
    check.view.status = to.clone();
    check.invitation["status"] = json!(to);
    check.view.document = document.clone();
    check.view.history.push(PutRecord {
        at_ms,
        from,
        to,
        body: document.clone(),
    });
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

// ---------------------------------------------------------------------------------------
// Admin

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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
