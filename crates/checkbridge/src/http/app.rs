//! The whole HTTP side of a replica: the webhook receiver, the report pages behind login
//! that PageUp's report links open, the operator page, the admin API, and health endpoints, merged into
//! one router over one [`AppState`].
//!
//! Handlers take what they need from the state (`State<Store>`, `State<Pages>`...), never
//! the pipeline itself: `AppState::new` is the one place that reaches into [`Engine`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use pageup::PageUpClient;
use theary::ThearyClient;
use tokio::sync::Notify;

use super::limits::{self, Limits, Refusals};
use super::pages::{Pages, Tenants, Views};
use super::session::{self, Cookies, LoginThrottle};
use super::webhooks::{self, WebhookState};
use super::{api, ops, reports};
use crate::crypto::Keyring;
use crate::metrics::{Metrics, StateFigures};
use crate::store::Store;
use crate::sync::Engine;
use sha2::Digest as _;

/// What the handlers need, and nothing else of the pipeline.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub store: Store,
    /// Opens sealed orders and results (reports) and webhook secrets.
    pub keyring: Keyring,
    pub tenants: Tenants,
    /// The one view of a check (report and operator pages).
    pub views: Views,
    pub pages: Pages,
    /// Report PDFs, rendered off the async workers, a bounded number at a time.
    pub pdfs: super::pdf::Renderer,
    pub cookies: Cookies,
    /// Failed sign-ins, shared by every request this replica serves.
    pub logins: LoginThrottle,
    /// Each tenant's identity provider (single sign-on), with its cached keys.
    pub sso: super::sso::Sso,
    pub metrics: Arc<Metrics>,
    /// Told of each webhook delivery, verified or not.
    pub health: Arc<crate::health::Monitor>,
    /// Woken when a webhook leaves PageUp owed a new document.
    pub pusher_wake: Arc<Notify>,
    /// How long a search may stay quiet before the reconciler asks Theary about it.
    #[from_ref(skip)]
    pub reconcile_after: Duration,
    /// Whether the store takes writes, as the lease keeper last found (readiness).
    pub(crate) leases: Arc<crate::sync::Leases>,
    pub partners: PartnerCounters,
    /// What the admin API calls out to (Theary, to cancel orders).
    pub api: super::api::ApiClients,
    /// What `/metrics` requires (`[http].metrics_token`); `None`: it answers 404.
    #[from_ref(skip)]
    pub metrics_token: Option<Arc<str>>,
    /// What the HTTP limits refused (counted in `/metrics`).
    pub refusals: Arc<super::limits::Refusals>,
    /// The rate limit on logging refused webhooks, per tenant.
    #[from_ref(skip)]
    pub refused_log: Arc<webhooks::RefusedLog>,
    /// Woken when a candidate's answers leave a check owing its order.
    #[from_ref(skip)]
    pub orderer_wake: Arc<Notify>,
    #[from_ref(skip)]
    pub public_base_url: String,
}

impl AppState {
    /// The handlers' share of `engine`.
    pub fn new(engine: &Engine) -> AppState {
        let tenants = engine
            .tenant_keys()
            .filter_map(|key| engine.tenant(key).map(|t| (key.clone(), t.cfg.clone())))
            .collect();
        let tenants = Tenants::new(tenants);
        let sso = super::sso::Sso::new(&tenants, engine.public_base_url());
        let (pageup, theary) = engine.clients();
        AppState {
            store: engine.store().clone(),
            keyring: engine.keyring().clone(),
            views: Views::new(tenants.clone(), engine.links().clone()),
            tenants,
            pages: Pages::new(),
            pdfs: super::pdf::Renderer::new(engine.pdf_renders()),
            cookies: Cookies::for_base_url(engine.public_base_url()),
            logins: LoginThrottle::new(engine.sign_in()),
            sso,
            metrics: engine.metrics().clone(),
            health: engine.health().clone(),
            pusher_wake: engine.pusher_wake(),
            reconcile_after: engine.reconcile_after(),
            leases: engine.inner.leases.clone(),
            partners: PartnerCounters {
                pageup: pageup.clone(),
                theary: theary.clone(),
            },
            api: super::api::ApiClients {
                theary: theary.clone(),
            },
            metrics_token: engine.metrics_token().map(Arc::from),
            refusals: Arc::default(),
            refused_log: Arc::new(webhooks::RefusedLog::new(
                engine.http_config().refused_log_per_minute,
            )),
            orderer_wake: engine.orderer_wake(),
            public_base_url: engine.public_base_url().to_owned(),
        }
    }

    /// What the candidate form needs (it keeps its own state type).
    fn candidate(&self) -> super::candidate::CandidateState {
        super::candidate::CandidateState::new(
            self.store.clone(),
            self.keyring.clone(),
            self.tenants.clone(),
            self.metrics.clone(),
            self.orderer_wake.clone(),
            &self.public_base_url,
        )
    }

    /// What the webhook receiver needs (it keeps its own state type).
    fn webhooks(&self) -> WebhookState {
        WebhookState {
            store: self.store.clone(),
            keyring: self.keyring.clone(),
            tenants: Arc::new(self.tenants.keys().cloned().collect()),
            reconcile_after: self.reconcile_after,
            on_change: Some(self.pusher_wake.clone()),
            health: Some(self.health.clone()),
            metrics: Some(self.metrics.clone()),
            refused_log: self.refused_log.clone(),
        }
    }
}

/// Both partners' clients, held only to read their counters for `/metrics`.
#[derive(Clone)]
pub struct PartnerCounters {
    pageup: PageUpClient,
    theary: ThearyClient,
}

/// Routes of the service, under `limits`, and the counts of what the limits refused.
pub fn router(engine: &Engine, limits: &Limits) -> (Router, Arc<Refusals>) {
    let state = AppState::new(engine);
    let refusals = state.refusals.clone();
    (routes(state, limits), refusals)
}

/// Routes of the service over `state`: webhooks and pages each under their in-flight cap,
/// health, readiness, metrics and the stylesheet outside them.
pub fn routes(state: AppState, limits: &Limits) -> Router {
    let refusals = state.refusals.clone();
    let hooks = limits::in_flight_cap(
        webhooks::router(state.webhooks()),
        limits.webhook_in_flight,
        refusals.clone(),
    );
    let candidate = super::candidate::router(state.candidate());
    let pages = limits::in_flight_cap(
        Router::new()
            .merge(session::router())
            .merge(super::sso::router())
            .merge(reports::router())
            .merge(ops::router())
            .merge(api::router(state.store.clone()))
            .with_state(state.clone())
            .merge(candidate),
        limits.page_in_flight,
        refusals.clone(),
    );
    let rest = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route(super::pages::STYLESHEET_PATH, get(super::pages::stylesheet))
        .with_state(state);
    limits::wrap(hooks.merge(pages).merge(rest), limits, refusals)
}

/// Whether `headers` carry `Authorization: Bearer <token>` (compared in constant time).
fn bearer_matches(headers: &axum::http::HeaderMap, token: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    let Some(given) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return false;
    };
    let (a, b) = (
        sha2::Sha256::digest(given.as_bytes()),
        sha2::Sha256::digest(token.as_bytes()),
    );
    bool::from(a.ct_eq(&b))
}

async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    // Series are labelled by tenant: only a scraper holding the token may read them.
    let Some(token) = state.metrics_token.as_deref() else {
        return super::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such page")
            .into_response();
    };
    if !bearer_matches(&headers, token) {
        let mut r = super::ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "metrics need the bearer token",
        )
        .into_response();
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
        return r;
    }
    let (store, m, partners) = (state.store, state.metrics, state.partners);
    let refusals = &state.refusals;
    for (name, n) in [
        ("connections", &refusals.connections),
        ("slow_body", &refusals.slow_bodies),
        ("busy", &refusals.shed),
    ] {
        m.http_refused(name, n.load(std::sync::atomic::Ordering::Relaxed));
    }
    let (owed, oldest, issues) = match (
        store.owed(None).await,
        store.oldest_owed_push(crate::time::now_ms()).await,
        store.open_issues().await,
    ) {
        (Ok(o), Ok(t), Ok(i)) => (o, t, i),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            tracing::error!(error = %crate::error::error_chain(&e), "metrics: database unavailable");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
        }
    };
    #[expect(clippy::cast_precision_loss, reason = "counts and ages far below 2^52")]
    m.set_state(StateFigures {
        owed_orders: owed.orders as f64,
        owed_pushes: owed.pushes as f64,
        open_searches: owed.open_searches as f64,
        oldest_owed_push_seconds: oldest as f64 / 1000.0,
        open_health_issues: issues.len() as f64,
    });
    let (pageup, theary) = (&partners.pageup, &partners.theary);
    m.partner_totals("pageup", pageup.token_fetches(), pageup.retries());
    m.partner_totals("theary", theary.token_fetches(), theary.retries());
    // OpenMetrics to a scraper that asks for it (Prometheus does), the classic text format
    // to everyone else.
    let open = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    if open {
        (
            [(axum::http::header::CONTENT_TYPE, Metrics::CONTENT_TYPE)],
            m.render(),
        )
            .into_response()
    } else {
        (
            [(
                axum::http::header::CONTENT_TYPE,
                Metrics::CLASSIC_CONTENT_TYPE,
            )],
            m.render_classic(),
        )
            .into_response()
    }
}

/// Ready while the database answers within two seconds (a load balancer asks often; a
/// database that does not answer must not hold its requests for the pool's timeout).
async fn ready(
    State(store): State<Store>,
    State(leases): State<Arc<crate::sync::Leases>>,
    State(keyring): State<Keyring>,
) -> Response {
    // A tenant whose data key does not unwrap would fail every webhook and report: not
    // ready. (Which tenant is in the log, not in this unauthenticated answer.)
    if !keyring.unreadable().is_empty() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "a tenant's data key cannot be unwrapped",
        )
            .into_response();
    }
    // A store that answers reads but refuses writes (a SQLite file locked elsewhere) is not
    // ready either: the lease keeper's last write told.
    if leases.failing_since().is_some() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "database not taking writes",
        )
            .into_response();
    }
    match tokio::time::timeout(Duration::from_secs(2), store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %crate::error::error_chain(&e), "not ready: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(_) => {
            tracing::error!("not ready: the database did not answer within 2 s");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}
