//! `latency`: a steady stream of new checks; how long each waits from `pending` to
//! `queued` and to `new`, against the bound: the poll interval (a check can arrive just
//! after a poll) plus the round trips of the poll that finds it (GET and PUT per page of 5,
//! with the backlog one interval builds up), plus the order and the PUT `new`.

use std::time::Duration;

use super::world::{self, percentile, Database, SandboxOptions, Sandboxes, ServiceOptions};
use super::{BenchArgs, Figure, Goal, Report, Size};
use checkbridge::time::now_ms;

pub async fn run(args: &BenchArgs, report: &mut Report) -> anyhow::Result<()> {
    let (tenant_count, per_second, seconds) = match args.size {
        Size::Full => (20usize, 50usize, 120u64),
        Size::Tiny => (2, 10, 10),
    };
    let interval_secs = 5u64;
    let latency = args.latency_ms;
    report.setup("tenants", tenant_count);
    report.setup("new checks", format!("{per_second}/s for {seconds} s"));
    report.setup("poll interval", format!("{interval_secs} s"));
    let (sb, tenants) = Sandboxes::with_tenants(
        SandboxOptions {
            latency_ms: latency,
            theary_step_ms: 0,
            pageup_token_secs: 300,
        },
        tenant_count,
    )
    .await?;
    let db = Database::new(args.database_url.as_deref()).await?;
    let service = world::prepare(
        &sb,
        &tenants,
        &db,
        &ServiceOptions {
            http_only: false,
            poll_interval_secs: interval_secs,
            concurrency: 256,
            reconcile_after_secs: 3600,
        },
    )
    .await?;
    let running = service.start().await?;
    // Warm-up: every tenant polled once (tokens fetched), then the stream starts.
    tokio::time::sleep(Duration::from_secs(interval_secs + 1)).await;
    let start_ms = now_ms();
    // Checks are seeded in ticks of 100 ms, round-robin over the tenants.
    let per_tick = (per_second / 10).max(1);
    let ticks = seconds * 10;
    let mut next = tokio::time::Instant::now();
    let mut turn = 0usize;
    for tick in 0..ticks {
        let seeds = (0..per_tick).map(|_| {
            let t = &tenants[turn % tenant_count];
            turn += 1;
            sb.seed(t, 1, 0, tick * 100 + turn as u64)
        });
        for r in futures::future::join_all(seeds).await {
            r?;
        }
        next += Duration::from_millis(100);
        tokio::time::sleep_until(next).await;
    }
    let total = turn;
    let timings = world::wait_all_new(
        sb,
        running,
        total,
        Duration::from_secs(interval_secs * 6 + 30),
        Duration::from_millis(500),
    )
    .await?;

    let mut to_queued: Vec<f64> = Vec::new();
    let mut to_new: Vec<f64> = Vec::new();
    for t in timings.iter().filter(|t| t.seeded_ms as i64 >= start_ms) {
        if let (Some(q), Some(n)) = (t.queued_ms, t.new_ms) {
            to_queued.push((q as f64 - t.seeded_ms as f64) / 1000.0);
            to_new.push((n as f64 - t.seeded_ms as f64) / 1000.0);
        }
    }
    to_queued.sort_by(f64::total_cmp);
    to_new.sort_by(f64::total_cmp);
    let l = latency as f64 / 1000.0;
    let backlog = per_second as f64 / tenant_count as f64 * interval_secs as f64;
    let pages = (backlog / checkbridge::sync::PAGE_SIZE as f64)
        .ceil()
        .max(1.0);
    let bound_queued = interval_secs as f64 + 2.0 * pages * l;
    let bound_new = bound_queued + 2.0 * l;
    for (name, values, bound, label) in [
        (
            "pending to queued",
            &to_queued,
            bound_queued,
            "interval + pages x (GET + PUT)",
        ),
        ("pending to new", &to_new, bound_new, "+ order + PUT new"),
    ] {
        report.figures.push(Figure::info(
            &format!("{name} p50"),
            percentile(values, 50.0),
            "s",
        ));
        report.figures.push(Figure::judged(
            &format!("{name} p99"),
            percentile(values, 99.0),
            "s",
            Some((bound, label)),
            false,
            Goal::AtMost { max: bound + 0.1 },
        ));
    }
    report.notes.push(format!(
        "{} checks measured; backlog per tenant per interval {backlog:.1} checks = {pages} pages; L = {latency} ms",
        to_queued.len()
    ));
    db.finish().await;
    Ok(())
}
