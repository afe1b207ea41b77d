//! A report as a PDF file: the report page's content (the same context the HTML page
//! renders) written with the shared document builder ([`crate::pdf`]), which embeds a
//! Unicode font, so every candidate's name prints as it is written.
//!
//! Laying out and writing a report is CPU work that grows with its text; [`Renderer`] runs
//! it on a blocking thread, at most `service.pdf_renders` at a time, so a large report (or
//! many at once) never holds the async workers that answer `/healthz` and webhooks.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Semaphore;

use crate::pdf::Document;
pub use crate::pdf::PdfError;

/// Renders reports off the async workers, a bounded number at a time.
#[derive(Clone, Debug)]
pub struct Renderer {
    slots: Arc<Semaphore>,
}

impl Renderer {
    /// A renderer that runs at most `concurrent` renders at once (at least one).
    pub fn new(concurrent: usize) -> Renderer {
        Renderer {
            slots: Arc::new(Semaphore::new(concurrent.max(1))),
        }
    }

    /// The report for `ctx` as a PDF, rendered on a blocking thread once a slot is free.
    pub async fn report(&self, ctx: Value) -> Result<Vec<u8>, PdfError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| PdfError::Write("the renderer is closed".to_owned()))?;
        tokio::task::spawn_blocking(move || report(&ctx))
            .await
            .map_err(|e| PdfError::Write(format!("the render task failed: {e}")))?
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new(2)
    }
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The report page's content (the same context the HTML page renders) as a PDF.
pub fn report(ctx: &Value) -> Result<Vec<u8>, PdfError> {
    let check = &ctx["check"];
    let pageup_id = s(check, "pageup_id").unwrap_or("");
    let mut pdf = Document::new(&format!("Background check {pageup_id}"));
    pdf.title("Background check report");
    pdf.paragraph(&format!(
        "{} · PageUp check {pageup_id}{}",
        s(ctx, "tenant_name").unwrap_or(""),
        s(check, "reference")
            .map(|r| format!(" · Theary order {r}"))
            .unwrap_or_default()
    ));

    pdf.heading("Candidate");
    match ctx.get("candidate").filter(|c| c.is_object()) {
        Some(c) => {
            pdf.field("Name", s(c, "name").unwrap_or("—"));
            pdf.field("National id", s(c, "ssn_masked").unwrap_or("—"));
            if let Some(email) = s(c, "email") {
                pdf.field("Email", email);
            }
            if let Some(job) = s(c, "job") {
                pdf.field("Position", job);
            }
        }
        None => pdf.paragraph("The candidate's details were removed under the retention policy; the results below remain."),
    }

    pdf.heading("Result");
    pdf.field("Status", s(check, "status").unwrap_or("—"));
    if let Some(overall) = s(ctx, "overall") {
        pdf.field("Overall", overall);
    }
    if let Some(reason) = s(check, "reason") {
        pdf.field("Reason", reason);
    }
    pdf.field("Ordered", s(check, "created").unwrap_or("—"));
    pdf.field("Last change", s(check, "updated").unwrap_or("—"));

    for search in ctx["searches"].as_array().into_iter().flatten() {
        pdf.heading(s(search, "label").unwrap_or("Verification"));
        pdf.field("Status", s(search, "status").unwrap_or("—"));
        pdf.field("Outcome", s(search, "outcome").unwrap_or("—"));
        if search["discrepancy"].as_bool() == Some(true) {
            pdf.field(
                "Discrepancy",
                "yes: what was provided differs from what was verified",
            );
        }
        if let Some(code) = s(search, "reason_code") {
            pdf.field("Reason", code);
        }
        for f in search["fields"].as_array().into_iter().flatten() {
            pdf.field(s(f, "name").unwrap_or(""), s(f, "value").unwrap_or("—"));
        }
        if let Some(comments) = s(search, "comments") {
            pdf.field("Verifier's comments", comments);
        }
        let events: Vec<String> = search["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{}: {}",
                    s(e, "at").unwrap_or(""),
                    s(e, "kind").unwrap_or("")
                )
            })
            .collect();
        if !events.is_empty() {
            pdf.field("Activity", &events.join("; "));
        }
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::json;

    use super::*;

    /// Names in the scripts candidates write them in.
    const NAMES: [&str; 7] = [
        "Zoë Ångström-Ørsted",
        "François Müller-Lüdenscheidt",
        "Nguyễn Thị Minh Khai",
        "Łukasz Żółkiewski",
        "Αλέξανδρος Παπαδόπουλος",
        "Анна Кузнецова",
        "Ђорђе Љубичић",
    ];

    fn context(name: &str, job: &str, comments: &str, searches: usize) -> Value {
        let search = json!({
            "label": "Employment verification",
            "status": "review",
            "outcome": "VERIFIED",
            "discrepancy": true,
            "fields": [
                { "name": "Employer", "value": name },
                { "name": "Job title", "value": job },
            ],
            "comments": comments,
            "events": [{ "kind": "completed", "at": "2026-11-21 16:00 UTC" }],
        });
        json!({
            "tenant_name": "Acme",
            "check": { "pageup_id": "C-1", "status": "completed", "created": "2026-11-20", "updated": "2026-11-21" },
            "candidate": { "name": name, "ssn_masked": "•••-••-6789", "job": job },
            "overall": "review",
            "searches": vec![search; searches],
        })
    }

    /// Peak resident memory of this process so far, in KiB (Linux).
    fn peak_rss_kib() -> Option<u64> {
        std::fs::read_to_string("/proc/self/status")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }

    #[test]
    fn every_name_prints_as_written() {
        for name in NAMES {
            let pdf = report(&context(name, "Senior Accountant", "Verified.", 1)).unwrap();
            let Some(text) = checkbridge_lab::testing::pdf_text(&pdf) else {
                return;
            };
            assert!(text.contains(name), "{name} in {text}");
            assert!(!text.contains('\u{fffd}'), "no replacement in {text}");
        }
    }

    #[test]
    fn a_100000_character_word_renders_in_well_under_a_second() {
        let word = "Ab".repeat(50_000);
        let started = Instant::now();
        let pdf = report(&context("Dana", &word, "ok", 1)).unwrap();
        let took = started.elapsed();
        eprintln!(
            "a 100,000-character job title: rendered in {} ms, {} bytes",
            took.as_millis(),
            pdf.len()
        );
        assert!(took.as_secs_f64() < 5.0, "took {took:?}");
        if let Some(text) = checkbridge_lab::testing::pdf_text(&pdf) {
            let kept: usize = text.matches("Ab").count();
            // The title is shown twice (candidate and search): cut into lines, never lost.
            assert!(
                kept >= 2 * 50_000 - 2 * 2_000,
                "{kept} of the word's pieces kept"
            );
        }
    }

    #[test]
    fn right_to_left_text_and_every_unicode_plane_render_without_panicking() {
        let mut every_plane = String::new();
        for plane in 0..=16_u32 {
            for offset in [0x20_u32, 0x41, 0x300, 0x5d0, 0xe000, 0xfffd, 0xfffe] {
                if let Some(c) = char::from_u32(plane * 0x1_0000 + offset) {
                    every_plane.push(c);
                }
            }
            every_plane.push(' ');
        }
        let rtl = "שרה לוי مرحبا بالعالم \u{202e}reversed\u{202c} \u{200f}mixed עברית and English";
        let pdf = report(&context(
            rtl,
            &every_plane,
            &format!("{rtl} {every_plane}"),
            2,
        ))
        .unwrap();
        if let Some(text) = checkbridge_lab::testing::pdf_text(&pdf) {
            assert!(text.contains('\u{fffd}'), "missing glyphs are marked");
            assert!(text.contains("English"));
        }
    }

    #[test]
    fn the_largest_report_renders_with_its_time_and_memory_measured() {
        // A search's result arrives in one webhook (at most 256 KiB), so no field of a search
        // is longer; the candidate's name and job come from PageUp, 64 KiB each here.
        let words = |n: usize| {
            let mut s = String::with_capacity(n);
            while s.len() < n {
                s.push_str("Nguyễn Łukasz Αλέξανδρος Кузнецова verified ");
            }
            s
        };
        let ctx = context(&words(64 * 1024), &words(64 * 1024), &words(256 * 1024), 6);
        let before = peak_rss_kib();
        let started = Instant::now();
        let pdf = report(&ctx).unwrap();
        let took = started.elapsed();
        let after = peak_rss_kib();
        eprintln!(
            "largest report: {} KiB of PDF in {} ms; peak RSS {:?} KiB before, {:?} KiB after",
            pdf.len() / 1024,
            took.as_millis(),
            before,
            after
        );
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(took.as_secs() < 60, "took {took:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn renders_wait_their_turn_off_the_async_workers() {
        let renderer = Renderer::new(1);
        let ctx = context("Dana", &"word ".repeat(20_000), "ok", 2);
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (r, c) = (renderer.clone(), ctx.clone());
                tokio::spawn(async move { r.report(c).await })
            })
            .collect();
        // While they run, the runtime answers at once.
        let started = Instant::now();
        tokio::task::yield_now().await;
        let ticked = started.elapsed();
        for t in tasks {
            assert!(t.await.unwrap().unwrap().starts_with(b"%PDF-"));
        }
        eprintln!(
            "a tick of the runtime during 4 renders: {} µs",
            ticked.as_micros()
        );
        assert!(ticked.as_millis() < 500);
    }
}

#[cfg(test)]
mod served {
    use std::time::{Duration, Instant};

    use axum::extract::State;
    use axum::routing::get;
    use axum::Router;

    use super::Renderer;

    /// A server with `/healthz` and a route that renders a large report through the
    /// [`Renderer`], as the report handler does, over real HTTP on port 0.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn healthz_answers_fast_while_large_reports_render() {
        let ctx = serde_json::json!({
            "check": { "pageup_id": "C-1", "status": "completed" },
            "candidate": { "name": "Nguyễn Thị Minh Khai", "job": "Ab".repeat(50_000) },
            "searches": [{ "label": "Employment verification", "comments": "Verified by phone. ".repeat(8_000) }],
        });
        let app = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/pdf",
                get(
                    |State((r, c)): State<(Renderer, serde_json::Value)>| async move {
                        r.report(c)
                            .await
                            .map(|b| b.len().to_string())
                            .unwrap_or_default()
                    },
                ),
            )
            .with_state((Renderer::new(2), ctx));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();
        let started = Instant::now();
        let renders: Vec<_> = (0..6)
            .map(|_| {
                let (http, base) = (http.clone(), base.clone());
                tokio::spawn(async move {
                    http.get(format!("{base}/pdf"))
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut latencies = Vec::new();
        while !renders.iter().all(tokio::task::JoinHandle::is_finished) {
            let t = Instant::now();
            let r = http.get(format!("{base}/healthz")).send().await.unwrap();
            assert!(r.status().is_success());
            latencies.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for r in renders {
            let bytes: usize = r.await.unwrap().parse().unwrap();
            assert!(bytes > 10_000, "a PDF of {bytes} bytes");
        }
        latencies.sort();
        let median = latencies[latencies.len() / 2];
        println!(
            "6 large reports (2 at a time) in {} ms; /healthz: {} probes, median {} ms, max {} ms",
            started.elapsed().as_millis(),
            latencies.len(),
            median.as_millis(),
            latencies[latencies.len() - 1].as_millis()
        );
        assert!(median < Duration::from_millis(250), "median {median:?}");
    }
}
