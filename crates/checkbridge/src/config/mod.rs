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

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

mod health;
mod load;
mod service;

pub use health::HealthConfig;
use load::lenient;
pub use service::{AlertsConfig, Roles, ServiceConfig};

/// What went wrong loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
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
}

/// One mutual customer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "yes", deserialize_with = "lenient::boolean")]
    pub enabled: bool,
    /// Seconds between polls of PageUp when the last page was not full.
    #[serde(default = "default_poll", deserialize_with = "lenient::unsigned")]
    pub poll_interval_secs: u64,
    pub pageup: PageUpSection,
    pub theary: ThearySection,
    #[serde(default)]
    pub business: BusinessDefaults,
    #[serde(default)]
    pub checks: ChecksMapping,
    #[serde(default)]
    pub results: ResultMapping,
    /// How long candidate data and records are kept.
    #[serde(default)]
    pub retention: Retention,
    /// Field-mapping overrides: our field name -> JSON pointer into PageUp's raw invitation.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// Retention periods (FTC Safeguards Rule: dispose of customer information no later than
/// two years after its last use).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Days after a check last changed, once finished, before its candidate data (the
    /// order, webhook bodies, results, the webhook secret) is purged.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub pii_days: u64,
    /// Days the access record (who procured and who viewed each check) is kept.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub records_days: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            pii_days: 730,
            records_days: 2190,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_poll() -> u64 {
    60
}

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
}

impl std::fmt::Debug for ThearySection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThearySection")
            .field("environment", &self.environment)
            .field("api_base", &self.api_base)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Defaults for Theary's businessContext where the invitation has nothing.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BusinessDefaults {
    #[serde(default)]
    pub entity_name: Option<String>,
    #[serde(default)]
    pub industry_sector: Option<String>,
    /// EXECUTIVE, STANDARD or SENSITIVE.
    #[serde(default)]
    pub position_level: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    pub security_clearance_required: Option<bool>,
}

/// Which Theary searches a PageUp request means, and how PageUp labels them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChecksMapping {
    /// PageUp package or check-type code -> Theary search types. Codes match
    /// case-insensitively; a check-type code equal to a search type maps to itself.
    #[serde(deserialize_with = "lenient::list_map")]
    pub packages: BTreeMap<String, Vec<String>>,
    /// Used when the invitation names no code we know.
    #[serde(deserialize_with = "lenient::list")]
    pub default_search_types: Vec<String>,
    /// Theary search type -> the reportType PageUp shows for its result.
    pub report_types: BTreeMap<String, String>,
    /// reportType of the overall result entry.
    pub overall_report_type: String,
}

impl Default for ChecksMapping {
    fn default() -> Self {
        Self {
            packages: BTreeMap::new(),
            default_search_types: vec!["EMPLOYMENT".to_owned(), "EDUCATION".to_owned()],
            report_types: BTreeMap::from([
                (
                    "EMPLOYMENT".to_owned(),
                    "Employment verification".to_owned(),
                ),
                ("EDUCATION".to_owned(), "Education verification".to_owned()),
            ]),
            overall_report_type: "Background check report".to_owned(),
        }
    }
}

/// How Theary outcomes become PageUp result statuses. PageUp documents only `pass`; the
/// other values are free text shown to the recruiter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResultMapping {
    /// `verificationResult.outcome` without a discrepancy -> status.
    pub outcomes: BTreeMap<String, String>,
    /// Status of a VERIFIED result with a discrepancy.
    pub discrepancy: String,
    /// `action_required` reason code -> status.
    pub action_required: BTreeMap<String, String>,
    /// Status for any outcome or reason code not listed.
    pub unknown: String,
    /// Report an SLA timeout (SLA_REACHED) to PageUp as `expired` instead of a result.
    #[serde(deserialize_with = "lenient::boolean")]
    pub sla_reached_as_expired: bool,
    /// Statuses from most to least severe; the overall result takes the most severe status
    /// among the searches (a status not listed counts as the most severe).
    #[serde(deserialize_with = "lenient::list")]
    pub severity: Vec<String>,
}

impl Default for ResultMapping {
    fn default() -> Self {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        Self {
            outcomes: map(&[
                ("VERIFIED", "pass"),
                ("NO_RECORD", "fail"),
                ("UNVERIFIED", "fail"),
                ("WRONG_ORG", "review"),
                ("UNABLE_TO_VERIFY", "review"),
                ("THIRD_PARTY", "review"),
            ]),
            discrepancy: "review".to_owned(),
            action_required: map(&[
                ("THIRD_PARTY_RECORD", "review"),
                ("HUMAN_ESCALATION", "review"),
                ("PRIMARY_EDUCATION", "review"),
                ("INTERNATIONAL_EDUCATION", "review"),
                ("UPSTREAM_ISSUE", "review"),
                ("SYSTEM_FAILURE", "review"),
                ("SLA_REACHED", "review"),
            ]),
            unknown: "review".to_owned(),
            sla_reached_as_expired: true,
            severity: vec!["fail".to_owned(), "review".to_owned(), "pass".to_owned()],
        }
    }
}

/// Field names a tenant may point elsewhere with `fields`.
pub const MAPPABLE_FIELDS: &[&str] = &[
    "check_id",
    "package_code",
    "check_types",
    "candidate.first_name",
    "candidate.middle_name",
    "candidate.last_name",
    "candidate.email",
    "candidate.phone",
    "candidate.date_of_birth",
    "candidate.national_id",
    "job.title",
    "job.department",
    "job.worksite_city",
    "job.worksite_state",
    "job.salary",
];

const SEARCH_TYPES: &[&str] = &["EMPLOYMENT", "EDUCATION"];

impl TenantConfig {
    /// This tenant's PageUp connection settings.
    pub fn pageup_tenant(&self) -> pageup::PageUpTenant {
        let p = &self.pageup;
        let env = match p.env {
            PageUpEnv::Live => "",
            PageUpEnv::Uat => "uat",
        };
        let mut t = pageup::PageUpTenant::new(
            &p.tenant_id,
            env,
            &p.dc,
            &p.client_id,
            p.client_secret.clone(),
        );
        t.provider = p.provider.clone().filter(|s| !s.is_empty());
        if let Some(u) = &p.token_url {
            t.urls.token = u.clone();
        }
        if let Some(u) = &p.list_url {
            t.urls.list = u.clone();
        }
        if let Some(u) = &p.update_url {
            t.urls.update = u.clone();
        }
        if let Some(c) = &p.partner_claim {
            t.partner_claim = c.clone();
        }
        t
    }

    /// This tenant's Theary connection settings.
    pub fn theary_config(&self) -> theary::ThearyConfig {
        let t = &self.theary;
        let (auth, audience, api) = match t.environment {
            ThearyEnv::Production => (
                theary::PRODUCTION_AUTH,
                theary::PRODUCTION_AUDIENCE,
                theary::PRODUCTION_API,
            ),
            ThearyEnv::Sandbox => (
                theary::SANDBOX_AUTH,
                theary::SANDBOX_AUDIENCE,
                theary::SANDBOX_API,
            ),
        };
        theary::ThearyConfig {
            auth_url: t.auth_url.clone().unwrap_or_else(|| auth.to_owned()),
            audience: t.audience.clone().unwrap_or_else(|| audience.to_owned()),
            api_base: t.api_base.clone().unwrap_or_else(|| api.to_owned()),
            client_id: t.client_id.clone(),
            client_secret: t.client_secret.clone(),
        }
    }

    /// Codes (packages, search types, outcomes, reason codes) are case-insensitive; they are
    /// kept upper-case so that a key set through an environment variable (lower-cased on the
    /// way in) means the same as one written in the file. Label and status maps given in part
    /// keep their defaults for the keys they leave out.
    fn normalize(&mut self) {
        fn upper<V>(map: &mut BTreeMap<String, V>) {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, v)| (k.to_ascii_uppercase(), v))
                .collect();
        }
        upper(&mut self.checks.packages);
        upper(&mut self.checks.report_types);
        upper(&mut self.results.outcomes);
        upper(&mut self.results.action_required);
        // A map given in part keeps the defaults of the keys it leaves out.
        fn merge(map: &mut BTreeMap<String, String>, defaults: BTreeMap<String, String>) {
            for (k, v) in defaults {
                map.entry(k).or_insert(v);
            }
        }
        merge(
            &mut self.checks.report_types,
            ChecksMapping::default().report_types,
        );
        let results = ResultMapping::default();
        merge(&mut self.results.outcomes, results.outcomes);
        merge(&mut self.results.action_required, results.action_required);
        for types in self
            .checks
            .packages
            .values_mut()
            .chain(std::iter::once(&mut self.checks.default_search_types))
        {
            for t in types.iter_mut() {
                *t = t.to_ascii_uppercase();
            }
        }
    }

    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let k = |rest: &str| format!("tenants.{key}.{rest}");
        if self.retention.pii_days == 0 {
            return Err(invalid(k("retention.pii_days"), "must be at least 1 day"));
        }
        if self.retention.records_days < self.retention.pii_days {
            return Err(invalid(
                k("retention.records_days"),
                "must be at least retention.pii_days: the record of who procured the data outlives the data",
            ));
        }
        if self.poll_interval_secs < 5 {
            return Err(invalid(
                k("poll_interval_secs"),
                "must be at least 5 seconds",
            ));
        }
        if self.pageup.dc.trim().is_empty() {
            return Err(invalid(k("pageup.dc"), "must name a data centre, e.g. dc2"));
        }
        if let Err(e) = self.pageup_tenant().validate() {
            let message = match &e {
                pageup::Error::Config(m) => m.clone(),
                other => other.to_string(),
            };
            return Err(client_config_error(&k("pageup"), &message));
        }
        if let Err(e) = self.theary_config().validate() {
            let message = match &e {
                theary::Error::Config(m) => m.clone(),
                other => other.to_string(),
            };
            return Err(client_config_error(&k("theary"), &message));
        }
        if let Some(level) = &self.business.position_level {
            if !["EXECUTIVE", "STANDARD", "SENSITIVE"].contains(&level.as_str()) {
                return Err(invalid(
                    k("business.position_level"),
                    "must be EXECUTIVE, STANDARD or SENSITIVE",
                ));
            }
        }
        let check_types = |what: String, types: &[String]| -> Result<(), ConfigError> {
            if types.is_empty() {
                return Err(invalid(what, "must name at least one search type"));
            }
            match types.iter().find(|t| !SEARCH_TYPES.contains(&t.as_str())) {
                Some(bad) => Err(invalid(
                    what,
                    format!("{bad:?} is not a Theary search type (EMPLOYMENT or EDUCATION)"),
                )),
                None => Ok(()),
            }
        };
        check_types(
            k("checks.default_search_types"),
            &self.checks.default_search_types,
        )?;
        for (code, types) in &self.checks.packages {
            check_types(k(&format!("checks.packages.{code}")), types)?;
        }
        for st in SEARCH_TYPES {
            if self
                .checks
                .report_types
                .get(*st)
                .is_none_or(|l| l.trim().is_empty())
            {
                return Err(invalid(
                    k(&format!("checks.report_types.{st}")),
                    "needs a label: PageUp requires a reportType on every result",
                ));
            }
        }
        if self.results.severity.is_empty() {
            return Err(invalid(
                k("results.severity"),
                "must list at least one status",
            ));
        }
        if self.checks.overall_report_type.trim().is_empty() {
            return Err(invalid(
                k("checks.overall_report_type"),
                "must not be empty",
            ));
        }
        let statuses = self
            .results
            .outcomes
            .iter()
            .chain(&self.results.action_required);
        for (name, status) in statuses {
            if status.trim().is_empty() {
                return Err(invalid(k(&format!("results.{name}")), "must not be empty"));
            }
        }
        for (field, pointer) in &self.fields {
            if !MAPPABLE_FIELDS.contains(&field.as_str()) {
                return Err(invalid(
                    k(&format!("fields.{field}")),
                    format!(
                        "is not a mappable field; known: {}",
                        MAPPABLE_FIELDS.join(", ")
                    ),
                ));
            }
            if !pointer.starts_with('/') {
                return Err(invalid(
                    k(&format!("fields.{field}")),
                    "must be a JSON pointer such as /candidate/firstName",
                ));
            }
        }
        Ok(())
    }
}

impl Config {
    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.service.validate()?;
        self.health.validate()?;
        self.alerts.validate()?;
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

    /// A summary for operators, without secrets.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "service: public base URL {}, listening on {}, database {}\n",
            self.service.public_base_url,
            self.service.listen,
            redact_url(&self.service.database_url)
        );
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
        }
        out
    }
}

/// A client's configuration error (`field: why`) as an error naming our key for that field.
fn client_config_error(section: &str, message: &str) -> ConfigError {
    let (field, why) = message.split_once(':').unwrap_or(("", message));
    // The PageUp client calls its URL templates urls.*; our keys are *_url.
    let field = match field.trim() {
        "urls.token" => "token_url",
        "urls.list" => "list_url",
        "urls.update" => "update_url",
        other => other,
    };
    invalid(format!("{section}.{field}"), why.trim())
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
