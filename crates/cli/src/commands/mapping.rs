//! `checkbridge mapping test --tenant T --input FILE.json`: runs the tenant's intake mapping
//! (or, without one, the `assumed` profile) on invitations saved to a file, offline, and shows
//! what each becomes (a file with several: one report each): the canonical invitation (values masked unless `--show-pii`) and which
//! canonical fields are filled and which missing, or the one-line reason it fails.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};

use checkbridge::config::Config;
use checkbridge::intake::{self, IntakeSection};

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
        /// Show the mapped values (candidate data) instead of masking them.
        #[arg(long)]
        show_pii: bool,
    },
}

pub async fn run(args: MappingArgs) -> anyhow::Result<()> {
    let MappingCommand::Test {
        config,
        tenant,
        input,
        show_pii,
    } = args.command;
    let loaded = Config::load(config.as_deref(), std::env::vars())?;
    let t = loaded
        .tenants
        .get(&tenant)
        .with_context(|| format!("tenant {tenant} is not configured"))?;
    let mapping = match &t.mapping {
        Some(m) => m.clone(),
        None => IntakeSection {
            profile: Some("assumed".to_owned()),
            ..IntakeSection::default()
        }
        .compile(Path::new("."))
        .map_err(|(key, why)| anyhow::anyhow!("{key}: {why}"))?
        .context("the assumed profile")?,
    };
    let body = std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .with_context(|| format!("{} is not JSON", input.display()))?;
    // A GET answer wraps its list under a name such as items; any other object is taken as
    // one invitation.
    let wrapped = |m: &serde_json::Map<String, serde_json::Value>| {
        m.iter().any(|(k, v)| {
            v.is_array()
                && ["items", "data", "invitations", "results"]
                    .iter()
                    .any(|w| k.eq_ignore_ascii_case(w))
        })
    };
    let items = match value {
        serde_json::Value::Object(ref m) if !wrapped(m) => vec![value],
        _ => intake::raw_items(&body).map_err(anyhow::Error::msg)?,
    };
    let overrides = checkbridge::domain::fields::overrides(&t.fields);
    let results = intake::map_all(mapping.clone(), items, overrides).await;
    let mut out = std::io::stdout().lock();
    writeln!(out, "tenant {tenant}: intake through {}", mapping.origin)?;
    for (i, r) in results.iter().enumerate() {
        out.write_all(intake::report::render(i, r, show_pii).as_bytes())?;
    }
    Ok(())
}
