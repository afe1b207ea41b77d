//! Theary's wire types: the order request, the read models, and webhook events.
//!
//! Requests skip absent fields; responses ignore unknown fields and keep what the docs leave
//! open (`serde_json::Value` or `extra` maps) so nothing Theary adds is lost.

mod enums;
mod order;
mod read;
mod webhook;

pub use enums::*;
pub use order::*;
pub use read::*;
pub use webhook::*;

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret that must reach Theary (a webhook secret, a basic-auth password): serialised as
/// is, but never printed by `Debug`, and zeroed when dropped.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// Compares two Theary ids ignoring the `ord_` / `search_` prefix the create response uses
/// and other responses may not.
pub fn same_id(a: &str, b: &str) -> bool {
    bare_id(a).eq_ignore_ascii_case(bare_id(b))
}

/// An id without its `ord_` / `search_` / `app_` prefix.
pub fn bare_id(id: &str) -> &str {
    ["ord_", "search_", "app_"]
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id)
}

#[cfg(test)]
mod tests;
