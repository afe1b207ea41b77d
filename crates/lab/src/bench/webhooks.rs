//! `webhooks`: a flood of signed Theary events for searches the store holds, sent over 64
//! connections to the receiver (SQLite): events a second verified and durably committed
//! before the 200. Baseline, in the same run: the same rows inserted straight into a store
//! set up the same way, by as many tasks, with no HTTP and no verification.
//!
//! Each search gets four progress notifications and then its completion, so most events
//! are stored and a fifth also moves a search (and owes PageUp an update).

use std::time::Instant;

use anyhow::Context as _;
use futures::StreamExt as _;
use serde_json::json;

use super::world::{self, percentile, Database, ServiceOptions};
use super::{BenchArgs, Figure, Goal, Report, Size};
use checkbridge::crypto::{Keyring, Place};
use checkbridge::domain::check::SearchUpdate;
use checkbridge::domain::events;
use checkbridge::domain::ids::{CheckId, PageUpCheckId, SearchId, TenantKey, ThearySearchId};
use checkbridge::store::{EventRecord, NewCheck, NewSearch, Plan, Store};
use checkbridge::time::now_ms;

const CONNECTIONS: usize = 64;
const EVENTS_PER_SEARCH: usize = 5;
const TENANTS: usize = 10;

/// A search the store holds, with its check's webhook secret.
struct Search {
    tenant: TenantKey,
    check_id: CheckId,
    id: SearchId,
    search_type: &'static str,
    theary_id: ThearySearchId,
    secret: String,
}

/// One event as Theary would send it.
struct Event {
    tenant: TenantKey,
    search: usize,
    id: String,
    event_type: &'static str,
    body: Vec<u8>,
    signature: String,
}

pub async fn run(args: &BenchArgs, report: &mut Report) -> anyhow::Result<()> {
    let total: usize = match args.size {
        Size::Full => 50_000,
        Size::Tiny => 1_000,
    };
    let search_count = total / EVENTS_PER_SEARCH;
    report.setup("events", total);
    report.setup("searches", search_count);
    report.setup("connections", CONNECTIONS);
    report.setup("database", "SQLite (WAL, synchronous=FULL)");
    let tenants = world::tenants(TENANTS);
    // The service's configuration points at no sandbox: only the receiver runs.
    let http_db = Database::new(None).await?;
    let base_db = Database::new(None).await?;
    let listener = sandbox::common::bind_local(0).await?;
    let addr = listener.local_addr()?;
    // Nothing listens on the discard port: no partner is called in this scenario.
    let config = world::config(
        ("http://127.0.0.1:9", "http://127.0.0.1:9"),
        &tenants,
        addr,
        &http_db.url,
        &ServiceOptions {
            poll_interval_secs: 60,
            concurrency: 32,
            reconcile_after_secs: 3600,
            http_only: true,
        },
    )?;
    let master = config.service.master_keys()?;
    let http_store = Store::connect(&http_db.url)
        .await
        .context("opening the store")?;
    let base_store = Store::connect(&base_db.url)
        .await
        .context("opening the store")?;
    let http_keys = Keyring::new(master.clone(), http_store.clone());
    let base_keys = Keyring::new(master, base_store.clone());

    // The searches, identical in both stores.
    let mut searches = Vec::with_capacity(search_count);
    for i in 0..search_count / 2 {
        let tenant = TenantKey::new(tenants[i % TENANTS].key.clone());
        let check_id = CheckId::random();
        let secret = hex::encode(rand::random::<[u8; 32]>());
        let pair: Vec<NewSearch> = ["EMPLOYMENT", "EDUCATION"]
            .iter()
            .map(|ty| NewSearch {
                id: SearchId::random(),
                search_type: theary::wire::SearchType::parse(ty),
            })
            .collect();
        for (store, keys) in [(&http_store, &http_keys), (&base_store, &base_keys)] {
            let sealed = keys
                .seal(Place::webhook_secret(&tenant, &check_id), secret.as_bytes())
                .await?;
            let order = keys.seal(Place::order(&tenant, &check_id), b"{}").await?;
            store
                .record_claimed(
                    &NewCheck {
                        id: &check_id,
                        tenant: &tenant,
                        pageup_id: &PageUpCheckId::new(format!("{}", 500_000 + i)),
                        webhook_secret: &sealed,
                        searches: &pair,
                        plan: Plan::Order { order_json: &order },
                    },
                    now_ms(),
                )
                .await?;
        }
        for (s, ty) in pair.iter().zip(["EMPLOYMENT", "EDUCATION"]) {
            searches.push(Search {
                tenant: tenant.clone(),
                check_id: check_id.clone(),
                id: s.id.clone(),
                search_type: ty,
                theary_id: ThearySearchId::new(&uuid::Uuid::new_v4().to_string()),
                secret: secret.clone(),
            });
        }
    }
    // The events, signed, in delivery order: round by round over every search.
    let mut flood = Vec::with_capacity(total);
    for round in 0..EVENTS_PER_SEARCH {
        for (i, s) in searches.iter().enumerate() {
            let base = json!({
                "searchType": s.search_type, "searchId": s.theary_id,
                "externalSearchId": s.id, "verificationId": format!("ver_{i}"),
            });
            let (event_type, data) = if round + 1 < EVENTS_PER_SEARCH {
                let mut d = base;
                d["notificationType"] = json!("OUTBOUND_ATTEMPT");
                d["outboundAttempt"] = json!({ "channel": "EMAIL", "attemptNumber": round + 1, "contactName": "HR Department" });
                ("verification.notification", d)
            } else {
                let mut d = base;
                d["channel"] = json!("VOICE");
                d["status"] = json!("Completed");
                d["verificationResult"] = json!({
                    "id": format!("ver_{i}"), "outcome": "VERIFIED", "discrepancy": false,
                    "comments": "Verified by phone with HR."
                });
                ("verification.completed", d)
            };
            let body = serde_json::to_vec(&json!({
                "event": event_type, "occurredAt": "2026-11-23T10:00:00.000Z", "data": data
            }))?;
            let signature = theary::signature::sign(s.secret.as_bytes(), &body);
            flood.push(Event {
                tenant: s.tenant.clone(),
                search: i,
                id: uuid::Uuid::new_v4().to_string(),
                event_type,
                body,
                signature,
            });
        }
    }

    // Baseline: the rows the receiver would write, sealed beforehand, inserted straight.
    let mut rows = Vec::with_capacity(total);
    for e in &flood {
        let s = &searches[e.search];
        let text = std::str::from_utf8(&e.body)?;
        let parsed = theary::signature::VerifiedBody::unsigned(&e.body).parse()?;
        let mut update = events::update_for_event(&parsed.event, text);
        if let Some(u) = update.as_mut() {
            if let Some(result) = u.result_json.take() {
                let place = Place::search_result(&s.tenant, &s.id);
                u.result_json = Some(base_keys.seal(place, result.as_bytes()).await?);
            }
        }
        let body = base_keys
            .seal(Place::event_body(&s.tenant, &e.id), text.as_bytes())
            .await?;
        rows.push((e.search, e.id.clone(), e.event_type, body, update));
    }
    let started = Instant::now();
    let inserted: Vec<anyhow::Result<bool>> = futures::stream::iter(rows.iter())
        .map(
            |(search, id, event_type, body, update): &(
                usize,
                String,
                &str,
                String,
                Option<SearchUpdate>,
            )| {
                let s = &searches[*search];
                let store = base_store.clone();
                async move {
                    let now = now_ms();
                    let record = EventRecord {
                        event_id: id,
                        tenant: &s.tenant,
                        search_id: &s.id,
                        check_id: &s.check_id,
                        event_type,
                        body,
                        theary_search_id: Some(&s.theary_id),
                        body_digest: None,
                    };
                    Ok(store
                        .record_event(&record, update.as_ref(), now, now + 3_600_000)
                        .await?)
                }
            },
        )
        .buffer_unordered(CONNECTIONS)
        .collect()
        .await;
    let baseline_secs = started.elapsed().as_secs_f64();
    let baseline_new = inserted
        .into_iter()
        .collect::<anyhow::Result<Vec<bool>>>()?
        .into_iter()
        .filter(|n| *n)
        .count();
    anyhow::ensure!(
        baseline_new == total,
        "baseline stored {baseline_new} of {total}"
    );

    // The flood over HTTP.
    let running =
        checkbridge::service::start_on(&config, http_store.clone(), Some(listener)).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()?;
    let started = Instant::now();
    let answers: Vec<(u16, f64)> = futures::stream::iter(flood.iter())
        .map(|e| {
            let client = client.clone();
            let s = &searches[e.search];
            async move {
                let sent = Instant::now();
                let r = client
                    .post(format!("http://{addr}/webhooks/theary/{}", e.tenant))
                    .header("content-type", "application/json")
                    .header("X-Event-Id", &e.id)
                    .header("X-Event-Type", e.event_type)
                    .header("X-External-Search-Id", s.id.as_str())
                    .header(theary::signature::HEADER, &e.signature)
                    .body(e.body.clone())
                    .send()
                    .await;
                let status = match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let _ = r.bytes().await;
                        status
                    }
                    Err(_) => 0,
                };
                (status, sent.elapsed().as_secs_f64())
            }
        })
        .buffer_unordered(CONNECTIONS)
        .collect()
        .await;
    let http_secs = started.elapsed().as_secs_f64();
    running.stop().await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let stored = http_store.count_webhook_events().await?;
    anyhow::ensure!(
        ok == total && stored as usize == total,
        "{ok} of {total} events answered 200, {stored} stored"
    );
    let mut waits: Vec<f64> = answers.iter().map(|(_, w)| *w * 1000.0).collect();
    waits.sort_by(f64::total_cmp);

    let http_rate = total as f64 / http_secs;
    let base_rate = total as f64 / baseline_secs;
    report.figures.push(Figure::judged(
        "events verified and committed",
        http_rate,
        "events/s",
        None,
        false,
        Goal::AtLeast { min: 5_000.0 },
    ));
    report.figures.push(Figure::judged(
        "over HTTP against straight inserts",
        http_rate,
        "events/s",
        Some((base_rate, "straight inserts, same rows")),
        false,
        Goal::RatioAtLeast { min: 0.5 },
    ));
    report.figures.push(Figure::info(
        "delivery latency p50",
        percentile(&waits, 50.0),
        "ms",
    ));
    report.figures.push(Figure::info(
        "delivery latency p99",
        percentile(&waits, 99.0),
        "ms",
    ));
    report.notes.push(format!(
        "{ok} of {total} answered 200 and {stored} rows committed; baseline {:.1} s, HTTP {:.1} s",
        baseline_secs, http_secs
    ));
    Ok(())
}
