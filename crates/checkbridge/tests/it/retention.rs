//! Retention end to end: finished checks' candidate data is purged after its period and the
//! purge is recorded; access records expire after theirs; a tenant that leaves is shredded
//! (its keys destroyed, so even a copy of its old ciphertext never opens again).

use std::time::Duration;

use checkbridge::crypto::{CryptoError, Place};
use checkbridge::domain::ids::TenantKey;
use checkbridge::time::now_ms;
use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};

const DAY: i64 = 86_400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_is_purged_records_expire_and_a_leaving_tenant_is_shredded() {
    for db in TestDb::all().await {
        let mut app = TestApp::prepare(db, LabOptions::default()).await;
        let mut seeded = Vec::new();
        for t in ["acme", "globex"] {
            for i in 0..3 {
                seeded.push((t, app.seed(t, Scenario::Clean, i)));
            }
        }
        app.start().await;
        let (lab, store, running) = (&app.lab, &app.store, app.running());
        app.wait_for(
            Duration::from_secs(30),
            "all checks completed and acknowledged",
            || async {
                let done = seeded.iter().all(|(t, id)| {
                    lab.pageup_check(t, id)
                        .is_some_and(|v| v.status == "completed")
                });
                let owed = store.owed(None).await.unwrap();
                (done && owed.pushes == 0 && owed.open_searches == 0).then_some(())
            },
        )
        .await;
        let engine = running.engine.clone();
        let (t0, first) = (&TenantKey::from(seeded[0].0), &seeded[0].1);
        let check = store
            .check_id_for(t0, &first.as_str().into())
            .await
            .unwrap()
            .unwrap();
        let search = store.searches_of(t0, &check).await.unwrap()[0].id.clone();
        let sealed_secret = store
            .webhook_target(t0, search.as_str())
            .await
            .unwrap()
            .unwrap()
            .secret;

        // Not yet due: nothing happens.
        let r = engine.purge_step(now_ms() + 700 * DAY).await.unwrap();
        assert_eq!(r.checks, 0);
        // Past two years: every finished check's candidate data goes, and it is recorded.
        let r = engine.purge_step(now_ms() + 731 * DAY).await.unwrap();
        assert_eq!(r.checks, seeded.len());
        assert!(
            store
                .webhook_target(t0, search.as_str())
                .await
                .unwrap()
                .is_none(),
            "a purged check takes no more events"
        );
        let records = store.access_records(t0).await.unwrap();
        for action in ["procured", "ordered", "purged"] {
            assert_eq!(
                records
                    .iter()
                    .filter(|r| r.action.as_str() == action)
                    .count(),
                3,
                "{action}: {records:?}"
            );
        }
        assert_eq!(
            lab.pageup_check(t0.as_str(), first).unwrap().status,
            "completed",
            "PageUp keeps its result"
        );
        // A request about no one tenant (an every-tenant token's GET /tenants) is recorded
        // under `*`, and expires with the longest retention any tenant has.
        let token = checkbridge::admin::tokens::create(
            store,
            checkbridge::domain::check::ApiScope::Read,
            None,
            "retention",
            "cli:test",
        )
        .await
        .unwrap();
        let all = TenantKey::from(checkbridge::admin::tokens::ALL_TENANTS);
        store
            .record_api_use(
                &token.token.id,
                &all,
                "*",
                "GET /api/v1/tenants 200",
                now_ms(),
            )
            .await
            .unwrap();
        assert_eq!(store.access_records(&all).await.unwrap().len(), 1);
        // Access records outlive the data, then go too.
        let r = engine.purge_step(now_ms() + 2_191 * DAY).await.unwrap();
        assert!(r.records >= 6, "{r:?}");
        let left = store.access_records(t0).await.unwrap();
        assert!(
            left.iter().all(|r| r.action.as_str() == "purged"),
            "the purge records are younger: {left:?}"
        );
        engine
            .purge_step(now_ms() + (731 + 2_191) * DAY)
            .await
            .unwrap();
        assert!(store.access_records(t0).await.unwrap().is_empty());
        assert!(
            store.access_records(&all).await.unwrap().is_empty(),
            "the `*` records expire too"
        );

        // Globex leaves: its keys are destroyed, its rows deleted, and old ciphertext is dead.
        let globex = TenantKey::from("globex");
        let g = store
            .check_id_for(&"globex".into(), &seeded[3].1.as_str().into())
            .await
            .unwrap()
            .unwrap();
        let g_search = store.searches_of(&"globex".into(), &g).await.unwrap()[0]
            .id
            .clone();
        let g_sealed = engine
            .keyring()
            .seal(Place::order(&globex, &g), b"copy kept in a backup")
            .await
            .unwrap();
        assert_eq!(store.shred_tenant(&globex, now_ms()).await.unwrap(), 3);
        let opened = engine
            .keyring()
            .open(Place::order(&globex, &g), &g_sealed)
            .await;
        assert!(
            matches!(opened, Err(CryptoError::NoDataKey(_))),
            "{opened:?}"
        );
        assert!(store
            .webhook_target(&globex, g_search.as_str())
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            store
                .access_records(&globex)
                .await
                .unwrap()
                .last()
                .unwrap()
                .action
                .as_str(),
            "tenant_shredded"
        );
        // The other tenant is untouched by the shredding.
        let still = engine
            .keyring()
            .open(Place::webhook_secret(t0, &check), &sealed_secret)
            .await;
        assert!(still.is_ok());
        app.finish().await;
    }
}

/// A shred run by another process (as `checkbridge retention shred` is) while two replicas
/// run with the tenant's key in their caches: from the commit on, neither replica opens or
/// seals anything of that tenant, and both go on serving the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shred_reaches_every_running_replica_at_once() {
    for db in TestDb::all().await {
        let mut app = TestApp::prepare(db, LabOptions::default()).await;
        let first = [
            app.seed("acme", Scenario::Clean, 0),
            app.seed("globex", Scenario::Clean, 0),
        ];
        app.start().await;
        let second = app.engine_only(&app.config()).await;
        let replicas = [app.engine().clone(), second];
        app.final_view("acme", &first[0]).await;
        app.final_view("globex", &first[1]).await;

        // Both replicas hold globex's key: each has sealed and opened with it.
        let (globex, acme) = (TenantKey::from("globex"), TenantKey::from("acme"));
        let g = app
            .store
            .check_id_for(&globex, &first[1].as_str().into())
            .await
            .unwrap()
            .unwrap();
        let mut copies = Vec::new();
        for r in &replicas {
            let sealed = r
                .keyring()
                .seal(Place::order(&globex, &g), b"a copy kept in a backup")
                .await
                .unwrap();
            assert!(r
                .keyring()
                .open(Place::order(&globex, &g), &sealed)
                .await
                .is_ok());
            copies.push(sealed);
        }

        // Another process shreds globex (a store of its own, as the CLI opens one).
        let cli = checkbridge::store::Store::connect(&app.db().url)
            .await
            .unwrap();
        assert_eq!(cli.shred_tenant(&globex, now_ms()).await.unwrap(), 1);

        for (n, r) in replicas.iter().enumerate() {
            for sealed in &copies {
                let opened = r.keyring().open(Place::order(&globex, &g), sealed).await;
                assert!(
                    matches!(opened, Err(CryptoError::NoDataKey(_))),
                    "replica {n} still opens globex's data: {opened:?}"
                );
            }
            let sealed = r
                .keyring()
                .seal(Place::order(&globex, &g), b"new data after the shred")
                .await;
            assert!(
                matches!(sealed, Err(CryptoError::NoDataKey(_))),
                "replica {n} still seals for globex: {sealed:?}"
            );
            let a = app
                .store
                .check_id_for(&acme, &first[0].as_str().into())
                .await
                .unwrap()
                .unwrap();
            let s = r
                .keyring()
                .seal(Place::order(&acme, &a), b"acme is unaffected")
                .await
                .unwrap();
            assert!(r.keyring().open(Place::order(&acme, &a), &s).await.is_ok());
        }
        // The running service keeps serving acme end to end.
        let next = app.seed("acme", Scenario::Clean, 1);
        assert_eq!(app.final_view("acme", &next).await.status, "completed");
        app.finish().await;
    }
}
