//! `checkbridge users add | list | disable | enable | remove | reset-password | sessions |
//! revoke`: the people
//! who may read a tenant's reports or see the operator page, and their lifecycle. Every
//! change is recorded (`cli:<os user>`); disabling, removing and resetting end sessions.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use checkbridge::admin::users::{
    add_operator, add_reader, change, generate_password, reset_password, Change,
};
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
    /// List every user: tenant, role, whether disabled, live sessions.
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Refuse a user's sign-ins and end their sessions at once.
    Disable {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Let a disabled user sign in again.
    Enable {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// List a user's live sessions (when each began and ends; never a token).
    Sessions {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// End every session of a user at once (they may sign in again).
    Revoke {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a user (their recorded changes stay). The last operator cannot be removed.
    Remove {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a new password (generated and printed once, or read with --password-stdin) and
    /// end the user's sessions.
    ResetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn actor() -> String {
    let who = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("cli:{who}")
}

fn read_password(from_stdin: bool) -> anyhow::Result<(zeroize::Zeroizing<String>, bool)> {
    if !from_stdin {
        return Ok((generate_password(), true));
    }
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password")?;
    Ok((
        zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned()),
        false,
    ))
}

fn done(json: bool, username: &str, action: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({ "username": username, "action": action })
        )?;
    } else {
        writeln!(out, "user {username} {action}")?;
    }
    Ok(())
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
            let (password, generated) = read_password(password_stdin)?;
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
        UsersCommand::List { json } => {
            let store = open(&config).await?;
            let users = store.list_users(checkbridge::time::now_ms()).await?;
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", serde_json::to_string(&users)?)?;
            } else {
                writeln!(
                    out,
                    "{:<32} {:<16} {:<9} {:<9} sessions",
                    "user", "tenant", "role", "state"
                )?;
                for u in &users {
                    writeln!(
                        out,
                        "{:<32} {:<16} {:<9} {:<9} {}",
                        u.username,
                        u.tenant,
                        u.role,
                        if u.disabled_at.is_some() {
                            "disabled"
                        } else {
                            "enabled"
                        },
                        u.sessions
                    )?;
                }
            }
        }
        UsersCommand::Disable { username, json } => {
            change(&open(&config).await?, &username, Change::Disable, &actor()).await?;
            done(json, &username, "disabled")?;
        }
        UsersCommand::Enable { username, json } => {
            change(&open(&config).await?, &username, Change::Enable, &actor()).await?;
            done(json, &username, "enabled")?;
        }
        UsersCommand::Sessions { username, json } => {
            let store = open(&config).await?;
            let Some(sessions) = store
                .user_sessions(&username, checkbridge::time::now_ms())
                .await?
            else {
                anyhow::bail!("no user is named {username:?}");
            };
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", serde_json::to_string(&sessions)?)?;
            } else {
                writeln!(out, "{} live session(s) of {username}", sessions.len())?;
                for s in &sessions {
                    writeln!(
                        out,
                        "began {}  ends {}",
                        checkbridge::time::minutes_utc(s.created_at),
                        checkbridge::time::minutes_utc(s.expires_at)
                    )?;
                }
            }
        }
        UsersCommand::Revoke { username, json } => {
            change(
                &open(&config).await?,
                &username,
                Change::RevokeSessions,
                &actor(),
            )
            .await?;
            done(json, &username, "sessions_revoked")?;
        }
        UsersCommand::Remove { username, json } => {
            change(&open(&config).await?, &username, Change::Remove, &actor()).await?;
            done(json, &username, "removed")?;
        }
        UsersCommand::ResetPassword {
            username,
            password_stdin,
            json,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            reset_password(&open(&config).await?, &username, &password, &actor()).await?;
            let mut out = std::io::stdout().lock();
            let shown = generated.then(|| password.as_str());
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "username": username, "action": "password_reset", "password": shown })
                )?;
            } else {
                writeln!(out, "user {username}: password reset, sessions ended")?;
                if let Some(p) = shown {
                    writeln!(out, "password (shown once): {p}")?;
                }
            }
        }
    }
    Ok(())
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    Store::connect(&config.service.database_url)
        .await
        .context("opening the database")
}
