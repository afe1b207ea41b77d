//! The master-key check: a known value sealed under the active master key at the first
//! start, kept in the `key_check` table. Every later start opens it before anything else, so
//! a replica given another key refuses to start, saying so, instead of starting, answering
//! ready, and then failing every webhook and report with a 500.
//!
//! After a rotation (`new,old` configured) the value opens with the old key and is sealed
//! again under the new one, so removing the old key later keeps the check passing.

use super::{open_with, seal_with, CryptoError, MasterKeys};
use crate::store::Store;

/// What is sealed, and what it is bound to.
const VALUE: &[u8] = b"checkbridge master key check";
const AAD: &[u8] = b"checkbridge/key-check|1";

/// Why the check refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error(
        "the master key does not match this database: its key check was sealed by master key {0:?}, \
         which is configured but does not open it (a different key under the same id?); \
         start with the key this database was set up with"
    )]
    WrongKey(String),
    #[error(
        "the master key does not match this database: its key check was sealed by master key {0:?}, \
         which is not configured (configured: {1}); start with the key this database was set up with"
    )]
    MissingKey(String, String),
    #[error("the key check could not be read or written")]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Checks `master` against the database's key check, making it at the first start.
pub async fn verify(master: &MasterKeys, store: &Store) -> Result<(), KeyCheckError> {
    if store.key_check().await?.is_none() {
        let active = &master.keys[&master.active];
        store
            .insert_key_check(&master.active, &seal_with(active, AAD, VALUE))
            .await?;
    }
    let Some((key_id, sealed)) = store.key_check().await? else {
        return Err(KeyCheckError::Crypto(CryptoError::Format));
    };
    let Some(key) = master.keys.get(&key_id) else {
        return Err(KeyCheckError::MissingKey(
            key_id,
            master.keys.keys().cloned().collect::<Vec<_>>().join(", "),
        ));
    };
    match open_with(key, AAD, &sealed) {
        Ok(v) if v.as_slice() == VALUE => {}
        _ => return Err(KeyCheckError::WrongKey(key_id)),
    }
    if key_id != master.active {
        let active = &master.keys[&master.active];
        store
            .replace_key_check(&key_id, &master.active, &seal_with(active, AAD, VALUE))
            .await?;
        tracing::info!(from = %key_id, to = %master.active, "key check sealed again under the active master key");
    }
    Ok(())
}
