//! `tenants`: many tenants polled at a long interval with a trickle of new checks. After a
//! warm-up, over a window as long as a PageUp token lives: this process's CPU as a share of
//! one core, its peak memory, and the rate of GETs and token requests PageUp receives
//! against the rate the configuration implies (each tenant one GET per interval, one token
//! per token period), with every tenant polled (none starved).

use std::collections::BTreeMap;
use std::time::Duration;

use super::proc::{self, MIB};
use super::world::{self, Database, SandboxOptions, Sandboxes, ServiceOptions};
use super::{BenchArgs, Figure, Goal, Report, Size};

const GET_ROUTE: &str = "GET /v3/{}/backgroundcheck";
const TOKEN_ROUTE: &str = "POST /connect/token";

pub async fn run(args: &BenchArgs, report: &mut Report) -> anyhow::Result<()> {
    // (tenants, poll interval, PageUp token lifetime, warm-up, window), seconds.
    let (n, interval, token_life, warmup, window) = match args.size {
        Size::Full => (10_000usize, 60u64, 300u64, 75u64, 300u64),
        // A token life whose refresh point (life - margin) is not a whole number of
        // intervals: polls come up to 2 % early, so at a whole number the refresh would
        // slip to the next poll and the expected rate would not hold.
        Size::Tiny => (50, 5, 22, 7, 20),
    };
    report.setup("tenants", n);
    report.setup("poll interval", format!("{interval} s"));
    report.setup("PageUp token lifetime", format!("{token_life} s"));
    report.setup("warm-up", format!("{warmup} s"));
    report.setup("window", format!("{window} s"));
    report.setup("new checks", "1/s");
    let (sb, tenants) = Sandboxes::with_tenants(
        SandboxOptions {
            latency_ms: args.latency_ms,
            theary_step_ms: 2_000,
            pageup_token_secs: token_life,
        },
        n,
    )
    .await?;
    let db = Database::new(args.database_url.as_deref()).await?;
    let service = world::prepare(
        &sb,
        &tenants,
        &db,
        &ServiceOptions {
            http_only: false,
            poll_interval_secs: interval,
            concurrency: 256,
            reconcile_after_secs: 120,
        },
    )
    .await?;
    let rss_before_start = proc::rss()?;
    let running = service.start().await?;

    // The trickle: one new check a second in a tenant picked in turn.
    let trickle = {
        let sb_pageup = sb.pageup.clone();
        let tenants = tenants.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut i = 0usize;
            loop {
                tick.tick().await;
                let t = &tenants[(i * 7919) % tenants.len()];
                i += 1;
                let _ = http
                    .post(format!(
                        "{sb_pageup}/__admin/tenants/{}/invitations/generate",
                        t.pageup_id
                    ))
                    .json(&serde_json::json!({ "count": 1, "seed": i, "orderable": true }))
                    .send()
                    .await;
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(warmup)).await;
    let http = reqwest::Client::new();
    http.delete(format!("{}/__admin/journal", sb.pageup))
        .send()
        .await?
        .error_for_status()?;
    let counts_before = sb.counts(true).await?;
    let theary_before = sb.counts(false).await?;
    let cpu_before = proc::cpu_seconds()?;
    let started = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(window)).await;
    let cpu = proc::cpu_seconds()? - cpu_before;
    let elapsed = started.elapsed().as_secs_f64();
    let counts_after = sb.counts(true).await?;
    let theary_after = sb.counts(false).await?;
    let journal: Vec<sandbox::common::JournalEntry> = http
        .get(format!("{}/__admin/journal", sb.pageup))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let peak = proc::peak_rss()?;
    trickle.abort();
    running.stop().await;
    sb.stop().await;

    let delta = |key: &str| {
        counts_after.get(key).copied().unwrap_or(0) as f64
            - counts_before.get(key).copied().unwrap_or(0) as f64
    };
    let gets = delta(GET_ROUTE);
    let tokens = delta(TOKEN_ROUTE);
    let others: f64 = counts_after.values().sum::<u64>() as f64
        - counts_before.values().sum::<u64>() as f64
        - gets
        - tokens;
    let theary_requests: f64 =
        theary_after.values().sum::<u64>() as f64 - theary_before.values().sum::<u64>() as f64;
    // The token rule: replaced once it has less than 30 s (at most half its life) to live,
    // at the first poll after that.
    let margin = 30.0f64.min(token_life as f64 / 2.0);
    let token_period = interval as f64 * ((token_life as f64 - margin) / interval as f64).ceil();
    let expected = n as f64 / interval as f64 + n as f64 / token_period;
    let measured = (gets + tokens) / elapsed;
    let mut polls: BTreeMap<String, u64> = BTreeMap::new();
    for e in journal
        .iter()
        .filter(|e| e.method == "GET" && e.path.ends_with("/backgroundcheck"))
    {
        *polls.entry(e.path.clone()).or_default() += 1;
    }
    let polled = polls.len();
    let min_polls = if polled < n {
        0
    } else {
        polls.values().copied().min().unwrap_or(0)
    };
    let max_polls = polls.values().copied().max().unwrap_or(0);

    report.figures.push(Figure::judged(
        "CPU, share of one core",
        cpu / elapsed * 100.0,
        "%",
        None,
        false,
        Goal::AtMost { max: 25.0 },
    ));
    report.figures.push(Figure::judged(
        "peak RSS",
        // The goal is stated in MB (10^6 bytes).
        peak as f64 / 1e6,
        "MB",
        None,
        false,
        Goal::AtMost { max: 300.0 },
    ));
    report.figures.push(Figure::judged(
        "GETs + token requests",
        measured,
        "req/s",
        Some((expected, "N/interval + N/token period")),
        false,
        Goal::Within { fraction: 0.05 },
    ));
    report
        .figures
        .push(Figure::info("GETs", gets / elapsed, "req/s"));
    report
        .figures
        .push(Figure::info("token requests", tokens / elapsed, "req/s"));
    report.figures.push(Figure::judged(
        "tenants polled in window",
        polled as f64,
        "tenants",
        Some((n as f64, "all")),
        false,
        Goal::AtLeast { min: n as f64 },
    ));
    report.figures.push(Figure::info(
        "other PageUp requests (claims, updates)",
        others / elapsed,
        "req/s",
    ));
    report.figures.push(Figure::info(
        "Theary requests",
        theary_requests / elapsed,
        "req/s",
    ));
    report.notes.push(format!(
        "polls per tenant in the window: min {min_polls}, max {max_polls} (expected {:.1}); token period {token_period:.0} s; \
         RSS before the service started {:.0} MiB",
        window as f64 / interval as f64,
        rss_before_start as f64 / MIB
    ));
    db.finish().await;
    Ok(())
}
