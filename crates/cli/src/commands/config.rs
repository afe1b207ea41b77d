//! `checkbridge config check`: loads the configuration as `serve` will (defaults, file,
//! `CHECKBRIDGE_*` variables), runs every check `serve` runs before it starts (the master
//! keys included), and prints a summary without secrets.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use checkbridge::config::Config;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the configuration, then print a summary (never secrets).
    Check {
        /// TOML file (see checkbridge.example.toml).
        #[arg(long, env = "CHECKBRIDGE_CONFIG")]
        config: Option<PathBuf>,
    },
}

pub fn run(args: ConfigArgs) -> anyhow::Result<()> {
    match args.command {
        ConfigCommand::Check { config } => {
            let loaded = Config::load(config.as_deref(), std::env::vars())?;
            // Everything serve checks before it starts, the master keys included.
            loaded.check_for_serve()?;
            let mut out = std::io::stdout().lock();
            out.write_all(loaded.summary().as_bytes())
                .context("writing the summary")?;
            out.write_all(b"configuration is valid\n")
                .context("writing the summary")?;
            Ok(())
        }
    }
}
