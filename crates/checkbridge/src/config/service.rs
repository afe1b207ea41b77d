//! `[service]` and `[alerts]`: the replica itself (addresses, database, roles, master keys,
//! its name on leases, limits of its loops) and where health alerts are announced. These are
//! the same for every tenant; each is checked here, so `Config::validate` only adds the checks
//! that span sections.

use secrecy::SecretString;
use serde::Deserialize;

use super::load::lenient;
use super::{invalid, ConfigError};

/// Settings of the service itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Public base URL of this service: Theary calls back under it, and the report links
    /// PageUp shows point under it. Must be HTTPS outside local use.
    pub public_base_url: String,
    /// Address the HTTP server binds.
    pub listen: String,
    /// `sqlite://PATH` (the embedded default) or `postgres://...`.
    pub database_url: String,
    /// Roles this replica runs.
    pub roles: Roles,
    /// Master keys that wrap the tenants' data keys, `id:base64[,id:base64...]` (32 random
    /// bytes each; the first wraps new keys, the others still open old ones). Set it through
    /// `CHECKBRIDGE_SERVICE__MASTER_KEY`, or use `master_key_file`; never in a shared file.
    pub master_key: Option<SecretString>,
    /// A file holding the master keys as above (one per line or comma-separated).
    pub master_key_file: Option<std::path::PathBuf>,
    /// This replica's name, written on the work it leases. Unique per replica and stable
    /// across its restarts, so a restarted replica takes its own leases back at once.
    /// Empty: the host name and the listen address.
    pub instance_id: String,
    /// Seconds a search may stay quiet (no webhook) before the reconciler asks Theary
    /// about it: the backstop for lost webhooks and for cancellations, which Theary is not
    /// known to announce.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub reconcile_after_secs: u64,
    /// Outbound calls each loop (poller, orderer, pusher, reconciler) may have in flight.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub concurrency: u64,
    /// Of those, calls for one tenant each loop may have in flight, so a tenant with a large
    /// backlog or a slow partner never takes every slot from the others.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub tenant_concurrency: u64,
    /// Seconds a lease on work (a tenant's poll, a check's order or PageUp update, an alert)
    /// lasts from its last renewal. Live work is renewed every third of it, so this bounds
    /// how long a replica that died holds its work before others take it over.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub lease_secs: u64,
    /// Pages of 50 orders searched when an order request's outcome was unknown and the
    /// order must be found by its `externalSearchId` (Theary has no lookup endpoint).
    #[serde(deserialize_with = "lenient::unsigned")]
    pub order_lookup_pages: u64,
    /// Up to this many tenants, `/metrics` labels series by tenant; beyond it the tenant
    /// label is `all`, so the number of series stays bounded however many tenants there are.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub metrics_tenant_limit: u64,
    /// Report PDFs rendered at once by this replica (each on a blocking thread); more wait
    /// their turn, so large reports never hold the threads that answer other requests.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub pdf_renders: u64,
    /// How sign-ins are limited (`[service.sign_in]`).
    pub sign_in: SignInConfig,
    /// A tenant in PageUp `live` is polled only once `checkbridge certify --env uat` has
    /// passed for it (a tenant's own `require_certification` overrides this).
    #[serde(deserialize_with = "lenient::boolean")]
    pub require_certification: bool,
}

/// Limits on signing in: per client address and per user name, both. A fast limit on
/// attempts is kept in each replica's memory (bounded); failures are counted in the
/// database, so a name or address locked on one replica is locked on all.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignInConfig {
    /// Sign-in attempts a client address may make per minute (in memory, per replica).
    #[serde(deserialize_with = "lenient::unsigned")]
    pub attempts_per_address_per_minute: u64,
    /// Sign-in attempts per user name per minute (in memory, per replica).
    #[serde(deserialize_with = "lenient::unsigned")]
    pub attempts_per_name_per_minute: u64,
    /// Failed sign-ins of one user name within `window_secs` that lock it.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub failures_per_name: u64,
    /// Failed sign-ins from one client address within `window_secs` that lock it (a
    /// password tried across many names is stopped here).
    #[serde(deserialize_with = "lenient::unsigned")]
    pub failures_per_address: u64,
    /// The window failures are counted in, in seconds.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub window_secs: u64,
    /// How long a locked name or address stays locked, in seconds.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub lockout_secs: u64,
    /// Password checks (argon2, on blocking threads) run at once; more wait their turn.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub password_checks: u64,
    /// Names and addresses the in-memory limit tracks at most; beyond, its state is
    /// pruned (the database still holds every lock), so memory does not grow with them.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub tracked_keys: u64,
    /// Take the client address from the last `X-Forwarded-For` entry (set this only
    /// behind a proxy that writes it); otherwise the connection's peer address is used.
    pub trust_forwarded_for: bool,
    /// A session ends after this many seconds without a request.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub session_idle_secs: u64,
    /// A session ends this many seconds after sign-in, however active.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub session_absolute_secs: u64,
}

impl Default for SignInConfig {
    fn default() -> Self {
        Self {
            attempts_per_address_per_minute: 30,
            attempts_per_name_per_minute: 10,
            failures_per_name: 5,
            failures_per_address: 20,
            window_secs: 900,
            lockout_secs: 900,
            password_checks: 2,
            tracked_keys: 50_000,
            trust_forwarded_for: false,
            session_idle_secs: 3_600,
            session_absolute_secs: 8 * 3_600,
        }
    }
}

impl SignInConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for (key, v) in [
            (
                "attempts_per_address_per_minute",
                self.attempts_per_address_per_minute,
            ),
            (
                "attempts_per_name_per_minute",
                self.attempts_per_name_per_minute,
            ),
            ("failures_per_name", self.failures_per_name),
            ("failures_per_address", self.failures_per_address),
            ("window_secs", self.window_secs),
            ("lockout_secs", self.lockout_secs),
            ("password_checks", self.password_checks),
            ("tracked_keys", self.tracked_keys),
            ("session_idle_secs", self.session_idle_secs),
            ("session_absolute_secs", self.session_absolute_secs),
        ] {
            if v == 0 || v > u64::from(u32::MAX) {
                return Err(invalid(
                    format!("service.sign_in.{key}"),
                    "must be at least 1 and below 2^32",
                ));
            }
        }
        Ok(())
    }
}

impl ServiceConfig {
    /// The master keys from `master_key` or `master_key_file`.
    pub fn master_keys(&self) -> Result<crate::crypto::MasterKeys, ConfigError> {
        use secrecy::ExposeSecret as _;
        let (key, spec) = match (&self.master_key, &self.master_key_file) {
            (Some(k), _) => ("service.master_key", zeroize::Zeroizing::new(k.expose_secret().to_owned())),
            (None, Some(path)) => (
                "service.master_key_file",
                zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                    invalid("service.master_key_file", format!("cannot be read ({e})"))
                })?),
            ),
            (None, None) => {
                return Err(invalid(
                    "service.master_key",
                    "is required (or service.master_key_file): it protects candidate data at rest; \
                     make one with `checkbridge keys generate` and pass it as CHECKBRIDGE_SERVICE__MASTER_KEY",
                ))
            }
        };
        crate::crypto::MasterKeys::parse(&spec).map_err(|e| invalid(key, e.to_string()))
    }

    /// `instance_id`, or the host name and listen address when it is not set.
    pub fn instance(&self) -> String {
        if !self.instance_id.trim().is_empty() {
            return self.instance_id.trim().to_owned();
        }
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "checkbridge".to_owned());
        format!("{host}/{}", self.listen)
    }

    /// Checks what the types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let url = url::Url::parse(&self.public_base_url)
            .map_err(|e| invalid("service.public_base_url", format!("is not a URL ({e})")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(invalid("service.public_base_url", "must be an http(s) URL"));
        }
        if url.scheme() == "http" && !super::is_loopback(&url) {
            return Err(invalid("service.public_base_url", "must be HTTPS: Theary sends webhooks only to HTTPS URLs, and report links must not travel in clear"));
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "service.listen",
                "must be an address and port such as 0.0.0.0:8080",
            ));
        }
        let db = &self.database_url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(invalid(
                "service.database_url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if self.concurrency == 0 {
            return Err(invalid("service.concurrency", "must be at least 1"));
        }
        if self.tenant_concurrency == 0 {
            return Err(invalid("service.tenant_concurrency", "must be at least 1"));
        }
        self.sign_in.validate()?;
        if self.pdf_renders == 0 {
            return Err(invalid("service.pdf_renders", "must be at least 1"));
        }
        if self.lease_secs < 3 {
            return Err(invalid(
                "service.lease_secs",
                "must be at least 3 (seconds): leases are renewed every third of it",
            ));
        }
        if self.reconcile_after_secs == 0 {
            return Err(invalid(
                "service.reconcile_after_secs",
                "must be at least 1 (seconds)",
            ));
        }
        Ok(())
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            public_base_url: "http://127.0.0.1:8080".to_owned(),
            listen: "127.0.0.1:8080".to_owned(),
            database_url: "sqlite://checkbridge.db".to_owned(),
            roles: Roles::default(),
            master_key: None,
            master_key_file: None,
            instance_id: String::new(),
            reconcile_after_secs: 900,
            concurrency: 32,
            tenant_concurrency: 16,
            lease_secs: 30,
            order_lookup_pages: 20,
            metrics_tenant_limit: 100,
            pdf_renders: 2,
            sign_in: SignInConfig::default(),
            require_certification: false,
        }
    }
}

/// Every role can be switched off, so replicas can be specialised.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Roles {
    #[serde(deserialize_with = "lenient::boolean")]
    pub poller: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub orderer: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub pusher: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub reconciler: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub http: bool,
    /// Purges candidate data and records past their retention period.
    #[serde(deserialize_with = "lenient::boolean")]
    pub purger: bool,
    /// Opens and resolves health issues and sends their alerts.
    #[serde(deserialize_with = "lenient::boolean")]
    pub monitor: bool,
}

impl Default for Roles {
    fn default() -> Self {
        Self {
            poller: true,
            orderer: true,
            pusher: true,
            reconciler: true,
            http: true,
            purger: true,
            monitor: true,
        }
    }
}

/// The alert webhook: JSON with a `text` field (which Slack's incoming webhooks accept as
/// they are) plus the fields for machines.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// URL to POST alerts to. Empty: issues are still opened, resolved and shown, but not
    /// announced. A Slack webhook URL is a credential: set it through
    /// `CHECKBRIDGE_ALERTS__WEBHOOK_URL`.
    pub webhook_url: Option<SecretString>,
    /// Added to every alert's text, to tell installations apart (e.g. `production`).
    pub environment: Option<String>,
}

impl AlertsConfig {
    /// Checks what the types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.webhook_url {
            use secrecy::ExposeSecret as _;
            let url = url.expose_secret();
            if !url.is_empty() {
                // Not echoed: the URL is a credential.
                let parsed = url::Url::parse(url)
                    .map_err(|_| invalid("alerts.webhook_url", "must be an https URL"))?;
                super::https_unless_loopback("alerts.webhook_url", &parsed)?;
            }
        }
        Ok(())
    }
}
