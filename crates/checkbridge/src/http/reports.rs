//! Report pages behind a login. The reportLink PageUp shows is
//! `/reports/{tenant}/{check}[/{search}]`: without a session it leads to the login page, or
//! to the tenant's identity provider when it has single sign-on (`sso.rs`);
//! a reader of another tenant, or a check that does not exist, gets the same 404. Every view
//! is written to the access record. Pages come from auto-escaping templates; `?format=pdf`
//! serves the same view model ([`report_context`]) as a PDF written by `pdf.rs`, rendered on a
//! blocking thread with a bound on concurrent renders.

use axum::extract::{FromRef, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use super::pages::{no_store, not_found, Pages, Views};
use super::pdf::Renderer;
use super::session::{csrf_for_session, session};
use crate::crypto::{Keyring, Place};
use crate::domain::check::AccessAction;
use crate::domain::ids::{CheckId, SearchId, TenantKey};
use crate::domain::view::{CheckView, ReportLinks};
use crate::store::{ReportData, Store};
use crate::time::{minutes_utc, now_ms};

/// Routes of the report pages.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Store: FromRef<S>,
    Keyring: FromRef<S>,
    Views: FromRef<S>,
    Pages: FromRef<S>,
    Renderer: FromRef<S>,
{
    Router::new()
        .route("/reports/{tenant}/{check}", get(report))
        .route("/reports/{tenant}/{check}/{search}", get(report))
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
    tenant: TenantKey,
    check: CheckId,
    search: Option<SearchId>,
}

#[expect(
    clippy::too_many_arguments,
    reason = "axum extractors: one per piece of state the page needs"
)]
async fn report(
    State(store): State<Store>,
    State(keyring): State<Keyring>,
    State(views): State<Views>,
    State(pages): State<Pages>,
    State(renderer): State<Renderer>,
    Path(ReportPath {
        tenant,
        check,
        search,
    }): Path<ReportPath>,
    Query(q): Query<FormatQuery>,
    headers: HeaderMap,
) -> Response {
    let pdf = q.format.as_deref() == Some("pdf");
    // The candidate's signed disclosure and authorization, as the candidate form wrote it.
    let release = q.format.as_deref() == Some("release") && search.is_none();
    let Some((user, token)) = session(&store, &headers).await else {
        let mut path = ReportLinks::path(&tenant, &check, search.as_ref());
        if pdf {
            path.push_str("?format=pdf");
        }
        if release {
            path.push_str("?format=release");
        }
        // A tenant with single sign-on sends its readers to its identity provider.
        let has_sso = views
            .tenants()
            .get(&tenant)
            .is_some_and(|t| t.sso.is_some());
        let to = if has_sso {
            super::pages::sso_start_path(&tenant, &path)
        } else {
            let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
            format!("/login?next={next}")
        };
        return (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, to),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response();
    };
    if user.tenant != tenant {
        return not_found();
    }
    let Some(cfg) = views.tenants().get(&tenant) else {
        return not_found();
    };
    let data = match store.report_data(&tenant, &check).await {
        Ok(Some(d)) => d,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %crate::error::error_chain(&e), "report data unavailable");
            return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
        }
    };
    if let Some(s) = &search {
        if data.search(s).is_none() {
            return not_found();
        }
    }
    let Some(view) = views.of(&data.check) else {
        return not_found();
    };
    // Data that is there but does not open (a key problem) is not "removed": the page is
    // not shown, and no view is recorded.
    let step = match store.candidate_request(&tenant, &data.check.id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %crate::error::error_chain(&e), "report: candidate step unavailable");
            None
        }
    };
    let Ok(mut ctx) = report_context(&keyring, cfg, &data, &view, csrf_for_session(&token)).await
    else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CACHE_CONTROL, "no-store")],
            "this report cannot be read right now (the problem is logged for the operators); please try again later.",
        )
            .into_response();
    };
    if let Err(e) = store
        .record_access(
            &tenant,
            &check,
            &match &user.sso_subject {
                Some(subject) => format!("user:{} sso_subject:{subject}", user.username),
                None => format!("user:{}", user.username),
            },
            if pdf || release {
                AccessAction::ReportDownloaded
            } else {
                AccessAction::ReportViewed
            },
            now_ms(),
        )
        .await
    {
        // A view that cannot be recorded is not shown.
        tracing::error!(error = %crate::error::error_chain(&e), "report view not recorded");
        return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
    }
    if release {
        return signed_release(&keyring, &data).await;
    }
    if let Some(r) = &step {
        let (state, since) = match r.state.as_str() {
            "invited" => (
                format!(
                    "Waiting on the candidate: invited {}, {} reminder(s) sent; the link expires {}.",
                    minutes_utc(r.invited_at),
                    (r.mails_sent - 1).max(0),
                    minutes_utc(r.expires_at)
                ),
                r.invited_at,
            ),
            "submitted" => (
                format!(
                    "The candidate completed the candidate form and signed the authorization on {}.",
                    r.submitted_at.map(minutes_utc).unwrap_or_default()
                ),
                r.invited_at,
            ),
            "expired" => (
                format!(
                    "The candidate did not answer by {}; the check expired and what the candidate had entered was purged.",
                    minutes_utc(r.expires_at)
                ),
                r.invited_at,
            ),
            _ => (
                "The candidate could not be invited: the mail server refused the candidate's email address.".to_owned(),
                r.invited_at,
            ),
        };
        ctx["candidate_step"] = serde_json::json!({
            "release_href": (r.state == "submitted" && data.sealed_order.is_some())
                .then(|| format!("{}?format=release", ReportLinks::path(&tenant, &check, None))),
            "summary": state,
            "since": minutes_utc(since),
            "timeline": crate::domain::candidate::candidate_timeline(r)
                .into_iter()
                .map(|e| serde_json::json!({ "at": minutes_utc(e.at), "what": e.what }))
                .collect::<Vec<_>>(),
        });
    }
    ctx["pdf_href"] = Value::String(format!(
        "{}?format=pdf",
        ReportLinks::path(&tenant, &check, search.as_ref())
    ));
    if pdf {
        let name = format!(
            "background-check-{}.pdf",
            data.check
                .pageup_id
                .as_str()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .take(64)
                .collect::<String>()
        );
        let started = std::time::Instant::now();
        let bytes = match renderer.report(ctx).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %crate::error::error_chain(&e), "report PDF not rendered");
                return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly")
                    .into_response();
            }
        };
        tracing::debug!(
            duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            bytes = bytes.len(),
            "report PDF rendered"
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
            bytes,
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
        Value::Array(items) if items.is_empty() => "none".to_owned(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join("; "),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{}: {}", label(k).to_lowercase(), text(v)))
            .collect::<Vec<_>>()
            .join(", "),
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

/// Sealed data of the check that is held but does not open (logged where found).
struct Unreadable;

/// What the report page (and its PDF) shows: the check as PageUp shows it ([`CheckView`]),
/// the candidate (national id masked to its last four digits, no birth date), and per
/// search its result with the verified fields, comments and activity. Data that was purged
/// is shown as removed; data held that does not open is [`Unreadable`], never "removed".
/// The signed release the order carries inline (`data:application/pdf;base64,...`), as a
/// PDF download; 404 when the check holds none (PageUp sent a link, or it was purged).
async fn signed_release(keyring: &Keyring, data: &ReportData) -> Response {
    let check = &data.check;
    let Some(sealed) = &data.sealed_order else {
        return not_found();
    };
    let order = match keyring
        .open(Place::order(&check.tenant, &check.id), sealed)
        .await
    {
        Ok(bytes) => serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
        Err(e) => {
            tracing::error!(tenant = %check.tenant, check = %check.id, error = %crate::error::error_chain(&e), "release: order does not open");
            return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
        }
    };
    let pdf = order["applicant"]["signedReleaseFileUrl"]
        .as_str()
        .and_then(|u| u.strip_prefix("data:application/pdf;base64,"))
        .and_then(|b| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        })
        .filter(|b| b.starts_with(b"%PDF"));
    let Some(pdf) = pdf else {
        return not_found();
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"signed-release.pdf\"".to_owned(),
            ),
        ],
        pdf,
    )
        .into_response()
}

async fn report_context(
    keyring: &Keyring,
    cfg: &crate::config::TenantConfig,
    data: &ReportData,
    view: &CheckView,
    csrf: String,
) -> Result<Value, Unreadable> {
    let check = &data.check;
    let candidate = match &data.sealed_order {
        Some(sealed) => match keyring.open(Place::order(&check.tenant, &check.id), sealed).await {
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
                tracing::error!(tenant = %check.tenant, check = %check.id, error = %crate::error::error_chain(&e), "report: order does not open");
                return Err(Unreadable);
            }
        },
        None => None,
    };
    let mut searches = Vec::new();
    for (record, shown) in check.searches.iter().zip(&view.searches) {
        let held = data.search(&record.id);
        let mut fields = Vec::new();
        let mut comments = None;
        if let Some(sealed) = held.and_then(|h| h.sealed_result.as_ref()) {
            let place = Place::search_result(&check.tenant, &record.id);
            let opened = keyring.open(place, sealed).await.map_err(|e| {
                tracing::error!(tenant = %check.tenant, search = %record.id, error = %crate::error::error_chain(&e), "report: result does not open");
                Unreadable
            })?;
            {
                let bytes = opened;
                if let Ok(body) = serde_json::from_slice::<Value>(&bytes) {
                    let data = if body.get("data").is_some() {
                        &body["data"]
                    } else {
                        &body
                    };
                    let vr = &data["verificationResult"];
                    for section in [
                        "employmentVerification",
                        "educationVerification",
                        "criminalVerification",
                    ] {
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
        let events = held.map(|h| h.events.as_slice()).unwrap_or_default();
        searches.push(serde_json::json!({
            "id": record.id,
            "label": shown.label,
            "status": shown.status,
            "outcome": record
                .outcome
                .as_ref()
                .map(|o| o.as_str().to_owned())
                .unwrap_or_else(|| record.state.as_str().replace('_', " ")),
            "discrepancy": record.discrepancy,
            "reason_code": record.reason_code.as_ref().map(|c| c.as_str()),
            "fields": fields,
            "comments": comments,
            "events": events.iter().map(|(kind, at)| serde_json::json!({
                "kind": kind.trim_start_matches("verification.").replace('_', " "),
                "at": minutes_utc(*at),
            })).collect::<Vec<_>>(),
        }));
    }
    Ok(serde_json::json!({
        "tenant_name": cfg.name.clone().unwrap_or_else(|| check.tenant.to_string()),
        "check": {
            "pageup_id": check.pageup_id,
            "reference": check.reference,
            // The status as the recruiter knows it from PageUp, not our internal phase.
            "status": view.status_words(),
            "reason": check.reason,
            "created": minutes_utc(check.created_at),
            "updated": minutes_utc(check.updated_at),
        },
        "candidate": candidate,
        "overall": view.overall,
        "searches": searches,
        "csrf": csrf,
    }))
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
        let pdf = super::super::pdf::report(&sample()).unwrap();
        let Some(text) = checkbridge_lab::testing::pdf_text(&pdf) else {
            return;
        };
        for shown in [
            "Dana <b>Whitfield</b>",
            "•••-••-6789",
            "Employment verification",
            "Northwind Traders",
            "Verified with HR by phone.",
        ] {
            assert!(text.contains(shown), "{shown} in {text}");
        }
    }
}
