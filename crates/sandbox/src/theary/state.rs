//! The Theary sandbox's in-memory data: client credentials, orders and their searches, the
//! scenario rules, and the read models `GET` returns for them. The engine and the routes
//! work on the same `Data` under [`ThearyState`]'s one lock; every change is announced on
//! [`ThearyState::changes`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::delivery::{Delivery, DeliveryFaults, DeliveryRecord};
use crate::changes::Changes;
use crate::common::{Faults, Instrumentation, Journal};

/// Sandbox settings.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Lifetime of issued tokens.
    pub token_lifetime: Duration,
    /// Accept CRIMINAL searches (requiring `criminalCheck.jurisdictions`), as older Theary did.
    pub legacy_criminal: bool,
    /// Time between a search's stages when `auto_run` is on.
    pub step: Duration,
    /// Advance searches by themselves every `step`.
    pub auto_run: bool,
    /// Base of the delivery retry backoff.
    pub retry_base: Duration,
    /// Timeout of one delivery attempt.
    pub delivery_timeout: Duration,
    /// Accept `http://` webhook URLs on loopback hosts (for local receivers).
    pub allow_http_loopback: bool,
    /// Seeded random outcomes for searches no rule matches.
    pub seed: Option<u64>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// How long a release-form upload URL stays valid (Theary: 15 minutes).
    pub upload_url_lifetime: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            token_lifetime: Duration::from_secs(3600),
            legacy_criminal: false,
            step: Duration::from_secs(2),
            auto_run: true,
            retry_base: Duration::from_secs(1),
            delivery_timeout: Duration::from_secs(10),
            allow_http_loopback: true,
            seed: None,
            max_body_bytes: 12 * 1024 * 1024,
            upload_url_lifetime: Duration::from_secs(15 * 60),
        }
    }
}

/// Client credentials known to the auth server.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClientSpec {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    pub audience: String,
}

/// A rule choosing a search's outcome.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScenarioRule {
    /// Matched case-insensitively in the employer/institution name (or entity name).
    pub keyword: String,
    /// Only for this search type, when set.
    #[serde(default)]
    pub search_type: Option<String>,
    pub outcome: Outcome,
}

/// How a search ends.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Completed {
        outcome: String,
        discrepancy: bool,
    },
    ActionRequired {
        reason_code: String,
    },
    /// Never finishes by itself.
    Stall,
}

#[derive(Debug)]
pub(super) struct SearchRec {
    pub id: String,
    pub order_id: String,
    pub tenant: String,
    pub search_type: String,
    pub external_search_id: Option<String>,
    pub stage: u8,
    pub status: &'static str,
    pub outcome: Outcome,
    pub webhook: Option<Value>,
    pub subject: Value,
    pub entity_name: String,
    pub verification_id: String,
    pub result: Option<Value>,
    pub activity: Vec<Value>,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
}

#[derive(Debug)]
pub(super) struct OrderRec {
    pub id: String,
    pub tenant: String,
    pub seq: u64,
    pub cancelled: bool,
    pub applicant: Value,
    pub entity_name: String,
    pub job_title: String,
    /// How the order named its signed release: the URL or URI as given, `inline:<bytes>`
    /// for a base64 PDF, `None` without one.
    pub release: Option<String>,
    pub search_ids: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug)]
pub(super) struct Data {
    pub clients: HashMap<String, ClientSpec>,
    pub token_generation: u64,
    pub token_lifetime: Duration,
    pub orders: HashMap<String, OrderRec>,
    pub searches: BTreeMap<String, SearchRec>,
    pub rules: Vec<ScenarioRule>,
    /// Tenant-level webhook configuration (what Theary's account manager sets up), by tenant.
    pub tenant_webhooks: HashMap<String, Value>,
    /// Uploaded release forms: `gs://` URI and size in bytes.
    pub release_forms: BTreeMap<String, usize>,
    pub rng: Option<StdRng>,
    pub next_seq: u64,
}

/// Shared state of one Theary sandbox. Cheap to clone.
#[derive(Clone)]
pub struct ThearyState {
    pub(super) data: Arc<Mutex<Data>>,
    pub(super) config: Arc<SandboxConfig>,
    pub(super) key: Arc<[u8; 32]>,
    pub(super) inst: Instrumentation,
    pub(super) delivery: Delivery,
    pub(super) changes: Changes,
}

impl std::fmt::Debug for ThearyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThearyState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ThearyState {
    pub fn new(config: SandboxConfig) -> Self {
        let data = Data {
            clients: HashMap::new(),
            token_generation: 0,
            token_lifetime: config.token_lifetime,
            orders: HashMap::new(),
            searches: BTreeMap::new(),
            rules: Vec::new(),
            tenant_webhooks: HashMap::new(),
            release_forms: BTreeMap::new(),
            rng: config.seed.map(StdRng::seed_from_u64),
            next_seq: 0,
        };
        let changes = Changes::default();
        let delivery = Delivery::new(config.delivery_timeout, config.retry_base, changes.clone());
        Self {
            data: Arc::new(Mutex::new(data)),
            config: Arc::new(config),
            key: Arc::new(rand::random()),
            inst: Instrumentation::default(),
            delivery,
            changes,
        }
    }

    /// The validation rules this sandbox runs.
    pub(super) fn rules(&self) -> super::validate::Rules {
        super::validate::Rules {
            legacy_criminal: self.config.legacy_criminal,
            allow_http_loopback: self.config.allow_http_loopback,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A signal bumped on every change (an order created, a search advanced, resolved or
    /// cancelled, a delivery attempt recorded, a client, rule or token setting): wait on
    /// `changed()` with a deadline, then look again.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub fn add_client(&self, spec: ClientSpec) {
        self.lock().clients.insert(spec.client_id.clone(), spec);
        self.changes.bump();
    }

    pub fn set_token_lifetime(&self, d: Duration) {
        self.lock().token_lifetime = d;
        self.changes.bump();
    }

    /// Every token issued so far is expired from now on.
    pub fn expire_tokens(&self) {
        self.lock().token_generation += 1;
        self.changes.bump();
    }

    /// Adds a scenario rule, checked before the earlier ones and the defaults.
    pub fn add_rule(&self, rule: ScenarioRule) {
        self.lock().rules.insert(0, rule);
        self.changes.bump();
    }

    /// Sets `tenant`'s tenant-level webhook configuration (a `webhookConfig` object), used for
    /// searches whose order has neither a `webhookConfig` nor a webhook override; `None`
    /// removes it. Applies to events sent from now on, in-flight searches included.
    pub fn set_tenant_webhook(&self, tenant: &str, config: Option<Value>) {
        let mut data = self.lock();
        match config {
            Some(c) => data.tenant_webhooks.insert(tenant.to_owned(), c),
            None => data.tenant_webhooks.remove(tenant),
        };
        drop(data);
        self.changes.bump();
    }

    /// `tenant`'s tenant-level webhook configuration, if set.
    pub fn tenant_webhook(&self, tenant: &str) -> Option<Value> {
        self.lock().tenant_webhooks.get(tenant).cloned()
    }

    pub(super) fn store_release_form(&self, uri: String, bytes: usize) {
        self.lock().release_forms.insert(uri, bytes);
        self.changes.bump();
    }

    /// Release forms uploaded through signed URLs: `gs://` URI and size in bytes.
    pub fn release_forms(&self) -> Vec<(String, usize)> {
        self.lock()
            .release_forms
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Hands an event to delivery, with the tenant's webhook configuration when the search
    /// has none of its own.
    pub(super) fn send(&self, mut p: super::delivery::Pending) {
        if p.webhook.is_none() {
            p.webhook = self.tenant_webhook(&p.tenant);
        }
        self.delivery.enqueue(p);
    }

    /// The search of `tenant` that `text` refers to (by its id, with or without `search_`,
    /// or else by its `externalSearchId`), and whether it is still open.
    pub(super) fn find_search_by_reference(
        &self,
        tenant: &str,
        text: &str,
    ) -> Option<(String, bool)> {
        let data = self.lock();
        let open = |s: &SearchRec| {
            s.status == "IN_PROGRESS" && data.orders.get(&s.order_id).is_some_and(|o| !o.cancelled)
        };
        let mine = || data.searches.values().filter(|s| s.tenant == tenant);
        mine()
            .find(|s| text.contains(&s.id))
            .or_else(|| {
                mine()
                    .filter(|s| {
                        s.external_search_id
                            .as_deref()
                            .is_some_and(|e| !e.is_empty() && text.contains(e))
                    })
                    .max_by_key(|s| s.external_search_id.as_ref().map_or(0, String::len))
            })
            .map(|s| (s.id.clone(), open(s)))
    }

    /// Orders of `tenant` as `GET /orders/{id}` shows them, oldest first.
    pub fn orders(&self, tenant: &str) -> Vec<Value> {
        let data = self.lock();
        let mut orders: Vec<&OrderRec> = data
            .orders
            .values()
            .filter(|o| o.tenant == tenant)
            .collect();
        orders.sort_by_key(|o| o.seq);
        orders.into_iter().map(|o| order_json(&data, o)).collect()
    }

    /// How each order of `tenant` named its signed release, oldest first: the URL or URI as
    /// given, `inline:<bytes>` for a base64 PDF, `None` without one.
    pub fn release_references(&self, tenant: &str) -> Vec<Option<String>> {
        let data = self.lock();
        let mut orders: Vec<&OrderRec> = data
            .orders
            .values()
            .filter(|o| o.tenant == tenant)
            .collect();
        orders.sort_by_key(|o| o.seq);
        orders.into_iter().map(|o| o.release.clone()).collect()
    }

    pub fn order_count(&self, tenant: &str) -> usize {
        self.lock()
            .orders
            .values()
            .filter(|o| o.tenant == tenant)
            .count()
    }

    /// Every delivery attempt so far.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.delivery.records()
    }

    /// Delivery fault knobs.
    pub fn delivery_faults(&self) -> &DeliveryFaults {
        self.delivery.faults()
    }

    /// API fault injection.
    pub fn faults(&self) -> &Faults {
        &self.inst.faults
    }

    /// Every API request received.
    pub fn journal(&self) -> &Journal {
        &self.inst.journal
    }

    /// Waits until no delivery is queued or in flight (or `timeout` passes); true when idle.
    pub async fn wait_deliveries_idle(&self, timeout: Duration) -> bool {
        self.delivery.wait_idle(timeout).await
    }
}

fn order_status(data: &Data, o: &OrderRec) -> &'static str {
    if o.cancelled {
        return "cancelled";
    }
    let searches: Vec<&SearchRec> = o
        .search_ids
        .iter()
        .filter_map(|id| data.searches.get(id))
        .collect();
    if searches.iter().all(|s| s.status != "IN_PROGRESS") {
        "completed"
    } else if searches
        .iter()
        .any(|s| s.stage > 0 || s.status != "IN_PROGRESS")
    {
        "in_progress"
    } else {
        "pending"
    }
}

pub(super) fn order_json(data: &Data, o: &OrderRec) -> Value {
    let status = order_status(data, o);
    let search_types: Vec<Value> = o
        .search_ids
        .iter()
        .filter_map(|id| data.searches.get(id))
        .map(|s| json!({ "searchType": s.search_type, "searchTitle": s.subject.get("title").cloned().unwrap_or(Value::Null) }))
        .collect();
    // An order changes whenever one of its searches does.
    let updated_at = o
        .search_ids
        .iter()
        .filter_map(|id| data.searches.get(id).map(|s| s.updated_at.clone()))
        .chain(std::iter::once(o.updated_at.clone()))
        .max();
    let completed_at = (status == "completed")
        .then(|| {
            o.search_ids
                .iter()
                .filter_map(|id| data.searches.get(id)?.completed_at.clone())
                .max()
        })
        .flatten();
    json!({
        "id": o.id, "status": status, "applicant": o.applicant, "entityName": o.entity_name, "jobTitle": o.job_title,
        "searchTypes": search_types, "createdAt": o.created_at, "updatedAt": updated_at, "completedAt": completed_at,
    })
}

pub(super) fn search_json(s: &SearchRec, detail: bool) -> Value {
    let mut v = json!({
        "id": s.id, "orderId": s.order_id, "externalSearchId": s.external_search_id, "searchType": s.search_type,
        "searchStatus": s.status, "searchTitle": s.subject.get("title"), "entityName": s.entity_name,
        "entityLocation": s.subject.get("location"), "startDate": s.subject.get("startDate"), "endDate": s.subject.get("endDate"),
        "completedAt": s.completed_at, "createdAt": s.created_at, "updatedAt": s.updated_at,
        "verificationResult": s.result.iter().map(|r| json!({
            "id": r.get("id"), "outcome": r.get("outcome"), "resultDetails": r, "submittedAt": s.completed_at,
        })).collect::<Vec<_>>(),
        "activity": s.activity,
    });
    if detail {
        v["questionnaireUrl"] = Value::Null;
        v["questionnaireAccessCode"] = Value::Null;
    }
    v
}

/// Now as ISO 8601 with milliseconds, the form Theary's examples use.
pub(super) fn now_iso() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// Strips an `ord_`/`search_` prefix.
pub(super) fn bare(id: &str) -> &str {
    id.strip_prefix("ord_")
        .or_else(|| id.strip_prefix("search_"))
        .unwrap_or(id)
}
