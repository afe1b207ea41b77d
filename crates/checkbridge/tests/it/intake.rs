//! A tenant's intake mapping in the running service: an invitation the program cannot map
//! (it loops, or outputs a number for a name) fails that one check, PageUp is told why, the
//! error log names the tenant, the mapping and the place, and the rest of the page goes on.

use std::path::Path;

use checkbridge::domain::ids::TenantKey;
use checkbridge::intake::{IntakeSection, PROFILES};
use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invitation_the_mapping_cannot_read_fails_alone_and_is_logged() {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let good = app.seed("acme", Scenario::Clean, 0);
    let looping = app.seed("acme", Scenario::Clean, 1);
    let mistyped = app.seed("acme", Scenario::Clean, 2);
    let assumed = PROFILES
        .iter()
        .find(|(name, _)| *name == "assumed")
        .map(|(_, code)| *code)
        .unwrap();
    // The assumed profile, except for two checks picked by id.
    let program = format!(
        "if (.id | tostring) == \"{looping}\" then (def f: f; f)\n\
         elif (.id | tostring) == \"{mistyped}\" then {{id: .id, candidate: {{firstName: 5}}}}\n\
         else ({assumed}) end"
    );
    let mut config = app.config();
    let acme = config.tenants.get_mut("acme").unwrap();
    acme.mapping = IntakeSection {
        program: Some(program),
        ..IntakeSection::default()
    }
    .compile(Path::new("."))
    .unwrap();
    app.start_with(&config).await;

    let view = app.final_view("acme", &good).await;
    assert_eq!(view.status, "completed", "{:?}", view.document);
    for id in [&looping, &mistyped] {
        let view = app.final_view("acme", id).await;
        assert_eq!(view.status, "failed", "{id}: {:?}", view.document);
        let reason = view.document["reasonForFail"].as_str().unwrap();
        assert!(reason.contains("intake mapping failed"), "{reason}");
    }
    let errors = app.store.errors(&TenantKey::from("acme"), 0).await.unwrap();
    let mapped: Vec<&str> = errors
        .iter()
        .filter(|e| e.operation == "intake.map")
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(mapped.len(), 2, "{mapped:?}");
    assert!(
        mapped.iter().any(|m| m.starts_with(&format!(
            "tenant acme: inline program could not map PageUp check {looping}: the program was stopped: "
        ))),
        "{mapped:?}"
    );
    assert!(
        mapped.contains(&format!(
            "tenant acme: inline program could not map PageUp check {mistyped}: the output does not fit the canonical invitation at /candidate/firstName: a number is not allowed here"
        ).as_str()),
        "{mapped:?}"
    );
    app.finish().await;
}
