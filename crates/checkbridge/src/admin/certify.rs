//! Go-live certification (`checkbridge certify`): the validation PageUp's guide asks of a
//! provider before a customer goes live, run as numbered steps, each PASS, FAIL (with a fix
//! in plain words) or SKIP (with why). With a test check the steps follow it through the
//! real service: reset to pending (UAT), claimed, mapped, ordered at Theary, each PageUp
//! status through to `completed`, its report link refusing an anonymous visitor and opening
//! for a reader; and the alert webhook is tried. The run is recorded (`certifications`) and
//! written as a sign-off report (`certify_report`).
//!
//! PageUp has no public call to read a check's status, so the statuses are those PageUp
//! acknowledged to checkbridge (its answers to our PUTs), read from the store while the
//! service runs: in this process by default, or a service already running on the same
//! database. A status PageUp held only between two looks is reported as passed through.

use std::time::Duration;

use anyhow::Context as _;
use outbound::RetryPolicy;
use pageup::{CheckStatus, Limits, PageUpClient, StatusDocument};
use serde::{Deserialize, Serialize};
use theary::ThearyClient;

use crate::config::{Config, PageUpEnv, TenantConfig};
use crate::domain::check::Phase;
use crate::domain::ids::TenantKey;
use crate::domain::view::{view, ReportLinks};
use crate::store::{Certification, CheckSummary, Store};
use crate::time::now_ms;

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

impl Outcome {
    /// `PASS`, `FAIL` or `SKIP`, as the report prints it.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        }
    }
}

/// One numbered step of a certification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub number: u32,
    pub name: String,
    pub outcome: Outcome,
    /// What was seen (no secrets, no candidate data).
    pub detail: String,
    /// What to do about a failure, in plain words.
    pub fix: Option<String>,
    pub started_at: i64,
    pub finished_at: i64,
}

/// Where the service that moves the test check runs.
#[derive(Debug)]
pub enum ServiceMode {
    /// Started in this process for the certified tenant only, on `service.listen` (or on
    /// this listener, whose address `service.public_base_url` must name).
    InProcess(Option<tokio::net::TcpListener>),
    /// A service already running on the same database (and serving
    /// `service.public_base_url`) is watched.
    Running,
}

/// What to certify and how long to wait.
#[derive(Debug)]
pub struct Options {
    /// The environment certified; None: the tenant's `pageup.env`.
    pub env: Option<PageUpEnv>,
    /// PageUp's id of a test check to run through; None: only the connection steps run.
    pub check: Option<String>,
    pub service: ServiceMode,
    /// How long the test check may take from claim to `completed`.
    pub timeout: Duration,
    /// How often the store is read while waiting.
    pub observe_every: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            env: None,
            check: None,
            service: ServiceMode::InProcess(None),
            timeout: Duration::from_secs(900),
            observe_every: Duration::from_millis(250),
        }
    }
}

/// A finished certification run: what the report shows and the store keeps.
#[derive(Debug, Clone, Serialize)]
pub struct Certificate {
    pub id: String,
    pub tenant: String,
    pub tenant_name: String,
    /// `uat` or `live`.
    pub env: String,
    pub pageup_instance: String,
    pub data_centre: String,
    pub check: Option<String>,
    pub steps: Vec<Step>,
    /// `pass`, `fail` or `partial` (every step run passed, but no test check was given).
    pub outcome: String,
    /// The last document PageUp acknowledged for the test check (it holds no candidate
    /// data: status, Theary's reference, the reason and per-check results with links).
    pub final_document: Option<serde_json::Value>,
    pub started_at: i64,
    pub finished_at: i64,
    pub version: String,
}

impl Certificate {
    /// Whether the run certifies the tenant.
    pub fn passed(&self) -> bool {
        self.outcome == "pass"
    }
}

/// The environment's name as the report and the store write it.
pub fn env_name(env: PageUpEnv) -> &'static str {
    match env {
        PageUpEnv::Live => "live",
        PageUpEnv::Uat => "uat",
    }
}

struct Run<'a> {
    steps: Vec<Step>,
    on_step: &'a mut (dyn FnMut(&Step) + Send),
}

impl Run<'_> {
    fn record(
        &mut self,
        name: &str,
        started_at: i64,
        outcome: Outcome,
        detail: String,
        fix: Option<String>,
    ) -> Outcome {
        let step = Step {
            number: u32::try_from(self.steps.len() + 1).unwrap_or(u32::MAX),
            name: name.to_owned(),
            outcome,
            detail,
            fix,
            started_at,
            finished_at: now_ms(),
        };
        (self.on_step)(&step);
        self.steps.push(step);
        outcome
    }

    fn pass(&mut self, name: &str, started_at: i64, detail: String) -> Outcome {
        self.record(name, started_at, Outcome::Pass, detail, None)
    }

    fn fail(&mut self, name: &str, started_at: i64, detail: String, fix: String) -> Outcome {
        self.record(name, started_at, Outcome::Fail, detail, Some(fix))
    }

    fn skip(&mut self, name: &str, detail: String) -> Outcome {
        self.record(name, now_ms(), Outcome::Skip, detail, None)
    }
}

/// The steps that follow a test check, in order (skipped together when one cannot run).
const CHECK_STEPS: &[&str] = &[
    "UAT reset of the test check (queued, then pending)",
    "service running",
    "claim: PageUp acknowledges queued",
    "mapping: the invitation becomes an order",
    "order placed at Theary",
    "PageUp acknowledges new, with Theary's reference",
    "PageUp acknowledges inprogress",
    "PageUp acknowledges completed, with per-check results",
    "report link refuses an anonymous visitor",
    "report link opens for a reader of the tenant",
];

/// Runs the certification of tenant `key` and records it. `on_step` sees each step as it
/// ends (the command line prints it). Errors are only the store failing to record; every
/// other failure is a FAIL step.
pub async fn run(
    config: &Config,
    store: &Store,
    key: &TenantKey,
    options: Options,
    on_step: &mut (dyn FnMut(&Step) + Send),
) -> anyhow::Result<Certificate> {
    let started_at = now_ms();
    let t = config
        .tenants
        .get(key.as_str())
        .ok_or_else(|| anyhow::anyhow!("tenant {key:?} is not configured (tenants.{key})"))?;
    let env = options.env.unwrap_or(t.pageup.env);
    let mut run = Run {
        steps: Vec::new(),
        on_step,
    };
    let mut final_document = None;
    let check_id = options.check.clone();

    let connected = connection_steps(&mut run, config, key, t, env).await;
    match (check_id.as_deref(), connected) {
        (None, _) => {
            for name in CHECK_STEPS {
                run.skip(
                    name,
                    "no test check given: run again with --check PAGEUP_ID to certify".into(),
                );
            }
        }
        (Some(_), false) => {
            for name in CHECK_STEPS {
                run.skip(name, "not run: an earlier step failed".into());
            }
        }
        (Some(check), true) => {
            final_document = check_steps(&mut run, config, store, key, t, env, check, options)
                .await
                .context("reading the test check from the database")?;
        }
    }
    alert_step(&mut run, config, key, env).await;

    let failed = run.steps.iter().any(|s| s.outcome == Outcome::Fail);
    let outcome = if failed {
        "fail"
    } else if run
        .steps
        .iter()
        .any(|s| s.name == CHECK_STEPS[2] && s.outcome == Outcome::Pass)
    {
        "pass"
    } else {
        "partial"
    };
    let cert = Certificate {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: key.to_string(),
        tenant_name: t.name.clone().unwrap_or_else(|| key.to_string()),
        env: env_name(env).to_owned(),
        pageup_instance: t.pageup.tenant_id.clone(),
        data_centre: t.pageup.dc.clone(),
        check: check_id,
        steps: run.steps,
        outcome: outcome.to_owned(),
        final_document,
        started_at,
        finished_at: now_ms(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    Ok(cert)
}

/// Records `cert` with the digest of the report written for it.
pub async fn record(store: &Store, cert: &Certificate, report_sha256: &str) -> anyhow::Result<()> {
    store
        .record_certification(&Certification {
            id: cert.id.clone(),
            tenant: TenantKey::from(cert.tenant.as_str()),
            env: cert.env.clone(),
            outcome: cert.outcome.clone(),
            pageup_check: cert.check.clone(),
            steps: serde_json::to_string(&cert.steps)?,
            report_sha256: report_sha256.to_owned(),
            started_at: cert.started_at,
            finished_at: cert.finished_at,
        })
        .await
        .context("recording the certification")?;
    Ok(())
}

/// Configuration, both tokens and the pending list; false when the check cannot follow.
async fn connection_steps(
    run: &mut Run<'_>,
    config: &Config,
    key: &TenantKey,
    t: &TenantConfig,
    env: PageUpEnv,
) -> bool {
    let mut ok = true;

    let at = now_ms();
    let name = "configuration of the tenant";
    if t.pageup.env != env {
        run.fail(
            name,
            at,
            format!(
                "tenants.{key}.pageup.env is {}, not {}",
                env_name(t.pageup.env),
                env_name(env)
            ),
            format!(
                "certify the environment the tenant is configured for (--env {}), or set tenants.{key}.pageup.env = \"{}\" with that environment's credentials",
                env_name(t.pageup.env),
                env_name(env)
            ),
        );
        ok = false;
    } else if !t.enabled {
        run.fail(
            name,
            at,
            format!("tenants.{key}.enabled is false: the tenant is not polled"),
            format!("set tenants.{key}.enabled = true"),
        );
        ok = false;
    } else {
        run.pass(
            name,
            at,
            format!(
                "PageUp {} instance {} in {}, Theary {:?}",
                env_name(env),
                t.pageup.tenant_id,
                t.pageup.dc,
                t.theary.environment
            ),
        );
    }

    let p = t.pageup_tenant();
    let pageup = match PageUpClient::new(RetryPolicy::none(), Limits::default()) {
        Ok(c) => c,
        Err(e) => {
            run.fail(
                "PageUp token with both scopes and the partner claim",
                now_ms(),
                format!("no HTTP client: {e}"),
                "check the machine's TLS setup".into(),
            );
            return false;
        }
    };
    let at = now_ms();
    let name = "PageUp token with both scopes and the partner claim";
    match pageup.token_claims(&p).await {
        Err(e) => {
            run.fail(name, at, e.to_string(), token_fix(&e, key, &p));
            ok = false;
        }
        Ok(claims) => {
            let missing: Vec<&String> = match &claims.scopes {
                Some(have) => p.scopes.iter().filter(|s| !have.contains(s)).collect(),
                None => Vec::new(),
            };
            if !missing.is_empty() {
                let missing = missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                run.fail(
                    name,
                    at,
                    format!("the token lacks scope {missing}"),
                    format!(
                        "ask PageUp to grant client {} the scope {missing} for instance {}",
                        p.client_id, p.tenant_id
                    ),
                );
                ok = false;
            } else if claims.has_partner == Some(false) {
                run.fail(
                    name,
                    at,
                    format!("the token has no {} claim", p.partner_claim),
                    format!(
                        "ask PageUp to link client {} to your partner account, so its tokens carry the {} claim (if PageUp names the claim otherwise, set tenants.{key}.pageup.partner_claim)",
                        p.client_id, p.partner_claim
                    ),
                );
                ok = false;
            } else {
                let detail = match (&claims.scopes, claims.has_partner) {
                    (Some(s), Some(true)) => {
                        format!("scopes {} and the {} claim", s.join(" "), p.partner_claim)
                    }
                    _ => {
                        "token obtained; it does not show its claims, so the calls below check them"
                            .into()
                    }
                };
                run.pass(name, at, detail);
            }
        }
    }

    let at = now_ms();
    let name = "Theary token";
    let theary_ok = match ThearyClient::new(RetryPolicy::none()) {
        Ok(theary) => match theary.check_credentials(&t.theary_config()).await {
            Ok(()) => {
                run.pass(name, at, "token obtained".into());
                true
            }
            Err(e) => {
                run.fail(
                    name,
                    at,
                    e.to_string(),
                    format!(
                        "check tenants.{key}.theary.client_id and the secret (CHECKBRIDGE_TENANTS__{}__THEARY__CLIENT_SECRET) with Theary, tenants.{key}.theary.environment and audience, and any auth_url override (a base URL: checkbridge adds /oauth/token)",
                        key.as_str().to_ascii_uppercase()
                    ),
                );
                false
            }
        },
        Err(e) => {
            run.fail(
                name,
                at,
                format!("no HTTP client: {e}"),
                "check the machine's TLS setup".into(),
            );
            false
        }
    };
    ok &= theary_ok;

    let at = now_ms();
    let name = "PageUp pending list";
    match pageup.list_pending_raw(&p).await {
        Ok(raw) => {
            let n = crate::intake::raw_items(&raw).map(|i| i.len());
            match n {
                Ok(n) => run.pass(name, at, format!("{n} pending on the first page")),
                Err(e) => {
                    ok = false;
                    run.fail(
                        name,
                        at,
                        format!("PageUp's answer is not a list of invitations: {e}"),
                        format!(
                            "compare tenants.{key}.pageup.list_url with the URL PageUp gave you; checkbridge pageup inspect --tenant {key} shows the raw answer"
                        ),
                    )
                }
            };
        }
        Err(e) => {
            ok = false;
            run.fail(name, at, e.to_string(), token_fix(&e, key, &p));
        }
    }
    let _ = config;
    ok
}

/// A fix for a PageUp failure, in plain words.
fn token_fix(e: &pageup::Error, key: &TenantKey, p: &pageup::PageUpTenant) -> String {
    match e {
        pageup::Error::MissingScope { scope, .. } => format!(
            "ask PageUp to grant client {} the scope {scope} for instance {}",
            p.client_id, p.tenant_id
        ),
        pageup::Error::MissingPartnerClaim { claim, .. } => format!(
            "ask PageUp to link client {} to your partner account, so its tokens carry the {claim} claim",
            p.client_id
        ),
        e if e.is_auth() => format!(
            "check tenants.{key}.pageup.client_id, the secret (CHECKBRIDGE_TENANTS__{}__PAGEUP__CLIENT_SECRET), pageup.env and pageup.dc with PageUp",
            key.as_str().to_ascii_uppercase()
        ),
        _ => format!(
            "check that PageUp is reachable from this machine and tenants.{key}.pageup (dc, env, URL overrides) matches what PageUp gave you"
        ),
    }
}

/// What the test check looked like at one look.
#[derive(Debug, Clone)]
struct Seen {
    summary: CheckSummary,
    /// The status PageUp acknowledged (None while a newer document is owed).
    acked: Option<StatusDocument>,
}

async fn look(
    store: &Store,
    links: &ReportLinks,
    t: &TenantConfig,
    key: &TenantKey,
    pageup_id: &str,
) -> Result<Option<Seen>, crate::store::StoreError> {
    let Some(summary) = store.find_check(key, pageup_id).await? else {
        return Ok(None);
    };
    if summary.pageup_id.as_str() != pageup_id {
        // Found by our id, not PageUp's: not the test check.
        return Ok(None);
    }
    let acked = if summary.acked_version >= summary.desired_version {
        store
            .check_record(key, &summary.id)
            .await?
            .map(|r| view(&r, links, t).document)
    } else if summary.acked_version >= 1 && summary.desired_version >= 1 {
        // The claim was acknowledged; a later document is owed.
        Some(StatusDocument::new(CheckStatus::Queued))
    } else {
        None
    };
    Ok(Some(Seen { summary, acked }))
}

fn rank(status: &CheckStatus) -> u8 {
    match status {
        CheckStatus::Pending => 0,
        CheckStatus::Queued => 1,
        CheckStatus::New => 2,
        CheckStatus::InProgress => 3,
        _ => 4,
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "the run's context, passed down rather than bundled for one caller"
)]
async fn check_steps(
    run: &mut Run<'_>,
    config: &Config,
    store: &Store,
    key: &TenantKey,
    t: &TenantConfig,
    env: PageUpEnv,
    check: &str,
    options: Options,
) -> Result<Option<serde_json::Value>, crate::store::StoreError> {
    let links = ReportLinks::new(&config.service.public_base_url);
    let fresh =
        "create a new test check in PageUp UAT (or ask PageUp for one) and certify with its id";

    // 1. The reset (UAT) or a check already pending (live).
    let at = now_ms();
    let name = CHECK_STEPS[0];
    if let Some(held) = store.find_check(key, check).await? {
        run.fail(
            name,
            at,
            format!(
                "checkbridge already holds PageUp check {check} (as check {}, {}): a reset would only send its existing result again",
                held.id, held.phase
            ),
            fresh.into(),
        );
        skip_rest(run, 1);
        return Ok(None);
    }
    if env == PageUpEnv::Uat {
        match reset(t, check).await {
            Ok(()) => run.pass(
                name,
                at,
                format!("PageUp check {check} set queued, then pending"),
            ),
            Err(e) => {
                run.fail(
                    name,
                    at,
                    e,
                    format!(
                        "check the id of the test check in PageUp UAT ({check}); PageUp must accept a PUT for it"
                    ),
                );
                skip_rest(run, 1);
                return Ok(None);
            }
        };
    } else {
        run.skip(
            name,
            "live: a real check is never reset; it must be pending in PageUp now".into(),
        );
    }

    // 2. The service.
    let at = now_ms();
    let name = CHECK_STEPS[1];
    let running = match options.service {
        ServiceMode::Running => {
            run.pass(
                name,
                at,
                "watching the service already running on this database".into(),
            );
            None
        }
        ServiceMode::InProcess(listener) => {
            let mut only = config.clone();
            only.tenants.retain(|k, _| k == key.as_str());
            match crate::service::start_on(&only, store.clone(), listener).await {
                Ok(r) => {
                    let addr = r
                        .addr
                        .map(|a| format!(" (HTTP on {a})"))
                        .unwrap_or_default();
                    run.pass(
                        name,
                        at,
                        format!("started in this process for tenant {key} only{addr}"),
                    );
                    Some(r)
                }
                Err(e) => {
                    run.fail(
                        name,
                        at,
                        format!("{e:#}"),
                        format!(
                            "if checkbridge already serves {} on this database, run certify with --service-running; otherwise fix what the error names",
                            config.service.public_base_url
                        ),
                    );
                    skip_rest(run, 2);
                    return Ok(None);
                }
            }
        }
    };
    // Poll the tenant now, not at its next interval.
    let _ = store.postpone_tenant_poll(key, now_ms(), now_ms()).await;

    let timing = Timing {
        timeout: options.timeout,
        every: options.observe_every,
    };
    let result = follow(run, config, store, &links, key, t, check, &timing).await;
    if let Some(r) = running {
        r.stop().await;
    }
    result
}

/// How long to wait for the test check, and how often to look.
#[derive(Debug, Clone, Copy)]
struct Timing {
    timeout: Duration,
    every: Duration,
}

fn skip_rest(run: &mut Run<'_>, from: usize) {
    for name in &CHECK_STEPS[from..] {
        run.skip(name, "not run: an earlier step failed".into());
    }
}

async fn reset(t: &TenantConfig, check: &str) -> Result<(), String> {
    let client =
        PageUpClient::new(RetryPolicy::default(), Limits::default()).map_err(|e| e.to_string())?;
    let p = t.pageup_tenant();
    for status in [CheckStatus::Queued, CheckStatus::Pending] {
        let doc = StatusDocument::new(status);
        client
            .update_status(&p, check, &doc)
            .await
            .map_err(|e| format!("setting check {check} to {}: {e}", doc.status.as_str()))?;
    }
    Ok(())
}

/// Follows the test check from its claim to `completed`, then its report link.
#[expect(
    clippy::too_many_arguments,
    reason = "the run's context, passed down rather than bundled for one caller"
)]
async fn follow(
    run: &mut Run<'_>,
    config: &Config,
    store: &Store,
    links: &ReportLinks,
    key: &TenantKey,
    t: &TenantConfig,
    check: &str,
    timing: &Timing,
) -> Result<Option<serde_json::Value>, crate::store::StoreError> {
    let deadline = tokio::time::Instant::now() + timing.timeout;
    // Step by step: the index of the next step to decide, and when it began.
    let mut next = 2;
    let mut step_at = now_ms();
    let mut seen_new = false;
    let mut seen_inprogress = false;
    let mut last: Option<Seen> = None;
    loop {
        let timed_out = tokio::time::Instant::now() >= deadline;
        let seen = look(store, links, t, key, check).await?;
        if let Some(s) = &seen {
            let status = s.acked.as_ref().map(|d| d.status.clone());
            let r = status.as_ref().map_or(0, rank);
            seen_new |= status == Some(CheckStatus::New);
            seen_inprogress |= status == Some(CheckStatus::InProgress);
            // Claim.
            if next == 2 && r >= 1 {
                run.pass(
                    CHECK_STEPS[2],
                    step_at,
                    format!(
                        "claimed as check {}; PageUp acknowledged queued",
                        s.summary.id
                    ),
                );
                next = 3;
                step_at = now_ms();
            }
            // Mapping and order.
            if next == 3 {
                if let Some(reference) = &s.summary.reference {
                    run.pass(
                        CHECK_STEPS[3],
                        step_at,
                        "the mapped invitation had what the package needs".into(),
                    );
                    run.pass(CHECK_STEPS[4], step_at, format!("Theary order {reference}"));
                    next = 5;
                    step_at = now_ms();
                } else if s.summary.phase == Phase::Failed {
                    let reason = s
                        .acked
                        .as_ref()
                        .map(|d| d.reason_for_fail.clone())
                        .filter(|r| !r.is_empty())
                        .or_else(|| s.summary.last_error.clone())
                        .unwrap_or_else(|| "the check failed before it was ordered".into());
                    let theary_refused = s.summary.order_attempts > 0;
                    if theary_refused {
                        run.pass(
                            CHECK_STEPS[3],
                            step_at,
                            "the invitation was mapped into an order".into(),
                        );
                        run.fail(
                            CHECK_STEPS[4],
                            step_at,
                            reason,
                            format!(
                                "checkbridge checks show --tenant {key} --check {check} has Theary's answer; fix the business defaults or package mapping it names, then certify with a new test check"
                            ),
                        );
                    } else {
                        run.fail(
                            CHECK_STEPS[3],
                            step_at,
                            reason,
                            format!(
                                "fit the tenant's intake mapping or package codes (checkbridge pageup inspect --tenant {key} --map shows what is missing; docs/intake.md), then certify with a new test check"
                            ),
                        );
                        run.skip(CHECK_STEPS[4], "not run: the check was not ordered".into());
                    }
                    skip_rest(run, 5);
                    return Ok(s.acked.as_ref().and_then(|d| serde_json::to_value(d).ok()));
                }
            }
            // `new`.
            if next == 5 && r >= 2 {
                let reference = s
                    .acked
                    .as_ref()
                    .map(|d| d.reference_number.clone())
                    .unwrap_or_default();
                if reference.is_empty() {
                    run.fail(
                        CHECK_STEPS[5],
                        step_at,
                        "PageUp holds no reference number".into(),
                        "report this to checkbridge's maintainers with the check's id".into(),
                    );
                    skip_rest(run, 6);
                    return Ok(None);
                }
                let how = if seen_new {
                    "acknowledged"
                } else {
                    "passed through (PageUp already holds a later status)"
                };
                run.pass(
                    CHECK_STEPS[5],
                    step_at,
                    format!("{how}; reference {reference}"),
                );
                next = 6;
                step_at = now_ms();
            }
            if next == 6 && r >= 3 {
                if seen_inprogress {
                    run.pass(
                        CHECK_STEPS[6],
                        step_at,
                        "acknowledged, with partial results".into(),
                    );
                } else {
                    // Not a failure: `inprogress` is sent only while some searches have
                    // results and others are still open.
                    run.record(
                        CHECK_STEPS[6],
                        step_at,
                        Outcome::Skip,
                        "not seen: PageUp went on to a later status (inprogress is sent only while some searches have finished and others are open; this check's finished together, or between two looks)".into(),
                        None,
                    );
                }
                next = 7;
                step_at = now_ms();
            }
            if next == 7 && r >= 4 {
                let doc = s
                    .acked
                    .clone()
                    .unwrap_or_else(|| StatusDocument::new(CheckStatus::Completed));
                let value = serde_json::to_value(&doc).ok();
                if doc.status == CheckStatus::Completed {
                    run.pass(
                        CHECK_STEPS[7],
                        step_at,
                        format!(
                            "{} result(s): {}",
                            doc.results.len(),
                            doc.results
                                .iter()
                                .map(|r| format!("{} {}", r.report_type, r.status))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    report_steps(run, config, store, links, key, t, &s.summary).await;
                } else {
                    run.fail(
                        CHECK_STEPS[7],
                        step_at,
                        format!(
                            "PageUp holds {}{}",
                            doc.status.as_str(),
                            if doc.reason_for_fail.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", doc.reason_for_fail)
                            }
                        ),
                        format!(
                            "checkbridge checks show --tenant {key} --check {check} shows why; certify again with a new test check once it is fixed"
                        ),
                    );
                    skip_rest(run, 8);
                }
                return Ok(value);
            }
        }
        last = seen.or(last);
        if timed_out {
            let waited = timing.timeout.as_secs();
            let (detail, fix) = match next {
                2 => (
                    format!("PageUp check {check} was not claimed within {waited} s"),
                    format!(
                        "check that PageUp lists it as pending (checkbridge pageup inspect --tenant {key}) and that the id is PageUp's; the error log (checkbridge logs export --tenant {key}) names failed calls"
                    ),
                ),
                3 => (
                    format!("the check was claimed but not ordered within {waited} s"),
                    format!(
                        "checkbridge checks show --tenant {key} --check {check} shows the ordering error"
                    ),
                ),
                _ => (
                    format!(
                        "PageUp did not acknowledge the next status within {waited} s (last acknowledged: {})",
                        last.as_ref()
                            .and_then(|s| s.acked.as_ref())
                            .map_or("none", |d| d.status.as_str())
                    ),
                    format!(
                        "check that Theary's webhooks reach {}/webhooks/theary/{key} and that PageUp accepts our updates (checkbridge checks show --tenant {key} --check {check})",
                        config.service.public_base_url.trim_end_matches('/')
                    ),
                ),
            };
            let from = if next == 3 { 3 } else { next };
            run.fail(CHECK_STEPS[from], step_at, detail, fix);
            skip_rest(run, from + 1);
            return Ok(last
                .as_ref()
                .and_then(|s| s.acked.as_ref())
                .and_then(|d| serde_json::to_value(d).ok()));
        }
        tokio::time::sleep(timing.every).await;
    }
}

/// The report link: an anonymous visitor is refused, a reader of the tenant sees it.
async fn report_steps(
    run: &mut Run<'_>,
    config: &Config,
    store: &Store,
    links: &ReportLinks,
    key: &TenantKey,
    t: &TenantConfig,
    summary: &CheckSummary,
) {
    let link = links.link(key, &summary.id, None);
    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            run.fail(
                CHECK_STEPS[8],
                now_ms(),
                e.to_string(),
                "check the machine's TLS setup".into(),
            );
            run.skip(CHECK_STEPS[9], "not run: an earlier step failed".into());
            return;
        }
    };
    let unreachable = format!(
        "service.public_base_url ({}) must reach this service from here, as it must from recruiters' browsers",
        config.service.public_base_url
    );
    let at = now_ms();
    match http.get(&link).send().await {
        Ok(r)
            if r.status().is_redirection()
                || r.status().as_u16() == 401
                || r.status().as_u16() == 403 =>
        {
            let to = r
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| format!(", sent to {}", l.split('?').next().unwrap_or(l)))
                .unwrap_or_default();
            run.pass(
                CHECK_STEPS[8],
                at,
                format!("answered {}{to}", r.status().as_u16()),
            );
        }
        Ok(r) => {
            run.fail(
                CHECK_STEPS[8],
                at,
                format!("an anonymous GET of the report link answered {}", r.status().as_u16()),
                "something in front of checkbridge answers for it (a cache or proxy): report links must reach checkbridge, which asks for a sign-in".into(),
            );
        }
        Err(e) => {
            run.fail(
                CHECK_STEPS[8],
                at,
                format!(
                    "the report link could not be opened: {}",
                    crate::error::error_chain(&e.without_url())
                ),
                unreachable.clone(),
            );
            run.skip(
                CHECK_STEPS[9],
                "not run: the report link could not be opened".into(),
            );
            return;
        }
    }

    let at = now_ms();
    let password_allowed = t.sso.as_ref().is_none_or(|s| s.password_sign_in);
    if !password_allowed {
        run.skip(
            CHECK_STEPS[9],
            "the tenant's readers sign in only through its identity provider: a recruiter opens the report link from PageUp and signs in (initial the line on the sign-off)".into(),
        );
        return;
    }
    let suffix: u32 = rand::random();
    let username = format!("certify-{suffix:08x}@{key}");
    let password = crate::admin::users::generate_password();
    match crate::admin::users::add_reader(store, key, &username, &password).await {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            run.fail(
                CHECK_STEPS[9],
                at,
                "a temporary reader could not be added".into(),
                "check the database is writable and run again".into(),
            );
            return;
        }
    }
    let outcome = sign_in_and_open(&http, config, &link, &username, &password, summary).await;
    // The temporary reader goes whatever happened (its sign-in and view stay recorded).
    let _ = crate::admin::users::change(
        store,
        &username,
        crate::admin::users::Change::Remove,
        "certify",
    )
    .await;
    match outcome {
        Ok(detail) => {
            run.pass(CHECK_STEPS[9], at, detail);
        }
        Err(detail) => {
            run.fail(CHECK_STEPS[9], at, detail, unreachable);
        }
    }
}

/// Signs in through the sign-in form as a reader would, then opens the report.
async fn sign_in_and_open(
    http: &reqwest::Client,
    config: &Config,
    link: &str,
    username: &str,
    password: &str,
    summary: &CheckSummary,
) -> Result<String, String> {
    let base = config.service.public_base_url.trim_end_matches('/');
    let cookie = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                v.split(';')
                    .next()
                    .and_then(|kv| kv.strip_prefix(&format!("{name}=")))
                    .map(str::to_owned)
            })
    };
    let err = |e: reqwest::Error| crate::error::error_chain(&e.without_url());
    let page = http
        .get(format!("{base}/login"))
        .send()
        .await
        .map_err(err)?;
    let csrf = cookie(&page, "cb_login_csrf").ok_or_else(|| {
        format!(
            "the sign-in page answered {} without a form",
            page.status().as_u16()
        )
    })?;
    let next = link.strip_prefix(base).unwrap_or(link).to_owned();
    let signed = http
        .post(format!("{base}/login"))
        .header(reqwest::header::COOKIE, format!("cb_login_csrf={csrf}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", username),
            ("password", password),
            ("next", next.as_str()),
        ])
        .send()
        .await
        .map_err(err)?;
    let session = cookie(&signed, "cb_session").ok_or_else(|| {
        format!(
            "signing in as a temporary reader answered {} without a session",
            signed.status().as_u16()
        )
    })?;
    let report = http
        .get(link)
        .header(reqwest::header::COOKIE, format!("cb_session={session}"))
        .send()
        .await
        .map_err(err)?;
    let status = report.status().as_u16();
    let body = report.text().await.map_err(err)?;
    if status == 200 && body.contains(summary.pageup_id.as_str()) {
        Ok("a temporary reader signed in through the sign-in form and read the report (the reader is removed again; both stay in the access record)".into())
    } else {
        Err(format!("the signed-in reader's report answered {status}"))
    }
}

/// The alert webhook: a test alert must be accepted.
async fn alert_step(run: &mut Run<'_>, config: &Config, key: &TenantKey, env: PageUpEnv) {
    use secrecy::ExposeSecret as _;
    let at = now_ms();
    let name = "alert webhook reachable";
    let url = config
        .alerts
        .webhook_url
        .as_ref()
        .map(|u| u.expose_secret().trim().to_owned())
        .filter(|u| !u.is_empty());
    let Some(url) = url else {
        run.fail(
            name,
            at,
            "no alert webhook is configured: health issues would not be announced".into(),
            "set [alerts] webhook_url (through CHECKBRIDGE_ALERTS__WEBHOOK_URL: it is a credential), e.g. a Slack incoming webhook".into(),
        );
        return;
    };
    let label = config
        .alerts
        .environment
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(|e| format!(" [{}]", e.trim()))
        .unwrap_or_default();
    let body = serde_json::json!({
        "text": format!("checkbridge{label}: tenant {key}: certification test alert ({}); no action needed", env_name(env)),
        "event": "certification.test",
        "issue": { "tenant": key.as_str(), "kind": "certification_test" },
    });
    let sent = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http.post(&url).json(&body).send().await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(r) if r.status().is_success() => {
            run.pass(
                name,
                at,
                format!("a test alert was accepted ({})", r.status().as_u16()),
            );
        }
        Ok(r) => {
            run.fail(
                name,
                at,
                format!("the alert webhook answered {}", r.status().as_u16()),
                "check alerts.webhook_url with whoever runs the receiving end (a revoked Slack webhook answers 403 or 404)".into(),
            );
        }
        // The URL is a credential: the error is reported without it.
        Err(e) => {
            run.fail(
                name,
                at,
                format!(
                    "the alert webhook could not be reached ({})",
                    crate::error::error_chain(&e.without_url())
                ),
                "check alerts.webhook_url, and that this machine may reach it (proxy, firewall)"
                    .into(),
            );
        }
    }
}
