//! `[tenants.KEY.candidate]`: when the candidate is asked, through the hosted candidate form,
//! for what PageUp did not send (personal details, address history, the history to verify)
//! and for the FCRA disclosure and the e-signed authorization; and how long the invitation
//! lives (reminders, expiry). The legal texts come from `templates` when set, else from the
//! shipped defaults, which the customer's counsel must review before use.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::load::lenient;
use crate::config::{invalid, ConfigError};

/// When the candidate form is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CandidateIntake {
    /// Only when the mapped order lacks something the candidate can supply (the SSN, the
    /// date of birth, addresses, the history to verify, the signed release).
    #[default]
    WhenNeeded,
    /// Always: the candidate's consent is collected even when PageUp sent everything.
    Always,
    /// Never: an order that lacks something fails at once, naming it.
    Never,
}

/// The tenant's candidate form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CandidateSection {
    pub intake: CandidateIntake,
    /// Years of address history asked for (current address included).
    #[serde(deserialize_with = "lenient::unsigned")]
    pub address_years: u64,
    /// Days after the invitation on which a reminder is sent (each once, ascending).
    #[serde(deserialize_with = "unsigned_list")]
    pub reminder_days: Vec<u64>,
    /// Days after the invitation when an unanswered one expires: PageUp is told `expired`
    /// and what the candidate entered is purged.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub expiry_days: u64,
    /// A directory with the tenant's own legal texts (`disclosure.txt`,
    /// `authorization.txt`, `notices/XX.txt` per state), relative to the config file.
    /// None: the shipped defaults.
    pub templates: Option<PathBuf>,
}

impl Default for CandidateSection {
    fn default() -> Self {
        CandidateSection {
            intake: CandidateIntake::WhenNeeded,
            address_years: 7,
            reminder_days: vec![2, 5],
            expiry_days: 7,
            templates: None,
        }
    }
}

/// A list of whole numbers, from TOML or from an environment variable (`2,5`).
fn unsigned_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<u64>),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::List(v) => Ok(v),
        Raw::Text(s) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<u64>().map_err(|_| {
                    serde::de::Error::custom(format!("{p:?} is not a whole number of days"))
                })
            })
            .collect(),
    }
}

impl CandidateSection {
    /// Checks what the types alone cannot, naming keys under `tenants.KEY.candidate`.
    pub(super) fn validate(&self, tenant_key: &str) -> Result<(), ConfigError> {
        let k = |name: &str| format!("tenants.{tenant_key}.candidate.{name}");
        if !(1..=10).contains(&self.address_years) {
            return Err(invalid(k("address_years"), "must be 1 to 10 years"));
        }
        if !(1..=90).contains(&self.expiry_days) {
            return Err(invalid(k("expiry_days"), "must be 1 to 90 days"));
        }
        let mut last = 0;
        for &d in &self.reminder_days {
            if d == 0 || d <= last {
                return Err(invalid(
                    k("reminder_days"),
                    "must be days after the invitation, each at least 1 and larger than the one before",
                ));
            }
            if d >= self.expiry_days {
                return Err(invalid(
                    k("reminder_days"),
                    format!(
                        "a reminder on day {d} would come after the invitation expires (expiry_days = {})",
                        self.expiry_days
                    ),
                ));
            }
            last = d;
        }
        if self.reminder_days.len() > 5 {
            return Err(invalid(k("reminder_days"), "at most 5 reminders"));
        }
        Ok(())
    }
}
