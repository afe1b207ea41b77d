//! Webhook events in batches: under a burst of callbacks, the events waiting are written
//! by one task as one write (one savepoint, one turn of the writer, one commit on SQLite),
//! instead of each taking its turn. Each caller still returns only once its event is
//! durable. If a batch fails as a whole, each of its events is written again alone, so one
//! bad event fails alone.

use tokio::sync::{mpsc, oneshot};

use super::events::write_event;
use super::{EventRecord, Store, StoreError};
use crate::domain::check::SearchUpdate;
use crate::domain::ids::{CheckId, SearchId, TenantKey, ThearySearchId};

/// Events written together at most.
const MAX_BATCH: usize = 256;
/// Events waiting at most; callers beyond wait for room.
const QUEUE: usize = 4096;

/// An event waiting for the batch writer, owned so it can cross to its task.
pub(super) struct Pending {
    event_id: String,
    tenant: TenantKey,
    search_id: SearchId,
    check_id: CheckId,
    event_type: String,
    body: String,
    theary_search_id: Option<ThearySearchId>,
    body_digest: Option<String>,
    update: Option<SearchUpdate>,
    now: i64,
    reconcile_at: i64,
}

impl Pending {
    pub(super) fn new(
        e: &EventRecord<'_>,
        update: Option<&SearchUpdate>,
        now: i64,
        reconcile_at: i64,
    ) -> Pending {
        Pending {
            event_id: e.event_id.to_owned(),
            tenant: e.tenant.clone(),
            search_id: e.search_id.clone(),
            check_id: e.check_id.clone(),
            event_type: e.event_type.to_owned(),
            body: e.body.to_owned(),
            theary_search_id: e.theary_search_id.cloned(),
            body_digest: e.body_digest.map(str::to_owned),
            update: update.cloned(),
            now,
            reconcile_at,
        }
    }

    fn record(&self) -> EventRecord<'_> {
        EventRecord {
            event_id: &self.event_id,
            tenant: &self.tenant,
            search_id: &self.search_id,
            check_id: &self.check_id,
            event_type: &self.event_type,
            body: &self.body,
            theary_search_id: self.theary_search_id.as_ref(),
            body_digest: self.body_digest.as_deref(),
        }
    }
}

type Job = (Pending, oneshot::Sender<Result<bool, StoreError>>);

/// The way to the batch writer.
#[derive(Debug, Clone)]
pub(super) struct EventBatcher {
    queue: mpsc::Sender<Job>,
}

impl EventBatcher {
    /// Starts the batch writer for `store` (which must not hold a batcher itself).
    pub(super) fn start(store: Store) -> EventBatcher {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(batch_loop(store, rx));
        EventBatcher { queue }
    }

    /// Writes `p`; true when it was new, false for a duplicate event id.
    pub(super) async fn record(&self, p: Pending) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((p, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// Ends when every sender (every store clone holding the batcher) is gone.
async fn batch_loop(store: Store, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match write_all(&store, batch.iter().map(|(p, _)| p)).await {
            Ok(results) => {
                for ((_, reply), r) in batch.drain(..).zip(results) {
                    // A caller that gave up (its request was dropped) is no longer waiting.
                    let _ = reply.send(Ok(r));
                }
            }
            Err(e) => {
                tracing::warn!(events = batch.len(), error = %e, "a batch of webhook events failed; writing each alone");
                for (p, reply) in batch.drain(..) {
                    let r = write_all(&store, std::iter::once(&p))
                        .await
                        .map(|v| v.first().copied().unwrap_or(false));
                    let _ = reply.send(r);
                }
            }
        }
    }
}

/// Writes `pending` as one write; for each, whether it was new.
async fn write_all<'a>(
    store: &Store,
    pending: impl Iterator<Item = &'a Pending>,
) -> Result<Vec<bool>, StoreError> {
    let mut w = store.write().await?;
    let mut results = Vec::new();
    for p in pending {
        let new = write_event(
            &mut w,
            &p.record(),
            p.update.as_ref(),
            p.now,
            p.reconcile_at,
        )
        .await?;
        results.push(new);
    }
    w.commit().await?;
    Ok(results)
}
