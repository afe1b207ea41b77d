//! Criminal checks, as the Create Order document describes them: a package with CRIMINAL
//! reaches PageUp `completed` with a criminal result where Theary runs them (the sandbox in
//! `seed` rules, the tenant's account with `theary.criminal = true`), and fails with a reason
//! the recruiter can act on where it does not.

use checkbridge::admin::users::add_reader;
use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario, ThearyRules};

use crate::reports::Browser;

fn seed_rules() -> LabOptions {
    LabOptions {
        theary_rules: ThearyRules::Seed,
        ..LabOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_criminal_check_completes_with_its_result_in_pageup_and_the_report() {
    for db in TestDb::all().await {
        let mut app = TestApp::prepare(db, seed_rules()).await;
        let id = app.seed("acme", Scenario::Criminal, 0);
        app.start().await;
        let view = app.final_view("acme", &id).await;
        assert_eq!(view.status, "completed", "{}", view.document);
        let results = view.document["results"].as_array().unwrap();
        let kinds: Vec<(&str, &str)> = results
            .iter()
            .map(|r| {
                (
                    r["reportType"].as_str().unwrap(),
                    r["status"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("Criminal record check", "pass"),
                ("Education verification", "pass"),
                ("Employment verification", "pass"),
                ("Background check report", "pass"),
            ],
            "{}",
            view.document
        );
        // Theary got one order with three searches, the criminal one among them.
        assert_eq!(app.lab.theary.state.order_count("acme"), 1);

        // The criminal search's report shows what Theary found.
        let link = results[0]["reportLink"].as_str().unwrap();
        let base = app.base_url();
        let path = link.strip_prefix(&base).unwrap().to_owned();
        assert!(
            add_reader(&app.store, &"acme".into(), "rita", "a long enough password")
                .await
                .unwrap()
        );
        let mut b = Browser::new(&base);
        let (status, location, _) = b.sign_in(&path, "rita", "a long enough password").await;
        assert_eq!((status, location.as_str()), (303, path.as_str()));
        let (status, _, page) = b.get(&path).await;
        assert_eq!(status, 200);
        for text in [
            "Criminal record check",
            "Jurisdictions searched",
            "Records found",
            "CLEAR",
        ] {
            assert!(page.contains(text), "{text} is on the report page");
        }
        app.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_criminal_package_fails_clearly_where_theary_runs_none() {
    // The tenants' accounts run no criminal checks (the default): refused before ordering.
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let refused = app.seed("acme", Scenario::Criminal, 0);
    // An account wrongly marked as running them, against Theary's current rules: Theary's
    // own 400 reaches the recruiter in their words.
    let mut config = app.config();
    config.tenants.get_mut("globex").unwrap().theary.criminal = true;
    let rejected = app.seed("globex", Scenario::Criminal, 1);
    app.start_with(&config).await;

    let view = app.final_view("acme", &refused).await;
    assert_eq!(view.status, "failed");
    let reason = view.document["reasonForFail"].as_str().unwrap();
    assert!(
        reason.contains("criminal record check") && reason.contains("package without"),
        "{reason}"
    );
    assert_eq!(
        app.lab.theary.state.order_count("acme"),
        0,
        "nothing was ordered"
    );

    let view = app.final_view("globex", &rejected).await;
    assert_eq!(view.status, "failed");
    let reason = view.document["reasonForFail"].as_str().unwrap();
    assert!(
        reason.contains("could not accept") && reason.contains("CRIMINAL"),
        "{reason}"
    );
    app.finish().await;
}
