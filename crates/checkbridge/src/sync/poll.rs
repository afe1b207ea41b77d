//! The poller: per tenant, under a lease, GET pending checks, record each, and claim it in
//! PageUp at once (`queued`). A full page (5) is followed by another GET at once; otherwise
//! the tenant is next due one interval (less a jitter of up to 2%) after this poll began, or
//! as long as a 429 asks.
//!
//! Scheduling is one store query per tick for the tenants that are due, whatever their
//! number; each due tenant costs only its own requests, on the shared connection pools.

use std::sync::Arc;
use std::time::Duration;

use pageup::wire::Invitation;
use rand::Rng;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::push::Pushed;
use super::stages::{self, Stage};
use super::{backoff, error_chain, ms, Engine, Held, SyncError, TenantRt, IDLE};
use crate::crypto::Place;
use crate::domain::candidate::{decide, snapshot, CandidateField, Decision};
use crate::domain::ids::{CheckId, PageUpCheckId, SearchId, TenantKey};
use crate::domain::mapping::{build_order, search_types, OrderContext};
use crate::intake::Listed;
use crate::store::{NewCandidate, NewCheck, NewSearch, Plan};
use crate::time::now_ms;

/// PageUp returns at most this many pending checks per GET.
pub const PAGE_SIZE: usize = 5;
/// The scheduler looks for due tenants at most this often.
const TICK: Duration = Duration::from_millis(20);
/// GETs in a row for one tenant before it yields to the others.
const MAX_PAGES: usize = 200;

/// What one poll of a tenant did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// GETs made.
    pub pages: usize,
    /// Checks recorded for the first time.
    pub claimed: usize,
    /// The poll did not run: another poller holds the tenant.
    pub skipped: bool,
    /// Why the poll stopped early, if it did (no secrets, no candidate data).
    pub error: Option<String>,
}

impl Engine {
    pub(crate) async fn poll_scheduler(&self, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(self.inner.concurrency));
        let mut failures = 0;
        loop {
            let pause = match self.inner.store.due_tenants(now_ms(), 500).await {
                Ok(due) => {
                    failures = 0;
                    for key in due {
                        // A tenant this replica does not poll (removed from the
                        // configuration, or disabled) is looked at again a minute later,
                        // so it neither keeps the scheduler busy nor crowds out the others.
                        let polled = self.tenant(&key).filter(|t| t.cfg.enabled).cloned();
                        let Some(t) = polled else {
                            if let Err(e) = self
                                .inner
                                .store
                                .postpone_tenant_poll(&key, now_ms(), now_ms() + 60_000)
                                .await
                            {
                                tracing::warn!(tenant = %key, error = %error_chain(&e), "could not postpone a tenant that is not polled");
                            }
                            continue;
                        };
                        {
                            let Ok(mut polling) = self.inner.polling.lock() else {
                                continue;
                            };
                            if !polling.insert(key.clone()) {
                                continue;
                            }
                        }
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            return;
                        };
                        let engine = self.clone();
                        tokio::spawn(async move {
                            // Leaves the in-flight set however the poll ends (a panic too).
                            let _guard = Polling {
                                engine: engine.clone(),
                                key: t.key.clone(),
                            };
                            let report = engine.poll_tenant(&t.key).await;
                            if let Err(e) = report {
                                engine.store_error("poller", &e);
                                tracing::error!(tenant = %t.key, error = %error_chain(&e), "poll not recorded; the tenant is polled again once the database answers");
                            }
                            drop(permit);
                        });
                    }
                    // Sleep until the next tenant is due (never less than TICK, never more
                    // than IDLE), so a due poll starts within TICK of its time.
                    match self.inner.store.next_poll_due(now_ms()).await {
                        Ok(Some(at)) => {
                            Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0))
                                .clamp(TICK, IDLE)
                        }
                        Ok(None) | Err(_) => IDLE,
                    }
                }
                Err(e) => {
                    failures += 1;
                    self.store_error("poller", &SyncError::Store(e));
                    tracing::error!("poll schedule unavailable (database); retrying");
                    backoff(
                        failures,
                        Duration::from_millis(500),
                        Duration::from_secs(30),
                    )
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Polls one tenant now, if no one else is: GET, record, claim, and again while pages
    /// come back full. Errors talking to PageUp end the poll and are reported, not returned.
    pub async fn poll_tenant(&self, key: &TenantKey) -> Result<PollReport, SyncError> {
        let mut report = PollReport::default();
        let Some(t) = self.tenant(key).cloned() else {
            report.error = Some(format!("tenant {key} is not configured"));
            return Ok(report);
        };
        let store = &self.inner.store;
        let owner = &self.inner.owner;
        // Held from before the lease is asked for: if the store fails from here on, the
        // keeper gives the lease back (whether or not it was granted) once it answers.
        let hold = self.inner.leases.hold(Held::Poll(key.clone()));
        if !store
            .lease_tenant_poll(key, owner, now_ms(), self.lease())
            .await?
        {
            hold.done();
            report.skipped = true;
            return Ok(report);
        }
        let interval = Duration::from_secs(t.cfg.poll_interval_secs.max(1));
        if t.cfg
            .requires_certification(self.inner.require_certification)
            && store.passing_certification(key, "uat").await?.is_none()
        {
            // Not polled, and saying why where operators look (`tenants list`, /ops).
            let why = format!(
                "not polled: tenant {key} is live and requires certification, and has no passing UAT certification (run checkbridge certify --tenant {key} --env uat --check ID)"
            );
            tracing::warn!(tenant = %key, "live tenant not polled: no passing UAT certification");
            report.error = Some(why);
            store
                .release_tenant_poll(key, owner, now_ms() + ms(interval), report.error.as_deref())
                .await?;
            hold.done();
            return Ok(report);
        }
        match self.poll_leased(&t, interval, &mut report).await {
            Ok(next_at) => {
                store
                    .release_tenant_poll(key, owner, next_at, report.error.as_deref())
                    .await?;
                hold.done();
                Ok(report)
            }
            // The store works but the step could not (candidate data would not seal): the
            // tenant waits its interval, as after any failed poll, rather than retrying hot.
            Err(e @ SyncError::Crypto(_)) => {
                store
                    .release_tenant_poll(key, owner, now_ms() + ms(interval), Some(&e.to_string()))
                    .await?;
                hold.done();
                Err(e)
            }
            // The store (or the lease) failed: the hold is given back by the keeper, and the
            // tenant is due at once, when the store answers.
            Err(e) => Err(e),
        }
    }

    /// The GETs and claims of one poll under its lease; returns when the tenant is next due.
    async fn poll_leased(
        &self,
        t: &TenantRt,
        interval: Duration,
        report: &mut PollReport,
    ) -> Result<i64, SyncError> {
        let key = &t.key;
        // The next poll is due one interval after this one began, whatever this one costs,
        // so a check never waits more than an interval for its first GET.
        let mut next_at = now_ms() + ms(jittered(interval));
        // The claims whose PageUp answer is still being recorded.
        let mut recording = Vec::new();
        loop {
            let listed_since = now_ms();
            let started = std::time::Instant::now();
            let listed = self.within_lease(self.list(t)).await?;
            self.observe_pageup(key, "pageup.list", started, &listed);
            let listed_at = now_ms();
            let page = match listed {
                Ok(page) => page,
                Err(e) => {
                    if let Some(wait) = e.retry_after() {
                        next_at = now_ms() + ms(wait.max(Duration::from_secs(1)));
                    }
                    if e.is_auth() {
                        tracing::error!(tenant = %key, error = %e, "PageUp refused this tenant's credentials; an operator must act");
                    } else {
                        tracing::warn!(tenant = %key, error = %error_chain(&e), "polling PageUp failed");
                    }
                    self.log_failure(key, "pageup.list", e.status(), e.to_string(), None)
                        .await;
                    self.inner.metrics.poll(key.as_str(), false);
                    report.error = Some(e.to_string());
                    break;
                }
            };
            report.pages += 1;
            self.inner.metrics.poll(key.as_str(), true);
            let full = page.len() >= PAGE_SIZE;
            // The checks of a page are claimed together: PageUp lists the next page only
            // once all of these are `queued`, so the page costs one round of PUTs, not five.
            let claims = self.claim_page(t, &page, listed_since, listed_at).await?;
            let mut new_here = 0;
            for claimed in claims {
                if let Claim::New(rest) = claimed? {
                    new_here += 1;
                    recording.push(rest);
                }
            }
            if new_here > 0 {
                // Orders need not wait for the rest of the backlog.
                report.claimed += new_here;
                self.inner.wake_orderer.notify_one();
            }
            if !full || report.pages >= MAX_PAGES {
                if full {
                    next_at = now_ms();
                }
                break;
            }
        }
        // The poll ends once every claim's outcome is recorded (or its failure known).
        for rest in recording {
            match rest.await {
                Ok(r) => r?,
                Err(e) => tracing::error!(tenant = %key, error = %e, "recording a claim panicked"),
            }
        }
        Ok(next_at)
    }

    /// One GET of pending checks. With an intake mapping each raw invitation is mapped
    /// (one that fails is listed as such, to be failed by `claim`); with field overrides
    /// alone the raw answer is rewritten first.
    async fn list(&self, t: &TenantRt) -> Result<Vec<Listed>, pageup::Error> {
        if let Some(mapping) = &t.cfg.mapping {
            let raw = self.inner.pageup.list_pending_raw(&t.pageup).await?;
            // Schema drift: in memory, written only when the tenant's shape changes.
            let alert = self
                .inner
                .alerts
                .webhook_url
                .as_ref()
                .is_some_and(|u| !secrecy::ExposeSecret::expose_secret(u).trim().is_empty());
            crate::intake::drift::watch(&self.inner.store, &t.key, mapping, &raw, alert).await;
            let overrides = crate::domain::fields::overrides(&t.cfg.fields);
            return crate::intake::read_list(&raw, mapping, overrides)
                .await
                .map_err(pageup::Error::Decode);
        }
        let read = if t.cfg.fields.is_empty() {
            self.inner.pageup.list_pending(&t.pageup).await?
        } else {
            let raw = self.inner.pageup.list_pending_raw(&t.pageup).await?;
            crate::domain::fields::read_list(&raw, &t.cfg.fields).map_err(pageup::Error::Decode)?
        };
        Ok(read
            .into_iter()
            .map(|inv| Listed::Read(Box::new(inv)))
            .collect())
    }

    /// Records one listed invitation and claims it in PageUp. `Some(true)` when it was new,
    /// `Some(false)` when already held, `None` when it has no id to claim it by.
    /// An invitation the tenant's mapping could not read is claimed and failed with a
    /// reason, and the mapping's error (never a value) goes to the error log.
    /// Claims a page: each check prepared (order built, secrets sealed), all of them recorded
    /// in one write (PageUp's next page waits for the whole page, and under a backlog a
    /// write's turn costs the same for one check as for five), then each claimed in PageUp.
    async fn claim_page(
        &self,
        t: &TenantRt,
        page: &[Listed],
        listed_since: i64,
        listed_at: i64,
    ) -> Result<Vec<Result<Claim, SyncError>>, SyncError> {
        let mut prepared = Vec::with_capacity(page.len());
        for listed in page {
            if let Some(p) = self.prepare_claim(t, listed).await? {
                prepared.push(p);
            }
        }
        let now = now_ms();
        let candidates: Vec<Option<NewCandidate<'_>>> =
            prepared.iter().map(Prepared::new_candidate).collect();
        let checks: Vec<NewCheck<'_>> = prepared
            .iter()
            .zip(&candidates)
            .map(|(p, c)| p.new_check(&t.key, c.as_ref()))
            .collect();
        let recorded = self
            .inner
            .store
            .record_claims_leased(&checks, now, &self.inner.owner, self.lease())
            .await?;
        drop(checks);
        drop(candidates);
        Ok(futures::future::join_all(
            prepared
                .into_iter()
                .zip(recorded)
                .map(|(p, r)| self.claimed(t, p, r, listed_since, listed_at, now)),
        )
        .await)
    }

    /// Prepares one listed invitation's claim; `None` when it has no id to claim it by.
    async fn prepare_claim<'l>(
        &self,
        t: &TenantRt,
        listed: &'l Listed,
    ) -> Result<Option<Prepared<'l>>, SyncError> {
        let unmapped_inv;
        let (inv, unmapped) = match listed {
            Listed::Read(inv) => (&**inv, None),
            Listed::Unmapped { id, why } => {
                unmapped_inv = Invitation {
                    id: id.clone(),
                    ..Invitation::default()
                };
                (&unmapped_inv, Some(why))
            }
        };
        let Some(pageup_id) = inv
            .id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PageUpCheckId::from)
        else {
            match unmapped {
                Some(why) => {
                    tracing::warn!(tenant = %t.key, "an invitation the intake mapping could not read, without an id to claim it by");
                    self.log_failure(
                        &t.key,
                        "intake.map",
                        None,
                        intake_failure(t, "an invitation without a readable id", why),
                        None,
                    )
                    .await;
                }
                None => {
                    tracing::warn!(tenant = %t.key, "PageUp listed a check without an id; it cannot be claimed")
                }
            }
            return Ok(None);
        };
        let now = now_ms();
        let check_id = CheckId::random();
        let secret = webhook_secret();
        let types = search_types(inv, &t.cfg);
        let searches: Vec<NewSearch> = types
            .iter()
            .map(|ty| NewSearch {
                id: SearchId::random(),
                search_type: ty.clone(),
            })
            .collect();
        // Built here, once: every attempt then sends the same order.
        let built: Built = {
            let key_of = |ty: &theary::wire::SearchType| {
                searches
                    .iter()
                    .find(|s| &s.search_type == ty)
                    .map(|s| s.id.as_str().to_owned())
                    .unwrap_or_default()
            };
            let today = crate::time::rfc3339(crate::time::now_ms());
            let ctx = OrderContext {
                tenant_key: &t.key,
                public_base_url: &self.inner.public_base_url,
                webhook_secret: &secret,
                search_key: &key_of,
                today: today.get(..10).unwrap_or_default(),
            };
            match unmapped {
                Some(_) => Built::Fail(UNMAPPED_REASON.to_owned()),
                None => {
                    let order = build_order(inv, &t.cfg, &ctx);
                    // Without mail no candidate can be invited: the order as it is, or a
                    // failure naming what is missing.
                    let decision = if self.inner.mailer.is_some() {
                        decide(&order, inv, t.cfg.candidate.intake)
                    } else {
                        match &order {
                            Ok(_) => Decision::Order,
                            Err(m) => Decision::Fail(m.reason_for_fail()),
                        }
                    };
                    match (decision, order) {
                        (Decision::Order, Ok(order)) => serde_json::to_string(&order)
                            .map(|j| Built::Order(zeroize::Zeroizing::new(j)))
                            .unwrap_or_else(|e| {
                                Built::Fail(format!(
                                    "The order could not be prepared ({e}). Please contact support."
                                ))
                            }),
                        (Decision::Order, Err(m)) => Built::Fail(m.reason_for_fail()),
                        (Decision::Fail(reason), _) => Built::Fail(reason),
                        (Decision::Invite(needs), _) => Built::Invite(needs),
                    }
                }
            }
        };
        let keyring = &self.inner.keyring;
        let sealed_secret = keyring
            .seal(Place::webhook_secret(&t.key, &check_id), secret.as_bytes())
            .await?;
        let sealed_order = match &built {
            Built::Order(order_json) => Some(
                keyring
                    .seal(Place::order(&t.key, &check_id), order_json.as_bytes())
                    .await?,
            ),
            _ => None,
        };
        let candidate = match &built {
            Built::Invite(needs) => Some(
                self.candidate_request(t, &check_id, inv, needs, now)
                    .await?,
            ),
            _ => None,
        };
        Ok(Some(Prepared {
            check_id,
            pageup_id,
            sealed_secret,
            sealed_order,
            candidate,
            built,
            searches,
            unmapped,
        }))
    }

    /// After the page was recorded: a new check is claimed in PageUp (`queued`), one held
    /// already is brought up to date.
    async fn claimed(
        &self,
        t: &TenantRt,
        p: Prepared<'_>,
        recorded: crate::store::Recorded,
        listed_since: i64,
        listed_at: i64,
        now: i64,
    ) -> Result<Claim, SyncError> {
        let store = &self.inner.store;
        let Prepared {
            pageup_id,
            built,
            searches,
            unmapped,
            ..
        } = p;
        if recorded.new {
            stages::record_at(&recorded.id, Stage::Listed, listed_at);
            stages::record(&recorded.id, Stage::Recorded);
            self.inner.metrics.claim(t.key.as_str());
            match &built {
                Built::Order(_) => {
                    tracing::info!(tenant = %t.key, %pageup_id, check = %recorded.id, searches = searches.len(), "check claimed")
                }
                Built::Invite(needs) => {
                    tracing::info!(tenant = %t.key, %pageup_id, check = %recorded.id, asked = needs.len(), "check claimed; the candidate is invited to the candidate form");
                    self.inner.metrics.candidate("invited", t.key.as_str());
                    self.inner.wake_mailer.notify_one();
                }
                Built::Fail(_) if unmapped.is_some() => {
                    tracing::info!(tenant = %t.key, %pageup_id, check = %recorded.id, "check claimed; the intake mapping could not read it");
                    if let Some(why) = unmapped {
                        self.log_failure(
                            &t.key,
                            "intake.map",
                            None,
                            intake_failure(t, &format!("PageUp check {pageup_id}"), why),
                            Some(&recorded.id),
                        )
                        .await;
                    }
                }
                Built::Fail(reason) => {
                    tracing::info!(tenant = %t.key, %pageup_id, check = %recorded.id, "check claimed; it cannot be ordered as it stands");
                    // PageUp support will ask why: the reason names fields, never values.
                    self.log_failure(
                        &t.key,
                        "order.prepare",
                        None,
                        format!("PageUp check {pageup_id} cannot be ordered: {reason}"),
                        Some(&recorded.id),
                    )
                    .await;
                }
            }
            // Claim at once: PageUp must see `queued` before the next GET lists it again.
            // The push lease came with the new row; a check that cannot be ordered owes
            // `failed` next. The claim runs as a task of its own and this returns once
            // PageUp has answered the PUT: recording the answer (and any `failed`) is off
            // the path of the next GET, and the poll waits for it before it ends.
            let hold = self.inner.leases.hold(Held::Push(recorded.id.clone()));
            let (answered, on_answer) = tokio::sync::oneshot::channel();
            let (e, tenant, id) = (self.clone(), t.key.clone(), recorded.id.clone());
            // A check that fails, or waits on the candidate, owes its next document at once.
            let cannot_order = !matches!(built, Built::Order(_));
            let rest = tokio::spawn(async move {
                let sent = e.push_leased(&tenant, &id, 0, Some(answered)).await?;
                hold.done();
                if cannot_order && matches!(sent, Pushed::Sent(_)) {
                    e.push_check(&tenant, &id).await?;
                }
                Ok(())
            });
            // An error before any PUT drops the sender: the task's own result says why.
            let _ = on_answer.await;
            return Ok(Claim::New(rest));
        }
        if store
            .reclaim_if_reset(&t.key, &recorded.id, listed_since, now)
            .await?
        {
            tracing::warn!(tenant = %t.key, %pageup_id, check = %recorded.id, "PageUp shows a check we hold as pending again; claiming it again");
        }
        self.push_check(&t.key, &recorded.id).await?;
        Ok(Claim::Held)
    }
}

/// What PageUp is told when the tenant's intake mapping could not read a check.
/// What a claim makes of its invitation.
enum Built {
    Order(zeroize::Zeroizing<String>),
    Fail(String),
    Invite(Vec<CandidateField>),
}

/// A candidate request's sealed parts, before it is recorded.
struct SealedRequest {
    token_hash: String,
    token_sealed: String,
    invitation_sealed: String,
    needs_json: String,
    expires_at: i64,
}

/// One listed check, ready to be recorded.
struct Prepared<'l> {
    check_id: CheckId,
    pageup_id: PageUpCheckId,
    sealed_secret: String,
    sealed_order: Option<String>,
    candidate: Option<SealedRequest>,
    built: Built,
    searches: Vec<NewSearch>,
    /// Why the tenant's intake mapping could not read it, if it could not.
    unmapped: Option<&'l crate::intake::MapError>,
}

impl Prepared<'_> {
    fn new_candidate(&self) -> Option<NewCandidate<'_>> {
        self.candidate.as_ref().map(|c| NewCandidate {
            token_hash: &c.token_hash,
            token_sealed: &c.token_sealed,
            invitation_sealed: &c.invitation_sealed,
            needs_json: &c.needs_json,
            expires_at: c.expires_at,
        })
    }

    fn new_check<'a>(
        &'a self,
        tenant: &'a TenantKey,
        candidate: Option<&'a NewCandidate<'a>>,
    ) -> NewCheck<'a> {
        let plan = match (&self.built, &self.sealed_order, candidate) {
            (Built::Order(_), Some(order_json), _) => Plan::Order { order_json },
            (Built::Fail(reason), _, _) => Plan::Failed { reason },
            (Built::Invite(_), _, Some(c)) => Plan::Candidate(c),
            _ => Plan::Failed {
                reason: "The order could not be prepared. Please contact support.",
            },
        };
        let searches: &[NewSearch] = match plan {
            Plan::Order { .. } | Plan::Candidate(_) => &self.searches,
            Plan::Failed { .. } => &[],
        };
        NewCheck {
            id: &self.check_id,
            tenant,
            pageup_id: &self.pageup_id,
            webhook_secret: &self.sealed_secret,
            searches,
            plan,
        }
    }
}

impl Engine {
    /// A new form token and the request's sealed columns for check `id`.
    async fn candidate_request(
        &self,
        t: &TenantRt,
        id: &CheckId,
        inv: &Invitation,
        needs: &[CandidateField],
        now: i64,
    ) -> Result<SealedRequest, SyncError> {
        let token = crate::sync::candidate::new_token();
        let keyring = &self.inner.keyring;
        let token_sealed = keyring
            .seal(
                Place::candidate(&t.key, id, "token_sealed"),
                token.as_bytes(),
            )
            .await?;
        let snapshot = zeroize::Zeroizing::new(snapshot(inv).to_string());
        let invitation_sealed = keyring
            .seal(
                Place::candidate(&t.key, id, "invitation"),
                snapshot.as_bytes(),
            )
            .await?;
        let days = i64::try_from(t.cfg.candidate.expiry_days).unwrap_or(7);
        Ok(SealedRequest {
            token_hash: crate::sync::candidate::token_hash(&token),
            token_sealed,
            invitation_sealed,
            needs_json: serde_json::to_string(needs).unwrap_or_else(|_| "[]".to_owned()),
            expires_at: now + days * 86_400_000,
        })
    }
}

const UNMAPPED_REASON: &str = "The background check request could not be read by the provider's integration (its intake mapping failed). Please contact support.";

/// One line for the error log: the tenant, the mapping (profile, file or inline) and why,
/// never a value from the invitation.
fn intake_failure(t: &TenantRt, what: &str, why: &crate::intake::MapError) -> String {
    let origin = t
        .cfg
        .mapping
        .as_ref()
        .map(|m| m.origin.to_string())
        .unwrap_or_else(|| "intake mapping".to_owned());
    format!("tenant {}: {origin} could not map {what}: {why}", t.key)
}

/// What became of one listed check.
enum Claim {
    /// It was held already (its document was brought up to date).
    Held,
    /// It was new: recorded and `queued` in PageUp; the task records PageUp's answer.
    New(tokio::task::JoinHandle<Result<(), SyncError>>),
}

/// Marks a tenant as being polled by this process until dropped.
struct Polling {
    engine: Engine,
    key: TenantKey,
}

impl Drop for Polling {
    fn drop(&mut self) {
        if let Ok(mut polling) = self.engine.inner.polling.lock() {
            polling.remove(&self.key);
        }
    }
}

/// A fresh per-order webhook secret: 32 random bytes, hex.
fn webhook_secret() -> zeroize::Zeroizing<String> {
    let bytes: zeroize::Zeroizing<[u8; 32]> = zeroize::Zeroizing::new(rand::thread_rng().gen());
    zeroize::Zeroizing::new(hex::encode(bytes.as_ref()))
}

/// `interval` less up to 2%, so tenants configured alike drift apart rather than poll in
/// lockstep, while no tenant ever waits longer than its interval.
fn jittered(interval: Duration) -> Duration {
    let f: f64 = rand::thread_rng().gen_range(0.98..=1.0);
    interval.mul_f64(f)
}
