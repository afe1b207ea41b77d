//! The verification engine and webhook delivery.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::Semaphore;

use super::{now_iso, OrderRec, Outcome, SandboxConfig, SearchRec, ThearyState};

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

fn choose(data: &mut super::Data, search_type: &str, subject_name: &str) -> Outcome {
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
pub(crate) fn create(state: &ThearyState, tenant: &str, body: &Value) -> (String, Vec<String>) {
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
        let webhook = st
            .pointer("/searchConfig/notifications/webhookOverride")
            .or_else(|| body.pointer("/defaultSearchConfig/notifications/webhookOverride"))
            .or_else(|| body.get("webhookConfig"))
            .filter(|v| v.is_object())
            .cloned();
        let id = uuid::Uuid::new_v4().to_string();
        data.searches.insert(
            id.clone(),
            SearchRec {
                id: id.clone(),
                order_id: order_id.clone(),
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
            search_ids: search_ids.clone(),
            created_at: now.clone(),
            updated_at: now,
        },
    );
    (order_id, search_ids)
}

/// An event ready to deliver.
pub(crate) struct Pending {
    event_type: &'static str,
    search_type: String,
    external_search_id: Option<String>,
    webhook: Option<Value>,
    body: Vec<u8>,
}

fn event(s: &SearchRec, event_type: &'static str, data: Value) -> Pending {
    let envelope = json!({ "event": event_type, "occurredAt": now_iso(), "data": data });
    Pending {
        event_type,
        search_type: s.search_type.clone(),
        external_search_id: s.external_search_id.clone(),
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
pub(crate) fn advance(state: &ThearyState) -> usize {
    let mut events = Vec::new();
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
        }
    }
    let moved = events.len();
    for e in events {
        state.delivery.enqueue(e);
    }
    state.delivery.release_held();
    moved
}

pub(crate) fn resolve(state: &ThearyState, search_id: &str, outcome: Outcome) -> bool {
    let pending = {
        let mut data = state.lock();
        let Some(s) = data
            .searches
            .get_mut(search_id)
            .filter(|s| s.status == "IN_PROGRESS")
        else {
            return false;
        };
        s.stage = 3;
        finish(s, &outcome)
    };
    if let Some(p) = pending {
        state.delivery.enqueue(p);
        state.delivery.release_held();
    }
    true
}

pub(crate) fn cancel(state: &ThearyState, tenant: &str, order_id: &str) -> Option<usize> {
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
    Some(affected)
}

pub(crate) fn start_auto_run(state: &ThearyState, step: Duration) {
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

// ------------------------------------------------------------------------------------------
// Delivery

/// One delivery attempt.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub event_type: String,
    pub search_id: String,
    pub url: String,
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub at_ms: u64,
    pub endpoint_source: String,
}

/// Counted delivery faults: each applies to the next N events.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct DeliveryFaultSettings {
    /// Deliver the next N events twice (same event id).
    pub duplicate: u32,
    /// Hold the next N events and send them in reverse order.
    pub reorder: u32,
    /// Sign the next N events with a wrong signature.
    pub bad_signature: u32,
    /// Never deliver the next N events.
    pub drop: u32,
    /// Extra delay before every delivery, in milliseconds.
    pub delay_ms: u64,
}

/// The delivery fault knobs of a sandbox.
#[derive(Debug, Default)]
pub struct DeliveryFaults {
    inner: Mutex<DeliveryFaultSettings>,
}

impl DeliveryFaults {
    fn lock(&self) -> std::sync::MutexGuard<'_, DeliveryFaultSettings> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Adds to the counters (and sets the delay when non-zero).
    pub fn add(&self, s: &DeliveryFaultSettings) {
        let mut f = self.lock();
        f.duplicate += s.duplicate;
        f.reorder += s.reorder;
        f.bad_signature += s.bad_signature;
        f.drop += s.drop;
        if s.delay_ms > 0 {
            f.delay_ms = s.delay_ms;
        }
    }
    pub fn duplicate_next(&self, n: u32) {
        self.add(&DeliveryFaultSettings {
            duplicate: n,
            ..Default::default()
        });
    }
    pub fn reorder_next(&self, n: u32) {
        self.add(&DeliveryFaultSettings {
            reorder: n,
            ..Default::default()
        });
    }
    pub fn bad_signature_next(&self, n: u32) {
        self.add(&DeliveryFaultSettings {
            bad_signature: n,
            ..Default::default()
        });
    }
    pub fn drop_next(&self, n: u32) {
        self.add(&DeliveryFaultSettings {
            drop: n,
            ..Default::default()
        });
    }
    pub fn clear(&self) {
        *self.lock() = DeliveryFaultSettings::default();
    }
    pub fn settings(&self) -> DeliveryFaultSettings {
        self.lock().clone()
    }
    fn take(counter: &mut u32) -> bool {
        if *counter > 0 {
            *counter -= 1;
            true
        } else {
            false
        }
    }
}

struct Shared {
    http: reqwest::Client,
    faults: DeliveryFaults,
    records: Mutex<Vec<DeliveryRecord>>,
    held: Mutex<VecDeque<Job>>,
    in_flight: AtomicUsize,
    limit: Semaphore,
    retry_base: Duration,
    started: Instant,
}

#[derive(Clone)]
pub(crate) struct Delivery {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Delivery")
    }
}

/// One event to one target.
#[derive(Clone)]
struct Job {
    event_id: String,
    event_type: &'static str,
    search_id: String,
    search_type: String,
    external_search_id: Option<String>,
    url: String,
    source: &'static str,
    secret: Option<String>,
    headers: Vec<(String, String)>,
    basic: Option<(String, String)>,
    body: Arc<Vec<u8>>,
    retries: u32,
    bad_signature: bool,
}

fn targets(v: &Value) -> Vec<Value> {
    match v {
        Value::String(url) => vec![json!({ "url": url })],
        Value::Object(_) => vec![v.clone()],
        Value::Array(items) => items.iter().filter(|t| t.is_object()).cloned().collect(),
        _ => Vec::new(),
    }
}

impl Delivery {
    pub(crate) fn new(config: &SandboxConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.delivery_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            shared: Arc::new(Shared {
                http,
                faults: DeliveryFaults::default(),
                records: Mutex::new(Vec::new()),
                held: Mutex::new(VecDeque::new()),
                in_flight: AtomicUsize::new(0),
                limit: Semaphore::new(64),
                retry_base: config.retry_base,
                started: Instant::now(),
            }),
        }
    }

    pub(crate) fn faults(&self) -> &DeliveryFaults {
        &self.shared.faults
    }

    pub(crate) fn records(&self) -> Vec<DeliveryRecord> {
        self.shared
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Resolves the event's targets and sends to each.
    pub(crate) fn enqueue(&self, p: Pending) {
        let Some(cfg) = p.webhook.as_ref() else {
            return;
        };
        if cfg.get("enabled") == Some(&Value::Bool(false)) {
            return;
        }
        let search_id = serde_json::from_slice::<Value>(&p.body)
            .ok()
            .and_then(|v| {
                v.pointer("/data/searchId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let mut chosen: Vec<(Value, &'static str)> = cfg
            .get("closeoutEndpoints")
            .and_then(|c| c.get(&p.search_type))
            .map(targets)
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.get("enabled") != Some(&Value::Bool(false)))
            .map(|t| (t, "type-specific"))
            .collect();
        if chosen.is_empty() {
            chosen = cfg
                .get("fallbackEndpoint")
                .map(targets)
                .unwrap_or_default()
                .into_iter()
                .filter(|t| t.get("enabled") != Some(&Value::Bool(false)))
                .filter(|t| {
                    t.get("searchTypes")
                        .and_then(Value::as_array)
                        .is_none_or(|a| a.iter().any(|x| x.as_str() == Some(&p.search_type)))
                })
                .map(|t| (t, "fallback"))
                .collect();
        }
        let retries = cfg
            .get("retryAttempts")
            .and_then(Value::as_u64)
            .unwrap_or(3)
            .min(10) as u32;
        let event_id = uuid::Uuid::new_v4().to_string();
        let body = Arc::new(p.body);
        let (duplicate, bad_signature, drop, reorder) = {
            let mut f = self.shared.faults.lock();
            (
                DeliveryFaults::take(&mut f.duplicate),
                DeliveryFaults::take(&mut f.bad_signature),
                DeliveryFaults::take(&mut f.drop),
                DeliveryFaults::take(&mut f.reorder),
            )
        };
        for (t, source) in chosen {
            let events: Vec<String> = t
                .get("events")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_else(|| vec!["verification.completed".to_owned()]);
            if !events.iter().any(|e| e == p.event_type) {
                continue;
            }
            let job = Job {
                event_id: event_id.clone(),
                event_type: p.event_type,
                search_id: search_id.clone(),
                search_type: p.search_type.clone(),
                external_search_id: p.external_search_id.clone(),
                url: t
                    .get("url")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                source,
                secret: t
                    .get("secret")
                    .or_else(|| cfg.get("secret"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                headers: t
                    .get("headers")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                            .collect()
                    })
                    .unwrap_or_default(),
                basic: t.get("basicAuth").and_then(|b| {
                    Some((
                        b.get("username")?.as_str()?.to_owned(),
                        b.get("password")?.as_str()?.to_owned(),
                    ))
                }),
                body: body.clone(),
                retries,
                bad_signature,
            };
            if drop {
                self.record(
                    &job,
                    0,
                    None,
                    Some("dropped by a sandbox delivery fault".to_owned()),
                );
                continue;
            }
            if reorder {
                self.shared
                    .held
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push_back(job);
                continue;
            }
            if duplicate {
                self.spawn(job.clone());
            }
            self.spawn(job);
        }
    }

    /// Sends held (reordered) events, newest first.
    pub(crate) fn release_held(&self) {
        let held: Vec<Job> = self
            .shared
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for job in held.into_iter().rev() {
            self.spawn(job);
        }
    }

    fn record(&self, job: &Job, attempt: u32, status: Option<u16>, error: Option<String>) {
        let r = DeliveryRecord {
            event_id: job.event_id.clone(),
            event_type: job.event_type.to_owned(),
            search_id: job.search_id.clone(),
            url: job.url.clone(),
            attempt,
            status,
            error,
            at_ms: self.shared.started.elapsed().as_millis() as u64,
            endpoint_source: job.source.to_owned(),
        };
        self.shared
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(r);
    }

    fn spawn(&self, job: Job) {
        self.shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let this = self.clone();
        tokio::spawn(async move {
            this.deliver(job).await;
            this.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }

    async fn deliver(&self, job: Job) {
        let Ok(_permit) = self.shared.limit.acquire().await else {
            return;
        };
        let delay = self.shared.faults.lock().delay_ms;
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        for attempt in 1..=job.retries + 1 {
            let mut req = self
                .shared
                .http
                .post(&job.url)
                .header("Content-Type", "application/json")
                .header("User-Agent", "Theary-Webhook-Delivery/1.0")
                .header("X-Event-Type", job.event_type)
                .header("X-Event-Id", &job.event_id)
                .header("X-Search-Type", &job.search_type)
                .header("X-Endpoint-Source", job.source);
            if let Some(ext) = &job.external_search_id {
                req = req.header("X-External-Search-Id", ext);
            }
            if let Some(secret) = &job.secret {
                let key = if job.bad_signature {
                    format!("{secret}-wrong")
                } else {
                    secret.clone()
                };
                let mut mac = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
                    Ok(m) => m,
                    Err(_) => return,
                };
                mac.update(&job.body);
                req = req.header(
                    "X-Webhook-Signature",
                    format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
                );
            }
            if let Some((user, pass)) = &job.basic {
                req = req.basic_auth(user, Some(pass));
            }
            for (k, v) in &job.headers {
                req = req.header(k, v);
            }
            let outcome = req.body(job.body.as_ref().clone()).send().await;
            let retry = match outcome {
                Ok(r) => {
                    let status = r.status();
                    self.record(&job, attempt, Some(status.as_u16()), None);
                    status.is_server_error() || status.as_u16() == 429
                }
                Err(e) => {
                    self.record(&job, attempt, None, Some(e.to_string()));
                    true
                }
            };
            if !retry || attempt > job.retries {
                return;
            }
            let ceiling = self
                .shared
                .retry_base
                .saturating_mul(1 << (attempt - 1).min(10));
            let wait = rand::thread_rng().gen_range(ceiling / 2..=ceiling);
            tokio::time::sleep(wait).await;
        }
    }

    pub(crate) async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.shared.in_flight.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
