//! What a tenant's codes mean: which Theary searches a PageUp package or check type orders,
//! the businessContext to send when the invitation has none, how Theary outcomes become PageUp
//! result statuses, and which fields may be pointed elsewhere in PageUp's invitation.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::load::lenient;

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
                ("CRIMINAL".to_owned(), "Criminal record check".to_owned()),
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
                // Criminal outcomes were never published: these two are the sandbox's and
                // a sensible reading; anything else is `unknown` (review).
                ("CLEAR", "pass"),
                ("RECORDS_FOUND", "review"),
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

/// The Theary search types a code may map to.
pub(super) const SEARCH_TYPES: &[&str] = &["EMPLOYMENT", "EDUCATION", "CRIMINAL"];

/// How a criminal check's `criminalCheck.jurisdictions` are built. The shape of a
/// jurisdiction object was never published (the order document shows `{}`), so each one is
/// made from a template: every string value may hold `{state}`, `{country}`, `{city}`,
/// `{zip}` and `{source}` (`address` or `worksite`), filled in per place. One jurisdiction
/// per distinct result, from the candidate's addresses lived at within `lookback_years`
/// and, with `include_worksite`, the job's worksite.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CriminalMapping {
    /// One jurisdiction, with placeholders. Default: `{ type = "STATE", state = "{state}",
    /// country = "{country}" }` (a statewide search per state).
    pub jurisdiction: serde_json::Map<String, serde_json::Value>,
    /// Addresses whose end date is older than this many years are left out (seven years
    /// is the reporting limit for most records under the FCRA).
    #[serde(deserialize_with = "lenient::unsigned")]
    pub lookback_years: u64,
    /// Include the job's worksite state as a jurisdiction.
    #[serde(deserialize_with = "lenient::boolean")]
    pub include_worksite: bool,
    /// Country filled in where an address has none.
    pub default_country: String,
}

impl Default for CriminalMapping {
    fn default() -> Self {
        let mut jurisdiction = serde_json::Map::new();
        for (k, v) in [
            ("type", "STATE"),
            ("state", "{state}"),
            ("country", "{country}"),
        ] {
            jurisdiction.insert(k.to_owned(), serde_json::Value::String(v.to_owned()));
        }
        Self {
            jurisdiction,
            lookback_years: 7,
            include_worksite: true,
            default_country: "US".to_owned(),
        }
    }
}
