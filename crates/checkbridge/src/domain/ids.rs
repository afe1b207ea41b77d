//! The ids a check is known by, each a type of its own so one cannot be passed where
//! another is meant: our tenant key and check and search ids, PageUp's check id, Theary's
//! order and search ids. All are text on the wire and in the store; none is secret.
//!
//! Theary's ids come with a prefix in some answers (`ord_…`, `search_…`) and without it in
//! others. That is handled here once: two Theary ids are equal when they are equal without
//! their prefixes (ignoring case), and a Theary search id is kept without its prefix.

use std::fmt;

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

text_id!(
    /// A tenant (one mutual customer) as the configuration names it: `[tenants.KEY]`.
    TenantKey
);
text_id!(
    /// Our id for a check: a UUID (version 7: time-ordered, 74 random bits), part of the
    /// report links PageUp shows (which are signed in to, never guessed at).
    CheckId
);
text_id!(
    /// Our id for one search of a check: a UUID (version 7, as [`CheckId`]), sent to
    /// Theary as `externalSearchId` and part of the search's report link.
    SearchId
);
text_id!(
    /// PageUp's id for a background check (unique within its PageUp tenant).
    PageUpCheckId
);

impl CheckId {
    /// A new id, unique and unguessable. Time-ordered (UUID version 7) so that the checks
    /// claimed together sit together in the store's indexes: with random ids each claim's
    /// rows landed on a page of their own in every index, and under a backlog each commit
    /// wrote hundreds of such pages (measured: 100 MB/s of log for 2,000 claims a second).
    pub fn random() -> CheckId {
        CheckId(uuid::Uuid::now_v7().to_string())
    }
}

impl SearchId {
    /// A new id, time-ordered for the same reason as [`CheckId::random`].
    pub fn random() -> SearchId {
        SearchId(uuid::Uuid::now_v7().to_string())
    }
}

/// Theary's `verificationOrderId`, kept as Theary gave it (it is the reference PageUp
/// shows); compared without its `ord_` prefix.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ThearyOrderId(String);

/// Theary's id for a search, kept without its `search_` prefix; compared the same way.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ThearySearchId(String);

impl From<String> for ThearyOrderId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl From<String> for ThearySearchId {
    fn from(id: String) -> Self {
        Self::new(&id)
    }
}

impl ThearyOrderId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// As Theary gave it (with its prefix, if it had one).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other`, as any Theary answer writes it, names this order.
    pub fn is(&self, other: &str) -> bool {
        theary::wire::same_id(&self.0, other)
    }
}

impl ThearySearchId {
    /// Theary's search id from any of its answers, with or without the prefix.
    pub fn new(id: &str) -> Self {
        Self(theary::wire::bare_id(id).to_owned())
    }

    /// Without its prefix, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other`, as any Theary answer writes it, names this search.
    pub fn is(&self, other: &str) -> bool {
        theary::wire::same_id(&self.0, other)
    }
}

macro_rules! theary_id_traits {
    ($name:ident) => {
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.is(&other.0)
            }
        }

        impl Eq for $name {}

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                theary::wire::bare_id(&self.0)
                    .to_ascii_lowercase()
                    .hash(state);
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

theary_id_traits!(ThearyOrderId);
theary_id_traits!(ThearySearchId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theary_ids_are_the_same_with_or_without_their_prefix() {
        let order = ThearyOrderId::new("ord_123e4567");
        assert_eq!(order, ThearyOrderId::new("123E4567"));
        assert!(order.is("123e4567") && !order.is("ord_9"));
        assert_eq!(order.as_str(), "ord_123e4567", "kept as Theary gave it");

        let search = ThearySearchId::new("search_ab12");
        assert_eq!(search.as_str(), "ab12", "kept without its prefix");
        assert!(search.is("search_AB12") && search.is("ab12"));
        assert_ne!(search, ThearySearchId::new("ab13"));

        let hash = |id: &ThearyOrderId| {
            use std::hash::{BuildHasher, BuildHasherDefault};
            BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(id)
        };
        assert_eq!(hash(&order), hash(&ThearyOrderId::new("123e4567")));
    }

    #[test]
    fn our_ids_are_random_and_distinct() {
        assert_ne!(CheckId::random(), CheckId::random());
        assert_eq!(SearchId::random().as_str().len(), 36);
        assert_eq!(TenantKey::from("acme"), "acme");
    }
}
