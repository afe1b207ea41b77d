//! Group commit on SQLite: every write of the process goes through one connection, and the
//! writes that arrive together share one durable commit.
//!
//! SQLite lets one connection write at a time, and a durable commit costs a sync of the
//! write-ahead log (about a millisecond on ordinary disks). Committing each write alone caps
//! a node at a few hundred claims or a couple of thousand webhook events a second, all of it
//! spent waiting for the disk. Here a write runs inside a savepoint of a transaction that
//! stays open, and a committer task commits that transaction as soon as no write is waiting
//! ahead of it: one sync for every write that arrived meanwhile. A write returns only once
//! the commit that holds it is on disk, so nothing is acknowledged before it is durable, and
//! a write that fails rolls back to its own savepoint without touching the others.
//!
//! On PostgreSQL, which commits concurrently, a write is an ordinary transaction.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use tokio::sync::{watch, Mutex, MutexGuard, Notify};

use super::{Store, StoreError};

/// The shared transaction of the SQLite writer.
struct State {
    conn: PoolConnection<Any>,
    /// A transaction is open (BEGIN issued, not yet committed).
    open: bool,
    /// When the open transaction began.
    opened_at: std::time::Instant,
    /// The number of the open (or next) transaction.
    epoch: u64,
    /// A write gave up inside its savepoint: roll it back before anything else.
    rollback_pending: bool,
    /// The last BEGIN failed (the file is locked by another process): the writes queued
    /// behind fail fast instead of each waiting the whole busy timeout, until one succeeds.
    busy: bool,
}

/// How long a write waits for SQLite's lock normally, and while the last attempt failed.
const BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 10000";
const BUSY_TIMEOUT_FAILING: &str = "PRAGMA busy_timeout = 100";

/// Where the committed transactions stand.
#[derive(Debug, Clone, Default)]
struct Committed {
    /// Transactions up to this number are finished (committed or failed).
    done: u64,
    /// Recent transactions that failed to commit.
    failed: Vec<u64>,
}

/// The single writer of a SQLite store.
pub(super) struct GroupWriter {
    state: Mutex<State>,
    dirty: Notify,
    committed: watch::Sender<Committed>,
    /// Places for ordinary writes in the writer's queue (see [`ORDINARY_WAITING`]).
    ordinary: tokio::sync::Semaphore,
}

/// Ordinary writes waiting for the writer at once, at most. The writer takes waiting writes
/// in turn; under a backlog hundreds of order writes waited, and a page of claims (which
/// PageUp's next page waits for) waited behind all of them. Urgent writes skip this limit,
/// so they wait behind a few writes at most; the others wait here instead, in turn, and the
/// writer does as much as before. Three, measured against eight and one in the drain at
/// 200 ms (BENCHMARKS.md, 2026-12-08): eight kept a page of claims behind writes it did not
/// need to wait for, one left the writer idle between hand-offs and the orders slower.
const ORDINARY_WAITING: usize = 3;

impl std::fmt::Debug for GroupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupWriter").finish_non_exhaustive()
    }
}

impl GroupWriter {
    /// Takes the one connection of `pool` for good and starts the committer. The committer
    /// ends when the last store clone is dropped.
    pub(super) async fn start(pool: &AnyPool) -> Result<Arc<GroupWriter>, StoreError> {
        let conn = pool.acquire().await?;
        let writer = Arc::new(GroupWriter {
            state: Mutex::new(State {
                conn,
                open: false,
                opened_at: std::time::Instant::now(),
                epoch: 1,
                rollback_pending: false,
                busy: false,
            }),
            dirty: Notify::new(),
            committed: watch::Sender::new(Committed::default()),
            ordinary: tokio::sync::Semaphore::new(ORDINARY_WAITING),
        });
        tokio::spawn(commit_loop(Arc::downgrade(&writer)));
        Ok(writer)
    }

    async fn begin(
        &self,
        savepoint: bool,
        urgent: bool,
    ) -> Result<MutexGuard<'_, State>, StoreError> {
        let mut st = if urgent {
            self.state.lock().await
        } else {
            // Closed only when the writer goes: then no write may start.
            let _place = self
                .ordinary
                .acquire()
                .await
                .map_err(|_| StoreError::Closed)?;
            self.state.lock().await
        };
        if let Err(e) = settle(&mut st).await {
            self.abort(&mut st, &e).await;
            return Err(e);
        }
        if !st.open {
            if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *st.conn).await {
                if !st.busy {
                    st.busy = true;
                    let _ = sqlx::query(BUSY_TIMEOUT_FAILING)
                        .execute(&mut *st.conn)
                        .await;
                }
                return Err(e.into());
            }
            if st.busy {
                st.busy = false;
                sqlx::query(BUSY_TIMEOUT).execute(&mut *st.conn).await?;
            }
            st.open = true;
            st.opened_at = std::time::Instant::now();
        }
        if savepoint {
            if let Err(e) = sqlx::query("SAVEPOINT cb_write")
                .execute(&mut *st.conn)
                .await
            {
                // Do not leave the transaction (and SQLite's write lock) open behind us.
                let e = StoreError::from(e);
                self.abort(&mut st, &e).await;
                return Err(e);
            }
        }
        Ok(st)
    }

    /// Waits until transaction `epoch` is finished; an error if it failed to commit.
    async fn durable(&self, epoch: u64) -> Result<(), StoreError> {
        let mut rx = self.committed.subscribe();
        let c = rx
            .wait_for(|c| c.done >= epoch)
            .await
            .map_err(|_| StoreError::Closed)?;
        if c.failed.contains(&epoch) {
            return Err(StoreError::CommitFailed);
        }
        Ok(())
    }

    /// Ends the open transaction without committing it; its writes are reported failed.
    async fn abort(&self, st: &mut State, cause: &StoreError) {
        tracing::error!(error = %cause, "the shared write transaction failed; its writes are rolled back and reported failed");
        let _ = sqlx::query("ROLLBACK").execute(&mut *st.conn).await;
        st.rollback_pending = false;
        st.open = false;
        let epoch = st.epoch;
        st.epoch += 1;
        self.finished(epoch, false);
    }

    fn finished(&self, epoch: u64, ok: bool) {
        self.committed.send_modify(|c| {
            c.done = c.done.max(epoch);
            if !ok {
                c.failed.push(epoch);
                let excess = c.failed.len().saturating_sub(64);
                c.failed.drain(..excess);
            }
        });
    }
}

/// A group older than this is committed by the write that finds it so, before it lets the
/// writer go. The committer task commits when the writer is free, but under a backlog the
/// writer is never free: hundreds of writes wait for it in turn, the committer's turn came
/// after all of them, and every write waited that long again to be durable (two commits in
/// four seconds, measured during the drain). At most one sync of the log per this period,
/// whatever the load.
const MAX_GROUP_AGE: std::time::Duration = std::time::Duration::from_millis(10);

impl GroupWriter {
    /// Commits the open transaction if it is older than [`MAX_GROUP_AGE`] (the caller holds
    /// the writer, its own write finished).
    async fn commit_if_old(&self, st: &mut State) {
        if !st.open || st.rollback_pending || st.opened_at.elapsed() < MAX_GROUP_AGE {
            return;
        }
        let epoch = st.epoch;
        match sqlx::query("COMMIT").execute(&mut *st.conn).await {
            Ok(_) => {
                st.open = false;
                st.epoch += 1;
                self.finished(epoch, true);
            }
            Err(e) => self.abort(st, &StoreError::from(e)).await,
        }
    }
}

/// Rolls back a write that gave up, so the next one starts clean.
async fn settle(st: &mut State) -> Result<(), StoreError> {
    if st.rollback_pending {
        sqlx::query("ROLLBACK TO SAVEPOINT cb_write")
            .execute(&mut *st.conn)
            .await?;
        sqlx::query("RELEASE SAVEPOINT cb_write")
            .execute(&mut *st.conn)
            .await?;
        st.rollback_pending = false;
    }
    Ok(())
}

async fn commit_loop(writer: std::sync::Weak<GroupWriter>) {
    loop {
        let Some(w) = writer.upgrade() else {
            return;
        };
        // Wakes at once if a write finished meanwhile; checks now and then that the
        // store still exists.
        let woken = tokio::time::timeout(std::time::Duration::from_secs(1), w.dirty.notified())
            .await
            .is_ok();
        if !woken {
            continue;
        }
        // The lock is fair: every write already waiting runs before this commit.
        let mut st = w.state.lock().await;
        if !st.open {
            continue;
        }
        let epoch = st.epoch;
        let result = match settle(&mut st).await {
            Ok(()) => sqlx::query("COMMIT")
                .execute(&mut *st.conn)
                .await
                .map(|_| ())
                .map_err(StoreError::from),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                st.open = false;
                st.epoch += 1;
                drop(st);
                w.finished(epoch, true);
            }
            Err(e) => w.abort(&mut st, &e).await,
        }
    }
}

/// One write: statements run on it as on a connection, then [`Write::commit`] makes them
/// durable. Dropped without `commit`, it is rolled back.
pub(super) enum Write<'a> {
    Grouped(Grouped<'a>),
    Plain(Transaction<'static, Any>),
}

/// A write in the shared SQLite transaction, holding the writer until it ends.
pub(super) struct Grouped<'a> {
    writer: &'a GroupWriter,
    state: MutexGuard<'a, State>,
    /// In a savepoint of its own (several statements); a single statement needs none, as
    /// SQLite undoes a failed statement by itself.
    savepoint: bool,
    released: bool,
}

impl Drop for Grouped<'_> {
    fn drop(&mut self) {
        if !self.released {
            if self.savepoint {
                self.state.rollback_pending = true;
            }
            // The committer ends the transaction soon, even if no other write comes: it
            // holds SQLite's write lock, which other processes (admin commands) wait for.
            self.writer.dirty.notify_one();
        }
    }
}

impl GroupWriter {
    /// A write whose statements bring their own savepoint and release (a script, sent as
    /// one string): dropped before [`Grouped::commit_sent`], its savepoint is rolled back.
    pub(super) async fn begin_script(
        &self,
        savepoint: bool,
        urgent: bool,
    ) -> Result<Grouped<'_>, StoreError> {
        let state = self.begin(false, urgent).await?;
        Ok(Grouped {
            writer: self,
            state,
            savepoint,
            released: false,
        })
    }
}

impl Grouped<'_> {
    pub(super) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.state.conn
    }

    /// The write's statements (its release included) ran: returns once they are durable.
    /// (A script's savepoint and release travel with its statements; [`Write::commit`]
    /// releases its own first.)
    pub(super) async fn commit_sent(mut self) -> Result<(), StoreError> {
        self.released = true;
        let (writer, epoch) = (self.writer, self.state.epoch);
        writer.commit_if_old(&mut self.state).await;
        drop(self);
        writer.dirty.notify_one();
        writer.durable(epoch).await
    }
}

impl Write<'_> {
    /// Makes the write durable; returns once it is.
    pub(super) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Write::Grouped(mut g) => {
                if g.savepoint {
                    sqlx::query("RELEASE SAVEPOINT cb_write")
                        .execute(&mut *g.state.conn)
                        .await?;
                }
                g.commit_sent().await
            }
            Write::Plain(tx) => Ok(tx.commit().await?),
        }
    }

    /// Undoes the write.
    pub(super) async fn rollback(self) -> Result<(), StoreError> {
        match self {
            // Dropping marks the savepoint for rollback before the next statement.
            Write::Grouped(_) => Ok(()),
            Write::Plain(tx) => Ok(tx.rollback().await?),
        }
    }
}

impl Deref for Write<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            Write::Grouped(g) => &g.state.conn,
            Write::Plain(tx) => tx,
        }
    }
}

impl DerefMut for Write<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Write::Grouped(g) => &mut g.state.conn,
            Write::Plain(tx) => tx,
        }
    }
}

impl Store {
    /// Starts a write: on SQLite a savepoint in the shared transaction, on PostgreSQL a
    /// transaction.
    pub(super) async fn write(&self) -> Result<Write<'_>, StoreError> {
        self.write_as(true).await
    }

    /// A write of one statement.
    async fn write_one(&self) -> Result<Write<'_>, StoreError> {
        self.write_as(false).await
    }

    async fn write_as(&self, savepoint: bool) -> Result<Write<'_>, StoreError> {
        match &self.group {
            Some(g) => {
                let state = g.begin(savepoint, false).await?;
                Ok(Write::Grouped(Grouped {
                    writer: g,
                    state,
                    savepoint,
                    released: false,
                }))
            }
            None => Ok(Write::Plain(self.pool.begin().await?)),
        }
    }
}

/// One statement as a write of its own. (Boxed: the futures are then `Send` for every
/// lifetime, which the spawned loops need.)
pub(super) trait WriteQuery<'q> {
    fn execute_w<'s>(self, store: &'s Store) -> BoxFuture<'s, Result<AnyQueryResult, StoreError>>
    where
        'q: 's;
    fn fetch_all_w<'s>(self, store: &'s Store) -> BoxFuture<'s, Result<Vec<AnyRow>, StoreError>>
    where
        'q: 's;
}

impl<'q> WriteQuery<'q> for Query<'q, Any, AnyArguments<'q>> {
    fn execute_w<'s>(self, store: &'s Store) -> BoxFuture<'s, Result<AnyQueryResult, StoreError>>
    where
        'q: 's,
    {
        Box::pin(async move {
            let mut w = store.write_one().await?;
            let r = self.execute(&mut *w).await?;
            w.commit().await?;
            Ok(r)
        })
    }

    fn fetch_all_w<'s>(self, store: &'s Store) -> BoxFuture<'s, Result<Vec<AnyRow>, StoreError>>
    where
        'q: 's,
    {
        Box::pin(async move {
            let mut w = store.write_one().await?;
            let rows = self.fetch_all(&mut *w).await?;
            w.commit().await?;
            Ok(rows)
        })
    }
}
