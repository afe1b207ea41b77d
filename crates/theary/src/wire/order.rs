//! The create-order request (`POST /background-check/v1/orders`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EventType, PositionLevel, SearchType, Secret};

/// The whole order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRequest {
    pub applicant: Applicant,
    pub business_context: BusinessContext,
    pub search_types: Vec<SearchTypeRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_search_config: Option<SearchConfig>,
    /// Legacy criminal-check configuration (refused by current Theary; shape unpublished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criminal_check: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_config: Option<WebhookConfig>,
}

/// The person to verify. PII: `Debug` redacts.
#[derive(
    Clone, Default, PartialEq, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop,
)]
#[serde(rename_all = "camelCase")]
pub struct Applicant {
    pub first_name: String,
    pub last_name: String,
    /// `XXX-XX-XXXX`.
    pub ssn: String,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// HTTPS URL, `gs://` URI, or a base64 PDF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_release_file_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Address>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applicant_alias: Vec<Alias>,
}

impl fmt::Debug for Applicant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Applicant(<redacted>)")
    }
}

/// An address; exactly one (the current one) has no `endDate`. PII: `Debug` redacts.
#[derive(
    Clone, Default, PartialEq, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop,
)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub address_type: String,
    pub address_line1: String,
    #[serde(default)]
    pub address_line2: Option<String>,
    pub address_city: String,
    pub address_state: String,
    pub address_zip_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_country: Option<String>,
    pub start_date: String,
    #[serde(default)]
    pub end_date: Option<String>,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Address(<redacted>)")
    }
}

/// Another name. PII: `Debug` redacts.
#[derive(
    Clone, Default, PartialEq, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop,
)]
#[serde(rename_all = "camelCase")]
pub struct Alias {
    pub first_name: String,
    pub last_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

impl fmt::Debug for Alias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Alias(<redacted>)")
    }
}

/// The job applied for (worksite, not the applicant's home).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessContext {
    pub entity_name: String,
    pub applied_job_title: String,
    pub worksite_city: String,
    /// Two letters.
    pub worksite_state: String,
    pub proposed_salary: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_level: Option<PositionLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_clearance_required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry_sector: Option<String>,
}

/// One search to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchTypeRequest {
    pub search_type: SearchType,
    /// Our correlation id, echoed in webhooks and search reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_search_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questionnaire_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questionnaire_access_code: Option<String>,
    /// When present (even `{}`) it replaces `defaultSearchConfig` for this search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_config: Option<SearchConfig>,
}

/// Histories to verify.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub employment: Vec<EmploymentHistory>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub education: Vec<EducationHistory>,
}

/// A past job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmploymentHistory {
    pub employer_name: String,
    pub position: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
}

/// A qualification.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EducationHistory {
    pub institution_name: String,
    pub qualification: String,
    pub field_of_study: String,
    pub graduation_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution_contact_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution_contact_phone: Option<String>,
}

/// Per-search or default search configuration. The sections whose keys Theary has only
/// partly published are kept as JSON values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party_ban: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub research: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Notifications>,
    /// Non-production only: redirect outreach to test destinations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qa_destinations: Option<Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `searchConfig.notifications`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notifications {
    /// Replaces the order's webhook configuration for this search; how Theary's own quick
    /// start routes progress and action-required events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_override: Option<WebhookConfig>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Where and how Theary calls back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// HMAC key for `X-Webhook-Signature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// 0 to 10; Theary's default is 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_attempts: Option<u8>,
    /// Per search type (`EMPLOYMENT`, `EDUCATION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closeout_endpoints: Option<BTreeMap<String, Endpoints>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_endpoint: Option<Endpoints>,
}

/// An endpoint value: a URL, a target, or a list of targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Endpoints {
    Url(String),
    Target(WebhookTarget),
    Targets(Vec<WebhookTarget>),
}

impl Endpoints {
    /// The targets this value stands for (a bare URL is a target with default settings,
    /// which receives `verification.completed` only).
    pub fn targets(&self) -> Vec<WebhookTarget> {
        match self {
            Endpoints::Url(url) => vec![WebhookTarget {
                url: url.clone(),
                ..Default::default()
            }],
            Endpoints::Target(t) => vec![t.clone()],
            Endpoints::Targets(ts) => ts.clone(),
        }
    }
}

/// One webhook destination.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTarget {
    /// HTTPS URL.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// Overrides the config's secret for this target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// Events sent here; Theary sends only `verification.completed` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventType>>,
    /// For fallback targets: the search types they take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_types: Option<Vec<SearchType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `Authorization: Basic` credentials for a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BasicAuth {
    pub username: String,
    pub password: Secret,
}
