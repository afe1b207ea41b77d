//! `checkbridge mapping test --tenant T --input FILE.json`: runs the tenant's intake mapping
//! (or, without one, the `assumed` profile) on invitations saved to a file, offline, and shows
//! for each (a file with several: one report each) the raw invitation, the canonical
//! invitation the mapping makes of it (both masked unless `--show-pii`), and the table of
//! canonical fields filled or missing and raw fields ignored, or the one-line reason it
//! fails. `pageup inspect --map` shows the same for the tenant's live pending list
//! ([`report`] is shared).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use checkbridge::config::{Config, TenantConfig};
use checkbridge::intake::{self, IntakeSection, Mapping};

#[derive(Debug, Args)]
pub struct MappingArgs {
    #[command(subcommand)]
    pub command: MappingCommand,
}

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Map invitations from a file (one invitation, a list, or a GET answer) offline.
    Test {
        /// TOML file (see checkbridge.example.toml).
        #[arg(long, env = "CHECKBRIDGE_CONFIG")]
        config: Option<PathBuf>,
        /// The tenant whose mapping runs.
        #[arg(long)]
        tenant: String,
        /// JSON file: a raw invitation, a list of them, or PageUp's GET answer.
        #[arg(long)]
        input: PathBuf,
        /// Show the values (candidate data) instead of masking them.
        #[arg(long)]
        show_pii: bool,
        /// Print one JSON document (its shape in docs/intake.md).
        #[arg(long)]
        json: bool,
    },
}

/// The tenant's mapping, or the `assumed` profile when it names none.
pub fn tenant_mapping(t: &TenantConfig) -> anyhow::Result<Arc<Mapping>> {
    match &t.mapping {
        Some(m) => Ok(m.clone()),
        None => IntakeSection {
            profile: Some("assumed".to_owned()),
            ..IntakeSection::default()
        }
        .compile(Path::new("."))
        .map_err(|(key, why)| anyhow::anyhow!("{key}: {why}"))?
        .context("the assumed profile"),
    }
}

/// Maps `items` through the tenant's mapping (and field overrides) and prints one report
/// each, as text or as one JSON document.
pub async fn report(
    tenant: &str,
    t: &TenantConfig,
    items: Vec<Value>,
    show_pii: bool,
    as_json: bool,
) -> anyhow::Result<()> {
    let mapping = tenant_mapping(t)?;
    let overrides = checkbridge::domain::fields::overrides(&t.fields);
    let reports = intake::report::inspect_all(mapping.clone(), items, overrides, show_pii)
        .await
        .map_err(anyhow::Error::msg)?;
    let mut out = std::io::stdout().lock();
    if as_json {
        let doc = json!({
            "tenant": tenant,
            "mapping": mapping.origin.to_string(),
            "masked": !show_pii,
            "invitations": reports,
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    writeln!(out, "tenant {tenant}: intake through {}", mapping.origin)?;
    if !show_pii {
        writeln!(
            out,
            "(values shown as ••• except under the keys {}; --show-pii shows them)",
            intake::report::SHOWN_KEYS.join(", ")
        )?;
    }
    if reports.is_empty() {
        writeln!(out, "no invitations")?;
    }
    for r in &reports {
        out.write_all(intake::report::render(r).as_bytes())?;
    }
    Ok(())
}

pub async fn run(args: MappingArgs) -> anyhow::Result<()> {
    let MappingCommand::Test {
        config,
        tenant,
        input,
        show_pii,
        json,
    } = args.command;
    let loaded = Config::load(config.as_deref(), std::env::vars())?;
    let t = loaded
        .tenants
        .get(&tenant)
        .with_context(|| format!("tenant {tenant} is not configured"))?;
    let body = std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
    let value: Value = serde_json::from_slice(&body)
        .with_context(|| format!("{} is not JSON", input.display()))?;
    // A GET answer wraps its list under a name such as items; any other object is taken as
    // one invitation.
    let wrapped = |m: &serde_json::Map<String, Value>| {
        m.iter().any(|(k, v)| {
            v.is_array()
                && ["items", "data", "invitations", "results"]
                    .iter()
                    .any(|w| k.eq_ignore_ascii_case(w))
        })
    };
    let items = match value {
        Value::Object(ref m) if !wrapped(m) => vec![value],
        _ => intake::raw_items(&body).map_err(anyhow::Error::msg)?,
    };
    report(&tenant, t, items, show_pii, json).await
}
