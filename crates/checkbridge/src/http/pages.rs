//! What the HTML pages share: the templates, rendering, the 404 page and the
//! `Cache-Control: no-store` every page behind a login carries. Sign-in, reports and the
//! operator page each import this module and none of the others', so page helpers live here
//! and not in whichever page happened to need them first.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

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
