//! `/metrics` in the Prometheus text format, with the `prometheus-client` crate: one typed
//! method per thing counted or timed (no metric names at call sites), histograms for the
//! latencies an operator alerts on, `checkbridge_build_info` and the process's own figures.
//!
//! Labels are bounded: the tenant label only ever holds a configured tenant's key (or
//! `unknown`), the others fixed words; with more tenants than
//! `service.metrics_tenant_limit`, the tenant label is `all` throughout. Names follow the
//! Prometheus conventions: a unit suffix (`_seconds`, `_bytes`), `_total` on counters.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabel {
    tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantResult {
    tenant: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpdateLabels {
    tenant: String,
    status: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    tenant: String,
    r#type: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartnerLabel {
    partner: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    partner: String,
    operation: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoopLabel {
    r#loop: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

/// A label value as the text format must carry it: the client writes values as given, so
/// a backslash, quote or line break is escaped here.
fn label(v: &str) -> String {
    if v.contains(['\\', '"', '\n']) {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    } else {
        v.to_owned()
    }
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;
type GaugeF = Gauge<f64, AtomicU64>;

/// Latency buckets from 5 ms to about 41 s (outbound calls, webhook handling).
fn call_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Buckets from 0.5 s to about 9 hours (pending -> queued / new).
fn pipeline_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.5, 2.0, 17))
}

/// What the store says now, set at each scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StateFigures {
    pub owed_orders: f64,
    pub owed_pushes: f64,
    pub open_searches: f64,
    pub oldest_owed_push_seconds: f64,
    pub open_health_issues: f64,
}

/// The service's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Tenant labels folded into `all` (too many tenants for a series each).
    fold_tenants: bool,
    polls: Family<TenantResult, Counter>,
    claims: Family<TenantLabel, Counter>,
    orders: Family<TenantResult, Counter>,
    candidates: Family<TenantResult, Counter>,
    pageup_updates: Family<UpdateLabels, Counter>,
    webhook_events: Family<EventLabels, Counter>,
    reconciled: Family<TenantLabel, Counter>,
    webhook_unverified: Family<TenantLabel, Counter>,
    http_refused: Family<ReasonLabel, Counter>,
    token_fetches: Family<PartnerLabel, Counter>,
    call_retries: Family<PartnerLabel, Counter>,
    store_errors: Family<LoopLabel, Counter>,
    calls: Histograms<CallLabels>,
    webhooks: Histograms<ResultLabel>,
    to_queued: Histograms<TenantLabel>,
    to_new: Histograms<TenantLabel>,
    candidate_to_submitted: Histograms<TenantLabel>,
    owed_orders: GaugeF,
    owed_pushes: GaugeF,
    open_searches: GaugeF,
    oldest_owed_push: GaugeF,
    open_issues: GaugeF,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(false)
    }
}

impl Metrics {
    /// Metrics with a tenant label per tenant, or (`fold_tenants`) one `all` label.
    pub fn new(fold_tenants: bool) -> Metrics {
        let mut registry = Registry::default();
        let polls = Family::default();
        registry.register(
            "checkbridge_polls",
            "GETs of PageUp's pending checks, by result",
            Family::clone(&polls),
        );
        let claims = Family::default();
        registry.register(
            "checkbridge_claims",
            "checks claimed from PageUp for the first time",
            Family::clone(&claims),
        );
        let orders = Family::default();
        registry.register(
            "checkbridge_orders",
            "order attempts at Theary, by result",
            Family::clone(&orders),
        );
        let candidates = Family::default();
        registry.register(
            "checkbridge_candidate_requests",
            "the candidate form's steps: invited, mailed (invitation), reminded, submitted, expired, refused",
            Family::clone(&candidates),
        );
        let pageup_updates = Family::default();
        registry.register(
            "checkbridge_pageup_updates",
            "status PUTs to PageUp, by status sent and result",
            Family::clone(&pageup_updates),
        );
        let webhook_events = Family::default();
        registry.register(
            "checkbridge_webhook_events",
            "webhook deliveries received, by event type and result",
            Family::clone(&webhook_events),
        );
        let reconciled = Family::default();
        registry.register(
            "checkbridge_reconciled_searches",
            "searches moved by reading them back from Theary",
            Family::clone(&reconciled),
        );
        let webhook_unverified = Family::default();
        registry.register(
            "checkbridge_webhook_unverified",
            "webhook posts refused that do not look like Theary's deliveries (never an alert)",
            Family::clone(&webhook_unverified),
        );
        let http_refused = Family::default();
        registry.register(
            "checkbridge_http_refused",
            "connections and requests the HTTP limits refused, by reason",
            Family::clone(&http_refused),
        );
        let token_fetches = Family::default();
        registry.register(
            "checkbridge_token_fetches",
            "access tokens requested (first fetches and refreshes), by partner",
            Family::clone(&token_fetches),
        );
        let call_retries = Family::default();
        registry.register(
            "checkbridge_call_retries",
            "tries repeated inside a call after a transient failure, by partner",
            Family::clone(&call_retries),
        );
        let store_errors = Family::default();
        registry.register(
            "checkbridge_store_errors",
            "steps of a loop that met a database error, by loop",
            Family::clone(&store_errors),
        );
        let calls: Histograms<CallLabels> = Family::new_with_constructor(call_buckets);
        registry.register_with_unit(
            "checkbridge_outbound_call_duration",
            "calls to PageUp and Theary, by partner, operation and result (in-call retries included)",
            Unit::Seconds,
            Family::clone(&calls),
        );
        let webhooks: Histograms<ResultLabel> = Family::new_with_constructor(call_buckets);
        registry.register_with_unit(
            "checkbridge_webhook_handling_duration",
            "time to verify, store and answer a webhook delivery, by result",
            Unit::Seconds,
            Family::clone(&webhooks),
        );
        let to_queued: Histograms<TenantLabel> = Family::new_with_constructor(pipeline_buckets);
        registry.register_with_unit(
            "checkbridge_pending_to_queued",
            "from a check's claim to PageUp acknowledging `queued`",
            Unit::Seconds,
            Family::clone(&to_queued),
        );
        let to_new: Histograms<TenantLabel> = Family::new_with_constructor(pipeline_buckets);
        registry.register_with_unit(
            "checkbridge_pending_to_new",
            "from a check's claim to PageUp acknowledging `new` (ordered at Theary)",
            Unit::Seconds,
            Family::clone(&to_new),
        );
        // From a minute to about eleven days: candidates answer in minutes or days.
        let candidate_to_submitted: Histograms<TenantLabel> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(60.0, 2.0, 15)));
        registry.register_with_unit(
            "checkbridge_candidate_invited_to_submitted",
            "from a candidate request's creation (the invitation owed) to the candidate's submission",
            Unit::Seconds,
            Family::clone(&candidate_to_submitted),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str, unit: Option<Unit>| {
            let g = GaugeF::default();
            match unit {
                Some(unit) => registry.register_with_unit(name, help, unit, g.clone()),
                None => registry.register(name, help, g.clone()),
            }
            g
        };
        let owed_orders = gauge(
            &mut registry,
            "checkbridge_owed_orders",
            "checks waiting for their Theary order",
            None,
        );
        let owed_pushes = gauge(
            &mut registry,
            "checkbridge_owed_pushes",
            "checks whose PageUp document is behind",
            None,
        );
        let open_searches = gauge(
            &mut registry,
            "checkbridge_open_searches",
            "searches of ordered checks with no result yet",
            None,
        );
        let oldest_owed_push = gauge(
            &mut registry,
            "checkbridge_oldest_owed_push",
            "age of the oldest PageUp update still owed",
            Some(Unit::Seconds),
        );
        let open_issues = gauge(
            &mut registry,
            "checkbridge_open_health_issues",
            "health issues open now (see /ops or `checkbridge tenants health`)",
            None,
        );
        let build: Family<BuildLabels, Gauge> = Family::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .set(1);
        registry.register(
            "checkbridge_build_info",
            "always 1; the version label says which build runs",
            build,
        );
        registry.register_collector(Box::new(ProcessCollector));
        Metrics {
            registry,
            fold_tenants,
            polls,
            claims,
            orders,
            candidates,
            pageup_updates,
            webhook_events,
            reconciled,
            webhook_unverified,
            http_refused,
            token_fetches,
            call_retries,
            store_errors,
            calls,
            webhooks,
            to_queued,
            candidate_to_submitted,
            to_new,
            owed_orders,
            owed_pushes,
            open_searches,
            oldest_owed_push,
            open_issues,
        }
    }

    fn tenant(&self, tenant: &str) -> String {
        if self.fold_tenants {
            "all".to_owned()
        } else {
            label(tenant)
        }
    }

    fn tenant_label(&self, tenant: &str) -> TenantLabel {
        TenantLabel {
            tenant: self.tenant(tenant),
        }
    }

    fn tenant_result(&self, tenant: &str, result: &str) -> TenantResult {
        TenantResult {
            tenant: self.tenant(tenant),
            result: label(result),
        }
    }

    /// One GET of the pending list, answered (`ok`) or not.
    pub fn poll(&self, tenant: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.polls
            .get_or_create(&self.tenant_result(tenant, result))
            .inc();
    }

    /// A check claimed for the first time.
    pub fn claim(&self, tenant: &str) {
        self.claims.get_or_create(&self.tenant_label(tenant)).inc();
    }

    /// An order attempt: `placed`, `refused` or `deferred`.
    pub fn order(&self, tenant: &str, result: &'static str) {
        self.orders
            .get_or_create(&self.tenant_result(tenant, result))
            .inc();
    }

    /// A candidate request's step (`invited`, `mailed`, `reminded`, `submitted`, `expired`,
    /// `refused`).
    pub fn candidate(&self, result: &'static str, tenant: &str) {
        self.candidates
            .get_or_create(&self.tenant_result(tenant, result))
            .inc();
    }

    /// A candidate submitted the form, `waited` after the request was made.
    pub fn candidate_submitted(&self, tenant: &str, waited: Duration) {
        self.candidate_to_submitted
            .get_or_create(&self.tenant_label(tenant))
            .observe(waited.as_secs_f64());
    }

    /// A status PUT to PageUp.
    pub fn pageup_update(&self, tenant: &str, status: &str, ok: bool) {
        self.pageup_updates
            .get_or_create(&UpdateLabels {
                tenant: self.tenant(tenant),
                status: label(status),
                result: if ok { "ok" } else { "error" }.to_owned(),
            })
            .inc();
    }

    /// A webhook delivery: its event type (`unknown` when refused before it was read) and
    /// result (`stored`, `duplicate`, or the refusal's code).
    pub fn webhook_event(&self, tenant: &str, event_type: &str, result: &str) {
        self.webhook_events
            .get_or_create(&EventLabels {
                tenant: self.tenant(tenant),
                r#type: label(event_type),
                result: label(result),
            })
            .inc();
    }

    /// How long one webhook delivery took to handle, by result (`ok` or the refusal code).
    pub fn webhook_handled(&self, result: &str, took: Duration) {
        self.webhooks
            .get_or_create(&ResultLabel {
                result: label(result),
            })
            .observe(took.as_secs_f64());
    }

    /// A search moved by the reconciler.
    pub fn reconciled(&self, tenant: &str) {
        self.reconciled
            .get_or_create(&self.tenant_label(tenant))
            .inc();
    }

    /// A refused webhook post that does not look like one of Theary's deliveries.
    pub fn webhook_unverified(&self, tenant: &str) {
        self.webhook_unverified
            .get_or_create(&self.tenant_label(tenant))
            .inc();
    }

    /// What the HTTP limits refused so far for `reason`, a total the server keeps.
    pub fn http_refused(&self, reason: &str, total: u64) {
        catch_up(
            &self.http_refused.get_or_create(&ReasonLabel {
                reason: label(reason),
            }),
            total,
        );
    }

    /// A loop's step met a database error.
    pub fn store_error(&self, loop_name: &str) {
        self.store_errors
            .get_or_create(&LoopLabel {
                r#loop: label(loop_name),
            })
            .inc();
    }

    /// One call to a partner (`pageup` or `theary`) and how long it took, retries included.
    pub fn call(&self, partner: &str, operation: &str, ok: bool, took: Duration) {
        self.calls
            .get_or_create(&CallLabels {
                partner: label(partner),
                operation: label(operation),
                result: if ok { "ok" } else { "error" }.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// PageUp acknowledged the first document of a check (`queued`), `since_claim` after
    /// its claim; or (`ordered`) the document saying it is ordered (`new`).
    pub fn acknowledged(&self, tenant: &str, status: &pageup::CheckStatus, since_claim: Duration) {
        let family = match *status {
            pageup::CheckStatus::Queued => &self.to_queued,
            pageup::CheckStatus::New => &self.to_new,
            _ => return,
        };
        family
            .get_or_create(&self.tenant_label(tenant))
            .observe(since_claim.as_secs_f64());
    }

    /// A partner client's running totals (token fetches, in-call retries), kept by the
    /// client; the counters catch up to them.
    pub fn partner_totals(&self, partner: &str, token_fetches: u64, retries: u64) {
        let label = PartnerLabel {
            partner: label(partner),
        };
        catch_up(&self.token_fetches.get_or_create(&label), token_fetches);
        catch_up(&self.call_retries.get_or_create(&label), retries);
    }

    /// The store's figures at this scrape.
    pub fn set_state(&self, s: StateFigures) {
        self.owed_orders.set(s.owed_orders);
        self.owed_pushes.set(s.owed_pushes);
        self.open_searches.set(s.open_searches);
        self.oldest_owed_push.set(s.oldest_owed_push_seconds);
        self.open_issues.set(s.open_health_issues);
    }

    /// The content type of [`Metrics::render`]'s text.
    pub const CONTENT_TYPE: &'static str =
        "application/openmetrics-text; version=1.0.0; charset=utf-8";

    /// The content type of [`Metrics::render_classic`]'s text.
    pub const CLASSIC_CONTENT_TYPE: &'static str = "text/plain; version=0.0.4; charset=utf-8";

    /// Everything in Prometheus's classic text format (0.0.4), for scrapers and tools that
    /// do not ask for OpenMetrics (`promtool check metrics` among them): a counter's help
    /// and type lines name it with its `_total`, and OpenMetrics' `# UNIT` and `# EOF`
    /// lines are left out. The samples are the same.
    pub fn render_classic(&self) -> String {
        let open = self.render();
        let counters: std::collections::HashSet<&str> = open
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
            .collect();
        let mut out = String::with_capacity(open.len());
        for line in open.lines() {
            if line.starts_with("# UNIT ") || line == "# EOF" {
                continue;
            }
            let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
                let rest = line.strip_prefix(prefix)?;
                let (name, tail) = rest.split_once(' ')?;
                counters
                    .contains(name)
                    .then(|| format!("{prefix}{name}_total {tail}"))
            });
            match renamed {
                Some(l) => out.push_str(&l),
                None => out.push_str(line),
            }
            out.push('\n');
        }
        out
    }

    /// Everything, in the OpenMetrics text format (which Prometheus scrapes).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("metrics could not be encoded");
        }
        out
    }
}

/// Brings a counter up to a running total kept elsewhere (it never goes back).
fn catch_up(counter: &Counter, total: u64) {
    let now = counter.get();
    if total > now {
        counter.inc_by(total - now);
    }
}

/// The process's own figures, read from `/proc/self` at each scrape (Linux; elsewhere
/// nothing is written): CPU time, resident and virtual memory, open file descriptors,
/// start time. Names as the Prometheus client libraries use them.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(p) = process_figures() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(p.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "user and system CPU time spent",
            None,
            cpu.metric_type(),
        )?)?;
        for (name, help, value) in [
            (
                "process_resident_memory_bytes",
                "resident memory size",
                p.resident_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "virtual memory size",
                p.virtual_bytes,
            ),
            ("process_open_fds", "open file descriptors", p.open_fds),
            (
                "process_start_time_seconds",
                "start time of the process since the epoch",
                p.start_time_seconds,
            ),
        ] {
            let g = ConstGauge::new(value);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

struct ProcessFigures {
    cpu_seconds: f64,
    resident_bytes: f64,
    virtual_bytes: f64,
    open_fds: f64,
    start_time_seconds: f64,
}

#[expect(clippy::cast_precision_loss, reason = "figures far below 2^52")]
fn process_figures() -> Option<ProcessFigures> {
    const TICKS: f64 = 100.0; // USER_HZ on Linux
    const PAGE: f64 = 4096.0;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    let (utime, stime, starttime, vsize, rss) =
        (field(14)?, field(15)?, field(22)?, field(23)?, field(24)?);
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix("btime ")
                .and_then(|v| v.trim().parse::<f64>().ok())
        })?;
    let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count) as f64;
    Some(ProcessFigures {
        cpu_seconds: (utime + stime) / TICKS,
        resident_bytes: rss * PAGE,
        virtual_bytes: vsize,
        open_fds,
        start_time_seconds: boot + starttime / TICKS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_histograms_and_gauges_render_as_prometheus_text() {
        let m = Metrics::default();
        m.poll("acme", true);
        m.poll("acme", true);
        m.poll("a\"b", false);
        m.call("theary", "theary.order", true, Duration::from_millis(30));
        m.set_state(StateFigures {
            owed_pushes: 3.0,
            ..StateFigures::default()
        });
        let text = m.render();
        assert!(
            text.contains("# TYPE checkbridge_polls counter\n"),
            "{text}"
        );
        assert!(text.contains("checkbridge_polls_total{tenant=\"acme\",result=\"ok\"} 2\n"));
        assert!(
            text.contains("checkbridge_polls_total{tenant=\"a\\\"b\",result=\"error\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("checkbridge_owed_pushes 3.0\n"), "{text}");
        assert!(text.contains(
            "checkbridge_outbound_call_duration_seconds_bucket{le=\"0.04\",partner=\"theary\",operation=\"theary.order\",result=\"ok\"} 1\n"
        ), "{text}");
        assert!(text.contains("checkbridge_build_info{version=\""), "{text}");
        assert!(text.contains("process_resident_memory_bytes "), "{text}");
        assert!(text.contains("process_cpu_seconds_total "), "{text}");
        assert_eq!(text.matches("# TYPE checkbridge_polls ").count(), 1);
        assert!(text.ends_with("# EOF\n"));

        let classic = m.render_classic();
        assert!(
            classic.contains("# TYPE checkbridge_polls_total counter\n"),
            "{classic}"
        );
        assert!(
            classic.contains("# HELP checkbridge_polls_total GETs"),
            "{classic}"
        );
        assert!(
            !classic.contains("# UNIT") && !classic.contains("# EOF"),
            "{classic}"
        );
        assert!(classic.contains("checkbridge_polls_total{tenant=\"acme\",result=\"ok\"} 2\n"));
    }

    #[test]
    fn with_many_tenants_the_tenant_label_is_folded() {
        let m = Metrics::new(true);
        for t in ["acme", "globex"] {
            m.poll(t, true);
        }
        let text = m.render();
        assert!(
            text.contains("checkbridge_polls_total{tenant=\"all\",result=\"ok\"} 2\n"),
            "{text}"
        );
        assert!(!text.contains("acme"));
    }

    #[test]
    fn partner_totals_catch_up_and_never_go_back() {
        let m = Metrics::default();
        m.partner_totals("pageup", 3, 1);
        m.partner_totals("pageup", 2, 4);
        let text = m.render();
        assert!(
            text.contains("checkbridge_token_fetches_total{partner=\"pageup\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("checkbridge_call_retries_total{partner=\"pageup\"} 4\n"),
            "{text}"
        );
    }
}
