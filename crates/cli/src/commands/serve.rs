//! `checkbridge serve --config FILE`: runs a replica (every role its configuration names)
//! until SIGINT or SIGTERM, then stops taking work and finishes the step in hand.

use std::path::PathBuf;

use clap::Args;

use checkbridge::config::Config;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML file (see checkbridge.example.toml); CHECKBRIDGE_* variables override it.
    #[arg(long, env = "CHECKBRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref(), std::env::vars())?;
    if config.tenants.is_empty() {
        tracing::warn!("no tenants configured: nothing will be polled");
    }
    let running = checkbridge::service::start(&config).await?;
    tracing::info!(
        listen = %running.addr.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
        tenants = config.tenants.len(),
        instance = %running.engine.owner(),
        database = %checkbridge::config::redact_url(&config.service.database_url),
        "checkbridge serving"
    );
    wait_for_signal().await;
    tracing::info!("stopping");
    running.stop().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
