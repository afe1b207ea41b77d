//! Logging setup. Log fields are chosen at each call site from an allowlist (`tenant`,
//! `check`, `search`, `attempt`, `duration_ms`, `status`); request and webhook bodies are
//! never logged. Every line then passes through [`checkbridge::redact`] as a backstop.

use tracing_subscriber::{fmt, EnvFilter};

/// Output format of the log lines.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Installs the global subscriber. `RUST_LOG` overrides the default filter `default`.
pub fn init(format: LogFormat, default: &str) {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // The mail sandbox's SMTP library traces every line it reads, AUTH exchanges included:
    // off whatever RUST_LOG says.
    if let Ok(quiet) = "mailin=off".parse() {
        filter = filter.add_directive(quiet);
    }
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(checkbridge::redact::RedactedStderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A subscriber may already be installed (tests); that one is kept.
    drop(result);
}
