//! What the health monitor has seen: the outcome of each outbound call and each webhook
//! verification, per tenant and subject, over a sliding window. Pure bookkeeping in memory
//! (no I/O, times passed in), so the rules are testable; the monitor loop in `sync` turns
//! its verdicts into issues in the store and alerts.
//!
//! Rules, per tenant:
//! - **auth** (subject `pageup` or `theary`): opens on a call refused for the tenant's
//!   credentials, scope or partner claim, because no retry can fix that.
//! - **operation** (subject the operation, e.g. `pageup.list`): opens when at least
//!   `failure_percent` of at least `min_calls` calls in the window failed.
//! - **webhook_verification**: the same rule over webhook deliveries whose signature did
//!   not verify, counting only deliveries that look like Theary's own (a well-formed
//!   signature header and an event id, a known event type, and Theary's id of a known
//!   search, which no link we publish shows; see `http::webhooks`). Other unverified
//!   traffic is only counted (`checkbridge_webhook_unverified_total`) and noted at info
//!   level, so a stranger who read a search id in a report link cannot open this issue or
//!   fire its alert.
//!
//! Each resolves after `resolve_after_successes` successes in a row; the window then starts
//! afresh, so the failures that opened an issue cannot open it again.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::config::HealthConfig;

/// A subject's history is kept as counts in this many slices of the window (one hour each
/// for a day's window), so its memory stays the same however many calls it makes: ten
/// thousand tenants polled every minute for a day cost kilobytes each, not megabytes.
const SLICES: i64 = 24;

/// The kinds of health issue.
pub mod kind {
    pub const AUTH: &str = "auth";
    pub const OPERATION: &str = "operation";
    pub const WEBHOOK_VERIFICATION: &str = "webhook_verification";
    pub const STUCK_CHECKS: &str = "stuck_checks";
    /// The database cannot be reached (tenant `*`: the whole service).
    pub const DATABASE: &str = "database_unreachable";
}

/// How a call ended, as far as health is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Failed; the message is the partner's or ours, never a secret or candidate data.
    Failed(String),
    /// Refused for the tenant's credentials (`partner` is `pageup` or `theary`).
    AuthFailed {
        partner: &'static str,
        message: String,
    },
}

/// Calls within one slice of the window.
#[derive(Debug, Clone, Copy)]
struct Slice {
    index: i64,
    /// The latest call counted here: the slice leaves the window when this does.
    last_at: i64,
    ok: u64,
    failed: u64,
}

#[derive(Debug, Default)]
struct Window {
    slices: VecDeque<Slice>,
    streak: u64,
    failed_once: bool,
    last_error: Option<String>,
}

/// What the monitor should do about one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Open { summary: String },
    Resolve,
}

/// One subject's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub tenant: String,
    pub kind: &'static str,
    pub subject: String,
    pub verdict: Verdict,
}

/// The monitor's memory.
#[derive(Debug)]
pub struct Monitor {
    cfg: HealthConfig,
    windows: Mutex<HashMap<(String, &'static str, String), Window>>,
}

/// Words for an operation, for issue summaries.
pub fn operation_label(op: &str) -> &str {
    match op {
        "pageup.list" => "Polling PageUp for pending checks",
        "pageup.update" => "Sending status updates to PageUp",
        "theary.order" => "Placing orders at Theary",
        "theary.searches" => "Reading searches back from Theary",
        "theary.lookup" => "Looking up orders at Theary",
        other => other,
    }
}

impl Monitor {
    pub fn new(cfg: HealthConfig) -> Monitor {
        Monitor {
            cfg,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// The rules in force.
    pub fn config(&self) -> &HealthConfig {
        &self.cfg
    }

    fn note(
        &self,
        tenant: &str,
        kind: &'static str,
        subject: &str,
        at: i64,
        ok: bool,
        error: Option<String>,
    ) {
        let Ok(mut windows) = self.windows.lock() else {
            return;
        };
        let w = windows
            .entry((tenant.to_owned(), kind, subject.to_owned()))
            .or_default();
        let index = at.div_euclid(self.slice_ms());
        match w.slices.back_mut() {
            // A call stamped earlier than the latest slice (clocks) joins it.
            Some(last) if last.index >= index => {
                last.last_at = last.last_at.max(at);
                if ok {
                    last.ok += 1;
                } else {
                    last.failed += 1;
                }
            }
            _ => {
                w.slices.push_back(Slice {
                    index,
                    last_at: at,
                    ok: u64::from(ok),
                    failed: u64::from(!ok),
                });
                if w.slices.len() > SLICES as usize + 1 {
                    w.slices.pop_front();
                }
            }
        }
        if ok {
            w.streak = w.streak.saturating_add(1);
        } else {
            w.streak = 0;
            w.failed_once = true;
            w.last_error = error;
        }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.cfg.window_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX)
    }

    /// The width of one slice of the window (at least a minute).
    fn slice_ms(&self) -> i64 {
        (self.window_ms() / SLICES).max(60_000)
    }

    /// Records the outcome of a call of `operation` (e.g. `pageup.list`) for `tenant`.
    /// `partner` says whose credentials the call used, so that a success also counts for
    /// the tenant's authentication with that partner.
    pub fn record(
        &self,
        tenant: &str,
        partner: &'static str,
        operation: &str,
        outcome: &Outcome,
        at: i64,
    ) {
        match outcome {
            Outcome::Ok => {
                self.note(tenant, kind::OPERATION, operation, at, true, None);
                self.note(tenant, kind::AUTH, partner, at, true, None);
            }
            Outcome::Failed(message) => {
                self.note(
                    tenant,
                    kind::OPERATION,
                    operation,
                    at,
                    false,
                    Some(message.clone()),
                );
            }
            Outcome::AuthFailed { partner, message } => {
                self.note(
                    tenant,
                    kind::OPERATION,
                    operation,
                    at,
                    false,
                    Some(message.clone()),
                );
                self.note(
                    tenant,
                    kind::AUTH,
                    partner,
                    at,
                    false,
                    Some(message.clone()),
                );
            }
        }
    }

    /// Records a webhook delivery for `tenant`: verified or not.
    pub fn record_webhook(&self, tenant: &str, verified: bool, at: i64) {
        let error = (!verified).then(|| "signature did not verify".to_owned());
        self.note(
            tenant,
            kind::WEBHOOK_VERIFICATION,
            "theary",
            at,
            verified,
            error,
        );
    }

    /// Starts a subject's window afresh (after its issue resolved).
    pub fn reset(&self, tenant: &str, kind: &str, subject: &str) {
        if let Ok(mut windows) = self.windows.lock() {
            windows.retain(|(t, k, s), _| !(t == tenant && *k == kind && s == subject));
        }
    }

    /// Verdicts at `now` for every subject that has one.
    pub fn findings(&self, now: i64) -> Vec<Finding> {
        // A slice counts until its latest call is older than the window: the window is
        // between one and one slice (an hour) longer than configured.
        let since = now.saturating_sub(self.window_ms());
        let Ok(mut windows) = self.windows.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for ((tenant, k, subject), w) in windows.iter_mut() {
            while w.slices.front().is_some_and(|s| s.last_at < since) {
                w.slices.pop_front();
            }
            if w.streak >= self.cfg.resolve_after_successes {
                out.push(Finding {
                    tenant: tenant.clone(),
                    kind: k,
                    subject: subject.clone(),
                    verdict: Verdict::Resolve,
                });
                continue;
            }
            let failed: u64 = w.slices.iter().map(|s| s.failed).sum();
            let n: u64 = failed + w.slices.iter().map(|s| s.ok).sum::<u64>();
            let latest = w.last_error.clone().unwrap_or_default();
            let summary = match *k {
                kind::AUTH if w.failed_once && w.streak == 0 => Some(format!(
                    "{} refuses this tenant's credentials: {latest}",
                    if subject == "pageup" {
                        "PageUp"
                    } else {
                        "Theary"
                    }
                )),
                kind::AUTH => None,
                _ if n >= self.cfg.min_calls
                    && failed.saturating_mul(100) >= self.cfg.failure_percent.saturating_mul(n) =>
                {
                    Some(if *k == kind::WEBHOOK_VERIFICATION {
                        format!(
                            "{failed} of the last {n} webhook deliveries failed signature verification \
                             (Theary's events are not being accepted)"
                        )
                    } else {
                        format!(
                            "{}: {failed} of the last {n} calls failed; latest: {latest}",
                            operation_label(subject)
                        )
                    })
                }
                _ => None,
            };
            if let Some(summary) = summary {
                out.push(Finding {
                    tenant: tenant.clone(),
                    kind: k,
                    subject: subject.clone(),
                    verdict: Verdict::Open { summary },
                });
            }
        }
        out.sort_by(|a, b| (&a.tenant, a.kind, &a.subject).cmp(&(&b.tenant, b.kind, &b.subject)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor() -> Monitor {
        Monitor::new(HealthConfig::default())
    }

    /// Acme's verdict on one subject (the tests' tenant; another tenant's never counts).
    fn verdict(m: &Monitor, now: i64, k: &str, subject: &str) -> Option<Verdict> {
        m.findings(now)
            .into_iter()
            .find(|f| f.tenant == "acme" && f.kind == k && f.subject == subject)
            .map(|f| f.verdict)
    }

    #[test]
    fn an_operation_fails_when_half_of_at_least_five_calls_fail() {
        let m = monitor();
        for i in 0..2 {
            m.record("acme", "pageup", "pageup.list", &Outcome::Ok, i);
        }
        for i in 2..4 {
            m.record(
                "acme",
                "pageup",
                "pageup.list",
                &Outcome::Failed("PageUp answered 503".into()),
                i,
            );
        }
        // Another tenant's calls of the same operation, all fine, in between.
        for i in 0..6 {
            m.record("globex", "pageup", "pageup.list", &Outcome::Ok, i);
        }
        // Four calls: too few to judge (globex's six do not count for acme).
        assert_eq!(verdict(&m, 10, kind::OPERATION, "pageup.list"), None);
        m.record(
            "acme",
            "pageup",
            "pageup.list",
            &Outcome::Failed("PageUp answered 503".into()),
            5,
        );
        match verdict(&m, 10, kind::OPERATION, "pageup.list") {
            Some(Verdict::Open { summary }) => {
                assert!(summary.contains("Polling PageUp"), "{summary}");
                assert!(summary.contains("3 of the last 5"), "{summary}");
                assert!(summary.contains("503"), "{summary}");
            }
            other => panic!("expected an open verdict, got {other:?}"),
        }
        // Another tenant is unaffected: globex's window holds its own six good calls only,
        // and nothing of acme's failures opens anything for it.
        let globex: Vec<_> = m
            .findings(10)
            .into_iter()
            .filter(|f| f.tenant == "globex")
            .collect();
        assert!(
            globex
                .iter()
                .all(|f| !matches!(f.verdict, Verdict::Open { .. })),
            "{globex:?}"
        );
        for i in 6..9 {
            m.record(
                "globex",
                "pageup",
                "pageup.list",
                &Outcome::Failed("PageUp answered 500".into()),
                i,
            );
        }
        // Three failures of nine calls is under half for globex; acme's verdict is unchanged.
        assert!(m
            .findings(10)
            .iter()
            .all(|f| f.tenant != "globex" || !matches!(f.verdict, Verdict::Open { .. })));
        match verdict(&m, 10, kind::OPERATION, "pageup.list") {
            Some(Verdict::Open { summary }) => assert!(summary.contains("3 of the last 5")),
            other => panic!("acme's verdict changed: {other:?}"),
        }
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let m = monitor();
        for i in 0..5 {
            m.record(
                "acme",
                "theary",
                "theary.order",
                &Outcome::Failed("x".into()),
                i,
            );
        }
        assert!(matches!(
            verdict(&m, 10, kind::OPERATION, "theary.order"),
            Some(Verdict::Open { .. })
        ));
        let day = 24 * 3_600_000;
        assert_eq!(verdict(&m, 10 + day, kind::OPERATION, "theary.order"), None);
    }

    #[test]
    fn sustained_success_resolves_and_the_window_starts_afresh() {
        let m = monitor();
        for i in 0..10 {
            m.record(
                "acme",
                "pageup",
                "pageup.update",
                &Outcome::Failed("x".into()),
                i,
            );
        }
        for i in 10..14 {
            m.record("acme", "pageup", "pageup.update", &Outcome::Ok, i);
        }
        assert!(matches!(
            verdict(&m, 20, kind::OPERATION, "pageup.update"),
            Some(Verdict::Open { .. })
        ));
        m.record("acme", "pageup", "pageup.update", &Outcome::Ok, 15);
        assert_eq!(
            verdict(&m, 20, kind::OPERATION, "pageup.update"),
            Some(Verdict::Resolve)
        );
        m.reset("acme", kind::OPERATION, "pageup.update");
        m.record(
            "acme",
            "pageup",
            "pageup.update",
            &Outcome::Failed("x".into()),
            21,
        );
        assert_eq!(verdict(&m, 22, kind::OPERATION, "pageup.update"), None);
    }

    #[test]
    fn one_refused_credential_opens_an_auth_issue_and_successes_resolve_it() {
        let m = monitor();
        m.record(
            "acme",
            "theary",
            "theary.order",
            &Outcome::AuthFailed {
                partner: "theary",
                message: "Theary's auth server rejected the client id and secret".into(),
            },
            1,
        );
        match verdict(&m, 2, kind::AUTH, "theary") {
            Some(Verdict::Open { summary }) => {
                assert!(summary.starts_with("Theary refuses"), "{summary}")
            }
            other => panic!("expected an open verdict, got {other:?}"),
        }
        for i in 2..7 {
            m.record("acme", "theary", "theary.searches", &Outcome::Ok, i);
        }
        assert_eq!(verdict(&m, 8, kind::AUTH, "theary"), Some(Verdict::Resolve));
    }

    #[test]
    fn history_is_kept_in_counts_whatever_the_number_of_calls() {
        let m = monitor();
        let minute = 60_000;
        // Two days of polls every minute, the last six failing.
        let total = 2 * 24 * 60;
        for i in 0..total {
            let outcome = if i >= total - 6 {
                Outcome::Failed("PageUp answered 503".into())
            } else {
                Outcome::Ok
            };
            m.record("acme", "pageup", "pageup.list", &outcome, i * minute);
        }
        let now = total * minute;
        let slices = m
            .windows
            .lock()
            .map(|w| w.values().map(|w| w.slices.len()).max().unwrap_or(0))
            .unwrap_or(usize::MAX);
        assert!(slices <= SLICES as usize + 1, "{slices} slices kept");
        // Six failures among a day of successes: not half.
        assert_eq!(verdict(&m, now, kind::OPERATION, "pageup.list"), None);
    }

    #[test]
    fn webhooks_that_do_not_verify_open_an_issue() {
        let m = monitor();
        for i in 0..5 {
            m.record_webhook("acme", i % 2 == 0, i);
        }
        // 2 of 5 failed: under half.
        assert_eq!(verdict(&m, 6, kind::WEBHOOK_VERIFICATION, "theary"), None);
        m.record_webhook("acme", false, 6);
        assert!(matches!(
            verdict(&m, 7, kind::WEBHOOK_VERIFICATION, "theary"),
            Some(Verdict::Open { .. })
        ));
    }
}
