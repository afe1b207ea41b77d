//! What `checkbridge mapping test` shows for one raw invitation: the canonical invitation the
//! tenant's mapping makes of it (values masked unless asked), or why it cannot, and which
//! canonical fields are filled and which missing.

use serde_json::Value;

use super::{MapError, SCHEMA};

/// Every leaf field of the canonical invitation, as a dotted path (`candidate.firstName`,
/// `candidate.addresses[].city`), in the schema's order.
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

/// `v` with every text and number replaced by `"•••"` (keys and shape kept), unless
/// `show_pii`.
pub fn masked(v: &Value, show_pii: bool) -> Value {
    if show_pii {
        return v.clone();
    }
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), masked(v, false)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| masked(v, false)).collect()),
        Value::String(_) | Value::Number(_) => Value::String("•••".to_owned()),
        other => other.clone(),
    }
}

/// The report for one invitation: the mapped invitation (masked unless `show_pii`), then
/// each canonical field as filled or missing; or the one-line reason it failed.
pub fn render(index: usize, result: &Result<Value, MapError>, show_pii: bool) -> String {
    let mut out = format!("invitation {}:\n", index + 1);
    match result {
        Err(e) => out.push_str(&format!("  FAILED: {e}\n")),
        Ok(v) => {
            let text = serde_json::to_string_pretty(&masked(v, show_pii)).unwrap_or_default();
            for line in text.lines() {
                out.push_str(&format!("  {line}\n"));
            }
            let (filled, missing): (Vec<String>, Vec<String>) = canonical_fields()
                .into_iter()
                .partition(|f| is_filled(v, f));
            out.push_str(&format!(
                "  filled ({}): {}\n",
                filled.len(),
                filled.join(", ")
            ));
            out.push_str(&format!(
                "  missing ({}): {}\n",
                missing.len(),
                missing.join(", ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
        let text = render(0, &Ok(v.clone()), false);
        assert!(!text.contains("Jane") && !text.contains("Austin"), "{text}");
        assert!(text.contains("missing ("), "{text}");
        assert!(render(0, &Ok(v), true).contains("Jane"));
        let failed = render(1, &Err(MapError::NotAnObject), false);
        assert_eq!(
            failed,
            "invitation 2:\n  FAILED: the invitation is not a JSON object\n"
        );
    }
}
