//! `[tenants.KEY.sso]`: single sign-on for the tenant's report readers through its own
//! OpenID Connect identity provider. The client secret is a `SecretString` (set it with
//! `CHECKBRIDGE_TENANTS__KEY__SSO__CLIENT_SECRET`) and the section prints without it.

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::config::load::lenient;
use crate::config::{invalid, ConfigError};

/// How a tenant's readers sign in through its identity provider.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoSection {
    /// The provider's issuer URL; its discovery document is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    #[serde(deserialize_with = "lenient::string")]
    pub client_id: String,
    pub client_secret: SecretString,
    /// Email domains whose users may sign in (the domain of the `email` claim, which must
    /// be verified when the provider says). Empty: any domain (then `required_group` must
    /// be set).
    #[serde(default, deserialize_with = "lenient::list")]
    pub allowed_domains: Vec<String>,
    /// A group (or role) the user must have in `groups_claim`.
    #[serde(default)]
    pub required_group: Option<String>,
    /// The claim that lists the user's groups or roles.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// The claim that names the reader (shown on pages and in the access record).
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    #[serde(default = "default_scopes", deserialize_with = "lenient::list")]
    pub scopes: Vec<String>,
    /// Whether this tenant's password readers may still sign in with a password.
    #[serde(default = "yes", deserialize_with = "lenient::boolean")]
    pub password_sign_in: bool,
    /// Seconds a call to the provider (discovery, keys, token) may take.
    #[serde(default = "default_timeout", deserialize_with = "lenient::unsigned")]
    pub timeout_secs: u64,
    /// Seconds the discovery document and the keys are kept before they are fetched again
    /// (a token signed with a key not in them fetches them again at once).
    #[serde(default = "default_refresh", deserialize_with = "lenient::unsigned")]
    pub metadata_refresh_secs: u64,
    /// Seconds a sign-in may take between leaving for the provider and coming back.
    #[serde(
        default = "default_sign_in_timeout",
        deserialize_with = "lenient::unsigned"
    )]
    pub sign_in_timeout_secs: u64,
    /// Sign-ins of this tenant in progress at once, at most (older ones expire).
    #[serde(
        default = "default_max_pending",
        deserialize_with = "lenient::unsigned"
    )]
    pub max_pending: u64,
}

impl std::fmt::Debug for SsoSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoSection")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("allowed_domains", &self.allowed_domains)
            .field("required_group", &self.required_group)
            .field("password_sign_in", &self.password_sign_in)
            .finish_non_exhaustive()
    }
}

fn yes() -> bool {
    true
}
fn default_groups_claim() -> String {
    "groups".to_owned()
}
fn default_username_claim() -> String {
    "email".to_owned()
}
fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(str::to_owned).to_vec()
}
fn default_timeout() -> u64 {
    10
}
fn default_refresh() -> u64 {
    3600
}
fn default_sign_in_timeout() -> u64 {
    600
}
fn default_max_pending() -> u64 {
    10_000
}

impl SsoSection {
    /// Domains are compared lower-case, without a leading `@`.
    pub(super) fn normalize(&mut self) {
        for d in &mut self.allowed_domains {
            *d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        }
        self.allowed_domains.retain(|d| !d.is_empty());
    }

    /// The issuer as a URL (checked by [`SsoSection::validate`]).
    pub fn issuer_url(&self) -> Option<url::Url> {
        url::Url::parse(&self.issuer).ok()
    }

    pub(super) fn validate(&self, k: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        let Some(issuer) = self.issuer_url() else {
            return Err(invalid(
                k("sso.issuer"),
                "must be the identity provider's issuer URL, e.g. https://login.example.com/tenant",
            ));
        };
        crate::config::https_unless_loopback(&k("sso.issuer"), &issuer)?;
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(invalid(
                k("sso.issuer"),
                "must not have a query or fragment",
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(invalid(k("sso.client_id"), "must not be empty"));
        }
        if self.client_secret.expose_secret().trim().is_empty() {
            return Err(invalid(
                k("sso.client_secret"),
                "must not be empty (set it through the environment)",
            ));
        }
        if self.allowed_domains.is_empty()
            && self
                .required_group
                .as_deref()
                .is_none_or(|g| g.trim().is_empty())
        {
            return Err(invalid(
                k("sso.allowed_domains"),
                "set allowed_domains, required_group or both: otherwise anyone the identity provider knows could read this tenant's reports",
            ));
        }
        if let Some(bad) = self
            .allowed_domains
            .iter()
            .find(|d| d.contains('@') || d.contains('/') || !d.contains('.'))
        {
            return Err(invalid(
                k("sso.allowed_domains"),
                format!("{bad:?} is not an email domain such as acme.com"),
            ));
        }
        for (key, claim) in [
            ("sso.groups_claim", &self.groups_claim),
            ("sso.username_claim", &self.username_claim),
        ] {
            if claim.trim().is_empty() {
                return Err(invalid(k(key), "must name a claim"));
            }
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err(invalid(k("sso.scopes"), "must include openid"));
        }
        if !(1..=120).contains(&self.timeout_secs) {
            return Err(invalid(
                k("sso.timeout_secs"),
                "must be between 1 and 120 seconds",
            ));
        }
        if self.metadata_refresh_secs < 1 {
            return Err(invalid(
                k("sso.metadata_refresh_secs"),
                "must be at least 1 second",
            ));
        }
        if !(10..=86_400).contains(&self.sign_in_timeout_secs) {
            return Err(invalid(
                k("sso.sign_in_timeout_secs"),
                "must be between 10 seconds and a day",
            ));
        }
        if self.max_pending < 1 {
            return Err(invalid(k("sso.max_pending"), "must be at least 1"));
        }
        Ok(())
    }
}
