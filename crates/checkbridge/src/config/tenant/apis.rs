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
    /// A signed release larger than this (bytes) is uploaded through Theary's release-form
    /// upload URL before the order is placed, instead of travelling inline as base64 in the
    /// order (Theary's limit for both is 10 MB). 0 uploads every release.
    #[serde(
        default = "default_release_upload_above",
        deserialize_with = "lenient::unsigned"
    )]
    pub release_upload_above_bytes: u64,
    /// What the order names after an upload. Theary's docs do not say; they accept a
    /// `gs://` URI (`file-uri`, the default, the upload's `fileUri`) and HTTPS URLs
    /// (`https`: the same object as `https://storage.googleapis.com/<bucket>/<path>`).
    #[serde(default)]
    pub release_upload_reference: ReleaseReference,
}

/// The default upload threshold: 5 MiB, well below Theary's 10 MB inline limit (the order
/// body carries base64, a third larger).
pub const DEFAULT_RELEASE_UPLOAD_ABOVE: u64 = 5 * 1024 * 1024;

fn default_release_upload_above() -> u64 {
    DEFAULT_RELEASE_UPLOAD_ABOVE
}

/// How an uploaded release form is named in the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseReference {
    /// The `gs://` URI Theary returned with the upload URL.
    #[default]
    FileUri,
    /// `https://storage.googleapis.com/<bucket>/<path>` for that URI.
    Https,
}

impl ReleaseReference {
    /// The reference to put in `applicant.signedReleaseFileUrl` for an uploaded file.
    pub fn name(self, file_uri: &str) -> String {
        match (self, file_uri.strip_prefix("gs://")) {
            (ReleaseReference::Https, Some(path)) => {
                format!("https://storage.googleapis.com/{path}")
            }
            _ => file_uri.to_owned(),
        }
    }
}

impl std::fmt::Debug for ThearySection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThearySection")
            .field("environment", &self.environment)
            .field("api_base", &self.api_base)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("criminal", &self.criminal)
            .field(
                "release_upload_above_bytes",
                &self.release_upload_above_bytes,
            )
            .field("release_upload_reference", &self.release_upload_reference)
            .finish_non_exhaustive()
    }
}
