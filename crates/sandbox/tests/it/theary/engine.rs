//! The engine: outcomes chosen by keyword and by rule, and the change signal its moves send.

use std::time::Duration;

use sandbox::theary::{Outcome, ScenarioRule};
use serde_json::json;

use super::{all_events, create, order, setup, Receiver};

#[tokio::test]
async fn engine_scenarios_by_keyword() {
    let (sb, http, token) = setup().await;
    let (server, rx) = Receiver::spawn().await;
    let hook = json!({ "secret": "k", "fallbackEndpoint": {
        "url": format!("{}/hook", server.base_url()),
        "events": ["verification.completed", "verification.action_required"] } });
    let cases = [
        (
            "Tech Corp",
            "verification.completed",
            json!("VERIFIED"),
            Some(false),
        ),
        (
            "Discrepancy Inc",
            "verification.completed",
            json!("VERIFIED"),
            Some(true),
        ),
        (
            "NoRecord LLC",
            "verification.completed",
            json!("NO_RECORD"),
            Some(false),
        ),
        (
            "WrongOrg Ltd",
            "verification.completed",
            json!("WRONG_ORG"),
            Some(false),
        ),
        (
            "Unable Co",
            "verification.completed",
            json!("UNABLE_TO_VERIFY"),
            Some(false),
        ),
        (
            "ThirdParty Payroll",
            "verification.action_required",
            json!("THIRD_PARTY_RECORD"),
            None,
        ),
        (
            "Escalate Corp",
            "verification.action_required",
            json!("HUMAN_ESCALATION"),
            None,
        ),
    ];
    for (employer, ..) in &cases {
        let mut body = order(employer, Some(hook.clone()));
        body["searchTypes"][0]["externalSearchId"] = json!(employer);
        assert_eq!(create(&sb, &http, &token, &body).await.0, 201);
    }
    assert_eq!(
        create(
            &sb,
            &http,
            &token,
            &order("Stall Systems", Some(hook.clone()))
        )
        .await
        .0,
        201
    );
    for _ in 0..3 {
        sb.state.advance();
    }
    let events = rx.wait_for(&sb, cases.len()).await;
    assert!(sb.state.wait_deliveries_idle(Duration::from_secs(5)).await);
    assert_eq!(
        rx.events().len(),
        cases.len(),
        "terminal events only, as subscribed; the stalled search sent none"
    );
    let n = cases.len();
    for (employer, event, value, discrepancy) in cases {
        let (_, headers, body) = events
            .iter()
            .find(|(_, _, b)| b["data"]["externalSearchId"] == employer)
            .unwrap_or_else(|| panic!("no event for {employer}"));
        assert_eq!(headers["x-event-type"], event);
        match discrepancy {
            Some(disc) => {
                assert_eq!(
                    body["data"]["verificationResult"]["outcome"], value,
                    "{employer}"
                );
                assert_eq!(
                    body["data"]["verificationResult"]["discrepancy"], disc,
                    "{employer}"
                );
            }
            None => assert_eq!(body["data"]["reasonCode"], value, "{employer}"),
        }
    }
    // A rule from the admin API wins over the defaults; resolve finishes a stalled search.
    sb.state.add_rule(ScenarioRule {
        keyword: "tech".into(),
        search_type: None,
        outcome: Outcome::Completed {
            outcome: "NO_RECORD".into(),
            discrepancy: false,
        },
    });
    let (_, created) = create(&sb, &http, &token, &order("Tech Corp", Some(hook.clone()))).await;
    for _ in 0..3 {
        sb.state.advance();
    }
    let stalled = sb
        .state
        .orders("acme")
        .iter()
        .find(|o| o["entityName"] == "Apple" && o["status"] == "in_progress")
        .map(|o| o["id"].clone());
    assert!(stalled.is_some());
    let events = rx.wait_for(&sb, n + 1).await;
    let sid = created["searchIds"][0]
        .as_str()
        .unwrap()
        .trim_start_matches("search_");
    let last = events
        .iter()
        .find(|(_, _, b)| b["data"]["searchId"] == sid)
        .unwrap();
    assert_eq!(last.2["data"]["verificationResult"]["outcome"], "NO_RECORD");
}

#[tokio::test]
async fn changes_are_signalled_on_order_advance_and_delivery() {
    let (sb, http, token) = setup().await;
    let (server, _rx) = Receiver::spawn().await;
    let mut changes = sb.state.changes();
    let hook = json!({ "secret": "k", "fallbackEndpoint": { "url": format!("{}/h", server.base_url()), "events": all_events() } });
    assert_eq!(
        create(&sb, &http, &token, &order("Tech Corp", Some(hook)))
            .await
            .0,
        201
    );
    assert!(changes.has_changed().unwrap(), "an order is a change");
    changes.borrow_and_update();
    // The delivery is recorded after `advance` returns: wait for it on the signal.
    sb.state.advance();
    assert!(changes.has_changed().unwrap(), "a search advanced");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sb.state.deliveries().is_empty() {
        tokio::time::timeout_at(deadline, changes.changed())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(sb.state.deliveries()[0].status, Some(200));
}
