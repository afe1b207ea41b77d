//! `resume`: one GET of 5 invitations each carrying a large resume (base64 inline), through
//! the real PageUp client and the poller into the store. The figure is the growth of this
//! process's peak resident memory during that poll against the size of the documents.

use anyhow::Context as _;

use super::proc::{self, MIB};
use super::world::{self, Database, SandboxOptions, Sandboxes, ServiceOptions};
use super::{BenchArgs, Figure, Goal, Report, Size};
use checkbridge::store::Store;
use checkbridge::sync::Engine;

pub async fn run(args: &BenchArgs, report: &mut Report) -> anyhow::Result<()> {
    let document_bytes: usize = match args.size {
        Size::Full => 20 * 1024 * 1024,
        Size::Tiny => 1024 * 1024,
    };
    let count = checkbridge::sync::PAGE_SIZE;
    report.setup("invitations", count);
    report.setup(
        "resume size",
        format!("{} MiB", document_bytes as f64 / MIB),
    );
    let (sb, tenants) = Sandboxes::with_tenants(
        SandboxOptions {
            latency_ms: args.latency_ms,
            theary_step_ms: 0,
            pageup_token_secs: 300,
        },
        1,
    )
    .await?;
    sb.seed(&tenants[0], count, document_bytes, 1).await?;
    let db = Database::new(args.database_url.as_deref()).await?;
    let listener = sandbox::common::bind_local(0).await?;
    let config = world::config(
        sb.urls(),
        &tenants,
        listener.local_addr()?,
        &db.url,
        &ServiceOptions {
            http_only: false,
            poll_interval_secs: 60,
            concurrency: 32,
            reconcile_after_secs: 3600,
        },
    )?;
    let store = Store::connect(&db.url).await.context("opening the store")?;
    let engine = Engine::new(&config, store.clone())?;
    engine.start().await?;
    let reset = proc::reset_peak_rss();
    let before = proc::rss()?;
    let peak_before = proc::peak_rss()?;
    let polled = engine.poll_tenant(&tenants[0].key.as_str().into()).await?;
    let peak = proc::peak_rss()?;
    sb.stop().await;
    anyhow::ensure!(
        polled.claimed == count,
        "the poll claimed {} of {count} checks ({:?})",
        polled.claimed,
        polled.error
    );
    let stored = store.owed(Some(&tenants[0].key.as_str().into())).await?;
    let base = if reset {
        before
    } else {
        peak_before.max(before)
    };
    let growth = peak.saturating_sub(base) as f64;
    let documents = (document_bytes * count) as f64;
    // The response carries the documents in base64: 4 bytes for every 3.
    let response = documents * 4.0 / 3.0;
    report.figures.push(Figure::judged(
        "peak RSS growth",
        growth / MIB,
        "MiB",
        Some((documents / MIB, "documents' size")),
        false,
        Goal::RatioAtMost { max: 2.5 },
    ));
    report.figures.push(Figure::info(
        "peak RSS growth / response size (base64)",
        growth / response,
        "x",
    ));
    report.notes.push(format!(
        "{} checks stored ({} orders owed); peak measured {}",
        polled.claimed,
        stored.orders,
        if reset {
            "after resetting VmHWM"
        } else {
            "against the previous peak (VmHWM could not be reset)"
        }
    ));
    db.finish().await;
    Ok(())
}
