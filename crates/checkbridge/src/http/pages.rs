//! What the HTML pages share: the templates, rendering, the 404 page, the
//! `Cache-Control: no-store` every page behind a login carries, the tenants' configuration
//! as pages read it, and the one view of a check every page shows ([`Views`]). Sign-in, reports and the
//! operator page each import this module and none of the others', so what they share lives
//! here and not in whichever page happened to need it first.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use crate::config::TenantConfig;
use crate::domain::check::CheckRecord;
use crate::domain::ids::TenantKey;
use crate::domain::view::{view, CheckView, ReportLinks};

/// The pages' templates, parsed once.
#[derive(Clone)]
pub struct Pages {
    templates: Arc<minijinja::Environment<'static>>,
}

impl Pages {
    pub fn new() -> Pages {
        Pages {
            templates: Arc::new(templates()),
        }
    }

    /// The template `name` filled with `ctx`; a template that does not render is logged and
    /// answered with a 500 that says nothing of the cause.
    pub fn render(&self, name: &str, ctx: Value) -> Response {
        match self
            .templates
            .get_template(name)
            .and_then(|t| t.render(ctx))
        {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "page could not be rendered");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be shown",
                )
                    .into_response()
            }
        }
    }
}

impl Default for Pages {
    fn default() -> Self {
        Self::new()
    }
}

/// The pages' templates (auto-escaping HTML, as `.html` names make minijinja do).
pub(super) fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    for (name, text) in [
        ("base.html", include_str!("../../templates/base.html")),
        ("login.html", include_str!("../../templates/login.html")),
        ("report.html", include_str!("../../templates/report.html")),
        ("ops.html", include_str!("../../templates/ops.html")),
        ("home.html", include_str!("../../templates/home.html")),
        (
            "sso_error.html",
            include_str!("../../templates/sso_error.html"),
        ),
        (
            "candidate_base.html",
            include_str!("../../templates/candidate_base.html"),
        ),
        (
            "candidate_macros.html",
            include_str!("../../templates/candidate_macros.html"),
        ),
        (
            "candidate_personal.html",
            include_str!("../../templates/candidate_personal.html"),
        ),
        (
            "candidate_addresses.html",
            include_str!("../../templates/candidate_addresses.html"),
        ),
        (
            "candidate_history.html",
            include_str!("../../templates/candidate_history.html"),
        ),
        (
            "candidate_disclosure.html",
            include_str!("../../templates/candidate_disclosure.html"),
        ),
        (
            "candidate_authorization.html",
            include_str!("../../templates/candidate_authorization.html"),
        ),
        (
            "candidate_done.html",
            include_str!("../../templates/candidate_done.html"),
        ),
        (
            "candidate_closed.html",
            include_str!("../../templates/candidate_closed.html"),
        ),
    ] {
        // The templates are part of the binary and tested; a broken one fails every test.
        if let Err(e) = env.add_template(name, text) {
            tracing::error!(template = name, error = %e, "template does not parse");
        }
    }
    env
}

/// Where the pages' stylesheet is served (the CSP allows no inline style).
pub const STYLESHEET_PATH: &str = "/static/style.css";

/// The pages' stylesheet: no personal data, so caches may keep it for an hour.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/style.css"),
    )
        .into_response()
}

/// The one answer for a page that does not exist and for one the reader may not see.
pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><title>Not found</title><h1>Not found</h1>"),
    )
        .into_response()
}

/// `r` marked so no browser or proxy keeps a copy (pages behind a login).
pub fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

/// Where an anonymous visitor of `path` (a report of `tenant`, which has single sign-on)
/// is sent to sign in: `sso.rs` takes it from there.
pub fn sso_start_path(tenant: &TenantKey, path: &str) -> String {
    let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
    format!("/sso/{tenant}/start?next={next}")
}

/// The configured tenants by key, as the pages read them (names, labels, severities).
#[derive(Clone)]
pub struct Tenants(Arc<BTreeMap<TenantKey, Arc<TenantConfig>>>);

impl Tenants {
    pub fn new(tenants: BTreeMap<TenantKey, Arc<TenantConfig>>) -> Tenants {
        Tenants(Arc::new(tenants))
    }

    /// The configuration of tenant `key`, if it is one of ours.
    pub fn get(&self, key: &TenantKey) -> Option<&TenantConfig> {
        self.0.get(key).map(|c| &**c)
    }

    /// As [`Tenants::get`], shared.
    pub fn get_arc(&self, key: &TenantKey) -> Option<Arc<TenantConfig>> {
        self.0.get(key).cloned()
    }

    /// The tenants' keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &TenantKey> {
        self.0.keys()
    }
}

/// How the pages see a check: its one view ([`crate::domain::view`]), with the tenant's
/// configuration and the service's report links.
#[derive(Clone)]
pub struct Views {
    tenants: Tenants,
    links: ReportLinks,
}

impl Views {
    pub fn new(tenants: Tenants, links: ReportLinks) -> Views {
        Views { tenants, links }
    }

    /// The tenants the views are for.
    pub fn tenants(&self) -> &Tenants {
        &self.tenants
    }

    /// The service's report links.
    pub fn links(&self) -> &ReportLinks {
        &self.links
    }

    /// The view of `check`; None for a tenant that is not configured.
    pub fn of(&self, check: &CheckRecord) -> Option<CheckView> {
        let cfg = self.tenants.get(&check.tenant)?;
        Some(view(check, &self.links, cfg))
    }
}
