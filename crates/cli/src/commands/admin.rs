//! Operators' commands: `checks list|show|retry|cancel`, `tenants list|test`, and
//! `pageup inspect|reset` for fitting and testing against a tenant's UAT.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use outbound::RetryPolicy;
use pageup::{CheckStatus, Limits, PageUpClient, StatusDocument};
use serde_json::{json, Value};
use theary::ThearyClient;

use checkbridge::admin::checks::when_json;
use checkbridge::config::{Config, TenantConfig};
use checkbridge::domain::ids::TenantKey;
use checkbridge::domain::view::ReportLinks;
use checkbridge::store::Store;
use checkbridge::time::now_ms;

/// Where the configuration comes from (every admin command reads it).
#[derive(Debug, Args)]
pub struct ConfigFile {
    /// TOML file (see checkbridge.example.toml); CHECKBRIDGE_* variables override it.
    #[arg(long, env = "CHECKBRIDGE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ChecksArgs {
    #[command(flatten)]
    pub file: ConfigFile,
    /// `list` and `show` print one JSON document (shapes in docs/operations.md).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: ChecksCommand,
}

#[derive(Debug, Subcommand)]
pub enum ChecksCommand {
    /// A tenant's checks, newest first, optionally narrowed.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Only checks in this phase: claimed, ordered, failed or cancelled.
        #[arg(long)]
        phase: Option<String>,
        /// Only checks claimed within this period (e.g. 30m, 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Only checks owing an order or a PageUp update.
        #[arg(long)]
        owing: bool,
        /// Only checks whose last order or PageUp update failed.
        #[arg(long)]
        errors: bool,
    },
    /// One check (our id or PageUp's): state, searches, access record and errors.
    Show {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        check: String,
    },
    /// Make a check's owed work due now (its order if not placed, its PageUp document).
    Retry {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        check: String,
    },
    /// Email the candidate the candidate form's link again (the same link, as a reminder
    /// once the invitation has gone out), at once; a running service sends it.
    ResendInvite {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        check: String,
    },
    /// Cancel a check: the order is cancelled at Theary, PageUp is told `cancelled`.
    Cancel {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        check: String,
    },
}

#[derive(Debug, Args)]
pub struct TenantsArgs {
    #[command(flatten)]
    pub file: ConfigFile,
    /// `list` and `health` print one JSON document (shapes in docs/operations.md).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: TenantsCommand,
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Every tenant with its poll state and owed work.
    List,
    /// Get tokens from PageUp and Theary and make one GET of pending checks; say in plain
    /// words what is wrong when something fails.
    Test {
        #[arg(long)]
        tenant: String,
    },
    /// Health issues: the open ones, or with `--days` also those resolved lately.
    Health {
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Also show issues opened in the last this many days.
        #[arg(long)]
        days: Option<u32>,
    },
}

#[derive(Debug, Args)]
pub struct PageUpArgs {
    #[command(flatten)]
    pub file: ConfigFile,
    #[command(subcommand)]
    pub command: PageUpCommand,
}

#[derive(Debug, Subcommand)]
pub enum PageUpCommand {
    /// Print PageUp's raw answer to the pending-checks GET, to fit the intake mapping to the
    /// real payload (read only: nothing is claimed). It holds candidate data: keep the
    /// output out of tickets and chats. With `--map`, each invitation masked, the canonical
    /// invitation the tenant's mapping makes of it, and the fields filled, missing and
    /// ignored.
    Inspect {
        #[arg(long)]
        tenant: String,
        /// Run the tenant's intake mapping on each invitation and show the report.
        #[arg(long)]
        map: bool,
        /// With `--map`: show the values (candidate data) instead of masking them.
        #[arg(long, requires = "map")]
        show_pii: bool,
        /// With `--map`: print one JSON document (its shape in docs/intake.md).
        #[arg(long, requires = "map")]
        json: bool,
    },
    /// Schema drift: the field paths remembered for the tenant's invitations and the drift
    /// open against them ("PageUp payload changed"); `--ack` accepts the new shape and
    /// resolves the issue.
    Drift {
        #[arg(long)]
        tenant: String,
        /// Accept the new shape: close the drift and resolve its health issue.
        #[arg(long)]
        ack: bool,
    },
    /// Put a check back to pending (PUT queued, then pending), as PageUp's guide suggests
    /// for repeating a test in UAT.
    Reset {
        #[arg(long)]
        tenant: String,
        /// PageUp's check id.
        #[arg(long)]
        check: String,
    },
}

/// The tenant named on the command line, with its configuration.
fn tenant<'a>(config: &'a Config, key: &str) -> anyhow::Result<(TenantKey, &'a TenantConfig)> {
    config
        .tenants
        .get(key)
        .map(|t| (TenantKey::from(key), t))
        .ok_or_else(|| anyhow::anyhow!("tenant {key:?} is not configured (tenants.{key})"))
}

fn when(ms: i64) -> String {
    let t = checkbridge::time::rfc3339(ms);
    if t.is_empty() {
        "-".into()
    } else {
        t
    }
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::connect(&config.service.database_url)
        .await
        .context("opening the database")
}

pub async fn checks(args: ChecksArgs) -> anyhow::Result<()> {
    use checkbridge::admin::checks;
    let config = Config::load(args.file.config.as_deref(), std::env::vars())?;
    let mut out = std::io::stdout().lock();
    match args.command {
        ChecksCommand::List {
            tenant: key,
            limit,
            phase,
            since,
            owing,
            errors,
        } => {
            let (key, _) = tenant(&config, &key)?;
            let filter = checks::filter(&key, phase.as_deref(), since.as_deref(), owing, errors)
                .map_err(|e| anyhow::anyhow!("--{e}"))?;
            let store = open_store(&config).await?;
            let found = checks::list(&store, &filter, limit).await?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string(&found)?)?;
                return Ok(());
            }
            writeln!(
                out,
                "{:<10} {:<36} {:<9} {:<7} {:<25} last error",
                "pageup id", "check", "phase", "pageup", "updated"
            )?;
            for c in found {
                writeln!(
                    out,
                    "{:<10} {:<36} {:<9} {:<7} {:<25} {}",
                    c.pageup_id,
                    c.check,
                    c.phase,
                    c.pageup,
                    c.updated_at.as_deref().unwrap_or("-"),
                    c.last_error.unwrap_or_default()
                )?;
            }
        }
        ChecksCommand::Show { tenant: key, check } => {
            let (key, cfg) = tenant(&config, &key)?;
            let store = open_store(&config).await?;
            let links = ReportLinks::new(&config.service.public_base_url);
            let c = checks::detail(&store, &links, cfg, &key, &check)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no check {check:?} in tenant {key}"))?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string(&c)?)?;
                return Ok(());
            }
            let at = |t: &Option<String>| t.clone().unwrap_or_else(|| "-".into());
            writeln!(
                out,
                "check {} (PageUp {}) in tenant {}",
                c.check, c.pageup_id, c.tenant
            )?;
            writeln!(
                out,
                "  PageUp status {} (once every owed update has landed), phase {}, Theary order {}",
                c.pageup_status,
                c.phase,
                c.reference.as_deref().unwrap_or("-")
            )?;
            writeln!(
                out,
                "  PageUp document version {} of {} acknowledged",
                c.acked_version, c.desired_version
            )?;
            writeln!(
                out,
                "  order attempts {}, claimed {}, last change {}",
                c.order_attempts,
                at(&c.claimed_at),
                at(&c.updated_at)
            )?;
            for (what, e) in [
                ("ordering", &c.last_order_error),
                ("PageUp update", &c.last_pageup_error),
            ] {
                if let Some(e) = e {
                    writeln!(out, "  last {what} error: {e}")?;
                }
            }
            for s in &c.searches {
                writeln!(
                    out,
                    "  search {} {}: {}{}{} -> PageUp {}",
                    s.search_type,
                    s.id,
                    s.state,
                    s.outcome
                        .as_ref()
                        .map(|o| format!(" {o}"))
                        .unwrap_or_default(),
                    if s.discrepancy { " (discrepancy)" } else { "" },
                    s.pageup_status
                )?;
                for e in &s.events {
                    writeln!(out, "    event {} {}", e.kind, e.id)?;
                }
            }
            if let Some(overall) = &c.overall {
                writeln!(out, "  overall result {overall}")?;
            }
            if let Some(k) = &c.candidate {
                writeln!(
                    out,
                    "  candidate {}: asked for {}; invited {}, {} reminder(s) sent, expires {}{}{}",
                    k.state,
                    k.asked.join(", "),
                    at(&k.invited_at),
                    k.reminders_sent,
                    at(&k.expires_at),
                    k.submitted_at
                        .as_ref()
                        .map(|t| format!(", submitted {t}"))
                        .unwrap_or_default(),
                    k.last_mail_error
                        .as_ref()
                        .map(|e| format!("; last mail error: {e}"))
                        .unwrap_or_default()
                )?;
            }
            for r in &c.access {
                writeln!(out, "  {} {} by {}", at(&r.at), r.action, r.actor)?;
            }
            for e in &c.errors {
                writeln!(
                    out,
                    "  {} {} failed ({}): {}",
                    at(&e.at),
                    e.operation,
                    e.http_status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "no answer".into()),
                    e.message
                )?;
            }
        }
        ChecksCommand::Retry { tenant: key, check } => {
            let (key, _) = tenant(&config, &key)?;
            let store = open_store(&config).await?;
            let c = checks::retry(&store, &key, &check, "operator:cli")
                .await?
                .ok_or_else(|| anyhow::anyhow!("no check {check:?} in tenant {key}"))?;
            writeln!(
                out,
                "check {} (PageUp {}): owed work is due now; a running service picks it up",
                c.id, c.pageup_id
            )?;
        }
        ChecksCommand::ResendInvite { tenant: key, check } => {
            let (key, _) = tenant(&config, &key)?;
            let store = open_store(&config).await?;
            match checks::resend_invite(&store, &key, &check).await? {
                None => anyhow::bail!("no check {check:?} in tenant {key}"),
                Some((c, true)) => writeln!(
                    out,
                    "check {} (PageUp {}): the candidate's invitation is due again; a running service sends it",
                    c.id, c.pageup_id
                )?,
                Some((c, false)) => anyhow::bail!(
                    "check {} (PageUp {}) is not waiting on the candidate: nothing to resend",
                    c.id,
                    c.pageup_id
                ),
            }
        }
        ChecksCommand::Cancel { tenant: key, check } => {
            let (key, t) = tenant(&config, &key)?;
            let store = open_store(&config).await?;
            let theary = ThearyClient::new(RetryPolicy::default())?;
            match checks::cancel(&store, &theary, t, &key, &check, "operator:cli")
                .await?
                .ok_or_else(|| anyhow::anyhow!("no check {check:?} in tenant {key}"))?
            {
                checks::Cancelled::Now(c) => writeln!(
                    out,
                    "check {} (PageUp {}) cancelled; PageUp will show cancelled",
                    c.id, c.pageup_id
                )?,
                checks::Cancelled::AlreadyFinal(c) => writeln!(
                    out,
                    "check {} is already {}; nothing changed",
                    c.id, c.phase
                )?,
            }
        }
    }
    Ok(())
}

pub async fn tenants(args: TenantsArgs) -> anyhow::Result<()> {
    let config = Config::load(args.file.config.as_deref(), std::env::vars())?;
    let mut out = std::io::stdout().lock();
    match args.command {
        TenantsCommand::List => {
            let store = open_store(&config).await?;
            if args.json {
                let mut rows = Vec::new();
                for (key, t) in &config.tenants {
                    let key = TenantKey::from(key.as_str());
                    let owed = store.owed(Some(&key)).await?;
                    let poll = store.poll_state(&key).await?;
                    let runs = store.certifications(&key, None).await?;
                    let mut certification = serde_json::Map::new();
                    for env in ["uat", "live"] {
                        let newest = runs.iter().find(|c| c.env == env);
                        let passing = runs.iter().find(|c| c.env == env && c.passed());
                        certification.insert(
                            env.to_owned(),
                            json!({
                                "last_outcome": newest.map(|c| c.outcome.clone()),
                                "last_at": newest.and_then(|c| when_json(c.finished_at)),
                                "passed_at": passing.and_then(|c| when_json(c.finished_at)),
                                "check": passing.and_then(|c| c.pageup_check.clone()),
                            }),
                        );
                    }
                    rows.push(json!({
                        "tenant": key.as_str(),
                        "enabled": t.enabled,
                        "orders_owed": owed.orders,
                        "pushes_owed": owed.pushes,
                        "next_poll_at": poll.as_ref().and_then(|p| when_json(p.next_poll_at)),
                        "last_poll_error": poll.and_then(|p| p.last_error),
                        "certification": certification,
                        "requires_certification": t.requires_certification(config.service.require_certification),
                    }));
                }
                writeln!(out, "{}", Value::Array(rows))?;
                return Ok(());
            }
            writeln!(
                out,
                "{:<12} {:<8} {:>6} {:>7} {:<25} {:<30} last poll error",
                "tenant", "enabled", "orders", "pushes", "next poll", "certified (uat; live)"
            )?;
            for (key, t) in &config.tenants {
                let key = TenantKey::from(key.as_str());
                let owed = store.owed(Some(&key)).await?;
                let poll = store.poll_state(&key).await?;
                let runs = store.certifications(&key, None).await?;
                let certified = ["uat", "live"]
                    .iter()
                    .map(|env| {
                        match (
                            runs.iter().find(|c| c.env == *env && c.passed()),
                            runs.iter().find(|c| c.env == *env),
                        ) {
                            (Some(p), _) => {
                                format!("{} {}", env, when(p.finished_at).get(..10).unwrap_or("-"))
                            }
                            (None, Some(last)) => format!("{env} {}", last.outcome),
                            (None, None) => format!("{env} -"),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                writeln!(
                    out,
                    "{:<12} {:<8} {:>6} {:>7} {:<25} {:<30} {}",
                    key.as_str(),
                    if t.enabled { "yes" } else { "no" },
                    owed.orders,
                    owed.pushes,
                    poll.as_ref()
                        .map(|p| when(p.next_poll_at))
                        .unwrap_or_else(|| "never polled".into()),
                    certified,
                    poll.and_then(|p| p.last_error).unwrap_or_default()
                )?;
            }
        }
        TenantsCommand::Test { tenant: key } => {
            let (key, t) = tenant(&config, &key)?;
            let pageup = PageUpClient::new(RetryPolicy::none(), Limits::default())?;
            let p = t.pageup_tenant();
            let mut ok = true;
            match pageup.check_credentials(&p).await {
                Ok(()) => writeln!(out, "PageUp: token for tenant {} obtained", p.tenant_id)?,
                Err(e) => {
                    ok = false;
                    writeln!(out, "PageUp: {e}")?;
                }
            }
            if ok {
                match pageup.list_pending(&p).await {
                    Ok(list) => writeln!(
                        out,
                        "PageUp: pending checks listed ({} on the first page)",
                        list.len()
                    )?,
                    Err(e) => {
                        ok = false;
                        writeln!(out, "PageUp: listing pending checks failed: {e}")?;
                    }
                }
            }
            let theary = ThearyClient::new(RetryPolicy::none())?;
            match theary.check_credentials(&t.theary_config()).await {
                Ok(()) => writeln!(out, "Theary: token obtained")?,
                Err(e) => {
                    ok = false;
                    writeln!(out, "Theary: {e}")?;
                }
            }
            if !ok {
                anyhow::bail!("tenant {key} is not ready; see above");
            }
            writeln!(out, "tenant {key} is ready")?;
        }
        TenantsCommand::Health { tenant: only, days } => {
            let only = match &only {
                Some(key) => Some(tenant(&config, key)?.0),
                None => None,
            };
            let store = open_store(&config).await?;
            let mut issues = match days {
                None => store.open_issues().await?,
                Some(d) => {
                    let since = now_ms() - i64::from(d) * 86_400_000;
                    let mut all = Vec::new();
                    for key in config.tenants.keys() {
                        all.extend(
                            store
                                .issues_of(&TenantKey::from(key.as_str()), since)
                                .await?,
                        );
                    }
                    all
                }
            };
            issues.retain(|i| only.as_ref().is_none_or(|k| &i.tenant == k));
            if args.json {
                let rows: Vec<_> = issues
                    .iter()
                    .map(|i| {
                        json!({
                            "tenant": i.tenant.as_str(),
                            "kind": i.kind,
                            "subject": i.subject,
                            "summary": i.summary,
                            "opened_at": when_json(i.opened_at),
                            "last_seen_at": when_json(i.last_seen_at),
                            "resolved_at": i.resolved_at.and_then(when_json),
                        })
                    })
                    .collect();
                writeln!(out, "{}", Value::Array(rows))?;
                return Ok(());
            }
            if issues.is_empty() {
                writeln!(out, "no health issues")?;
            }
            for i in issues {
                let state = match i.resolved_at {
                    None => "OPEN".to_owned(),
                    Some(at) => format!("resolved {}", when(at)),
                };
                writeln!(
                    out,
                    "{:<12} {:<22} {:<16} opened {}  {state}\n    {}",
                    i.tenant,
                    i.kind,
                    i.subject,
                    when(i.opened_at),
                    i.summary
                )?;
            }
        }
    }
    Ok(())
}

pub async fn pageup(args: PageUpArgs) -> anyhow::Result<()> {
    let config = Config::load(args.file.config.as_deref(), std::env::vars())?;
    let client = PageUpClient::new(RetryPolicy::default(), Limits::default())?;
    match args.command {
        PageUpCommand::Inspect {
            tenant: key,
            map,
            show_pii,
            json,
        } => {
            let (_, t) = tenant(&config, &key)?;
            let raw = client.list_pending_raw(&t.pageup_tenant()).await?;
            if map {
                let items = checkbridge::intake::raw_items(&raw).map_err(anyhow::Error::msg)?;
                return super::mapping::report(&key, t, items, show_pii, json).await;
            }
            eprintln!("(PageUp's raw answer follows; it holds candidate data: keep it private)");
            let mut out = std::io::stdout().lock();
            out.write_all(&raw)?;
            writeln!(out)?;
        }
        PageUpCommand::Drift { tenant: key, ack } => {
            use checkbridge::intake::drift;
            let (key, _) = tenant(&config, &key)?;
            let store = open_store(&config).await?;
            let mut out = std::io::stdout().lock();
            if ack {
                let alert =
                    config.alerts.webhook_url.as_ref().is_some_and(|u| {
                        !secrecy::ExposeSecret::expose_secret(u).trim().is_empty()
                    });
                if drift::acknowledge(&store, &key, alert).await? {
                    writeln!(
                        out,
                        "tenant {key}: the new PageUp payload shape is accepted; the issue is resolved"
                    )?;
                } else {
                    writeln!(out, "tenant {key}: no PageUp payload change was open")?;
                }
                return Ok(());
            }
            match store.intake_shape(&key).await? {
                None => writeln!(
                    out,
                    "tenant {key}: no invitation seen yet through an intake mapping"
                )?,
                Some(shape) => {
                    writeln!(out, "tenant {key}: {} field paths known", shape.known.len())?;
                    match &shape.drift {
                        None => writeln!(out, "no PageUp payload change open")?,
                        Some(d) => {
                            writeln!(out, "OPEN: {}", d.summary())?;
                            writeln!(
                                out,
                                "(checkbridge pageup drift --tenant {key} --ack accepts it)"
                            )?;
                        }
                    }
                }
            }
        }
        PageUpCommand::Reset { tenant: key, check } => {
            let (_, t) = tenant(&config, &key)?;
            let p = t.pageup_tenant();
            for status in [CheckStatus::Queued, CheckStatus::Pending] {
                let doc = StatusDocument {
                    status,
                    reference_number: String::new(),
                    reason_for_fail: String::new(),
                    results: Vec::new(),
                };
                client
                    .update_status(&p, &check, &doc)
                    .await
                    .with_context(|| format!("setting check {check} to {}", doc.status.as_str()))?;
            }
            writeln!(
                std::io::stdout().lock(),
                "PageUp check {check} is pending again"
            )?;
        }
    }
    Ok(())
}
