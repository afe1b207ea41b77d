//! API tokens for the admin HTTP API (`/api/v1`): made with a scope (`read` or `operate`)
//! and optionally one tenant, shown once, kept only as a SHA-256 digest, listed and revoked.
//! The command line (`checkbridge tokens`) and the API's authentication both come here, so
//! the token's format and how it is checked are written once.
//!
//! A token is `cbt_` and 32 random bytes in URL-safe base64 (no padding). Its text is held
//! in [`TokenText`], which never prints it in `Debug` and is wiped when dropped.

use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use crate::domain::check::ApiScope;
use crate::domain::ids::TenantKey;
use crate::store::{ApiTokenListing, NewApiToken, RevokeOutcome, Store, StoreError};
use crate::time::now_ms;

/// What every token's text starts with (so a leaked one is recognisable, e.g. by scanners).
pub const PREFIX: &str = "cbt_";

/// The tenant of a token that sees every tenant.
pub const ALL_TENANTS: &str = "*";

/// A token's text: printed once when made, otherwise only compared by digest.
#[derive(Clone)]
pub struct TokenText(SecretString);

impl TokenText {
    /// Wraps text a caller presented.
    pub fn new(text: &str) -> TokenText {
        TokenText(SecretString::from(text.to_owned()))
    }

    /// The text itself, to print once or send as a bearer token.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Hex SHA-256 of the text, as stored. (A plain digest suffices: the text has 256
    /// random bits, so no dictionary or brute force reaches it.)
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.expose().as_bytes()))
    }
}

impl std::fmt::Debug for TokenText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenText([REDACTED])")
    }
}

/// Why a token could not be made or changed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token's name is 1 to 100 characters")]
    BadName,
    #[error("tenant {0:?} is not configured")]
    UnknownTenant(String),
    #[error("no token has id {0:?}")]
    Unknown(String),
    #[error("database")]
    Store(#[from] StoreError),
}

/// A token just made: its listing and its text, which is shown this once.
#[derive(Debug)]
pub struct Created {
    pub token: ApiTokenListing,
    pub text: TokenText,
}

/// A fresh token's text.
pub fn generate() -> TokenText {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
    let encoded = zeroize::Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..]),
    );
    TokenText(SecretString::from(format!("{PREFIX}{}", encoded.as_str())))
}

/// Makes a token of `scope` for `tenant` (`None`: every tenant), named `name`, recorded as
/// made by `actor`. The caller checks that `tenant` is configured (see [`TokenError`]).
pub async fn create(
    store: &Store,
    scope: ApiScope,
    tenant: Option<&TenantKey>,
    name: &str,
    actor: &str,
) -> Result<Created, TokenError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(TokenError::BadName);
    }
    let text = generate();
    let id = format!("tok_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let tenant = tenant
        .cloned()
        .unwrap_or_else(|| TenantKey::new(ALL_TENANTS));
    let now = now_ms();
    store
        .create_api_token(
            &NewApiToken {
                id: &id,
                token_hash: &text.digest(),
                name,
                tenant: &tenant,
                scope,
                created_by: actor,
            },
            now,
        )
        .await?;
    Ok(Created {
        token: ApiTokenListing {
            id,
            name: name.to_owned(),
            tenant,
            scope,
            created_at: now,
            created_by: actor.to_owned(),
            last_used_at: None,
            revoked_at: None,
        },
        text,
    })
}

/// Every token, oldest first.
pub async fn list(store: &Store) -> Result<Vec<ApiTokenListing>, TokenError> {
    Ok(store.api_tokens().await?)
}

/// Revokes token `id`; true when it was live, false when it was revoked already.
pub async fn revoke(store: &Store, id: &str) -> Result<bool, TokenError> {
    match store.revoke_api_token(id, now_ms()).await? {
        RevokeOutcome::Revoked => Ok(true),
        RevokeOutcome::AlreadyRevoked => Ok(false),
        RevokeOutcome::Unknown => Err(TokenError::Unknown(id.to_owned())),
    }
}

/// The live token whose text is `presented`; `None` for text that is not a token of ours
/// or a revoked one (the API answers both with 401).
pub async fn authenticate(
    store: &Store,
    presented: &TokenText,
) -> Result<Option<ApiTokenListing>, StoreError> {
    if !presented.expose().starts_with(PREFIX) {
        return Ok(None);
    }
    Ok(store
        .api_token_by_hash(&presented.digest())
        .await?
        .filter(|t| t.revoked_at.is_none()))
}

impl ApiTokenListing {
    /// Whether this token may see `tenant`'s data.
    pub fn sees(&self, tenant: &TenantKey) -> bool {
        self.tenant.as_str() == ALL_TENANTS || &self.tenant == tenant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_never_debug_printed() {
        let (a, b) = (generate(), generate());
        assert!(a.expose().starts_with(PREFIX));
        assert_eq!(
            a.expose().len(),
            PREFIX.len() + 43,
            "32 bytes, unpadded base64"
        );
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.digest().len(), 64);
        assert!(!format!("{a:?}").contains(&a.expose()[PREFIX.len()..]));
        let created = Created {
            token: ApiTokenListing {
                id: "tok_1".into(),
                name: "n".into(),
                tenant: TenantKey::new("*"),
                scope: ApiScope::Read,
                created_at: 0,
                created_by: "cli:x".into(),
                last_used_at: None,
                revoked_at: None,
            },
            text: a.clone(),
        };
        assert!(!format!("{created:?}").contains(&a.expose()[PREFIX.len()..]));
    }
}
