//! Counters for `/metrics` (Prometheus text format). Labels are bounded: the tenant label
//! only ever holds a configured tenant's key (or `unknown`), the others fixed words; with
//! more tenants than `service.metrics_tenant_limit`, the tenant label is `all` throughout.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

type Key = (&'static str, Vec<(&'static str, String)>);

/// The service's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<Key, u64>>,
    /// Tenant labels folded into `all` (too many tenants for a series each).
    fold_tenants: bool,
}

/// What each counter counts, for the `# HELP` lines.
const HELP: &[(&str, &str)] = &[
    (
        "checkbridge_polls_total",
        "GETs of PageUp's pending checks, by result",
    ),
    (
        "checkbridge_claims_total",
        "checks claimed from PageUp for the first time",
    ),
    (
        "checkbridge_orders_total",
        "order attempts at Theary, by result",
    ),
    (
        "checkbridge_pageup_updates_total",
        "status PUTs to PageUp, by status sent and result",
    ),
    (
        "checkbridge_webhook_events_total",
        "webhook deliveries received, by event type and result",
    ),
    (
        "checkbridge_reconciled_searches_total",
        "searches moved by reading them back from Theary",
    ),
    (
        "checkbridge_token_fetches_total",
        "access tokens requested (first fetches and refreshes), by partner",
    ),
    (
        "checkbridge_call_retries_total",
        "tries repeated inside a call after a transient failure, by partner",
    ),
];

impl Metrics {
    /// Counters with a tenant label per tenant, or (`fold_tenants`) one `all` label.
    pub fn new(fold_tenants: bool) -> Metrics {
        Metrics {
            counters: Mutex::default(),
            fold_tenants,
        }
    }

    fn key(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Key {
        let value = |k: &str, v: &str| {
            if self.fold_tenants && k == "tenant" {
                "all".to_owned()
            } else {
                v.to_owned()
            }
        };
        (
            name,
            labels.iter().map(|(k, v)| (*k, value(k, v))).collect(),
        )
    }

    /// Adds one to `name` with `labels`.
    pub fn inc(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        let key = self.key(name, labels);
        if let Ok(mut c) = self.counters.lock() {
            *c.entry(key).or_default() += 1;
        }
    }

    /// Sets `name` with `labels` to a total kept elsewhere (e.g. by a client).
    pub fn set(&self, name: &'static str, labels: &[(&'static str, &str)], value: u64) {
        let key = self.key(name, labels);
        if let Ok(mut c) = self.counters.lock() {
            c.insert(key, value);
        }
    }

    /// The counters, then `gauges` (name, help, value), as Prometheus text.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let counters = self.counters.lock().map(|c| c.clone()).unwrap_or_default();
        let mut last = "";
        for ((name, labels), value) in &counters {
            if *name != last {
                let help = HELP
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, h)| *h)
                    .unwrap_or("");
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                last = name;
            }
            let labels = labels
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}=\"{}\"",
                        v.replace('\\', "\\\\")
                            .replace('"', "\\\"")
                            .replace('\n', " ")
                    )
                })
                .collect::<Vec<_>>()
                .join(",");
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_render_as_prometheus_text() {
        let m = Metrics::default();
        m.inc(
            "checkbridge_polls_total",
            &[("tenant", "acme"), ("result", "ok")],
        );
        m.inc(
            "checkbridge_polls_total",
            &[("tenant", "acme"), ("result", "ok")],
        );
        m.inc(
            "checkbridge_polls_total",
            &[("tenant", "a\"b"), ("result", "error")],
        );
        let text = m.render(&[(
            "checkbridge_owed_pushes",
            "checks whose PageUp document is behind",
            3.0,
        )]);
        assert!(text.contains("# TYPE checkbridge_polls_total counter\n"));
        assert!(text.contains("checkbridge_polls_total{tenant=\"acme\",result=\"ok\"} 2\n"));
        assert!(text.contains("checkbridge_polls_total{tenant=\"a\\\"b\",result=\"error\"} 1\n"));
        assert!(text.contains("# TYPE checkbridge_owed_pushes gauge\ncheckbridge_owed_pushes 3\n"));
        assert_eq!(text.matches("# TYPE checkbridge_polls_total").count(), 1);
    }

    #[test]
    fn with_many_tenants_the_tenant_label_is_folded() {
        let m = Metrics::new(true);
        for t in ["acme", "globex"] {
            m.inc(
                "checkbridge_polls_total",
                &[("tenant", t), ("result", "ok")],
            );
        }
        let text = m.render(&[]);
        assert!(
            text.contains("checkbridge_polls_total{tenant=\"all\",result=\"ok\"} 2\n"),
            "{text}"
        );
        assert!(!text.contains("acme"));
    }
}
