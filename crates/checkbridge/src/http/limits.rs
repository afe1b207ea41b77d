//! The HTTP server loop and what it allows one caller, so a stranger cannot hold the
//! replica's connections, memory or workers (`[http]` in the configuration):
//!
//! - a cap on open connections: one accepted beyond it is closed at once;
//! - HTTP/1.1 only, request heads of at most `max_header_bytes` (431), a header read timeout that also bounds how long a kept-alive
//!   connection may sit idle between requests (hyper starts it whenever it waits for a head);
//! - a body read deadline for the whole body, answered 408, and a body size cap, 413;
//! - in-flight caps per route class (webhooks, pages), answered 503 when full, with the
//!   health, readiness and metrics routes outside them, so `/healthz` answers while they are
//!   hit;
//! - the security headers every answer carries (see [`security_headers`]).
//!
//! Stopping: the listener closes, each connection finishes its request and closes, and the
//! loop waits for them at most the two timeouts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;

use super::ApiError;
use crate::config::HttpConfig;

/// The limits, as the server applies them.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_body_bytes: usize,
    /// At least 8192 (hyper's minimum; the configuration refuses less).
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub webhook_in_flight: usize,
    pub page_in_flight: usize,
}

impl Limits {
    /// The limits `[http]` names.
    pub fn from_config(c: &HttpConfig) -> Limits {
        let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        Limits {
            header_timeout: Duration::from_secs(c.header_timeout_secs),
            body_timeout: Duration::from_secs(c.body_timeout_secs),
            max_body_bytes: size(c.max_body_bytes),
            max_header_bytes: size(c.max_header_bytes).max(8192),
            max_connections: size(c.max_connections),
            webhook_in_flight: size(c.webhook_in_flight),
            page_in_flight: size(c.page_in_flight),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_config(&HttpConfig::default())
    }
}

/// Counts of what the limits refused, for `/metrics`.
#[derive(Debug, Default)]
pub struct Refusals {
    /// Connections closed because `max_connections` were open.
    pub connections: AtomicU64,
    /// Requests answered 408 because their body did not arrive in time.
    pub slow_bodies: AtomicU64,
    /// Requests answered 503 because their route class was full.
    pub shed: AtomicU64,
}

/// `routes` with at most `limit` of its requests in flight; one more is answered 503 at
/// once (load shed), not queued.
pub fn in_flight_cap(routes: Router, limit: usize, refusals: Arc<Refusals>) -> Router {
    routes.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(move |_: tower::BoxError| {
                let refusals = refusals.clone();
                async move {
                    refusals.shed.fetch_add(1, Ordering::Relaxed);
                    let mut r = ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "busy",
                        "too many requests in flight; try again shortly",
                    )
                    .into_response();
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                    r
                }
            }))
            .load_shed()
            .layer(GlobalConcurrencyLimitLayer::new(limit)),
    )
}

/// What [`read_body`] needs.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    timeout: Duration,
    max_bytes: usize,
    refusals: Arc<Refusals>,
}

/// Reads every request's body under the body deadline and size cap before a handler sees
/// it: a body still arriving at the deadline is answered 408 and its connection closed.
pub async fn read_body(State(limits): State<BodyLimits>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let read = axum::body::to_bytes(body, limits.max_bytes);
    match tokio::time::timeout(limits.timeout, read).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                let mut r = ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("request bodies are limited to {} bytes", limits.max_bytes),
                )
                .into_response();
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                r
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unreadable_body",
                    "the request body could not be read",
                )
                .into_response()
            }
        }
        Err(_) => {
            limits.refusals.slow_bodies.fetch_add(1, Ordering::Relaxed);
            let mut r = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the request body did not arrive within {} s",
                    limits.timeout.as_secs()
                ),
            )
            .into_response();
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            r
        }
    }
}

/// The Content-Security-Policy of every answer: nothing inline, nothing from elsewhere, no
/// framing, forms post only here.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every answer: the CSP, `X-Frame-Options: DENY`,
/// `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, and
/// `Cache-Control: no-store` unless the handler chose a cache policy (the stylesheet does).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

/// `app` with the limits every route shares: security headers, then the body deadline.
pub fn wrap(app: Router, limits: &Limits, refusals: Arc<Refusals>) -> Router {
    let body = BodyLimits {
        timeout: limits.body_timeout,
        max_bytes: limits.max_body_bytes,
        refusals,
    };
    app.layer(axum::middleware::from_fn_with_state(body, read_body))
        .layer(axum::middleware::from_fn(security_headers))
}

/// Serves `app` on `listener` under `limits` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    refusals: Arc<Refusals>,
    shutdown: CancellationToken,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: the listener itself is fine; give
                // the connections that hold them a moment to close.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    () = shutdown.cancelled() => break,
                }
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            refusals.connections.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // The peer's address, for the handlers that limit by client (the sign-in).
        let service = TowerToHyperService::new(
            app.clone()
                .layer(axum::Extension(axum::extract::ConnectInfo(peer))),
        );
        let stop = shutdown.clone();
        let header_timeout = limits.header_timeout;
        let max_header = limits.max_header_bytes.max(8192);
        connections.spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(max_header)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let finished = tokio::select! {
                r = conn.as_mut() => Some(r),
                () = stop.cancelled() => None,
            };
            let result = match finished {
                Some(r) => r,
                None => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                // Timeouts and callers that went away: expected on the internet.
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    connections.close();
    let grace = limits.header_timeout + limits.body_timeout;
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "connections still open at shutdown"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Instant;

    use axum::routing::get;

    use super::*;

    /// Requests held inside a handler until released, so the cap is really hit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_route_class_is_shed_while_healthz_answers() {
        let inside = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let (i, r) = (inside.clone(), release.clone());
        let held = Router::new().route(
            "/slow",
            get(move || {
                let (i, r) = (i.clone(), r.clone());
                async move {
                    i.fetch_add(1, Ordering::SeqCst);
                    let _ = r.acquire().await.map(tokio::sync::SemaphorePermit::forget);
                    "done"
                }
            }),
        );
        let refusals = Arc::new(Refusals::default());
        let limits = Limits {
            page_in_flight: 2,
            ..Limits::default()
        };
        let app = wrap(
            in_flight_cap(held, limits.page_in_flight, refusals.clone())
                .route("/healthz", get(|| async { "ok" })),
            &limits,
            refusals.clone(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(listener, app, limits, refusals.clone(), stop.clone()));
        let http = reqwest::Client::new();
        let slow: Vec<_> = (0..2)
            .map(|_| tokio::spawn(http.get(format!("{base}/slow")).send()))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        while inside.load(Ordering::SeqCst) < 2 {
            assert!(Instant::now() < deadline, "both requests got in");
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let started = Instant::now();
        let third = http.get(format!("{base}/slow")).send().await.unwrap();
        let shed_in = started.elapsed();
        assert_eq!(third.status(), 503);
        assert_eq!(third.headers()["retry-after"], "1");
        let started = Instant::now();
        let health = http.get(format!("{base}/healthz")).send().await.unwrap();
        let health_in = started.elapsed();
        println!(
            "pages full (2 of 2): third answered 503 in {:.3} s, /healthz 200 in {:.3} s",
            shed_in.as_secs_f64(),
            health_in.as_secs_f64()
        );
        assert_eq!(health.status(), 200);
        assert!(health_in < Duration::from_secs(5), "{health_in:?}");
        assert_eq!(refusals.shed.load(Ordering::Relaxed), 1);
        release.add_permits(2);
        for s in slow {
            assert_eq!(s.await.unwrap().unwrap().status(), 200);
        }
        let again = http.get(format!("{base}/slow"));
        release.add_permits(1);
        assert_eq!(again.send().await.unwrap().status(), 200);
        stop.cancel();
        server.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bodies_over_the_cap_are_refused() {
        let refusals = Arc::new(Refusals::default());
        let limits = Limits {
            max_body_bytes: 1024,
            ..Limits::default()
        };
        let app = wrap(
            Router::new().route(
                "/echo",
                axum::routing::post(|b: axum::body::Bytes| async move { b.len().to_string() }),
            ),
            &limits,
            refusals.clone(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(listener, app, limits, refusals, stop.clone()));
        let http = reqwest::Client::new();
        let ok = http
            .post(format!("{base}/echo"))
            .body(vec![b'a'; 1024])
            .send()
            .await
            .unwrap();
        assert_eq!(ok.text().await.unwrap(), "1024");
        let big = http
            .post(format!("{base}/echo"))
            .body(vec![b'a'; 1025])
            .send()
            .await
            .unwrap();
        assert_eq!(big.status(), 413);
        stop.cancel();
        server.await.unwrap();
    }
}
