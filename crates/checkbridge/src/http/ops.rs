//! The operator page, `/ops`: every tenant with its health, open issues, recent checks with
//! their timelines, and the error log with filters. Only users with the `operator` role see
//! it (others get 404, like a report of another tenant); it shows no candidate data, and an
//! operator sees no report.

use axum::extract::{FromRef, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::pages::{no_store, not_found, Pages, Views};
use super::session::{csrf_for_session, session};
use crate::domain::check::Phase;
use crate::domain::ids::TenantKey;
use crate::domain::view::timeline;
use crate::store::{CheckFilter, Store};
use crate::time::{minutes_utc, now_ms};

/// The page's filters, all optional.
#[derive(Debug, Default, serde::Deserialize)]
pub struct OpsQuery {
    /// Only this tenant (checks and errors).
    pub tenant: Option<String>,
    /// Only errors of this operation (e.g. `pageup.update`).
    pub operation: Option<String>,
    /// How far back: `1h`, `24h` (default), `7d`...
    pub since: Option<String>,
    /// Only checks owing work or with errors.
    pub attention: Option<String>,
    /// Which page of the error log (0, the newest, to 49), `MAX_ERRORS` rows each.
    pub errors_page: Option<u32>,
}

const MAX_CHECKS: i64 = 50;
const MAX_ERRORS: usize = 200;
/// The error log is paged this far back at most (older rows: `checkbridge logs export`).
const MAX_ERROR_PAGES: u32 = 50;

/// The operator page's route.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Store: FromRef<S>,
    Views: FromRef<S>,
    Pages: FromRef<S>,
{
    Router::new().route("/ops", get(page))
}

pub async fn page(
    State(store): State<Store>,
    State(views): State<Views>,
    State(pages): State<Pages>,
    headers: HeaderMap,
    Query(q): Query<OpsQuery>,
) -> Response {
    let Some((user, token)) = session(&store, &headers).await else {
        return (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, "/login?next=%2Fops"),
                (header::CACHE_CONTROL, "no-store"),
            ],
        )
            .into_response();
    };
    if !user.is_operator() {
        return not_found();
    }
    let csrf = csrf_for_session(&token);
    match context(&store, &views, &q, csrf, &user.username).await {
        Ok(ctx) => no_store(pages.render("ops.html", ctx)),
        Err(e) => {
            tracing::error!(error = %crate::error::error_chain(&e), "operator page: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response()
        }
    }
}

async fn context(
    store: &Store,
    views: &Views,
    q: &OpsQuery,
    csrf: String,
    username: &str,
) -> Result<Value, crate::store::StoreError> {
    let tenants = views.tenants();
    let now = now_ms();
    let since_text = q
        .since
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "24h".into());
    let span = crate::time::parse_window(&since_text).unwrap_or(86_400_000);
    let since = now - span;
    let only = q
        .tenant
        .as_deref()
        .map(str::trim)
        .map(TenantKey::from)
        .filter(|t| !t.as_str().is_empty() && tenants.get(t).is_some());
    let operation = q
        .operation
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned);
    let attention = q.attention.as_deref().is_some_and(|a| !a.is_empty());

    let issues = store.open_issues().await?;
    let mut rows = Vec::new();
    for key in tenants.keys() {
        let t = tenants.get(key);
        let owed = store.owed(Some(key)).await?;
        let poll = store.poll_state(key).await?;
        let open = issues.iter().filter(|i| &i.tenant == key).count();
        rows.push(json!({
            "key": key,
            "name": t.and_then(|t| t.name.clone()).unwrap_or_default(),
            "enabled": t.is_some_and(|t| t.enabled),
            "health": if open == 0 { "healthy".to_owned() } else { format!("{open} open issue(s)") },
            "healthy": open == 0,
            "owed_orders": owed.orders,
            "owed_pushes": owed.pushes,
            "next_poll": poll.as_ref().map(|p| minutes_utc(p.next_poll_at)).unwrap_or_else(|| "never polled".into()),
            "last_poll_error": poll.and_then(|p| p.last_error),
        }));
    }

    let filter = CheckFilter {
        tenant: only.clone(),
        since: Some(since),
        owing: false,
        with_errors: false,
        phase: None,
    };
    let mut checks = Vec::new();
    for c in store.find_checks(&filter, MAX_CHECKS * 4).await? {
        let owing = c.desired_version > c.acked_version
            || matches!(c.phase, Phase::Claimed | Phase::Submitted);
        let error = c.push_error.clone().or(c.last_error.clone());
        if attention && !owing && error.is_none() {
            continue;
        }
        if checks.len() as i64 >= MAX_CHECKS {
            break;
        }
        // The status PageUp shows, and the timeline: claimed, each search's events, the
        // last change; no candidate data.
        let Some(data) = store.report_data(&c.tenant, &c.id).await? else {
            continue;
        };
        let status = views
            .of(&data.check)
            .map(|v| v.status_words().to_owned())
            .unwrap_or_else(|| c.phase.to_string());
        let mut moments = timeline(
            &data.check,
            data.searches.iter().map(|s| (&s.id, s.events.as_slice())),
        );
        if let Some(r) = store.candidate_request(&c.tenant, &c.id).await? {
            // After "claimed", before the last change.
            let last = moments.pop();
            moments.extend(crate::domain::candidate::candidate_timeline(&r));
            moments.sort_by_key(|e| e.at);
            moments.extend(last);
        }
        let timeline: Vec<Value> = moments
            .into_iter()
            .map(|e| json!({ "at": minutes_utc(e.at), "what": e.what, "ms": e.at }))
            .collect();
        checks.push(json!({
            "tenant": c.tenant,
            "id": c.id,
            "pageup_id": c.pageup_id,
            "phase": c.phase,
            "reference": c.reference,
            "status": status,
            "pageup": if c.acked_version >= c.desired_version { "sent" } else { "update owed" },
            "created": minutes_utc(c.created_at),
            "error": error,
            "timeline": timeline,
        }));
    }

    let mut errors = Vec::new();
    let keys: Vec<TenantKey> = match &only {
        Some(k) => vec![k.clone()],
        None => tenants.keys().cloned().collect(),
    };
    // A page of MAX_ERRORS rows: each tenant's newest (page + 1) * MAX_ERRORS at most, so
    // the page stays bounded whatever the log holds; the total says how many matched.
    let errors_page = q.errors_page.unwrap_or(0).min(MAX_ERROR_PAGES - 1);
    let skip = errors_page as usize * MAX_ERRORS;
    let mut total_errors = 0i64;
    for key in &keys {
        let (newest, total) = store
            .recent_errors(key, since, operation.as_deref(), (skip + MAX_ERRORS) as i64)
            .await?;
        total_errors += total;
        errors.extend(newest);
    }
    errors.sort_by_key(|e| std::cmp::Reverse(e.at));
    let errors: Vec<_> = errors.into_iter().skip(skip).take(MAX_ERRORS).collect();
    let more = usize::try_from(total_errors).unwrap_or(usize::MAX) > skip + errors.len()
        && errors_page + 1 < MAX_ERROR_PAGES;
    let page_href = |page: u32| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(t) = &only {
            q.append_pair("tenant", t.as_str());
        }
        if let Some(o) = &operation {
            q.append_pair("operation", o);
        }
        q.append_pair("since", &since_text);
        if attention {
            q.append_pair("attention", "1");
        }
        q.append_pair("errors_page", &page.to_string());
        format!("/ops?{}", q.finish())
    };
    let errors_older = more.then(|| page_href(errors_page + 1));
    let errors_newer = (errors_page > 0).then(|| page_href(errors_page - 1));

    Ok(json!({
        "username": username,
        "csrf": csrf,
        "generated": minutes_utc(now),
        "filters": {
            "tenant": only.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            "operation": operation.unwrap_or_default(),
            "since": since_text,
            "attention": attention,
        },
        "tenant_keys": tenants.keys().collect::<Vec<_>>(),
        "tenants": rows,
        "issues": issues.iter().map(|i| json!({
            "tenant": i.tenant,
            "kind": i.kind.replace('_', " "),
            "subject": i.subject,
            "summary": i.summary,
            "opened": minutes_utc(i.opened_at),
        })).collect::<Vec<_>>(),
        "checks": checks,
        "errors": errors.iter().map(|e| json!({
            "at": minutes_utc(e.at),
            "tenant": e.tenant,
            "operation": e.operation,
            "status": e.http_status,
            "message": e.message,
            "correlation": e.correlation,
        })).collect::<Vec<_>>(),
        "errors_total": total_errors,
        "errors_shown": errors.len(),
        "errors_from": skip + 1,
        "errors_older": errors_older,
        "errors_newer": errors_newer,
    }))
}
