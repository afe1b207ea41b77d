//! `drain`: a backlog of pending checks over many tenants, against the bound PageUp's
//! paging sets and against the null integrator (a hand-written loop with no database) on
//! the same sandboxes in the same run.
//!
//! The bound, from the documented constraints alone: a GET returns at most 5 checks and the
//! next 5 only once those are claimed, every request costs the added latency `L`, and
//! tenants are independent (unlimited concurrency). A tenant with `n` pending checks needs a
//! token (1 request), then `ceil(n/5)` rounds of GET and a PUT `queued` (the five PUTs of a
//! round in parallel): `L * (1 + 2 * ceil(n/5))` until its last check is claimed. The last
//! claimed check then needs its Theary order (the Theary token can be fetched earlier, in
//! parallel) and the PUT `new`: 2 more requests.
//!
//! Goals: at an ocean's latency (100 ms and more) the round trips dominate, so the service
//! must come close to the bound (all claimed within 0.9 of it, all `new` within 0.8); at a
//! short latency the CPU of 2 shared cores dominates, so the service must reach half the
//! null integrator's throughput (what durability and crash safety may cost).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::world::{self, Database, SandboxOptions, Sandboxes, ServiceOptions};
use super::{BenchArgs, Figure, Goal, Report, Size, StageRow};
use checkbridge::sync::stages::{self, Stage};
use checkbridge::time::now_ms;

/// From this added latency on, the drain is judged against the round-trip bound.
const FAR_MS: u64 = 100;

pub async fn run(args: &BenchArgs, report: &mut Report) -> anyhow::Result<()> {
    let (tenant_count, per_tenant) = match args.size {
        Size::Full => (100, 100),
        Size::Tiny => (5, 12),
    };
    let latency = args.latency_ms;
    let total = tenant_count * per_tenant;
    report.setup("tenants", tenant_count);
    report.setup("checks", total);
    // Twice the tenants: the first half for the service, the second for the null integrator.
    let (sb, all) = Sandboxes::with_tenants(
        SandboxOptions {
            latency_ms: latency,
            theary_step_ms: 0,
            pageup_token_secs: 300,
        },
        tenant_count * 2,
    )
    .await?;
    let (tenants, null_tenants) = all.split_at(tenant_count);
    for (i, t) in all.iter().enumerate() {
        sb.seed(t, per_tenant, 0, (i % tenant_count) as u64).await?;
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
    let options = ServiceOptions {
        http_only: false,
        poll_interval_secs: 60,
        concurrency: 1024,
        reconcile_after_secs: 3600,
    };
    let deadline = Duration::from_secs(match args.size {
        Size::Full => 900,
        Size::Tiny => 120,
    });

    // The null integrator first, on its own tenants.
    let null_config = world::config(
        sb.urls(),
        null_tenants,
        "127.0.0.1:9".parse()?,
        "sqlite::memory:",
        &options,
    )?;
    let n0 = now_ms();
    tokio::time::timeout(deadline, super::null::drain(&null_config))
        .await
        .map_err(|_| anyhow::anyhow!("the null integrator did not finish in time"))??;
    let null_ids: HashSet<&str> = null_tenants.iter().map(|t| t.pageup_id.as_str()).collect();
    let null_timings: Vec<_> = sb
        .timings()
        .await?
        .into_iter()
        .filter(|t| null_ids.contains(t.tenant.as_str()))
        .collect();
    let (null_queued, null_new) = last_times(&null_timings, n0, total)?;

    // Then the service, on the other tenants.
    stages::enable();
    let service = world::prepare(&sb, tenants, &db, &options).await?;
    let t0 = now_ms();
    let running = service.start().await?;
    let own_ids: HashSet<String> = tenants.iter().map(|t| t.pageup_id.clone()).collect();
    let timings: Vec<_> = world::wait_all_new_of(
        sb,
        running,
        &own_ids,
        total,
        deadline,
        Duration::from_millis(100),
    )
    .await?;
    let (queued_s, new_s) = last_times(&timings, t0, total)?;

    let rounds = per_tenant.div_ceil(checkbridge::sync::PAGE_SIZE) as f64;
    let l = latency as f64 / 1000.0;
    let bound_queued = l * (1.0 + 2.0 * rounds);
    let bound_new = bound_queued + 2.0 * l;
    let far = latency >= FAR_MS;
    report.figures.push(Figure::judged(
        "all claimed (queued)",
        queued_s,
        "s",
        Some((bound_queued, "paging bound")),
        true,
        if far {
            Goal::RatioAtLeast { min: 0.9 }
        } else {
            Goal::None
        },
    ));
    report.figures.push(Figure::judged(
        "all ordered (new)",
        new_s,
        "s",
        Some((bound_new, "paging bound + order + PUT")),
        true,
        if far {
            Goal::RatioAtLeast { min: 0.8 }
        } else {
            Goal::None
        },
    ));
    report.figures.push(Figure::judged(
        "new throughput",
        total as f64 / new_s.max(0.001),
        "checks/s",
        Some((total as f64 / null_new.max(0.001), "null integrator")),
        false,
        if far {
            Goal::None
        } else {
            Goal::RatioAtLeast { min: 0.5 }
        },
    ));
    report.figures.push(Figure::judged(
        "claim throughput",
        total as f64 / queued_s.max(0.001),
        "checks/s",
        Some((total as f64 / null_queued.max(0.001), "null integrator")),
        false,
        Goal::None,
    ));
    report.figures.push(Figure::info(
        "null integrator: all claimed / all new",
        null_queued,
        &format!("s / {:.2} s", null_new),
    ));
    report.notes.push(format!(
        "bound = L x (1 token + 2 x {rounds} rounds of GET and PUT queued) = {:.0} ms with L = {latency} ms; \
         + 2 L (Theary order, PUT new) for new",
        bound_queued * 1000.0
    ));
    report.notes.push(format!(
        "goals at {} {FAR_MS} ms of latency: {}",
        if far { ">=" } else { "<" },
        if far {
            "claimed >= 0.9 and new >= 0.8 of the round-trip bound"
        } else {
            "throughput >= 0.5 of the null integrator's (no database, no crash safety), same sandboxes, same run"
        }
    ));
    if args.explain {
        report.breakdown = breakdown(stages::take(), t0);
    }
    db.finish().await;
    Ok(())
}

/// Seconds from `t0` until the last check was `queued` and until the last was `new`.
fn last_times(
    timings: &[sandbox::pageup::CheckTiming],
    t0: i64,
    total: usize,
) -> anyhow::Result<(f64, f64)> {
    let news = timings.iter().filter(|t| t.new_ms.is_some()).count();
    anyhow::ensure!(news >= total, "only {news} of {total} checks reached new");
    let last_queued = timings
        .iter()
        .filter_map(|t| t.queued_ms)
        .max()
        .unwrap_or(0);
    let last_new = timings.iter().filter_map(|t| t.new_ms).max().unwrap_or(0);
    Ok((
        (last_queued as i64 - t0) as f64 / 1000.0,
        (last_new as i64 - t0) as f64 / 1000.0,
    ))
}

/// The waits between consecutive stages over every check, and when the last check reached
/// each stage.
fn breakdown(times: Vec<stages::StageTime>, t0: i64) -> Vec<StageRow> {
    let mut by_check: HashMap<String, BTreeMap<Stage, i64>> = HashMap::new();
    for t in times {
        let at = by_check
            .entry(t.check.as_str().to_owned())
            .or_default()
            .entry(t.stage)
            .or_insert(t.at_ms);
        *at = (*at).min(t.at_ms);
    }
    Stage::ALL
        .windows(2)
        .map(|pair| {
            let (from, to) = (pair[0], pair[1]);
            let mut gaps: Vec<f64> = by_check
                .values()
                .filter_map(|s| Some((s.get(&to)? - s.get(&from)?) as f64))
                .collect();
            gaps.sort_by(f64::total_cmp);
            let last = by_check.values().filter_map(|s| s.get(&to)).max();
            StageRow {
                step: format!("{} -> {}", from.name(), to.name()),
                checks: gaps.len(),
                p50_ms: world::percentile(&gaps, 50.0),
                p99_ms: world::percentile(&gaps, 99.0),
                max_ms: gaps.last().copied().unwrap_or(0.0),
                last_at_s: last.map_or(0.0, |l| (l - t0) as f64 / 1000.0),
            }
        })
        .collect()
}
