//! The reconciler: the backstop for webhooks that never arrive, and the only way to learn of
//! a cancellation (Theary is not known to announce one). Open searches quiet for longer
//! than `reconcile_after` are read from Theary and moved forward like an event would.

use super::{error_chain, Engine, Held, SyncError};
use crate::crypto::Place;
use crate::domain::events::update_for_search;
use crate::domain::ids::ThearySearchId;
use crate::store::ReconcileWork;
use crate::time::now_ms;

impl Engine {
    /// Looks at every check with quiet open searches (up to a batch). Returns how many.
    pub async fn reconcile_step(&self) -> Result<usize, SyncError> {
        let now = now_ms();
        let work = self
            .inner
            .store
            .lease_reconcile_work(
                now,
                now + super::ms(self.inner.reconcile_after),
                super::BATCH,
            )
            .await?;
        self.each(
            work,
            |w| Held::Reconcile(w.check_id.clone()),
            |w| async move { self.reconcile_one(&w).await },
        )
        .await
    }

    /// Reads one check's searches from Theary and applies what moved. Returns how many moved.
    pub async fn reconcile_one(&self, w: &ReconcileWork) -> Result<usize, SyncError> {
        let Some(t) = self.tenant(&w.tenant).cloned() else {
            return Ok(0);
        };
        let started = std::time::Instant::now();
        let read = self
            .inner
            .theary
            .searches(&t.theary, w.reference.as_str())
            .await;
        self.observe_theary(&w.tenant, "theary.searches", started, &read);
        let theirs = match read {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(tenant = %w.tenant, check = %w.check_id, reference = %w.reference, error = %error_chain(&e), "could not read searches from Theary; will look again");
                self.log_failure(
                    &w.tenant,
                    "theary.searches",
                    e.status(),
                    e.to_string(),
                    Some(&w.check_id),
                )
                .await;
                return Ok(0);
            }
        };
        let ours = self.inner.store.searches_of(&w.tenant, &w.check_id).await?;
        let mut moved = 0;
        for s in &theirs {
            let theirs = ThearySearchId::new(&s.id);
            let Some(mine) = ours.iter().find(|o| {
                s.external_search_id.as_deref() == Some(o.id.as_str())
                    || o.theary_search_id.as_ref() == Some(&theirs)
            }) else {
                continue;
            };
            let Some(mut update) = update_for_search(s) else {
                continue;
            };
            if let Some(result) = update.result_json.take() {
                let place = Place::search_result(&w.tenant, &mine.id);
                update.result_json = Some(self.inner.keyring.seal(place, result.as_bytes()).await?);
            }
            if self
                .inner
                .store
                .apply_search_update(&w.tenant, &mine.id, &update, Some(&theirs), now_ms())
                .await?
            {
                tracing::info!(tenant = %w.tenant, check = %w.check_id, search = %mine.id, state = %update.state, "search moved by reconciliation (its webhook did not arrive)");
                moved += 1;
                self.inner.metrics.reconciled(w.tenant.as_str());
            }
        }
        if moved > 0 {
            self.inner.wake_pusher.notify_one();
        }
        Ok(moved)
    }
}
