//! The lease keeper: renews the leases of the work this replica is doing every third of the
//! lease, and gives back, as soon as the store answers, every lease whose step could not
//! record its outcome (see `leases`). It runs on every replica, whatever its roles.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{error_chain, Engine, Held, SyncError};
use crate::store::RenewSet;
use crate::time::now_ms;

/// How soon a keeper that could not give everything back tries again.
const RETRY: Duration = Duration::from_secs(1);

/// What one turn of the keeper did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeeperReport {
    /// Leases given back (their work is due again).
    pub given_back: usize,
    /// Leases renewed.
    pub renewed: usize,
    /// Orphans still waiting for the store.
    pub waiting: usize,
}

impl Engine {
    pub(crate) async fn lease_keeper(&self, shutdown: CancellationToken) {
        let every = self.lease() / 3;
        self.inner.leases.kept_from(now_ms());
        loop {
            let report = self.keeper_step().await;
            let pause = match &report {
                Ok(r) if r.waiting == 0 => every,
                Ok(_) => RETRY,
                Err(e) => {
                    self.store_error("keeper", e);
                    tracing::warn!(error = %error_chain(e), "leases could not be renewed; retrying");
                    RETRY
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.inner.leases.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One turn: give back the orphans (each makes its work due again), then renew every
    /// live lease. Public so tests can drive it.
    pub async fn keeper_step(&self) -> Result<KeeperReport, SyncError> {
        let leases = &self.inner.leases;
        let mut report = KeeperReport::default();
        let mut left = Vec::new();
        let mut failure = None;
        for held in leases.take_orphans() {
            if failure.is_some() {
                left.push(held);
                continue;
            }
            // Work taken up again by a new step is that step's; nothing to give back.
            if leases.is_live(&held) {
                continue;
            }
            match self.give_back(&held).await {
                Ok(()) => report.given_back += 1,
                Err(e) => {
                    left.push(held);
                    failure = Some(e);
                }
            }
        }
        report.waiting = left.len();
        leases.keep_orphans(left);
        if let Some(e) = failure {
            return Err(e);
        }
        let now = now_ms();
        let live = leases.live();
        let (orders, pushes, polls, alerts): (Vec<&str>, Vec<&str>, Vec<&str>, Vec<&str>) = (
            live.orders.iter().map(|c| c.as_str()).collect(),
            live.pushes.iter().map(|c| c.as_str()).collect(),
            live.polls.iter().map(|t| t.as_str()).collect(),
            live.alerts.iter().map(String::as_str).collect(),
        );
        self.inner
            .store
            .renew_leases(
                &self.inner.owner,
                now + super::ms(self.lease()),
                &RenewSet {
                    orders: &orders,
                    pushes: &pushes,
                    polls: &polls,
                    alerts: &alerts,
                },
            )
            .await?;
        leases.renewed(now);
        report.renewed = orders.len() + pushes.len() + polls.len() + alerts.len();
        if let Some(since) = leases.store_answered() {
            tracing::info!(
                down_ms = now - since,
                "the database answers again; leases renewed"
            );
        }
        Ok(report)
    }

    /// Gives one orphaned lease back and makes its work due now.
    async fn give_back(&self, held: &Held) -> Result<(), SyncError> {
        let store = &self.inner.store;
        let owner = &self.inner.owner;
        let now = now_ms();
        match held {
            Held::Poll(tenant) => {
                store
                    .release_tenant_poll(
                        tenant,
                        owner,
                        now,
                        Some("the last poll could not be recorded (database unavailable); polling again"),
                    )
                    .await?;
                tracing::info!(%tenant, "poll lease given back after a failed poll; the tenant is due now");
            }
            Held::Order(check) => store.release_order(check, owner).await?,
            Held::Push(check) => {
                store.release_push(check, owner).await?;
                self.inner.wake_pusher.notify_one();
            }
            Held::Reconcile(check) => store.reconcile_again(check, now).await?,
            Held::Alert(issue) => store.alert_release(issue, owner, None).await?,
        }
        if matches!(held, Held::Order(_)) {
            self.inner.wake_orderer.notify_one();
        }
        Ok(())
    }
}
