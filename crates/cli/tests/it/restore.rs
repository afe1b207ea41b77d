//! The restore drill: run, back up, keep running, stop, restore the older backup, recover,
//! run again. No check is ordered twice, every check the backup knew completes, and the
//! checks claimed after the backup are reported with the reference PageUp shows for them.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use checkbridge::store::{MigrationState, Store};
use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};

fn cli(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("CHECKBRIDGE_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn statuses_are(app: &TestApp, ids: &[String], status: &str) {
    let lab = &app.lab;
    app.wait_for(Duration::from_secs(60), status, || async {
        ids.iter()
            .all(|id| {
                lab.pageup_check("acme", id)
                    .is_some_and(|v| v.status == status)
            })
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_is_recovered_without_a_second_order() {
    let Some(db) = TestDb::postgres().await else {
        assert!(
            std::env::var("CHECKBRIDGE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "CHECKBRIDGE_REQUIRE_POSTGRES=1 but CHECKBRIDGE_TEST_POSTGRES_URL is not set"
        );
        eprintln!("CHECKBRIDGE_TEST_POSTGRES_URL is not set: restore drill skipped");
        return;
    };
    let mut app = TestApp::prepare(db, LabOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("checkbridge.toml");
    std::fs::write(&config_path, app.lab.config_toml(&app.db().url)).unwrap();
    let backup = dir.path().join("before.dump");

    // Claimed before the backup, ordered after it: the backup shows them owing an order.
    let before: Vec<String> = (0..3)
        .map(|i| app.seed("acme", Scenario::Clean, i))
        .collect();
    let mut claim_only = app.config();
    claim_only.service.roles.orderer = false;
    app.start_with(&claim_only).await;
    statuses_are(&app, &before, "queued").await;
    let (ok, out, err) = cli(&config_path, &["backup", "--out", backup.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    app.stop_service().await;

    // The service goes on: those are ordered, and more are claimed and ordered.
    app.start().await;
    statuses_are(&app, &before, "completed").await;
    let after: Vec<String> = (3..5)
        .map(|i| app.seed("acme", Scenario::Clean, i))
        .collect();
    statuses_are(&app, &after, "completed").await;
    app.stop_service().await;
    let orders_before_restore = app.lab.theary.state.order_count("acme");
    assert_eq!(orders_before_restore, 5);

    // The database is lost; the older backup comes back.
    let (ok, out, err) = cli(
        &config_path,
        &["restore", "--from", backup.to_str().unwrap()],
    );
    assert!(
        !ok && err.contains("--replace"),
        "a populated database is not overwritten: {out}{err}"
    );
    let (ok, out, err) = cli(
        &config_path,
        &["restore", "--from", backup.to_str().unwrap(), "--replace"],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("3 check(s) owing an order"), "{out}");
    let status = Store::migration_status(&app.db().url).await.unwrap();
    assert!(status.iter().all(|s| s.state == MigrationState::Applied));

    // Theary down: recover stops, says what it did, and changes nothing it cannot finish.
    app.lab
        .theary
        .state
        .faults()
        .add(sandbox::common::FaultRule {
            method: Some("GET".into()),
            path_prefix: Some("/background-check/v1/orders".into()),
            status: Some(503),
            ..sandbox::common::FaultRule::default()
        });
    let (ok, out, err) = cli(&config_path, &["recover", "--tenant", "acme"]);
    assert!(!ok, "{out}{err}");
    assert!(
        out.contains("0 order(s) read from Theary")
            && err.contains("stopped")
            && err.contains("running it again is safe"),
        "{out}{err}"
    );
    app.lab.theary.state.faults().clear();

    let (ok, out, err) = cli(&config_path, &["recover", "--all", "--json"]);
    assert!(ok, "{out}{err}");
    let reports: serde_json::Value = serde_json::from_str(&out).unwrap();
    let acme = reports
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tenant"] == "acme")
        .unwrap();
    assert_eq!(acme["orders_seen"], 5, "{acme}");
    assert_eq!(acme["attached"].as_array().unwrap().len(), 3, "{acme}");
    assert_eq!(acme["duplicates"].as_array().unwrap().len(), 0, "{acme}");
    let lost = acme["unrecoverable"].as_array().unwrap();
    assert_eq!(lost.len(), 2, "{acme}");
    // What PageUp shows as each lost check's reference is the order id reported.
    for id in &after {
        let reference =
            app.lab.pageup_check("acme", id).unwrap().document["referenceNumber"].clone();
        let reference = reference.as_str().unwrap();
        assert!(
            lost.iter()
                .any(|u| theary::wire::same_id(u["order_id"].as_str().unwrap(), reference)),
            "{reference} in {acme}"
        );
    }
    let (ok, text, _) = cli(&config_path, &["recover", "--tenant", "acme"]);
    assert!(
        ok && text.contains("0 attached") && text.contains("2 unrecoverable"),
        "{text}"
    );

    // The service runs on the restored database: nothing is ordered again, and the checks
    // the backup knew stay completed in PageUp.
    app.start().await;
    statuses_are(&app, &before, "completed").await;
    // Recover read the attached checks' searches back, so PageUp is offered `completed`,
    // never `new` again: every update it gets is accepted.
    app.settled().await;
    let refused: Vec<_> = app
        .store
        .errors(&"acme".into(), 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.operation == "pageup.update")
        .map(|e| e.message)
        .collect();
    assert!(refused.is_empty(), "PageUp refused updates: {refused:?}");
    assert_eq!(
        app.lab.theary.state.order_count("acme"),
        orders_before_restore,
        "no second order"
    );
    println!(
        "restore drill: 3 checks in the backup (claimed, unordered), 2 claimed after it; \
         after restore + recover: 3 orders attached, 2 reported unrecoverable, 0 ordered twice"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_sqlite_backup_taken_while_open_restores_and_refuses_what_it_must() {
    let dir = tempfile::tempdir().unwrap();
    let live = format!("sqlite://{}/live.db", dir.path().display());
    let store = Store::connect(&live).await.unwrap();
    let config = dir.path().join("none.toml");
    std::fs::write(&config, "").unwrap();
    let copy = dir.path().join("copy.db");
    let copy_s = copy.to_str().unwrap();
    // Taken while the store is open (it keeps its connections throughout).
    let (ok, out, err) = cli(
        &config,
        &["backup", "--database-url", &live, "--out", copy_s],
    );
    assert!(ok, "{out}{err}");
    let (ok, _, err) = cli(
        &config,
        &["backup", "--database-url", &live, "--out", copy_s],
    );
    assert!(!ok && err.contains("exists"), "{err}");
    store.ping().await.unwrap();

    let restored = format!("sqlite://{}/restored.db", dir.path().display());
    let (ok, out, err) = cli(
        &config,
        &["restore", "--database-url", &restored, "--from", copy_s],
    );
    assert!(ok, "{out}{err}");
    let status = Store::migration_status(&restored).await.unwrap();
    assert!(status.iter().all(|s| s.state == MigrationState::Applied));
    let (ok, _, err) = cli(
        &config,
        &["restore", "--database-url", &restored, "--from", copy_s],
    );
    assert!(!ok && err.contains("--replace"), "{err}");

    // A backup made by a newer binary is not restored by this one.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{copy_s}"))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO schema_migrations (version, applied_at, checksum) VALUES (9999, 0, 'x')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let (ok, _, err) = cli(
        &config,
        &[
            "restore",
            "--database-url",
            &restored,
            "--from",
            copy_s,
            "--replace",
        ],
    );
    assert!(!ok && err.contains("migration 9999"), "{err}");
    let (ok, _, err) = cli(
        &config,
        &["restore", "--database-url", &restored, "--from", "/no/such"],
    );
    assert!(!ok && err.contains("no such backup"), "{err}");
}
