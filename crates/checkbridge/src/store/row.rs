//! Reading rows into the domain's types: the one mapping between stored text and the
//! domain's ids and enums. A value the code does not know is an error naming the column,
//! never a default.

use sqlx::any::AnyRow;
use sqlx::Row;
use theary::wire::{Outcome, ReasonCode, SearchType};

use super::StoreError;
use crate::domain::check::{CheckRecord, SearchRecord, Stored};

/// A text column as an id (or any type made from text).
pub(super) fn text<T: From<String>>(r: &AnyRow, column: &str) -> Result<T, StoreError> {
    Ok(T::from(r.try_get::<String, _>(column)?))
}

/// A nullable text column as an id.
pub(super) fn opt_text<T: From<String>>(r: &AnyRow, column: &str) -> Result<Option<T>, StoreError> {
    Ok(r.try_get::<Option<String>, _>(column)?.map(T::from))
}

/// A column holding one of the domain's stored enums.
pub(super) fn stored<T: Stored>(r: &AnyRow, column: &'static str) -> Result<T, StoreError> {
    let value: String = r.try_get(column)?;
    T::parse(&value).ok_or(StoreError::Corrupt { column, value })
}

/// A search as `SELECT id, search_type, theary_search_id, outcome, result_outcome,
/// discrepancy, reason_code` reads it.
pub(super) fn search(r: &AnyRow) -> Result<SearchRecord, StoreError> {
    Ok(SearchRecord {
        id: text(r, "id")?,
        search_type: SearchType::parse(&r.try_get::<String, _>("search_type")?),
        theary_search_id: opt_text(r, "theary_search_id")?,
        state: stored(r, "outcome")?,
        outcome: r
            .try_get::<Option<String>, _>("result_outcome")?
            .map(|o| Outcome::parse(&o)),
        discrepancy: r.try_get::<i64, _>("discrepancy")? != 0,
        reason_code: r
            .try_get::<Option<String>, _>("reason_code")?
            .map(|c| ReasonCode::parse(&c)),
    })
}

/// The columns [`search`] reads.
pub(super) const SEARCH_COLUMNS: &str =
    "id, search_type, theary_search_id, outcome, result_outcome, discrepancy, reason_code";

/// The columns [`check`] reads.
pub(super) const CHECK_COLUMNS: &str = "id, tenant, pageup_id, phase, reference, reason, \
     desired_version, acked_version, created_at, updated_at";

/// A check without its searches, as `SELECT {CHECK_COLUMNS}` reads it.
pub(super) fn check(r: &AnyRow) -> Result<CheckRecord, StoreError> {
    Ok(CheckRecord {
        id: text(r, "id")?,
        tenant: text(r, "tenant")?,
        pageup_id: text(r, "pageup_id")?,
        phase: stored(r, "phase")?,
        reference: opt_text(r, "reference")?,
        reason: r.try_get("reason")?,
        desired_version: r.try_get("desired_version")?,
        acked_version: r.try_get("acked_version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        searches: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use crate::domain::check::{Phase, SearchState};

    /// Every store module that writes SQL by hand.
    const SOURCES: &[&str] = &[
        include_str!("admin.rs"),
        include_str!("checks.rs"),
        include_str!("events.rs"),
        include_str!("health.rs"),
        include_str!("orders.rs"),
        include_str!("pushes.rs"),
        include_str!("retention.rs"),
        include_str!("searches.rs"),
        include_str!("users.rs"),
    ];

    /// The quoted words after each `column = ` or `column IN (` in the SQL of the store.
    fn literals(column: &str) -> Vec<String> {
        let mut out = Vec::new();
        for src in SOURCES {
            for prefix in [format!("{column} = '"), format!("{column} IN (")] {
                let mut rest = *src;
                while let Some(i) = rest.find(&prefix) {
                    rest = &rest[i + prefix.len() - 1..];
                    let end = rest.find([')', ' ', ',']).unwrap_or(rest.len());
                    let list = if prefix.ends_with('(') {
                        &rest[1..rest.find(')').unwrap_or(rest.len())]
                    } else {
                        &rest[..end.max(1)]
                    };
                    for word in list.split(',') {
                        let word = word.trim();
                        if let Some(w) = word.strip_prefix('\'').and_then(|w| w.strip_suffix('\''))
                        {
                            out.push(w.to_owned());
                        }
                    }
                    rest = &rest[1..];
                }
            }
        }
        out
    }

    #[test]
    fn every_state_written_in_sql_is_one_the_domain_knows() {
        let phases = literals("phase");
        assert!(phases.len() >= 8, "the scan sees the SQL: {phases:?}");
        for p in &phases {
            assert!(
                Phase::parse(p).is_some(),
                "phase {p:?} in SQL is not a Phase"
            );
        }
        let outcomes = literals("outcome");
        assert!(!outcomes.is_empty(), "the scan sees the SQL");
        for o in &outcomes {
            assert!(
                SearchState::parse(o).is_some(),
                "outcome {o:?} in SQL is not a SearchState"
            );
        }
    }
}
