//! What goes in and out of the store.

/// Result of recording a claimed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Our id for the check.
    pub id: String,
    /// False when the check was already recorded (a repeat of the same claim).
    pub new: bool,
}

/// A search planned for a check; its id is ours, sent as `externalSearchId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSearch {
    pub id: String,
    pub search_type: String,
}

/// What a newly claimed check owes next.
#[derive(Clone, Copy)]
pub enum Plan<'a> {
    /// The order to POST to Theary (JSON, built once so every attempt sends the same).
    Order { order_json: &'a str },
    /// The invitation cannot become an order; PageUp is to show `failed` with this reason.
    Failed { reason: &'a str },
}

impl std::fmt::Debug for Plan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Plan::Order { .. } => f.write_str("Order(<redacted>)"),
            Plan::Failed { reason } => f.debug_tuple("Failed").field(reason).finish(),
        }
    }
}

/// A check just claimed from PageUp.
#[derive(Clone, Copy)]
pub struct NewCheck<'a> {
    pub id: &'a str,
    pub tenant: &'a str,
    pub pageup_id: &'a str,
    pub webhook_secret: &'a str,
    pub searches: &'a [NewSearch],
    pub plan: Plan<'a>,
}

impl std::fmt::Debug for NewCheck<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCheck")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("pageup_id", &self.pageup_id)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

/// An order Theary accepted, as the orderer records it.
#[derive(Debug, Clone, Copy)]
pub struct PlacedOrder<'a> {
    pub tenant: &'a str,
    pub check_id: &'a str,
    /// The lease holder recording it.
    pub owner: &'a str,
    /// Theary's verificationOrderId.
    pub reference: &'a str,
    /// Theary's search ids by our search id, where known.
    pub theary_ids: &'a [(String, String)],
    /// When the reconciler should first look at the searches if no event arrives.
    pub reconcile_at: i64,
}

/// What the webhook receiver needs to verify an event for a search. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    pub search_id: String,
    pub check_id: String,
    pub secret: String,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("search_id", &self.search_id)
            .field("check_id", &self.check_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A check leased for ordering.
#[derive(Clone, PartialEq, Eq)]
pub struct OrderWork {
    pub id: String,
    pub tenant: String,
    pub pageup_id: String,
    /// POSTs started before this one; more than zero means one may have reached Theary.
    pub attempts: i64,
    pub order_json: Option<String>,
    /// Our search ids (`externalSearchId`s), to look a possibly placed order up by.
    pub search_ids: Vec<String>,
}

impl std::fmt::Debug for OrderWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderWork")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("pageup_id", &self.pageup_id)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// A check whose PageUp document is owed, leased for pushing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushWork {
    pub id: String,
    pub tenant: String,
    pub attempts: i64,
}

/// A search as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRow {
    pub id: String,
    pub search_type: String,
    pub theary_search_id: Option<String>,
    pub outcome: String,
    pub result_outcome: Option<String>,
    pub discrepancy: bool,
    pub reason_code: Option<String>,
}

/// A consistent view of a check for computing its PageUp document: the version is read
/// before the searches, so the document is at least as new as the version it acknowledges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSnapshot {
    pub id: String,
    pub tenant: String,
    pub pageup_id: String,
    pub phase: String,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub desired_version: i64,
    pub acked_version: i64,
    pub searches: Vec<SearchRow>,
}

/// A search's move forward, from an event or from the reconciler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchUpdate {
    /// `action_required`, `completed` or `cancelled`.
    pub outcome: &'static str,
    pub result_outcome: Option<String>,
    pub discrepancy: bool,
    pub reason_code: Option<String>,
    /// The event data worth keeping for the report (JSON).
    pub result_json: Option<String>,
}

impl SearchUpdate {
    /// Searches only move forward: open (0) < action required (1) < terminal (2).
    pub fn rank(&self) -> i64 {
        match self.outcome {
            "action_required" => 1,
            _ => 2,
        }
    }
}

/// A verified webhook event, to be stored once.
#[derive(Clone, Copy)]
pub struct EventRecord<'a> {
    pub event_id: &'a str,
    pub tenant: &'a str,
    pub search_id: &'a str,
    pub check_id: &'a str,
    pub event_type: &'a str,
    pub body: &'a str,
    /// Theary's search id named in the event, to remember it.
    pub theary_search_id: Option<&'a str>,
}

impl std::fmt::Debug for EventRecord<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRecord")
            .field("event_id", &self.event_id)
            .field("tenant", &self.tenant)
            .field("search_id", &self.search_id)
            .field("event_type", &self.event_type)
            .finish_non_exhaustive()
    }
}

/// Open searches of an ordered check that have been quiet too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileWork {
    pub check_id: String,
    pub tenant: String,
    pub reference: String,
}

/// Work still owed, for health checks and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Owed {
    /// Checks waiting for an order.
    pub orders: i64,
    /// Checks whose PageUp document is behind.
    pub pushes: i64,
    /// Searches of ordered checks with no result yet. (Searches needing action count as
    /// results; the reconciler still watches them in case Theary completes them later.)
    pub open_searches: i64,
}
