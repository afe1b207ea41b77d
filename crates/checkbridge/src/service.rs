//! A running replica: the store, the sync loops and the HTTP server, started together and
//! stopped together. `serve` runs one until a signal; tests and the demo run one in-process.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::Store;
use crate::sync::Engine;

/// A started replica.
#[derive(Debug)]
pub struct Running {
    /// Where the HTTP server listens (when the `http` role is on).
    pub addr: Option<SocketAddr>,
    pub engine: Engine,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops the loops and the server, waiting for in-flight work to finish its step.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Resolves when the replica stops by itself (its store failed at start of a loop).
    pub fn token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// Connects the store (applying migrations), binds the HTTP server, and starts the loops
/// the configuration's roles name.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    // Refuse a missing or malformed master key before touching anything.
    config.service.master_keys()?;
    let store = Store::connect(&config.service.database_url)
        .await
        .with_context(|| {
            format!(
                "opening the database (service.database_url = {})",
                crate::config::redact_url(&config.service.database_url)
            )
        })?;
    start_on(config, store, None).await
}

/// As [`start`], on an open store and, when given, an already bound listener (whose
/// address must be the one `service.public_base_url` names).
pub async fn start_on(
    config: &Config,
    store: Store,
    listener: Option<tokio::net::TcpListener>,
) -> anyhow::Result<Running> {
    let engine = Engine::new(config, store)?;
    engine.start().await.context("preparing the database")?;
    let shutdown = CancellationToken::new();
    let mut tasks = Vec::new();
    let mut addr = None;
    if config.service.roles.http {
        let listener = match listener {
            Some(l) => l,
            None => tokio::net::TcpListener::bind(&config.service.listen)
                .await
                .with_context(|| format!("binding service.listen = {}", config.service.listen))?,
        };
        addr = Some(listener.local_addr()?);
        let app = crate::http::app::router(&engine);
        let stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        }));
    }
    let (e, stop) = (engine.clone(), shutdown.clone());
    tasks.push(tokio::spawn(async move { e.run(stop).await }));
    Ok(Running {
        addr,
        engine,
        shutdown,
        tasks,
    })
}
