//! Emulator of Theary's background-check API: an Auth0-style token endpoint, the order API
//! with the documented validation, a verification engine that moves each search through
//! notifications to an outcome, and signed webhook delivery with retries, as documented in
//! `shared/reference/theary-api.md`. Independent of the `theary` client crate on purpose.
//!
//! Ids: the create response carries `ord_`/`search_` prefixes; reads and webhooks carry the
//! bare UUIDs, as Theary's own examples do. Both forms are accepted on input.
//!
//! Outcomes are chosen by keyword, case-insensitively, in the employer or institution name of
//! the first history entry for the search's type (or `businessContext.entityName`):
//! `discrepancy` VERIFIED with a discrepancy; `norecord`/`no record` NO_RECORD; `wrongorg`
//! WRONG_ORG; `unable` UNABLE_TO_VERIFY; `thirdparty`/`work number` action required
//! THIRD_PARTY_RECORD; `escalate` action required HUMAN_ESCALATION; `stall` never finishes by
//! itself. Otherwise VERIFIED, or with a `seed`, a seeded realistic mix. Rules added through
//! the admin API are checked first.
//!
//! One module per job: `state` holds the data and the read models; `engine` moves searches
//! through their life and chooses outcomes; `delivery` sends, signs, retries, faults and
//! records webhooks; `api` and `auth` are the emulated API, with `batch` (batches),
//! `inbound` (inbound notifications) and `files` (the release-form upload, stored locally); `validate` the create-order
//! rules; `error` Theary's error shape; `admin` the `/__admin` routes. This file puts them
//! together: the router, `spawn` and the quick start.

mod admin;
mod api;
mod auth;
mod batch;
mod delivery;
mod engine;
mod error;
mod files;
mod inbound;
mod state;
mod validate;

use axum::Router;

use crate::common::{self, Server};

pub use delivery::{DeliveryFaults, DeliveryRecord};
pub use files::{BUCKET, MAX_RELEASE_BYTES};
pub use state::{ClientSpec, Outcome, SandboxConfig, ScenarioRule, ThearyState};

/// A running Theary sandbox.
#[derive(Debug)]
pub struct ThearySandbox {
    pub server: Server,
    pub state: ThearyState,
}

impl ThearySandbox {
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }
    /// Auth server base: the token endpoint is `{auth_url}/oauth/token`.
    pub fn auth_url(&self) -> String {
        self.base_url()
    }
    /// API base: routes are `{api_base}/background-check/v1/...`.
    pub fn api_base(&self) -> String {
        self.base_url()
    }

    /// Quick-start text; its curl commands work as printed.
    pub fn quickstart(&self, client: &ClientSpec, webhook_url: Option<&str>) -> String {
        let base = self.base_url();
        let hook = webhook_url.unwrap_or("http://127.0.0.1:9/webhooks/theary");
        let hook_note = if webhook_url.is_some() {
            String::new()
        } else {
            "# (no --webhook-url given: deliveries to this placeholder fail and show in the delivery log)\n".to_owned()
        };
        format!(
            "Theary sandbox (background-check API emulator)\n\
             ==============================================\n\
             Base URL:       {base}\n\
             Token URL:      POST {base}/oauth/token (JSON)\n\
             Orders:         {base}/background-check/v1/orders\n\
             Admin API:      {base}/__admin (deliveries, rules, advance, faults, journal,\n\
             \x20               tenants/{tenant}/webhook-config for tenant-level webhooks)\n\
             Tenant:         {tenant}\n\
             Client id:      {id}\n\
             Client secret:  {secret}\n\
             Audience:       {aud}\n\
             Step:           {step} s between a search's stages\n\
             Rules:          {rules}\n\
             \n\
             # 1. Get a token:\n\
             THEARY_TOKEN=$(curl -s {base}/oauth/token -H 'Content-Type: application/json' \\\n\
             \x20 -d '{{\"client_id\":\"{id}\",\"client_secret\":\"{secret}\",\"audience\":\"{aud}\",\"grant_type\":\"client_credentials\"}}' \\\n\
             \x20 | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n\
             # 2. Order an employment check; signed webhooks go to {hook}\n\
             {hook_note}\
             curl -s {base}/background-check/v1/orders -H \"Authorization: Bearer $THEARY_TOKEN\" -H 'Content-Type: application/json' -d '{{\n\
             \x20 \"applicant\": {{\"firstName\": \"John\", \"lastName\": \"Smith\", \"ssn\": \"123-45-6789\"}},\n\
             \x20 \"businessContext\": {{\"entityName\": \"Apple\", \"appliedJobTitle\": \"Engineer\", \"worksiteCity\": \"San Francisco\", \"worksiteState\": \"CA\", \"proposedSalary\": 100000}},\n\
             \x20 \"searchTypes\": [{{\"searchType\": \"EMPLOYMENT\", \"externalSearchId\": \"my-emp-001\"}}],\n\
             \x20 \"history\": {{\"employment\": [{{\"employerName\": \"Tech Corp\", \"position\": \"Engineer\"}}]}},\n\
             \x20 \"webhookConfig\": {{\"secret\": \"a-secret-of-16-chars-or-more\", \"fallbackEndpoint\": {{\"url\": \"{hook}\",\n\
             \x20   \"events\": [\"verification.completed\", \"verification.action_required\", \"verification.notification\"]}}}}}}'\n\
             # 3. Watch it progress (outcome by keyword in the employer name: discrepancy, norecord,\n\
             #    wrongorg, unable, thirdparty, escalate, stall; otherwise VERIFIED):\n\
             curl -s {base}/background-check/v1/orders -H \"Authorization: Bearer $THEARY_TOKEN\"\n\
             curl -s {base}/__admin/deliveries\n",
            tenant = client.tenant,
            id = client.client_id,
            secret = client.client_secret,
            aud = client.audience,
            step = self.state.config.step.as_secs_f64(),
            rules = if self.state.config.legacy_criminal {
                "seed (the Create Order document: CRIMINAL searches accepted, criminalCheck.jurisdictions required)"
            } else {
                "current (the newer docs: EMPLOYMENT and EDUCATION only; CRIMINAL and criminalCheck refused)"
            },
        )
    }
}

pub async fn spawn(config: SandboxConfig) -> std::io::Result<ThearySandbox> {
    spawn_on(common::bind_local(0).await?, config).await
}

pub async fn spawn_on(
    listener: tokio::net::TcpListener,
    config: SandboxConfig,
) -> std::io::Result<ThearySandbox> {
    let auto = config.auto_run.then_some(config.step);
    let state = ThearyState::new(config);
    let server = common::serve(listener, router(state.clone()))?;
    if let Some(step) = auto {
        engine::start_auto_run(&state, step);
    }
    Ok(ThearySandbox { server, state })
}

pub fn router(state: ThearyState) -> Router {
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
            path: "/oauth/token",
            summary: "Client-credentials token",
            body: true,
            statuses: &[200, 400, 401],
        },
        Route {
            method: HttpMethod::Get,
            path: "/health",
            summary: "Liveness",
            body: false,
            statuses: &[200],
        },
        Route {
            method: HttpMethod::Post,
            path: "/background-check/v1/orders",
            summary: "Create an order",
            body: true,
            statuses: &[201, 400, 401, 404],
        },
        Route {
            method: HttpMethod::Get,
            path: "/background-check/v1/orders",
            summary: "List orders",
            body: false,
            statuses: &[200, 400, 401],
        },
        Route {
            method: HttpMethod::Get,
            path: "/background-check/v1/orders/{id}",
            summary: "One order",
            body: false,
            statuses: &[200, 401, 404],
        },
        Route {
            method: HttpMethod::Delete,
            path: "/background-check/v1/orders/{id}",
            summary: "Cancel an order",
            body: false,
            statuses: &[200, 401, 404],
        },
        Route {
            method: HttpMethod::Get,
            path: "/background-check/v1/orders/{id}/searches",
            summary: "An order's searches",
            body: false,
            statuses: &[200, 401, 404],
        },
        Route {
            method: HttpMethod::Get,
            path: "/background-check/v1/orders/{id}/searches/{search_id}",
            summary: "One search",
            body: false,
            statuses: &[200, 401, 404],
        },
        Route {
            method: HttpMethod::Get,
            path: "/background-check/v1/orders/{id}/events",
            summary: "An order's events (stub)",
            body: false,
            statuses: &[200, 401, 404],
        },
        Route {
            method: HttpMethod::Post,
            path: "/background-check/v1/batches",
            summary: "Create a batch of orders",
            body: true,
            statuses: &[201, 400, 401],
        },
        Route {
            method: HttpMethod::Get,
            path: "/background-check/v1/batches",
            summary: "List batches",
            body: false,
            statuses: &[200, 401],
        },
        Route {
            method: HttpMethod::Get,
            path: "/background-check/v1/batches/{id}",
            summary: "One batch",
            body: false,
            statuses: &[200, 401, 404],
        },
        Route {
            method: HttpMethod::Delete,
            path: "/background-check/v1/batches/{id}",
            summary: "Delete a batch",
            body: false,
            statuses: &[200, 401, 404],
        },
        Route {
            method: HttpMethod::Post,
            path: "/background-check/v1/inbound/notifications",
            summary: "An inbound notification (a reply to a contact)",
            body: true,
            statuses: &[201, 400, 401],
        },
        Route {
            method: HttpMethod::Get,
            path: "/files/release-form/generate-upload-url",
            summary: "A signed upload URL for a release form",
            body: false,
            statuses: &[200, 400, 401],
        },
        Route {
            method: HttpMethod::Put,
            path: "/__storage/{bucket}/{*object}",
            summary: "Upload to a signed URL",
            body: false,
            statuses: &[200, 400, 403, 413],
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
            path: "/__admin/rules",
            summary: "Add an outcome rule",
            body: true,
            statuses: &[204, 400, 415, 422],
        },
        Route {
            method: HttpMethod::Get,
            path: "/__admin/tenants/{tenant}/webhook-config",
            summary: "A tenant's webhook configuration",
            body: false,
            statuses: &[200, 404],
        },
        Route {
            method: HttpMethod::Put,
            path: "/__admin/tenants/{tenant}/webhook-config",
            summary: "Set a tenant's webhook configuration",
            body: true,
            statuses: &[204, 400, 415, 422],
        },
        Route {
            method: HttpMethod::Delete,
            path: "/__admin/tenants/{tenant}/webhook-config",
            summary: "Clear a tenant's webhook configuration",
            body: false,
            statuses: &[204],
        },
        Route {
            method: HttpMethod::Post,
            path: "/__admin/advance",
            summary: "Move every open search one stage",
            body: false,
            statuses: &[200],
        },
        Route {
            method: HttpMethod::Post,
            path: "/__admin/searches/{id}/resolve",
            summary: "Resolve a search",
            body: true,
            statuses: &[204, 404, 400, 415, 422],
        },
        Route {
            method: HttpMethod::Post,
            path: "/__admin/tokens/expire",
            summary: "Expire every token",
            body: false,
            statuses: &[204],
        },
        Route {
            method: HttpMethod::Get,
            path: "/__admin/deliveries",
            summary: "Webhook deliveries made",
            body: false,
            statuses: &[200],
        },
        Route {
            method: HttpMethod::Post,
            path: "/__admin/delivery-faults",
            summary: "Set delivery faults",
            body: true,
            statuses: &[204, 400, 415, 422],
        },
        Route {
            method: HttpMethod::Delete,
            path: "/__admin/delivery-faults",
            summary: "Clear delivery faults",
            body: false,
            statuses: &[204],
        },
        Route {
            method: HttpMethod::Get,
            path: "/__admin/delivery-faults",
            summary: "Delivery faults in force and fired",
            body: false,
            statuses: &[200],
        },
    ];
    crate::openapi::describe(
        "Theary sandbox",
        "An emulator of Theary's background-check API and its test controls under /__admin.",
        &own,
    )
}
