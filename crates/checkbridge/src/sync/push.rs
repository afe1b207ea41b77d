//! The pusher: whenever a check's desired version is ahead of what PageUp acknowledged, PUT
//! the whole document computed from the check's current state. The first document is
//! always the claim (`queued`); after that, the state's document. One pusher per check at a
//! time (lease), and the acknowledged version only goes up, so an older document never
//! follows a newer one.

use std::time::Duration;

use pageup::CheckStatus;

use super::stages::{self, Stage};
use super::{backoff, error_chain, Engine, Held, SyncError};
use crate::domain::check::CheckRecord;
use crate::domain::ids::{CheckId, TenantKey};
use crate::domain::view::{next_document, view, CheckView};
use crate::time::now_ms;

/// Outcome of one push attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// PageUp acknowledged this status.
    Sent(CheckStatus),
    /// Nothing owed, or another worker holds the check.
    Nothing,
    /// PageUp did not take it; tried again later.
    Deferred,
}

impl Engine {
    /// Pushes every due check (up to a batch). Returns how many were tried.
    pub async fn push_step(&self) -> Result<usize, SyncError> {
        let store = &self.inner.store;
        let work = store
            .lease_push_work(&self.inner.owner, now_ms(), self.lease(), super::BATCH)
            .await?;
        self.each(
            work,
            |w| Held::Push(w.id.clone()),
            |w| async move { self.push_leased(&w.tenant, &w.id, w.attempts, None).await },
        )
        .await
    }

    /// Pushes one check now if it owes PageUp a document, until PageUp is current (the
    /// poller's immediate claim). A check another worker holds is left to it.
    pub async fn push_check(&self, tenant: &TenantKey, id: &CheckId) -> Result<Pushed, SyncError> {
        let mut last = Pushed::Nothing;
        // A claim that is also a failure owes two documents (`queued`, then `failed`).
        for _ in 0..3 {
            let hold = self.inner.leases.hold(Held::Push(id.clone()));
            if !self
                .inner
                .store
                .lease_push(id, &self.inner.owner, now_ms(), self.lease())
                .await?
            {
                hold.done();
                return Ok(last);
            }
            last = self.push_leased(tenant, id, 0, None).await?;
            hold.done();
            if !matches!(last, Pushed::Sent(_)) {
                return Ok(last);
            }
        }
        Ok(last)
    }

    /// Pushes a check whose push lease this replica holds. `answered` is told as soon as
    /// PageUp has answered the PUT, before the outcome is recorded (or dropped, when no PUT
    /// is sent): the poller's next GET needs only PageUp's answer.
    pub(super) async fn push_leased(
        &self,
        tenant: &TenantKey,
        id: &CheckId,
        attempts: i64,
        answered: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<Pushed, SyncError> {
        let store = &self.inner.store;
        let owner = &self.inner.owner;
        let began = now_ms();
        let Some(snap) = store.check_record(tenant, id).await? else {
            return Ok(Pushed::Nothing);
        };
        let Some(t) = self.tenant(tenant).cloned() else {
            store
                .push_retry_later(id, owner, "tenant not configured", now_ms() + 3_600_000)
                .await?;
            return Ok(Pushed::Deferred);
        };
        if snap.desired_version <= snap.acked_version {
            store.release_push(id, owner).await?;
            return Ok(Pushed::Nothing);
        }
        let (doc, version) = next_document(&snap, &view(&snap, &self.inner.links, &t.cfg));
        let (sent_stage, acked_stage) = match doc.status {
            CheckStatus::Queued => (Some(Stage::ClaimSent), Some(Stage::ClaimAcked)),
            CheckStatus::New => {
                stages::record_at(id, Stage::NewLeased, began);
                (Some(Stage::NewSent), Some(Stage::NewAcked))
            }
            _ => (None, None),
        };
        if let Some(s) = sent_stage {
            stages::record(id, s);
        }
        let started = std::time::Instant::now();
        let sent = self
            .within_lease(
                self.inner
                    .pageup
                    .update_status(&t.pageup, snap.pageup_id.as_str(), &doc),
            )
            .await?;
        self.observe_pageup(tenant, "pageup.update", started, &sent);
        if let Some(answered) = answered {
            let _ = answered.send(());
        }
        match sent {
            Ok(()) => {
                let now = now_ms();
                if let Some(s) = acked_stage {
                    stages::record_at(id, s, now);
                }
                store.ack_push(id, owner, version, now).await?;
                let m = &self.inner.metrics;
                m.pageup_update(tenant.as_str(), doc.status.as_str(), true);
                let since_claim = u64::try_from(now - snap.created_at).unwrap_or(0);
                m.acknowledged(
                    tenant.as_str(),
                    &doc.status,
                    Duration::from_millis(since_claim),
                );
                tracing::info!(%tenant, check = %id, pageup_id = %snap.pageup_id, status = %doc.status.as_str(), version, "PageUp status updated");
                if version < snap.desired_version {
                    self.inner.wake_pusher.notify_one();
                }
                Ok(Pushed::Sent(doc.status))
            }
            Err(e) => {
                let attempt = u32::try_from(attempts)
                    .unwrap_or(u32::MAX)
                    .saturating_add(1);
                let wait = if let Some(after) = e.retry_after() {
                    // PageUp asked this tenant to wait: none of its updates go before then.
                    self.inner
                        .slow_downs
                        .slow_down("pageup", tenant, now_ms() + super::ms(after));
                    after
                } else if e.is_transient() {
                    backoff(attempt, Duration::from_secs(2), Duration::from_secs(600))
                } else if e.is_auth() {
                    backoff(attempt, Duration::from_secs(60), Duration::from_secs(1800))
                } else {
                    // PageUp refused the document itself (a 4xx): an operator should look;
                    // it is tried again, rarely, in case the cause was on PageUp's side.
                    backoff(attempt, Duration::from_secs(60), Duration::from_secs(3600))
                };
                let level_error = !e.is_transient();
                if level_error {
                    tracing::error!(%tenant, check = %id, pageup_id = %snap.pageup_id, status = %doc.status.as_str(), error = %e, "PageUp refused a status update");
                } else {
                    tracing::warn!(%tenant, check = %id, pageup_id = %snap.pageup_id, error = %error_chain(&e), "PageUp status update failed; will retry");
                }
                self.inner
                    .metrics
                    .pageup_update(tenant.as_str(), doc.status.as_str(), false);
                self.log_failure(
                    tenant,
                    "pageup.update",
                    e.status(),
                    format!("{} (sending status {})", e, doc.status.as_str()),
                    Some(id),
                )
                .await;
                store
                    .push_retry_later(id, owner, &e.to_string(), now_ms() + super::ms(wait))
                    .await?;
                Ok(Pushed::Deferred)
            }
        }
    }

    /// The view of a check as it stands (everyone reads this: the report page, the
    /// operator page, `checks show`): None for a check or tenant this replica does not know.
    pub async fn check_view(
        &self,
        tenant: &TenantKey,
        id: &CheckId,
    ) -> Result<Option<(CheckRecord, CheckView)>, SyncError> {
        let Some(t) = self.tenant(tenant).cloned() else {
            return Ok(None);
        };
        let Some(check) = self.inner.store.check_record(tenant, id).await? else {
            return Ok(None);
        };
        let v = view(&check, &self.inner.links, &t.cfg);
        Ok(Some((check, v)))
    }
}
