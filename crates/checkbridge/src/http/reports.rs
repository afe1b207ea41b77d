//! Report pages behind a login. The reportLink PageUp shows is
//! `/reports/{tenant}/{check}[/{search}]`: without a session it leads to the login page;
//! a reader of another tenant, or a check that does not exist, gets the same 404. Every view
//! is written to the access record. Pages come from auto-escaping templates.
//!
//! Sessions: a random token in an HttpOnly, SameSite=Lax cookie (Secure when the service is
//! served over HTTPS), kept in the database only as a SHA-256. Forms carry a CSRF token
//! (login: a double-submit cookie; logout: derived from the session). Failed logins are
//! limited per user name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rand::RngCore as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::pages::{no_store, not_found, PageUpStatus, Pages, Tenants};
use crate::crypto::{Keyring, Place};
use crate::domain::events::search_view;
use crate::domain::status::{overall_status, result_status};
use crate::store::{ReportData, SessionUser, Store};
use crate::time::{minutes_utc, now_ms};

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
#[derive(Clone, Debug, Default)]
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

/// Routes of the report pages and login.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Store: FromRef<S>,
    Keyring: FromRef<S>,
    Tenants: FromRef<S>,
    Pages: FromRef<S>,
    PageUpStatus: FromRef<S>,
    Cookies: FromRef<S>,
    LoginThrottle: FromRef<S>,
{
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/", get(home))
        .route("/ops", get(super::ops::page))
        .route("/reports/{tenant}/{check}", get(report))
        .route("/reports/{tenant}/{check}/{search}", get(report))
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
/// ours, nothing else.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n.starts_with("/reports/") || n == "/ops" || n.starts_with("/ops?"))
                && !n.contains("//")
                && !n.contains('\\') =>
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
            tracing::error!(error = %crate::sync::error_chain(&e), "session lookup failed");
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
            tracing::error!(error = %crate::sync::error_chain(&e), "user lookup failed");
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
        tracing::error!(error = %crate::sync::error_chain(&e), "session not stored");
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
            tracing::error!(error = %crate::sync::error_chain(&e), "session not deleted");
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
        .unwrap_or_else(|| user.tenant.clone());
    pages.render(
        "home.html",
        serde_json::json!({ "username": user.username, "tenant_name": name, "csrf": csrf_for_session(&token) }),
    )
}

/// `?format=pdf` downloads the report as a PDF file instead of showing the page.
#[derive(serde::Deserialize, Default)]
struct FormatQuery {
    format: Option<String>,
}

/// Where a report is: `/reports/{tenant}/{check}` for the check, with `/{search}` for one
/// of its searches.
#[derive(serde::Deserialize)]
struct ReportPath {
    tenant: String,
    check: String,
    search: Option<String>,
}

#[expect(
    clippy::too_many_arguments,
    reason = "an axum handler: each argument is one extractor"
)]
async fn report(
    State(store): State<Store>,
    State(keyring): State<Keyring>,
    State(tenants): State<Tenants>,
    State(pages): State<Pages>,
    State(status): State<PageUpStatus>,
    Path(ReportPath {
        tenant,
        check,
        search,
    }): Path<ReportPath>,
    Query(q): Query<FormatQuery>,
    headers: HeaderMap,
) -> Response {
    let pdf = q.format.as_deref() == Some("pdf");
    let Some((user, token)) = session(&store, &headers).await else {
        let mut path = match &search {
            Some(s) => format!("/reports/{tenant}/{check}/{s}"),
            None => format!("/reports/{tenant}/{check}"),
        };
        if pdf {
            path.push_str("?format=pdf");
        }
        let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        return (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, format!("/login?next={next}")),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response();
    };
    if user.tenant != tenant {
        return not_found();
    }
    let Some(cfg) = tenants.get(&tenant) else {
        return not_found();
    };
    let data = match store.report_data(&tenant, &check).await {
        Ok(Some(d)) => d,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %crate::sync::error_chain(&e), "report data unavailable");
            return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
        }
    };
    if let Some(s) = &search {
        if !data.searches.iter().any(|x| &x.id == s) {
            return not_found();
        }
    }
    if let Err(e) = store
        .record_access(
            &tenant,
            &check,
            &format!("user:{}", user.username),
            if pdf {
                "report_downloaded"
            } else {
                "report_viewed"
            },
            now_ms(),
        )
        .await
    {
        // A view that cannot be recorded is not shown.
        tracing::error!(error = %crate::sync::error_chain(&e), "report view not recorded");
        return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
    }
    let mut ctx = report_context(
        &keyring,
        &status,
        cfg,
        &tenant,
        &check,
        &data,
        csrf_for_session(&token),
    )
    .await;
    ctx["pdf_href"] = Value::String(match &search {
        Some(s) => format!("/reports/{tenant}/{check}/{s}?format=pdf"),
        None => format!("/reports/{tenant}/{check}?format=pdf"),
    });
    if pdf {
        let name = format!(
            "background-check-{}.pdf",
            data.pageup_id
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .take(64)
                .collect::<String>()
        );
        return (
            [
                (header::CONTENT_TYPE, "application/pdf".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            super::pdf::report(&ctx),
        )
            .into_response();
    }
    no_store(pages.render("report.html", ctx))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        Value::Object(o) if o.contains_key("accredited") || o.contains_key("accreditor") => {
            let by = o
                .get("accreditor")
                .and_then(Value::as_str)
                .map(|a| format!(" by {a}"))
                .unwrap_or_default();
            let source = o
                .get("source")
                .and_then(Value::as_str)
                .map(|s| format!(" (source: {s})"))
                .unwrap_or_default();
            match o.get("accredited").and_then(Value::as_bool) {
                Some(false) => format!("not accredited{by}{source}"),
                Some(true) => format!("accredited{by}{source}"),
                None => format!("accreditation{by}{source}"),
            }
        }
        Value::Object(o) if o.contains_key("provided") || o.contains_key("verified") => format!(
            "provided: {} · verified: {}",
            o.get("provided").map(text).unwrap_or_else(|| "—".into()),
            o.get("verified").map(text).unwrap_or_else(|| "—".into())
        ),
        other => other.to_string(),
    }
}

/// A field name as a person reads it: `startDate` -> `Start date`.
fn label(key: &str) -> String {
    let mut out = String::new();
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else if i == 0 {
            out.push(c.to_ascii_uppercase());
        } else if c == '_' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

async fn report_context(
    keyring: &Keyring,
    pageup_status: &PageUpStatus,
    cfg: &crate::config::TenantConfig,
    tenant: &str,
    check: &str,
    data: &ReportData,
    csrf: String,
) -> Value {
    let candidate = match &data.sealed_order {
        Some(sealed) => {
            let place = Place {
                tenant,
                table: "checks",
                column: "order_json",
                row: check,
            };
            match keyring.open(place, sealed).await {
                Ok(bytes) => serde_json::from_slice::<Value>(&bytes).ok().map(|o| {
                    let a = &o["applicant"];
                    let ssn = a["ssn"].as_str().unwrap_or("");
                    let last4: String = ssn.chars().filter(char::is_ascii_digit).rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
                    serde_json::json!({
                        "name": format!("{} {}", a["firstName"].as_str().unwrap_or(""), a["lastName"].as_str().unwrap_or("")).trim().to_owned(),
                        "ssn_masked": if last4.is_empty() { "—".to_owned() } else { format!("•••-••-{last4}") },
                        "email": a["email"].as_str(),
                        "job": o["businessContext"]["appliedJobTitle"].as_str(),
                    })
                }),
                Err(e) => {
                    tracing::error!(error = %crate::sync::error_chain(&e), "report: order does not open");
                    None
                }
            }
        }
        None => None,
    };
    let mut searches = Vec::new();
    let mut statuses = Vec::new();
    let mut all_done = !data.searches.is_empty();
    for s in &data.searches {
        let row = crate::store::SearchRow {
            id: s.id.clone(),
            search_type: s.search_type.clone(),
            theary_search_id: None,
            outcome: s.outcome.clone(),
            result_outcome: s.result_outcome.clone(),
            discrepancy: s.discrepancy,
            reason_code: s.reason_code.clone(),
        };
        let view = search_view(&row, String::new());
        let status = match s.outcome.as_str() {
            "completed" | "action_required" => result_status(&view.outcome, cfg),
            "cancelled" => "cancelled".to_owned(),
            _ => {
                all_done = false;
                "open".to_owned()
            }
        };
        if s.outcome == "completed" || s.outcome == "action_required" {
            statuses.push(status.clone());
        }
        let mut fields = Vec::new();
        let mut comments = None;
        if let Some(sealed) = &s.sealed_result {
            let place = Place {
                tenant,
                table: "searches",
                column: "result",
                row: &s.id,
            };
            if let Ok(bytes) = keyring.open(place, sealed).await {
                if let Ok(body) = serde_json::from_slice::<Value>(&bytes) {
                    let data = if body.get("data").is_some() {
                        &body["data"]
                    } else {
                        &body
                    };
                    let vr = &data["verificationResult"];
                    for section in ["employmentVerification", "educationVerification"] {
                        if let Some(map) = vr[section].as_object() {
                            for (k, v) in map {
                                fields.push(
                                    serde_json::json!({ "name": label(k), "value": text(v) }),
                                );
                            }
                        }
                    }
                    if let Some(acc) = data.get("accreditation").filter(|a| !a.is_null()) {
                        fields.push(
                            serde_json::json!({ "name": "Accreditation", "value": text(acc) }),
                        );
                    }
                    comments = vr["comments"].as_str().map(str::to_owned);
                }
            }
        }
        let label_text = cfg
            .checks
            .report_types
            .get(&s.search_type.to_ascii_uppercase())
            .cloned()
            .unwrap_or_else(|| format!("{} verification", s.search_type.to_ascii_lowercase()));
        searches.push(serde_json::json!({
            "id": s.id,
            "label": label_text,
            "status": status,
            "outcome": s.result_outcome.clone().unwrap_or_else(|| s.outcome.replace('_', " ")),
            "discrepancy": s.discrepancy,
            "reason_code": s.reason_code,
            "fields": fields,
            "comments": comments,
            "events": s.events.iter().map(|(kind, at)| serde_json::json!({
                "kind": kind.trim_start_matches("verification.").replace('_', " "),
                "at": minutes_utc(*at),
            })).collect::<Vec<_>>(),
        }));
    }
    // The status as the recruiter knows it from PageUp, not our internal phase.
    let status = pageup_status
        .of(tenant, check)
        .await
        .unwrap_or_else(|| data.phase.clone());
    let overall = (all_done && !statuses.is_empty())
        .then(|| overall_status(statuses.iter().map(String::as_str), cfg));
    serde_json::json!({
        "tenant_name": cfg.name.clone().unwrap_or_else(|| tenant.to_owned()),
        "check": {
            "pageup_id": data.pageup_id,
            "reference": data.reference,
            "status": status,
            "reason": data.reason,
            "created": minutes_utc(data.created_at),
            "updated": minutes_utc(data.updated_at),
        },
        "candidate": candidate,
        "overall": overall,
        "searches": searches,
        "csrf": csrf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `report_context` makes of a completed check with a discrepancy.
    fn sample() -> Value {
        serde_json::json!({
            "tenant_name": "Acme Corp",
            "check": {
                "pageup_id": "100234",
                "reference": "3f0c7a5e-1b2d-4c8e-9f00-5a6b7c8d9e0f",
                "status": "ordered",
                "reason": null,
                "created": "2026-11-20 09:14 UTC",
                "updated": "2026-11-21 16:02 UTC",
            },
            "candidate": {
                "name": "Dana <b>Whitfield</b>",
                "ssn_masked": "•••-••-6789",
                "email": "dana@example.com",
                "job": "Senior Accountant",
            },
            "overall": "review",
            "searches": [{
                "id": "s-emp",
                "label": "Employment verification",
                "status": "review",
                "outcome": "VERIFIED",
                "discrepancy": true,
                "reason_code": null,
                "fields": [
                    { "name": "Employer", "value": "Northwind Traders" },
                    { "name": "Job title", "value": "provided: Senior Accountant · verified: Accountant" },
                ],
                "comments": "Verified with HR by phone.",
                "events": [
                    { "kind": "contact plan", "at": "2026-11-20 09:20 UTC" },
                    { "kind": "completed", "at": "2026-11-21 16:00 UTC" },
                ],
            }],
            "csrf": "csrf-token",
            "pdf_href": "/reports/acme/c-1?format=pdf",
        })
    }

    #[test]
    fn a_rendered_report_matches_its_snapshot_and_escapes_what_it_shows() {
        let html = super::super::pages::templates()
            .get_template("report.html")
            .and_then(|t| t.render(sample()))
            .unwrap();
        assert!(
            html.contains("Dana &lt;b&gt;Whitfield&lt;&#x2f;b&gt;"),
            "escaped"
        );
        insta::assert_snapshot!("report", html);
    }

    #[test]
    fn the_pdf_carries_the_same_report() {
        let pdf = super::super::pdf::report(&sample());
        let has = |needle: &[u8]| pdf.windows(needle.len()).any(|w| w == needle);
        for shown in [
            b"Dana <b>Whitfield</b>".as_slice(),
            b"\x95\x95\x95-\x95\x95-6789",
            b"Employment verification",
            b"Northwind Traders",
            b"Verified with HR by phone.",
        ] {
            assert!(has(shown), "{}", String::from_utf8_lossy(shown));
        }
    }
}
