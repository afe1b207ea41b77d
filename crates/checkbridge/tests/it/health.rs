//! Health issues open and resolve by themselves, and each opening and resolution is
//! announced once on the alert webhook (JSON with a `text` field, as Slack accepts it).

use checkbridge_lab::testing::{alert_receiver, TestApp, TestDb};
use checkbridge_lab::LabOptions;
use sandbox::common::FaultRule;
use secrecy::SecretString;

#[tokio::test]
async fn refused_credentials_open_an_issue_that_resolves_after_sustained_success() {
    for db in TestDb::all().await {
        let app = TestApp::prepare(db, LabOptions::default()).await;
        let (alert_url, alerts) = alert_receiver().await;
        let mut config = app.config();
        config.alerts.webhook_url = Some(SecretString::from(alert_url));
        config.alerts.environment = Some("test".into());
        let engine = app.engine_only(&config).await;
        let (lab, store) = (&app.lab, &app.store);

        // PageUp refuses acme's client credentials.
        lab.pageup.state.faults().add(FaultRule {
            path_prefix: Some("/connect/token".into()),
            status: Some(400),
            body: Some(serde_json::json!({ "error": "invalid_client" })),
            ..FaultRule::default()
        });
        let report = engine.poll_tenant(&"acme".into()).await.unwrap();
        assert!(report.error.is_some());
        let step = engine.monitor_step().await.unwrap();
        assert_eq!((step.opened, step.alerts_sent), (1, 1), "{step:?}");
        let open = store.open_issues().await.unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(
            (
                open[0].tenant.as_str(),
                open[0].kind.as_str(),
                open[0].subject.as_str()
            ),
            ("acme", "auth", "pageup")
        );
        assert!(
            open[0]
                .summary
                .contains("PageUp refuses this tenant's credentials"),
            "{}",
            open[0].summary
        );
        {
            let got = alerts.all();
            assert_eq!(got.len(), 1);
            let text = got[0]["text"].as_str().unwrap();
            assert!(
                text.starts_with("checkbridge [test]: tenant acme: authentication failing."),
                "{text}"
            );
            assert_eq!(got[0]["event"], "issue.opened");
            assert_eq!(got[0]["issue"]["kind"], "auth");
            let all = got[0].to_string();
            for key in ["acme", "globex", "initech"] {
                let t = lab.tenant(key).unwrap();
                for secret in [&t.pageup.client_secret, &t.theary.client_secret] {
                    assert!(!all.contains(secret.as_str()), "an alert carries a secret");
                }
            }
        }
        // Evaluating again changes nothing and announces nothing.
        assert_eq!(engine.monitor_step().await.unwrap(), Default::default());

        // Credentials fixed: a few good polls are not enough, five in a row are.
        lab.pageup.state.faults().clear();
        for _ in 0..4 {
            assert!(engine
                .poll_tenant(&"acme".into())
                .await
                .unwrap()
                .error
                .is_none());
        }
        assert_eq!(engine.monitor_step().await.unwrap().resolved, 0);
        assert!(engine
            .poll_tenant(&"acme".into())
            .await
            .unwrap()
            .error
            .is_none());
        let step = engine.monitor_step().await.unwrap();
        assert_eq!((step.resolved, step.alerts_sent), (1, 1), "{step:?}");
        assert!(store.open_issues().await.unwrap().is_empty());
        let got = alerts.all();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1]["event"], "issue.resolved");
        assert!(got[1]["issue"]["resolved_at"].is_string());
        app.finish().await;
    }
}
