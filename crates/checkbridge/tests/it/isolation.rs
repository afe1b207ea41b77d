//! Tenant isolation and bad webhooks, against the running service over real HTTP.

use std::time::Duration;

use checkbridge_lab::testing::{order_secret, TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};
use serde_json::{json, Value};
use theary::signature::sign;

/// A bad request: what it is, its body, its headers, the status it must get.
type Case = (&'static str, Vec<u8>, Vec<(&'static str, String)>, u16);

async fn post(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> (u16, Value) {
    let mut req = http.post(url).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req.body(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_never_see_each_other_and_bad_webhooks_change_nothing() {
    for db in TestDb::all().await {
        let mut app = TestApp::prepare(db, LabOptions::default()).await;
        let acme_id = app.seed("acme", Scenario::Cancelled, 0); // stays open
        let globex_id = app.seed("globex", Scenario::Clean, 1);
        app.start().await;
        let (lab, store, running) = (&app.lab, &app.store, app.running());
        let base = app.base_url();
        app.wait_for(Duration::from_secs(30), "both ordered", || async {
            let a = lab.pageup_check("acme", &acme_id)?;
            let g = lab.pageup_check("globex", &globex_id)?;
            (a.status == "new" && g.status == "completed").then_some(())
        })
        .await;

        // Each tenant's checks live in its own PageUp tenant and Theary account only.
        assert_eq!(lab.theary.state.order_count("acme"), 1);
        assert_eq!(lab.theary.state.order_count("globex"), 1);
        assert_eq!(lab.theary.state.order_count("initech"), 0);
        let acme_pageup = &lab.tenant("acme").unwrap().pageup_id;
        assert!(lab
            .pageup
            .state
            .checks(acme_pageup)
            .iter()
            .all(|c| c.id != globex_id));

        // A correctly signed event for acme's search, posted under globex's URL: 404, no effect.
        let (check, search, secret) = order_secret(store, &running.engine, "acme", &acme_id).await;
        let event = |event_type: &str, data: Value| {
            serde_json::to_vec(
                &json!({ "event": event_type, "occurredAt": "2026-11-23T10:00:00Z", "data": data }),
            )
            .unwrap()
        };
        let completed = event(
            "verification.completed",
            json!({ "searchId": "search_x", "externalSearchId": search.id, "searchType": "EMPLOYMENT",
                    "status": "COMPLETED", "verificationResult": { "outcome": "VERIFIED", "discrepancy": false } }),
        );
        let signed = |body: &[u8], id: &str| {
            vec![
                ("x-webhook-signature", sign(&secret, body)),
                ("x-event-id", id.to_owned()),
            ]
        };
        let http = reqwest::Client::new();
        let (status, _) = post(
            &http,
            &format!("{base}/webhooks/theary/globex"),
            completed.clone(),
            &signed(&completed, "cross-1"),
        )
        .await;
        assert_eq!(status, 404, "another tenant's search is not found");
        assert!(!store.has_event("cross-1").await.unwrap());

        // Bad input gets a clear error and changes nothing.
        let url = format!("{base}/webhooks/theary/acme");
        let cases: Vec<Case> = vec![
            (
                "malformed JSON",
                b"{not json".to_vec(),
                signed(b"{not json", "bad-1"),
                400,
            ),
            (
                "no signature",
                completed.clone(),
                vec![("x-event-id", "bad-2".into())],
                401,
            ),
            (
                "wrong signature",
                completed.clone(),
                vec![
                    (
                        "x-webhook-signature",
                        sign(b"another-secret-entirely", &completed),
                    ),
                    ("x-event-id", "bad-3".into()),
                ],
                401,
            ),
            (
                "unknown search",
                event(
                    "verification.completed",
                    json!({ "searchId": "nope", "externalSearchId": "nope" }),
                ),
                signed(b"x", "bad-4"),
                404,
            ),
            (
                "oversized",
                vec![b' '; 300 * 1024],
                signed(b"x", "bad-5"),
                413,
            ),
        ];
        let mut answers = Vec::new();
        for (what, body, headers, want) in cases {
            let (status, answer) = post(&http, &url, body, &headers).await;
            assert_eq!(status, want, "{what}: {answer}");
            assert!(
                answer["code"].is_string() && answer["message"].is_string(),
                "{what}: {answer}"
            );
            answers.push(json!({ "case": what, "status": status, "body": answer }));
        }
        let (status, answer) = post(
            &http,
            &format!("{base}/webhooks/theary/nosuchtenant"),
            completed.clone(),
            &signed(&completed, "bad-6"),
        )
        .await;
        assert_eq!(status, 404);
        answers.push(json!({ "case": "unknown tenant", "status": status, "body": answer }));
        // The error bodies a caller gets, word for word (the same on every engine).
        insta::assert_json_snapshot!("webhook_refusals", answers);
        for id in ["bad-1", "bad-2", "bad-3", "bad-4", "bad-5", "bad-6"] {
            assert!(!store.has_event(id).await.unwrap(), "{id} stored");
        }
        assert_eq!(
            lab.pageup_check("acme", &acme_id).unwrap().status,
            "new",
            "nothing moved"
        );
        let refused: Vec<i64> = store
            .errors(&"acme".into(), 0)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.operation == "webhook.refused")
            .filter_map(|e| e.http_status)
            .collect();
        assert_eq!(
            refused,
            [400, 401, 401, 404, 413],
            "refusals are in acme's error log"
        );
        assert!(store
            .errors(&"globex".into(), 0)
            .await
            .unwrap()
            .iter()
            .any(|e| e.http_status == Some(404)));

        // The good event, twice: stored once, PageUp moves once.
        let (status, first) = post(
            &http,
            &url,
            completed.clone(),
            &signed(&completed, "good-1"),
        )
        .await;
        assert_eq!((status, first["duplicate"].as_bool()), (200, Some(false)));
        let (status, again) = post(
            &http,
            &url,
            completed.clone(),
            &signed(&completed, "good-1"),
        )
        .await;
        assert_eq!((status, again["duplicate"].as_bool()), (200, Some(true)));
        let view = app
            .wait_for(Duration::from_secs(10), "acme completed", || async {
                let v = lab.pageup_check("acme", &acme_id)?;
                (v.status == "completed").then_some(v)
            })
            .await;
        assert_eq!(
            view.history.iter().filter(|h| h.to == "completed").count(),
            1
        );
        // A late action_required for the same search does not move it back.
        let late = event(
            "verification.action_required",
            json!({ "searchId": "search_x", "externalSearchId": search.id, "reasonCode": "SLA_REACHED" }),
        );
        let (status, _) = post(&http, &url, late.clone(), &signed(&late, "late-1")).await;
        assert_eq!(status, 200);
        let rows = store.searches_of(&"acme".into(), &check).await.unwrap();
        assert_eq!(rows[0].state.as_str(), "completed");
        // Without a session, a real check, another tenant's path and a made-up id all lead
        // to the login page alike, and say nothing of the check.
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        for path in [
            format!("/reports/acme/{check}"),
            format!("/reports/globex/{check}"),
            "/reports/acme/00000000-0000-0000-0000-000000000000".to_owned(),
        ] {
            let r = no_redirects
                .get(format!("{base}{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 303, "{path}");
            let location = r.headers()["location"].to_str().unwrap().to_owned();
            assert!(location.starts_with("/login?next="), "{location}");
            assert!(r.text().await.unwrap().is_empty(), "{path}");
        }
        // Metrics: present, and labels bounded to configured tenants (or "unknown").
        let text = http
            .get(format!("{base}/metrics"))
            .bearer_auth(checkbridge_lab::METRICS_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for present in [
            "checkbridge_claims_total{tenant=\"acme\"} 1",
            "checkbridge_orders_total{tenant=\"globex\",result=\"placed\"} 1",
            "checkbridge_webhook_events_total{tenant=\"acme\",type=\"unknown\",result=\"invalid_signature\"} 2",
            "checkbridge_webhook_events_total{tenant=\"unknown\",type=\"unknown\",result=\"not_found\"} 1",
            "checkbridge_pageup_updates_total{tenant=\"globex\",status=\"completed\",result=\"ok\"}",
            "# TYPE checkbridge_owed_pushes gauge",
            "# TYPE checkbridge_open_health_issues gauge",
            "checkbridge_token_fetches_total{partner=\"pageup\"}",
            "checkbridge_token_fetches_total{partner=\"theary\"}",
            "checkbridge_call_retries_total{partner=\"theary\"}",
            "# TYPE checkbridge_outbound_call_duration_seconds histogram",
            "checkbridge_outbound_call_duration_seconds_count{partner=\"theary\",operation=\"theary.order\",result=\"ok\"}",
            "checkbridge_outbound_call_duration_seconds_count{partner=\"pageup\",operation=\"pageup.list\",result=\"ok\"}",
            "checkbridge_webhook_handling_duration_seconds_count{result=\"ok\"}",
            "checkbridge_pending_to_queued_seconds_count{tenant=\"acme\"} 1",
            "checkbridge_pending_to_new_seconds_count{tenant=\"globex\"} 1",
            "checkbridge_build_info{version=\"",
            "process_resident_memory_bytes ",
            "process_cpu_seconds_total ",
        ] {
            assert!(text.contains(present), "{present} in:\n{text}");
        }
        assert!(!text.contains("nosuchtenant"), "labels are bounded");
        checkbridge_lab::testing::promtool_check_metrics(&text);
        let fetched: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("checkbridge_token_fetches_total{partner=\"pageup\"} "))
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!(
            fetched >= 2,
            "one PageUp token per tenant at least: {fetched}"
        );
        app.finish().await;
    }
}
