//! `[health]`: when the monitor (`crate::health`) opens and resolves health issues.
//!
//! The thresholds are checked here, at start, so the monitor can take them as they are: no
//! zero window or count, no failure percentage over 100.

use serde::Deserialize;

use super::load::lenient;
use super::{invalid, ConfigError};

/// When the monitor opens and resolves health issues.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Seconds between evaluations.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub evaluate_every_secs: u64,
    /// An operation (or webhook verification) is failing when at least `failure_percent`
    /// of at least `min_calls` calls in the last `window_hours` failed.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub min_calls: u64,
    #[serde(deserialize_with = "lenient::unsigned")]
    pub failure_percent: u64,
    #[serde(deserialize_with = "lenient::unsigned")]
    pub window_hours: u64,
    /// An issue resolves after this many successes in a row (or, for stuck checks, once
    /// none is stuck).
    #[serde(deserialize_with = "lenient::unsigned")]
    pub resolve_after_successes: u64,
    /// A check is stuck when it has owed an order or a PageUp update this long...
    #[serde(deserialize_with = "lenient::unsigned")]
    pub stuck_owed_minutes: u64,
    /// ...or has been open at Theary this long since it was claimed.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub stuck_open_days: u64,
    /// The database is reported unreachable (alerted directly, recorded once it answers)
    /// after it has failed this many seconds in a row.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub database_unreachable_secs: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            evaluate_every_secs: 30,
            min_calls: 5,
            failure_percent: 50,
            window_hours: 24,
            resolve_after_successes: 5,
            stuck_owed_minutes: 60,
            stuck_open_days: 30,
            database_unreachable_secs: 30,
        }
    }
}

impl HealthConfig {
    /// Checks what the types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let h = self;
        for (key, value, min) in [
            ("health.evaluate_every_secs", h.evaluate_every_secs, 1),
            ("health.min_calls", h.min_calls, 1),
            ("health.failure_percent", h.failure_percent, 1),
            ("health.window_hours", h.window_hours, 1),
            (
                "health.resolve_after_successes",
                h.resolve_after_successes,
                1,
            ),
            ("health.stuck_owed_minutes", h.stuck_owed_minutes, 1),
            ("health.stuck_open_days", h.stuck_open_days, 1),
            (
                "health.database_unreachable_secs",
                h.database_unreachable_secs,
                1,
            ),
        ] {
            if value < min {
                return Err(invalid(key, format!("must be at least {min}")));
            }
        }
        if h.failure_percent > 100 {
            return Err(invalid("health.failure_percent", "must be at most 100"));
        }
        Ok(())
    }
}
