//! The verification engine: the life of a search, from the order that creates it, through
//! two notifications (contact plan, outbound attempt), to its outcome, chosen by keyword or
//! rule when the order is created. Each stage's webhook event is handed to `delivery`.
//! Stages move when `advance` is called: by the auto-run ticker, the admin API or a test.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde_json::{json, Value};

use super::delivery::Pending;
use super::state::{now_iso, Data, OrderRec, Outcome, SearchRec, ThearyState};

impl ThearyState {
    /// Moves every open search one stage now. Returns how many moved.
    pub fn advance(&self) -> usize {
        advance(self)
    }

    /// Finishes a search now with `outcome` (any open search, stalled ones included).
    pub fn resolve_search(&self, search_id: &str, outcome: Outcome) -> bool {
        resolve(self, search_id, outcome)
    }
}

/// Keywords and the outcome they choose.
type Rule = (&'static [&'static str], fn() -> Outcome);

const DEFAULT_RULES: &[Rule] = &[
    (&["discrepancy"], || Outcome::Completed {
        outcome: "VERIFIED".into(),
        discrepancy: true,
    }),
    (&["norecord", "no record"], || Outcome::Completed {
        outcome: "NO_RECORD".into(),
        discrepancy: false,
    }),
    (&["wrongorg"], || Outcome::Completed {
        outcome: "WRONG_ORG".into(),
        discrepancy: false,
    }),
    (&["unable"], || Outcome::Completed {
        outcome: "UNABLE_TO_VERIFY".into(),
        discrepancy: false,
    }),
    (&["thirdparty", "work number"], || Outcome::ActionRequired {
        reason_code: "THIRD_PARTY_RECORD".into(),
    }),
    (&["escalate"], || Outcome::ActionRequired {
        reason_code: "HUMAN_ESCALATION".into(),
    }),
    (&["stall"], || Outcome::Stall),
];

/// A criminal search's outcome by keyword in the applicant's name: `records` or
/// `conviction` finds records, `stall` never finishes, `escalate` needs a person; anything
/// else is clear.
fn choose_criminal(name: &str) -> Outcome {
    if name.contains("records") || name.contains("conviction") {
        Outcome::Completed {
            outcome: "RECORDS_FOUND".into(),
            discrepancy: false,
        }
    } else if name.contains("stall") {
        Outcome::Stall
    } else if name.contains("escalate") {
        Outcome::ActionRequired {
            reason_code: "HUMAN_ESCALATION".into(),
        }
    } else {
        Outcome::Completed {
            outcome: "CLEAR".into(),
            discrepancy: false,
        }
    }
}

fn choose(data: &mut Data, search_type: &str, subject_name: &str) -> Outcome {
    let name = subject_name.to_ascii_lowercase();
    for rule in &data.rules {
        let type_ok = rule
            .search_type
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case(search_type));
        if type_ok && name.contains(&rule.keyword.to_ascii_lowercase()) {
            return rule.outcome.clone();
        }
    }
    if search_type.eq_ignore_ascii_case("CRIMINAL") {
        return choose_criminal(&name);
    }
    for (keywords, outcome) in DEFAULT_RULES {
        if keywords.iter().any(|k| name.contains(k)) {
            return outcome();
        }
    }
    match data.rng.as_mut() {
        Some(rng) => match rng.gen_range(0..100) {
            0..=69 => Outcome::Completed {
                outcome: "VERIFIED".into(),
                discrepancy: false,
            },
            70..=79 => Outcome::Completed {
                outcome: "VERIFIED".into(),
                discrepancy: true,
            },
            80..=87 => Outcome::Completed {
                outcome: "NO_RECORD".into(),
                discrepancy: false,
            },
            88..=93 => Outcome::ActionRequired {
                reason_code: "THIRD_PARTY_RECORD".into(),
            },
            _ => Outcome::ActionRequired {
                reason_code: "HUMAN_ESCALATION".into(),
            },
        },
        None => Outcome::Completed {
            outcome: "VERIFIED".into(),
            discrepancy: false,
        },
    }
}

/// Records a validated order; returns its id and search ids (bare UUIDs).
pub(super) fn create(state: &ThearyState, tenant: &str, body: &Value) -> (String, Vec<String>) {
    let now = now_iso();
    let order_id = uuid::Uuid::new_v4().to_string();
    let applicant = &body["applicant"];
    let ssn = applicant["ssn"].as_str().unwrap_or("");
    let masked = format!(
        "***-**-{}",
        ssn.get(ssn.len().saturating_sub(4)..).unwrap_or("")
    );
    let entity = body["businessContext"]["entityName"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let mut data = state.lock();
    data.next_seq += 1;
    let seq = data.next_seq;
    let mut search_ids = Vec::new();
    let empty = Vec::new();
    for st in body["searchTypes"].as_array().unwrap_or(&empty) {
        let search_type = st["searchType"].as_str().unwrap_or("EMPLOYMENT").to_owned();
        let subject = match search_type.as_str() {
            // A criminal search is about the applicant, in the order's jurisdictions.
            "CRIMINAL" => Some(json!({
                "name": format!(
                    "{} {}",
                    applicant["firstName"].as_str().unwrap_or(""),
                    applicant["lastName"].as_str().unwrap_or("")
                ),
                "title": body["businessContext"]["appliedJobTitle"],
                "jurisdictions": body.pointer("/criminalCheck/jurisdictions").cloned().unwrap_or(json!([])),
            })),
            "EDUCATION" => body["history"]["education"].get(0).map(|e| json!({
                "name": e["institutionName"], "title": e["qualification"], "fieldOfStudy": e["fieldOfStudy"],
                "graduationDate": e["graduationDate"],
            })),
            _ => body["history"]["employment"].get(0).map(|e| json!({
                "name": e["employerName"], "title": e["position"], "location": e["employerLocation"],
                "startDate": e["startDate"], "endDate": e["endDate"],
            })),
        }
        .unwrap_or_else(|| json!({ "name": entity, "title": body["businessContext"]["appliedJobTitle"] }));
        let name = subject["name"].as_str().unwrap_or("").to_owned();
        let outcome = choose(&mut data, &search_type, &name);
        // A search's own `searchConfig`, when present (even `{}`), replaces the order's
        // `defaultSearchConfig` as a whole; its webhook override, or else the order's
        // `webhookConfig`, wins; with neither, the tenant's configuration applies when the
        // event is sent (see `ThearyState::send`).
        let search_config = match st.get("searchConfig") {
            Some(c) if c.is_object() => Some(c),
            _ => body.get("defaultSearchConfig").filter(|c| c.is_object()),
        };
        let webhook = search_config
            .and_then(|c| c.pointer("/notifications/webhookOverride"))
            .filter(|v| v.is_object())
            .or_else(|| body.get("webhookConfig").filter(|v| v.is_object()))
            .cloned();
        let id = uuid::Uuid::new_v4().to_string();
        data.searches.insert(
            id.clone(),
            SearchRec {
                id: id.clone(),
                order_id: order_id.clone(),
                tenant: tenant.to_owned(),
                search_type,
                external_search_id: st["externalSearchId"].as_str().map(str::to_owned),
                stage: 0,
                status: "IN_PROGRESS",
                outcome,
                webhook,
                entity_name: name,
                subject,
                verification_id: uuid::Uuid::new_v4().to_string(),
                result: None,
                activity: Vec::new(),
                created_at: now.clone(),
                updated_at: now.clone(),
                completed_at: None,
            },
        );
        search_ids.push(id);
    }
    data.orders.insert(
        order_id.clone(),
        OrderRec {
            id: order_id.clone(),
            tenant: tenant.to_owned(),
            seq,
            cancelled: false,
            applicant: json!({
                "firstName": applicant["firstName"], "lastName": applicant["lastName"], "ssn": masked,
                "email": applicant.get("email"), "phone": applicant.get("phone"),
            }),
            entity_name: entity,
            job_title: body["businessContext"]["appliedJobTitle"].as_str().unwrap_or("").to_owned(),
            release: applicant["signedReleaseFileUrl"].as_str().map(release_reference),
            search_ids: search_ids.clone(),
            created_at: now.clone(),
            updated_at: now,
        },
    );
    drop(data);
    state.changes.bump();
    (order_id, search_ids)
}

/// A signed release as the order named it, with an inline PDF reduced to its size.
fn release_reference(given: &str) -> String {
    use base64::Engine as _;
    if given.starts_with("https://") || given.starts_with("http://") || given.starts_with("gs://") {
        return given.to_owned();
    }
    let b64 = given
        .strip_prefix("data:application/pdf;base64,")
        .unwrap_or(given);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_or(0, |b| b.len());
    format!("inline:{bytes}")
}

fn event(s: &SearchRec, event_type: &'static str, data: Value) -> Pending {
    let envelope = json!({ "event": event_type, "occurredAt": now_iso(), "data": data });
    Pending {
        event_type,
        search_type: s.search_type.clone(),
        external_search_id: s.external_search_id.clone(),
        tenant: s.tenant.clone(),
        webhook: s.webhook.clone(),
        body: serde_json::to_vec(&envelope).unwrap_or_default(),
    }
}

fn base_data(s: &SearchRec) -> Value {
    json!({ "searchType": s.search_type, "searchId": s.id, "externalSearchId": s.external_search_id, "verificationId": s.verification_id })
}

fn activity(s: &mut SearchRec, kind: &str, channel: &str, description: &str) {
    s.activity.push(json!({
        "id": uuid::Uuid::new_v4().to_string(), "activityType": kind, "channel": channel,
        "channelValue": null, "description": description, "createdAt": now_iso(),
    }));
}

fn result_data(s: &SearchRec, outcome: &str, discrepancy: bool) -> Value {
    let sub = &s.subject;
    let text = |k: &str| sub.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut result =
        json!({ "id": s.verification_id, "outcome": outcome, "discrepancy": discrepancy });
    if s.search_type == "CRIMINAL" {
        let jurisdictions = sub.get("jurisdictions").cloned().unwrap_or(json!([]));
        let records = if outcome == "RECORDS_FOUND" {
            json!([{
                "offense": "Misdemeanor: disorderly conduct", "disposition": "Convicted",
                "dispositionDate": "2019-03-12", "jurisdiction": jurisdictions.get(0).cloned().unwrap_or(json!({})),
            }])
        } else {
            json!([])
        };
        result["criminalVerification"] = json!({
            "jurisdictionsSearched": jurisdictions,
            "recordsFound": records.as_array().map_or(0, Vec::len),
            "records": records,
        });
        result["comments"] = json!(if outcome == "RECORDS_FOUND" {
            "One record found; review before any decision (FCRA pre-adverse action applies)."
        } else {
            "No records found in the jurisdictions searched."
        });
        return result;
    }
    if outcome == "VERIFIED" {
        if s.search_type == "EDUCATION" {
            let verified_q = if discrepancy {
                format!("{} (not conferred)", text("title"))
            } else {
                text("title")
            };
            result["educationVerification"] = json!({
                "providedInstitutionName": text("name"), "providedQualification": text("title"),
                "providedFieldOfStudy": text("fieldOfStudy"), "providedGraduationDate": text("graduationDate"),
                "verifiedInstitutionName": text("name"), "verifiedQualification": verified_q,
                "verifiedFieldOfStudy": text("fieldOfStudy"), "verifiedGraduationDate": text("graduationDate"),
                "verifiedDegreeAwarded": !discrepancy,
                "verifierFirstName": "Sam", "verifierLastName": "Registrar", "verifierPosition": "Registrar",
            });
        } else {
            let verified_position = if discrepancy {
                format!("Senior {}", text("title"))
            } else {
                text("title")
            };
            result["employmentVerification"] = json!({
                "providedCompanyName": text("name"), "providedPosition": text("title"),
                "providedStartDate": text("startDate"), "providedEndDate": text("endDate"),
                "verifiedCompanyName": text("name"), "verifiedPosition": verified_position,
                "verifiedStartDate": text("startDate"), "verifiedEndDate": text("endDate"),
                "verifiedRehire": true, "verifierFirstName": "Dana", "verifierLastName": "Lopez", "verifierPosition": "HR Manager",
            });
        }
        result["comments"] = json!(if discrepancy {
            "Verified by phone with HR; details differ from those provided."
        } else {
            "Verified by phone with HR."
        });
    } else {
        result["comments"] = json!(match outcome {
            "NO_RECORD" => "The organisation has no record of this person.",
            "WRONG_ORG" => "The contact reached is not the organisation named.",
            _ => "The organisation could not verify the details.",
        });
    }
    result
}

/// Finishes `s` with `outcome`; returns the terminal event.
fn finish(s: &mut SearchRec, outcome: &Outcome) -> Option<Pending> {
    let now = now_iso();
    s.updated_at = now.clone();
    match outcome {
        Outcome::Completed {
            outcome,
            discrepancy,
        } => {
            let result = result_data(s, outcome, *discrepancy);
            s.status = "COMPLETED";
            s.completed_at = Some(now);
            s.result = Some(result.clone());
            activity(
                s,
                "VERIFICATION_COMPLETED",
                "VOICE",
                &format!("Search completed: {outcome}"),
            );
            let mut data = base_data(s);
            data["channel"] = json!("VOICE");
            data["status"] = json!("Completed");
            data["verificationResult"] = result;
            if s.search_type == "EDUCATION" {
                data["accreditation"] = json!({ "accredited": true, "accreditor": "Higher Learning Commission", "source": "DAPIP" });
            }
            Some(event(s, "verification.completed", data))
        }
        Outcome::ActionRequired { reason_code } => {
            s.status = "ACTION_REQUIRED";
            activity(
                s,
                "ACTION_REQUIRED",
                "JSON",
                &format!("Action required: {reason_code}"),
            );
            let mut data = base_data(s);
            data["reasonCode"] = json!(reason_code);
            data["status"] = json!("Action Required");
            data["channel"] = json!("JSON");
            if reason_code == "THIRD_PARTY_RECORD" {
                data["contact"] = json!({ "type": s.search_type, "data": { "providedCompanyName": s.entity_name } });
                data["metadata"] = json!({ "vendor": "The Work Number", "note": "Employer only verifies through a paid third-party provider." });
            }
            Some(event(s, "verification.action_required", data))
        }
        Outcome::Stall => None,
    }
}

/// Moves every open, non-stalled search one stage.
fn advance(state: &ThearyState) -> usize {
    let mut events = Vec::new();
    let mut changed = false;
    {
        let mut data = state.lock();
        let cancelled: Vec<String> = data
            .orders
            .values()
            .filter(|o| o.cancelled)
            .map(|o| o.id.clone())
            .collect();
        for s in data.searches.values_mut() {
            if s.status != "IN_PROGRESS" || cancelled.contains(&s.order_id) {
                continue;
            }
            match s.stage {
                0 => {
                    activity(
                        s,
                        "CONTACT_PLAN",
                        "EMAIL",
                        "Contacts found for the organisation",
                    );
                    let mut d = base_data(s);
                    d["notificationType"] = json!("CONTACT_PLAN");
                    d["contactPlan"] = json!([{ "name": "HR Department", "entityName": s.entity_name, "method": "EMAIL", "confidence": 0.86 }]);
                    events.push(event(s, "verification.notification", d));
                }
                1 => {
                    activity(s, "OUTBOUND_ATTEMPT", "EMAIL", "Verification request sent");
                    let mut d = base_data(s);
                    d["notificationType"] = json!("OUTBOUND_ATTEMPT");
                    d["outboundAttempt"] = json!({ "channel": "EMAIL", "attemptNumber": 1, "contactName": "HR Department" });
                    events.push(event(s, "verification.notification", d));
                }
                _ => {
                    if matches!(s.outcome, Outcome::Stall) {
                        continue;
                    }
                    let outcome = s.outcome.clone();
                    events.extend(finish(s, &outcome));
                }
            }
            s.stage = s.stage.saturating_add(1);
            s.updated_at = now_iso();
            changed = true;
        }
    }
    if changed {
        state.changes.bump();
    }
    let moved = events.len();
    for e in events {
        state.send(e);
    }
    moved
}

fn resolve(state: &ThearyState, search_id: &str, outcome: Outcome) -> bool {
    on_open_search(state, search_id, |s| {
        s.stage = 3;
        finish(s, &outcome)
    })
}

/// Changes the search `search_id` while it is open (`IN_PROGRESS`), then delivers the event
/// the change made, if any; `false` when the search is not open.
fn on_open_search(
    state: &ThearyState,
    search_id: &str,
    change: impl FnOnce(&mut SearchRec) -> Option<Pending>,
) -> bool {
    let pending = {
        let mut data = state.lock();
        let Some(s) = data
            .searches
            .get_mut(search_id)
            .filter(|s| s.status == "IN_PROGRESS")
        else {
            return false;
        };
        change(s)
    };
    state.changes.bump();
    if let Some(p) = pending {
        state.send(p);
    }
    true
}

/// Records an inbound message on an open search and sends the `INBOUND_MESSAGE`
/// notification; `false` when the search is not open.
pub(super) fn inbound_message(
    state: &ThearyState,
    search_id: &str,
    channel: &str,
    summary: &str,
    classification: Value,
) -> bool {
    on_open_search(state, search_id, |s| {
        activity(s, "INBOUND_MESSAGE", channel, summary);
        s.updated_at = now_iso();
        let mut d = base_data(s);
        d["notificationType"] = json!("INBOUND_MESSAGE");
        d["inboundMetadata"] = json!({ "summary": summary, "source": channel });
        d["classification"] = classification;
        Some(event(s, "verification.notification", d))
    })
}

pub(super) fn cancel(state: &ThearyState, tenant: &str, order_id: &str) -> Option<usize> {
    let mut data = state.lock();
    let order = data
        .orders
        .get_mut(order_id)
        .filter(|o| o.tenant == tenant)?;
    order.cancelled = true;
    order.updated_at = now_iso();
    let ids = order.search_ids.clone();
    let mut affected = 0;
    for id in ids {
        if let Some(s) = data
            .searches
            .get_mut(&id)
            .filter(|s| s.status == "IN_PROGRESS")
        {
            s.status = "CANCELLED";
            s.updated_at = now_iso();
            affected += 1;
        }
    }
    drop(data);
    state.changes.bump();
    Some(affected)
}

pub(super) fn start_auto_run(state: &ThearyState, step: Duration) {
    // The task holds one reference; once the sandbox itself is gone, it stops.
    let weak = Arc::downgrade(&state.data);
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(step);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            if weak.strong_count() <= 1 {
                break;
            }
            state.advance();
        }
    });
}
