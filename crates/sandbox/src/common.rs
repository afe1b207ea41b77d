//! Pieces both emulators share: serving a router on an already-bound listener, a journal of
//! every request received, and fault injection (failure statuses, latency, dropped
//! connections, 429 with `Retry-After`) driven through each sandbox's admin API.
//!
//! Faults are deterministic when asked to be (`count`: fail exactly the next N matching
//! requests) so tests never depend on chance; `rate` gives random failures for soak runs
//! and the demo.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running sandbox server. Dropping it stops the server.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves `router` on `listener` until the returned [`Server`] is stopped or dropped.
pub fn serve(listener: TcpListener, router: Router) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, router.into_make_service())
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(err) = result {
            tracing::error!(error = %err, "sandbox server stopped with an error");
        }
    });
    Ok(Server {
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Binds `127.0.0.1:port` (0 for any free port).
pub async fn bind_local(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).await
}

/// One request as the journal keeps it: no bodies and no headers, so no secrets or PII.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JournalEntry {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// Milliseconds since the sandbox started.
    pub at_ms: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Status answered; `None` when the connection was dropped on purpose.
    pub status: Option<u16>,
    pub duration_ms: u64,
    /// Name of the fault applied, if any.
    pub fault: Option<String>,
}

/// Bounded request journal (oldest entries fall off).
#[derive(Debug, Clone)]
pub struct Journal {
    inner: Arc<Mutex<JournalInner>>,
    started: Instant,
}

#[derive(Debug)]
struct JournalInner {
    entries: VecDeque<JournalEntry>,
    next_seq: u64,
    capacity: usize,
    /// Requests ever received per route (`GET /v3/{}/backgroundcheck`), never trimmed.
    counts: BTreeMap<String, u64>,
}

impl Default for Journal {
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl Journal {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(JournalInner {
                entries: VecDeque::new(),
                next_seq: 1,
                capacity,
                counts: BTreeMap::new(),
            })),
            started: Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JournalInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, mut entry: JournalEntry) {
        let mut inner = self.lock();
        *inner
            .counts
            .entry(route_key(&entry.method, &entry.path))
            .or_default() += 1;
        entry.seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.entries.len() >= inner.capacity {
            inner.entries.pop_front();
        }
        inner.entries.push_back(entry);
    }

    /// Milliseconds since the sandbox started, on the clock entries' `at_ms` use.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Everything recorded, oldest first.
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.lock().entries.iter().cloned().collect()
    }

    /// Entries whose method and path match (path by prefix).
    pub fn matching(&self, method: &str, path_prefix: &str) -> Vec<JournalEntry> {
        self.lock()
            .entries
            .iter()
            .filter(|e| e.method.eq_ignore_ascii_case(method) && e.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    /// Requests received per route since start (kept when the journal is trimmed or
    /// cleared), for load figures: `{"GET /v3/{}/backgroundcheck": 1200, ...}`.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.lock().counts.clone()
    }
}

/// A request's route: its method and path with every segment holding a digit (an id) as
/// `{}`, API versions (`v3`) kept.
pub fn route_key(method: &str, path: &str) -> String {
    let version = |seg: &str| {
        seg.strip_prefix('v')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let path: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if seg.bytes().any(|b| b.is_ascii_digit()) && !version(seg) {
                "{}"
            } else {
                seg
            }
        })
        .collect();
    format!("{} {}", method.to_ascii_uppercase(), path.join("/"))
}

/// A fault to inject into matching requests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultRule {
    /// Free-form name shown in the journal.
    pub name: Option<String>,
    /// Method to match (any when absent).
    pub method: Option<String>,
    /// Path prefix to match (any when absent), e.g. `/connect/token` or `/v3/`.
    pub path_prefix: Option<String>,
    /// Apply to exactly the next `count` matching requests, then retire. Absent: no limit.
    pub count: Option<u32>,
    /// Probability (0..=1) that a matching request is affected; absent means always.
    pub rate: Option<f64>,
    /// Answer with this status instead of handling the request.
    pub status: Option<u16>,
    /// `Retry-After` seconds sent with `status` (typically 429 or 503).
    pub retry_after_secs: Option<u64>,
    /// JSON body sent with `status`; a generic one when absent.
    pub body: Option<serde_json::Value>,
    /// Delay added before handling (or before failing).
    pub latency_ms: Option<u64>,
    /// Handle the request, then drop the connection instead of answering: the caller cannot
    /// tell whether it took effect.
    pub drop_after_handling: bool,
    /// Drop the connection without handling the request.
    pub drop_before_handling: bool,
}

impl FaultRule {
    fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p))
    }
}

/// The active fault rules of one sandbox, plus a latency added to every request.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultsInner>>,
}

#[derive(Debug, Default)]
struct FaultsInner {
    rules: Vec<FaultRule>,
    base_latency: Duration,
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, FaultsInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add(&self, rule: FaultRule) {
        self.lock().rules.push(rule);
    }

    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    pub fn rules(&self) -> Vec<FaultRule> {
        self.lock().rules.clone()
    }

    /// Latency added to every request (the benchmark's "per-request latency").
    pub fn set_base_latency(&self, latency: Duration) {
        self.lock().base_latency = latency;
    }

    /// Picks the fault for this request, consuming one use of a counted rule.
    fn pick(&self, method: &str, path: &str) -> (Duration, Option<FaultRule>) {
        let mut inner = self.lock();
        let base = inner.base_latency;
        let mut rng = rand::thread_rng();
        let mut chosen = None;
        let mut retire = None;
        for (i, rule) in inner.rules.iter_mut().enumerate() {
            if !rule.matches(method, path) {
                continue;
            }
            if let Some(rate) = rule.rate {
                if !rng.gen_bool(rate.clamp(0.0, 1.0)) {
                    continue;
                }
            }
            if let Some(count) = rule.count.as_mut() {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    retire = Some(i);
                }
            }
            chosen = Some(rule.clone());
            break;
        }
        if let Some(i) = retire {
            inner.rules.remove(i);
        }
        (base, chosen)
    }
}

/// State for [`fault_and_journal`].
#[derive(Debug, Clone, Default)]
pub struct Instrumentation {
    pub journal: Journal,
    pub faults: Faults,
}

/// Middleware: applies faults and records every request in the journal. Admin routes should
/// be mounted outside it so they are neither faulted nor journalled.
pub async fn fault_and_journal(
    State(inst): State<Instrumentation>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let (base_latency, fault) = inst.faults.pick(&method, &path);
    let latency = base_latency
        + Duration::from_millis(fault.as_ref().and_then(|f| f.latency_ms).unwrap_or(0));
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault_name = fault
        .as_ref()
        .map(|f| f.name.clone().unwrap_or_else(|| "fault".to_owned()));
    let record = |status: Option<u16>| JournalEntry {
        seq: 0,
        at_ms: inst.journal.started.elapsed().as_millis() as u64,
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        status,
        duration_ms: started.elapsed().as_millis() as u64,
        fault: fault_name.clone(),
    };

    let response = match &fault {
        Some(f) if f.drop_before_handling => {
            inst.journal.push(record(None));
            return dropped_connection();
        }
        Some(f) if f.status.is_some() => {
            let status = f
                .status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = f.body.clone().unwrap_or_else(
                || serde_json::json!({ "message": format!("injected fault: {status}") }),
            );
            let mut response = (status, Json(body)).into_response();
            if let Some(secs) = f.retry_after_secs {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(secs));
            }
            response
        }
        _ => next.run(request).await,
    };
    if fault.as_ref().is_some_and(|f| f.drop_after_handling) {
        inst.journal.push(record(None));
        return dropped_connection();
    }
    inst.journal.push(record(Some(response.status().as_u16())));
    response
}

/// A response whose body fails at once, which makes the server abort the connection: the
/// client sees the connection closed without a complete answer.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "sandbox dropped the connection on purpose",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-length", "1048576")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Admin routes for faults and the journal, to nest under a sandbox's admin prefix:
/// `GET/POST/DELETE /faults`, `PUT /latency` (`{"ms": 20}`), `GET/DELETE /journal`,
/// `GET /counts`.
pub fn admin_routes(inst: Instrumentation) -> Router {
    Router::new()
        .route(
            "/faults",
            get(|State(i): State<Instrumentation>| async move { Json(i.faults.rules()) })
                .post(
                    |State(i): State<Instrumentation>, Json(rule): Json<FaultRule>| async move {
                        i.faults.add(rule);
                        StatusCode::NO_CONTENT
                    },
                )
                .delete(|State(i): State<Instrumentation>| async move {
                    i.faults.clear();
                    StatusCode::NO_CONTENT
                }),
        )
        .route(
            "/latency",
            axum::routing::put(
                |State(i): State<Instrumentation>, Json(body): Json<LatencyBody>| async move {
                    i.faults.set_base_latency(Duration::from_millis(body.ms));
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/counts",
            get(|State(i): State<Instrumentation>| async move { Json(i.journal.counts()) }),
        )
        .route(
            "/journal",
            get(|State(i): State<Instrumentation>| async move { Json(i.journal.entries()) })
                .delete(|State(i): State<Instrumentation>| async move {
                    i.journal.clear();
                    StatusCode::NO_CONTENT
                }),
        )
        .with_state(inst)
}

#[derive(Debug, Deserialize)]
struct LatencyBody {
    ms: u64,
}
