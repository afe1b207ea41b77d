//! A check's state as the domain knows it: where the check stands ([`Phase`]), where each
//! of its searches stands ([`SearchState`]), what a search's result says, and how news from
//! Theary moves a search ([`SearchUpdate`]). The store keeps these as text, through one
//! mapping ([`Stored`]): a value the code does not know is an error, never a default.

use std::fmt;

use theary::wire::{Outcome, ReasonCode, SearchType};

use super::ids::{CheckId, PageUpCheckId, SearchId, TenantKey, ThearyOrderId, ThearySearchId};

/// A value kept in the store as text: one name per variant, and parsing only what it wrote.
pub trait Stored: Sized + Copy + 'static {
    /// Every variant, for the mapping's tests and for documentation.
    const ALL: &'static [Self];
    /// The text stored for this value.
    fn as_str(self) -> &'static str;
    /// The value this text was stored for; None for text this code never writes.
    fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == text)
    }
}

macro_rules! stored_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The text stored for this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value this text was stored for (see [`Stored::parse`]).
            pub fn parse(text: &str) -> Option<Self> {
                <Self as Stored>::parse(text)
            }
        }

        impl Stored for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// As the text it is stored as.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

stored_enum!(
    /// Where a check stands on our side.
    Phase {
        /// Claimed from PageUp; no order yet.
        Claimed => "claimed",
        /// Ordered from Theary (the check has a reference).
        Ordered => "ordered",
        /// Could not be ordered, or the order failed; the reason is for the recruiter.
        Failed => "failed",
        /// Cancelled by an operator, or every search cancelled at Theary.
        Cancelled => "cancelled",
        /// Waiting on the candidate (the candidate form); no order yet.
        Candidate => "candidate",
        /// The candidate answered; the order built from the answers is owed (the orderer
        /// takes it as a claimed check's).
        Submitted => "submitted",
        /// The candidate never answered; PageUp is told `expired`.
        Expired => "expired",
    }
);

stored_enum!(
    /// Where one search stands. Searches only move forward: open < action required <
    /// completed or cancelled.
    SearchState {
        Open => "open",
        ActionRequired => "action_required",
        Completed => "completed",
        Cancelled => "cancelled",
    }
);

impl SearchState {
    /// Order of the forward-only rule (stored beside the state as `outcome_rank`).
    pub fn rank(self) -> i64 {
        match self {
            SearchState::Open => 0,
            SearchState::ActionRequired => 1,
            SearchState::Completed | SearchState::Cancelled => 2,
        }
    }

    /// Whether Theary will say no more about the search.
    pub fn is_final(self) -> bool {
        self.rank() == 2
    }
}

stored_enum!(
    /// What the access record says happened to a check's candidate data.
    AccessAction {
        /// Received from PageUp.
        Procured => "procured",
        /// Sent to Theary in an order.
        Ordered => "ordered",
        /// Removed under the retention policy.
        Purged => "purged",
        /// A reader opened the report page.
        ReportViewed => "report_viewed",
        /// A reader downloaded the report as PDF.
        ReportDownloaded => "report_downloaded",
        /// An operator made its owed work due now.
        Retried => "retried",
        /// An operator cancelled it.
        Cancelled => "cancelled",
        /// The tenant's keys were destroyed.
        TenantShredded => "tenant_shredded",
        /// A reader signed in through the tenant's identity provider to open its report.
        SignedIn => "signed_in",
        /// An API token was used (the entry's detail says for what, and the answer).
        ApiRequest => "api_request",
        /// The candidate was emailed the candidate form (the detail says which mail).
        CandidateInvited => "candidate_invited",
        /// The candidate submitted the candidate form and signed the authorization.
        CandidateSubmitted => "candidate_submitted",
        /// The candidate never answered; what the request held was purged.
        CandidateExpired => "candidate_expired",
    }
);

stored_enum!(
    /// What an API token may do. `Read` < `Operate`: an operate token also reads.
    ApiScope {
        /// GET: tenants, checks, the error log, readers.
        Read => "read",
        /// Read, and retry or cancel checks.
        Operate => "operate",
    }
);

impl ApiScope {
    /// Whether a token of this scope may do what `needed` allows.
    pub fn allows(self, needed: ApiScope) -> bool {
        self >= needed
    }
}

/// A search as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRecord {
    pub id: SearchId,
    pub search_type: SearchType,
    pub theary_search_id: Option<ThearySearchId>,
    pub state: SearchState,
    /// Theary's outcome, once completed.
    pub outcome: Option<Outcome>,
    pub discrepancy: bool,
    /// Why Theary needs action, when it does.
    pub reason_code: Option<ReasonCode>,
}

impl SearchRecord {
    /// What the search's result says, in the domain's terms.
    pub fn result(&self) -> SearchResult {
        match self.state {
            SearchState::Completed => SearchResult::Completed {
                outcome: self.outcome.clone().unwrap_or(Outcome::parse("UNKNOWN")),
                discrepancy: self.discrepancy,
            },
            SearchState::ActionRequired => SearchResult::ActionRequired {
                reason: self
                    .reason_code
                    .clone()
                    .unwrap_or(ReasonCode::parse("OTHER")),
            },
            SearchState::Cancelled => SearchResult::Cancelled,
            SearchState::Open => SearchResult::Open,
        }
    }
}

/// What a search's result says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchResult {
    Open,
    Completed { outcome: Outcome, discrepancy: bool },
    ActionRequired { reason: ReasonCode },
    Cancelled,
}

impl SearchResult {
    /// Whether PageUp shows a result row for it.
    pub fn is_result(&self) -> bool {
        matches!(
            self,
            SearchResult::Completed { .. } | SearchResult::ActionRequired { .. }
        )
    }
}

/// A check's stored state: everything its view is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    pub id: CheckId,
    pub tenant: TenantKey,
    pub pageup_id: PageUpCheckId,
    pub phase: Phase,
    /// Theary's order, once placed.
    pub reference: Option<ThearyOrderId>,
    /// Why it failed, for the recruiter.
    pub reason: Option<String>,
    /// The version of PageUp's document the state calls for, and the one PageUp last
    /// acknowledged (0: not even the claim yet).
    pub desired_version: i64,
    pub acked_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub searches: Vec<SearchRecord>,
}

/// A search's move forward, from an event or from the reconciler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchUpdate {
    /// Action required, completed or cancelled (an update never reopens a search).
    pub state: SearchState,
    pub outcome: Option<Outcome>,
    pub discrepancy: bool,
    pub reason_code: Option<ReasonCode>,
    /// The event data worth keeping for the report (JSON).
    pub result_json: Option<String>,
}

impl SearchUpdate {
    /// Searches only move forward: open (0) < action required (1) < terminal (2).
    pub fn rank(&self) -> i64 {
        self.state.rank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Stored + PartialEq + fmt::Debug>() {
        for v in T::ALL {
            assert_eq!(T::parse(v.as_str()), Some(*v));
        }
        assert_eq!(
            T::parse("no such value"),
            None,
            "unknown text is not a default"
        );
    }

    #[test]
    fn every_stored_value_reads_back_as_itself_and_nothing_else_reads() {
        round_trips::<Phase>();
        round_trips::<SearchState>();
        round_trips::<AccessAction>();
        round_trips::<ApiScope>();
        assert!(
            ApiScope::Operate.allows(ApiScope::Read) && !ApiScope::Read.allows(ApiScope::Operate)
        );
        assert_eq!(Phase::parse("Claimed"), None, "exactly as written");
    }

    #[test]
    fn searches_only_move_forward() {
        assert!(SearchState::Open.rank() < SearchState::ActionRequired.rank());
        assert!(SearchState::ActionRequired.rank() < SearchState::Completed.rank());
        assert_eq!(SearchState::Completed.rank(), SearchState::Cancelled.rank());
        assert!(SearchState::Cancelled.is_final() && !SearchState::ActionRequired.is_final());
    }
}
