//! Outbound HTTP plumbing shared by the PageUp and Theary clients.
//!
//! Both partner APIs ask the same of an integrator: retry transient failures with exponential
//! backoff (PageUp's guide names "the underlying connection was closed"; Theary's names 5xx and
//! network errors), honour `Retry-After` on 429, never retry other 4xx, and keep one cached
//! OAuth token per tenant, refreshed by one caller at a time. That policy lives here once so
//! the two clients cannot drift apart.

mod retry;
mod token;

pub use retry::{
    classify_error, parse_retry_after, run_with_retries, status_is_transient, Attempt, ErrorClass,
    RetryPolicy,
};
pub use token::{secret_fingerprint, CachedToken, FetchedToken, TokenCache};

use std::time::Duration;

/// Settings for the shared `reqwest::Client` (one connection pool per host, reused by every
/// tenant, so ten thousand tenants do not mean ten thousand pools).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Time allowed to establish a TCP/TLS connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, body included.
    pub request_timeout: Duration,
    /// Idle connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// Sent as `User-Agent`.
    pub user_agent: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            pool_max_idle_per_host: 64,
            user_agent: concat!("checkbridge/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Builds the shared HTTP client. Redirects are not followed: a partner API that redirects a
/// token or data request elsewhere is a configuration problem to surface, not to follow.
pub fn http_client(settings: &HttpSettings) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.request_timeout)
        .pool_max_idle_per_host(settings.pool_max_idle_per_host)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(settings.user_agent.clone())
        .build()
}
