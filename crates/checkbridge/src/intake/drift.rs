//! Schema drift: noticing that PageUp's invitation payload changed under a live tenant.
//!
//! Per tenant checkbridge remembers the set of field paths its invitations have shown
//! ([`paths_of`]: key names only, never values; GUID-named keys left out, as PageUp's fuzzy
//! serializer adds fresh ones every time; list indexes collapsed to `[]`). The first
//! invitation is the baseline. After it, an invitation that brings paths never seen, or
//! lacks a path the mapping reads whose parent it does have (an `Applicant` without its
//! `EmailId`; a list that is empty or absent is not a lack), is a drift: a health issue
//! "PageUp payload changed" listing the paths opens, the new paths join the known set, and
//! the issue resolves when an operator acknowledges it or after `drift_settle_after`
//! invitations in the new shape (none of them drifting further).
//!
//! [`Shape::observe`] is pure and cheap (set differences in memory); it says whether the
//! shape changed, so the caller writes to the store only then, never per invitation.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// The summary: the paths, named (capped, so an issue stays readable).
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
    /// Invitations in the new shape since the drift opened (memory only: a restart counts
    /// afresh).
    pub settled: u32,
}

/// What one invitation did to the shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Nothing to write.
    Same,
    /// The first invitation: the baseline (write it; no issue).
    Baseline,
    /// A drift opened, or an open one grew: write, and open (or update) the issue.
    Drifted(Drift),
    /// The open drift has seen enough invitations in the new shape: write, resolve.
    Settled,
}

impl Shape {
    /// Takes one invitation's paths. `reads`: the raw paths the tenant's mapping reads (a
    /// lack of one is a drift); `settle_after`: invitations in the new shape that resolve
    /// an open drift (0: only an operator's acknowledgement does).
    pub fn observe(
        &mut self,
        paths: &BTreeSet<String>,
        reads: &BTreeSet<String>,
        settle_after: u32,
    ) -> Observed {
        if self.known.is_empty() {
            if paths.is_empty() {
                return Observed::Same;
            }
            self.known = paths.clone();
            return Observed::Baseline;
        }
        let new: BTreeSet<String> = paths.difference(&self.known).cloned().collect();
        let missing: BTreeSet<String> = reads
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
        let mut shape = Shape::default();
        let reads = set(&["a", "a.email"]);
        let old = set(&["a", "a.email"]);
        assert_eq!(shape.observe(&old, &reads, 2), Observed::Baseline);
        assert_eq!(shape.observe(&old, &reads, 2), Observed::Same);
        let grown = set(&["a", "a.email", "a.phone"]);
        let Observed::Drifted(d) = shape.observe(&grown, &reads, 2) else {
            panic!("no drift");
        };
        assert_eq!(d.new, set(&["a.phone"]));
        assert!(
            d.summary().contains("new fields: a.phone"),
            "{}",
            d.summary()
        );
        assert_eq!(shape.observe(&grown, &reads, 2), Observed::Same);
        assert_eq!(shape.observe(&old, &reads, 2), Observed::Settled);
        assert_eq!(shape.drift, None);
        assert_eq!(shape.observe(&grown, &reads, 2), Observed::Same);
    }

    #[test]
    fn a_lacking_path_the_mapping_reads_is_a_drift_unless_its_parent_is_absent_too() {
        let mut shape = Shape::default();
        let reads = set(&["a", "a.email", "a.list", "a.list[]", "a.list[].city"]);
        let full = set(&["a", "a.email", "a.list", "a.list[]", "a.list[].city"]);
        assert_eq!(shape.observe(&full, &reads, 0), Observed::Baseline);
        // An empty list: its items' fields are not lacking.
        assert_eq!(
            shape.observe(&set(&["a", "a.email", "a.list"]), &reads, 0),
            Observed::Same
        );
        let Observed::Drifted(d) = shape.observe(&set(&["a", "a.list"]), &reads, 0) else {
            panic!("no drift");
        };
        assert_eq!(d.missing, set(&["a.email"]));
        assert!(d.new.is_empty());
        // The same lack again is not reported again; with settle_after 0 only an
        // acknowledgement closes it.
        assert_eq!(
            shape.observe(&set(&["a", "a.list"]), &reads, 0),
            Observed::Same
        );
        for _ in 0..50 {
            assert_eq!(shape.observe(&full, &reads, 0), Observed::Same);
        }
        assert!(shape.drift.is_some());
        shape.acknowledge();
        assert_eq!(shape.drift, None);
    }
}
