//! `[http]`: what the HTTP server allows one caller, so a stranger on the internet cannot
//! hold its connections, memory or workers: read timeouts, a connection cap, in-flight caps
//! per route class, the `/metrics` token, and how long refused, unauthenticated requests are
//! remembered. Every number has a default sized for a busy replica.

use secrecy::SecretString;
use serde::Deserialize;

use super::load::lenient;
use super::{invalid, ConfigError};

/// Limits of the HTTP server (see `http::limits`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Seconds a connection may take to send a request's headers; also how long a kept-alive
    /// connection may stay idle between requests. Then it is closed.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub header_timeout_secs: u64,
    /// Seconds a request may take to send its whole body; then it is answered 408.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub body_timeout_secs: u64,
    /// Largest request body read on any route, in bytes (webhooks keep their own, smaller
    /// limit). Larger bodies are answered 413.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub max_body_bytes: u64,
    /// Largest request head (request line and headers), in bytes; a larger one is answered
    /// 431. At least 8192.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub max_header_bytes: u64,
    /// Connections open at once; a connection beyond it is closed as soon as it is accepted.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub max_connections: u64,
    /// Webhook requests handled at once; beyond it they are answered 503 (Theary retries).
    #[serde(deserialize_with = "lenient::unsigned")]
    pub webhook_in_flight: u64,
    /// Page requests (sign-in, reports, operator page) handled at once; beyond it, 503.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub page_in_flight: u64,
    /// Bearer token `/metrics` requires (`Authorization: Bearer ...`). Set it through
    /// `CHECKBRIDGE_HTTP__METRICS_TOKEN`. Empty: `/metrics` answers 404 to everyone.
    pub metrics_token: Option<SecretString>,
    /// Hours refused, unauthenticated requests (webhooks that failed verification or named
    /// nothing known) stay in the error log. PageUp and Theary call failures keep the
    /// tenant's `records_days`.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub refused_log_hours: u64,
    /// Refused, unauthenticated requests logged per tenant per minute; the rest are counted
    /// in `/metrics` only.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub refused_log_per_minute: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_body_bytes: 512 * 1024,
            max_header_bytes: 64 * 1024,
            max_connections: 1024,
            webhook_in_flight: 128,
            page_in_flight: 64,
            metrics_token: None,
            refused_log_hours: 24,
            refused_log_per_minute: 10,
        }
    }
}

impl HttpConfig {
    /// Checks what the types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("http.header_timeout_secs", self.header_timeout_secs),
            ("http.body_timeout_secs", self.body_timeout_secs),
            ("http.max_body_bytes", self.max_body_bytes),
            ("http.max_connections", self.max_connections),
            ("http.webhook_in_flight", self.webhook_in_flight),
            ("http.page_in_flight", self.page_in_flight),
            ("http.refused_log_hours", self.refused_log_hours),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if self.max_header_bytes < 8192 {
            return Err(invalid("http.max_header_bytes", "must be at least 8192"));
        }
        if let Some(token) = &self.metrics_token {
            use secrecy::ExposeSecret as _;
            let t = token.expose_secret();
            if !t.is_empty() && t.len() < 16 {
                return Err(invalid(
                    "http.metrics_token",
                    "must be at least 16 characters (make one with `openssl rand -hex 32`)",
                ));
            }
        }
        Ok(())
    }

    /// The `/metrics` token, when one is set.
    pub fn metrics_token(&self) -> Option<&str> {
        use secrecy::ExposeSecret;
        self.metrics_token
            .as_ref()
            .map(ExposeSecret::expose_secret)
            .filter(|t| !t.is_empty())
    }
}
