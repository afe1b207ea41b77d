//! `checkbridge migrate [status]`: applies the schema migrations this binary knows (waiting
//! for another process's migration first), or shows where each stands without changing
//! anything. `serve` applies them too; this is for deployments that migrate as a step of
//! their own, before replicas start.

use std::io::Write as _;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use checkbridge::config::{redact_url, Config};
use checkbridge::store::{MigrationState, Store};

use super::admin::ConfigFile;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub file: ConfigFile,
    /// The database to migrate (default: `service.database_url` of the configuration).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// One JSON document on standard output instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<MigrateCommand>,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Each migration: applied, pending, changed (refused) or unknown (a newer binary's).
    Status,
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let url = match args.database_url {
        Some(url) => url,
        None => {
            Config::load(args.file.config.as_deref(), std::env::vars())?
                .service
                .database_url
        }
    };
    let shown = redact_url(&url);
    let mut out = std::io::stdout().lock();
    match args.command {
        None => {
            let report = Store::migrate(&url)
                .await
                .with_context(|| format!("migrating {shown}"))?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string(&report)?)?;
            } else if report.applied.is_empty() {
                writeln!(
                    out,
                    "schema is current at version {} ({shown})",
                    report.version
                )?;
            } else {
                let applied: Vec<String> = report.applied.iter().map(i64::to_string).collect();
                writeln!(
                    out,
                    "applied migration(s) {}; schema is at version {} ({shown})",
                    applied.join(", "),
                    report.version
                )?;
            }
            if report.waited_ms > 0 && !args.json {
                writeln!(
                    out,
                    "waited {:.1} s for another process's migration",
                    report.waited_ms as f64 / 1000.0
                )?;
            }
        }
        Some(MigrateCommand::Status) => {
            let status = Store::migration_status(&url)
                .await
                .with_context(|| format!("reading the schema of {shown}"))?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string(&status)?)?;
            } else {
                writeln!(
                    out,
                    "{:<8} {:<10} {:<26} name",
                    "version", "state", "applied at"
                )?;
                for s in &status {
                    let state = match s.state {
                        MigrationState::Applied => "applied",
                        MigrationState::Pending => "pending",
                        MigrationState::Changed => "CHANGED",
                        MigrationState::Unknown => "unknown",
                    };
                    let at = s
                        .applied_at_ms
                        .map(checkbridge::time::rfc3339)
                        .unwrap_or_else(|| "-".into());
                    let name = if s.name.is_empty() {
                        "(not known to this binary: a newer version applied it)"
                    } else {
                        s.name
                    };
                    writeln!(out, "{:<8} {state:<10} {at:<26} {name}", s.version)?;
                }
            }
            // A schema this binary cannot serve is an error for scripts, too.
            if let Some(bad) = status
                .iter()
                .find(|s| matches!(s.state, MigrationState::Changed | MigrationState::Unknown))
            {
                anyhow::bail!(
                    "this binary cannot serve the database: migration {} is {}",
                    bad.version,
                    if bad.state == MigrationState::Changed {
                        "changed"
                    } else {
                        "unknown"
                    }
                );
            }
        }
    }
    Ok(())
}
