//! Report pages behind a login. The reportLink PageUp shows is
//! `/reports/{tenant}/{check}[/{search}]`: without a session it leads to the login page;
//! a reader of another tenant, or a check that does not exist, gets the same 404. Every view
//! is written to the access record. Pages come from auto-escaping templates; `?format=pdf`
//! serves the same view model ([`report_context`]) as a PDF written by `pdf.rs`.

use axum::extract::{FromRef, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use super::pages::{no_store, not_found, PageUpStatus, Pages, Tenants};
use super::session::{csrf_for_session, session};
use crate::crypto::{Keyring, Place};
use crate::domain::events::search_view;
use crate::domain::status::{overall_status, result_status};
use crate::store::{ReportData, Store};
use crate::time::{minutes_utc, now_ms};

/// Routes of the report pages.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Store: FromRef<S>,
    Keyring: FromRef<S>,
    Tenants: FromRef<S>,
    Pages: FromRef<S>,
    PageUpStatus: FromRef<S>,
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
