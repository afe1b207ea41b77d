//! Field-mapping overrides: a tenant whose real PageUp payload puts a field elsewhere than
//! the assumed schema says names it with a JSON pointer (`tenants.X.fields`). Before an
//! invitation is read, the value found at the pointer is copied to where the schema
//! expects it, replacing whatever was there.

use std::collections::BTreeMap;

use pageup::wire::{Invitation, InvitationList};
use serde::Deserialize as _;
use serde_json::{Map, Value};

/// Where each mappable field lives in the assumed schema (see `config::MAPPABLE_FIELDS`).
fn canonical(field: &str) -> Option<&'static [&'static str]> {
    Some(match field {
        "check_id" => &["id"],
        "package_code" => &["packageCode"],
        "check_types" => &["checkTypes"],
        "candidate.first_name" => &["candidate", "firstName"],
        "candidate.middle_name" => &["candidate", "middleName"],
        "candidate.last_name" => &["candidate", "lastName"],
        "candidate.email" => &["candidate", "email"],
        "candidate.phone" => &["candidate", "phone"],
        "candidate.date_of_birth" => &["candidate", "dateOfBirth"],
        "candidate.national_id" => &["candidate", "nationalId"],
        "job.title" => &["job", "title"],
        "job.department" => &["job", "department"],
        "job.worksite_city" => &["job", "worksite", "city"],
        "job.worksite_state" => &["job", "worksite", "state"],
        "job.salary" => &["job", "salary"],
        _ => return None,
    })
}

/// Copies each overridden field into place in one raw invitation.
pub fn apply(item: &mut Value, fields: &BTreeMap<String, String>) {
    for (field, pointer) in fields {
        let Some(path) = canonical(field) else {
            continue;
        };
        let Some(value) = item.pointer(pointer).cloned() else {
            continue;
        };
        set(item, path, value);
    }
}

/// Copies each overridden field from `source` (the raw invitation) into `target` (the
/// mapped, canonical one): how overrides apply after a tenant's intake mapping.
pub fn apply_from(source: &Value, target: &mut Value, fields: &BTreeMap<String, String>) {
    for (field, pointer) in fields {
        let Some(path) = canonical(field) else {
            continue;
        };
        let Some(value) = source.pointer(pointer).cloned() else {
            continue;
        };
        set(target, path, value);
    }
}

/// The overrides as the intake mapping runs them after the program (`None` without any).
pub fn overrides(fields: &BTreeMap<String, String>) -> Option<crate::intake::Overrides> {
    if fields.is_empty() {
        return None;
    }
    let fields = fields.clone();
    Some(Box::new(move |source: &Value, target: &mut Value| {
        apply_from(source, target, &fields)
    }))
}

fn set(target: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = target;
    for key in parents {
        let Some(obj) = node.as_object_mut() else {
            return;
        };
        let existing = obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned();
        let key = existing.unwrap_or_else(|| (*key).to_owned());
        let child = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
        if !child.is_object() {
            *child = Value::Object(Map::new());
        }
        node = child;
    }
    let Some(obj) = node.as_object_mut() else {
        return;
    };
    // The schema accepts camelCase and PascalCase; keep exactly one spelling.
    obj.retain(|k, _| !k.eq_ignore_ascii_case(last));
    obj.insert((*last).to_owned(), value);
}

/// Reads a raw GET answer (a bare list or a wrapped one) with the overrides applied.
pub fn read_list(
    body: &[u8],
    fields: &BTreeMap<String, String>,
) -> Result<Vec<Invitation>, String> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the list is not JSON: {e}"))?;
    let mut items: Vec<&mut Value> = Vec::new();
    match &mut value {
        Value::Array(list) => items.extend(list.iter_mut()),
        Value::Object(map) => {
            for v in map.values_mut() {
                if let Value::Array(list) = v {
                    items.extend(list.iter_mut());
                }
            }
        }
        _ => {}
    }
    for item in items {
        apply(item, fields);
    }
    InvitationList::deserialize(value)
        .map(|l| l.0)
        .map_err(|e| format!("the list could not be read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overridden_fields_are_read_from_where_the_tenant_says() {
        let fields = BTreeMap::from([
            (
                "candidate.national_id".to_owned(),
                "/candidate/ssn".to_owned(),
            ),
            ("job.worksite_city".to_owned(), "/location/city".to_owned()),
            ("check_id".to_owned(), "/CheckId".to_owned()),
        ]);
        let body = br#"{"items":[{"CheckId":"77","Id":"ignored","candidate":{"firstName":"Jane","NationalId":"000","ssn":"123-45-6789"},
            "location":{"city":"Austin"},"job":{"title":"Nurse"}}]}"#;
        let list = read_list(body, &fields).unwrap();
        assert_eq!(list.len(), 1);
        let inv = &list[0];
        assert_eq!(inv.id.as_deref(), Some("77"));
        assert_eq!(inv.candidate.national_id.as_deref(), Some("123-45-6789"));
        assert_eq!(inv.job.worksite.city.as_deref(), Some("Austin"));
        assert_eq!(inv.job.title.as_deref(), Some("Nurse"));
        // A pointer that finds nothing leaves the field as it was.
        let list = read_list(
            br#"[{"id":"5","candidate":{"nationalId":"111-22-3333"}}]"#,
            &fields,
        )
        .unwrap();
        assert_eq!(
            list[0].candidate.national_id.as_deref(),
            Some("111-22-3333")
        );
        assert!(read_list(b"{not json", &fields).is_err());
    }
}
