//! `checkbridge logs export`: a tenant's error log, as PageUp support asks for it.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};

use crate::config::Config;
use crate::store::{now_ms, ErrorEntry, Store};

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

/// Parses `30m`, `24h` or `7d` into milliseconds.
pub fn parse_since(text: &str) -> Option<i64> {
    let text = text.trim();
    let (n, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    let ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(ms)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The entries in `format`, one per line (CSV with a header).
pub fn render(entries: &[ErrorEntry], format: Format) -> anyhow::Result<String> {
    let mut out = String::new();
    match format {
        Format::Jsonl => {
            for e in entries {
                let mut v = serde_json::to_value(e)?;
                v["time"] = serde_json::Value::String(crate::store::rfc3339(e.at));
                out.push_str(&serde_json::to_string(&v)?);
                out.push('\n');
            }
        }
        Format::Csv => {
            out.push_str("time,tenant,operation,http_status,message,correlation_id,check_id\n");
            for e in entries {
                let fields = [
                    crate::store::rfc3339(e.at),
                    e.tenant.clone(),
                    e.operation.clone(),
                    e.http_status.map(|s| s.to_string()).unwrap_or_default(),
                    e.message.clone(),
                    e.correlation.clone(),
                    e.check_id.clone().unwrap_or_default(),
                ];
                out.push_str(
                    &fields
                        .iter()
                        .map(|f| csv_field(f))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                out.push('\n');
            }
        }
    }
    Ok(out)
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
            let window = parse_since(&since).ok_or_else(|| {
                anyhow::anyhow!("--since takes a number and m, h or d, as 30m, 24h or 7d")
            })?;
            let store = Store::connect(&config.service.database_url)
                .await
                .context("opening the database")?;
            let entries = store.errors(&tenant, now_ms() - window).await?;
            let text = render(&entries, format)?;
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_and_csv_are_read_and_written_carefully() {
        assert_eq!(parse_since("7d"), Some(7 * 86_400_000));
        assert_eq!(parse_since("30m"), Some(1_800_000));
        for bad in ["", "d", "0d", "-1h", "7w", "x7d"] {
            assert_eq!(parse_since(bad), None, "{bad}");
        }
        let e = ErrorEntry {
            at: 0,
            tenant: "acme".into(),
            operation: "pageup.update".into(),
            http_status: Some(400),
            message: "Status 'x' is not valid, \"really\"".into(),
            correlation: "c-1".into(),
            check_id: Some("c-1".into()),
        };
        let csv = render(std::slice::from_ref(&e), Format::Csv).unwrap();
        assert_eq!(
            csv.lines().nth(1).unwrap(),
            "1970-01-01T00:00:00Z,acme,pageup.update,400,\"Status 'x' is not valid, \"\"really\"\"\",c-1,c-1"
        );
        let jsonl = render(&[e], Format::Jsonl).unwrap();
        let v: serde_json::Value = serde_json::from_str(jsonl.trim()).unwrap();
        assert_eq!(
            (v["time"].as_str(), v["http_status"].as_i64()),
            (Some("1970-01-01T00:00:00Z"), Some(400))
        );
    }
}
