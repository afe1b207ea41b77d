//! What the HTML pages share: the templates, rendering, the 404 page, the
//! `Cache-Control: no-store` every page behind a login carries, the tenants' configuration
//! as pages read it, and the PageUp status a check is shown with. Sign-in, reports and the
//! operator page each import this module and none of the others', so what they share lives
//! here and not in whichever page happened to need it first.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use futures::future::BoxFuture;
use serde_json::Value;

use crate::config::TenantConfig;

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
    ] {
        // The templates are part of the binary and tested; a broken one fails every test.
        if let Err(e) = env.add_template(name, text) {
            tracing::error!(template = name, error = %e, "template does not parse");
        }
    }
    env
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

/// The configured tenants by key, as the pages read them (names, labels, severities).
#[derive(Clone)]
pub struct Tenants(Arc<BTreeMap<String, TenantConfig>>);

impl Tenants {
    pub fn new(tenants: BTreeMap<String, TenantConfig>) -> Tenants {
        Tenants(Arc::new(tenants))
    }

    /// The configuration of tenant `key`, if it is one of ours.
    pub fn get(&self, key: &str) -> Option<&TenantConfig> {
        self.0.get(key)
    }

    /// The tenants' keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

type StatusFn = dyn Fn(String, String) -> BoxFuture<'static, Option<String>> + Send + Sync;

/// The status a check shows in PageUp once every owed update has landed, in words
/// (`in progress`, `completed`...); `None` when it cannot be told. The pages are given the
/// computation rather than the pipeline that owns it (see `app::AppState::new`).
#[derive(Clone)]
pub struct PageUpStatus(Arc<StatusFn>);

impl PageUpStatus {
    /// `status(tenant, check)` as the computation.
    pub fn new<F, Fut>(status: F) -> PageUpStatus
    where
        F: Fn(String, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        PageUpStatus(Arc::new(move |tenant, check| {
            Box::pin(status(tenant, check))
        }))
    }

    /// The status of `check` of `tenant`.
    pub async fn of(&self, tenant: &str, check: &str) -> Option<String> {
        (self.0)(tenant.to_owned(), check.to_owned()).await
    }
}
