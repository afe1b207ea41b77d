//! `drain`: a backlog of pending checks over many tenants, against the bound PageUp's
//! paging sets.
//!
//! The bound, from the documented constraints alone: a GET returns at most 5 checks and the
//! next 5 only once those are claimed, every request costs the added latency `L`, and
//! tenants are independent (unlimited concurrency). A tenant with `n` pending checks needs a
//! token (1 request), then `ceil(n/5)` rounds of GET and a PUT `queued` (the five PUTs of a
//! round in parallel): `L * (1 + 2 * ceil(n/5))` until its last check is claimed. The last
//! claimed check then needs its Theary order (the Theary token can be fetched earlier, in
//! parallel) and the PUT `new`: 2 more requests.

use std::time::Duration;

use super::world::{self, Database, SandboxOptions, Sandboxes, ServiceOptions};
use super::{BenchArgs, Figure, Goal, Report, Size};
use checkbridge::time::now_ms;

pub async fn run(args: &BenchArgs, report: &mut Report) -> anyhow::Result<()> {
    let (tenant_count, per_tenant) = match args.size {
        Size::Full => (100, 100),
        Size::Tiny => (5, 12),
    };
    let latency = args.latency_ms;
    report.setup("tenants", tenant_count);
    report.setup("checks", tenant_count * per_tenant);
    let (sb, tenants) = Sandboxes::with_tenants(
        SandboxOptions {
            latency_ms: latency,
            theary_step_ms: 0,
            pageup_token_secs: 300,
        },
        tenant_count,
    )
    .await?;
    for (i, t) in tenants.iter().enumerate() {
        sb.seed(t, per_tenant, 0, i as u64).await?;
    }
    let db = Database::new(args.database_url.as_deref()).await?;
    report.setup(
        "database",
        if db.url.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        },
    );
    let service = world::prepare(
        &sb,
        &tenants,
        &db,
        &ServiceOptions {
            http_only: false,
            poll_interval_secs: 60,
            concurrency: 256,
            reconcile_after_secs: 3600,
        },
    )
    .await?;

    let t0 = now_ms();
    let running = service.start().await?;
    let total = tenant_count * per_tenant;
    let deadline = Duration::from_secs(match args.size {
        Size::Full => 600,
        Size::Tiny => 120,
    });
    let timings =
        world::wait_all_new(sb, running, total, deadline, Duration::from_millis(250)).await?;

    let last_queued = timings
        .iter()
        .filter_map(|t| t.queued_ms)
        .max()
        .unwrap_or(0);
    let last_new = timings.iter().filter_map(|t| t.new_ms).max().unwrap_or(0);
    let queued_s = (last_queued as i64 - t0) as f64 / 1000.0;
    let new_s = (last_new as i64 - t0) as f64 / 1000.0;
    let rounds = per_tenant.div_ceil(checkbridge::sync::PAGE_SIZE) as f64;
    let l = latency as f64 / 1000.0;
    let bound_queued = l * (1.0 + 2.0 * rounds);
    let bound_new = bound_queued + 2.0 * l;
    report.figures.push(Figure::judged(
        "all claimed (queued)",
        queued_s,
        "s",
        Some((bound_queued, "paging bound")),
        true,
        Goal::RatioAtLeast { min: 0.9 },
    ));
    report.figures.push(Figure::judged(
        "all ordered (new)",
        new_s,
        "s",
        Some((bound_new, "paging bound + order + PUT")),
        true,
        Goal::RatioAtLeast { min: 0.9 },
    ));
    report.figures.push(Figure::info(
        "claim throughput",
        total as f64 / queued_s.max(0.001),
        "checks/s",
    ));
    report.notes.push(format!(
        "bound = L x (1 token + 2 x {rounds} rounds of GET and PUT queued) = {:.0} ms with L = {latency} ms; \
         + 2 L (Theary order, PUT new) for new",
        bound_queued * 1000.0
    ));
    db.finish().await;
    Ok(())
}
