//! Theary refusing an order (a 400) puts the check in PageUp `failed` with Theary's
//! messages translated for the recruiter, and nothing is ordered twice.

use std::time::Duration;

use checkbridge::store::Store;
use checkbridge_lab::{Lab, LabOptions, Scenario};
use sandbox::common::FaultRule;
use serde_json::json;

use checkbridge_lab::testing::{eventually, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_theary_refusal_reaches_the_recruiter_in_their_words() {
    let db = TestDb::sqlite();
    let mut lab = Lab::start(LabOptions::default()).await.unwrap();
    lab.theary.state.faults().add(FaultRule {
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
    let id = lab.seed("acme", Scenario::Clean, 0).unwrap();
    let config = lab.config(&db.url).unwrap();
    let store = Store::connect(&db.url).await.unwrap();
    let running = checkbridge::service::start_on(&config, store.clone(), lab.take_listener())
        .await
        .unwrap();
    let view = eventually(Duration::from_secs(30), "the check to fail", || async {
        let v = lab.pageup_check("acme", &id)?;
        (v.status == "failed").then_some(v)
    })
    .await;
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
    let errors = store.errors("acme", 0).await.unwrap();
    let e = errors
        .iter()
        .find(|e| e.operation == "theary.order")
        .unwrap();
    assert_eq!(e.http_status, Some(400));
    assert!(e.message.contains("applicant.ssn"), "{e:?}");
    assert!(e.check_id.is_some() && e.correlation == *e.check_id.as_ref().unwrap());
    let csv =
        checkbridge::admin::errorlog::render(&errors, checkbridge::admin::errorlog::Format::Csv)
            .unwrap();
    assert!(csv.starts_with("time,tenant,operation,http_status,message,correlation_id,check_id\n"));
    assert!(csv.contains(",acme,theary.order,400,"), "{csv}");
    running.stop().await;
}
