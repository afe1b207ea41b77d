//! What a `PUT` may say: the status document's shape (every problem found, in PageUp's
//! `{field, message}` terms) and the guide's workflow of allowed moves. Pure functions, so
//! the rules read on their own and the routes only apply them.

use serde_json::{json, Value};

/// Every status of the guide's workflow.
pub const STATUSES: [&str; 8] = [
    "pending",
    "queued",
    "new",
    "inprogress",
    "completed",
    "failed",
    "cancelled",
    "expired",
];

/// Whether the workflow allows `from` -> `to`.
pub fn transition_allowed(from: &str, to: &str) -> bool {
    if from == to || to == "queued" {
        return true;
    }
    match from {
        "pending" => false,
        "queued" => matches!(
            to,
            "pending" | "new" | "inprogress" | "completed" | "failed" | "cancelled" | "expired"
        ),
        "new" | "inprogress" => matches!(
            to,
            "inprogress" | "completed" | "failed" | "cancelled" | "expired"
        ),
        _ => false,
    }
}

/// Validates a PUT body; returns the normalised document or every problem found.
pub(super) fn validate_document(
    body: &Value,
) -> Result<Value, Vec<(Option<&'static str>, String)>> {
    let mut problems: Vec<(Option<&'static str>, String)> = Vec::new();
    let Some(obj) = body.as_object() else {
        return Err(vec![(
            None,
            "The request body must be a JSON object.".to_owned(),
        )]);
    };
    let status = match obj.get("status") {
        None | Some(Value::Null) => {
            problems.push((Some("status"), "Status is required.".to_owned()));
            None
        }
        Some(Value::String(s)) => {
            let s = s.trim().to_ascii_lowercase();
            if STATUSES.contains(&s.as_str()) {
                Some(s)
            } else {
                problems.push((
                    Some("status"),
                    format!(
                        "Status '{s}' is not valid. Valid values: {}.",
                        STATUSES.join(", ")
                    ),
                ));
                None
            }
        }
        Some(_) => {
            problems.push((Some("status"), "Status must be a string.".to_owned()));
            None
        }
    };
    let text = |field: &'static str, problems: &mut Vec<(Option<&'static str>, String)>| match obj
        .get(field)
    {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            problems.push((Some(field), format!("{field} must be a string.")));
            String::new()
        }
    };
    let reference = text("referenceNumber", &mut problems);
    let reason = text("reasonForFail", &mut problems);
    let mut results = Vec::new();
    match obj.get("results") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let Some(r) = item.as_object() else {
                    problems.push((Some("results"), format!("results[{i}] must be an object.")));
                    continue;
                };
                let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                for k in ["reportLink", "reportType", "status"] {
                    if r.get(k).is_some_and(|v| !v.is_string() && !v.is_null()) {
                        problems.push((
                            Some("results"),
                            format!("results[{i}].{k} must be a string."),
                        ));
                    }
                }
                if field("reportType").trim().is_empty() {
                    problems.push((
                        Some("results"),
                        format!("results[{i}].reportType is required: it tells the recruiter which check the result is for."),
                    ));
                }
                results.push(json!({
                    "reportLink": field("reportLink"),
                    "reportType": field("reportType"),
                    "status": field("status"),
                }));
            }
        }
        Some(_) => problems.push((Some("results"), "results must be an array.".to_owned())),
    }
    match status.as_deref() {
        Some("completed") if results.is_empty() => problems.push((
            Some("results"),
            "A completed background check needs at least one result with its reportLink."
                .to_owned(),
        )),
        Some("failed") if reason.trim().is_empty() => problems.push((
            Some("reasonForFail"),
            "A failed background check needs a reasonForFail the recruiter can act on.".to_owned(),
        )),
        _ => {}
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(json!({
        "status": status.unwrap_or_default(),
        "referenceNumber": reference,
        "reasonForFail": reason,
        "results": results,
    }))
}
