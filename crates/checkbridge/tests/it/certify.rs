//! Go-live certification against the sandboxes: a test check run through to `completed` with
//! every step passing and the run recorded; failures at the right step with the right fix
//! when PageUp withholds a scope or the partner claim, or the alert webhook is unreachable;
//! and a live tenant that requires certification not polled until it has one.

use std::time::Duration;

use checkbridge::admin::certify::{self, Certificate, Options, Outcome, ServiceMode, Step};
use checkbridge::admin::certify_report;
use checkbridge::config::{Config, PageUpEnv};
use checkbridge::domain::ids::TenantKey;
use checkbridge::store::Certification;
use checkbridge_lab::testing::{alert_receiver, pdf_text, TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};
use sandbox::pageup::ClientSpec;

async fn certify(
    app: &mut TestApp,
    config: &Config,
    check: Option<String>,
    start_service: bool,
) -> Certificate {
    let service = if start_service {
        ServiceMode::InProcess(app.lab.take_listener())
    } else {
        ServiceMode::Running
    };
    let options = Options {
        check,
        service,
        timeout: Duration::from_secs(60),
        observe_every: Duration::from_millis(25),
        ..Options::default()
    };
    let mut seen: Vec<Step> = Vec::new();
    let cert = certify::run(
        config,
        &app.store,
        &TenantKey::from("acme"),
        options,
        &mut |s: &Step| seen.push(s.clone()),
    )
    .await
    .unwrap();
    assert_eq!(seen, cert.steps, "each step is reported as it ends");
    let numbers: Vec<u32> = cert.steps.iter().map(|s| s.number).collect();
    assert_eq!(numbers, (1..=15).collect::<Vec<u32>>());
    cert
}

fn step(cert: &Certificate, number: u32) -> &Step {
    &cert.steps[usize::try_from(number - 1).unwrap()]
}

fn with_alerts(mut config: Config, url: &str) -> Config {
    config.alerts.webhook_url = Some(url.to_owned().into());
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_test_check_runs_through_every_step_and_the_tenant_is_certified() {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let (url, alerts) = alert_receiver().await;
    let config = with_alerts(app.config(), &url);
    let id = app.seed("acme", Scenario::Clean, 0);

    let cert = certify(&mut app, &config, Some(id.clone()), true).await;
    for s in &cert.steps {
        // `inprogress` is held only while some searches are done and others open: with the
        // sandbox's timing it may not be seen.
        let expected = if s.number == 11 && s.outcome == Outcome::Skip {
            Outcome::Skip
        } else {
            Outcome::Pass
        };
        assert_eq!(s.outcome, expected, "{s:?}");
        assert!(s.fix.is_none() && s.finished_at >= s.started_at, "{s:?}");
    }
    assert_eq!(cert.outcome, "pass");
    assert!(
        step(&cert, 2).detail.contains("partnerid"),
        "{:?}",
        step(&cert, 2)
    );
    assert!(
        step(&cert, 9).detail.contains("Theary order"),
        "{:?}",
        step(&cert, 9)
    );
    let anonymous = step(&cert, 13);
    assert!(
        anonymous.detail.starts_with("answered 30") && anonymous.detail.contains("/login"),
        "{anonymous:?}"
    );
    assert!(
        step(&cert, 14).detail.contains("temporary reader"),
        "{:?}",
        step(&cert, 14)
    );
    let doc = cert.final_document.as_ref().unwrap();
    assert_eq!(doc["status"], "completed");
    // PageUp's own history agrees: reset, then the life of a check.
    let history: Vec<String> = app
        .lab
        .pageup_check("acme", &id)
        .unwrap()
        .history
        .iter()
        .map(|h| h.to.clone())
        .collect();
    assert_eq!(&history[..2], ["queued", "pending"], "{history:?}");
    assert_eq!(history.last().map(String::as_str), Some("completed"));
    // The test alert arrived, marked as such.
    let got = alerts.all();
    assert!(
        got.iter().any(|a| a["event"] == "certification.test"),
        "{got:?}"
    );

    // The sign-off report, and the record `tenants list` and the poller read.
    let html = certify_report::html(&cert);
    assert!(html.contains("CERTIFIED: every step passed"));
    assert!(html.contains("Acme Corp") && html.contains(&id));
    assert!(html.contains("The customer") && html.contains("The provider"));
    let skipped = usize::from(step(&cert, 11).outcome == Outcome::Skip);
    assert_eq!(html.matches("class=\"pass\"").count(), 15 - skipped);
    let pdf = certify_report::pdf(&cert).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("Go-live certification: Acme Corp"), "{text}");
        assert!(
            text.contains("15. PASS") && text.contains("12. PASS"),
            "{text}"
        );
        assert!(text.contains("Signature:"), "{text}");
    }
    certify::record(&app.store, &cert, &certify_report::digest(&html))
        .await
        .unwrap();
    let acme = TenantKey::from("acme");
    let passing = app
        .store
        .passing_certification(&acme, "uat")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(passing.pageup_check.as_deref(), Some(id.as_str()));
    assert!(app
        .store
        .passing_certification(&acme, "live")
        .await
        .unwrap()
        .is_none());

    // The same check again: it is already held, so the run says to use a new one.
    let again = certify(&mut app, &config, Some(id.clone()), false).await;
    assert_eq!(step(&again, 5).outcome, Outcome::Fail);
    assert!(step(&again, 5)
        .fix
        .as_deref()
        .unwrap()
        .contains("new test check"));
    assert_eq!(again.outcome, "fail");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withheld_scope_fails_the_token_step_with_the_fix() {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let (url, _alerts) = alert_receiver().await;
    let mut config = with_alerts(app.config(), &url);
    let tenant_id = config.tenants["acme"].pageup.tenant_id.clone();
    app.lab.pageup.state.add_client(ClientSpec {
        scopes: vec![pageup::SCOPE_READ.to_owned()],
        ..ClientSpec::full(&tenant_id, "read-only", "read-only-secret")
    });
    let acme = config.tenants.get_mut("acme").unwrap();
    acme.pageup.client_id = "read-only".into();
    acme.pageup.client_secret = "read-only-secret".to_owned().into();

    let cert = certify(&mut app, &config, Some("1".into()), true).await;
    let token = step(&cert, 2);
    assert_eq!(token.outcome, Outcome::Fail, "{token:?}");
    let fix = token.fix.as_deref().unwrap();
    assert!(
        fix.contains("grant client read-only the scope") && fix.contains(pageup::SCOPE_WRITE),
        "{fix}"
    );
    assert_eq!(step(&cert, 3).outcome, Outcome::Pass, "Theary is fine");
    for n in 5..=14 {
        assert_eq!(
            step(&cert, n).outcome,
            Outcome::Skip,
            "{:?}",
            step(&cert, n)
        );
    }
    assert_eq!(step(&cert, 15).outcome, Outcome::Pass);
    assert_eq!(cert.outcome, "fail");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_partner_claim_fails_the_token_step_with_the_fix() {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let (url, _alerts) = alert_receiver().await;
    let mut config = with_alerts(app.config(), &url);
    let tenant_id = config.tenants["acme"].pageup.tenant_id.clone();
    app.lab.pageup.state.add_client(ClientSpec {
        partner_id: None,
        ..ClientSpec::full(&tenant_id, "no-partner", "no-partner-secret")
    });
    let acme = config.tenants.get_mut("acme").unwrap();
    acme.pageup.client_id = "no-partner".into();
    acme.pageup.client_secret = "no-partner-secret".to_owned().into();

    let cert = certify(&mut app, &config, None, true).await;
    let token = step(&cert, 2);
    assert_eq!(token.outcome, Outcome::Fail, "{token:?}");
    assert_eq!(token.detail, "the token has no partnerid claim");
    assert!(
        token
            .fix
            .as_deref()
            .unwrap()
            .contains("link client no-partner to your partner account"),
        "{token:?}"
    );
    assert_eq!(cert.outcome, "fail");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_alert_webhook_fails_the_last_step_and_no_check_is_partial() {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let config = with_alerts(app.config(), &format!("http://{closed}/hooks/alerts"));
    let cert = certify(&mut app, &config, None, true).await;
    let alert = step(&cert, 15);
    assert_eq!(alert.outcome, Outcome::Fail, "{alert:?}");
    assert!(
        alert
            .detail
            .starts_with("the alert webhook could not be reached"),
        "{alert:?}"
    );
    assert!(
        !alert.detail.contains(&closed.to_string()),
        "the URL is a credential: {alert:?}"
    );
    assert!(alert.fix.as_deref().unwrap().contains("alerts.webhook_url"));
    for n in 1..=4 {
        assert_eq!(
            step(&cert, n).outcome,
            Outcome::Pass,
            "{:?}",
            step(&cert, n)
        );
    }
    assert_eq!(cert.outcome, "fail");

    // Everything reachable but no test check: partial, never a pass.
    let (url, _alerts) = alert_receiver().await;
    let config = with_alerts(app.config(), &url);
    let cert = certify(&mut app, &config, None, true).await;
    assert_eq!(cert.outcome, "partial");
    assert!(
        step(&cert, 5).detail.contains("--check"),
        "{:?}",
        step(&cert, 5)
    );
    assert!(certify_report::html(&cert).contains("NOT CERTIFIED: no test check"));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_tenant_that_requires_certification_is_polled_only_once_certified() {
    let app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let id = app.seed("acme", Scenario::Clean, 0);
    let mut config = app.config();
    let acme = config.tenants.get_mut("acme").unwrap();
    acme.pageup.env = PageUpEnv::Live;
    acme.require_certification = Some(true);
    let engine = app.engine_only(&config).await;
    let key = TenantKey::from("acme");

    let report = engine.poll_tenant(&key).await.unwrap();
    assert_eq!((report.pages, report.claimed), (0, 0));
    let why = report.error.unwrap();
    assert!(
        why.contains("no passing UAT certification") && why.contains("certify --tenant acme"),
        "{why}"
    );
    let poll = app.store.poll_state(&key).await.unwrap().unwrap();
    assert_eq!(
        poll.last_error.as_deref(),
        Some(why.as_str()),
        "operators see why"
    );
    assert_eq!(app.lab.pageup_check("acme", &id).unwrap().status, "pending");

    // A failed run does not count; a passing UAT run does.
    for outcome in ["fail", "pass"] {
        app.store
            .record_certification(&Certification {
                id: format!("c-{outcome}"),
                tenant: key.clone(),
                env: "uat".into(),
                outcome: outcome.into(),
                pageup_check: Some("9".into()),
                steps: "[]".into(),
                report_sha256: String::new(),
                started_at: 1,
                finished_at: 2,
            })
            .await
            .unwrap();
        // Due again at once, for the test.
        let now = checkbridge::time::now_ms();
        app.store
            .postpone_tenant_poll(&key, now, now)
            .await
            .unwrap();
        let report = engine.poll_tenant(&key).await.unwrap();
        if outcome == "fail" {
            assert_eq!(report.claimed, 0, "{report:?}");
        } else {
            assert_eq!(report.claimed, 1, "{report:?}");
            assert!(report.error.is_none(), "{report:?}");
        }
    }
    assert_eq!(app.lab.pageup_check("acme", &id).unwrap().status, "queued");
    app.finish_owing().await;
}
