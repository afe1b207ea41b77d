use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use pageup::wire::Invitation;
use rand::{Rng, SeedableRng};
use serde::Deserialize as _;
use serde_json::{json, Value};

use super::*;

fn compile(code: &str) -> Arc<Mapping> {
    let section = IntakeSection {
        program: Some(code.to_owned()),
        ..IntakeSection::default()
    };
    section
        .compile(Path::new("."))
        .unwrap_or_else(|e| panic!("{e:?}"))
        .unwrap_or_else(|| panic!("no mapping"))
}

fn profile(name: &str) -> Arc<Mapping> {
    let section = IntakeSection {
        profile: Some(name.to_owned()),
        ..IntakeSection::default()
    };
    section
        .compile(Path::new("."))
        .unwrap_or_else(|e| panic!("{e:?}"))
        .unwrap_or_else(|| panic!("no mapping"))
}

fn compile_error(code: &str) -> String {
    let section = IntakeSection {
        program: Some(code.to_owned()),
        ..IntakeSection::default()
    };
    match section.compile(Path::new(".")) {
        Err((key, why)) => format!("{key}: {why}"),
        Ok(_) => panic!("{code:?} compiled"),
    }
}

/// Runs a mapping on its own big-stacked thread, as the poller does.
fn map(m: &Arc<Mapping>, raw: Value) -> Result<Value, MapError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(map_all(m.clone(), vec![raw], None))
        .pop()
        .unwrap_or_else(|| panic!("no result"))
}

fn sample(index: usize) -> Value {
    let opts = sandbox::pageup::GenerateOptions {
        seed: Some(7 + index as u64),
        document_bytes: 0,
        ..Default::default()
    };
    sandbox::pageup::generated_invitation(&format!("chk-{index}"), index, &opts)
}

/// A raw invitation in the shape the backgroundcheckrequest profile reads, keys cased as
/// the peer's table prints them.
fn bcr_sample() -> Value {
    json!({"backgroundCheckRequest": {
        "id": 4711,
        "status": "Pending",
        "package": {"code": "EMP-EDU", "name": "Employment and education"},
        "applicant": {"firstName": "Jane", "middleName": "Q", "lastName": "Doe",
                      "emailId": "jane@example.com", "phone": "555-0100"},
        "application": {"id": "app-9", "job": {"id": 12, "title": "Nurse", "divisionCode": "NURSING"}}
    }})
}

#[test]
fn compile_errors_name_the_line_and_column() {
    let e = compile_error(".candidate |\n  { first: .firstName, }\n  | ) ");
    assert!(
        e.starts_with("intake.program: inline program does not compile: line "),
        "{e}"
    );
    let e = compile_error("{\n  a: .a |\n  b");
    assert!(e.contains("line "), "{e}");
    let e = compile_error(".a | nosuchfilter(1)");
    assert_eq!(
        e,
        "intake.program: inline program does not compile: line 1, column 6: undefined filter `nosuchfilter/1`"
    );
    let e = compile_error("\n  .a | nosuch");
    assert!(
        e.contains("line 2, column 8: undefined filter `nosuch/0`"),
        "{e}"
    );
    let e = compile_error("include \"other\"; .");
    assert!(e.contains("cannot include or import"), "{e}");
    let e = compile_error("\"unterminated");
    assert!(e.contains("line 1, column "), "{e}");
}

#[test]
fn sections_name_one_source_and_known_profiles() {
    let both = IntakeSection {
        profile: Some("assumed".to_owned()),
        program: Some(".".to_owned()),
        ..IntakeSection::default()
    };
    assert!(both.compile(Path::new(".")).is_err());
    let unknown = IntakeSection {
        profile: Some("nope".to_owned()),
        ..IntakeSection::default()
    };
    let (key, why) = unknown.compile(Path::new(".")).err().unwrap_or_default();
    assert_eq!(key, "intake.profile");
    assert!(
        why.contains("\"nope\" is not a built-in profile; known: assumed, backgroundcheckrequest"),
        "{why}"
    );
    let missing = IntakeSection {
        mapping: Some("no-such-file.jq".into()),
        ..IntakeSection::default()
    };
    let (key, why) = missing
        .compile(Path::new("/nonexistent"))
        .err()
        .unwrap_or_default();
    assert_eq!(key, "intake.mapping");
    assert!(why.contains("/nonexistent/no-such-file.jq"), "{why}");
    assert!(IntakeSection::default()
        .compile(Path::new("."))
        .ok()
        .flatten()
        .is_none());
}

#[test]
fn a_mapping_file_is_read_relative_to_the_config_and_errors_name_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("acme.jq"), "{id: .ref}\n| .x = (1 +)\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let section = IntakeSection {
        mapping: Some("acme.jq".into()),
        ..IntakeSection::default()
    };
    let (key, why) = section.compile(dir.path()).err().unwrap_or_default();
    assert_eq!(key, "intake.mapping");
    assert!(
        why.contains("acme.jq does not compile: line 2, column "),
        "{why}"
    );
    std::fs::write(dir.path().join("acme.jq"), "{id: .ref}").unwrap_or_else(|e| panic!("{e}"));
    let m = section
        .compile(dir.path())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("compiles"));
    assert_eq!(map(&m, json!({"ref": "9"})), Ok(json!({"id": "9"})));
}

#[test]
fn bad_output_and_bad_input_fail_that_invitation_without_values() {
    let m = compile("{candidate: {firstName: .n}}");
    let e = map(&m, json!({"n": 42})).err();
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some("the output does not fit the canonical invitation at /candidate/firstName: a number is not allowed here")
    );
    let e = map(&m, json!([1, 2])).err();
    assert_eq!(e, Some(MapError::NotAnObject));
    assert_eq!(
        map(&compile(".n"), json!({"n": "x"})).err(),
        Some(MapError::NotAnObjectOutput("a string"))
    );
    assert_eq!(
        map(&compile("empty"), json!({})).err(),
        Some(MapError::NoOutput)
    );
    assert_eq!(
        map(&compile("{}, {}"), json!({})).err(),
        Some(MapError::ManyOutputs)
    );
    let e = map(&compile("{candidate: {firstname: \"x\"}}"), json!({}))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("the output does not fit the canonical invitation at /candidate: `firstname` is not part of the canonical invitation")
    );
    // A run-time error quotes values in jaq; the error kept here does not.
    let e = map(
        &compile(".name | .[0]"),
        json!({"name": "Jane Doe 123-45-6789"}),
    )
    .err();
    let text = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.starts_with("the program failed: "), "{text}");
    assert!(!text.contains("Jane") && !text.contains("6789"), "{text}");
    let e = map(
        &compile("error(\"ssn \" + .ssn)"),
        json!({"ssn": "123-45-6789"}),
    )
    .err();
    let text = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(!text.contains("6789"), "{text}");
    // Nothing reaches outside the invitation: env fails, debug and stderr print nothing.
    let e = map(&compile("{id: env.HOME}"), json!({}))
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.starts_with("the program failed")));
    assert_eq!(
        map(&compile("debug | stderr | {id: .n}"), json!({"n": "1"})),
        Ok(json!({"id": "1"}))
    );
    let e = map(&compile("halt"), json!({})).err();
    assert!(matches!(e, Some(MapError::Runtime(_))), "{e:?}");
}

#[test]
fn loops_and_runaway_recursion_are_stopped_within_the_budget() {
    for code in [
        "def f: f; f",
        "[repeat(1)]",
        "last(range(1e12))",
        "def f: 1 + f; f",
        "[limit(1e9; repeat(1))] | {}",
        "until(false; .)",
        "reduce range(1e12) as $x (0; . + 1)",
        "[range(1e12)]",
        "def f: [f]; f",
        "reduce range(1e9) as $i (null; [.])",
    ] {
        let m = compile(code);
        let started = Instant::now();
        let e = map(&m, json!({}));
        assert!(matches!(e, Err(MapError::Budget(_))), "{code}: {e:?}");
        assert!(
            started.elapsed() < MAX_TIME * 6,
            "{code} took {:?}",
            started.elapsed()
        );
    }
    // The first output is taken: an endless stream after a first object is not a loop
    // until the second output is asked for, which the budget bounds too.
    assert_eq!(
        map(&compile("{}, repeat(1)"), json!({})).err(),
        Some(MapError::ManyOutputs)
    );
    assert_eq!(
        map(&compile("first({}, repeat(1))"), json!({})),
        Ok(json!({}))
    );
}

#[test]
fn a_page_goes_on_past_a_failing_invitation() {
    let m = compile("if .loop then (def f: f; f) else {id: .id} end");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let body = br#"{"items":[{"id":"1"},{"id":"2","loop":true},7,{"id":3}]}"#;
    let listed = rt
        .block_on(read_list(body, &m, None))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed.len(), 4);
    assert!(matches!(&listed[0], Listed::Read(inv) if inv.id.as_deref() == Some("1")));
    assert!(
        matches!(&listed[1], Listed::Unmapped { id: Some(id), why: MapError::Budget(_) } if id == "2")
    );
    assert!(matches!(
        &listed[2],
        Listed::Unmapped {
            id: None,
            why: MapError::NotAnObject
        }
    ));
    assert!(matches!(&listed[3], Listed::Read(inv) if inv.id.as_deref() == Some("3")));
}

#[test]
fn guid_keys_are_removed_at_every_level() {
    let mut v = json!({"3f2504e0-4f89-11d3-9a0c-0305e82c3301": "x", "a": [{"B9F3A1C2-0000-4000-8000-000000000000": 1, "k": 2}]});
    strip_guid_keys(&mut v);
    assert_eq!(v, json!({"a": [{"k": 2}]}));
    assert_eq!(
        raw_id(&json!({"BackgroundCheckRequest": {"Id": 5}})).as_deref(),
        Some("5")
    );
    assert_eq!(raw_id(&json!({"ID": " 6 "})).as_deref(), Some("6"));
}

#[test]
fn the_assumed_profile_reads_what_the_built_in_reader_reads() {
    let m = profile("assumed");
    for i in 0..10 {
        let raw = sample(i);
        let mapped = map(&m, raw.clone()).unwrap_or_else(|e| panic!("sample {i}: {e}"));
        let direct = Invitation::deserialize(&raw).unwrap_or_else(|e| panic!("{e}"));
        let via = Invitation::deserialize(&mapped).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(direct, via, "sample {i}");
    }
    // PascalCase and numbers where text is assumed, as the reader accepts them.
    let raw = json!({"Id": 77, "PackageCode": "EMP", "Candidate": {"FirstName": "Jane", "Phone": 5550100},
                     "Job": {"Salary": "85,000", "Worksite": {"City": "Austin"}}, "CheckTypes": "EMPLOYMENT, EDUCATION"});
    let mapped = map(&m, raw.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        Invitation::deserialize(&raw).ok(),
        Invitation::deserialize(&mapped).ok()
    );
}

#[test]
fn the_backgroundcheckrequest_profile_reads_the_peers_shape_in_any_casing() {
    let m = profile("backgroundcheckrequest");
    let mapped = map(&m, bcr_sample()).unwrap_or_else(|e| panic!("{e}"));
    let inv = Invitation::deserialize(&mapped).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inv.id.as_deref(), Some("4711"));
    assert_eq!(inv.package_code.as_deref(), Some("EMP-EDU"));
    assert_eq!(inv.candidate.first_name.as_deref(), Some("Jane"));
    assert_eq!(inv.candidate.middle_name.as_deref(), Some("Q"));
    assert_eq!(inv.candidate.last_name.as_deref(), Some("Doe"));
    assert_eq!(inv.candidate.email.as_deref(), Some("jane@example.com"));
    assert_eq!(inv.job.department.as_deref(), Some("NURSING"));
    assert_eq!(inv.job.title.as_deref(), Some("Nurse"));
    assert_eq!(inv.job.job_id.as_deref(), Some("12"));
    // Unwrapped, lower-cased as the table prints it, and with odd values on the way.
    let flat = json!({"id": "8", "package": "not an object", "applicant": {"emailid": "a@b.c"}, "application": 3});
    let inv = Invitation::deserialize(map(&m, flat).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inv.id.as_deref(), Some("8"));
    assert_eq!(inv.package_code, None);
    assert_eq!(inv.candidate.email.as_deref(), Some("a@b.c"));
}

/// Every key's casing changed at random (the profile reads any casing).
fn recase(v: &Value, rng: &mut rand::rngs::StdRng) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let k: String = k
                        .chars()
                        .map(|c| {
                            if rng.gen_bool(0.5) {
                                c.to_ascii_uppercase()
                            } else {
                                c.to_ascii_lowercase()
                            }
                        })
                        .collect();
                    (k, recase(v, rng))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| recase(v, rng)).collect()),
        other => other.clone(),
    }
}

#[test]
fn fuzzy_serializer_shuffles_and_guid_extras_never_change_the_mapped_result() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    for (name, raw) in [
        ("assumed", sample(1)),
        ("assumed", sample(2)),
        ("backgroundcheckrequest", bcr_sample()),
    ] {
        let m = profile(name);
        let plain = map(&m, raw.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        for round in 0..25 {
            let wire = sandbox::fuzzjson::to_string(&raw, true);
            let mut fuzzed: Value = serde_json::from_str(&wire).unwrap_or_else(|e| panic!("{e}"));
            if name == "backgroundcheckrequest" {
                fuzzed = recase(&fuzzed, &mut rng);
            }
            let again = map(&m, fuzzed).unwrap_or_else(|e| panic!("{name} round {round}: {e}"));
            assert_eq!(plain, again, "{name} round {round}");
        }
    }
}

#[test]
fn field_overrides_apply_after_the_mapping() {
    let m = profile("backgroundcheckrequest");
    let fields = BTreeMap::from([(
        "candidate.national_id".to_owned(),
        "/backgroundCheckRequest/applicant/ssn".to_owned(),
    )]);
    let mut raw = bcr_sample();
    if let Some(a) = raw.pointer_mut("/backgroundCheckRequest/applicant") {
        a["ssn"] = json!("123-45-6789");
    }
    let overrides = crate::domain::fields::overrides(&fields);
    let out = m
        .map_one(raw, overrides.as_ref())
        .unwrap_or_else(|e| panic!("{e}"));
    let inv = Invitation::deserialize(out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inv.candidate.national_id.as_deref(), Some("123-45-6789"));
}

/// A value for every property the schema lists (strings for text, 1 for numbers).
fn fill(schema: &Value) -> Value {
    let types: Vec<&str> = match &schema["type"] {
        Value::Array(t) => t.iter().filter_map(Value::as_str).collect(),
        Value::String(t) => vec![t.as_str()],
        _ => vec![],
    };
    if types.contains(&"object") {
        let props = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        Value::Object(props.iter().map(|(k, s)| (k.clone(), fill(s))).collect())
    } else if types.contains(&"array") {
        json!([fill(&schema["items"])])
    } else if types.contains(&"string") {
        json!("text")
    } else {
        json!(1)
    }
}

#[test]
fn the_schema_is_valid_and_describes_what_the_reader_reads() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap_or_else(|e| panic!("{e}"));
    jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("schema: {e}"));
    let full = fill(&schema);
    check_schema(&full).unwrap_or_else(|e| panic!("{e}"));
    let inv = Invitation::deserialize(&full).unwrap_or_else(|e| panic!("{e}"));
    // Every field the schema names lands in the reader's struct (a misspelt key in the
    // schema would leave its field empty here).
    let c = &inv.candidate;
    for (name, v) in [
        ("id", &inv.id),
        ("status", &inv.status.as_ref().map(|_| String::new())),
        ("provider", &inv.provider),
        ("packageCode", &inv.package_code),
        ("note", &inv.note),
        ("createdDate", &inv.created_date),
        ("candidate.applicantId", &c.applicant_id),
        ("candidate.firstName", &c.first_name),
        ("candidate.middleName", &c.middle_name),
        ("candidate.lastName", &c.last_name),
        ("candidate.email", &c.email),
        ("candidate.phone", &c.phone),
        ("candidate.dateOfBirth", &c.date_of_birth),
        ("candidate.nationalId", &c.national_id),
        ("candidate.addresses.toDate", &c.addresses[0].to_date),
        ("candidate.aliases.suffix", &c.aliases[0].suffix),
        ("job.jobId", &inv.job.job_id),
        ("job.department", &inv.job.department),
        ("job.worksite.country", &inv.job.worksite.country),
        ("requester.email", &inv.requester.email),
        (
            "employmentHistory.endDate",
            &inv.employment_history[0].end_date,
        ),
        (
            "educationHistory.fieldOfStudy",
            &inv.education_history[0].field_of_study,
        ),
        ("documents.url", &inv.documents[0].url),
    ] {
        assert!(v.is_some() || name == "status", "{name} not read");
    }
    assert_eq!(inv.check_types, vec!["text".to_owned()]);
    assert!(inv.job.salary.is_none(), "salary \"text\" has no digits");
    // The built-in profiles' outputs on the samples meet the schema (map_one checks it).
    for (name, raw) in [
        ("assumed", sample(3)),
        ("backgroundcheckrequest", bcr_sample()),
    ] {
        let out = map(&profile(name), raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(schema_validator().is_valid(&out), "{name}");
    }
}

fn schema_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap_or_else(|e| panic!("{e}"));
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_shipped_profiles_are_the_files_in_the_repository() {
    for (name, code) in PROFILES {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/intake/profiles")
            .join(format!("{name}.jq"));
        let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&on_disk, code);
        profile(name);
    }
}

#[test]
fn the_sandboxs_backgroundcheckrequest_shape_reads_back_as_the_assumed_invitation() {
    let m = profile("backgroundcheckrequest");
    for i in 0..10 {
        let raw = sample(i);
        let shaped = sandbox::pageup::InvitationShape::BackgroundCheckRequest.reshape(&raw);
        let mapped = map(&m, shaped).unwrap_or_else(|e| panic!("sample {i}: {e}"));
        let via = Invitation::deserialize(&mapped).unwrap_or_else(|e| panic!("{e}"));
        let mut direct = Invitation::deserialize(&raw).unwrap_or_else(|e| panic!("{e}"));
        // What the shape does not carry.
        direct.note = None;
        direct.candidate.aliases.clear();
        assert_eq!(direct.id, via.id, "sample {i}");
        assert_eq!(direct.candidate, via.candidate, "sample {i}");
        assert_eq!(direct.job, via.job, "sample {i}");
        assert_eq!(
            direct.employment_history, via.employment_history,
            "sample {i}"
        );
        assert_eq!(
            direct.education_history, via.education_history,
            "sample {i}"
        );
        assert_eq!(direct.documents, via.documents, "sample {i}");
        assert_eq!(direct, via, "sample {i}");
    }
}

#[test]
fn the_sandboxs_invitations_vary_their_paths_but_make_no_drift_after_the_baseline() {
    use crate::intake::drift::{paths_of, Observed, Shape, BASELINE};
    let mut shape = Shape::default();
    let mut drifts = Vec::new();
    for i in 0..(BASELINE as usize + 40) {
        if let Observed::Drifted(d) = shape.observe(&paths_of(&sample(i)), 20) {
            drifts.push((i, d));
        }
    }
    assert!(shape.baseline_done);
    assert_eq!(drifts, Vec::new());
}
