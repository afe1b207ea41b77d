//! `checkbridge retention`: what is due for purging, purging now, exporting a tenant's
//! access record, and shredding a tenant that leaves.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use checkbridge::config::Config;
use checkbridge::store::Store;
use checkbridge::sync::Engine;
use checkbridge::time::now_ms;

#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// TOML file (see checkbridge.example.toml); CHECKBRIDGE_* variables override it.
    #[arg(long, env = "CHECKBRIDGE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// `due` prints one JSON document (shape in docs/operations.md).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: RetentionCommand,
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Show, per tenant, how many checks' candidate data is due for purging now.
    Due,
    /// Purge now what is past retention (the service also does this hourly).
    Purge,
    /// Print a tenant's access record as JSON lines.
    Export {
        #[arg(long)]
        tenant: String,
    },
    /// Destroy a tenant's data keys and delete its data (a customer that leaves).
    Shred {
        #[arg(long)]
        tenant: String,
        /// The tenant key again, to confirm.
        #[arg(long)]
        confirm: String,
    },
}

pub async fn run(args: RetentionArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref(), std::env::vars())?;
    let store = Store::connect(&config.service.database_url)
        .await
        .context("opening the database")?;
    let mut out = std::io::stdout().lock();
    let now = now_ms();
    match args.command {
        RetentionCommand::Due => {
            let mut rows = Vec::new();
            for (key, t) in &config.tenants {
                let before = now - i64::try_from(t.retention.pii_days).unwrap_or(0) * 86_400_000;
                let due = store
                    .purge_due(&key.as_str().into(), before, i64::MAX)
                    .await?;
                if args.json {
                    rows.push(serde_json::json!({
                        "tenant": key,
                        "due": due.len(),
                        "pii_days": t.retention.pii_days,
                        "records_days": t.retention.records_days,
                    }));
                    continue;
                }
                writeln!(
                    out,
                    "{key}: {} check(s) due for purging (finished and unchanged for {} days); access records kept {} days",
                    due.len(),
                    t.retention.pii_days,
                    t.retention.records_days
                )?;
            }
            if args.json {
                writeln!(out, "{}", serde_json::Value::Array(rows))?;
            }
        }
        RetentionCommand::Purge => {
            let engine = Engine::new(&config, store)?;
            let r = engine.purge_step(now).await?;
            writeln!(
                out,
                "purged candidate data of {} check(s); deleted {} expired access record(s)",
                r.checks, r.records
            )?;
        }
        RetentionCommand::Export { tenant } => {
            for r in store.access_records(&tenant.as_str().into()).await? {
                writeln!(out, "{}", serde_json::to_string(&r)?)?;
            }
        }
        RetentionCommand::Shred { tenant, confirm } => {
            if tenant != confirm {
                anyhow::bail!("--confirm must repeat the tenant key ({tenant}); nothing was done");
            }
            let checks = store.shred_tenant(&tenant.as_str().into(), now).await?;
            writeln!(
                out,
                "tenant {tenant}: data keys destroyed, {checks} check(s) deleted; running \
                 services refuse the destroyed keys from now on (no restart needed)"
            )?;
        }
    }
    Ok(())
}
