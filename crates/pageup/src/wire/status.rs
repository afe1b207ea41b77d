//! The status side of the API: a check's place in PageUp's workflow ([`CheckStatus`], read
//! in any spelling PageUp or a person might use) and the whole document we `PUT` to move it
//! ([`StatusDocument`]), kept together because one is the other's main field.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::lenient::text;

/// A background check's status in PageUp's workflow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CheckStatus {
    Pending,
    Queued,
    New,
    InProgress,
    Completed,
    Failed,
    Cancelled,
    Expired,
    /// A value this client does not know, kept as sent.
    Other(String),
}

impl CheckStatus {
    /// The wire spelling (lower case, as in PageUp's guide).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::New => "new",
            Self::InProgress => "inprogress",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Other(s) => s,
        }
    }

    /// Parses any case, ignoring spaces, `_` and `-` (`In Progress`, `in_progress`).
    pub fn parse(s: &str) -> Self {
        let key: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .collect::<String>()
            .to_ascii_lowercase();
        match key.as_str() {
            "pending" => Self::Pending,
            "queued" => Self::Queued,
            "new" | "created" => Self::New,
            "inprogress" => Self::InProgress,
            "completed" | "complete" => Self::Completed,
            "failed" => Self::Failed,
            "cancelled" | "canceled" => Self::Cancelled,
            "expired" => Self::Expired,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// Whether PageUp's workflow ends here.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Cancelled | Self::Expired
        )
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CheckStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CheckStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&text(d)?.unwrap_or_default()))
    }
}

pub(super) fn opt_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CheckStatus>, D::Error> {
    Ok(text(d)?.map(|s| CheckStatus::parse(&s)))
}

/// One per-check result shown to the recruiter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ResultEntry {
    /// Authenticated link to the report (never a public URL).
    pub report_link: String,
    /// Which check this is (e.g. "Employment verification"); PageUp requires it.
    pub report_type: String,
    /// Outcome of this check (e.g. `pass`).
    pub status: String,
}

/// The whole document `PUT` to PageUp. Every field is always sent: PageUp treats a `PUT` as a
/// full override, so a missing field would clear what an earlier update set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDocument {
    pub status: CheckStatus,
    pub reference_number: String,
    pub reason_for_fail: String,
    pub results: Vec<ResultEntry>,
}

impl StatusDocument {
    /// A document with only a status (reference, reason and results empty).
    pub fn new(status: CheckStatus) -> Self {
        Self {
            status,
            reference_number: String::new(),
            reason_for_fail: String::new(),
            results: Vec::new(),
        }
    }
}
