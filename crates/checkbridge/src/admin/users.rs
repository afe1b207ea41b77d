//! The people who may read reports (a tenant's readers) or see the operator page
//! (operators, who read no report).

use rand::Rng as _;

use crate::domain::ids::TenantKey;
use crate::store::{Store, StoreError, UserChangeOutcome};
use crate::time::now_ms;

/// Why a user could not be added.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user name is 1 to 100 characters")]
    BadName,
    #[error("a password has at least 12 characters")]
    ShortPassword,
    #[error("{0}")]
    Hashing(String),
    #[error("no user is named {0:?}")]
    Unknown(String),
    #[error("{0:?} is the last enabled operator: add another operator first")]
    LastOperator(String),
    #[error("database")]
    Store(#[from] StoreError),
}

/// A random password of 20 letters and digits (no look-alikes such as `l`, `1`, `O`, `0`).
pub fn generate_password() -> zeroize::Zeroizing<String> {
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    zeroize::Zeroizing::new(
        (0..20)
            .map(|_| char::from(CHARS[rng.gen_range(0..CHARS.len())]))
            .collect(),
    )
}

/// Adds a report reader to `tenant`; false when the name is taken.
pub async fn add_reader(
    store: &Store,
    tenant: &TenantKey,
    username: &str,
    password: &str,
) -> Result<bool, UserError> {
    add_with_role(store, tenant, username, password, "reader").await
}

/// Adds an operator (all tenants' operator page, no reports); false when the name is taken.
pub async fn add_operator(
    store: &Store,
    username: &str,
    password: &str,
) -> Result<bool, UserError> {
    add_with_role(store, &TenantKey::new("*"), username, password, "operator").await
}

async fn add_with_role(
    store: &Store,
    tenant: &TenantKey,
    username: &str,
    password: &str,
    role: &str,
) -> Result<bool, UserError> {
    if username.trim().is_empty() || username.len() > 100 {
        return Err(UserError::BadName);
    }
    if password.chars().count() < 12 {
        return Err(UserError::ShortPassword);
    }
    let hash = crate::http::auth::hash_password(password).map_err(UserError::Hashing)?;
    Ok(store
        .create_user_with_role(tenant, username.trim(), &hash, role, now_ms())
        .await?)
}

/// A change to a user, as the command line and the access record name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Refuses sign-in and ends every session at once.
    Disable,
    Enable,
    /// Deletes the user (their changes stay recorded) and ends their sessions.
    Remove,
    /// Ends every session of the user; they may sign in again.
    RevokeSessions,
}

impl Change {
    fn action(self) -> &'static str {
        match self {
            Change::Disable => "disabled",
            Change::Enable => "enabled",
            Change::Remove => "removed",
            Change::RevokeSessions => "sessions_revoked",
        }
    }
}

fn outcome(username: &str, o: UserChangeOutcome) -> Result<(), UserError> {
    match o {
        UserChangeOutcome::Done => Ok(()),
        UserChangeOutcome::Unknown => Err(UserError::Unknown(username.to_owned())),
        UserChangeOutcome::LastOperator => Err(UserError::LastOperator(username.to_owned())),
    }
}

/// Applies `change` to `username` as `actor` (recorded with it).
pub async fn change(
    store: &Store,
    username: &str,
    change: Change,
    actor: &str,
) -> Result<(), UserError> {
    let o = store
        .change_user(username, change.action(), None, actor, now_ms())
        .await?;
    outcome(username, o)
}

/// Sets a new password for `username` (ending their sessions), recorded as `actor`.
pub async fn reset_password(
    store: &Store,
    username: &str,
    password: &str,
    actor: &str,
) -> Result<(), UserError> {
    if password.chars().count() < 12 {
        return Err(UserError::ShortPassword);
    }
    let hash = crate::http::auth::hash_password(password).map_err(UserError::Hashing)?;
    let o = store
        .change_user(username, "password_reset", Some(&hash), actor, now_ms())
        .await?;
    outcome(username, o)
}
