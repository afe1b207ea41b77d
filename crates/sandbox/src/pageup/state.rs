//! The PageUp sandbox's in-memory data: client credentials, every tenant's checks with their
//! `PUT` history, and the token settings. Everything the routes read or change goes through
//! [`PageUpState`]'s methods, under one lock, so a handler never holds the data itself; every
//! change is announced on [`PageUpState::changes`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::generate::{self, GenerateOptions};
use super::validate::transition_allowed;
use crate::changes::Changes;
use crate::common::{Faults, Instrumentation, Journal};

/// Scope needed by `GET`.
pub const SCOPE_READ: &str = "Public.BackgroundCheck.Read";
/// Scope needed by `PUT`.
pub const SCOPE_WRITE: &str = "Public.BackgroundCheck.Write";

/// Sandbox settings.
#[derive(Debug, Clone)]
pub struct PageUpConfig {
    /// Lifetime of issued tokens (PageUp: 300 s).
    pub token_lifetime: Duration,
    /// Wrap the `GET` list as `{"items": [...]}` instead of a bare array.
    pub wrap_list: bool,
    /// Apply the fuzzy serializer (shuffled properties, GUID extras).
    pub fuzz: bool,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// The shape `GET` lists invitations in (held in the assumed schema either way).
    pub shape: super::InvitationShape,
}

impl Default for PageUpConfig {
    fn default() -> Self {
        Self {
            token_lifetime: Duration::from_secs(300),
            wrap_list: false,
            fuzz: true,
            max_body_bytes: 1024 * 1024,
            shape: super::InvitationShape::Assumed,
        }
    }
}

/// Client credentials known to the login server, bound to one tenant.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClientSpec {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    /// Scopes the client may request.
    pub scopes: Vec<String>,
    /// Partner id put in the token's `partnerid` claim; `None` leaves the claim out.
    pub partner_id: Option<String>,
}

impl ClientSpec {
    /// A client with both background-check scopes and a partner id.
    pub fn full(tenant: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            tenant: tenant.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            scopes: vec![SCOPE_READ.to_owned(), SCOPE_WRITE.to_owned()],
            partner_id: Some("partner-1".to_owned()),
        }
    }
}

/// One accepted `PUT`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PutRecord {
    pub at_ms: u64,
    pub from: String,
    pub to: String,
    pub body: Value,
}

/// A check as the sandbox holds it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CheckView {
    pub id: String,
    pub tenant: String,
    pub status: String,
    /// The last accepted `PUT` body (`{}` before any).
    pub document: Value,
    pub history: Vec<PutRecord>,
}

#[derive(Debug)]
struct Check {
    view: CheckView,
    invitation: Value,
    /// Arrival order, for oldest-first listing.
    seq: u64,
    /// When it was seeded (ms since the epoch).
    seeded_ms: u64,
}

/// When a check was seeded and first reached `queued` and `new` (ms since the epoch), for
/// latency figures.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CheckTiming {
    pub tenant: String,
    pub id: String,
    pub status: String,
    pub seeded_ms: u64,
    pub queued_ms: Option<u64>,
    pub new_ms: Option<u64>,
}

#[derive(Debug, Default)]
struct Data {
    clients: HashMap<String, ClientSpec>,
    /// tenant -> check id -> check
    checks: HashMap<String, BTreeMap<String, Check>>,
    next_seq: u64,
    next_id: u64,
    /// Tokens of an older generation than this are treated as expired.
    token_generation: u64,
    token_lifetime: Duration,
    /// tenant -> how many of its checks reached `queued` and `new` (first time each), kept
    /// as PUTs arrive so a progress probe costs nothing while a backlog drains.
    reached: HashMap<String, Progress>,
}

/// How many of a tenant's checks have reached `queued` and `new`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Progress {
    pub queued: u64,
    pub new: u64,
}

/// What the login server needs to know about a client id.
pub(super) struct ClientLookup {
    /// The client, if the id is known.
    pub spec: Option<ClientSpec>,
    /// Lifetime of a token issued now.
    pub lifetime: Duration,
    /// Generation a token issued now belongs to.
    pub generation: u64,
}

/// Why a `PUT` that passed validation was not applied.
pub(super) enum PutRefused {
    NotFound,
    /// The workflow does not allow `from` -> `to`.
    Transition {
        from: String,
        to: String,
    },
}

/// Shared state of one PageUp sandbox. Cheap to clone.
#[derive(Clone)]
pub struct PageUpState {
    data: Arc<Mutex<Data>>,
    pub(super) config: Arc<PageUpConfig>,
    key: Arc<[u8; 32]>,
    pub(super) inst: Instrumentation,
    started: Instant,
    /// `started` in ms since the epoch (history times are relative to it).
    started_epoch_ms: u64,
    changes: Changes,
}

impl std::fmt::Debug for PageUpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageUpState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PageUpState {
    /// Fresh, empty state.
    pub fn new(config: PageUpConfig) -> Self {
        let data = Data {
            token_lifetime: config.token_lifetime,
            next_id: 10_000,
            ..Default::default()
        };
        Self {
            data: Arc::new(Mutex::new(data)),
            config: Arc::new(config),
            key: Arc::new(rand::random()),
            inst: Instrumentation::default(),
            started: Instant::now(),
            started_epoch_ms: now_ms(),
            changes: Changes::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A signal bumped on every change to the data (a client added, a seed, a `PUT` such as
    /// a claim, a token setting): wait on `changed()` with a deadline, then look again.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Registers client credentials (replacing any with the same id).
    pub fn add_client(&self, spec: ClientSpec) {
        {
            let mut data = self.lock();
            data.checks.entry(spec.tenant.clone()).or_default();
            data.clients.insert(spec.client_id.clone(), spec);
        }
        self.changes.bump();
    }

    /// Adds one invitation for `tenant`. An `id` is generated when absent; status is
    /// `pending` unless given. Returns the check id.
    pub fn seed(&self, tenant: &str, mut invitation: Value) -> String {
        let mut data = self.lock();
        if !invitation.is_object() {
            invitation = json!({});
        }
        let id = match invitation.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                data.next_id += 1;
                data.next_id.to_string()
            }
        };
        let status = invitation
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(|| "pending".to_owned());
        invitation["id"] = json!(id);
        invitation["status"] = json!(status);
        data.next_seq += 1;
        let seq = data.next_seq;
        let view = CheckView {
            id: id.clone(),
            tenant: tenant.to_owned(),
            status,
            document: json!({}),
            history: Vec::new(),
        };
        data.checks.entry(tenant.to_owned()).or_default().insert(
            id.clone(),
            Check {
                view,
                invitation,
                seq,
                seeded_ms: now_ms(),
            },
        );
        drop(data);
        self.changes.bump();
        id
    }

    /// Adds `count` realistic generated invitations. Returns their ids.
    pub fn seed_generated(
        &self,
        tenant: &str,
        count: usize,
        opts: &GenerateOptions,
    ) -> Vec<String> {
        let base = {
            let mut data = self.lock();
            let base = data.next_id;
            data.next_id += count as u64;
            base
        };
        (0..count)
            .map(|i| {
                let id = (base + 1 + i as u64).to_string();
                self.seed(tenant, generate::invitation(&id, i, opts))
            })
            .collect()
    }

    /// One check's state and history.
    pub fn check(&self, tenant: &str, id: &str) -> Option<CheckView> {
        self.lock()
            .checks
            .get(tenant)?
            .get(id)
            .map(|c| c.view.clone())
    }

    /// Every check of `tenant`, in arrival order.
    pub fn checks(&self, tenant: &str) -> Vec<CheckView> {
        let data = self.lock();
        let mut all: Vec<&Check> = data
            .checks
            .get(tenant)
            .map(|m| m.values().collect())
            .unwrap_or_default();
        all.sort_by_key(|c| c.seq);
        all.into_iter().map(|c| c.view.clone()).collect()
    }

    /// Every check's seeding time and first `queued` and `new`, across tenants.
    pub fn timings(&self) -> Vec<CheckTiming> {
        let data = self.lock();
        let first = |c: &Check, to: &str| {
            c.view
                .history
                .iter()
                .find(|p| p.to == to)
                .map(|p| self.started_epoch_ms + p.at_ms)
        };
        data.checks
            .values()
            .flat_map(|m| m.values())
            .map(|c| CheckTiming {
                tenant: c.view.tenant.clone(),
                id: c.view.id.clone(),
                status: c.view.status.clone(),
                seeded_ms: c.seeded_ms,
                queued_ms: first(c, "queued"),
                new_ms: first(c, "new"),
            })
            .collect()
    }

    /// Per tenant, how many checks have reached `queued` and `new`: what a benchmark polls
    /// while it waits (cheap: kept as PUTs arrive; [`PageUpState::timings`] walks every check
    /// under the lock and would slow the API it measures).
    pub fn progress(&self) -> HashMap<String, Progress> {
        self.lock().reached.clone()
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, d: Duration) {
        self.lock().token_lifetime = d;
        self.changes.bump();
    }

    /// Makes every token issued so far expired.
    pub fn expire_tokens(&self) {
        self.lock().token_generation += 1;
        self.changes.bump();
    }

    /// API fault injection.
    pub fn faults(&self) -> &Faults {
        &self.inst.faults
    }

    /// Every API request received.
    pub fn journal(&self) -> &Journal {
        &self.inst.journal
    }

    /// The key tokens are signed with.
    pub(super) fn key(&self) -> &[u8] {
        &self.key[..]
    }

    /// Lifetime of a token issued now.
    pub(super) fn token_lifetime(&self) -> Duration {
        self.lock().token_lifetime
    }

    /// Tokens of an older generation than this are expired.
    pub(super) fn token_generation(&self) -> u64 {
        self.lock().token_generation
    }

    /// A client id as the login server sees it, read in one go.
    pub(super) fn client(&self, client_id: &str) -> ClientLookup {
        let data = self.lock();
        ClientLookup {
            spec: data.clients.get(client_id).cloned(),
            lifetime: data.token_lifetime,
            generation: data.token_generation,
        }
    }

    /// The invitations of `tenant`'s oldest `limit` pending checks, for `provider` when given
    /// (an invitation naming no provider is for every provider).
    pub(super) fn pending(&self, tenant: &str, provider: Option<&str>, limit: usize) -> Vec<Value> {
        let data = self.lock();
        let mut pending: Vec<&Check> = data
            .checks
            .get(tenant)
            .map(|m| m.values().filter(|c| c.view.status == "pending").collect())
            .unwrap_or_default();
        if let Some(provider) = provider {
            pending.retain(|c| {
                c.invitation
                    .get("provider")
                    .and_then(Value::as_str)
                    .is_none_or(|p| p.eq_ignore_ascii_case(provider))
            });
        }
        pending.sort_by_key(|c| c.seq);
        pending
            .into_iter()
            .take(limit)
            .map(|c| c.invitation.clone())
            .collect()
    }

    /// Applies a validated `PUT` (a full override) if the workflow allows the move, and
    /// records it in the check's history.
    pub(super) fn apply_put(
        &self,
        tenant: &str,
        id: &str,
        document: &Value,
    ) -> Result<(), PutRefused> {
        let at_ms = self.started.elapsed().as_millis() as u64;
        let mut data = self.lock();
        let Some(check) = data.checks.get_mut(tenant).and_then(|m| m.get_mut(id)) else {
            return Err(PutRefused::NotFound);
        };
        let from = check.view.status.clone();
        let to = document["status"].as_str().unwrap_or_default().to_owned();
        if !transition_allowed(&from, &to) {
            return Err(PutRefused::Transition { from, to });
        }
        check.view.status = to.clone();
        check.invitation["status"] = json!(to);
        check.view.document = document.clone();
        let first = !check.view.history.iter().any(|p| p.to == to);
        let counted = match to.as_str() {
            _ if !first => None,
            "queued" => Some(false),
            "new" => Some(true),
            _ => None,
        };
        check.view.history.push(PutRecord {
            at_ms,
            from,
            to,
            body: document.clone(),
        });
        if let Some(new) = counted {
            let p = data.reached.entry(tenant.to_owned()).or_default();
            if new {
                p.new += 1;
            } else {
                p.queued += 1;
            }
        }
        drop(data);
        self.changes.bump();
        Ok(())
    }
}

/// Now in ms since the epoch.
pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
