//! `POST /background-check/v1/inbound/notifications`: a verifier's reply pushed into a
//! search. The body is validated as documented; the message is matched to one of the
//! tenant's searches by a reference in its subject or text (the search id, with or without
//! `search_`, or its `externalSearchId`); it is classified by keyword (or by
//! `metadata.classification`, the sandbox's test hook); a terminal classification finishes
//! the search, any other adds an `INBOUND_MESSAGE` notification.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::auth::Tenant;
use super::engine;
use super::error::{nest_error, rejection};
use super::state::{now_iso, Outcome, ThearyState};

/// Documented channels (`STANDARD` is the default).
pub(super) const CHANNELS: &[&str] = &[
    "EMAIL",
    "EFORM",
    "MICROSOFT_GRAPH",
    "FAX_WEBHOOK",
    "TICKETING",
    "JITBIT",
    "JSON",
    "STANDARD",
];

/// Documented classification types; the first four are terminal.
pub(super) const CLASSIFICATIONS: &[&str] = &[
    "VERIFICATION",
    "NO_RECORD",
    "THIRD_PARTY",
    "WRONG_ORG",
    "INFO_REQUESTED",
    "INSUFFICIENT",
    "RECEIVED",
    "INFO_PROVIDED",
    "INFO_REQUEST",
    "AUTHORIZATION_FORM_REQUEST",
    "UNKNOWN",
    "OTHER",
    "NEXT_CONTACT",
];

fn string_field(o: &Map<String, Value>, key: &str, path: &str, problems: &mut Vec<String>) {
    if o.get(key).is_some_and(|v| !v.is_null() && !v.is_string()) {
        problems.push(format!("{path}{key} must be a string"));
    }
}

/// Every problem with an inbound-notification body (empty when valid).
pub(super) fn validate(body: &Value) -> Vec<String> {
    let Some(b) = body.as_object() else {
        return vec!["Validation failed: the body must be a JSON object".to_owned()];
    };
    let mut problems = Vec::new();
    string_field(b, "messageId", "", &mut problems);
    string_field(b, "threadId", "", &mut problems);
    match b.get("channel") {
        None | Some(Value::Null) => {}
        Some(Value::String(c)) if CHANNELS.contains(&c.as_str()) => {}
        Some(_) => problems.push(format!(
            "channel must be one of the following values: {}",
            CHANNELS.join(", ")
        )),
    }
    match b.get("messageData") {
        None | Some(Value::Null) => problems.push("messageData should not be empty".to_owned()),
        Some(Value::Object(m)) => {
            for key in ["id", "threadId", "from", "to", "subject"] {
                string_field(m, key, "messageData.", &mut problems);
            }
            match m.get("body") {
                None | Some(Value::Null) => {}
                Some(Value::Object(body)) => {
                    string_field(body, "text", "messageData.body.", &mut problems);
                    string_field(body, "html", "messageData.body.", &mut problems);
                }
                Some(_) => problems.push("messageData.body must be an object".to_owned()),
            }
            if let Some(ts) = m.get("timestamp").filter(|v| !v.is_null()) {
                let ok = ts.as_str().is_some_and(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .is_ok()
                });
                if !ok {
                    problems.push(
                        "messageData.timestamp must be a valid ISO 8601 date string".to_owned(),
                    );
                }
            }
            match m.get("attachments") {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) => {
                    for (i, item) in a.iter().enumerate() {
                        if !item.is_object() {
                            problems.push(format!("messageData.attachments.{i} must be an object"));
                        }
                    }
                }
                Some(_) => problems.push("messageData.attachments must be an array".to_owned()),
            }
        }
        Some(_) => problems.push("messageData must be an object".to_owned()),
    }
    if b.get("metadata")
        .is_some_and(|v| !v.is_null() && !v.is_object())
    {
        problems.push("metadata must be an object".to_owned());
    }
    if let Some(c) = body.pointer("/metadata/classification/type") {
        if !c.as_str().is_some_and(|c| CLASSIFICATIONS.contains(&c)) {
            problems.push(format!(
                "metadata.classification.type must be one of the following values: {}",
                CLASSIFICATIONS.join(", ")
            ));
        }
    }
    problems
}

/// A classification by keyword in the message's text.
fn classify(text: &str) -> (&'static str, f64, &'static str) {
    let t = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&["no record", "norecord"]) {
        (
            "NO_RECORD",
            0.9,
            "The organisation says it has no record of the person",
        )
    } else if has(&[
        "wrong org",
        "wrongorg",
        "not our organisation",
        "not our organization",
    ]) {
        (
            "WRONG_ORG",
            0.85,
            "The reply says this is the wrong organisation",
        )
    } else if has(&["third party", "thirdparty", "work number"]) {
        (
            "THIRD_PARTY",
            0.88,
            "The organisation verifies only through a third party",
        )
    } else if has(&["authorization form", "release form", "signed release"]) {
        (
            "AUTHORIZATION_FORM_REQUEST",
            0.8,
            "The organisation asks for the signed release",
        )
    } else if has(&["worked here", "confirm", "verif"]) {
        ("VERIFICATION", 0.92, "The reply confirms the details")
    } else {
        ("UNKNOWN", 0.3, "The reply could not be classified")
    }
}

pub(super) async fn receive(
    State(state): State<ThearyState>,
    Tenant(tenant): Tenant,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(b)) => b,
        Err(r) => return rejection(r),
    };
    let problems = validate(&body);
    if !problems.is_empty() {
        return nest_error(StatusCode::BAD_REQUEST, json!(problems));
    }
    let data = &body["messageData"];
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let message_id = text(&body["messageId"])
        .or_else(|| text(&data["id"]))
        .unwrap_or_else(|| {
            let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
            format!("msg_{millis}_{:08x}", rand::random::<u32>())
        });
    let thread_id = text(&body["threadId"])
        .or_else(|| text(&data["threadId"]))
        .unwrap_or_else(|| message_id.clone());
    let channel = text(&body["channel"]).unwrap_or_else(|| "STANDARD".to_owned());
    let haystack = format!(
        "{}\n{}\n{}",
        data["subject"].as_str().unwrap_or(""),
        data.pointer("/body/text")
            .and_then(Value::as_str)
            .unwrap_or(""),
        data.pointer("/body/html")
            .and_then(Value::as_str)
            .unwrap_or(""),
    );
    let failed = |reason: &str, code: &str| {
        (
            StatusCode::CREATED,
            Json(json!({
                "messageId": message_id, "threadId": thread_id, "success": false,
                "failureReasons": [reason], "metadata": { "errorCode": code }, "processedAt": now_iso(),
            })),
        )
            .into_response()
    };
    let Some((search_id, open)) = state.find_search_by_reference(&tenant, &haystack) else {
        return failed("Search not found for reference number", "SEARCH_NOT_FOUND");
    };
    if !open {
        return failed("Search is no longer open", "SEARCH_CLOSED");
    }
    let (kind, confidence, reasoning) = match body
        .pointer("/metadata/classification/type")
        .and_then(Value::as_str)
    {
        Some(forced) => (
            CLASSIFICATIONS
                .iter()
                .copied()
                .find(|c| *c == forced)
                .unwrap_or("UNKNOWN"),
            body.pointer("/metadata/classification/confidence")
                .and_then(Value::as_f64)
                .unwrap_or(1.0),
            "Classification given in metadata (sandbox)",
        ),
        None => classify(&haystack),
    };
    let classification = json!({ "type": kind, "confidence": confidence, "reasoning": reasoning });
    let outcome = match kind {
        "VERIFICATION" => Some(Outcome::Completed {
            outcome: "VERIFIED".into(),
            discrepancy: false,
        }),
        "NO_RECORD" | "WRONG_ORG" => Some(Outcome::Completed {
            outcome: kind.into(),
            discrepancy: false,
        }),
        "THIRD_PARTY" => Some(Outcome::ActionRequired {
            reason_code: "THIRD_PARTY_RECORD".into(),
        }),
        _ => None,
    };
    let summary = data["subject"].as_str().unwrap_or("Inbound message");
    let applied = match &outcome {
        // The message is first recorded and notified, then the search finishes.
        Some(o) => {
            engine::inbound_message(
                &state,
                &search_id,
                &channel,
                summary,
                classification.clone(),
            ) && state.resolve_search(&search_id, o.clone())
        }
        None => engine::inbound_message(
            &state,
            &search_id,
            &channel,
            summary,
            classification.clone(),
        ),
    };
    if !applied {
        return failed("Search is no longer open", "SEARCH_CLOSED");
    }
    (
        StatusCode::CREATED,
        Json(json!({
            "messageId": message_id, "threadId": thread_id, "success": true,
            "searchId": search_id, "channel": channel, "classification": classification,
            "terminal": outcome.is_some(), "processedAt": now_iso(),
        })),
    )
        .into_response()
}
