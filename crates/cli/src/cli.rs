//! Command-line interface: one executable, one subcommand per role.

use clap::{Parser, Subcommand};

use crate::commands;
use crate::telemetry::LogFormat;

/// checkbridge connects PageUp background-check requests to Theary verifications.
#[derive(Debug, Parser)]
#[command(name = "checkbridge", version, about, propagate_version = true)]
pub struct Cli {
    /// Log format on standard error.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run everything locally: both sandboxes and the service on SQLite, with a realistic
    /// mix of checks across three tenants, until every check is final.
    Demo(commands::demo::DemoArgs),
    /// Run the service: poll PageUp, order from Theary, take webhooks, keep PageUp current.
    Serve(commands::serve::ServeArgs),
    /// Run local emulators of the PageUp and Theary APIs (both when no API is named).
    Sandbox(commands::sandbox::SandboxArgs),
    /// Master keys for encryption at rest: generate one, or rotate to a new one.
    Keys(commands::keys::KeysArgs),
    /// Retention: what is due, purge now, export a tenant's access record, shred a tenant.
    Retention(commands::retention::RetentionArgs),
    /// People who may read reports: add one to a tenant.
    Users(commands::users::UsersArgs),
    /// The error log: export a tenant's failed calls for PageUp support.
    Logs(commands::logs::LogsArgs),
    /// Bearer tokens for the admin HTTP API (/api/v1): create (shown once), list, revoke.
    Tokens(commands::tokens::TokensArgs),
    /// A tenant's checks: list, show one, retry its owed work, cancel it.
    Checks(commands::admin::ChecksArgs),
    /// Tenants: list with their state, or test one's credentials end to end.
    Tenants(commands::admin::TenantsArgs),
    /// Go-live certification of a tenant: the guide's validation as numbered steps (tokens,
    /// the pending list, a test check through to completed, its report link, the alerts),
    /// a sign-off report in HTML and PDF, and the result recorded.
    Certify(commands::certify::CertifyArgs),
    /// PageUp tools for UAT: inspect the raw pending list, reset a check to pending.
    Pageup(commands::admin::PageUpArgs),
    /// Schema migrations: apply them (waiting for another process's first), or show status.
    Migrate(commands::migrate::MigrateArgs),
    /// A consistent copy of the database, taken while the service runs (SQLite; PostgreSQL
    /// through pg_dump).
    Backup(commands::backup::BackupArgs),
    /// Restore a backup; every check owing an order is then looked up at Theary first.
    Restore(commands::backup::RestoreArgs),
    /// After a restore: match Theary's orders to the checks, attach what the backup missed,
    /// report what cannot be recovered.
    Recover(commands::backup::RecoverArgs),
    /// Check a configuration file (with CHECKBRIDGE_* variables applied).
    Config(commands::config::ConfigArgs),
    /// Intake mappings: run a tenant's on invitations saved to a file, offline.
    Mapping(commands::mapping::MappingArgs),
    /// Measure checkbridge against the limits of its job (drain, tenants, webhooks,
    /// resume, latency), with the sandboxes in a separate process; prints a table.
    Bench(checkbridge_lab::bench::BenchArgs),
    /// The bench's sandbox process (started by `bench`).
    #[command(hide = true)]
    BenchSandboxes(checkbridge_lab::bench::SandboxesArgs),
}

/// Runs the chosen command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(args) => commands::demo::run(args).await,
        Command::Serve(args) => commands::serve::run(args).await,
        Command::Sandbox(args) => commands::sandbox::run(args).await,
        Command::Retention(args) => commands::retention::run(args).await,
        Command::Users(args) => commands::users::run(args).await,
        Command::Logs(args) => commands::logs::run(args).await,
        Command::Tokens(args) => commands::tokens::run(args).await,
        Command::Checks(args) => commands::admin::checks(args).await,
        Command::Tenants(args) => commands::admin::tenants(args).await,
        Command::Certify(args) => commands::certify::run(args).await,
        Command::Pageup(args) => commands::admin::pageup(args).await,
        Command::Keys(args) => commands::keys::run(args).await,
        Command::Backup(args) => commands::backup::backup(args).await,
        Command::Restore(args) => commands::backup::restore(args).await,
        Command::Recover(args) => commands::backup::recover_cmd(args).await,
        Command::Migrate(args) => commands::migrate::run(args).await,
        Command::Config(args) => commands::config::run(args),
        Command::Mapping(args) => commands::mapping::run(args).await,
        Command::Bench(args) => checkbridge_lab::bench::run(args).await,
        Command::BenchSandboxes(args) => checkbridge_lab::bench::sandboxes_main(args).await,
    }
}
