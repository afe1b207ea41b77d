//! Another connection holding SQLite's write lock, as another process would: a locked
//! database for the service to meet (`SQLITE_BUSY` on every write until unlocked).

/// Another connection holding SQLite's write lock, as another process would (on a thread
/// of its own, so the lock is held whatever the test's runtime does).
#[derive(Default)]
pub struct SqliteLocker {
    release: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl SqliteLocker {
    /// Takes the write lock of the database at `url` and returns once it is held.
    pub async fn lock(&self, url: String) {
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let (held_tx, held_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                use sqlx::Connection as _;
                let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
                sqlx::raw_sql("PRAGMA busy_timeout = 60000")
                    .execute(&mut c)
                    .await
                    .unwrap();
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                let _ = held_tx.send(());
                let _ = release_rx.await;
                sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
            });
        });
        *self.release.lock().unwrap() = Some(release_tx);
        *self.thread.lock().unwrap() = Some(thread);
        held_rx.await.unwrap();
    }

    /// Gives the lock back and waits until the connection is gone.
    pub async fn unlock(&self) {
        if let Some(tx) = self.release.lock().unwrap().take() {
            let _ = tx.send(());
        }
        let thread = self.thread.lock().unwrap().take();
        if let Some(thread) = thread {
            tokio::task::spawn_blocking(move || thread.join().unwrap())
                .await
                .unwrap();
        }
    }
}
