//! Configuration: built-in defaults, then a TOML file, then `CHECKBRIDGE_*` environment
//! variables, validated once at start with errors that name the key and say why.
//!
//! Environment variables address keys with `__` between levels, lower-cased:
//! `CHECKBRIDGE_SERVICE__PUBLIC_BASE_URL` sets `service.public_base_url`, and
//! `CHECKBRIDGE_TENANTS__ACME__PAGEUP__CLIENT_SECRET` sets `tenants.acme.pageup.client_secret`
//! (which is how secrets should arrive in production). Variables without `__` (such as
//! `CHECKBRIDGE_CONFIG`) are not keys and are ignored here.
//!
//! `checkbridge.example.toml` documents every key; a test keeps it loading and valid.
//!
//! Split by job: `load.rs` reads and merges the layers (and holds the deserializers that take
//! strings for any type); `service.rs`, `health.rs`, `mail.rs` and `tenant/` hold each section's types,
//! defaults and the checks it can make of itself. This file holds the whole [`Config`], the
//! checks that span sections (tenant keys, one configuration per PageUp tenant) and the
//! summary for operators.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

mod health;
mod http;
mod load;
mod mail;
mod service;
mod tenant;

pub use health::HealthConfig;
pub use http::HttpConfig;
pub use mail::{MailConfig, MailSettings, MailTls};
pub use service::{AlertsConfig, Roles, ServiceConfig, SignInConfig};
pub use tenant::{
    BusinessDefaults, CandidateIntake, CandidateSection, ChecksMapping, PageUpEnv, PageUpSection,
    ReleaseReference, ResultMapping, Retention, SsoSection, TenantConfig, ThearyEnv, ThearySection,
    DEFAULT_RELEASE_UPLOAD_ABOVE, MAPPABLE_FIELDS,
};

/// What went wrong loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The OS's reason is the error's source (printed once, by whoever prints the chain).
    #[error("cannot read the config file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("config key {key}: {why}")]
    Invalid { key: String, why: String },
}

fn invalid(key: impl Into<String>, why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        why: why.into(),
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub service: ServiceConfig,
    /// Mutual customers, keyed by our tenant key (lower-case letters, digits, `_`).
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
    /// When health issues open and resolve.
    #[serde(default)]
    pub health: HealthConfig,
    /// Where opening and resolving health issues are announced.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// What the HTTP server allows one caller.
    #[serde(default)]
    pub http: HttpConfig,
    /// The SMTP server candidate invitations go out through; absent: no mail is sent.
    #[serde(default)]
    pub mail: Option<MailConfig>,
}

impl Config {
    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.service.validate()?;
        self.health.validate()?;
        self.alerts.validate()?;
        self.http.validate()?;
        if let Some(mail) = &self.mail {
            mail.settings()?;
        }
        for (key, tenant) in &self.tenants {
            if key.is_empty()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(invalid(format!("tenants.{key}"), "tenant keys use lower-case letters, digits and _ only (they are also environment variable names)"));
            }
            tenant.validate(key)?;
        }
        let mut seen = BTreeMap::new();
        for (key, tenant) in &self.tenants {
            let id = (
                tenant.pageup.dc.to_ascii_lowercase(),
                tenant.pageup.env,
                tenant.pageup.tenant_id.clone(),
            );
            if let Some(other) = seen.insert(id, key) {
                return Err(invalid(
                    format!("tenants.{key}.pageup.tenant_id"),
                    format!("the same PageUp tenant is already configured as tenants.{other}"),
                ));
            }
        }
        Ok(())
    }

    /// Every check `serve` makes before it touches anything: the validation [`Config::load`]
    /// ran, and the master keys (present, readable, well-formed). `checkbridge config check`
    /// runs exactly this too, so a file it passes does not fail at start.
    pub fn check_for_serve(&self) -> Result<crate::crypto::MasterKeys, ConfigError> {
        self.validate()?;
        self.service.master_keys()
    }

    /// A summary for operators, without secrets.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "service: public base URL {}, listening on {}, database {}\n",
            self.service.public_base_url,
            self.service.listen,
            redact_url(&self.service.database_url)
        );
        match self.mail.as_ref().map(MailConfig::settings) {
            Some(Ok(m)) => out.push_str(&format!(
                "mail: via {} from {}{}\n",
                m.describe(),
                m.from,
                m.credentials
                    .as_ref()
                    .map(|(user, _)| format!(", as {user}"))
                    .unwrap_or_default()
            )),
            Some(Err(_)) => out.push_str("mail: invalid (see config check)\n"),
            None => {}
        }
        if self.tenants.is_empty() {
            out.push_str("no tenants configured\n");
        }
        for (key, t) in &self.tenants {
            let pageup = t.pageup_tenant();
            let theary = t.theary_config();
            out.push_str(&format!(
                "tenant {key}{}{}: PageUp tenant {} ({}, {}) via {}; Theary {} as client {}; poll every {} s; default searches {}\n",
                t.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default(),
                if t.enabled { "" } else { " [disabled]" },
                pageup.tenant_id,
                if pageup.env.is_empty() { "live" } else { "uat" },
                pageup.dc,
                pageup.list_url().map(|u| u.to_string()).unwrap_or_default(),
                theary.api_base,
                theary.client_id,
                t.poll_interval_secs,
                t.checks.default_search_types.join("+"),
            ));
            if let Some(m) = &t.mapping {
                out.push_str(&format!("tenant {key}: intake through {}\n", m.origin));
            }
        }
        out
    }
}

/// Whether `url`'s host is this machine: `localhost`, an address in 127.0.0.0/8 or `::1`,
/// read as an address (so `127.attacker.example` is not).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

/// An outbound URL must be HTTPS unless it stays on this machine: client secrets, tokens and
/// candidate data travel on it.
pub(crate) fn https_unless_loopback(key: &str, url: &url::Url) -> Result<(), ConfigError> {
    if url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url)) {
        return Ok(());
    }
    Err(invalid(
        key,
        "must be an https URL (plain http only to localhost, 127.0.0.0/8 or ::1): credentials and candidate data travel on it",
    ))
}

/// A database URL with any password replaced.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests;
