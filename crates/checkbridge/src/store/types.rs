//! What goes in and out of the store, in the domain's types (ids, phases, search states);
//! the store turns them into text and back through one mapping (`store::row`).

use theary::wire::SearchType;

use crate::domain::ids::{
    CheckId, PageUpCheckId, SearchId, TenantKey, ThearyOrderId, ThearySearchId,
};

/// Result of recording a claimed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Our id for the check.
    pub id: CheckId,
    /// False when the check was already recorded (a repeat of the same claim).
    pub new: bool,
}

/// A search planned for a check; its id is ours, sent as `externalSearchId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSearch {
    pub id: SearchId,
    pub search_type: SearchType,
}

/// What a newly claimed check owes next.
#[derive(Clone, Copy)]
pub enum Plan<'a> {
    /// The order to POST to Theary (JSON, built once so every attempt sends the same).
    Order { order_json: &'a str },
    /// The invitation cannot become an order; PageUp is to show `failed` with this reason.
    Failed { reason: &'a str },
    /// The candidate is to be invited to the candidate form first.
    Candidate(&'a NewCandidate<'a>),
}

/// The candidate request a check waiting on the candidate starts with.
#[derive(Clone, Copy)]
pub struct NewCandidate<'a> {
    /// SHA-256 (hex) of the form link's token.
    pub token_hash: &'a str,
    /// The token, sealed with the tenant's key (so a resent mail has the same link).
    pub token_sealed: &'a str,
    /// The canonical invitation, sealed.
    pub invitation_sealed: &'a str,
    /// What the candidate is asked for: a JSON list of field names.
    pub needs_json: &'a str,
    pub expires_at: i64,
}

impl std::fmt::Debug for Plan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Plan::Order { .. } => f.write_str("Order(<redacted>)"),
            Plan::Failed { reason } => f.debug_tuple("Failed").field(reason).finish(),
            Plan::Candidate(c) => f.debug_tuple("Candidate").field(&c.needs_json).finish(),
        }
    }
}

/// A check just claimed from PageUp.
#[derive(Clone, Copy)]
pub struct NewCheck<'a> {
    pub id: &'a CheckId,
    pub tenant: &'a TenantKey,
    pub pageup_id: &'a PageUpCheckId,
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
    pub tenant: &'a TenantKey,
    pub check_id: &'a CheckId,
    /// The lease holder recording it.
    pub owner: &'a str,
    /// Theary's verificationOrderId.
    pub reference: &'a ThearyOrderId,
    /// Theary's search ids by our search id, where known.
    pub theary_ids: &'a [(SearchId, ThearySearchId)],
    /// When the reconciler should first look at the searches if no event arrives.
    pub reconcile_at: i64,
}

/// What the webhook receiver needs to verify an event for a search. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    pub search_id: SearchId,
    pub check_id: CheckId,
    pub secret: String,
    /// Theary's id of the search, once known (not in any link we publish): a delivery that
    /// names it is plausibly Theary's.
    pub theary_search_id: Option<ThearySearchId>,
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
    pub id: CheckId,
    pub tenant: TenantKey,
    pub pageup_id: PageUpCheckId,
    /// Earlier leases of this order (each counted as an attempt when leased, so a crash
    /// between lease and POST counts too); more than zero means one may have reached Theary.
    pub attempts: i64,
    pub order_json: Option<String>,
    /// Our search ids (`externalSearchId`s), to look a possibly placed order up by.
    pub search_ids: Vec<SearchId>,
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
    pub id: CheckId,
    pub tenant: TenantKey,
    pub attempts: i64,
}

/// A verified webhook event, to be stored once.
#[derive(Clone, Copy)]
pub struct EventRecord<'a> {
    pub event_id: &'a str,
    pub tenant: &'a TenantKey,
    pub search_id: &'a SearchId,
    pub check_id: &'a CheckId,
    pub event_type: &'a str,
    pub body: &'a str,
    /// Theary's search id named in the event, to remember it.
    pub theary_search_id: Option<&'a ThearySearchId>,
    /// A digest of the verified body keyed with the order's secret: the same body again for
    /// the same search is a replay, a duplicate whatever its event id. `None`: not checked.
    pub body_digest: Option<&'a str>,
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
    pub check_id: CheckId,
    pub tenant: TenantKey,
    pub reference: ThearyOrderId,
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
