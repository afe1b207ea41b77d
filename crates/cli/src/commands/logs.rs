//! `checkbridge logs export`: a tenant's error log, as PageUp support asks for it.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};

use checkbridge::admin::errorlog;
use checkbridge::config::Config;
use checkbridge::store::Store;
use checkbridge::time::now_ms;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// TOML file (see checkbridge.example.toml); CHECKBRIDGE_* variables override it.
    #[arg(long, env = "CHECKBRIDGE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: LogsCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

impl From<Format> for errorlog::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Jsonl => errorlog::Format::Jsonl,
            Format::Csv => errorlog::Format::Csv,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Write a tenant's failed calls and refused requests: time, operation, HTTP status,
    /// the partner's message, our correlation id. Never secrets or candidate data.
    Export {
        #[arg(long)]
        tenant: String,
        /// How far back: 30m, 24h, 7d.
        #[arg(long, default_value = "7d")]
        since: String,
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// File to write (standard output when absent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub async fn run(args: LogsArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref(), std::env::vars())?;
    match args.command {
        LogsCommand::Export {
            tenant,
            since,
            format,
            out,
        } => {
            if !config.tenants.contains_key(&tenant) {
                anyhow::bail!("tenant {tenant:?} is not configured (tenants.{tenant})");
            }
            let window = checkbridge::time::parse_window(&since).ok_or_else(|| {
                anyhow::anyhow!("--since takes a number and m, h or d, as 30m, 24h or 7d")
            })?;
            let store = Store::connect(&config.service.database_url)
                .await
                .context("opening the database")?;
            let entries = store
                .errors(&tenant.as_str().into(), now_ms() - window)
                .await?;
            let text = errorlog::render(&entries, format.into())?;
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
            }
        }
    }
    Ok(())
}
