//! One mutual customer (`[tenants.KEY]`): how it reaches PageUp and Theary (`apis.rs`), what
//! its codes mean (`mapping.rs`), retention and field overrides. This file turns the sections
//! into the clients' settings, normalises the codes after loading, and makes the checks that
//! types alone cannot, with errors naming the key under `tenants.KEY`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::config::load::lenient;
use crate::config::{invalid, ConfigError};
use crate::intake::{IntakeSection, Mapping};

mod apis;
mod candidate;
mod mapping;
mod sso;

pub use apis::{
    PageUpEnv, PageUpSection, ReleaseReference, ThearyEnv, ThearySection,
    DEFAULT_RELEASE_UPLOAD_ABOVE,
};
pub use candidate::{CandidateIntake, CandidateSection};
use mapping::SEARCH_TYPES;
pub use mapping::{
    BusinessDefaults, ChecksMapping, CriminalMapping, ResultMapping, MAPPABLE_FIELDS,
};
pub use sso::SsoSection;

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
    /// How criminal checks' jurisdictions are built (used when a package orders CRIMINAL).
    #[serde(default)]
    pub criminal: CriminalMapping,
    /// How long candidate data and records are kept.
    #[serde(default)]
    pub retention: Retention,
    /// Field-mapping overrides: our field name -> JSON pointer into PageUp's raw invitation.
    /// With an intake mapping they apply after it, over the mapped fields.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Single sign-on of the tenant's readers through its identity provider (none: readers
    /// sign in with passwords).
    #[serde(default)]
    pub sso: Option<SsoSection>,
    /// How the raw invitation becomes the canonical one: a built-in profile, a jq file or an
    /// inline jq program (see `crate::intake`). None: the assumed schema is read directly.
    #[serde(default)]
    pub intake: IntakeSection,
    /// The candidate form: when it is used, reminders and expiry, the legal texts.
    #[serde(default)]
    pub candidate: CandidateSection,
    /// Whether this tenant, in PageUp `live`, is polled only after a passing UAT
    /// certification (`checkbridge certify --env uat`). None: `service.require_certification`.
    #[serde(default, deserialize_with = "lenient::opt_boolean")]
    pub require_certification: Option<bool>,
    /// The intake mapping, compiled when the configuration loads.
    #[serde(skip)]
    pub mapping: Option<Arc<Mapping>>,
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

impl TenantConfig {
    /// Whether the tenant may be polled only after a passing UAT certification: it is in
    /// PageUp `live` and requires one (its own setting, or the service's).
    pub fn requires_certification(&self, service_default: bool) -> bool {
        self.pageup.env == PageUpEnv::Live && self.require_certification.unwrap_or(service_default)
    }

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
    pub(super) fn normalize(&mut self) {
        fn upper<V>(map: &mut BTreeMap<String, V>) {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, v)| (k.to_ascii_uppercase(), v))
                .collect();
        }
        if let Some(sso) = &mut self.sso {
            sso.normalize();
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

    /// Compiles the tenant's intake mapping (a file is read relative to `base`, the
    /// configuration file's folder). The error names the key, the file and the line and
    /// column of the first error.
    pub(super) fn compile_intake(&mut self, key: &str, base: &Path) -> Result<(), ConfigError> {
        self.mapping = self
            .intake
            .compile(base)
            .map_err(|(field, why)| invalid(format!("tenants.{key}.{field}"), why))?;
        // The candidate form's legal texts are read relative to the same folder.
        if let Some(dir) = &mut self.candidate.templates {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
        Ok(())
    }

    pub(super) fn validate(&self, key: &str) -> Result<(), ConfigError> {
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
        let pageup = self.pageup_tenant();
        for (field, url) in [
            ("pageup.token_url", pageup.token_url()),
            ("pageup.list_url", pageup.list_url()),
            ("pageup.update_url", pageup.update_url("1")),
        ] {
            if let Ok(url) = url {
                super::https_unless_loopback(&k(field), &url)?;
            }
        }
        let theary = self.theary_config();
        for (field, raw) in [
            ("theary.auth_url", &theary.auth_url),
            ("theary.api_base", &theary.api_base),
        ] {
            if let Ok(url) = url::Url::parse(raw) {
                super::https_unless_loopback(&k(field), &url)?;
            }
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
                    format!(
                        "{bad:?} is not a Theary search type (EMPLOYMENT, EDUCATION or CRIMINAL)"
                    ),
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
        if let Some(sso) = &self.sso {
            sso.validate(&k)?;
        }
        self.candidate.validate(key)?;
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
