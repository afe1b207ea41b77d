//! PageUp's acknowledgements in batches: every check takes two (its claim, `queued`, and its
//! order, `new`), each a write of one small statement, and under a backlog they were most of
//! what waited for SQLite's single writer. The acknowledgements waiting are written by a few
//! tasks as one statement each (the acknowledgements passed as one JSON argument, so the
//! statement is prepared once whatever the batch's size), and each caller returns only once
//! its acknowledgement is durable, as before. If a batch fails as a whole, each of its
//! acknowledgements is written again alone, so one bad row fails alone.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};

use super::writer::WriteQuery as _;
use super::{Backend, Store, StoreError};
use crate::domain::ids::CheckId;

/// Acknowledgements written together at most.
const MAX_BATCH: usize = 256;
/// Acknowledgements waiting at most; callers beyond wait for room.
const QUEUE: usize = 4096;
/// Batches being written at once. One batch at a time would cap the acknowledgements at a
/// batch per write's wait for the writer (which is tens of milliseconds under a backlog).
const IN_FLIGHT: usize = 4;

/// One acknowledgement: PageUp accepted `version` of check `id`, pushed under `owner`'s lease.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Ack {
    pub(super) id: CheckId,
    pub(super) owner: String,
    pub(super) version: i64,
    pub(super) at: i64,
}

type Job = (Ack, oneshot::Sender<Result<(), StoreError>>);

/// The way to the acknowledgement writers.
#[derive(Debug, Clone)]
pub(super) struct AckBatcher {
    queue: mpsc::Sender<Job>,
}

impl AckBatcher {
    /// Starts the batch writers for `store` (which must not hold a batcher itself).
    pub(super) fn start(store: Store) -> AckBatcher {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(batch_loop(store, rx));
        AckBatcher { queue }
    }

    /// Records `ack`; returns once it is durable.
    pub(super) async fn record(&self, ack: Ack) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((ack, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// Ends when every sender (every store clone holding the batcher) is gone, after the batches
/// already taken are written.
async fn batch_loop(store: Store, mut rx: mpsc::Receiver<Job>) {
    let places = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // Waiting for a place first: while every writer is busy, acknowledgements gather
        // in the queue and the next batch takes them all.
        let Ok(place) = places.clone().acquire_owned().await else {
            return;
        };
        let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
        if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let store = store.clone();
        tokio::spawn(async move {
            write_batch(&store, batch).await;
            drop(place);
        });
    }
}

async fn write_batch(store: &Store, batch: Vec<Job>) {
    // A check acknowledged twice in one batch (not expected: the first clears the lease the
    // second needs) would leave the joined update to pick one row: repeats go on their own.
    let mut seen = std::collections::HashSet::new();
    let (first, repeats): (Vec<Job>, Vec<Job>) = batch
        .into_iter()
        .partition(|(a, _)| seen.insert(a.id.clone()));
    let acks: Vec<&Ack> = first.iter().map(|(a, _)| a).collect();
    match write_acks(store, &acks).await {
        Ok(()) => {
            for (_, reply) in first {
                // A caller that gave up is no longer waiting.
                let _ = reply.send(Ok(()));
            }
        }
        Err(e) => {
            tracing::warn!(acknowledgements = first.len(), error = %e, "a batch of PageUp acknowledgements failed; writing each alone");
            for (a, reply) in first {
                let _ = reply.send(write_acks(store, &[&a]).await);
            }
        }
    }
    for (a, reply) in repeats {
        let _ = reply.send(write_acks(store, &[&a]).await);
    }
}

/// The acknowledgements as rows of the update: `id`, `owner`, `version`, `at`.
const SQLITE_ROWS: &str = "(SELECT json_extract(value, '$.id') AS id, \
     json_extract(value, '$.owner') AS owner, json_extract(value, '$.version') AS version, \
     json_extract(value, '$.at') AS at FROM json_each($1))";
const POSTGRES_ROWS: &str =
    "json_to_recordset($1::text::json) AS a(id text, owner text, version bigint, at bigint)";

/// Writes `acks` as one statement: each check acknowledged by its lease holder only, its
/// acknowledged version never going down (the same rule as `Store::ack_push` always had).
pub(super) async fn write_acks(store: &Store, acks: &[&Ack]) -> Result<(), StoreError> {
    let rows = match store.backend() {
        Backend::Sqlite => format!("{SQLITE_ROWS} AS a"),
        Backend::Postgres => POSTGRES_ROWS.to_owned(),
    };
    let sql = format!(
        "UPDATE checks SET acked_version = CASE WHEN checks.acked_version < a.version \
         THEN a.version ELSE checks.acked_version END, acked_at = a.at, push_attempts = 0, \
         push_error = NULL, push_due_at = a.at, push_lease_until = NULL, push_lease_owner = NULL \
         FROM {rows} WHERE checks.id = a.id AND checks.push_lease_owner = a.owner"
    );
    let json = serde_json::to_string(acks)
        .map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))?;
    sqlx::query(&sql).bind(json).execute_w(store).await?;
    Ok(())
}
