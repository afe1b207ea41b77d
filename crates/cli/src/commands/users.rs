//! `checkbridge users add`: a person who may read a tenant's reports.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use checkbridge::admin::users::{add_operator, add_reader, generate_password};
use checkbridge::config::Config;
use checkbridge::store::Store;

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// TOML file (see checkbridge.example.toml); CHECKBRIDGE_* variables override it.
    #[arg(long, env = "CHECKBRIDGE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: UsersCommand,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a report reader to a tenant (or, with --operator, an operator of the service,
    /// who sees the operator page but no report). Without --password-stdin a password is
    /// generated and printed once.
    Add {
        /// The reader's tenant (not for operators).
        #[arg(
            long,
            required_unless_present = "operator",
            conflicts_with = "operator"
        )]
        tenant: Option<String>,
        /// An operator: every tenant's health, checks and error log at /ops; no reports.
        #[arg(long)]
        operator: bool,
        #[arg(long)]
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

pub async fn run(args: UsersArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref(), std::env::vars())?;
    match args.command {
        UsersCommand::Add {
            tenant,
            operator,
            username,
            password_stdin,
        } => {
            if let Some(tenant) = &tenant {
                if !config.tenants.contains_key(tenant) {
                    anyhow::bail!("tenant {tenant:?} is not configured (tenants.{tenant})");
                }
            }
            let (password, generated) = if password_stdin {
                let mut line = zeroize::Zeroizing::new(String::new());
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password")?;
                (
                    zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned()),
                    false,
                )
            } else {
                (generate_password(), true)
            };
            let store = Store::connect(&config.service.database_url)
                .await
                .context("opening the database")?;
            let added = match (&tenant, operator) {
                (Some(t), false) => {
                    add_reader(&store, &t.as_str().into(), &username, &password).await?
                }
                _ => add_operator(&store, &username, &password).await?,
            };
            if !added {
                anyhow::bail!("user name {username:?} is taken");
            }
            let mut out = std::io::stdout().lock();
            match &tenant {
                Some(t) if !operator => writeln!(out, "user {username} added to tenant {t}")?,
                _ => writeln!(out, "operator {username} added (operator page: /ops)")?,
            }
            if generated {
                writeln!(out, "password (shown once): {}", password.as_str())?;
            }
        }
    }
    Ok(())
}
