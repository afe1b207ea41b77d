//! Per-tenant connection settings. PageUp issues separate client credentials per mutual
//! customer and per environment, so everything here is per tenant.

use secrecy::SecretString;
use url::Url;

use crate::Error;

/// Scope the `GET` of pending checks needs.
pub const SCOPE_READ: &str = "Public.BackgroundCheck.Read";
/// Scope the status `PUT` needs.
pub const SCOPE_WRITE: &str = "Public.BackgroundCheck.Write";
/// Both, requested together in one token.
pub const DEFAULT_SCOPES: [&str; 2] = [SCOPE_READ, SCOPE_WRITE];

/// URL templates. Placeholders: `{env}` (empty for LIVE, `uat` for UAT), `{dc}` (e.g. `dc2`),
/// `{tenant}` and, for updates, `{id}` (URL-encoded). The API paths are assumed (PageUp does
/// not publish them); see the README.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplates {
    pub token: String,
    pub list: String,
    pub update: String,
}

impl Default for UrlTemplates {
    fn default() -> Self {
        Self {
            token: "https://login{env}.{dc}.pageuppeople.com/connect/token".to_owned(),
            list: "https://api{env}.{dc}.pageuppeople.com/v3/{tenant}/backgroundcheck".to_owned(),
            update: "https://api{env}.{dc}.pageuppeople.com/v3/{tenant}/backgroundcheck/{id}"
                .to_owned(),
        }
    }
}

/// How to reach one tenant's PageUp.
#[derive(Clone)]
pub struct PageUpTenant {
    /// PageUp's tenant (instance) id, e.g. `218`.
    pub tenant_id: String,
    /// `""` for LIVE, `"uat"` for UAT.
    pub env: String,
    /// Data centre, e.g. `dc2` (AUS), `dc3` (UK/EMEA), `dc4` (US), `dc5` (SEA).
    pub dc: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Sent as `?provider=` when set.
    pub provider: Option<String>,
    pub urls: UrlTemplates,
    /// Name of the partner-id claim in PageUp's token (assumed `partnerid`); read only to
    /// explain a 403.
    pub partner_claim: String,
    /// Scopes requested in one token.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for PageUpTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageUpTenant")
            .field("tenant_id", &self.tenant_id)
            .field("env", &self.env)
            .field("dc", &self.dc)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("provider", &self.provider)
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

impl PageUpTenant {
    /// A tenant with the default templates, scopes and partner claim.
    pub fn new(
        tenant_id: impl Into<String>,
        env: impl Into<String>,
        dc: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            env: env.into(),
            dc: dc.into(),
            client_id: client_id.into(),
            client_secret,
            provider: None,
            urls: UrlTemplates::default(),
            partner_claim: "partnerid".to_owned(),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Checks every setting; the error names the field and why.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &str, why: &str| Err(Error::Config(format!("{field}: {why}")));
        if self.tenant_id.trim().is_empty() {
            return bad("tenant_id", "must not be empty");
        }
        if self.client_id.trim().is_empty() {
            return bad("client_id", "must not be empty");
        }
        if secrecy::ExposeSecret::expose_secret(&self.client_secret).is_empty() {
            return bad("client_secret", "must not be empty");
        }
        if !matches!(self.env.as_str(), "" | "uat") {
            return bad("env", "must be empty (LIVE) or \"uat\"");
        }
        if self.scopes.is_empty() {
            return bad("scopes", "must name at least one scope");
        }
        self.token_url()?;
        self.list_url()?;
        self.update_url("1")?;
        Ok(())
    }

    fn fill(&self, field: &str, template: &str, id: Option<&str>) -> Result<Url, Error> {
        let mut s = template
            .replace("{env}", &self.env)
            .replace("{dc}", &self.dc)
            .replace("{tenant}", &encode(&self.tenant_id));
        if let Some(id) = id {
            s = s.replace("{id}", &encode(id));
        }
        let url = Url::parse(&s)
            .map_err(|e| Error::Config(format!("urls.{field}: {s:?} is not a valid URL ({e})")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(Error::Config(format!(
                "urls.{field}: {s:?} must be an http(s) URL"
            )));
        }
        Ok(url)
    }

    /// The token endpoint.
    pub fn token_url(&self) -> Result<Url, Error> {
        self.fill("token", &self.urls.token, None)
    }

    /// The list of pending checks, with `?provider=` when configured.
    pub fn list_url(&self) -> Result<Url, Error> {
        let mut url = self.fill("list", &self.urls.list, None)?;
        if let Some(p) = self.provider.as_deref().filter(|p| !p.is_empty()) {
            url.query_pairs_mut().append_pair("provider", p);
        }
        Ok(url)
    }

    /// One check's status endpoint.
    pub fn update_url(&self, check_id: &str) -> Result<Url, Error> {
        if !self.urls.update.contains("{id}") {
            return Err(Error::Config("urls.update: must contain {id}".to_owned()));
        }
        self.fill("update", &self.urls.update, Some(check_id))
    }
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> PageUpTenant {
        PageUpTenant::new(
            "218",
            "uat",
            "dc2",
            "cid",
            SecretString::from("s3cret".to_owned()),
        )
    }

    #[test]
    fn default_templates_follow_pageups_hosts() {
        let t = tenant();
        assert_eq!(
            t.token_url().unwrap().as_str(),
            "https://loginuat.dc2.pageuppeople.com/connect/token"
        );
        let live = PageUpTenant {
            env: String::new(),
            provider: Some("bg".into()),
            ..tenant()
        };
        assert_eq!(
            live.list_url().unwrap().as_str(),
            "https://api.dc2.pageuppeople.com/v3/218/backgroundcheck?provider=bg"
        );
        assert_eq!(
            t.update_url("a b/c").unwrap().as_str(),
            "https://apiuat.dc2.pageuppeople.com/v3/218/backgroundcheck/a%20b%2Fc"
        );
        assert!(t.validate().is_ok());
    }

    #[test]
    fn validation_names_the_field_and_debug_hides_the_secret() {
        let err = PageUpTenant {
            env: "prod".into(),
            ..tenant()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(err.contains("env"), "{err}");
        let mut t = tenant();
        t.urls.update = "https://x/{tenant}".into();
        assert!(t
            .validate()
            .unwrap_err()
            .to_string()
            .contains("urls.update"));
        t.urls.update = "not a url {id}".into();
        assert!(t
            .validate()
            .unwrap_err()
            .to_string()
            .contains("urls.update"));
        assert!(!format!("{:?}", tenant()).contains("s3cret"));
    }
}
