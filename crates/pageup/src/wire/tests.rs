use super::*;
use proptest::prelude::*;
use serde_json::{json, Value};

fn sample() -> Value {
    json!({
        "id": 12345, "status": "Pending", "provider": "bg", "packageCode": "EMP-EDU",
        "checkTypes": ["EMPLOYMENT", "EDUCATION"], "note": null, "createdDate": "2026-11-20T09:15:00Z",
        "candidate": {
            "applicantId": "A-1", "firstName": "Jane", "middleName": null, "lastName": "Doe",
            "email": "jane@example.com", "phone": 5550102000u64, "dateOfBirth": "1990-05-15",
            "nationalId": "123-45-6789",
            "addresses": [{ "addressType": "home", "line1": "1 Main St", "city": "Austin", "state": "TX",
                            "postcode": 73301, "country": "US", "fromDate": "2021-01-01", "toDate": null }],
            "aliases": null
        },
        "job": { "jobId": "J-42", "title": "Staff Accountant", "department": "Finance",
                 "worksite": { "city": "Austin", "state": "TX" }, "salary": "85,000" },
        "requester": { "firstName": "Rita", "email": "rita@example.com" },
        "employmentHistory": [{ "employerName": "Acme Corp", "position": "Accountant", "startDate": "2019-02-01" }],
        "educationHistory": null,
        "documents": [
            { "documentId": "D-1", "documentType": "resume", "content": "data:application/pdf;base64,JVBERi0xLjQK" },
            { "documentId": "D-2", "documentType": "signedRelease", "url": "https://example.com/r.pdf" },
            { "documentId": "D-3", "content": "@@not base64@@" }
        ]
    })
}

#[test]
fn parses_the_assumed_schema_leniently() {
    let inv: Invitation = serde_json::from_value(sample()).unwrap();
    assert_eq!(inv.id.as_deref(), Some("12345"));
    assert_eq!(inv.status, Some(CheckStatus::Pending));
    assert_eq!(inv.check_types, vec!["EMPLOYMENT", "EDUCATION"]);
    assert_eq!(inv.candidate.phone.as_deref(), Some("5550102000"));
    assert_eq!(
        inv.candidate.addresses[0].postcode.as_deref(),
        Some("73301")
    );
    assert!(inv.candidate.aliases.is_empty());
    assert_eq!(inv.job.salary, Some(85000.0));
    assert!(inv.education_history.is_empty());
    assert_eq!(
        inv.documents[0]
            .content
            .as_ref()
            .and_then(|c| c.bytes())
            .map(|b| &b[..]),
        Some(&b"%PDF-1.4\n"[..])
    );
    assert_eq!(
        inv.documents[1].url.as_deref(),
        Some("https://example.com/r.pdf")
    );
    assert_eq!(inv.documents[2].content, Some(DocumentContent::Invalid));
}

#[test]
fn debug_never_shows_pii() {
    let inv: Invitation = serde_json::from_value(sample()).unwrap();
    let debug = format!("{inv:?}");
    for secret in [
        "123-45-6789",
        "1990-05-15",
        "jane@example.com",
        "1 Main St",
        "Jane",
        "JVBERi0",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
}

#[test]
fn list_bare_wrapped_and_empty() {
    let one = sample();
    let parse = |v: Value| serde_json::from_value::<InvitationList>(v).unwrap().0.len();
    assert_eq!(parse(json!([one.clone(), one.clone()])), 2);
    assert_eq!(
        parse(json!({ "total": 2, "items": [one.clone(), one.clone()] })),
        2
    );
    assert_eq!(
        parse(
            json!({ "6f1c3a0e-8d7b-4c8e-9a51-2b0f4e7c9d11": "0b9e2f47-3c1d-4e6a-8f5b-7a2c9d1e4f30", "data": [one.clone()] })
        ),
        1
    );
    assert_eq!(parse(json!({ "invitations": [] })), 0);
    assert_eq!(parse(json!([])), 0);
    assert_eq!(parse(json!(null)), 0);
    assert_eq!(parse(json!([null, one])), 1);
}

#[test]
fn status_spellings() {
    for s in ["inprogress", "InProgress", "in_progress", "In Progress"] {
        assert_eq!(CheckStatus::parse(s), CheckStatus::InProgress);
    }
    assert_eq!(CheckStatus::parse("Canceled"), CheckStatus::Cancelled);
    assert_eq!(
        CheckStatus::parse("onhold"),
        CheckStatus::Other("onhold".into())
    );
    assert!(CheckStatus::Expired.is_terminal() && !CheckStatus::New.is_terminal());
}

#[test]
fn status_document_always_sends_every_field() {
    let doc = StatusDocument::new(CheckStatus::Queued);
    assert_eq!(
        serde_json::to_value(&doc).unwrap(),
        json!({ "status": "queued", "referenceNumber": "", "reasonForFail": "", "results": [] })
    );
    let doc = StatusDocument {
        status: CheckStatus::Completed,
        reference_number: "ord_1".into(),
        reason_for_fail: String::new(),
        results: vec![ResultEntry {
            report_link: "https://r/1".into(),
            report_type: "Employment".into(),
            status: "pass".into(),
        }],
    };
    assert_eq!(
        serde_json::to_value(&doc).unwrap()["results"][0],
        json!({ "reportLink": "https://r/1", "reportType": "Employment", "status": "pass" })
    );
}

/// Writes `v` as JSON text with every object's keys permuted by `order` and one GUID-named
/// extra property per object, like PageUp's fuzzy serializer.
fn fuzzed(v: &Value, order: &mut impl Iterator<Item = u64>, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> =
                m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let key = format!(
                "{:08x}-1111-4222-8333-{:012x}",
                order.next().unwrap_or(0) as u32,
                order.next().unwrap_or(1) & 0xffff_ffff_ffff
            );
            entries.push((key, Value::String(uuid::Uuid::new_v4().to_string())));
            let mut keyed: Vec<(u64, (String, Value))> = entries
                .into_iter()
                .map(|e| (order.next().unwrap_or(0), e))
                .collect();
            keyed.sort_by_key(|(k, _)| *k);
            out.push('{');
            for (i, (_, (k, v))) in keyed.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push(':');
                fuzzed(v, order, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                fuzzed(item, order, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

proptest! {
    #[test]
    fn any_shuffle_and_guid_extras_parse_the_same(order in proptest::collection::vec(any::<u64>(), 400), wrap in any::<bool>()) {
        let plain = json!([sample(), sample()]);
        let expected = serde_json::from_value::<InvitationList>(plain.clone()).unwrap().0;
        let source = if wrap { json!({ "items": plain }) } else { plain };
        let mut text = String::new();
        let mut it = order.into_iter().cycle();
        fuzzed(&source, &mut it, &mut text);
        let got = serde_json::from_str::<InvitationList>(&text).unwrap().0;
        prop_assert_eq!(got, expected);
    }
}

/// Renames every key to PascalCase, as a .NET serializer without a camelCase policy would.
fn pascal_keys(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let mut c = k.chars();
                    let key = c
                        .next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default();
                    (key, pascal_keys(v))
                })
                .collect(),
        ),
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.iter().map(pascal_keys).collect())
        }
        other => other.clone(),
    }
}

#[test]
fn pascal_case_names_parse_the_same() {
    let camel: Invitation = serde_json::from_value(sample()).unwrap();
    let pascal: Invitation = serde_json::from_value(pascal_keys(&sample())).unwrap();
    assert_eq!(camel, pascal);
    assert_eq!(pascal.candidate.national_id.as_deref(), Some("123-45-6789"));
}
