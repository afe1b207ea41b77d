//! Where and as whom to reach Theary.

use secrecy::SecretString;

use crate::Error;

/// Production API base.
pub const PRODUCTION_API: &str = "https://api.theary.ai";
/// Production auth server.
pub const PRODUCTION_AUTH: &str = "https://auth.theary.ai";
/// Production token audience.
pub const PRODUCTION_AUDIENCE: &str = "https://verification-auth.theary.ai";
/// Theary's hosted sandbox API base.
pub const SANDBOX_API: &str = "https://sandbox.theary.com";
/// Theary's sandbox auth server.
pub const SANDBOX_AUTH: &str = "https://auth-dev.theary.ai";
/// Theary's sandbox token audience.
pub const SANDBOX_AUDIENCE: &str = "https://empv-auth-dev.theary.ai";

/// Connection settings for one Theary account.
#[derive(Clone)]
pub struct ThearyConfig {
    /// Auth server base; the token endpoint is `{auth_url}/oauth/token`.
    pub auth_url: String,
    pub audience: String,
    /// API base; routes are `{api_base}/background-check/v1/...`.
    pub api_base: String,
    pub client_id: String,
    pub client_secret: SecretString,
}

impl std::fmt::Debug for ThearyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThearyConfig")
            .field("auth_url", &self.auth_url)
            .field("audience", &self.audience)
            .field("api_base", &self.api_base)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

impl ThearyConfig {
    /// Production endpoints.
    pub fn production(client_id: impl Into<String>, client_secret: SecretString) -> Self {
        Self {
            auth_url: PRODUCTION_AUTH.to_owned(),
            audience: PRODUCTION_AUDIENCE.to_owned(),
            api_base: PRODUCTION_API.to_owned(),
            client_id: client_id.into(),
            client_secret,
        }
    }

    /// Checks every setting; the error names the field.
    pub fn validate(&self) -> Result<(), Error> {
        for (field, value) in [("auth_url", &self.auth_url), ("api_base", &self.api_base)] {
            let url = url::Url::parse(value)
                .map_err(|e| Error::Config(format!("{field}: {value:?} is not a URL ({e})")))?;
            if !matches!(url.scheme(), "https" | "http") {
                return Err(Error::Config(format!(
                    "{field}: {value:?} must be an http(s) URL"
                )));
            }
        }
        if self.client_id.trim().is_empty() {
            return Err(Error::Config("client_id: must not be empty".to_owned()));
        }
        if secrecy::ExposeSecret::expose_secret(&self.client_secret).is_empty() {
            return Err(Error::Config("client_secret: must not be empty".to_owned()));
        }
        if self.audience.trim().is_empty() {
            return Err(Error::Config("audience: must not be empty".to_owned()));
        }
        Ok(())
    }

    pub(crate) fn token_url(&self) -> String {
        format!("{}/oauth/token", self.auth_url.trim_end_matches('/'))
    }

    /// A route of Theary's files API (`{api_base}/files...`).
    pub(crate) fn files(&self, path: &str) -> String {
        format!("{}/files{path}", self.api_base.trim_end_matches('/'))
    }

    pub(crate) fn api(&self, path: &str) -> String {
        format!(
            "{}/background-check/v1{path}",
            self.api_base.trim_end_matches('/')
        )
    }
}
