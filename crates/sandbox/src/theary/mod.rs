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
    api::routes(&state).nest("/__admin", admin::routes(&state))
}
