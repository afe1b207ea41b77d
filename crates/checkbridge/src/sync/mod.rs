//! The sync loops of DESIGN.md: poller, orderer, pusher and reconciler. Each is
//! level-triggered (it reads what is owed from the store, not from messages it could miss)
//! and idempotent (doing a step twice is harmless), so a crash at any instant loses nothing:
//! the next run finds the same owed work and does it.
//!
//! Each step is a public method, so tests can drive the pipeline one step at a time; `run`
//! loops them until shutdown.

pub mod candidate;
mod keeper;
mod leases;
mod monitor;
mod order;
mod pipeline;
mod poll;
mod purge;
mod push;
mod reconcile;
pub mod stages;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use outbound::{HttpSettings, RetryPolicy};
use pageup::{Limits, PageUpClient, PageUpTenant};
use rand::Rng;
use theary::{ThearyClient, ThearyConfig};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Roles, TenantConfig};
use crate::crypto::{CryptoError, Keyring};
use crate::domain::ids::{CheckId, TenantKey};
use crate::domain::view::ReportLinks;
use crate::error::error_chain;
use crate::store::{Store, StoreError};

/// Why a step of a loop could not be done (an outbound failure is not one: it is recorded
/// on the work and retried).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("database")]
    Store(#[from] StoreError),
    #[error("encryption")]
    Crypto(#[from] CryptoError),
    /// The step stopped before an outbound call because this replica's leases could not be
    /// renewed in time (the store is unreachable); its work is given back and done again.
    #[error("the lease could not be renewed in time; the work is given back")]
    LeaseLapsed,
}

pub use monitor::{alert_body, MonitorReport};
pub use poll::{PollReport, PAGE_SIZE};
pub use purge::PurgeReport;

pub(crate) use leases::{Held, Hold, Leases};
/// Checks taken per step of the orderer, pusher and reconciler.
const BATCH: i64 = 100;
/// Idle wait of a loop that found nothing to do (a wake-up cuts it short).
const IDLE: Duration = Duration::from_millis(200);

/// A tenant with its connection settings resolved once.
#[derive(Debug)]
pub(crate) struct TenantRt {
    pub key: TenantKey,
    /// Shared with the pages (`http::pages::Tenants`), not copied: 10,000 tenants' settings
    /// are held once.
    pub cfg: Arc<TenantConfig>,
    pub pageup: PageUpTenant,
    pub theary: ThearyConfig,
}

/// The pipeline: the store, both clients, and the tenants.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub store: Store,
    pub keyring: Keyring,
    pub pageup: PageUpClient,
    pub theary: ThearyClient,
    pub tenants: BTreeMap<TenantKey, Arc<TenantRt>>,
    pub owner: String,
    pub public_base_url: String,
    pub links: ReportLinks,
    pub reconcile_after: Duration,
    pub concurrency: usize,
    /// Pieces of one tenant's work each loop may have in flight (`service.tenant_concurrency`).
    pub tenant_concurrency: usize,
    /// `service.require_certification`: live tenants wait for a passing UAT certification.
    pub require_certification: bool,
    /// The candidate form's mail (`[mail]`); without it no candidate is invited, and a
    /// check lacking what only the candidate could give fails at once, naming it.
    pub mailer: Option<Arc<crate::mail::Mailer>>,
    /// Wakes the candidate mailer (a request was recorded, or a resend asked for).
    pub wake_mailer: Arc<Notify>,
    /// Tenants a partner asked to slow down (a `Retry-After`), left out until then.
    pub slow_downs: pipeline::SlowDowns,
    /// PageUp updates the orderer sent on, as tasks of their own (finished before `run`
    /// returns), and the places for them (`service.concurrency`).
    pub followups: tokio_util::task::TaskTracker,
    pub followup_permits: Arc<tokio::sync::Semaphore>,
    /// Report PDFs rendered at once (`service.pdf_renders`).
    pub pdf_renders: usize,
    /// How sign-ins are limited (`service.sign_in`).
    pub sign_in: crate::config::SignInConfig,
    pub lookup_pages: u32,
    pub roles: Roles,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub wake_orderer: Arc<Notify>,
    pub wake_pusher: Arc<Notify>,
    /// Tenants this process is polling now (the store's lease keeps other replicas out).
    pub polling: Mutex<HashSet<TenantKey>>,
    /// What the health monitor has seen of calls and webhooks.
    pub health: Arc<crate::health::Monitor>,
    pub alerts: crate::config::AlertsConfig,
    /// `[http]`: the HTTP server's limits, the metrics token, the refused-request log.
    pub http: crate::config::HttpConfig,
    pub alert_http: reqwest::Client,
    /// The leases this replica works under (renewed by the keeper while work runs).
    pub leases: Arc<Leases>,
    /// A database outage long enough to report, while it lasts and until it is recorded.
    pub outage: Mutex<Option<monitor::Outage>>,
}

impl Engine {
    /// Builds the pipeline for `config` on `store`. Both partners' clients share one
    /// connection pool per host; tokens are cached per tenant.
    pub fn new(config: &Config, store: Store) -> anyhow::Result<Engine> {
        let http = outbound::http_client(&HttpSettings::default())?;
        let alert_http = http.clone();
        let pageup =
            PageUpClient::with_http(http.clone(), RetryPolicy::default(), Limits::default());
        let theary = ThearyClient::with_http(http, RetryPolicy::default());
        let tenants = config
            .tenants
            .iter()
            .map(|(key, cfg)| {
                (
                    TenantKey::new(key.clone()),
                    Arc::new(TenantRt {
                        key: TenantKey::new(key.clone()),
                        pageup: cfg.pageup_tenant(),
                        theary: cfg.theary_config(),
                        cfg: Arc::new(cfg.clone()),
                    }),
                )
            })
            .collect();
        let s = &config.service;
        let keyring = Keyring::new(s.master_keys()?, store.clone());
        let mailer = match &config.mail {
            Some(m) => Some(Arc::new(crate::mail::Mailer::new(&m.settings()?)?)),
            None => None,
        };
        Ok(Engine {
            inner: Arc::new(Inner {
                keyring,
                store,
                pageup,
                theary,
                tenants,
                owner: s.instance(),
                public_base_url: s.public_base_url.trim_end_matches('/').to_owned(),
                links: ReportLinks::new(&s.public_base_url),
                reconcile_after: Duration::from_secs(s.reconcile_after_secs),
                concurrency: usize::try_from(s.concurrency).unwrap_or(1).max(1),
                tenant_concurrency: usize::try_from(s.tenant_concurrency).unwrap_or(1).max(1),
                require_certification: s.require_certification,
                mailer,
                wake_mailer: Arc::new(Notify::new()),
                slow_downs: pipeline::SlowDowns::default(),
                followups: tokio_util::task::TaskTracker::new(),
                followup_permits: Arc::new(tokio::sync::Semaphore::new(
                    usize::try_from(s.concurrency).unwrap_or(1).max(1),
                )),
                sign_in: s.sign_in.clone(),
                pdf_renders: usize::try_from(s.pdf_renders).unwrap_or(1).max(1),
                lookup_pages: u32::try_from(s.order_lookup_pages)
                    .unwrap_or(u32::MAX)
                    .max(1),
                roles: s.roles.clone(),
                metrics: Arc::new(crate::metrics::Metrics::new(
                    config.tenants.len() as u64 > s.metrics_tenant_limit,
                )),
                wake_orderer: Arc::new(Notify::new()),
                wake_pusher: Arc::new(Notify::new()),
                polling: Mutex::new(HashSet::new()),
                health: Arc::new(crate::health::Monitor::new(config.health.clone())),
                alerts: config.alerts.clone(),
                http: config.http.clone(),
                alert_http,
                leases: Arc::new(Leases::new(Duration::from_secs(s.lease_secs))),
                outage: Mutex::new(None),
            }),
        })
    }

    /// The store this pipeline runs on.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The service's counters.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.inner.metrics
    }

    /// What the health monitor has seen (the webhook receiver adds to it).
    pub fn health(&self) -> &Arc<crate::health::Monitor> {
        &self.inner.health
    }

    /// Records how a call for `tenant` ended, for health issues.
    pub(crate) fn observe(
        &self,
        tenant: &TenantKey,
        partner: &'static str,
        operation: &str,
        outcome: &crate::health::Outcome,
    ) {
        self.inner.health.record(
            tenant.as_str(),
            partner,
            operation,
            outcome,
            crate::time::now_ms(),
        );
    }

    /// Records how a PageUp call for `tenant` ended, for health issues.
    pub(crate) fn observe_pageup<T>(
        &self,
        tenant: &TenantKey,
        operation: &str,
        started: std::time::Instant,
        r: &Result<T, pageup::Error>,
    ) {
        use crate::health::Outcome;
        self.inner
            .metrics
            .call("pageup", operation, r.is_ok(), started.elapsed());
        let outcome = match r {
            Ok(_) => Outcome::Ok,
            Err(e) if e.is_auth() => Outcome::AuthFailed {
                partner: "pageup",
                message: e.to_string(),
            },
            Err(e) => Outcome::Failed(e.to_string()),
        };
        self.observe(tenant, "pageup", operation, &outcome);
    }

    /// Records how a Theary call for `tenant` ended and how long it took (health issues,
    /// metrics).
    pub(crate) fn observe_theary<T>(
        &self,
        tenant: &TenantKey,
        operation: &str,
        started: std::time::Instant,
        r: &Result<T, theary::Error>,
    ) {
        use crate::health::Outcome;
        use theary::Error as E;
        self.inner
            .metrics
            .call("theary", operation, r.is_ok(), started.elapsed());
        let outcome = match r {
            Ok(_) => Outcome::Ok,
            Err(
                e @ (E::BadCredentials { .. } | E::WrongAudience { .. } | E::Unauthorized { .. }),
            ) => Outcome::AuthFailed {
                partner: "theary",
                message: e.to_string(),
            },
            Err(e) => Outcome::Failed(e.to_string()),
        };
        self.observe(tenant, "theary", operation, &outcome);
    }

    /// Both partners' clients (shared by every loop).
    pub fn clients(&self) -> (&PageUpClient, &ThearyClient) {
        (&self.inner.pageup, &self.inner.theary)
    }

    /// The tenants' data keys.
    pub fn keyring(&self) -> &Keyring {
        &self.inner.keyring
    }

    /// Notified whenever PageUp is owed a new document (the webhook receiver uses it).
    pub fn orderer_wake(&self) -> Arc<Notify> {
        self.inner.wake_orderer.clone()
    }

    pub fn pusher_wake(&self) -> Arc<Notify> {
        self.inner.wake_pusher.clone()
    }

    /// `service.public_base_url`, without a trailing slash.
    pub fn public_base_url(&self) -> &str {
        &self.inner.public_base_url
    }

    /// `[http]` of the configuration.
    pub fn http_config(&self) -> &crate::config::HttpConfig {
        &self.inner.http
    }

    /// The token `/metrics` requires, when one is set.
    pub fn metrics_token(&self) -> Option<&str> {
        self.inner.http.metrics_token()
    }

    /// Keys of the configured tenants.
    pub fn tenant_keys(&self) -> impl Iterator<Item = &TenantKey> {
        self.inner.tenants.keys()
    }

    /// Where report links point.
    pub fn links(&self) -> &ReportLinks {
        &self.inner.links
    }

    /// How long a search may stay quiet before the reconciler looks.
    pub fn reconcile_after(&self) -> Duration {
        self.inner.reconcile_after
    }

    /// Report PDFs this replica renders at once.
    pub fn pdf_renders(&self) -> usize {
        self.inner.pdf_renders
    }

    /// How sign-ins are limited.
    pub fn sign_in(&self) -> &crate::config::SignInConfig {
        &self.inner.sign_in
    }

    /// This replica's name on its leases.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// Prepares the store for this replica: a schedule row per tenant, and any lease left
    /// in this replica's name by a previous run (a crash) freed at once.
    pub async fn start(&self) -> Result<(), StoreError> {
        let freed = self.inner.store.release_leases(&self.inner.owner).await?;
        if freed > 0 {
            tracing::info!(freed, "leases left by this replica's previous run freed");
        }
        self.inner
            .store
            .ensure_tenants(self.inner.tenants.keys())
            .await
    }

    /// Runs the loops this replica's roles name until `shutdown` is cancelled. Call
    /// [`Engine::start`] once before.
    pub async fn run(&self, shutdown: CancellationToken) {
        let roles = self.inner.roles.clone();
        let mut tasks = tokio::task::JoinSet::new();
        {
            let (e, s) = (self.clone(), shutdown.clone());
            tasks.spawn(async move { e.lease_keeper(s).await });
        }
        if roles.poller {
            let (e, s) = (self.clone(), shutdown.clone());
            tasks.spawn(async move { e.poll_scheduler(s).await });
        }
        // The candidate mailer sends owed mail (an outbound call, as the orderer's are) and
        // expires unanswered requests.
        if roles.orderer {
            let (e, s) = (self.clone(), shutdown.clone());
            tasks.spawn(async move { e.candidate_mailer(s).await });
        }
        if roles.orderer {
            let (e, s) = (self.clone(), shutdown.clone());
            let wake = self.inner.wake_orderer.clone();
            tasks.spawn(async move {
                let kind = pipeline::Kind {
                    name: "orderer",
                    partner: "theary",
                    tenant: |w: &crate::store::OrderWork| &w.tenant,
                    held: |w: &crate::store::OrderWork| Held::Order(w.id.clone()),
                };
                pipeline::run(
                    &e,
                    kind,
                    s,
                    wake,
                    |limit, except| {
                        let e = e.clone();
                        async move {
                            e.inner
                                .store
                                .lease_order_work_except(
                                    &e.inner.owner,
                                    crate::time::now_ms(),
                                    e.lease(),
                                    limit,
                                    &except,
                                )
                                .await
                        }
                    },
                    |w| {
                        let e = e.clone();
                        async move { e.order_leased(&w, order::ThenPush::Spawned).await }
                    },
                )
                .await;
            });
        }
        if roles.pusher {
            let (e, s) = (self.clone(), shutdown.clone());
            let wake = self.inner.wake_pusher.clone();
            tasks.spawn(async move {
                let kind = pipeline::Kind {
                    name: "pusher",
                    partner: "pageup",
                    tenant: |w: &crate::store::PushWork| &w.tenant,
                    held: |w: &crate::store::PushWork| Held::Push(w.id.clone()),
                };
                pipeline::run(
                    &e,
                    kind,
                    s,
                    wake,
                    |limit, except| {
                        let e = e.clone();
                        async move {
                            e.inner
                                .store
                                .lease_push_work_except(
                                    &e.inner.owner,
                                    crate::time::now_ms(),
                                    e.lease(),
                                    limit,
                                    &except,
                                )
                                .await
                        }
                    },
                    |w| {
                        let e = e.clone();
                        async move { e.push_leased(&w.tenant, &w.id, w.attempts, None).await }
                    },
                )
                .await;
            });
        }
        if roles.reconciler {
            let (e, s) = (self.clone(), shutdown.clone());
            tasks.spawn(async move {
                run_loop(&e.clone(), "reconciler", s, Arc::new(Notify::new()), || {
                    let e = e.clone();
                    async move { e.reconcile_step().await }
                })
                .await;
            });
        }
        if roles.monitor {
            let (e, s) = (self.clone(), shutdown.clone());
            tasks.spawn(async move { e.monitor_loop(s).await });
        }
        if roles.purger {
            let (e, s) = (self.clone(), shutdown.clone());
            tasks.spawn(async move { e.purge_loop(s).await });
        }
        while tasks.join_next().await.is_some() {}
        // The PageUp updates the orderer sent on finish too.
        self.inner.followups.close();
        self.inner.followups.wait().await;
        self.inner.followups.reopen();
    }

    /// Runs `f` on each piece of leased work, at most `concurrency` at a time, each held
    /// (see [`Leases`]) while it runs: work whose step fails is given back at once when the
    /// store answers. Returns how many there were, or the first error once all have run.
    pub(crate) async fn each<T, R, F, Fut>(
        &self,
        work: Vec<T>,
        held: impl Fn(&T) -> Held,
        f: F,
    ) -> Result<usize, SyncError>
    where
        F: Fn(T) -> Fut,
        Fut: std::future::Future<Output = Result<R, SyncError>>,
    {
        use futures::StreamExt as _;
        let n = work.len();
        let held_work: Vec<(Hold, T)> = work
            .into_iter()
            .map(|w| (self.inner.leases.hold(held(&w)), w))
            .collect();
        let results: Vec<Result<R, SyncError>> = futures::stream::iter(held_work)
            .map(|(hold, w)| {
                let done = f(w);
                async move {
                    let r = done.await;
                    // Only a failed store (or a lapsed lease) leaves the work to give back;
                    // any other error was the work's own, and it stands as recorded.
                    if !matches!(r, Err(SyncError::Store(_) | SyncError::LeaseLapsed)) {
                        hold.done();
                    }
                    r
                }
            })
            .buffer_unordered(self.inner.concurrency)
            .collect()
            .await;
        for r in results {
            r?;
        }
        Ok(n)
    }

    /// Records a failed call in the tenant's error log (for operators and PageUp support).
    /// A failure to record is itself only logged: it must not stop the work.
    pub(crate) async fn log_failure(
        &self,
        tenant: &TenantKey,
        operation: &str,
        http_status: Option<u16>,
        message: String,
        check_id: Option<&CheckId>,
    ) {
        let entry = crate::store::ErrorEntry {
            at: crate::time::now_ms(),
            tenant: tenant.clone(),
            operation: operation.to_owned(),
            http_status: http_status.map(i64::from),
            message,
            correlation: check_id
                .map(|c| c.as_str().to_owned())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            check_id: check_id.cloned(),
        };
        if let Err(e) = self.inner.store.log_error(&entry).await {
            tracing::error!(%tenant, operation, error = %error_chain(&e), "error log unavailable");
        }
    }

    pub(crate) fn tenant(&self, key: &TenantKey) -> Option<&Arc<TenantRt>> {
        self.inner.tenants.get(key)
    }

    /// How long this replica's leases last from their last renewal.
    pub(crate) fn lease(&self) -> Duration {
        self.inner.leases.lease
    }

    /// Runs an outbound call only while this replica's leases are certainly its own (see
    /// [`Leases::within`]); `LeaseLapsed` otherwise.
    pub(crate) async fn within_lease<F: std::future::Future>(
        &self,
        call: F,
    ) -> Result<F::Output, SyncError> {
        self.inner
            .leases
            .within(call)
            .await
            .ok_or(SyncError::LeaseLapsed)
    }

    /// A loop met a store error: counted by loop, and the start of an outage if it is one.
    pub(crate) fn store_error(&self, loop_name: &'static str, e: &SyncError) {
        if matches!(e, SyncError::Store(_) | SyncError::LeaseLapsed) {
            self.inner.leases.store_failed(crate::time::now_ms());
            self.inner.metrics.store_error(loop_name);
        }
    }
}

/// Repeats `step` while it finds work; when it finds none, waits for a wake-up or `IDLE`.
async fn run_loop<F, Fut>(
    engine: &Engine,
    name: &'static str,
    shutdown: CancellationToken,
    wake: Arc<Notify>,
    step: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<usize, SyncError>>,
{
    let mut failures: u32 = 0;
    loop {
        let pause = match step().await {
            Ok(0) => {
                failures = 0;
                IDLE
            }
            Ok(_) => {
                failures = 0;
                Duration::ZERO
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                engine.store_error(name, &e);
                tracing::error!(loop_name = name, error = %error_chain(&e), "store unavailable; retrying");
                backoff(
                    failures,
                    Duration::from_millis(500),
                    Duration::from_secs(30),
                )
            }
        };
        if pause.is_zero() {
            if shutdown.is_cancelled() {
                return;
            }
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Exponential backoff with full jitter: a random wait up to `base * 2^(attempt-1)`, capped,
/// and never under a tenth of that ceiling.
pub(crate) fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(2_u32.saturating_pow(attempt.saturating_sub(1).min(20)));
    let ceiling = exp.min(cap);
    let floor = ceiling / 10;
    let span = ceiling.saturating_sub(floor).as_millis().max(1) as u64;
    floor + Duration::from_millis(rand::thread_rng().gen_range(0..span))
}

pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
