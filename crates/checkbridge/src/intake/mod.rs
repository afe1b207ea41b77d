//! Intake mappings: how a tenant's raw PageUp invitation becomes the canonical invitation
//! (`docs/schema/invitation.schema.json`, read by `pageup::wire::Invitation`).
//!
//! PageUp does not publish its invitation schema, so a tenant names a jq program
//! (`[tenants.T.intake] mapping = "FILE.jq"`, or inline `program = "..."`) or a built-in
//! profile (`profile = "assumed"` or `"backgroundcheckrequest"`, the .jq files in
//! `src/intake/profiles/`, shipped in the binary so they can be copied and edited). Programs
//! are compiled when the configuration loads; each raw invitation, with its GUID-named keys
//! removed at every level (PageUp's fuzzy serializer adds one to every object), is run
//! through the program on a thread of its own within a budget (`engine.rs`), its one output
//! is checked against the schema, and only then read. A failure is that one check's: it is
//! named in one line without any value from the invitation ([`MapError`]) and the rest of
//! the page goes on.
//!
//! `engine.rs` holds the jq side (compile, budget, run); this file the configuration, the
//! schema check and the page.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pageup::wire::Invitation;
use serde::Deserialize;
use serde_json::Value;

pub mod drift;
mod engine;
pub mod report;
#[cfg(test)]
mod tests;

use engine::Program;
pub use engine::{CompileError, Exceeded, MAX_STEPS, MAX_TIME};

/// The canonical invitation's JSON Schema (also in the repository at this path).
pub const SCHEMA: &str = include_str!("../../../../docs/schema/invitation.schema.json");

/// The built-in profiles: name, and the jq program (also in `src/intake/profiles/`).
pub const PROFILES: &[(&str, &str)] = &[
    ("assumed", include_str!("profiles/assumed.jq")),
    (
        "backgroundcheckrequest",
        include_str!("profiles/backgroundcheckrequest.jq"),
    ),
];

/// `[tenants.T.intake]` as written: one of a profile, a file, or an inline program.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSection {
    /// A built-in profile by name.
    #[serde(default)]
    pub profile: Option<String>,
    /// A jq file, relative to the configuration file's folder.
    #[serde(default)]
    pub mapping: Option<PathBuf>,
    /// A jq program written inline.
    #[serde(default)]
    pub program: Option<String>,
    /// A "PageUp payload changed" issue resolves after this many invitations in the new
    /// shape (0: only `checkbridge pageup drift --ack` resolves it).
    #[serde(default = "default_settle_after")]
    pub drift_settle_after: u32,
}

/// `drift_settle_after` when not set.
pub const DEFAULT_SETTLE_AFTER: u32 = 20;

fn default_settle_after() -> u32 {
    DEFAULT_SETTLE_AFTER
}

impl Default for IntakeSection {
    fn default() -> Self {
        IntakeSection {
            profile: None,
            mapping: None,
            program: None,
            drift_settle_after: DEFAULT_SETTLE_AFTER,
        }
    }
}

impl IntakeSection {
    /// Whether the tenant names a mapping at all.
    pub fn is_set(&self) -> bool {
        self.profile.is_some() || self.mapping.is_some() || self.program.is_some()
    }

    /// Reads and compiles the mapping the section names (`None` when it names none).
    /// `base` is the configuration file's folder. The error is one line naming the key, the
    /// file and the place; the caller adds the tenant.
    pub fn compile(&self, base: &Path) -> Result<Option<Arc<Mapping>>, (String, String)> {
        let named = [
            self.profile.is_some(),
            self.mapping.is_some(),
            self.program.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if named > 1 {
            return Err((
                "intake".to_owned(),
                "name one of profile, mapping or program, not several".to_owned(),
            ));
        }
        let (origin, code) = if let Some(name) = &self.profile {
            let Some((_, code)) = PROFILES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
            else {
                let known: Vec<&str> = PROFILES.iter().map(|(n, _)| *n).collect();
                return Err((
                    "intake.profile".to_owned(),
                    format!(
                        "{name:?} is not a built-in profile; known: {}",
                        known.join(", ")
                    ),
                ));
            };
            (
                Origin::Profile(name.trim().to_ascii_lowercase()),
                (*code).to_owned(),
            )
        } else if let Some(file) = &self.mapping {
            let path = if file.is_absolute() {
                file.clone()
            } else {
                base.join(file)
            };
            let code = std::fs::read_to_string(&path).map_err(|e| {
                (
                    "intake.mapping".to_owned(),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            (Origin::File(path), code)
        } else if let Some(code) = &self.program {
            (Origin::Inline, code.clone())
        } else {
            return Ok(None);
        };
        let key = match origin {
            Origin::Profile(_) => "intake.profile",
            Origin::File(_) => "intake.mapping",
            Origin::Inline => "intake.program",
        };
        let program = Program::compile(&code)
            .map_err(|e| (key.to_owned(), format!("{origin} does not compile: {e}")))?;
        Ok(Some(Arc::new(Mapping {
            origin,
            program,
            settle_after: self.drift_settle_after,
            drift: std::sync::Mutex::new(None),
        })))
    }
}

/// Where a mapping's program came from (named in every error about it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Profile(String),
    File(PathBuf),
    Inline,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Profile(name) => write!(f, "profile {name}"),
            Origin::File(path) => write!(f, "mapping file {}", path.display()),
            Origin::Inline => f.write_str("inline program"),
        }
    }
}

/// A tenant's compiled mapping.
#[derive(Debug)]
pub struct Mapping {
    pub origin: Origin,
    program: Program,
    /// `drift_settle_after` of the tenant's section.
    pub settle_after: u32,
    /// The tenant's invitation shape as the poller last saw it (loaded from the store at
    /// the first poll), so that only a change is written (`drift::watch`).
    pub(crate) drift: std::sync::Mutex<Option<drift::Shape>>,
}

/// What runs after a mapping, given the raw invitation and the mapped one (the tenant's
/// field overrides; the caller builds it, so this module needs nothing of the domain).
pub type Overrides = Box<dyn Fn(&Value, &mut Value) + Send>;

/// Why one invitation could not be mapped: one line, never a value from the invitation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("the invitation is not a JSON object")]
    NotAnObject,
    #[error("the program failed: {0}")]
    Runtime(String),
    #[error("the program gave no output")]
    NoOutput,
    #[error("the program gave more than one output (wrap it in first(...) to take one)")]
    ManyOutputs,
    #[error("the program's output is {0}, not an object")]
    NotAnObjectOutput(&'static str),
    #[error("the output does not fit the canonical invitation at {path}: {why}")]
    Schema { path: String, why: String },
    #[error("the program was stopped: {0}")]
    Budget(Exceeded),
    #[error("the program was stopped: the page's mapping did not finish in time")]
    Stalled,
}

impl Mapping {
    /// Maps one raw invitation: GUID-named keys removed, the program run, its output checked
    /// against the schema. Runs the program here: call it on a thread with a large stack
    /// (as [`map_all`] does).
    /// `overrides` (the tenant's `[tenants.T] fields`, from the caller) apply after the
    /// program: given the raw invitation and the output, they copy values over mapped fields.
    pub fn map_one(
        &self,
        mut raw: Value,
        overrides: Option<&Overrides>,
    ) -> Result<Value, MapError> {
        if !raw.is_object() {
            return Err(MapError::NotAnObject);
        }
        strip_guid_keys(&mut raw);
        let source = overrides.map(|_| raw.clone());
        let mut out = self.program.run(raw)?;
        if !out.is_object() {
            return Err(MapError::NotAnObjectOutput(kind(&out)));
        }
        if let (Some(apply), Some(source)) = (overrides, &source) {
            apply(source, &mut out);
        }
        check_schema(&out)?;
        Ok(out)
    }
}

/// Maps each raw invitation on a thread of its own (the budget needs a known, large stack,
/// and a run must not hold a runtime worker), and waits for them no longer than the budget
/// allows: should a builtin overrun it anyway, the rest of the page fails with
/// [`MapError::Stalled`] and the poller goes on.
pub async fn map_all(
    mapping: Arc<Mapping>,
    items: Vec<Value>,
    overrides: Option<Overrides>,
) -> Vec<Result<Value, MapError>> {
    let n = items.len();
    if n == 0 {
        return Vec::new();
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("intake-map".to_owned())
        .stack_size(engine::THREAD_STACK)
        .spawn(move || {
            for item in items {
                if tx.send(mapping.map_one(item, overrides.as_ref())).is_err() {
                    return;
                }
            }
        });
    if spawned.is_err() {
        return vec![
            Err(MapError::Runtime(
                "no thread could be started for it".to_owned()
            ));
            n
        ];
    }
    let allowance = MAX_TIME * u32::try_from(n).unwrap_or(u32::MAX) + Duration::from_secs(2);
    let deadline = tokio::time::Instant::now() + allowance;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(r)) => out.push(r),
            Ok(None) | Err(_) => break,
        }
    }
    out.resize(n, Err(MapError::Stalled));
    out
}

/// Removes every key that is a GUID, at every level.
pub fn strip_guid_keys(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !is_guid(k));
            map.values_mut().for_each(strip_guid_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_guid_keys),
        _ => {}
    }
}

pub(crate) fn is_guid(key: &str) -> bool {
    let key = key.trim_matches(|c| c == '{' || c == '}');
    key.len() == 36 && uuid::Uuid::try_parse(key).is_ok()
}

fn schema() -> &'static Result<jsonschema::Validator, String> {
    static SCHEMA_VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    SCHEMA_VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(SCHEMA).map_err(|e| e.to_string())?;
        jsonschema::validator_for(&schema).map_err(|e| e.to_string())
    })
}

/// Checks a mapped invitation against the canonical schema; the first misfit is named by
/// its place and the rule it breaks, never its value.
pub fn check_schema(out: &Value) -> Result<(), MapError> {
    if !out.is_object() {
        return Err(MapError::NotAnObjectOutput(kind(out)));
    }
    let validator = schema()
        .as_ref()
        .map_err(|e| MapError::Runtime(format!("the schema does not load: {e}")))?;
    let Some(e) = validator.iter_errors(out).next() else {
        return Ok(());
    };
    let path = e.instance_path().to_string();
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    let at = out.pointer(&path).unwrap_or(&Value::Null);
    use jsonschema::error::ValidationErrorKind as Kind;
    let why = match e.kind() {
        Kind::Type { .. } => format!("{} is not allowed here", kind(at)),
        Kind::AdditionalProperties { unexpected } => {
            let names: Vec<String> = unexpected
                .iter()
                .map(|k| format!("`{}`", k.chars().take(40).collect::<String>()))
                .collect();
            format!(
                "{} {} not part of the canonical invitation",
                names.join(", "),
                if names.len() == 1 { "is" } else { "are" }
            )
        }
        other => format!("breaks the schema's `{}` rule", other.keyword()),
    };
    Err(MapError::Schema { path, why })
}

/// A JSON value's kind, for errors (never the value).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The raw invitations of a GET answer: a bare list, or the first array-valued property of
/// a wrapping object (as `pageup::wire::InvitationList` reads it).
pub fn raw_items(body: &[u8]) -> Result<Vec<Value>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the list is not JSON: {e}"))?;
    Ok(match value {
        Value::Array(items) => items,
        Value::Object(map) => map
            .into_iter()
            .find_map(|(_, v)| match v {
                Value::Array(items) => Some(items),
                _ => None,
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    })
}

/// PageUp's check id in a raw invitation the mapping could not read, so that the check can
/// still be failed with the reason: an `id` key (any casing) on the invitation, or on an
/// object directly inside it (`backgroundcheckrequest.id`).
pub fn raw_id(raw: &Value) -> Option<String> {
    let id_of = |v: &Value| -> Option<String> {
        v.as_object()?.iter().find_map(|(k, v)| {
            if !k.eq_ignore_ascii_case("id") {
                return None;
            }
            match v {
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        })
    };
    id_of(raw).or_else(|| raw.as_object()?.values().find_map(id_of))
}

/// One invitation of a mapped GET answer.
#[derive(Debug)]
pub enum Listed {
    /// Mapped and read.
    Read(Box<Invitation>),
    /// The mapping failed; `id` is PageUp's check id if the raw invitation shows one.
    Unmapped { id: Option<String>, why: MapError },
}

/// Reads a raw GET answer through the tenant's mapping (and `overrides`): one entry per
/// listed invitation, in order. Only a body that is not a JSON list is an error.
pub async fn read_list(
    body: &[u8],
    mapping: &Arc<Mapping>,
    overrides: Option<Overrides>,
) -> Result<Vec<Listed>, String> {
    use serde::Deserialize as _;
    let items = raw_items(body)?;
    let ids: Vec<Option<String>> = items.iter().map(raw_id).collect();
    let mapped = map_all(mapping.clone(), items, overrides).await;
    Ok(mapped
        .into_iter()
        .zip(ids)
        .map(|(r, id)| match r {
            // The schema was met, so the reader can only refuse what the schema allows and
            // the reader does not (its message could quote a value, so it is not kept).
            Ok(v) => Invitation::deserialize(v)
                .map(|inv| Listed::Read(Box::new(inv)))
                .unwrap_or_else(|_| Listed::Unmapped {
                    id,
                    why: MapError::Runtime(
                        "the output could not be read as an invitation".to_owned(),
                    ),
                }),
            Err(why) => Listed::Unmapped { id, why },
        })
        .collect())
}
