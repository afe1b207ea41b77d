//! Master-key rotation with the service running: the data keys are re-wrapped under the new
//! master key while checks keep flowing, and a service started with only the new key reads
//! everything the old one sealed.

use std::time::Duration;

use checkbridge::crypto::{Key, Keyring, MasterKeys, Place};
use checkbridge::domain::ids::TenantKey;
use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};
use secrecy::ExposeSecret as _;

async fn all_completed(app: &TestApp, ids: &[String]) {
    let lab = &app.lab;
    app.wait_for(Duration::from_secs(30), "checks to complete", || async {
        ids.iter()
            .all(|id| {
                lab.pageup_check("acme", id)
                    .is_some_and(|v| v.status == "completed")
            })
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_key_rotates_under_a_running_service() {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let old = app.lab.master_key.expose_secret().to_owned();
    let mut ids: Vec<String> = (0..2)
        .map(|i| app.seed("acme", Scenario::Clean, i))
        .collect();
    let mut config = app.config();
    app.start().await;
    let store = app.store.clone();
    all_completed(&app, &ids).await;
    let acme = TenantKey::from("acme");
    let check = store
        .check_id_for(&acme, &ids[0].as_str().into())
        .await
        .unwrap()
        .unwrap();
    let search = store.searches_of(&"acme".into(), &check).await.unwrap()[0]
        .id
        .clone();
    let sealed = store
        .webhook_target(&acme, search.as_str())
        .await
        .unwrap()
        .unwrap()
        .secret;

    // Rotate while it runs (as `checkbridge keys rotate` does, with the new key first).
    let new = format!("new:{}", Key::random().to_base64().as_str());
    let rotating = Keyring::new(
        MasterKeys::parse(&format!("{new},{old}")).unwrap(),
        store.clone(),
    );
    assert_eq!(rotating.rewrap_all().await.unwrap(), 1, "acme's data key");
    ids.extend((2..4).map(|i| app.seed("acme", Scenario::Clean, i)));
    all_completed(&app, &ids).await;
    // PageUp may show `completed` a moment before its answer is recorded: the service
    // settles what it owes before it stops.
    app.settled().await;
    app.stop_service().await;

    // The old key is gone from the configuration: everything still opens.
    config.service.master_key = Some(new.clone().into());
    app.start_with(&config).await;
    let place = Place::webhook_secret(&acme, &check);
    assert!(app.engine().keyring().open(place, &sealed).await.is_ok());
    ids.push(app.seed("acme", Scenario::Clean, 4));
    all_completed(&app, &ids).await;
    assert_eq!(app.lab.theary.state.order_count("acme"), ids.len());
    app.settled().await;
    app.stop_service().await;
    // And a keyring with only the old key can no longer open anything.
    let stale = Keyring::new(MasterKeys::parse(&old).unwrap(), store.clone());
    assert!(stale.open(place, &sealed).await.is_err());
    app.finish().await;
}
