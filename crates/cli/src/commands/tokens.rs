//! `checkbridge tokens create | list | revoke`: bearer tokens for the admin HTTP API
//! (`/api/v1`). A token's text is printed once, when it is made; only its digest is kept.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};

use checkbridge::admin::checks::when_json;
use checkbridge::admin::tokens;
use checkbridge::config::Config;
use checkbridge::domain::check::ApiScope;
use checkbridge::domain::ids::TenantKey;
use checkbridge::store::{ApiTokenListing, Store};

#[derive(Debug, Args)]
pub struct TokensArgs {
    /// TOML file (see checkbridge.example.toml); CHECKBRIDGE_* variables override it.
    #[arg(long, env = "CHECKBRIDGE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: TokensCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Scope {
    /// GET: tenants, checks, the error log, readers.
    Read,
    /// Read, and retry or cancel checks.
    Operate,
}

impl From<Scope> for ApiScope {
    fn from(s: Scope) -> Self {
        match s {
            Scope::Read => ApiScope::Read,
            Scope::Operate => ApiScope::Operate,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Make a token and print it once (keep it in a secret store: it cannot be shown again).
    Create {
        #[arg(long, value_enum)]
        scope: Scope,
        /// Only this tenant's data (as a reader sees one tenant); without it the token sees
        /// every tenant, as an operator does.
        #[arg(long)]
        tenant: Option<String>,
        /// What the token is for (shown by `tokens list`).
        #[arg(long, default_value = "api")]
        name: String,
        /// Print one JSON document (with the token's text in `token`).
        #[arg(long)]
        json: bool,
    },
    /// Every token: id, name, tenant, scope, made, last used, revoked (never the text).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it is refused (401) from the next request on.
    Revoke {
        /// The token's id (`tok_...`, from `tokens list`).
        id: String,
    },
}

fn row_json(t: &ApiTokenListing) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "name": t.name,
        "tenant": t.tenant.as_str(),
        "scope": t.scope.as_str(),
        "created_at": when_json(t.created_at),
        "created_by": t.created_by,
        "last_used_at": t.last_used_at.and_then(when_json),
        "revoked_at": t.revoked_at.and_then(when_json),
    })
}

pub async fn run(args: TokensArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref(), std::env::vars())?;
    let store = Store::connect(&config.service.database_url)
        .await
        .context("opening the database")?;
    let mut out = std::io::stdout().lock();
    match args.command {
        TokensCommand::Create {
            scope,
            tenant,
            name,
            json,
        } => {
            let tenant = match tenant {
                Some(t) if config.tenants.contains_key(&t) => Some(TenantKey::from(t)),
                Some(t) => anyhow::bail!("tenant {t:?} is not configured (tenants.{t})"),
                None => None,
            };
            let made = tokens::create(
                &store,
                scope.into(),
                tenant.as_ref(),
                &name,
                &super::users::actor(),
            )
            .await?;
            if json {
                let mut doc = row_json(&made.token);
                doc["token"] = made.text.expose().into();
                writeln!(out, "{doc}")?;
            } else {
                writeln!(
                    out,
                    "token {} ({} scope, tenant {}) made; it is shown once:\n{}",
                    made.token.id,
                    made.token.scope,
                    made.token.tenant,
                    made.text.expose()
                )?;
            }
        }
        TokensCommand::List { json } => {
            let all = tokens::list(&store).await?;
            if json {
                let rows: Vec<_> = all.iter().map(row_json).collect();
                writeln!(out, "{}", serde_json::Value::Array(rows))?;
                return Ok(());
            }
            writeln!(
                out,
                "{:<16} {:<20} {:<12} {:<8} {:<25} {:<25} revoked",
                "id", "name", "tenant", "scope", "created", "last used"
            )?;
            for t in all {
                let at = |ms: Option<i64>| ms.and_then(when_json).unwrap_or_else(|| "-".into());
                writeln!(
                    out,
                    "{:<16} {:<20} {:<12} {:<8} {:<25} {:<25} {}",
                    t.id,
                    t.name,
                    t.tenant,
                    t.scope,
                    at(Some(t.created_at)),
                    at(t.last_used_at),
                    at(t.revoked_at)
                )?;
            }
        }
        TokensCommand::Revoke { id } => {
            if tokens::revoke(&store, &id).await? {
                writeln!(out, "token {id} revoked")?;
            } else {
                writeln!(out, "token {id} was already revoked; nothing changed")?;
            }
        }
    }
    Ok(())
}
