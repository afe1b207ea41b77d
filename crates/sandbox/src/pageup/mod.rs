//! Emulator of PageUp's Background Check API: the login server (client credentials), `GET`
//! of pending invitations (at most 5, fuzzed), and `PUT` of a check's status (full override,
//! workflow enforced), plus an admin API to seed data, read state and inject faults.
//!
//! It follows PageUp's integrator guide and the public notes in `shared/reference/pageup-api.md`;
//! paths and the invitation schema are the assumed ones documented in `crates/pageup/README.md`.
//! It is independent of the `pageup` client crate on purpose.
//!
//! One module per job: `state` holds the data and every change to it; `api` the emulated
//! API; `auth` the login server and the token check; `validate` what a `PUT` may say;
//! `error` PageUp's error shape; `admin` the `/__admin` routes; `generate` realistic
//! invitations; `shape` the shape they are listed in. This file puts them together: the router, `spawn` and the quick start.

mod admin;
mod api;
mod auth;
mod error;
mod generate;
mod shape;
mod state;
mod validate;

use axum::Router;

use crate::common::{self, Server};

pub use api::PAGE_SIZE;
pub use generate::{invitation as generated_invitation, GenerateOptions};
pub use shape::InvitationShape;
pub use state::{
    CheckTiming, CheckView, ClientSpec, PageUpConfig, PageUpState, Progress, PutRecord, SCOPE_READ,
    SCOPE_WRITE,
};
pub use validate::{transition_allowed, STATUSES};

/// A running PageUp sandbox.
#[derive(Debug)]
pub struct PageUpSandbox {
    pub server: Server,
    pub state: PageUpState,
}

impl PageUpSandbox {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }
    /// The login server's token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/connect/token", self.base_url())
    }
    /// Template for listing pending checks (`{tenant}` placeholder).
    pub fn list_url_template(&self) -> String {
        format!("{}/v3/{{tenant}}/backgroundcheck", self.base_url())
    }
    /// Template for updating a check (`{tenant}` and `{id}` placeholders).
    pub fn update_url_template(&self) -> String {
        format!("{}/v3/{{tenant}}/backgroundcheck/{{id}}", self.base_url())
    }

    /// Quick-start text for a person at a terminal; its curl commands work as printed.
    pub fn quickstart(&self, client: &ClientSpec) -> String {
        let base = self.base_url();
        let t = &client.tenant;
        format!(
            "PageUp sandbox (Background Check API emulator)\n\
             ==============================================\n\
             Base URL:       {base}\n\
             Token URL:      {base}/connect/token\n\
             List pending:   GET {base}/v3/{t}/backgroundcheck[?provider=...]\n\
             Update status:  PUT {base}/v3/{t}/backgroundcheck/{{id}}\n\
             Admin API:      {base}/__admin (checks, invitations, faults, journal)\n\
             Tenant:         {t}\n\
             Client id:      {id}\n\
             Client secret:  {secret}\n\
             Scopes:         {scopes}\n\
             \n\
             # 1. Get a token (valid {life} s):\n\
             PAGEUP_TOKEN=$(curl -s {base}/connect/token -d grant_type=client_credentials \\\n\
             \x20 -d client_id={id} -d client_secret={secret} \\\n\
             \x20 --data-urlencode 'scope={scopes}' | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n\
             # 2. List up to 5 pending checks (properties shuffled, GUID extras: PageUp's fuzzy serializer):\n\
             curl -s -H \"Authorization: Bearer $PAGEUP_TOKEN\" {base}/v3/{t}/backgroundcheck\n\
             # 3. Claim one (replace ID): the whole document, PUT is a full override:\n\
             curl -s -X PUT -H \"Authorization: Bearer $PAGEUP_TOKEN\" -H 'Content-Type: application/json' \\\n\
             \x20 -d '{{\"status\":\"queued\",\"referenceNumber\":\"\",\"reasonForFail\":\"\",\"results\":[]}}' \\\n\
             \x20 {base}/v3/{t}/backgroundcheck/ID\n\
             # 4. See its state and PUT history:\n\
             curl -s {base}/__admin/tenants/{t}/checks/ID\n",
            id = client.client_id,
            secret = client.client_secret,
            scopes = client.scopes.join(" "),
            life = self.state.token_lifetime().as_secs(),
        )
    }
}

/// Starts a sandbox on `127.0.0.1`, on a free port.
pub async fn spawn(config: PageUpConfig) -> std::io::Result<PageUpSandbox> {
    spawn_on(common::bind_local(0).await?, config).await
}

/// Starts a sandbox on an already-bound listener.
pub async fn spawn_on(
    listener: tokio::net::TcpListener,
    config: PageUpConfig,
) -> std::io::Result<PageUpSandbox> {
    let state = PageUpState::new(config);
    let server = common::serve(listener, router(state.clone()))?;
    Ok(PageUpSandbox { server, state })
}

/// The sandbox's routes: the API (faulted and journalled) and `/__admin`.
pub fn router(state: PageUpState) -> Router {
    api::routes(&state)
        .merge(axum::Router::new().route(
            "/openapi.json",
            axum::routing::get(|| async { crate::openapi::serve(&openapi()) }),
        ))
        .nest("/__admin", admin::routes(&state))
}

/// This sandbox's OpenAPI 3.1 description (served at `/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    use crate::openapi::Route;
    use utoipa::openapi::path::HttpMethod;
    let own = [
        Route {
            method: HttpMethod::Post,
            path: "/connect/token",
            summary: "Client-credentials token (form body)",
            body: false,
            statuses: &[200, 400, 401],
        },
        Route {
            method: HttpMethod::Get,
            path: "/v3/{tenant}/backgroundcheck",
            summary: "Pending background checks, a page at a time",
            body: false,
            statuses: &[200, 401, 403, 404, 500],
        },
        Route {
            method: HttpMethod::Put,
            path: "/v3/{tenant}/backgroundcheck/{id}",
            summary: "A check's full status document",
            body: true,
            statuses: &[200, 400, 401, 403, 404],
        },
        Route {
            method: HttpMethod::Post,
            path: "/__admin/clients",
            summary: "Add an OAuth client",
            body: true,
            statuses: &[204, 400, 415, 422],
        },
        Route {
            method: HttpMethod::Post,
            path: "/__admin/tenants/{tenant}/invitations",
            summary: "Seed an invitation",
            body: true,
            statuses: &[201, 400, 415, 422],
        },
        Route {
            method: HttpMethod::Post,
            path: "/__admin/tenants/{tenant}/invitations/generate",
            summary: "Generate invitations",
            body: true,
            statuses: &[201, 400, 415, 422],
        },
        Route {
            method: HttpMethod::Get,
            path: "/__admin/tenants/{tenant}/checks",
            summary: "A tenant's checks as PageUp shows them",
            body: false,
            statuses: &[200],
        },
        Route {
            method: HttpMethod::Get,
            path: "/__admin/tenants/{tenant}/checks/{id}",
            summary: "One check as PageUp shows it",
            body: false,
            statuses: &[200, 404],
        },
        Route {
            method: HttpMethod::Get,
            path: "/__admin/timings",
            summary: "Request timings",
            body: false,
            statuses: &[200],
        },
        Route {
            method: HttpMethod::Post,
            path: "/__admin/tokens/expire",
            summary: "Expire every token",
            body: false,
            statuses: &[204],
        },
        Route {
            method: HttpMethod::Put,
            path: "/__admin/token-lifetime",
            summary: "Set the token lifetime",
            body: true,
            statuses: &[204, 400, 415, 422],
        },
    ];
    crate::openapi::describe(
        "PageUp sandbox",
        "An emulator of PageUp's Background Check API (assumed wire schema) and its test controls under /__admin.",
        &own,
    )
}
