//! Webhook delivery, as Theary does it: each event goes to the search's type-specific
//! endpoints or else its fallback ones, filtered by subscribed events, signed with HMAC-SHA256,
//! and retried with jittered backoff on a 5xx, a 429 or a network error. Every attempt is
//! recorded. Counted delivery faults (duplicate, reorder, bad signature, drop, delay) let a
//! test see how a receiver copes. Knows nothing of orders or searches beyond the event.

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

use crate::changes::Changes;

/// An event ready to deliver: built by the engine, routed and sent here.
pub(super) struct Pending {
    pub event_type: &'static str,
    pub search_type: String,
    pub external_search_id: Option<String>,
    /// The tenant the search belongs to.
    pub tenant: String,
    /// The search's webhook configuration (targets, secret, retries); `None` sends nothing.
    pub webhook: Option<Value>,
    /// The signed body: the event envelope as JSON.
    pub body: Vec<u8>,
}

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
    /// Hold each of the next N events until a later event of the same search has been
    /// delivered (or [`HOLD_AT_MOST`] has passed), so the receiver sees them out of order.
    pub reorder: u32,
    /// Sign the next N events with a wrong signature.
    pub bad_signature: u32,
    /// Never deliver the next N events.
    pub drop: u32,
    /// Extra delay before every delivery, in milliseconds.
    pub delay_ms: u64,
}

/// How long a reordered event is held at most when no later event of its search comes.
pub const HOLD_AT_MOST: Duration = Duration::from_secs(2);

/// The delivery fault knobs of a sandbox, and how many times each fault fired.
#[derive(Debug, Default)]
pub struct DeliveryFaults {
    inner: Mutex<DeliveryFaultSettings>,
    fired: Mutex<DeliveryFaultSettings>,
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
    /// How many events each counted fault has applied to so far (`delay_ms` unused).
    pub fn fired(&self) -> DeliveryFaultSettings {
        self.fired.lock().unwrap_or_else(|p| p.into_inner()).clone()
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
    changes: Changes,
}

#[derive(Clone)]
pub(super) struct Delivery {
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
    /// `timeout` per attempt; retries back off from `retry_base`; every attempt recorded
    /// bumps `changes`.
    pub(super) fn new(timeout: Duration, retry_base: Duration, changes: Changes) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
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
                retry_base,
                started: Instant::now(),
                changes,
            }),
        }
    }

    pub(super) fn faults(&self) -> &DeliveryFaults {
        &self.shared.faults
    }

    pub(super) fn records(&self) -> Vec<DeliveryRecord> {
        self.shared
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Resolves the event's targets and sends to each.
    pub(super) fn enqueue(&self, p: Pending) {
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
            let taken = (
                DeliveryFaults::take(&mut f.duplicate),
                DeliveryFaults::take(&mut f.bad_signature),
                DeliveryFaults::take(&mut f.drop),
                DeliveryFaults::take(&mut f.reorder),
            );
            let mut fired = self
                .shared
                .faults
                .fired
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            fired.duplicate += u32::from(taken.0);
            fired.bad_signature += u32::from(taken.1);
            fired.drop += u32::from(taken.2);
            fired.reorder += u32::from(taken.3);
            taken
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
                self.hold(job);
                continue;
            }
            if duplicate {
                self.spawn(job.clone());
            }
            self.spawn(job);
        }
    }

    /// Holds a reordered event: it goes out once a later event of its search has been
    /// delivered, or after [`HOLD_AT_MOST`]. A held event counts as in flight.
    fn hold(&self, job: Job) {
        self.shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let event_id = job.event_id.clone();
        self.shared
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(job);
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(HOLD_AT_MOST).await;
            this.release(|j| j.event_id == event_id);
        });
    }

    /// Sends the held events `which` selects, newest first.
    fn release(&self, which: impl Fn(&Job) -> bool) {
        let released: Vec<Job> = {
            let mut held = self.shared.held.lock().unwrap_or_else(|p| p.into_inner());
            let (out, keep): (Vec<Job>, Vec<Job>) = held.drain(..).partition(|j| which(j));
            held.extend(keep);
            out
        };
        for job in released.into_iter().rev() {
            self.spawn(job);
            self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
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
        self.shared.changes.bump();
    }

    fn spawn(&self, job: Job) {
        self.shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let this = self.clone();
        tokio::spawn(async move {
            let search_id = job.search_id.clone();
            this.deliver(job).await;
            // Events held back for reordering go out after this later one of their search.
            this.release(|j| j.search_id == search_id);
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

    pub(super) async fn wait_idle(&self, timeout: Duration) -> bool {
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
