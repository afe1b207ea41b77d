//! `checkbridge backup | restore | recover`: a copy of the database taken while serving, a
//! restore that cannot lead to double orders, and the recovery that matches Theary's orders
//! to the restored checks afterwards. What to keep together: docs/operations.md.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use clap::Args;

use checkbridge::admin::recover::{recover, RecoverReport};
use checkbridge::config::{redact_url, Config};
use checkbridge::domain::ids::TenantKey;
use checkbridge::store::{MigrationState, Store};
use checkbridge::time::now_ms;

use super::admin::ConfigFile;

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub file: ConfigFile,
    /// The database (default: `service.database_url` of the configuration).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Where to write the backup (must not exist).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub file: ConfigFile,
    /// The database to restore into (default: `service.database_url`).
    #[arg(long)]
    pub database_url: Option<String>,
    /// A file `checkbridge backup` wrote.
    #[arg(long)]
    pub from: PathBuf,
    /// Replace a database that exists (stop every replica first).
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub file: ConfigFile,
    /// The tenant to recover.
    #[arg(long, conflicts_with = "all", required_unless_present = "all")]
    pub tenant: Option<String>,
    /// Every configured tenant.
    #[arg(long)]
    pub all: bool,
    /// Pages of 50 orders to read from Theary per tenant, at most.
    #[arg(long, default_value_t = 200)]
    pub max_pages: u32,
    /// One JSON document (an array of per-tenant reports) instead of text.
    #[arg(long)]
    pub json: bool,
}

fn database_url(file: &ConfigFile, given: Option<String>) -> anyhow::Result<String> {
    match given {
        Some(url) => Ok(url),
        None => Ok(Config::load(file.config.as_deref(), std::env::vars())?
            .service
            .database_url),
    }
}

/// The file a `sqlite:` URL names.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

fn run_tool(program: &str, args: &[&str], url: &str) -> anyhow::Result<()> {
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            if *a == url {
                redact_url(url)
            } else {
                (*a).to_owned()
            }
        })
        .collect();
    let status = Command::new(program).args(args).status().map_err(|e| {
        anyhow::anyhow!(
            "{program} could not be started ({e}): install PostgreSQL's client tools, or run \
             it yourself: {program} {}",
            shown.join(" ")
        )
    })?;
    anyhow::ensure!(
        status.success(),
        "{program} {} failed ({status})",
        shown.join(" ")
    );
    Ok(())
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let url = database_url(&args.file, args.database_url)?;
    anyhow::ensure!(
        !args.out.exists(),
        "{} exists: choose a new file for the backup",
        args.out.display()
    );
    let out = args.out.to_string_lossy().into_owned();
    if sqlite_path(&url).is_some() {
        Store::backup_sqlite(&url, &args.out)
            .await
            .with_context(|| format!("copying {} to {out}", redact_url(&url)))?;
    } else if url.starts_with("postgres") {
        run_tool(
            "pg_dump",
            &[
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                "--file",
                &out,
                "--dbname",
                &url,
            ],
            &url,
        )?;
    } else {
        anyhow::bail!(
            "cannot back up {}: use sqlite://PATH or postgres://...",
            redact_url(&url)
        );
    }
    let bytes = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    writeln!(
        std::io::stdout().lock(),
        "backup of {} written to {out} ({:.1} KB); keep it with the master key and the config",
        redact_url(&url),
        bytes as f64 / 1024.0
    )?;
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let url = database_url(&args.file, args.database_url)?;
    anyhow::ensure!(
        args.from.exists(),
        "{}: no such backup file",
        args.from.display()
    );
    let from = args.from.to_string_lossy().into_owned();
    if let Some(path) = sqlite_path(&url) {
        anyhow::ensure!(
            args.replace || !path.exists(),
            "{} exists: stop every replica, then restore with --replace",
            path.display()
        );
        // A copy beside the target, checked before it replaces anything: a newer binary's
        // backup is not restored by this one.
        let staged = path.with_extension("restoring");
        std::fs::copy(&args.from, &staged)
            .with_context(|| format!("copying {from} to {}", staged.display()))?;
        let checked = async {
            let status = Store::migration_status(&format!("sqlite://{}", staged.display()))
                .await
                .with_context(|| format!("{from} is not a checkbridge SQLite backup"))?;
            refuse_unknown(&status)
        }
        .await;
        if let Err(e) = checked {
            remove_sqlite(&staged)?;
            return Err(e);
        }
        put_in_place(&staged, &path)?;
    } else if url.starts_with("postgres") {
        let status = Store::migration_status(&url)
            .await
            .context("reading the target database")?;
        let populated = status.iter().any(|s| s.state != MigrationState::Pending);
        anyhow::ensure!(
            args.replace || !populated,
            "{} holds a checkbridge schema: stop every replica, then restore with --replace",
            redact_url(&url)
        );
        let mut tool = vec!["--no-owner", "--no-privileges", "--dbname", url.as_str()];
        if args.replace {
            tool.extend(["--clean", "--if-exists"]);
        }
        tool.push(from.as_str());
        run_tool("pg_restore", &tool, &url)?;
        refuse_unknown(&Store::migration_status(&url).await?)?;
    } else {
        anyhow::bail!(
            "cannot restore into {}: use sqlite://PATH or postgres://...",
            redact_url(&url)
        );
    }
    let store = Store::connect(&url)
        .await
        .context("opening the restored database")?;
    let marked = store.mark_orders_maybe_sent(None, now_ms()).await?;
    writeln!(
        std::io::stdout().lock(),
        "restored {from} into {}; {marked} check(s) owing an order will be looked up at Theary \
         before any order is posted. Next: `checkbridge recover --all`, then start the service.",
        redact_url(&url)
    )?;
    Ok(())
}

fn refuse_unknown(status: &[checkbridge::store::MigrationStatus]) -> anyhow::Result<()> {
    if let Some(s) = status
        .iter()
        .find(|s| matches!(s.state, MigrationState::Unknown | MigrationState::Changed))
    {
        anyhow::bail!(
            "the backup's schema has migration {} which this binary {} (it knows up to {}): \
             restore it with the checkbridge version that made it",
            s.version,
            if s.state == MigrationState::Unknown {
                "does not know"
            } else {
                "has in another form"
            },
            checkbridge::store::latest_version()
        );
    }
    Ok(())
}

/// Moves the checked copy `staged` in place of the SQLite file `to`, with no stale journal
/// of the old file left beside it (a leftover `-wal` would be replayed into the restored
/// database).
fn put_in_place(staged: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::File::open(staged)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", staged.display()))?;
    remove_sqlite(to)?;
    std::fs::rename(staged, to).with_context(|| format!("moving the copy to {}", to.display()))?;
    Ok(())
}

/// Removes a SQLite file's journals (and, for a staged copy, the file itself).
fn remove_sqlite(path: &Path) -> anyhow::Result<()> {
    let staged = path.extension().is_some_and(|e| e == "restoring");
    let mut files = vec![
        PathBuf::from(format!("{}-wal", path.display())),
        PathBuf::from(format!("{}-shm", path.display())),
    ];
    if staged {
        files.push(path.to_owned());
    }
    for file in files {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", file.display())),
        }
    }
    Ok(())
}

pub async fn recover_cmd(args: RecoverArgs) -> anyhow::Result<()> {
    let config = Config::load(args.file.config.as_deref(), std::env::vars())?;
    let keys: Vec<String> = match &args.tenant {
        Some(key) => {
            anyhow::ensure!(
                config.tenants.contains_key(key),
                "tenant {key:?} is not configured (tenants.{key})"
            );
            vec![key.clone()]
        }
        None => config.tenants.keys().cloned().collect(),
    };
    let store = Store::connect(&config.service.database_url)
        .await
        .context("opening the database")?;
    // An engine that runs no loops: its store, clients, keys and reconciler serve recover.
    let engine = checkbridge::sync::Engine::new(&config, store)?;
    let mut reports: Vec<RecoverReport> = Vec::new();
    for key in &keys {
        let report = recover(&engine, &TenantKey::from(key.as_str()), args.max_pages)
            .await
            .with_context(|| format!("recovering tenant {key}"))?;
        reports.push(report);
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&reports)?)?;
    } else {
        for r in &reports {
            write_report(&mut out, r)?;
        }
    }
    if let Some(r) = reports.iter().find(|r| r.stopped.is_some()) {
        anyhow::bail!(
            "recovery of tenant {} stopped: {} (what it did is above; running it again is safe)",
            r.tenant,
            r.stopped.as_deref().unwrap_or_default()
        );
    }
    Ok(())
}

fn write_report(out: &mut impl std::io::Write, r: &RecoverReport) -> std::io::Result<()> {
    writeln!(
        out,
        "tenant {}: {} order(s) read from Theary; {} already recorded, {} attached, {} \
         duplicate(s), {} unrecoverable; {} check(s) owing an order will be looked up first",
        r.tenant,
        r.orders_seen,
        r.known,
        r.attached.len(),
        r.duplicates.len(),
        r.unrecoverable.len(),
        r.marked
    )?;
    for m in &r.attached {
        writeln!(
            out,
            "  attached order {} to check {} (PageUp {})",
            m.order_id, m.check, m.pageup_id
        )?;
    }
    for m in &r.duplicates {
        writeln!(
            out,
            "  DUPLICATE: order {} is for check {} (PageUp {}), which records another order; \
             cancel one at Theary",
            m.order_id, m.check, m.pageup_id
        )?;
    }
    for u in &r.unrecoverable {
        writeln!(
            out,
            "  UNRECOVERABLE: order {} ({}, created {}): its check was claimed after the backup; \
             in PageUp it is the check whose reference number is {}",
            u.order_id,
            u.status.as_deref().unwrap_or("status unknown"),
            u.created_at.as_deref().unwrap_or("-"),
            u.order_id
        )?;
    }
    Ok(())
}
