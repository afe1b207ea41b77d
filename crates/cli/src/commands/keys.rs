//! `checkbridge keys`: master keys for encryption at rest.
//!
//! `generate` prints a new master key (`id:base64`). `rotate` re-wraps every tenant data key
//! under the active (first) master key; the configuration must list the new key first and
//! the old ones after it. Rows are not re-encrypted, and a running service is unaffected
//! (it holds the data keys, which do not change). Once `rotate` reports nothing left under
//! an old key, that key can be removed from the configuration.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use checkbridge::config::Config;
use checkbridge::crypto::{Key, Keyring};
use checkbridge::store::Store;

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new random master key as `id:base64` (keep it out of shared files).
    Generate {
        /// Name of the key (it is recorded next to every data key it wraps).
        #[arg(long, default_value_t = default_id())]
        id: String,
    },
    /// Re-wrap every tenant data key under the active (first) master key.
    Rotate {
        /// TOML file (see checkbridge.example.toml); CHECKBRIDGE_* variables override it.
        #[arg(long, env = "CHECKBRIDGE_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn default_id() -> String {
    let days = checkbridge::time::now_ms() / 86_400_000;
    format!("mk-{days}")
}

pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match args.command {
        KeysCommand::Generate { id } => {
            if id.is_empty() || id.contains([':', ',', '.']) {
                anyhow::bail!("--id must be non-empty and contain no ':', ',' or '.'");
            }
            let key = Key::random();
            writeln!(out, "{id}:{}", key.to_base64().as_str()).context("writing the key")?;
        }
        KeysCommand::Rotate { config } => {
            let config = Config::load(config.as_deref(), std::env::vars())?;
            let master = config.service.master_keys()?;
            let active = master.active_id().to_owned();
            let store = Store::connect(&config.service.database_url)
                .await
                .context("opening the database")?;
            let n = Keyring::new(master, store)
                .rewrap_all()
                .await
                .context("re-wrapping data keys")?;
            writeln!(out, "{n} data key(s) re-wrapped under master key {active}")
                .context("writing the result")?;
        }
    }
    Ok(())
}
