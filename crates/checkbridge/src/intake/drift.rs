//! Schema drift: noticing that PageUp's invitation payload changed under a live tenant.
//!
//! Per tenant checkbridge remembers the set of field paths its invitations have shown
//! ([`paths_of`]: key names only, never values; GUID-named keys left out, as PageUp's fuzzy
//! serializer adds fresh ones every time; list indexes collapsed to `[]`). The first
//! [`BASELINE`] invitations make the baseline (their paths all known, no issue). After it, an invitation that brings paths never seen, or
//! lacks a path the mapping reads whose parent it does have (an `Applicant` without its
//! `EmailId`; a list that is empty or absent is not a lack), is a drift: a health issue
//! "PageUp payload changed" listing the paths opens, the new paths join the known set, and
//! the issue resolves when an operator acknowledges it or after `drift_settle_after`
//! invitations in the new shape (none of them drifting further).
//!
//! [`Shape::observe`] is pure and cheap (set differences in memory); it says whether the
//! shape changed, so the caller writes to the store only then, never per invitation.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Mapping;
use crate::domain::ids::TenantKey;
use crate::store::Store;

/// Every field path of a raw invitation: `a`, `a.b`, `a.list`, `a.list[]`, `a.list[].c`.
/// Keys that are GUIDs (and all below them) are left out; a non-empty list adds `name[]`.
pub fn paths_of(raw: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, name: &str, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    if super::is_guid(k) {
                        continue;
                    }
                    let n = if name.is_empty() {
                        k.clone()
                    } else {
                        format!("{name}.{k}")
                    };
                    out.insert(n.clone());
                    walk(child, &n, out);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                let n = format!("{name}[]");
                out.insert(n.clone());
                for child in items {
                    walk(child, &n, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(raw, "", &mut out);
    out
}

/// The path a path hangs from (`a.b[].c` -> `a.b[]`, `a.b[]` -> `a.b`), None at the top.
fn parent(path: &str) -> Option<&str> {
    if let Some(p) = path.strip_suffix("[]") {
        return Some(p);
    }
    path.rfind('.').map(|i| &path[..i])
}

/// What opened a drift: paths never seen before, and paths the mapping reads that were
/// lacking.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub new: BTreeSet<String>,
    pub missing: BTreeSet<String>,
}

impl Drift {
    /// The issue's summary: the paths, named (capped, so an issue stays readable).
    pub fn summary(&self) -> String {
        fn list(paths: &BTreeSet<String>) -> String {
            const SHOWN: usize = 20;
            let mut names: Vec<&str> = paths.iter().take(SHOWN).map(String::as_str).collect();
            let more = paths.len().saturating_sub(SHOWN);
            let more = format!("and {more} more");
            if paths.len() > SHOWN {
                names.push(&more);
            }
            names.join(", ")
        }
        let mut parts = Vec::new();
        if !self.new.is_empty() {
            parts.push(format!("new fields: {}", list(&self.new)));
        }
        if !self.missing.is_empty() {
            parts.push(format!(
                "missing fields the mapping reads: {}",
                list(&self.missing)
            ));
        }
        format!("PageUp payload changed; {}", parts.join("; "))
    }
}

/// A tenant's remembered shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    /// Every path seen (the baseline and all that came since).
    pub known: BTreeSet<String>,
    /// The open drift, if any.
    pub drift: Option<Drift>,
    /// The raw paths the tenant's mapping reads (taken from the baseline, and again from
    /// the invitation that brought a new shape): a lack of one is a drift.
    pub reads: BTreeSet<String>,
    /// Whether the baseline is complete (the first [`BASELINE`] invitations, whose paths
    /// are all taken as known without opening an issue).
    pub baseline_done: bool,
    /// Invitations taken into the baseline so far (memory only: a restart counts afresh).
    pub baseline_seen: u32,
    /// Invitations in the new shape since the drift opened (memory only: a restart counts
    /// afresh).
    pub settled: u32,
}

/// How many invitations make a tenant's baseline: optional parts (an empty list, an
/// absent middle name) vary from one invitation to the next, so one is not enough.
pub const BASELINE: u32 = 20;

/// What one invitation did to the shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Nothing to write.
    Same,
    /// The baseline grew or was completed (write it; no issue).
    Baseline,
    /// A drift opened, or an open one grew: write, and open (or update) the issue.
    Drifted(Drift),
    /// The open drift has seen enough invitations in the new shape: write, resolve.
    Settled,
}

impl Shape {
    /// Takes one invitation's paths. `settle_after`: invitations in the new shape that
    /// resolve an open drift (0: only an operator's acknowledgement does).
    pub fn observe(&mut self, paths: &BTreeSet<String>, settle_after: u32) -> Observed {
        if !self.baseline_done {
            if paths.is_empty() {
                return Observed::Same;
            }
            self.baseline_seen += 1;
            let grew = !paths.is_subset(&self.known);
            self.known.extend(paths.iter().cloned());
            if self.baseline_seen >= BASELINE {
                self.baseline_done = true;
                return Observed::Baseline;
            }
            return if grew {
                Observed::Baseline
            } else {
                Observed::Same
            };
        }
        let new: BTreeSet<String> = paths.difference(&self.known).cloned().collect();
        let missing: BTreeSet<String> = self
            .reads
            .iter()
            .filter(|p| {
                // An empty list (no `name[]`) is not a lack.
                !p.ends_with("[]")
                    && !paths.contains(*p)
                    && parent(p).is_none_or(|q| paths.contains(q))
            })
            .cloned()
            .collect();
        if new.is_empty() && missing.is_empty() {
            let Some(_) = &self.drift else {
                return Observed::Same;
            };
            self.settled += 1;
            if settle_after > 0 && self.settled >= settle_after {
                self.acknowledge();
                return Observed::Settled;
            }
            return Observed::Same;
        }
        let drift = self.drift.get_or_insert_with(Drift::default);
        let before = drift.clone();
        drift.new.extend(new.iter().cloned());
        drift.missing.extend(missing);
        self.known.extend(new);
        self.settled = 0;
        if *drift == before {
            // The same lack again: already reported.
            return Observed::Same;
        }
        Observed::Drifted(drift.clone())
    }

    /// Closes the open drift (an operator acknowledged it, or it settled): the new shape is
    /// the baseline from now on.
    pub fn acknowledge(&mut self) {
        self.drift = None;
        self.settled = 0;
    }
}

/// The kind of the health issue a drift opens (subject `pageup`).
pub const ISSUE_KIND: &str = "intake_drift";
/// Its subject.
pub const ISSUE_SUBJECT: &str = "pageup";

/// The raw paths `mapping` reads on `raw`, found on a thread with a large stack.
async fn reads_of(mapping: &Arc<Mapping>, raw: &Value) -> BTreeSet<String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (m, raw) = (mapping.clone(), raw.clone());
    let spawned = std::thread::Builder::new()
        .name("intake-drift".to_owned())
        .stack_size(super::engine::THREAD_STACK)
        .spawn(move || {
            let _ = tx.send(super::report::used_paths(&m, raw));
        });
    if spawned.is_err() {
        return BTreeSet::new();
    }
    rx.await.unwrap_or_default()
}

/// Takes a GET answer's raw invitations into the tenant's shape (the poller's hook). The
/// store is read once per process and tenant, and written only when the shape changed; a
/// drift opens (or updates) the tenant's "PageUp payload changed" issue, settling resolves
/// it. Never fails the poll: a store error is logged and the shape is taken again next time.
pub async fn watch(
    store: &Store,
    tenant: &TenantKey,
    mapping: &Arc<Mapping>,
    body: &[u8],
    alert: bool,
) {
    let Ok(items) = super::raw_items(body) else {
        return;
    };
    if items.is_empty() {
        return;
    }
    let memory = mapping.drift.lock().ok().and_then(|m| m.clone());
    let mut shape = match memory {
        Some(m) if m.drift.is_none() => m,
        // While a drift is open the store is read at every poll, so an operator's
        // acknowledgement (made by another process) reaches this one at its next poll; the
        // counts kept in memory stay while it is not acknowledged.
        Some(m) => match store.intake_shape(tenant).await {
            Ok(Some(stored)) if stored.drift.is_none() => stored,
            Ok(_) => m,
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %e, "reading the intake shape failed");
                m
            }
        },
        None => match store.intake_shape(tenant).await {
            Ok(shape) => shape.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %e, "reading the intake shape failed");
                return;
            }
        },
    };
    let mut changed = false;
    if shape.reads.is_empty() {
        shape.reads = reads_of(mapping, &items[0]).await;
        changed = !shape.reads.is_empty();
    }
    let mut drifted = None;
    let mut settled = false;
    for item in &items {
        let paths = paths_of(item);
        match shape.observe(&paths, mapping.settle_after) {
            Observed::Same => {}
            Observed::Baseline => changed = true,
            Observed::Drifted(d) => {
                changed = true;
                settled = false;
                drifted = Some((d, item));
            }
            Observed::Settled => {
                changed = true;
                settled = true;
                drifted = None;
            }
        }
    }
    if let Some((_, item)) = &drifted {
        // The new shape's reads, so a lack is judged against what the mapping reads now.
        let reads = reads_of(mapping, item).await;
        if !reads.is_empty() {
            shape.reads = reads;
        }
    }
    let now = crate::time::now_ms();
    if changed {
        if let Err(e) = store.save_intake_shape(tenant, &shape, now).await {
            tracing::warn!(tenant = %tenant, error = %e, "recording the intake shape failed");
            return;
        }
    }
    if let Some((d, _)) = drifted {
        let summary = d.summary();
        match store
            .open_issue(tenant, ISSUE_KIND, ISSUE_SUBJECT, &summary, now, alert)
            .await
        {
            Ok(true) => {
                tracing::warn!(tenant = %tenant, kind = ISSUE_KIND, summary = %summary, "health issue opened")
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %e, "opening the drift issue failed")
            }
        }
    } else if settled {
        match store
            .resolve_issue(tenant, ISSUE_KIND, ISSUE_SUBJECT, now, alert)
            .await
        {
            Ok(true) => {
                tracing::info!(tenant = %tenant, kind = ISSUE_KIND, "health issue resolved: invitations settled in the new shape")
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %e, "resolving the drift issue failed")
            }
        }
    }
    if let Ok(mut m) = mapping.drift.lock() {
        *m = Some(shape);
    }
}

/// An operator's acknowledgement (`checkbridge pageup drift --ack`): the open drift is
/// closed in the store and its issue resolved; a running poller reads the shape again at
/// its next poll (it rereads the store while a drift is open). True when a drift was open.
pub async fn acknowledge(
    store: &Store,
    tenant: &TenantKey,
    alert: bool,
) -> Result<bool, crate::store::StoreError> {
    let Some(mut shape) = store.intake_shape(tenant).await? else {
        return Ok(false);
    };
    let was_open = shape.drift.is_some();
    let now = crate::time::now_ms();
    if was_open {
        shape.acknowledge();
        store.save_intake_shape(tenant, &shape, now).await?;
    }
    let resolved = store
        .resolve_issue(tenant, ISSUE_KIND, ISSUE_SUBJECT, now, alert)
        .await?;
    Ok(was_open || resolved)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(paths: &[&str]) -> BTreeSet<String> {
        paths.iter().map(|p| (*p).to_owned()).collect()
    }

    #[test]
    fn paths_are_names_only_with_guids_left_out_and_indexes_collapsed() {
        let raw = json!({
            "Id": 7,
            "Applicant": {"EmailId": "jane@example.com", "Addresses": [{"City": "Austin"}, {"City": "Waco", "Zip": 1}]},
            "Tags": [],
            "6F9619FF-8B86-D011-B42D-00CF4FC964FF": {"x": 1}
        });
        assert_eq!(
            paths_of(&raw),
            set(&[
                "Applicant",
                "Applicant.Addresses",
                "Applicant.Addresses[]",
                "Applicant.Addresses[].City",
                "Applicant.Addresses[].Zip",
                "Applicant.EmailId",
                "Id",
                "Tags",
            ])
        );
        assert!(!format!("{:?}", paths_of(&raw)).contains("jane"));
    }

    #[test]
    fn a_new_path_opens_a_drift_which_settles_after_invitations_in_the_new_shape() {
        let mut shape = Shape {
            reads: set(&["a", "a.email"]),
            ..Shape::default()
        };
        let old = set(&["a", "a.email"]);
        assert_eq!(shape.observe(&old, 2), Observed::Baseline);
        for _ in 1..BASELINE - 1 {
            assert_eq!(shape.observe(&old, 2), Observed::Same);
        }
        assert_eq!(shape.observe(&old, 2), Observed::Baseline);
        assert!(shape.baseline_done);
        assert_eq!(shape.observe(&old, 2), Observed::Same);
        let grown = set(&["a", "a.email", "a.phone"]);
        let Observed::Drifted(d) = shape.observe(&grown, 2) else {
            panic!("no drift");
        };
        assert_eq!(d.new, set(&["a.phone"]));
        assert!(
            d.summary().contains("new fields: a.phone"),
            "{}",
            d.summary()
        );
        assert_eq!(shape.observe(&grown, 2), Observed::Same);
        assert_eq!(shape.observe(&old, 2), Observed::Settled);
        assert_eq!(shape.drift, None);
        assert_eq!(shape.observe(&grown, 2), Observed::Same);
    }

    #[test]
    fn a_lacking_path_the_mapping_reads_is_a_drift_unless_its_parent_is_absent_too() {
        let mut shape = Shape {
            reads: set(&["a", "a.email", "a.list", "a.list[]", "a.list[].city"]),
            ..Shape::default()
        };
        let full = set(&["a", "a.email", "a.list", "a.list[]", "a.list[].city"]);
        shape.known = full.clone();
        shape.baseline_done = true;
        // An empty list: its items' fields are not lacking.
        assert_eq!(
            shape.observe(&set(&["a", "a.email", "a.list"]), 0),
            Observed::Same
        );
        let Observed::Drifted(d) = shape.observe(&set(&["a", "a.list"]), 0) else {
            panic!("no drift");
        };
        assert_eq!(d.missing, set(&["a.email"]));
        assert!(d.new.is_empty());
        // The same lack again is not reported again; with settle_after 0 only an
        // acknowledgement closes it.
        assert_eq!(shape.observe(&set(&["a", "a.list"]), 0), Observed::Same);
        for _ in 0..50 {
            assert_eq!(shape.observe(&full, 0), Observed::Same);
        }
        assert!(shape.drift.is_some());
        shape.acknowledge();
        assert_eq!(shape.drift, None);
    }
}
