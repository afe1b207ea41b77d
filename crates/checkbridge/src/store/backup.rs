//! A consistent copy of a SQLite database, taken while the service runs.

use std::path::Path;

use super::{backend_of, sqlite_pool, Backend, Store, StoreError};

impl Store {
    /// Writes a consistent copy of the SQLite database at `url` to `out` (`VACUUM INTO`: a
    /// read transaction, so the service keeps serving; the copy is compact and holds
    /// every committed write up to its start). `out` must not exist.
    pub async fn backup_sqlite(url: &str, out: &Path) -> Result<(), StoreError> {
        if backend_of(url)? != Backend::Sqlite {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        }
        let pool = sqlite_pool(url, 1).await?;
        let target = out.to_string_lossy().into_owned();
        let copied = sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&pool)
            .await;
        pool.close().await;
        copied?;
        Ok(())
    }
}
