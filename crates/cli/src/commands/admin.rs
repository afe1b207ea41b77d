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

use checkbridge::config::{Config, TenantConfig};
use checkbridge::domain::check::{AccessAction, Phase};
use checkbridge::domain::ids::TenantKey;
use checkbridge::domain::view::{view, ReportLinks};
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
    /// Print PageUp's raw answer to the pending-checks GET, to fit the field mapping to the
    /// real payload. It holds candidate data: keep the output out of tickets and chats.
    Inspect {
        #[arg(long)]
        tenant: String,
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

/// A time for JSON output: RFC 3339 in UTC, or null when unset.
fn when_json(ms: i64) -> Option<String> {
    Some(checkbridge::time::rfc3339(ms)).filter(|t| !t.is_empty())
}

/// Whether PageUp shows the check's latest state (`current`) or is owed an update.
fn pageup_state(c: &checkbridge::store::CheckSummary) -> &'static str {
    if c.acked_version >= c.desired_version {
        "current"
    } else {
        "owed"
    }
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::connect(&config.service.database_url)
        .await
        .context("opening the database")
}

pub async fn checks(args: ChecksArgs) -> anyhow::Result<()> {
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
            let phase = match phase.as_deref() {
                None => None,
                Some(p) => Some(Phase::parse(p).ok_or_else(|| {
                    anyhow::anyhow!("--phase {p:?}: use claimed, ordered, failed or cancelled")
                })?),
            };
            let since = match since.as_deref() {
                None => None,
                Some(text) => Some(
                    now_ms()
                        - checkbridge::time::parse_window(text).ok_or_else(|| {
                            anyhow::anyhow!("--since {text:?}: use a number and m, h or d, e.g. 7d")
                        })?,
                ),
            };
            let filter = checkbridge::store::CheckFilter {
                tenant: Some(key.clone()),
                phase,
                since,
                owing,
                with_errors: errors,
            };
            let store = open_store(&config).await?;
            let found = store.find_checks(&filter, limit.clamp(1, 10_000)).await?;
            if args.json {
                let rows: Vec<_> = found
                    .iter()
                    .map(|c| {
                        json!({
                            "pageup_id": c.pageup_id.as_str(),
                            "check": c.id.as_str(),
                            "phase": c.phase.to_string(),
                            "pageup": pageup_state(c),
                            "reference": c.reference.as_ref().map(|r| r.as_str()),
                            "claimed_at": when_json(c.created_at),
                            "updated_at": when_json(c.updated_at),
                            "last_error": c.push_error.as_ref().or(c.last_error.as_ref()),
                        })
                    })
                    .collect();
                writeln!(out, "{}", Value::Array(rows))?;
                return Ok(());
            }
            writeln!(
                out,
                "{:<10} {:<36} {:<9} {:<7} {:<25} last error",
                "pageup id", "check", "phase", "pageup", "updated"
            )?;
            for c in found {
                let pageup = pageup_state(&c);
                let error = c.push_error.or(c.last_error).unwrap_or_default();
                writeln!(
                    out,
                    "{:<10} {:<36} {:<9} {:<7} {:<25} {}",
                    c.pageup_id,
                    c.id,
                    c.phase,
                    pageup,
                    when(c.updated_at),
                    error
                )?;
            }
        }
        ChecksCommand::Show { tenant: key, check } => {
            let (key, cfg) = tenant(&config, &key)?;
            let store = open_store(&config).await?;
            let c = store
                .find_check(&key, &check)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no check {check:?} in tenant {key}"))?;
            let record = store
                .check_record(&key, &c.id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("check {} went away while reading it", c.id))?;
            let shown = view(
                &record,
                &ReportLinks::new(&config.service.public_base_url),
                cfg,
            );
            let access: Vec<_> = store
                .access_records(&key)
                .await?
                .into_iter()
                .filter(|r| r.check_id == c.id)
                .collect();
            let errors: Vec<_> = store
                .errors(&key, 0)
                .await?
                .into_iter()
                .filter(|e| e.check_id.as_ref() == Some(&c.id))
                .collect();
            let mut events = Vec::new();
            for s in &record.searches {
                events.push(store.webhook_events(&key, &s.id).await?);
            }
            if args.json {
                let searches: Vec<_> = record
                    .searches
                    .iter()
                    .zip(&shown.searches)
                    .zip(&events)
                    .map(|((s, v), events)| {
                        json!({
                            "id": s.id.as_str(),
                            "type": s.search_type.to_string(),
                            "state": s.state.to_string(),
                            "outcome": s.outcome.as_ref().map(ToString::to_string),
                            "discrepancy": s.discrepancy,
                            "pageup_status": v.status,
                            "events": events.iter().map(|(id, kind)| json!({"id": id, "kind": kind})).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                let doc = json!({
                    "check": c.id.as_str(),
                    "pageup_id": c.pageup_id.as_str(),
                    "tenant": c.tenant.as_str(),
                    "pageup_status": shown.document.status.as_str(),
                    "phase": c.phase.to_string(),
                    "reference": c.reference.as_ref().map(|r| r.as_str()),
                    "acked_version": c.acked_version,
                    "desired_version": c.desired_version,
                    "order_attempts": c.order_attempts,
                    "claimed_at": when_json(c.created_at),
                    "updated_at": when_json(c.updated_at),
                    "last_order_error": c.last_error,
                    "last_pageup_error": c.push_error,
                    "searches": searches,
                    "overall": shown.overall,
                    "access": access.iter().map(|r| json!({
                        "at": when_json(r.at), "action": r.action.to_string(), "actor": r.actor,
                    })).collect::<Vec<_>>(),
                    "errors": errors.iter().map(|e| json!({
                        "at": when_json(e.at), "operation": e.operation,
                        "http_status": e.http_status, "message": e.message,
                    })).collect::<Vec<_>>(),
                });
                writeln!(out, "{doc}")?;
                return Ok(());
            }
            writeln!(
                out,
                "check {} (PageUp {}) in tenant {}",
                c.id, c.pageup_id, c.tenant
            )?;
            writeln!(
                out,
                "  PageUp status {} (once every owed update has landed), phase {}, Theary order {}",
                shown.status_words(),
                c.phase,
                c.reference.as_ref().map_or("-", |r| r.as_str())
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
                when(c.created_at),
                when(c.updated_at)
            )?;
            for (what, e) in [
                ("ordering", &c.last_error),
                ("PageUp update", &c.push_error),
            ] {
                if let Some(e) = e {
                    writeln!(out, "  last {what} error: {e}")?;
                }
            }
            for ((s, v), events) in record.searches.iter().zip(&shown.searches).zip(events) {
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
                    v.status
                )?;
                for (event, kind) in events {
                    writeln!(out, "    event {kind} {event}")?;
                }
            }
            if let Some(overall) = &shown.overall {
                writeln!(out, "  overall result {overall}")?;
            }
            for r in access {
                writeln!(out, "  {} {} by {}", when(r.at), r.action, r.actor)?;
            }
            for e in errors {
                writeln!(
                    out,
                    "  {} {} failed ({}): {}",
                    when(e.at),
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
            let c = store
                .find_check(&key, &check)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no check {check:?} in tenant {key}"))?;
            store.retry_now(&key, &c.id, now_ms()).await?;
            store
                .record_access(&key, &c.id, "operator:cli", AccessAction::Retried, now_ms())
                .await?;
            writeln!(
                out,
                "check {} (PageUp {}): owed work is due now; a running service picks it up",
                c.id, c.pageup_id
            )?;
        }
        ChecksCommand::Cancel { tenant: key, check } => {
            let (key, t) = tenant(&config, &key)?;
            let store = open_store(&config).await?;
            let c = store
                .find_check(&key, &check)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no check {check:?} in tenant {key}"))?;
            if let Some(reference) = &c.reference {
                let theary = ThearyClient::new(RetryPolicy::default())?;
                theary
                    .cancel_order(&t.theary_config(), reference.as_str())
                    .await
                    .with_context(|| format!("cancelling order {reference} at Theary"))?;
            }
            if store
                .cancel_check(&key, &c.id, "operator:cli", now_ms())
                .await?
            {
                writeln!(
                    out,
                    "check {} (PageUp {}) cancelled; PageUp will show cancelled",
                    c.id, c.pageup_id
                )?;
            } else {
                writeln!(
                    out,
                    "check {} is already {}; nothing changed",
                    c.id, c.phase
                )?;
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
                    rows.push(json!({
                        "tenant": key.as_str(),
                        "enabled": t.enabled,
                        "orders_owed": owed.orders,
                        "pushes_owed": owed.pushes,
                        "next_poll_at": poll.as_ref().and_then(|p| when_json(p.next_poll_at)),
                        "last_poll_error": poll.and_then(|p| p.last_error),
                    }));
                }
                writeln!(out, "{}", Value::Array(rows))?;
                return Ok(());
            }
            writeln!(
                out,
                "{:<12} {:<8} {:>6} {:>7} {:<25} last poll error",
                "tenant", "enabled", "orders", "pushes", "next poll"
            )?;
            for (key, t) in &config.tenants {
                let key = TenantKey::from(key.as_str());
                let owed = store.owed(Some(&key)).await?;
                let poll = store.poll_state(&key).await?;
                writeln!(
                    out,
                    "{:<12} {:<8} {:>6} {:>7} {:<25} {}",
                    key,
                    if t.enabled { "yes" } else { "no" },
                    owed.orders,
                    owed.pushes,
                    poll.as_ref()
                        .map(|p| when(p.next_poll_at))
                        .unwrap_or_else(|| "never polled".into()),
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
        PageUpCommand::Inspect { tenant: key } => {
            let (_, t) = tenant(&config, &key)?;
            let raw = client.list_pending_raw(&t.pageup_tenant()).await?;
            eprintln!("(PageUp's raw answer follows; it holds candidate data: keep it private)");
            let mut out = std::io::stdout().lock();
            out.write_all(&raw)?;
            writeln!(out)?;
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
