//! Encryption at rest. Every stored field that holds candidate data or a secret is sealed
//! with XChaCha20-Poly1305 under its tenant's data key, with the tenant, table, column and
//! row bound in as associated data: a ciphertext copied to another row, column or tenant
//! does not open. Data keys are random, one per tenant (versioned), and stored only wrapped
//! by a master key that comes from the environment or a key file, never from the database.
//! Rotating the master key re-wraps the data keys; rows are not touched. Destroying a
//! tenant's data keys makes everything of that tenant unreadable (crypto-shredding).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use zeroize::Zeroizing;

use crate::domain::ids::{CheckId, SearchId, TenantKey};
use crate::store::{Store, StoreError};

/// Format tag of sealed values.
const TAG: &str = "v1";

/// Errors of sealing and opening.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("invalid master key setting: {0}")]
    MasterKey(String),
    #[error("the master key {0:?} that wrapped a data key is not configured")]
    UnknownMasterKey(String),
    #[error("a data key could not be unwrapped (wrong master key, or the stored key was altered)")]
    Unwrap,
    #[error("the tenant's data key version {0} is not available (destroyed or never made)")]
    NoDataKey(i64),
    #[error("a stored value is not in the sealed format")]
    Format,
    #[error("a stored value does not open: altered, moved to another row, or another key")]
    Open,
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// A 32-byte key, zeroed on drop, never printed.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Key {
    pub fn random() -> Key {
        let mut k = Zeroizing::new([0_u8; 32]);
        rand::thread_rng().fill_bytes(k.as_mut());
        Key(k)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }

    /// Base64 of the key, for `keys generate` only.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_ref()))
    }

    fn from_base64(text: &str) -> Option<Key> {
        let bytes = Zeroizing::new(STANDARD.decode(text.trim()).ok()?);
        let arr: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(Key(Zeroizing::new(arr)))
    }
}

/// Seals `plaintext` under `key` with `aad`: `v1.<base64url(nonce || ciphertext)>`.
pub fn seal_with(key: &Key, aad: &[u8], plaintext: &[u8]) -> String {
    let mut nonce = [0_u8; 24];
    rand::thread_rng().fill_bytes(&mut nonce);
    // Encryption with a valid key and nonce cannot fail for in-memory buffers.
    let ct = key
        .cipher()
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap_or_default();
    let mut out = Vec::with_capacity(24 + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    format!("{TAG}.{}", URL_SAFE_NO_PAD.encode(out))
}

/// Opens what [`seal_with`] sealed, if `key` and `aad` are the ones it was sealed with.
pub fn open_with(key: &Key, aad: &[u8], sealed: &str) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let body = sealed
        .strip_prefix(TAG)
        .and_then(|s| s.strip_prefix('.'))
        .ok_or(CryptoError::Format)?;
    let raw = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| CryptoError::Format)?;
    if raw.len() < 24 + 16 {
        return Err(CryptoError::Format);
    }
    let (nonce, ct) = raw.split_at(24);
    key.cipher()
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Open)
}

/// The master keys: the active one wraps new data keys; the others still unwrap old ones.
#[derive(Clone, Debug)]
pub struct MasterKeys {
    active: String,
    keys: BTreeMap<String, Key>,
}

impl MasterKeys {
    /// Parses `id:base64key[,id:base64key...]` (or one per line); the first is active.
    pub fn parse(spec: &str) -> Result<MasterKeys, CryptoError> {
        let mut keys = BTreeMap::new();
        let mut active = None;
        for part in spec
            .split([',', '\n'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (id, b64) = part.split_once(':').ok_or_else(|| {
                CryptoError::MasterKey("each key is written id:base64 (32 random bytes)".into())
            })?;
            let id = id.trim();
            if id.is_empty() || id.contains('.') {
                return Err(CryptoError::MasterKey(
                    "a key id is non-empty and has no '.'".into(),
                ));
            }
            let key = Key::from_base64(b64).ok_or_else(|| {
                CryptoError::MasterKey(format!("key {id:?} is not 32 bytes of base64"))
            })?;
            if keys.insert(id.to_owned(), key).is_some() {
                return Err(CryptoError::MasterKey(format!(
                    "key id {id:?} appears twice"
                )));
            }
            active.get_or_insert_with(|| id.to_owned());
        }
        let active = active.ok_or_else(|| CryptoError::MasterKey("no key given".into()))?;
        Ok(MasterKeys { active, keys })
    }

    /// A fresh key that lives only as long as the process (the demo).
    pub fn ephemeral() -> MasterKeys {
        MasterKeys {
            active: "ephemeral".into(),
            keys: BTreeMap::from([("ephemeral".to_owned(), Key::random())]),
        }
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    fn wrap(&self, tenant: &TenantKey, version: i64, key: &Key) -> (String, String) {
        let master = &self.keys[&self.active];
        let sealed = seal_with(master, wrap_aad(tenant, version).as_bytes(), key.0.as_ref());
        (self.active.clone(), sealed)
    }

    fn unwrap(
        &self,
        tenant: &TenantKey,
        version: i64,
        master_id: &str,
        wrapped: &str,
    ) -> Result<Key, CryptoError> {
        let master = self
            .keys
            .get(master_id)
            .ok_or_else(|| CryptoError::UnknownMasterKey(master_id.to_owned()))?;
        let bytes = open_with(master, wrap_aad(tenant, version).as_bytes(), wrapped)
            .map_err(|_| CryptoError::Unwrap)?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Unwrap)?;
        Ok(Key(Zeroizing::new(arr)))
    }
}

fn wrap_aad(tenant: &TenantKey, version: i64) -> String {
    format!("checkbridge/data-key|{tenant}|{version}")
}

fn field_aad(tenant: &TenantKey, table: &str, column: &str, row: &str) -> String {
    format!("checkbridge/field|{tenant}|{table}|{column}|{row}")
}

/// Where a sealed value lives; bound into its ciphertext. The constructors name every
/// place the service seals something.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub tenant: &'a TenantKey,
    pub table: &'a str,
    pub column: &'a str,
    pub row: &'a str,
}

impl<'a> Place<'a> {
    /// Where a check's per-order webhook secret lives.
    pub fn webhook_secret(tenant: &'a TenantKey, check: &'a CheckId) -> Place<'a> {
        Place {
            tenant,
            table: "checks",
            column: "webhook_secret",
            row: check.as_str(),
        }
    }

    /// Where a check's order (the candidate's data as sent to Theary) lives.
    pub fn order(tenant: &'a TenantKey, check: &'a CheckId) -> Place<'a> {
        Place {
            tenant,
            table: "checks",
            column: "order_json",
            row: check.as_str(),
        }
    }

    /// Where a search's result (the event data kept for the report) lives.
    pub fn search_result(tenant: &'a TenantKey, search: &'a SearchId) -> Place<'a> {
        Place {
            tenant,
            table: "searches",
            column: "result",
            row: search.as_str(),
        }
    }

    /// Where a webhook event's body lives.
    /// A candidate request's sealed columns (`token_sealed`, `invitation`, `draft`).
    pub fn candidate(tenant: &'a TenantKey, check: &'a CheckId, column: &'static str) -> Place<'a> {
        Place {
            tenant,
            table: "candidate_requests",
            column,
            row: check.as_str(),
        }
    }

    pub fn event_body(tenant: &'a TenantKey, event_id: &'a str) -> Place<'a> {
        Place {
            tenant,
            table: "webhook_events",
            column: "body",
            row: event_id,
        }
    }
}

/// Tenants' data keys, unwrapped on first use and cached. A cached key is used only after
/// the database confirms it still lives (one primary-key read), so destroying a tenant's
/// keys takes effect in every running process as soon as it commits.
#[derive(Clone, Debug)]
pub struct Keyring {
    master: Arc<MasterKeys>,
    store: Store,
    cache: Arc<Mutex<HashMap<(TenantKey, i64), Key>>>,
    current: Arc<Mutex<HashMap<TenantKey, i64>>>,
    /// Tenants whose data key last failed to unwrap (readiness fails while any does).
    unreadable: Arc<Mutex<std::collections::BTreeSet<TenantKey>>>,
}

impl Keyring {
    pub fn new(master: MasterKeys, store: Store) -> Keyring {
        Keyring {
            master: Arc::new(master),
            store,
            cache: Arc::new(Mutex::new(HashMap::new())),
            current: Arc::new(Mutex::new(HashMap::new())),
            unreadable: Arc::default(),
        }
    }

    /// Checks the master keys against the database's key check (made at the first start):
    /// a wrong key is refused here, before anything is served.
    pub async fn check_master(&self) -> Result<(), keycheck::KeyCheckError> {
        keycheck::verify(&self.master, &self.store).await
    }

    /// Unwraps the current data key of each of `tenants` that has one, so a key that cannot
    /// be unwrapped is known (and readiness fails) before any request needs it.
    pub async fn probe(
        &self,
        tenants: impl IntoIterator<Item = &TenantKey>,
    ) -> Result<(), CryptoError> {
        for tenant in tenants {
            if let Some(version) = self.store.current_data_key(tenant).await? {
                if let Err(e) = self.key(tenant, version).await {
                    tracing::error!(tenant = %tenant, error = %e, "a tenant's data key cannot be unwrapped");
                }
            }
        }
        Ok(())
    }

    /// Tenants whose data key could not be unwrapped when last tried.
    pub fn unreadable(&self) -> Vec<TenantKey> {
        self.unreadable
            .lock()
            .map(|u| u.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn mark(&self, tenant: &TenantKey, readable: bool) {
        if let Ok(mut u) = self.unreadable.lock() {
            if readable {
                u.remove(tenant);
            } else {
                u.insert(tenant.clone());
            }
        }
    }

    /// The tenant's current data key and its version, made on first use.
    async fn current_key(&self, tenant: &TenantKey) -> Result<(i64, Key), CryptoError> {
        let cached = self
            .current
            .lock()
            .ok()
            .and_then(|c| c.get(tenant).copied());
        if let Some(v) = cached {
            return Ok((v, self.key(tenant, v).await?));
        }
        let version = match self.store.current_data_key(tenant).await? {
            Some(v) => v,
            None => {
                let key = Key::random();
                let (master_id, wrapped) = self.master.wrap(tenant, 1, &key);
                // Replicas racing here: one insert wins, everyone reads the winner.
                self.store
                    .insert_data_key(tenant, 1, &master_id, &wrapped)
                    .await?;
                self.store
                    .current_data_key(tenant)
                    .await?
                    .ok_or(CryptoError::NoDataKey(1))?
            }
        };
        if let Ok(mut c) = self.current.lock() {
            c.insert(tenant.clone(), version);
        }
        Ok((version, self.key(tenant, version).await?))
    }

    async fn key(&self, tenant: &TenantKey, version: i64) -> Result<Key, CryptoError> {
        let hit = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&(tenant.clone(), version)).cloned());
        if let Some(k) = hit {
            // The key may have been destroyed since it was cached, by this process or
            // another (`retention shred` runs in its own): ask the database each time, so
            // no replica uses a shredded key once the shred has committed.
            if self.store.data_key_live(tenant, version).await? {
                return Ok(k);
            }
            self.forget(tenant);
            return Err(CryptoError::NoDataKey(version));
        }
        let (master_id, wrapped) = self
            .store
            .data_key(tenant, version)
            .await?
            .ok_or(CryptoError::NoDataKey(version))?;
        let key = match self.master.unwrap(tenant, version, &master_id, &wrapped) {
            Ok(k) => k,
            Err(e) => {
                self.mark(tenant, false);
                return Err(e);
            }
        };
        self.mark(tenant, true);
        if let Ok(mut c) = self.cache.lock() {
            c.insert((tenant.clone(), version), key.clone());
        }
        Ok(key)
    }

    /// Seals `plaintext` for `place`: `v1.<key version>.<sealed>`.
    pub async fn seal(&self, place: Place<'_>, plaintext: &[u8]) -> Result<String, CryptoError> {
        let (version, key) = self.current_key(place.tenant).await?;
        let aad = field_aad(place.tenant, place.table, place.column, place.row);
        Ok(format!(
            "{version}.{}",
            seal_with(&key, aad.as_bytes(), plaintext)
        ))
    }

    /// Opens a value sealed for `place`.
    pub async fn open(
        &self,
        place: Place<'_>,
        sealed: &str,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (version, rest) = sealed.split_once('.').ok_or(CryptoError::Format)?;
        let version: i64 = version.parse().map_err(|_| CryptoError::Format)?;
        let key = self.key(place.tenant, version).await?;
        let aad = field_aad(place.tenant, place.table, place.column, place.row);
        open_with(&key, aad.as_bytes(), rest)
    }

    /// Opens a value sealed for `place` as UTF-8 text.
    pub async fn open_text(
        &self,
        place: Place<'_>,
        sealed: &str,
    ) -> Result<Zeroizing<String>, CryptoError> {
        let bytes = self.open(place, sealed).await?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Open)
    }

    /// Re-wraps every data key not under the active master key. Rows are untouched.
    /// Returns how many keys were re-wrapped.
    pub async fn rewrap_all(&self) -> Result<usize, CryptoError> {
        let mut n = 0;
        for (tenant, version, master_id, wrapped) in self.store.data_keys().await? {
            if master_id == self.master.active_id() {
                continue;
            }
            let key = self.master.unwrap(&tenant, version, &master_id, &wrapped)?;
            let (new_id, new_wrapped) = self.master.wrap(&tenant, version, &key);
            self.store
                .rewrap_data_key(&tenant, version, &master_id, &new_id, &new_wrapped)
                .await?;
            n += 1;
        }
        // The key check follows the data keys to the active master key.
        self.check_master().await.map_err(|e| match e {
            keycheck::KeyCheckError::Crypto(c) => c,
            keycheck::KeyCheckError::Store(s) => CryptoError::Store(s),
            other => CryptoError::MasterKey(other.to_string()),
        })?;
        Ok(n)
    }

    /// Forgets cached keys of `tenant`. Uses do this by themselves when they find the key
    /// destroyed; calling it drops the key material from memory at once.
    pub fn forget(&self, tenant: &TenantKey) {
        if let Ok(mut c) = self.cache.lock() {
            c.retain(|(t, _), _| t != tenant);
        }
        if let Ok(mut c) = self.current.lock() {
            c.remove(tenant);
        }
    }
}

pub mod keycheck;

#[cfg(test)]
mod tests;
