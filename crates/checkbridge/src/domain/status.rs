//! What PageUp should show for a check, derived from its state. The pusher sends this whole
//! document whenever it differs from what PageUp last acknowledged; nothing is ever sent
//! partially, because PageUp's PUT is an override.

use pageup::{CheckStatus, ResultEntry, StatusDocument};
use theary::wire::{Outcome, ReasonCode, SearchType};

use crate::config::TenantConfig;

/// Where a check stands on our side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Claimed from PageUp; no order yet.
    Claimed,
    /// Ordered from Theary under this reference (Theary's verificationOrderId).
    Ordered { reference: String },
    /// Could not be ordered, or the order failed; the reason is for the recruiter.
    Failed {
        reference: Option<String>,
        reason: String,
    },
    /// Cancelled (by an operator, or every search cancelled at Theary).
    Cancelled { reference: Option<String> },
}

/// Where one search stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchOutcome {
    Open,
    Completed { outcome: Outcome, discrepancy: bool },
    ActionRequired { reason: ReasonCode },
    Cancelled,
}

impl SearchOutcome {
    fn is_result(&self) -> bool {
        matches!(
            self,
            SearchOutcome::Completed { .. } | SearchOutcome::ActionRequired { .. }
        )
    }
}

/// One search as the status needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchView {
    pub search_type: SearchType,
    pub outcome: SearchOutcome,
    /// Authenticated link to this search's report.
    pub report_link: String,
}

/// PageUp's result status for a finished search, per the tenant's mapping.
pub fn result_status(outcome: &SearchOutcome, tenant: &TenantConfig) -> String {
    let r = &tenant.results;
    let mapped = match outcome {
        SearchOutcome::Completed {
            outcome: Outcome::Verified,
            discrepancy: true,
        } => Some(r.discrepancy.clone()),
        SearchOutcome::Completed { outcome, .. } => r
            .outcomes
            .get(&outcome.as_str().to_ascii_uppercase())
            .cloned(),
        SearchOutcome::ActionRequired { reason } => r
            .action_required
            .get(&reason.as_str().to_ascii_uppercase())
            .cloned(),
        SearchOutcome::Open | SearchOutcome::Cancelled => None,
    };
    mapped.unwrap_or_else(|| r.unknown.clone())
}

/// The most severe of `statuses` per the tenant's severity order.
pub fn overall_status<'a>(
    statuses: impl IntoIterator<Item = &'a str>,
    tenant: &TenantConfig,
) -> String {
    let severity = &tenant.results.severity;
    let rank = |s: &str| {
        severity
            .iter()
            .position(|x| x.eq_ignore_ascii_case(s))
            .unwrap_or(0)
    };
    statuses
        .into_iter()
        .min_by_key(|s| rank(s))
        .map(str::to_owned)
        .unwrap_or_else(|| tenant.results.unknown.clone())
}

/// The whole document PageUp should hold for this check.
pub fn desired_document(
    phase: &Phase,
    searches: &[SearchView],
    overall_link: &str,
    tenant: &TenantConfig,
) -> StatusDocument {
    let doc = |status: CheckStatus,
               reference: Option<&str>,
               reason: &str,
               results: Vec<ResultEntry>| StatusDocument {
        status,
        reference_number: reference.unwrap_or_default().to_owned(),
        reason_for_fail: reason.to_owned(),
        results,
    };
    let reference = match phase {
        Phase::Claimed => return doc(CheckStatus::Queued, None, "", Vec::new()),
        Phase::Failed { reference, reason } => {
            return doc(
                CheckStatus::Failed,
                reference.as_deref(),
                reason,
                Vec::new(),
            )
        }
        Phase::Cancelled { reference } => {
            return doc(CheckStatus::Cancelled, reference.as_deref(), "", Vec::new())
        }
        Phase::Ordered { reference } => reference.as_str(),
    };
    let label = |t: &SearchType| {
        tenant
            .checks
            .report_types
            .get(t.as_str())
            .cloned()
            .unwrap_or_else(|| format!("{} verification", t.as_str().to_ascii_lowercase()))
    };
    let results: Vec<ResultEntry> = searches
        .iter()
        .filter(|s| s.outcome.is_result())
        .map(|s| ResultEntry {
            report_link: s.report_link.clone(),
            report_type: label(&s.search_type),
            status: result_status(&s.outcome, tenant),
        })
        .collect();
    let open = searches
        .iter()
        .filter(|s| s.outcome == SearchOutcome::Open)
        .count();
    if !searches.is_empty()
        && searches
            .iter()
            .all(|s| s.outcome == SearchOutcome::Cancelled)
    {
        return doc(CheckStatus::Cancelled, Some(reference), "", Vec::new());
    }
    if open > 0 || results.is_empty() {
        let status = if results.is_empty() {
            CheckStatus::New
        } else {
            CheckStatus::InProgress
        };
        return doc(status, Some(reference), "", results);
    }
    let sla = searches.iter().any(|s| {
        matches!(
            &s.outcome,
            SearchOutcome::ActionRequired {
                reason: ReasonCode::SlaReached
            }
        )
    });
    if sla && tenant.results.sla_reached_as_expired {
        return doc(CheckStatus::Expired, Some(reference), "", results);
    }
    let overall = overall_status(results.iter().map(|r| r.status.as_str()), tenant);
    let mut results = results;
    results.push(ResultEntry {
        report_link: overall_link.to_owned(),
        report_type: tenant.checks.overall_report_type.clone(),
        status: overall,
    });
    doc(CheckStatus::Completed, Some(reference), "", results)
}

#[cfg(test)]
mod tests;
