//! How a tenant reaches PageUp and Theary: environments, data centre, credentials and URL
//! overrides. The secrets are `SecretString`s and the sections print without them.

use secrecy::SecretString;
use serde::Deserialize;

use crate::config::load::lenient;

/// PageUp environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageUpEnv {
    Live,
    Uat,
}

/// How to reach this tenant's PageUp.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageUpSection {
    /// PageUp's tenant (instance) id, e.g. "218".
    #[serde(deserialize_with = "lenient::string")]
    pub tenant_id: String,
    pub env: PageUpEnv,
    /// Data centre: dc2 (AUS), dc3 (UK/EMEA), dc4 (US), dc5 (SEA).
    pub dc: String,
    #[serde(deserialize_with = "lenient::string")]
    pub client_id: String,
    pub client_secret: SecretString,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub list_url: Option<String>,
    #[serde(default)]
    pub update_url: Option<String>,
    #[serde(default)]
    pub partner_claim: Option<String>,
}

impl std::fmt::Debug for PageUpSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageUpSection")
            .field("tenant_id", &self.tenant_id)
            .field("env", &self.env)
            .field("dc", &self.dc)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Theary environment presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ThearyEnv {
    #[default]
    Production,
    Sandbox,
}

/// How to reach Theary for this tenant.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThearySection {
    /// Preset for the three URLs below; each can still be set on its own.
    #[serde(default)]
    pub environment: ThearyEnv,
    #[serde(default)]
    pub auth_url: Option<String>,
    #[serde(default)]
    pub audience: Option<String>,
    #[serde(default)]
    pub api_base: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub client_id: String,
    pub client_secret: SecretString,
    /// Whether this Theary account runs criminal checks. The order document describes
    /// CRIMINAL searches; Theary's newer documentation says they are not accepted, so only
    /// an account that confirmed them turns this on. Off: a package that asks for a
    /// criminal check fails at once with a reason the recruiter can act on.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub criminal: bool,
}

impl std::fmt::Debug for ThearySection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThearySection")
            .field("environment", &self.environment)
            .field("api_base", &self.api_base)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("criminal", &self.criminal)
            .finish_non_exhaustive()
    }
}
