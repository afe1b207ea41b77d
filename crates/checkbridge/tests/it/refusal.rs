//! Theary refusing an order (a 400) puts the check in PageUp `failed` with Theary's
//! messages translated for the recruiter, and nothing is ordered twice.

use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};
use sandbox::common::FaultRule;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_theary_refusal_reaches_the_recruiter_in_their_words() {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    app.lab.theary.state.faults().add(FaultRule {
        name: Some("refuse one order".into()),
        method: Some("POST".into()),
        path_prefix: Some("/background-check/v1/orders".into()),
        count: Some(1),
        status: Some(400),
        body: Some(json!({
            "statusCode": 400,
            "message": ["applicant.ssn must match /^\\d{3}-?\\d{2}-?\\d{4}$/ regular expression"],
            "error": "Bad Request"
        })),
        ..FaultRule::default()
    });
    let id = app.seed("acme", Scenario::Clean, 0);
    app.start().await;
    let (lab, store) = (&app.lab, &app.store);
    let view = app.view_in("acme", &id, "failed").await;
    let reason = view.document["reasonForFail"].as_str().unwrap();
    assert!(
        reason.contains("national id"),
        "translated, not dropped: {reason}"
    );
    assert!(
        !reason.contains("applicant.ssn"),
        "in the recruiter's words: {reason}"
    );
    assert_eq!(lab.theary.state.order_count("acme"), 0);
    let statuses: Vec<&str> = view.history.iter().map(|h| h.to.as_str()).collect();
    assert_eq!(statuses, ["queued", "failed"]);
    // The refusal is in the tenant's error log, as PageUp support would receive it.
    let errors = store.errors(&"acme".into(), 0).await.unwrap();
    let e = errors
        .iter()
        .find(|e| e.operation == "theary.order")
        .unwrap();
    assert_eq!(e.http_status, Some(400));
    assert!(e.message.contains("applicant.ssn"), "{e:?}");
    assert!(e.check_id.is_some() && e.correlation == e.check_id.as_ref().unwrap().as_str());
    let csv =
        checkbridge::admin::errorlog::render(&errors, checkbridge::admin::errorlog::Format::Csv)
            .unwrap();
    assert!(csv.starts_with("time,tenant,operation,http_status,message,correlation_id,check_id\n"));
    assert!(csv.contains(",acme,theary.order,400,"), "{csv}");
    app.finish().await;
}
