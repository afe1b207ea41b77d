//! A database outage in the middle of a run: on PostgreSQL a proxy between the service and
//! the server is cut (every connection reset, new ones refused: what a restart or a failover
//! looks like from the service) and restored; on SQLite another process holds the write
//! lock for longer than the busy timeout. Afterwards every tenant is polled again within two
//! poll intervals, all owed work finishes, nothing is lost or ordered twice, `/readyz`
//! said so while it lasted, and the outage was announced and recorded as a health issue.

use std::collections::BTreeMap;
use std::time::Duration;

use checkbridge::domain::ids::TenantKey;
use checkbridge_lab::testing::{alert_receiver, Alerts, SqliteLocker, TcpProxy, TestApp, TestDb};
use checkbridge_lab::{orderly, LabOptions, Scenario};
use secrecy::SecretString;

const TENANTS: usize = 5;
const POLL_SECS: u64 = 5;

fn options() -> LabOptions {
    LabOptions {
        tenants: (0..TENANTS)
            .map(|i| (format!("t{i}"), format!("Tenant {i}")))
            .collect(),
        poll_interval_secs: POLL_SECS,
        ..LabOptions::default()
    }
}

/// What the outage cost: per tenant, the wait from the database's return to its next GET,
/// and the longest stretch without a GET over the whole run (sandbox milliseconds).
#[derive(Debug)]
struct Figures {
    back_to_poll_ms: BTreeMap<String, u64>,
    longest_gap_ms: BTreeMap<String, u64>,
}

fn figures(app: &TestApp, restored_at: u64, until: u64) -> Figures {
    let mut back_to_poll_ms = BTreeMap::new();
    let mut longest_gap_ms = BTreeMap::new();
    for t in &app.lab.tenants {
        let gets: Vec<u64> = app
            .lab
            .pageup
            .state
            .journal()
            .matching("GET", &format!("/v3/{}/", t.pageup_id))
            .iter()
            .map(|e| e.at_ms)
            .collect();
        let first_after = gets.iter().find(|at| **at >= restored_at).copied();
        back_to_poll_ms.insert(
            t.key.clone(),
            first_after.map_or(u64::MAX, |at| at - restored_at),
        );
        let mut gap = 0;
        for w in gets.windows(2) {
            gap = gap.max(w[1] - w[0]);
        }
        if let Some(last) = gets.last() {
            gap = gap.max(until.saturating_sub(*last));
        }
        longest_gap_ms.insert(t.key.clone(), gap);
    }
    Figures {
        back_to_poll_ms,
        longest_gap_ms,
    }
}

async fn readyz(base: &str) -> u16 {
    reqwest::get(format!("{base}/readyz"))
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Seeds `per` clean checks in every tenant; returns (tenant, PageUp id).
fn seed(app: &TestApp, from: usize, per: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in 0..TENANTS {
        for i in from..from + per {
            let key = format!("t{t}");
            let id = app.seed(&key, Scenario::Clean, t * 100 + i);
            out.push((key, id));
        }
    }
    out
}

/// Runs a check-flow with an outage in the middle; `outage` starts it and returns once the
/// service has felt it, `end` ends it.
async fn through_an_outage<S, E>(app: TestApp, alerts: Alerts, outage: S, end: E)
where
    S: std::future::Future<Output = ()>,
    E: std::future::Future<Output = ()>,
{
    let base = app.base_url();
    let mut seeded = seed(&app, 0, 2);
    for (t, id) in &seeded {
        app.final_view(t, id).await;
    }
    // Checks in flight when the database goes away: pending, being claimed, ordered.
    seeded.extend(seed(&app, 2, 2));
    outage.await;
    app.wait_for(
        Duration::from_secs(60),
        "the outage to be announced on the alert webhook",
        || async {
            alerts
                .all()
                .iter()
                .any(|a| {
                    a["event"] == "issue.opened" && a["issue"]["kind"] == "database_unreachable"
                })
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        readyz(&base).await,
        503,
        "not ready while the database is away"
    );
    let restored_at = app.lab.pageup.state.journal().now_ms();
    end.await;
    seeded.extend(seed(&app, 4, 1));
    for (t, id) in &seeded {
        let v = app.final_view(t, id).await;
        assert_eq!(v.status, "completed", "{t}/{id}: {:?}", v.document);
        let statuses: Vec<&str> = v.history.iter().map(|h| h.to.as_str()).collect();
        assert!(orderly(&statuses), "{t}/{id}: {statuses:?}");
    }
    app.wait_for(
        Duration::from_secs(2 * POLL_SECS + 10),
        "every tenant polled again after the outage",
        || async {
            let now = app.lab.pageup.state.journal().now_ms();
            figures(&app, restored_at, now)
                .back_to_poll_ms
                .values()
                .all(|ms| *ms != u64::MAX)
                .then_some(())
        },
    )
    .await;
    let f = figures(&app, restored_at, app.lab.pageup.state.journal().now_ms());
    eprintln!(
        "database outage ({}): from the database's return to the last tenant's next poll {} ms; longest gap any tenant went unpolled {} ms; per tenant {f:?}",
        app.db().url.split(':').next().unwrap_or(""),
        f.back_to_poll_ms.values().max().copied().unwrap_or(0),
        f.longest_gap_ms.values().max().copied().unwrap_or(0),
    );
    let last_back = f.back_to_poll_ms.values().max().copied().unwrap_or(0);
    assert!(
        last_back <= 2 * POLL_SECS * 1000,
        "every tenant polled within two intervals of the database returning: {f:?}"
    );
    assert_eq!(readyz(&base).await, 200);
    for t in 0..TENANTS {
        assert_eq!(
            app.lab.theary.state.order_count(&format!("t{t}")),
            5,
            "one order per check, none twice"
        );
    }
    // The outage was recorded once the database answered, opened and resolved.
    let recorded = app
        .wait_for(Duration::from_secs(30), "the outage recorded", || async {
            let issues = app.store.issues_of(&TenantKey::from("*"), 0).await.ok()?;
            issues
                .into_iter()
                .find(|i| i.kind == "database_unreachable" && i.resolved_at.is_some())
        })
        .await;
    assert!(recorded.opened_at < recorded.resolved_at.unwrap_or(0));
    app.wait_for(
        Duration::from_secs(30),
        "the resolution announced",
        || async {
            alerts
                .all()
                .iter()
                .any(|a| {
                    a["event"] == "issue.resolved" && a["issue"]["kind"] == "database_unreachable"
                })
                .then_some(())
        },
    )
    .await;
    let metrics = app.engine().metrics().render();
    assert!(
        metrics.contains("checkbridge_store_errors_total{loop="),
        "store errors are counted by loop"
    );
    app.finish().await;
}

async fn configured(app: &mut TestApp) -> Alerts {
    let (url, alerts) = alert_receiver().await;
    let mut config = app.config();
    config.service.lease_secs = 3;
    config.health.database_unreachable_secs = 1;
    config.health.evaluate_every_secs = 1;
    config.alerts.webhook_url = Some(SecretString::from(url));
    app.start_with(&config).await;
    alerts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgresql_restart_silences_no_tenant() {
    let Some(mut db) = TestDb::postgres().await else {
        assert!(
            std::env::var("CHECKBRIDGE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "PostgreSQL is required"
        );
        eprintln!(
            "CHECKBRIDGE_TEST_POSTGRES_URL is not set: the PostgreSQL outage test is skipped"
        );
        return;
    };
    let mut url = url::Url::parse(&db.url).unwrap();
    let target = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    );
    let target = tokio::net::lookup_host(target)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = TcpProxy::start(target).await.unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr().port())).unwrap();
    db.url = url.to_string();
    let mut app = TestApp::prepare(db, options()).await;
    let alerts = configured(&mut app).await;
    through_an_outage(app, alerts, async { proxy.cut() }, async {
        proxy.restore()
    })
    .await;
    assert!(
        proxy.refused() > 0,
        "the service tried while the database was away"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_locked_sqlite_database_silences_no_tenant() {
    let mut app = TestApp::prepare(TestDb::sqlite(), options()).await;
    let alerts = configured(&mut app).await;
    // Another connection takes the write lock and keeps it past the busy timeout (10 s),
    // so the service's writes fail with SQLITE_BUSY until it lets go.
    let locker = SqliteLocker::default();
    let url = app.db().url.clone();
    through_an_outage(app, alerts, locker.lock(url), locker.unlock()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_lease_is_given_back_at_once_after_its_poll_could_not_be_recorded() {
    let Some(mut db) = TestDb::postgres().await else {
        assert!(
            std::env::var("CHECKBRIDGE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "PostgreSQL is required"
        );
        return;
    };
    let mut url = url::Url::parse(&db.url).unwrap();
    let target = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    );
    let target = tokio::net::lookup_host(target)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = TcpProxy::start(target).await.unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr().port())).unwrap();
    db.url = url.to_string();
    let app = TestApp::prepare(db, LabOptions::default()).await;
    let engine = app.engine_only(&app.config()).await;
    let acme = TenantKey::from("acme");
    app.seed("acme", Scenario::Clean, 0);
    // PageUp answers slowly; the database goes away while the GET is in flight.
    app.lab
        .pageup
        .state
        .faults()
        .add(sandbox::common::FaultRule {
            method: Some("GET".into()),
            path_prefix: Some("/v3/".into()),
            count: Some(1),
            latency_ms: Some(1_500),
            ..sandbox::common::FaultRule::default()
        });
    let polling = tokio::spawn({
        let engine = engine.clone();
        let acme = acme.clone();
        async move { engine.poll_tenant(&acme).await }
    });
    // The token comes first; the slow GET follows it at once.
    app.wait_for(
        Duration::from_secs(10),
        "the GET to be in flight",
        || async {
            (!app
                .lab
                .pageup
                .state
                .journal()
                .matching("POST", "/connect/token")
                .is_empty())
            .then_some(())
        },
    )
    .await;
    proxy.cut();
    assert!(
        polling.await.unwrap().is_err(),
        "the poll's outcome could not be recorded"
    );
    let store = checkbridge::store::Store::connect(&app.db().url);
    proxy.restore();
    let store = store.await.unwrap();
    // The lease is still recorded as this replica's, and the tenant is not due...
    assert!(!store
        .due_tenants(checkbridge::time::now_ms(), 10)
        .await
        .unwrap()
        .contains(&acme));
    // ...until the keeper gives it back, at once.
    let report = engine.keeper_step().await.unwrap();
    assert_eq!(report.given_back, 1, "{report:?}");
    assert!(
        store
            .due_tenants(checkbridge::time::now_ms(), 10)
            .await
            .unwrap()
            .contains(&acme),
        "due again at once"
    );
    assert_eq!(engine.poll_tenant(&acme).await.unwrap().claimed, 1);
    app.finish_owing().await;
}
