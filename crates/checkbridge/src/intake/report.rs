//! What `checkbridge mapping test` and `checkbridge pageup inspect --map` show for one raw
//! invitation: the raw invitation and the canonical invitation the tenant's mapping makes of
//! it (both masked unless asked), or why it cannot; then a table of every canonical field,
//! filled or missing (and, when missing, whether the candidate could supply it or only the
//! recruiter, in PageUp), and the raw fields the mapping ignores.
//!
//! **Masking.** Every leaf value (text, number, boolean) is shown as `•••`, keys and shape
//! kept, except under a key in [`SHOWN_KEYS`] (any casing): ids (`id`, `applicantId`,
//! `jobId`, `documentId`), status, provider, package code (`packageCode`, `code`) and check
//! types, which an operator needs to tell invitations apart and which are not
//! about the candidate. `null` stays `null`, since it says a field is absent.
//!
//! **Ignored raw fields.** A raw leaf (a value that is not an object or a list, or an empty
//! one; nulls are left out, as they carry nothing), named by its path with list indexes collapsed to `[]`, is *used* when removing it
//! from the invitation (its key taken out; in a list, the item set to `null`) changes the
//! mapped output; it is *ignored* when no instance of the path changes it. That is one run
//! of the mapping per leaf (a hundred or so, milliseconds each): exact for what the program
//! does with this invitation, including renames and conversions that make the value
//! unrecognisable, and a field read only as a fallback (`.emailid // .email`) counts as
//! ignored when its first choice is present, which it is, for this invitation. The runs
//! stop after [`IGNORED_BUDGET`]; the report then says the list is incomplete.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::{strip_guid_keys, Mapping, Overrides, SCHEMA};

/// Keys (compared in lower case) whose values are shown even when masking: ids and codes,
/// not the candidate's data.
pub const SHOWN_KEYS: &[&str] = &[
    "id",
    "applicantid",
    "jobid",
    "documentid",
    "status",
    "provider",
    "packagecode",
    "code",
    "checktypes",
];

/// How long the ignored-field runs of one invitation may take in all.
pub const IGNORED_BUDGET: Duration = Duration::from_secs(10);

/// Every leaf field of the canonical invitation, as a dotted path (`candidate.firstName`,
/// `candidate.addresses[].city`), in alphabetical order.
pub fn canonical_fields() -> Vec<String> {
    fn walk(schema: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, s) in props {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(s, &path, out);
            }
        } else if let Some(items) = schema
            .get("items")
            .filter(|i| i.get("properties").is_some())
        {
            walk(items, &format!("{prefix}[]"), out);
        } else {
            out.push(prefix.to_owned());
        }
    }
    let mut out = Vec::new();
    if let Ok(schema) = serde_json::from_str::<Value>(SCHEMA) {
        walk(&schema, "", &mut out);
    }
    out
}

/// Who could supply a canonical field that the invitation lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Supplier {
    /// The candidate, on a form of their own: their middle name, phone, date of birth,
    /// national id (SSN), address history, other names, employment and education entries,
    /// and documents (the signed release).
    Candidate,
    /// Only the recruiter, in PageUp: the check's ids, package code and check types, the
    /// candidate's name and email (the form is sent to that address), the job, the
    /// requester.
    Recruiter,
}

impl Supplier {
    /// Who could supply `field` (as [`canonical_fields`] writes it).
    pub fn of(field: &str) -> Supplier {
        const CANDIDATE: &[&str] = &[
            "candidate.middleName",
            "candidate.phone",
            "candidate.dateOfBirth",
            "candidate.nationalId",
            "candidate.addresses[]",
            "candidate.aliases[]",
            "employmentHistory[]",
            "educationHistory[]",
            "documents[]",
        ];
        if CANDIDATE
            .iter()
            .any(|c| field == *c || field.starts_with(&format!("{c}.")))
        {
            Supplier::Candidate
        } else {
            Supplier::Recruiter
        }
    }

    fn label(self) -> &'static str {
        match self {
            Supplier::Candidate => "candidate",
            Supplier::Recruiter => "recruiter only",
        }
    }
}

/// Whether `path` (as [`canonical_fields`] writes it) has a value in `v` (in any item of a
/// list).
pub fn is_filled(v: &Value, path: &str) -> bool {
    fn filled(v: &Value, parts: &[&str]) -> bool {
        let Some((first, rest)) = parts.split_first() else {
            return match v {
                Value::Null => false,
                Value::String(s) => !s.trim().is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            };
        };
        let (key, list) = match first.strip_suffix("[]") {
            Some(k) => (k, true),
            None => (*first, false),
        };
        match v.get(key) {
            Some(Value::Array(items)) if list => items.iter().any(|i| filled(i, rest)),
            Some(child) if !list => filled(child, rest),
            _ => false,
        }
    }
    let parts: Vec<&str> = path.split('.').collect();
    filled(v, &parts)
}

/// `v` with every leaf value replaced by `"•••"` (keys, shape and `null` kept) except under
/// a key of [`SHOWN_KEYS`], unless `show_pii`.
pub fn masked(v: &Value, show_pii: bool) -> Value {
    if show_pii {
        return v.clone();
    }
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let shown = SHOWN_KEYS.contains(&k.to_ascii_lowercase().as_str());
                    (k.clone(), if shown { v.clone() } else { masked(v, false) })
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| masked(v, false)).collect()),
        Value::Null => Value::Null,
        _ => Value::String("•••".to_owned()),
    }
}

/// One canonical field of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldRow {
    pub field: String,
    pub filled: bool,
    /// When missing: who could supply it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplied_by: Option<Supplier>,
}

/// What one raw invitation becomes (the `--json` shape of an invitation; docs/intake.md).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// 1-based, in the order of the file or the GET answer.
    pub index: usize,
    /// The raw invitation, GUID-named keys removed, masked unless `--show-pii`.
    pub raw: Value,
    /// The canonical invitation, masked the same way; null when the mapping failed.
    pub canonical: Option<Value>,
    /// Why the mapping failed (one line, no value from the invitation).
    pub error: Option<String>,
    /// Every canonical field, alphabetically (empty when the mapping failed).
    pub fields: Vec<FieldRow>,
    /// Raw field paths (list indexes as `[]`) whose values the mapping does not use.
    pub ignored: Vec<String>,
    /// False when the ignored-field runs stopped at their time budget.
    pub ignored_complete: bool,
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every leaf of `v`: its steps, and its path with list indexes collapsed.
fn leaves(v: &Value) -> Vec<(Vec<Step>, String)> {
    fn walk(v: &Value, steps: &mut Vec<Step>, name: &str, out: &mut Vec<(Vec<Step>, String)>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, child) in m {
                    steps.push(Step::Key(k.clone()));
                    let n = if name.is_empty() {
                        k.clone()
                    } else {
                        format!("{name}.{k}")
                    };
                    walk(child, steps, &n, out);
                    steps.pop();
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for (i, child) in a.iter().enumerate() {
                    steps.push(Step::Index(i));
                    walk(child, steps, &format!("{name}[]"), out);
                    steps.pop();
                }
            }
            // A null carries nothing to use (removing it is reading it as absent).
            Value::Null => {}
            _ => out.push((steps.clone(), name.to_owned())),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), "", &mut out);
    out
}

/// `v` without the leaf at `steps` (a key removed; a list item set to null).
fn without(v: &Value, steps: &[Step]) -> Value {
    let mut v = v.clone();
    let Some((last, parents)) = steps.split_last() else {
        return v;
    };
    let mut at = &mut v;
    for s in parents {
        let next = match (s, at) {
            (Step::Key(k), Value::Object(m)) => m.get_mut(k),
            (Step::Index(i), Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(n) => at = n,
            None => return v,
        }
    }
    match (last, at) {
        (Step::Key(k), Value::Object(m)) => {
            m.remove(k);
        }
        (Step::Index(i), Value::Array(a)) => {
            if let Some(item) = a.get_mut(*i) {
                *item = Value::Null;
            }
        }
        _ => {}
    }
    v
}

/// The report for one raw invitation. Runs the mapping (once, then once per raw leaf):
/// call it on a thread with a large stack (as [`inspect_all`] does).
pub fn inspect_one(
    mapping: &Mapping,
    index: usize,
    mut raw: Value,
    overrides: Option<&Overrides>,
    show_pii: bool,
) -> Report {
    if raw.is_object() {
        strip_guid_keys(&mut raw);
    }
    let mut report = Report {
        index: index + 1,
        raw: masked(&raw, show_pii),
        canonical: None,
        error: None,
        fields: Vec::new(),
        ignored: Vec::new(),
        ignored_complete: true,
    };
    let base = match mapping.map_one(raw.clone(), overrides) {
        Ok(v) => v,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    report.canonical = Some(masked(&base, show_pii));
    report.fields = canonical_fields()
        .into_iter()
        .map(|field| {
            let filled = is_filled(&base, &field);
            let supplied_by = (!filled).then(|| Supplier::of(&field));
            FieldRow {
                field,
                filled,
                supplied_by,
            }
        })
        .collect();
    let started = Instant::now();
    // Path -> whether any instance of it is used.
    let mut used: BTreeMap<String, bool> = BTreeMap::new();
    for (steps, name) in leaves(&raw) {
        if used.get(&name) == Some(&true) {
            continue;
        }
        if started.elapsed() > IGNORED_BUDGET {
            report.ignored_complete = false;
            break;
        }
        let changed = mapping.map_one(without(&raw, &steps), overrides).as_ref() != Ok(&base);
        *used.entry(name).or_default() |= changed;
    }
    report.ignored = used
        .into_iter()
        .filter(|(_, u)| !u)
        .map(|(name, _)| name)
        .collect();
    report
}

/// The raw paths (list indexes as `[]`, with every path they hang from) the mapping uses
/// on this invitation, found as [`inspect_one`] finds the ignored ones. Empty when the
/// mapping fails on it. Runs the mapping: call it on a thread with a large stack.
pub fn used_paths(mapping: &Mapping, mut raw: Value) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    if !raw.is_object() {
        return out;
    }
    strip_guid_keys(&mut raw);
    let Ok(base) = mapping.map_one(raw.clone(), None) else {
        return out;
    };
    let started = Instant::now();
    for (steps, name) in leaves(&raw) {
        if out.contains(&name) {
            continue;
        }
        if started.elapsed() > IGNORED_BUDGET {
            break;
        }
        if mapping.map_one(without(&raw, &steps), None).as_ref() != Ok(&base) {
            let mut p = name.as_str();
            out.insert(p.to_owned());
            while let Some(up) = p
                .strip_suffix("[]")
                .or_else(|| p.rfind('.').map(|i| &p[..i]))
            {
                out.insert(up.to_owned());
                p = up;
            }
        }
    }
    out
}

/// The reports of raw invitations, made on a thread of their own (see [`inspect_one`]).
pub async fn inspect_all(
    mapping: Arc<Mapping>,
    items: Vec<Value>,
    overrides: Option<Overrides>,
    show_pii: bool,
) -> Result<Vec<Report>, String> {
    let n = items.len();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("intake-inspect".to_owned())
        .stack_size(super::engine::THREAD_STACK)
        .spawn(move || {
            for (i, item) in items.into_iter().enumerate() {
                let r = inspect_one(&mapping, i, item, overrides.as_ref(), show_pii);
                if tx.send(r).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| format!("no thread could be started for the mapping: {e}"))?;
    let mut out = Vec::with_capacity(n);
    while let Some(r) = rx.recv().await {
        out.push(r);
    }
    Ok(out)
}

/// A report as text: the raw invitation, the canonical one, the fields table and the
/// ignored raw fields; or the one-line reason the mapping failed.
pub fn render(r: &Report) -> String {
    let indent = |out: &mut String, v: &Value| {
        let text = serde_json::to_string_pretty(v).unwrap_or_default();
        for line in text.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    };
    let mut out = format!("invitation {}:\n  raw:\n", r.index);
    indent(&mut out, &r.raw);
    let Some(canonical) = &r.canonical else {
        out.push_str(&format!(
            "  FAILED: {}\n",
            r.error.as_deref().unwrap_or("unknown")
        ));
        return out;
    };
    out.push_str("  canonical:\n");
    indent(&mut out, canonical);
    let filled = r.fields.iter().filter(|f| f.filled).count();
    let by = |s: Supplier| r.fields.iter().filter(|f| f.supplied_by == Some(s)).count();
    out.push_str(&format!(
        "  {filled} of {} canonical fields filled; missing: {} the candidate could supply, {} only the recruiter; {} raw fields ignored\n",
        r.fields.len(),
        by(Supplier::Candidate),
        by(Supplier::Recruiter),
        r.ignored.len()
    ));
    let width = r
        .fields
        .iter()
        .map(|f| f.field.len())
        .chain(r.ignored.iter().map(String::len))
        .max()
        .unwrap_or(0)
        .max(5);
    out.push_str(&format!(
        "  {:<width$}  {:<8}  missing: who could supply it\n",
        "field", "state"
    ));
    for f in &r.fields {
        let state = if f.filled { "filled" } else { "missing" };
        let who = f.supplied_by.map(Supplier::label).unwrap_or_default();
        out.push_str(format!("  {:<width$}  {state:<8}  {who}", f.field).trim_end());
        out.push('\n');
    }
    for path in &r.ignored {
        out.push_str(&format!("  {path:<width$}  ignored   (raw)\n"));
    }
    if !r.ignored_complete {
        out.push_str(
            "  (the ignored raw fields stopped at the time budget: the list is incomplete)\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::intake::IntakeSection;

    fn mapping(program: &str) -> Arc<Mapping> {
        IntakeSection {
            program: Some(program.to_owned()),
            ..IntakeSection::default()
        }
        .compile(Path::new("."))
        .unwrap()
        .unwrap()
    }

    fn profile(name: &str) -> Arc<Mapping> {
        IntakeSection {
            profile: Some(name.to_owned()),
            ..IntakeSection::default()
        }
        .compile(Path::new("."))
        .unwrap()
        .unwrap()
    }

    /// [`inspect_one`] on a big-stacked thread, as [`inspect_all`] runs it.
    fn inspect(m: &Arc<Mapping>, index: usize, raw: Value) -> Report {
        let m = m.clone();
        std::thread::Builder::new()
            .stack_size(crate::intake::engine::THREAD_STACK)
            .spawn(move || inspect_one(&m, index, raw, None, false))
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn fields_are_listed_filled_or_missing_and_values_masked() {
        let fields = canonical_fields();
        assert!(fields.contains(&"candidate.firstName".to_owned()));
        assert!(fields.contains(&"candidate.addresses[].city".to_owned()));
        assert!(fields.contains(&"checkTypes".to_owned()));
        let v = json!({"id": "7", "candidate": {"firstName": "Jane", "addresses": [{"city": null}, {"city": "Austin"}]}});
        assert!(is_filled(&v, "candidate.firstName"));
        assert!(is_filled(&v, "candidate.addresses[].city"));
        assert!(!is_filled(&v, "candidate.lastName"));
        assert_eq!(
            masked(&v, false),
            json!({"id": "7", "candidate": {"firstName": "•••", "addresses": [{"city": null}, {"city": "•••"}]}})
        );
        assert_eq!(masked(&v, true), v);
        let raw = json!({"Package": {"Code": "EMP", "CheckTypes": ["EMP"]}, "Applicant": {"EmailId": "j@x", "Id": 9, "Adult": true}});
        assert_eq!(
            masked(&raw, false),
            json!({"Package": {"Code": "EMP", "CheckTypes": ["EMP"]}, "Applicant": {"EmailId": "•••", "Id": 9, "Adult": "•••"}})
        );
    }

    #[test]
    fn who_could_supply_a_missing_field() {
        for f in [
            "candidate.nationalId",
            "candidate.dateOfBirth",
            "candidate.addresses[].city",
            "employmentHistory[].employerName",
            "educationHistory[].institutionName",
            "documents[].documentType",
        ] {
            assert_eq!(Supplier::of(f), Supplier::Candidate, "{f}");
        }
        for f in [
            "id",
            "packageCode",
            "candidate.email",
            "job.title",
            "requester.email",
        ] {
            assert_eq!(Supplier::of(f), Supplier::Recruiter, "{f}");
        }
    }

    #[test]
    fn the_report_names_ignored_raw_fields_by_removal() {
        // `extra` and `who.nick` are never read; `who.first` is read through a conversion
        // that makes its value unrecognisable; `tags[]` is read as a whole list.
        let m = mapping(
            "{id: (.ref | tostring), candidate: {firstName: (.who.first | ascii_upcase)}, checkTypes: .tags}",
        );
        let raw = json!({
            "ref": 12, "who": {"first": "jane", "nick": "jj", "gone": null}, "extra": {"a": [1, 2]},
            "tags": ["EMP", "EDU"], "6F9619FF-8B86-D011-B42D-00CF4FC964FF": "x"
        });
        let r = inspect(&m, 0, raw);
        assert_eq!(r.error, None);
        assert_eq!(
            r.ignored,
            vec!["extra.a[]".to_owned(), "who.nick".to_owned()]
        );
        assert!(r.ignored_complete);
        assert_eq!(r.raw["who"]["first"], "•••");
        assert!(r.raw.get("6F9619FF-8B86-D011-B42D-00CF4FC964FF").is_none());
        assert_eq!(r.canonical.as_ref().unwrap()["id"], "12");
        assert_eq!(
            r.canonical.as_ref().unwrap()["candidate"]["firstName"],
            "•••"
        );
        let id = r.fields.iter().find(|f| f.field == "id").unwrap();
        assert!(id.filled && id.supplied_by.is_none());
        let dob = r
            .fields
            .iter()
            .find(|f| f.field == "candidate.dateOfBirth")
            .unwrap();
        assert_eq!(dob.supplied_by, Some(Supplier::Candidate));
        let text = render(&r);
        assert!(!text.contains("jane") && !text.contains("JANE"), "{text}");
        assert!(text.contains("3 of "), "{text}");
        assert!(text.contains("who.nick"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with("packageCode") && l.ends_with("recruiter only")),
            "{text}"
        );
    }

    #[test]
    fn a_failed_mapping_is_one_line_and_the_raw_invitation_is_still_shown_masked() {
        let r = inspect(&profile("assumed"), 1, json!(7));
        assert_eq!(
            render(&r),
            "invitation 2:\n  raw:\n    \"•••\"\n  FAILED: the invitation is not a JSON object\n"
        );
        assert!(r.fields.is_empty() && r.canonical.is_none());
    }

    #[test]
    fn each_profile_uses_every_field_its_own_sandbox_shape_sends() {
        let raw = json!({"BackgroundCheckRequest": {
            "Id": 4711, "Package": {"Code": "EMP"},
            "Applicant": {"FirstName": "Jane", "EmailId": "jane@example.com", "ShoeSize": 9}
        }});
        let r = inspect(&profile("backgroundcheckrequest"), 0, raw);
        assert_eq!(
            r.ignored,
            vec!["BackgroundCheckRequest.Applicant.ShoeSize".to_owned()]
        );
        let r = inspect(
            &profile("assumed"),
            0,
            json!({"id": "1", "candidate": {"firstName": "Jane", "shoeSize": 9}}),
        );
        assert_eq!(r.ignored, vec!["candidate.shoeSize".to_owned()]);
    }
}
