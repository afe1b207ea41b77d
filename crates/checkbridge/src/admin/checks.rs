//! Checks as operators see and nudge them: listed with filters, one shown in full, retried,
//! cancelled. `checkbridge checks` and the admin API (`/api/v1`) both call these, so a
//! filter means the same and the JSON shapes are the same in both (documented in
//! docs/operations.md and in the API's OpenAPI description).

use serde::Serialize;
use theary::ThearyClient;
use utoipa::ToSchema;

use crate::config::TenantConfig;
use crate::domain::check::{AccessAction, Phase};
use crate::domain::ids::TenantKey;
use crate::domain::view::{view, ReportLinks};
use crate::store::{CheckFilter, CheckSummary, Store, StoreError};
use crate::time::now_ms;

/// Most checks one list returns.
pub const MAX_LIMIT: i64 = 10_000;

/// Why a filter could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("phase {0:?}: use claimed, ordered, failed or cancelled")]
    Phase(String),
    #[error("since {0:?}: use a number and m, h or d, e.g. 7d")]
    Since(String),
}

/// The filter for `tenant`'s checks from what a person typed: a phase name and a window
/// back from now (`30m`, `24h`, `7d`).
pub fn filter(
    tenant: &TenantKey,
    phase: Option<&str>,
    since: Option<&str>,
    owing: bool,
    with_errors: bool,
) -> Result<CheckFilter, FilterError> {
    let phase = match phase {
        None => None,
        Some(p) => Some(Phase::parse(p).ok_or_else(|| FilterError::Phase(p.to_owned()))?),
    };
    let since = match since {
        None => None,
        Some(text) => Some(
            now_ms()
                - crate::time::parse_window(text)
                    .ok_or_else(|| FilterError::Since(text.to_owned()))?,
        ),
    };
    Ok(CheckFilter {
        tenant: Some(tenant.clone()),
        phase,
        since,
        owing,
        with_errors,
    })
}

/// A time for JSON output: RFC 3339 in UTC, or null when unset.
pub fn when_json(ms: i64) -> Option<String> {
    Some(crate::time::rfc3339(ms)).filter(|t| !t.is_empty())
}

/// Whether PageUp shows the check's latest state (`current`) or is owed an update.
pub fn pageup_state(c: &CheckSummary) -> &'static str {
    if c.acked_version >= c.desired_version {
        "current"
    } else {
        "owed"
    }
}

/// A check in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckItem {
    /// PageUp's id of the check.
    pub pageup_id: String,
    /// Our id of the check.
    pub check: String,
    /// `claimed`, `ordered`, `failed` or `cancelled`.
    pub phase: String,
    /// `current` (PageUp shows the latest state) or `owed` (an update is owed).
    pub pageup: String,
    /// Theary's order id, once placed.
    pub reference: Option<String>,
    /// RFC 3339, UTC.
    pub claimed_at: Option<String>,
    pub updated_at: Option<String>,
    /// The last order or PageUp update error, if the last attempt failed.
    pub last_error: Option<String>,
}

impl From<&CheckSummary> for CheckItem {
    fn from(c: &CheckSummary) -> Self {
        CheckItem {
            pageup_id: c.pageup_id.to_string(),
            check: c.id.to_string(),
            phase: c.phase.to_string(),
            pageup: pageup_state(c).to_owned(),
            reference: c.reference.as_ref().map(ToString::to_string),
            claimed_at: when_json(c.created_at),
            updated_at: when_json(c.updated_at),
            last_error: c.push_error.clone().or(c.last_error.clone()),
        }
    }
}

/// The checks matching `filter`, newest first, at most `limit` (clamped to 1..=MAX_LIMIT).
pub async fn list(
    store: &Store,
    filter: &CheckFilter,
    limit: i64,
) -> Result<Vec<CheckItem>, StoreError> {
    let found = store.find_checks(filter, limit.clamp(1, MAX_LIMIT)).await?;
    Ok(found.iter().map(CheckItem::from).collect())
}

/// One webhook event of a search.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventItem {
    pub id: String,
    pub kind: String,
}

/// One search of a check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchItem {
    pub id: String,
    /// Theary's search type (`EMPLOYMENT`, `EDUCATION`, ...).
    #[serde(rename = "type")]
    pub search_type: String,
    /// `open`, `action_required`, `completed` or `cancelled`.
    pub state: String,
    pub outcome: Option<String>,
    pub discrepancy: bool,
    /// The result status PageUp is shown for it.
    pub pageup_status: String,
    pub events: Vec<EventItem>,
}

/// An access-record entry of a check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessItem {
    pub at: Option<String>,
    pub action: String,
    pub actor: String,
}

/// A logged failure concerning a check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckErrorItem {
    pub at: Option<String>,
    pub operation: String,
    pub http_status: Option<i64>,
    pub message: String,
}

/// One check in full: state, searches, access record and errors. No candidate data.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckDetail {
    pub check: String,
    pub pageup_id: String,
    pub tenant: String,
    /// The status PageUp shows once every owed update has landed.
    pub pageup_status: String,
    pub phase: String,
    pub reference: Option<String>,
    pub acked_version: i64,
    pub desired_version: i64,
    pub order_attempts: i64,
    pub claimed_at: Option<String>,
    pub updated_at: Option<String>,
    pub last_order_error: Option<String>,
    pub last_pageup_error: Option<String>,
    pub searches: Vec<SearchItem>,
    /// The overall result once no search is open.
    pub overall: Option<String>,
    pub access: Vec<AccessItem>,
    pub errors: Vec<CheckErrorItem>,
    /// The candidate's part, when the check waits or waited on the candidate.
    pub candidate: Option<CandidateItem>,
}

/// A check's candidate step as operators read it (no candidate data, no link).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CandidateItem {
    /// `invited`, `submitted`, `expired` or `refused`.
    pub state: String,
    /// What the candidate is asked for (field names).
    pub asked: Vec<String>,
    pub invited_at: Option<String>,
    pub expires_at: Option<String>,
    /// Mails the mail server accepted: the invitation, then each reminder.
    pub mails_sent: i64,
    pub reminders_sent: i64,
    pub last_mail_error: Option<String>,
    pub submitted_at: Option<String>,
}

/// Check `id` (ours or PageUp's) of `tenant` in full; `None` when the tenant has no such
/// check.
pub async fn detail(
    store: &Store,
    links: &ReportLinks,
    cfg: &TenantConfig,
    tenant: &TenantKey,
    id: &str,
) -> Result<Option<CheckDetail>, StoreError> {
    let Some(c) = store.find_check(tenant, id).await? else {
        return Ok(None);
    };
    let Some(record) = store.check_record(tenant, &c.id).await? else {
        return Ok(None);
    };
    let shown = view(&record, links, cfg);
    let access = store
        .access_records(tenant)
        .await?
        .into_iter()
        .filter(|r| r.check_id == c.id)
        .map(|r| AccessItem {
            at: when_json(r.at),
            action: r.action.to_string(),
            actor: r.actor,
        })
        .collect();
    let errors = store
        .errors(tenant, 0)
        .await?
        .into_iter()
        .filter(|e| e.check_id.as_ref() == Some(&c.id))
        .map(|e| CheckErrorItem {
            at: when_json(e.at),
            operation: e.operation,
            http_status: e.http_status,
            message: e.message,
        })
        .collect();
    let mut searches = Vec::new();
    for (s, v) in record.searches.iter().zip(&shown.searches) {
        let events = store.webhook_events(tenant, &s.id).await?;
        searches.push(SearchItem {
            id: s.id.to_string(),
            search_type: s.search_type.to_string(),
            state: s.state.to_string(),
            outcome: s.outcome.as_ref().map(ToString::to_string),
            discrepancy: s.discrepancy,
            pageup_status: v.status.clone(),
            events: events
                .into_iter()
                .map(|(id, kind)| EventItem { id, kind })
                .collect(),
        });
    }
    let candidate = store
        .candidate_request(tenant, &c.id)
        .await?
        .map(|r| CandidateItem {
            asked: serde_json::from_str(&r.needs).unwrap_or_default(),
            invited_at: when_json(r.invited_at),
            expires_at: when_json(r.expires_at),
            reminders_sent: (r.mails_sent - 1).max(0),
            mails_sent: r.mails_sent,
            last_mail_error: r.mail_error,
            submitted_at: r.submitted_at.and_then(when_json),
            state: r.state,
        });
    Ok(Some(CheckDetail {
        check: c.id.to_string(),
        pageup_id: c.pageup_id.to_string(),
        tenant: c.tenant.to_string(),
        pageup_status: shown.document.status.as_str().to_owned(),
        phase: c.phase.to_string(),
        reference: c.reference.as_ref().map(ToString::to_string),
        acked_version: c.acked_version,
        desired_version: c.desired_version,
        order_attempts: c.order_attempts,
        claimed_at: when_json(c.created_at),
        updated_at: when_json(c.updated_at),
        last_order_error: c.last_error.clone(),
        last_pageup_error: c.push_error.clone(),
        searches,
        overall: shown.overall,
        access,
        errors,
        candidate,
    }))
}

/// Sends check `id`'s candidate invitation again (same link), at once, through a running
/// service's mailer. `None` for an unknown check; `Some(false)` when it has no open
/// candidate request.
pub async fn resend_invite(
    store: &Store,
    tenant: &TenantKey,
    id: &str,
) -> Result<Option<(CheckSummary, bool)>, StoreError> {
    let Some(c) = store.find_check(tenant, id).await? else {
        return Ok(None);
    };
    let resent = store
        .resend_candidate_invitation(tenant, &c.id, now_ms())
        .await?;
    Ok(Some((c, resent)))
}

/// Makes check `id`'s owed work due now (its order if not placed, its PageUp document),
/// recorded in the access record as `actor`. `None` for an unknown check.
pub async fn retry(
    store: &Store,
    tenant: &TenantKey,
    id: &str,
    actor: &str,
) -> Result<Option<CheckSummary>, StoreError> {
    let Some(c) = store.find_check(tenant, id).await? else {
        return Ok(None);
    };
    store.retry_now(tenant, &c.id, now_ms()).await?;
    store
        .record_access(tenant, &c.id, actor, AccessAction::Retried, now_ms())
        .await?;
    Ok(Some(c))
}

/// Why a check could not be cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("cancelling order {reference} at Theary")]
    Theary {
        reference: String,
        #[source]
        source: theary::Error,
    },
    #[error("database")]
    Store(#[from] StoreError),
}

/// What cancelling came to.
#[derive(Debug, Clone)]
pub enum Cancelled {
    /// Cancelled now: no order is placed any more, PageUp is owed `cancelled`.
    Now(CheckSummary),
    /// It was already final (`phase` says which); nothing changed.
    AlreadyFinal(CheckSummary),
}

/// Cancels check `id`: its order at Theary first (if placed), then here, recorded as
/// `actor`. `None` for an unknown check.
pub async fn cancel(
    store: &Store,
    theary: &ThearyClient,
    cfg: &TenantConfig,
    tenant: &TenantKey,
    id: &str,
    actor: &str,
) -> Result<Option<Cancelled>, CancelError> {
    let Some(c) = store.find_check(tenant, id).await? else {
        return Ok(None);
    };
    if matches!(
        c.phase,
        Phase::Claimed | Phase::Ordered | Phase::Candidate | Phase::Submitted
    ) {
        if let Some(reference) = &c.reference {
            theary
                .cancel_order(&cfg.theary_config(), reference.as_str())
                .await
                .map_err(|source| CancelError::Theary {
                    reference: reference.to_string(),
                    source,
                })?;
        }
    }
    Ok(Some(
        if store.cancel_check(tenant, &c.id, actor, now_ms()).await? {
            Cancelled::Now(c)
        } else {
            Cancelled::AlreadyFinal(c)
        },
    ))
}
