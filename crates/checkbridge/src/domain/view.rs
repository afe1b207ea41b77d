//! One view of a check: what PageUp should show for it, each search's result as the
//! recruiter reads it, and the overall result, all derived from the check's stored state by
//! one pure function, [`view`]. The pusher sends the view's document; the report page, its
//! PDF, the operator page and `checks show` read the same view, so none of them works a
//! status out again.
//!
//! PageUp's PUT is an override, so the document is always whole: nothing set earlier (the
//! reference, the results) is ever left out of a later document.

use pageup::{CheckStatus, ResultEntry, StatusDocument};
use theary::wire::{Outcome, ReasonCode, SearchType};

use super::check::{CheckRecord, Phase, SearchResult, SearchState};
use super::ids::{CheckId, SearchId, TenantKey};
use crate::config::TenantConfig;

/// Where report links point: `{base}/reports/{tenant}/{check}[/{search}]`. Check and search
/// ids are random, and the page behind the link asks for a sign-in.
#[derive(Debug, Clone)]
pub struct ReportLinks {
    base: String,
}

impl ReportLinks {
    /// Links under `public_base_url` (a trailing slash is ignored).
    pub fn new(public_base_url: &str) -> ReportLinks {
        ReportLinks {
            base: public_base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The path of a check's report (overall), or of one search's.
    pub fn path(tenant: &TenantKey, check: &CheckId, search: Option<&SearchId>) -> String {
        match search {
            Some(s) => format!("/reports/{tenant}/{check}/{s}"),
            None => format!("/reports/{tenant}/{check}"),
        }
    }

    /// The full link PageUp shows.
    pub fn link(&self, tenant: &TenantKey, check: &CheckId, search: Option<&SearchId>) -> String {
        format!("{}{}", self.base, ReportLinks::path(tenant, check, search))
    }
}

/// One search as the recruiter reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchView {
    pub id: SearchId,
    pub search_type: SearchType,
    /// The tenant's label for this kind of check (PageUp's `reportType`).
    pub label: String,
    pub result: SearchResult,
    /// PageUp's result status (`pass`, `review`, ...) once the search has a result;
    /// `cancelled` or `open` otherwise.
    pub status: String,
    pub report_link: String,
}

/// A check as everyone reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckView {
    /// The whole document PageUp should hold now.
    pub document: StatusDocument,
    pub searches: Vec<SearchView>,
    /// The overall result once no search is open and at least one has a result.
    pub overall: Option<String>,
}

impl CheckView {
    /// PageUp's status once every owed update has landed.
    pub fn status(&self) -> &CheckStatus {
        &self.document.status
    }

    /// That status in words (`in progress`, `completed` ...), for people.
    pub fn status_words(&self) -> &str {
        match self.document.status {
            CheckStatus::InProgress => "in progress",
            ref other => other.as_str(),
        }
    }
}

/// PageUp's result status for a search's result, per the tenant's mapping.
pub fn result_status(result: &SearchResult, tenant: &TenantConfig) -> String {
    let r = &tenant.results;
    let mapped = match result {
        SearchResult::Completed {
            outcome: Outcome::Verified,
            discrepancy: true,
        } => Some(r.discrepancy.clone()),
        SearchResult::Completed { outcome, .. } => r
            .outcomes
            .get(&outcome.as_str().to_ascii_uppercase())
            .cloned(),
        SearchResult::ActionRequired { reason } => r
            .action_required
            .get(&reason.as_str().to_ascii_uppercase())
            .cloned(),
        SearchResult::Open | SearchResult::Cancelled => None,
    };
    mapped.unwrap_or_else(|| r.unknown.clone())
}

/// The most severe of `statuses` per the tenant's severity order (a status the order does
/// not list counts as most severe).
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

/// The tenant's label for a kind of check (PageUp's `reportType`).
pub fn report_type(search_type: &SearchType, tenant: &TenantConfig) -> String {
    tenant
        .checks
        .report_types
        .get(&search_type.as_str().to_ascii_uppercase())
        .cloned()
        .unwrap_or_else(|| format!("{} verification", search_type.as_str().to_ascii_lowercase()))
}

/// The view of `check` (see the module docs).
pub fn view(check: &CheckRecord, links: &ReportLinks, tenant: &TenantConfig) -> CheckView {
    let searches: Vec<SearchView> = check
        .searches
        .iter()
        .map(|s| {
            let result = s.result();
            let status = match s.state {
                SearchState::Completed | SearchState::ActionRequired => {
                    result_status(&result, tenant)
                }
                SearchState::Cancelled => "cancelled".to_owned(),
                SearchState::Open => "open".to_owned(),
            };
            SearchView {
                label: report_type(&s.search_type, tenant),
                report_link: links.link(&check.tenant, &check.id, Some(&s.id)),
                id: s.id.clone(),
                search_type: s.search_type.clone(),
                result,
                status,
            }
        })
        .collect();
    let none_open = !searches.is_empty() && searches.iter().all(|s| s.result != SearchResult::Open);
    let results: Vec<&SearchView> = searches.iter().filter(|s| s.result.is_result()).collect();
    let overall = (none_open && !results.is_empty())
        .then(|| overall_status(results.iter().map(|s| s.status.as_str()), tenant));
    let overall_link = links.link(&check.tenant, &check.id, None);
    let document = document(check, &searches, overall.as_deref(), &overall_link, tenant);
    CheckView {
        document,
        searches,
        overall,
    }
}

/// The `reportType` of the partial result a check waiting on the candidate shows.
pub const CANDIDATE_STEP: &str = "Candidate form";

/// What the pusher sends next, and the version PageUp acknowledges by taking it: until
/// PageUp has acknowledged the claim, the claim (`queued`, version 1) comes first.
pub fn next_document(check: &CheckRecord, view: &CheckView) -> (StatusDocument, i64) {
    if check.acked_version == 0 {
        (StatusDocument::new(CheckStatus::Queued), 1)
    } else {
        (view.document.clone(), check.desired_version)
    }
}

fn document(
    check: &CheckRecord,
    searches: &[SearchView],
    overall: Option<&str>,
    overall_link: &str,
    tenant: &TenantConfig,
) -> StatusDocument {
    let doc = |status: CheckStatus, reason: &str, results: Vec<ResultEntry>| StatusDocument {
        status,
        reference_number: check
            .reference
            .as_ref()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        reason_for_fail: reason.to_owned(),
        results,
    };
    match check.phase {
        Phase::Claimed => return doc(CheckStatus::Queued, "", Vec::new()),
        Phase::Failed => {
            return doc(
                CheckStatus::Failed,
                check.reason.as_deref().unwrap_or_default(),
                Vec::new(),
            )
        }
        Phase::Cancelled => return doc(CheckStatus::Cancelled, "", Vec::new()),
        Phase::Expired => return doc(CheckStatus::Expired, "", Vec::new()),
        // Waiting on the candidate: PageUp's `new` ("created" at the provider) with our id
        // as the provider's reference until Theary's order exists, and one partial result
        // that says what it waits on; once the candidate answered, the same until the order
        // is placed (never back to `queued`). PUTs are whole documents: the row goes once
        // the order is placed, and the reference becomes Theary's.
        Phase::Candidate | Phase::Submitted => {
            return StatusDocument {
                status: CheckStatus::New,
                reference_number: check.id.as_str().to_owned(),
                reason_for_fail: String::new(),
                results: vec![ResultEntry {
                    report_link: overall_link.to_owned(),
                    report_type: CANDIDATE_STEP.to_owned(),
                    status: if check.phase == Phase::Candidate {
                        format!(
                            "awaiting candidate since {}",
                            crate::time::rfc3339(check.created_at)
                                .get(..10)
                                .unwrap_or_default()
                        )
                    } else {
                        "candidate form completed".to_owned()
                    },
                }],
            }
        }
        Phase::Ordered => {}
    }
    let mut results: Vec<ResultEntry> = searches
        .iter()
        .filter(|s| s.result.is_result())
        .map(|s| ResultEntry {
            report_link: s.report_link.clone(),
            report_type: s.label.clone(),
            status: s.status.clone(),
        })
        .collect();
    if !searches.is_empty() && searches.iter().all(|s| s.result == SearchResult::Cancelled) {
        return doc(CheckStatus::Cancelled, "", Vec::new());
    }
    let open = searches.iter().any(|s| s.result == SearchResult::Open);
    if open || results.is_empty() {
        let status = if results.is_empty() {
            CheckStatus::New
        } else {
            CheckStatus::InProgress
        };
        return doc(status, "", results);
    }
    let sla = searches.iter().any(|s| {
        matches!(
            &s.result,
            SearchResult::ActionRequired {
                reason: ReasonCode::SlaReached
            }
        )
    });
    if sla && tenant.results.sla_reached_as_expired {
        return doc(CheckStatus::Expired, "", results);
    }
    results.push(ResultEntry {
        report_link: overall_link.to_owned(),
        report_type: tenant.checks.overall_report_type.clone(),
        status: overall
            .map(str::to_owned)
            .unwrap_or_else(|| tenant.results.unknown.clone()),
    });
    doc(CheckStatus::Completed, "", results)
}

/// One moment of a check's life, for people (no candidate data).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TimelineEntry {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub what: String,
}

/// A check's life in order: claimed, each search's webhook events (type and when, per
/// search id), and its last change.
pub fn timeline<'a>(
    check: &CheckRecord,
    events: impl IntoIterator<Item = (&'a SearchId, &'a [(String, i64)])>,
) -> Vec<TimelineEntry> {
    let mut out = vec![TimelineEntry {
        at: check.created_at,
        what: "claimed from PageUp".to_owned(),
    }];
    let mut seen = Vec::new();
    for (search, list) in events {
        let kind = check
            .searches
            .iter()
            .find(|s| &s.id == search)
            .map(|s| s.search_type.as_str().to_ascii_lowercase())
            .unwrap_or_else(|| "a".to_owned());
        for (event, at) in list {
            seen.push(TimelineEntry {
                at: *at,
                what: format!(
                    "{kind} search: {}",
                    event.trim_start_matches("verification.").replace('_', " ")
                ),
            });
        }
    }
    seen.sort_by_key(|e| e.at);
    out.extend(seen);
    out.push(TimelineEntry {
        at: check.updated_at,
        what: format!("last change (phase {})", check.phase),
    });
    out
}

#[cfg(test)]
mod tests;
