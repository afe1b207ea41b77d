//! A signed release larger than the tenant's `release_upload_above_bytes` reaches Theary
//! through the release-form upload URL, and the order names the uploaded file; a smaller
//! one travels inline as before.

use checkbridge::config::ReleaseReference;
use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_signed_release_is_uploaded_and_the_order_names_the_file() {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let mut config = app.config();
    // The lab's releases are 26 bytes: acme uploads them (as the gs:// URI), globex too (as
    // an HTTPS URL), initech keeps the default threshold and sends them inline.
    let acme = config.tenants.get_mut("acme").unwrap();
    acme.theary.release_upload_above_bytes = 16;
    let globex = config.tenants.get_mut("globex").unwrap();
    globex.theary.release_upload_above_bytes = 0;
    globex.theary.release_upload_reference = ReleaseReference::Https;
    let ids: Vec<(&str, String)> = ["acme", "globex", "initech"]
        .into_iter()
        .map(|t| (t, app.seed(t, Scenario::Clean, 0)))
        .collect();
    app.start_with(&config).await;
    for (tenant, id) in &ids {
        let view = app.final_view(tenant, id).await;
        assert_eq!(view.status, "completed", "{tenant}: {}", view.document);
    }
    let theary = &app.lab.theary.state;
    let uploads = theary.release_forms();
    println!("uploaded release forms: {uploads:?}");
    assert_eq!(uploads.len(), 2, "{uploads:?}");
    assert!(uploads.iter().all(|(_, bytes)| *bytes == 26), "{uploads:?}");

    let acme_ref = theary.release_references("acme");
    assert_eq!(acme_ref.len(), 1);
    let acme_ref = acme_ref[0].clone().unwrap();
    assert!(
        acme_ref.starts_with("gs://verification-api-storage/tenants/acme/releaseForms/"),
        "{acme_ref}"
    );
    assert!(uploads.iter().any(|(uri, _)| *uri == acme_ref));

    let globex_ref = theary.release_references("globex")[0].clone().unwrap();
    let as_gs = globex_ref
        .strip_prefix("https://storage.googleapis.com/")
        .map(|p| format!("gs://{p}"))
        .unwrap_or_default();
    assert!(uploads.iter().any(|(uri, _)| *uri == as_gs), "{globex_ref}");

    assert_eq!(
        theary.release_references("initech"),
        [Some("inline:26".to_owned())]
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upload_is_retried_and_the_check_still_completes() {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let mut config = app.config();
    config
        .tenants
        .get_mut("acme")
        .unwrap()
        .theary
        .release_upload_above_bytes = 0;
    let id = app.seed("acme", Scenario::Clean, 0);
    // The first upload is refused (a 403 is not retried within the call): the orderer
    // tries again later with a new upload URL, and orders once.
    app.lab
        .theary
        .state
        .faults()
        .add(sandbox::common::FaultRule {
            method: Some("PUT".into()),
            path_prefix: Some("/__storage/".into()),
            status: Some(403),
            count: Some(1),
            ..Default::default()
        });
    app.start_with(&config).await;
    let view = app.final_view("acme", &id).await;
    assert_eq!(view.status, "completed", "{}", view.document);
    let theary = &app.lab.theary.state;
    assert_eq!(theary.release_forms().len(), 1);
    assert_eq!(theary.order_count("acme"), 1);
    let puts = theary
        .journal()
        .entries()
        .into_iter()
        .filter(|e| e.method == "PUT" && e.path.starts_with("/__storage/"))
        .map(|e| e.status)
        .collect::<Vec<_>>();
    println!("release-form PUTs: {puts:?}");
    assert_eq!(puts, [Some(403), Some(200)]);
    app.finish().await;
}
