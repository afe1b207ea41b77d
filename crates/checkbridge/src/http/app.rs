//! The whole HTTP side of a replica: the webhook receiver, the report pages behind login
//! that PageUp's report links open, the operator page, and health endpoints, merged into
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

use super::pages::{Pages, Tenants, Views};
use super::session::{self, Cookies, LoginThrottle};
use super::webhooks::{self, WebhookState};
use super::{ops, reports};
use crate::crypto::Keyring;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::sync::Engine;

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
}

impl AppState {
    /// The handlers' share of `engine`.
    pub fn new(engine: &Engine) -> AppState {
        let tenants = engine
            .tenant_keys()
            .filter_map(|key| engine.tenant(key).map(|t| (key.clone(), t.cfg.clone())))
            .collect();
        let tenants = Tenants::new(tenants);
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
            metrics: engine.metrics().clone(),
            health: engine.health().clone(),
            pusher_wake: engine.pusher_wake(),
            reconcile_after: engine.reconcile_after(),
            leases: engine.inner.leases.clone(),
            partners: PartnerCounters {
                pageup: pageup.clone(),
                theary: theary.clone(),
            },
        }
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
        }
    }
}

/// Both partners' clients, held only to read their counters for `/metrics`.
#[derive(Clone)]
pub struct PartnerCounters {
    pageup: PageUpClient,
    theary: ThearyClient,
}

/// Routes of the service.
pub fn router(engine: &Engine) -> Router {
    routes(AppState::new(engine))
}

/// Routes of the service over `state`.
pub fn routes(state: AppState) -> Router {
    let hooks = webhooks::router(state.webhooks());
    let rest = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .merge(session::router())
        .merge(reports::router())
        .merge(ops::router())
        .with_state(state);
    hooks.merge(rest)
}

async fn metrics(
    State(store): State<Store>,
    State(m): State<Arc<Metrics>>,
    State(partners): State<PartnerCounters>,
) -> Response {
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
    let gauges = [
        (
            "checkbridge_owed_orders",
            "checks waiting for their Theary order",
            owed.orders as f64,
        ),
        (
            "checkbridge_owed_pushes",
            "checks whose PageUp document is behind",
            owed.pushes as f64,
        ),
        (
            "checkbridge_open_searches",
            "searches of ordered checks with no result yet",
            owed.open_searches as f64,
        ),
        (
            "checkbridge_oldest_owed_push_seconds",
            "age of the oldest PageUp update still owed",
            oldest as f64 / 1000.0,
        ),
        (
            "checkbridge_open_health_issues",
            "health issues open now (see /ops or `checkbridge tenants health`)",
            issues.len() as f64,
        ),
    ];
    let (pageup, theary) = (&partners.pageup, &partners.theary);
    m.set(
        "checkbridge_token_fetches_total",
        &[("partner", "pageup")],
        pageup.token_fetches(),
    );
    m.set(
        "checkbridge_token_fetches_total",
        &[("partner", "theary")],
        theary.token_fetches(),
    );
    m.set(
        "checkbridge_call_retries_total",
        &[("partner", "pageup")],
        pageup.retries(),
    );
    m.set(
        "checkbridge_call_retries_total",
        &[("partner", "theary")],
        theary.retries(),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        m.render(&gauges),
    )
        .into_response()
}

/// Ready while the database answers within two seconds (a load balancer asks often; a
/// database that does not answer must not hold its requests for the pool's timeout).
async fn ready(
    State(store): State<Store>,
    State(leases): State<Arc<crate::sync::Leases>>,
) -> Response {
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
