//! Signing in and out, and who is signed in. A session is a random token in an HttpOnly,
//! SameSite=Lax cookie (Secure when the service is served over HTTPS), kept in the database
//! only as a SHA-256. Forms carry a CSRF token (login: a double-submit cookie; logout:
//! derived from the session). Failed logins are limited per user name. The report and
//! operator pages ask [`session`] who is reading; this module knows nothing of them beyond
//! the paths a reader may be sent back to after signing in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{FromRef, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use super::pages::{no_store, Pages, Tenants};
use crate::store::{SessionUser, Store};
use crate::time::now_ms;

const SESSION_COOKIE: &str = "cb_session";
const CSRF_COOKIE: &str = "cb_login_csrf";
const SESSION_HOURS: i64 = 8;
/// Failed logins allowed per user name in `WINDOW_MS` before further tries are refused.
const MAX_FAILURES: u32 = 5;
const WINDOW_MS: i64 = 15 * 60 * 1000;

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
    fn set(self, name: &str, value: &str, max_age_secs: i64) -> String {
        format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
            if self.secure { "; Secure" } else { "" }
        )
    }
}

/// Failed sign-ins per (lower-cased) user name, counted in windows of `WINDOW_MS`, kept in
/// this replica's memory.
#[derive(Clone, Default)]
pub struct LoginThrottle {
    failures: Arc<Mutex<HashMap<String, (i64, u32)>>>,
}

impl LoginThrottle {
    /// Whether `key` has used up its tries in the current window.
    fn refuses(&self, key: &str, now: i64) -> bool {
        self.failures.lock().ok().is_some_and(|m| {
            m.get(key)
                .is_some_and(|(since, n)| now - since < WINDOW_MS && *n >= MAX_FAILURES)
        })
    }

    /// Counts a failed try of `key`, starting a new window when the last one has passed.
    fn failed(&self, key: String, now: i64) {
        if let Ok(mut m) = self.failures.lock() {
            let e = m.entry(key).or_insert((now, 0));
            if now - e.0 >= WINDOW_MS {
                *e = (now, 0);
            }
            e.1 += 1;
        }
    }

    /// Forgets `key`'s failures after it signed in.
    fn succeeded(&self, key: &str) {
        if let Ok(mut m) = self.failures.lock() {
            m.remove(key);
        }
    }
}

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

fn random_token() -> String {
    let mut b = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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
fn safe_next(next: Option<&str>) -> String {
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

async fn login(
    State(store): State<Store>,
    State(pages): State<Pages>,
    State(cookies): State<Cookies>,
    State(throttle): State<LoginThrottle>,
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
    let key = username.to_ascii_lowercase();
    let now = now_ms();
    if throttle.refuses(&key, now) {
        tracing::warn!("sign-in refused: too many failed attempts for one user name");
        let mut r = login_form(
            &pages,
            cookies,
            &next,
            Some("Too many failed attempts. Please wait 15 minutes and try again."),
        );
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return r;
    }
    let user = match store.user_for_login(&username).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %crate::error::error_chain(&e), "user lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
        }
    };
    // A missing user costs the same work as a wrong password.
    let ok = match &user {
        Some((_, _, hash)) => crate::http::auth::verify_password(hash, &password),
        None => {
            crate::http::auth::verify_password(crate::http::auth::DUMMY_HASH, &password);
            false
        }
    };
    let Some((user_id, _tenant, _)) = user.filter(|_| ok) else {
        throttle.failed(key, now);
        let mut r = login_form(
            &pages,
            cookies,
            &next,
            Some("That user name and password do not match."),
        );
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    };
    throttle.succeeded(&key);
    let token = random_token();
    if let Err(e) = store
        .create_session(
            &digest(&token),
            &user_id,
            now,
            now + SESSION_HOURS * 3_600_000,
        )
        .await
    {
        tracing::error!(error = %crate::error::error_chain(&e), "session not stored");
        return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
    }
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, next)]).into_response();
    for c in [
        cookies.set(SESSION_COOKIE, &token, SESSION_HOURS * 3600),
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
    fn sign_ins_are_refused_after_five_failures_until_the_window_passes() {
        let throttle = LoginThrottle::default();
        for i in 0..MAX_FAILURES {
            assert!(!throttle.refuses("dana", 1_000), "after {i} failures");
            throttle.failed("dana".into(), 1_000);
        }
        assert!(throttle.refuses("dana", 1_000));
        assert!(!throttle.refuses("lee", 1_000), "per user name");
        assert!(!throttle.refuses("dana", 1_000 + WINDOW_MS));
        throttle.succeeded("dana");
        assert!(!throttle.refuses("dana", 1_000));
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
