//! Signing in and out, and who is signed in. A session is a random token in an HttpOnly,
//! SameSite=Lax cookie (Secure when the service is served over HTTPS), kept in the database
//! only as a SHA-256. Forms carry a CSRF token (login: a double-submit cookie; logout:
//! derived from the session). Sign-ins are limited per client address and per user name
//! ([`LoginThrottle`]); argon2 runs on blocking threads. The report and
//! operator pages ask [`session`] who is reading; this module knows nothing of them beyond
//! the paths a reader may be sent back to after signing in.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::Router;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use super::pages::{no_store, Pages, Tenants};
use crate::store::{LoginScope, SessionUser, Store};
use crate::time::now_ms;

const SESSION_COOKIE: &str = "cb_session";
const CSRF_COOKIE: &str = "cb_login_csrf";

/// How our cookies are set: always HttpOnly and SameSite=Lax, Secure when the service is
/// served over HTTPS.
#[derive(Clone, Copy, Debug)]
pub struct Cookies {
    secure: bool,
}

impl Cookies {
    /// The policy for a service reached at `public_base_url`.
    pub fn for_base_url(public_base_url: &str) -> Cookies {
        Cookies {
            secure: public_base_url.starts_with("https://"),
        }
    }

    /// A `Set-Cookie` value; a zero `max_age_secs` removes the cookie.
    pub(super) fn set(self, name: &str, value: &str, max_age_secs: i64) -> String {
        format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
            if self.secure { "; Secure" } else { "" }
        )
    }
}

/// Keyed in-memory limiter of attempts (GCRA, `governor`), keyed by a digest so a key's
/// size does not depend on what a visitor typed.
type Limiter = governor::DefaultKeyedRateLimiter<[u8; 16]>;

/// Sign-in protection: attempts limited per client address and per user name in memory
/// (the fast path, bounded to `tracked_keys`), failures counted in the database (shared by
/// every replica; a name or address that reaches its limit is locked there), and password
/// checks run on blocking threads, a bounded number at once.
#[derive(Clone)]
pub struct LoginThrottle {
    inner: Arc<ThrottleInner>,
}

struct ThrottleInner {
    cfg: crate::config::SignInConfig,
    /// Replaced by fresh limiters when pruning cannot bring them under `tracked_keys`.
    limiters: RwLock<Arc<(Limiter, Limiter)>>,
    hashes: tokio::sync::Semaphore,
    failures_seen: AtomicU64,
}

fn limiter(per_minute: u64) -> Limiter {
    let n =
        NonZeroU32::new(u32::try_from(per_minute).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
    governor::RateLimiter::keyed(governor::Quota::per_minute(n))
}

/// A key's digest for the in-memory limiter (16 bytes) and for the database (hex).
fn key_digest(scope: &str, key: &str) -> ([u8; 16], String) {
    let d = Sha256::new()
        .chain_update(scope.as_bytes())
        .chain_update([0])
        .chain_update(key.as_bytes())
        .finalize();
    let mut short = [0_u8; 16];
    short.copy_from_slice(&d[..16]);
    (short, hex::encode(d))
}

/// Why a sign-in was not even tried.
enum Refused {
    Limited,
    Unavailable,
}

impl LoginThrottle {
    pub fn new(cfg: &crate::config::SignInConfig) -> LoginThrottle {
        LoginThrottle {
            inner: Arc::new(ThrottleInner {
                limiters: RwLock::new(Arc::new((
                    limiter(cfg.attempts_per_address_per_minute),
                    limiter(cfg.attempts_per_name_per_minute),
                ))),
                hashes: tokio::sync::Semaphore::new(
                    usize::try_from(cfg.password_checks).unwrap_or(1).max(1),
                ),
                failures_seen: AtomicU64::new(0),
                cfg: cfg.clone(),
            }),
        }
    }

    fn limiters(&self) -> Arc<(Limiter, Limiter)> {
        match self.inner.limiters.read() {
            Ok(l) => l.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The sign-in settings (session timeouts among them).
    pub(super) fn config(&self) -> &crate::config::SignInConfig {
        &self.inner.cfg
    }

    /// Names and addresses the in-memory limit tracks now.
    pub fn tracked(&self) -> usize {
        let l = self.limiters();
        l.0.len() + l.1.len()
    }

    /// The in-memory fast path: one attempt of `address` and of `name` counted; false when
    /// either has used its attempts of the minute. Keeps the state under `tracked_keys`.
    fn admit(&self, address: &[u8; 16], name: &[u8; 16]) -> bool {
        let l = self.limiters();
        let ok = l.0.check_key(address).is_ok() & l.1.check_key(name).is_ok();
        let cap = usize::try_from(self.inner.cfg.tracked_keys).unwrap_or(usize::MAX);
        if l.0.len() + l.1.len() > cap {
            l.0.retain_recent();
            l.1.retain_recent();
            if l.0.len() + l.1.len() > cap {
                // Still full of live keys (a flood of new names): start over. The database
                // still holds every lock, so nobody locked is let in by this.
                tracing::warn!(tracked = l.0.len() + l.1.len(), "sign-in limiter pruned");
                let fresh = Arc::new((
                    limiter(self.inner.cfg.attempts_per_address_per_minute),
                    limiter(self.inner.cfg.attempts_per_name_per_minute),
                ));
                match self.inner.limiters.write() {
                    Ok(mut w) => *w = fresh,
                    Err(poisoned) => *poisoned.into_inner() = fresh,
                }
            } else {
                l.0.shrink_to_fit();
                l.1.shrink_to_fit();
            }
        }
        ok
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.inner.cfg.window_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    fn lock_ms(&self) -> i64 {
        i64::try_from(self.inner.cfg.lockout_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// Whether a sign-in of `name` from `address` may be tried now.
    async fn check(
        &self,
        store: &Store,
        address: &Keys,
        name: &Keys,
        now: i64,
    ) -> Result<(), Refused> {
        if !self.admit(&address.0, &name.0) {
            return Err(Refused::Limited);
        }
        match store
            .login_locked_until(
                &[
                    (LoginScope::Name, &name.1),
                    (LoginScope::Address, &address.1),
                ],
                now,
            )
            .await
        {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err(Refused::Limited),
            Err(e) => {
                tracing::error!(error = %crate::error::error_chain(&e), "sign-in lockout lookup failed");
                Err(Refused::Unavailable)
            }
        }
    }

    /// Counts a failed sign-in against both keys (in the database).
    async fn failed(&self, store: &Store, address: &Keys, name: &Keys, now: i64) {
        let cfg = &self.inner.cfg;
        for (scope, key, max) in [
            (LoginScope::Name, &name.1, cfg.failures_per_name),
            (LoginScope::Address, &address.1, cfg.failures_per_address),
        ] {
            let max = i64::try_from(max).unwrap_or(i64::MAX);
            match store
                .login_failed(scope, key, now, self.window_ms(), max, self.lock_ms())
                .await
            {
                Ok(n) if n == max => {
                    tracing::warn!(scope = ?scope, "sign-ins locked after repeated failures")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %crate::error::error_chain(&e), "failed sign-in not counted");
                }
            }
        }
        // Old rows are cleared now and then, not on every failure.
        if self.inner.failures_seen.fetch_add(1, Ordering::Relaxed) % 64 == 63 {
            if let Err(e) = store
                .purge_login_failures(now, self.window_ms().max(self.lock_ms()))
                .await
            {
                tracing::error!(error = %crate::error::error_chain(&e), "old failed sign-ins not purged");
            }
        }
    }

    /// Forgets the name's failures after it signed in (the address's stay counted).
    async fn succeeded(&self, store: &Store, name: &Keys) {
        if let Err(e) = store.login_succeeded(LoginScope::Name, &name.1).await {
            tracing::error!(error = %crate::error::error_chain(&e), "failed sign-ins not cleared");
        }
    }

    /// Whether `password` matches `hash`, checked on a blocking thread once one of the
    /// `password_checks` slots is free.
    async fn verify(&self, hash: String, password: zeroize::Zeroizing<String>) -> bool {
        let Ok(_slot) = self.inner.hashes.acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || crate::http::auth::verify_password(&hash, &password))
            .await
            .unwrap_or(false)
    }
}

/// A key's two digests (in memory, in the database).
type Keys = ([u8; 16], String);

/// The client's address: the connection's peer, or the last `X-Forwarded-For` entry when
/// the configuration trusts the proxy in front.
fn client_address(
    cfg: &crate::config::SignInConfig,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> String {
    if cfg.trust_forwarded_for {
        if let Some(last) = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty())
        {
            return last.to_owned();
        }
    }
    peer.map(|p| p.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The one answer to a sign-in that is not tried: it says nothing of whether the user
/// exists or which limit was reached.
const LOCKED: &str = "Too many sign-in attempts. Please wait a few minutes and try again.";

/// Routes of signing in and out, and of the landing page after.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Store: FromRef<S>,
    Tenants: FromRef<S>,
    Pages: FromRef<S>,
    Cookies: FromRef<S>,
    LoginThrottle: FromRef<S>,
{
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/", get(home))
}

pub(super) fn random_token() -> String {
    let mut b = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub(super) fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(super) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// A path we may send a reader back to after login: a report page or the operator page of
/// ours, nothing else (no other host, no scheme, and no control character, which would make
/// the `Location` header invalid).
pub(super) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n.starts_with("/reports/") || n == "/ops" || n.starts_with("/ops?"))
                && !n.contains("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

pub(super) fn csrf_for_session(token: &str) -> String {
    digest(&format!("csrf|{token}"))
}

/// The signed-in user and their session token, from the session cookie.
pub(super) async fn session(store: &Store, headers: &HeaderMap) -> Option<(SessionUser, String)> {
    let token = cookie_value(headers, SESSION_COOKIE)?;
    match store.session_user(&digest(token), now_ms()).await {
        Ok(Some(user)) => Some((user, token.to_owned())),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %crate::error::error_chain(&e), "session lookup failed");
            None
        }
    }
}

#[derive(serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(pages): State<Pages>,
    State(cookies): State<Cookies>,
    Query(q): Query<NextQuery>,
) -> Response {
    login_form(&pages, cookies, &safe_next(q.next.as_deref()), None)
}

fn login_form(pages: &Pages, cookies: Cookies, next: &str, error: Option<&str>) -> Response {
    let csrf = random_token();
    let mut r = pages.render(
        "login.html",
        serde_json::json!({ "csrf": csrf, "next": next, "error": error }),
    );
    if let Ok(v) = cookies.set(CSRF_COOKIE, &csrf, 3600).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    no_store(r)
}

#[expect(
    clippy::too_many_arguments,
    reason = "axum extractors: one per piece of state the sign-in needs"
)]
async fn login(
    State(store): State<Store>,
    State(pages): State<Pages>,
    State(tenants): State<Tenants>,
    State(cookies): State<Cookies>,
    State(throttle): State<LoginThrottle>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let next = safe_next(f.get("next").map(String::as_str));
    let sent = f.get("csrf").map(String::as_str).unwrap_or("");
    let expected = cookie_value(&headers, CSRF_COOKIE).unwrap_or("");
    if sent.is_empty()
        || !bool::from(subtle::ConstantTimeEq::ct_eq(
            sent.as_bytes(),
            expected.as_bytes(),
        ))
    {
        let mut r = login_form(
            &pages,
            cookies,
            &next,
            Some("Your sign-in form expired. Please try again."),
        );
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    let username = f
        .get("username")
        .map(|u| u.trim().to_owned())
        .unwrap_or_default();
    let password = zeroize::Zeroizing::new(f.get("password").cloned().unwrap_or_default());
    let now = now_ms();
    let peer = connect.map(|Extension(ConnectInfo(a))| a);
    let address = key_digest(
        "address",
        &client_address(&throttle.inner.cfg, &headers, peer),
    );
    let name = key_digest("name", &username.to_lowercase());
    match throttle.check(&store, &address, &name, now).await {
        Ok(()) => {}
        Err(Refused::Limited) => {
            tracing::warn!("sign-in refused: too many attempts");
            let mut r = login_form(&pages, cookies, &next, Some(LOCKED));
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            return r;
        }
        Err(Refused::Unavailable) => {
            return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
        }
    }
    let user = match store.user_for_login(&username).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %crate::error::error_chain(&e), "user lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
        }
    };
    // A missing user costs the same work as a wrong password.
    let hash = user
        .as_ref()
        .map_or(crate::http::auth::DUMMY_HASH, |(_, _, h)| h.as_str())
        .to_owned();
    // A tenant whose readers sign in only through its identity provider takes no password
    // (answered as a wrong one: the form does not tell which users exist).
    let password_allowed = user.as_ref().is_none_or(|(_, tenant, _)| {
        tenants
            .get(tenant)
            .and_then(|t| t.sso.as_ref())
            .is_none_or(|sso| sso.password_sign_in)
    });
    let ok = throttle.verify(hash, password).await && user.is_some() && password_allowed;
    let Some((user_id, _tenant, _)) = user.filter(|_| ok) else {
        throttle.failed(&store, &address, &name, now).await;
        let mut r = login_form(
            &pages,
            cookies,
            &next,
            Some("That user name and password do not match."),
        );
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    };
    throttle.succeeded(&store, &name).await;
    start_session(&store, cookies, &throttle.inner.cfg, &user_id, next, now).await
}

/// Signs `user_id` in: a new session (with the configured idle and absolute timeouts), its
/// cookie set, and the browser sent on to `next` (a path [`safe_next`] let through). Both
/// password and single sign-on end here.
pub(super) async fn start_session(
    store: &Store,
    cookies: Cookies,
    cfg: &crate::config::SignInConfig,
    user_id: &str,
    next: String,
    now: i64,
) -> Response {
    let token = random_token();
    let absolute_secs = i64::try_from(cfg.session_absolute_secs).unwrap_or(i64::MAX / 1000);
    let idle_ms = i64::try_from(cfg.session_idle_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    if let Err(e) = store
        .create_session_with_idle(
            &digest(&token),
            user_id,
            now,
            now.saturating_add(absolute_secs.saturating_mul(1000)),
            idle_ms,
        )
        .await
    {
        tracing::error!(error = %crate::error::error_chain(&e), "session not stored");
        return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
    }
    let mut r = (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, next),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response();
    for c in [
        cookies.set(SESSION_COOKIE, &token, absolute_secs),
        cookies.set(CSRF_COOKIE, "", 0),
    ] {
        if let Ok(v) = c.parse() {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

async fn logout(
    State(store): State<Store>,
    State(cookies): State<Cookies>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = form(&body);
    if let Some((_, token)) = session(&store, &headers).await {
        let sent = f.get("csrf").map(String::as_str).unwrap_or("");
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            sent.as_bytes(),
            csrf_for_session(&token).as_bytes(),
        )) {
            return (StatusCode::FORBIDDEN, "the sign-out form expired").into_response();
        }
        if let Err(e) = store.delete_session(&digest(&token)).await {
            tracing::error!(error = %crate::error::error_chain(&e), "session not deleted");
        }
    }
    let mut r = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, "/login".to_owned())],
    )
        .into_response();
    if let Ok(v) = cookies.set(SESSION_COOKIE, "", 0).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// Where a login without a destination lands: operators on the operator page, readers on
/// a page that tells them to open reports from PageUp.
async fn home(
    State(store): State<Store>,
    State(pages): State<Pages>,
    State(tenants): State<Tenants>,
    headers: HeaderMap,
) -> Response {
    let Some((user, token)) = session(&store, &headers).await else {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
    };
    if user.is_operator() {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/ops")]).into_response();
    }
    let name = tenants
        .get(&user.tenant)
        .and_then(|t| t.name.clone())
        .unwrap_or_else(|| user.tenant.to_string());
    pages.render(
        "home.html",
        serde_json::json!({ "username": user.username, "tenant_name": name, "csrf": csrf_for_session(&token) }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_report_and_operator_pages_are_places_to_return_to() {
        for ok in [
            "/reports/acme/c-1",
            "/reports/acme/c-1/s-1?format=pdf",
            "/ops",
            "/ops?since=7d",
        ] {
            assert_eq!(safe_next(Some(ok)), ok);
        }
        for bad in [
            None,
            Some(""),
            Some("https://evil.example/reports/x"),
            Some("//evil.example/reports/x"),
            Some("/reports//evil.example"),
            Some("/reports/\\evil"),
            Some("/opsx"),
            Some("/login"),
            Some("/reports/acme/c-1\r\nSet-Cookie: x=1"),
            Some("/reports/acme/c-1\n"),
            Some("/reports/acme/\0c-1"),
            Some("/ops?\u{7f}"),
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn the_in_memory_limit_is_per_address_and_per_name_and_stays_bounded() {
        let cfg = crate::config::SignInConfig {
            attempts_per_address_per_minute: 3,
            attempts_per_name_per_minute: 2,
            tracked_keys: 100,
            ..Default::default()
        };
        let t = LoginThrottle::new(&cfg);
        let (a, b) = (
            key_digest("address", "10.0.0.1").0,
            key_digest("address", "10.0.0.2").0,
        );
        let (dana, lee) = (key_digest("name", "dana").0, key_digest("name", "lee").0);
        assert!(t.admit(&a, &dana) && t.admit(&b, &dana));
        assert!(
            !t.admit(&b, &dana),
            "the name's attempts are used up from any address"
        );
        assert!(t.admit(&a, &lee));
        assert!(t.admit(&a, &key_digest("name", "kim").0));
        assert!(
            !t.admit(&a, &key_digest("name", "max").0),
            "the address's attempts are used up for any name"
        );
        for i in 0..1_000 {
            t.admit(&b, &key_digest("name", &format!("new-{i}")).0);
            assert!(t.tracked() <= 101, "{} keys after {i}", t.tracked());
        }
    }

    #[test]
    fn the_client_address_is_the_peer_unless_a_trusted_proxy_names_it() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let peer = Some(SocketAddr::from(([10, 0, 0, 5], 4711)));
        let mut cfg = crate::config::SignInConfig::default();
        assert_eq!(
            client_address(&cfg, &headers, peer),
            "10.0.0.5",
            "not trusted: the peer"
        );
        cfg.trust_forwarded_for = true;
        assert_eq!(
            client_address(&cfg, &headers, peer),
            "198.51.100.7",
            "the entry our proxy wrote"
        );
        assert_eq!(client_address(&cfg, &HeaderMap::new(), peer), "10.0.0.5");
        assert_eq!(client_address(&cfg, &HeaderMap::new(), None), "unknown");
    }

    #[test]
    fn the_sign_in_page_matches_its_snapshot_and_escapes_what_it_echoes() {
        let html = super::super::pages::templates()
            .get_template("login.html")
            .and_then(|t| {
                t.render(serde_json::json!({
                    "csrf": "fixed-csrf-token",
                    "next": "/reports/acme/c-1?x=\"><script>",
                    "error": "That user name and password do not match.",
                }))
            })
            .unwrap();
        assert!(!html.contains("<script>"), "the echoed next is escaped");
        insta::assert_snapshot!("login", html);
    }
}
