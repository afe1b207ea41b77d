//! One test in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`,
//! which `.ci/run` installs when missing), driven over the W3C WebDriver protocol. It follows
//! a report link as a recruiter would from PageUp, signs in on the form, and reads the page
//! as a person sees it (rendered text, not HTML).
//!
//! Without a chromedriver the test says so and passes, unless `CHECKBRIDGE_REQUIRE_BROWSER`
//! is set (as `.ci/run` sets it), where a missing browser fails it.

use std::time::Duration;

use checkbridge::admin::users::add_reader;
use checkbridge_lab::{LabOptions, Scenario};

use checkbridge_lab::testing::{eventually, TestApp, TestDb};

use crate::webdriver::{self, Driver, Session};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recruiter_signs_in_and_reads_a_report_in_a_real_browser() {
    let Some((chromedriver, chromium)) = webdriver::browser("the browser test") else {
        return;
    };

    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let id = app.seed("acme", Scenario::Discrepancy, 0);
    let invitation = Scenario::Discrepancy.invitation(0);
    app.start().await;
    let store = &app.store;
    let doc = app.view_in("acme", &id, "completed").await.document;
    let link = doc["results"].as_array().unwrap().last().unwrap()["reportLink"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        add_reader(store, &"acme".into(), "riley", "a long enough password")
            .await
            .unwrap()
    );

    let driver = Driver::start(&chromedriver).await;
    let browser = Session::open(&driver, &chromium).await;
    browser.window(1200, 1600).await;
    // The link from PageUp leads to the sign-in form first.
    browser.go(&link).await;
    assert!(
        browser.url().await.contains("/login?next="),
        "{}",
        browser.url().await
    );
    let login = browser.visible_text().await;
    assert!(login.contains("Sign in"), "{login}");
    browser.type_into("input[name=username]", "riley").await;
    browser
        .type_into("input[name=password]", "a long enough password")
        .await;
    browser.click("form.login button[type=submit]").await;
    eventually(
        Duration::from_secs(15),
        "the report after sign-in",
        || async { (browser.url().await == link).then_some(()) },
    )
    .await;

    let page = browser.visible_text().await;
    let c = &invitation["candidate"];
    let ssn = c["nationalId"].as_str().unwrap();
    for seen in [
        "Background check report",
        c["firstName"].as_str().unwrap(),
        c["lastName"].as_str().unwrap(),
        &format!("•••-••-{}", &ssn[ssn.len() - 4..]),
        "Employment verification",
        "Education verification",
        "Discrepancy",
        "Download PDF",
        "Sign out",
    ] {
        assert!(page.contains(seen), "a person sees {seen:?} on:\n{page}");
    }
    assert!(!page.contains(ssn), "no full national id");
    assert!(
        !page.contains(c["dateOfBirth"].as_str().unwrap()),
        "no date of birth"
    );

    // Signing out from the page ends the session: the link asks for a sign-in again.
    browser.click("header form button[type=submit]").await;
    // The click only starts the form's submission: wait for its redirect to the sign-in
    // page before opening the link again.
    eventually(
        Duration::from_secs(15),
        "the sign-in page after sign-out",
        || async { browser.url().await.ends_with("/login").then_some(()) },
    )
    .await;
    browser.go(&link).await;
    assert!(browser.url().await.contains("/login?next="));
    browser.close().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recruiter_signs_in_through_the_identity_provider_in_a_real_browser() {
    let Some((chromedriver, chromium)) = webdriver::browser("the browser test") else {
        return;
    };

    let mut app = TestApp::prepare(
        TestDb::sqlite(),
        LabOptions {
            sso_tenants: vec!["acme".to_owned()],
            ..LabOptions::default()
        },
    )
    .await;
    let id = app.seed("acme", Scenario::Clean, 3);
    let invitation = Scenario::Clean.invitation(3);
    app.start().await;
    let doc = app.view_in("acme", &id, "completed").await.document;
    let link = doc["results"].as_array().unwrap().last().unwrap()["reportLink"]
        .as_str()
        .unwrap()
        .to_owned();
    let idp = app.lab.idp.as_ref().unwrap().base_url();
    let (user, password) = app.lab.sso_user("acme");

    let driver = Driver::start(&chromedriver).await;
    let browser = Session::open(&driver, &chromium).await;
    browser.window(1200, 1600).await;
    // The link from PageUp leads to acme's identity provider and its sign-in form.
    browser.go(&link).await;
    eventually(
        Duration::from_secs(15),
        "the provider's sign-in form",
        || async { browser.url().await.starts_with(&idp).then_some(()) },
    )
    .await;
    let form = browser.visible_text().await;
    assert!(
        form.contains("Sign in to the identity-provider sandbox"),
        "{form}"
    );
    browser.type_into("#idp-username", &user).await;
    browser.type_into("#idp-password", &password).await;
    browser.click("#idp-submit").await;
    eventually(
        Duration::from_secs(15),
        "the report after signing in at the provider",
        || async { (browser.url().await == link).then_some(()) },
    )
    .await;
    let page = browser.visible_text().await;
    let c = &invitation["candidate"];
    for seen in [
        "Background check report",
        c["firstName"].as_str().unwrap(),
        c["lastName"].as_str().unwrap(),
        "Employment verification",
        "Sign out",
    ] {
        assert!(page.contains(seen), "a person sees {seen:?} on:\n{page}");
    }
    browser.close().await;
    let records = app.store.access_records(&"acme".into()).await.unwrap();
    assert!(records.iter().any(
        |r| r.action == checkbridge::domain::check::AccessAction::SignedIn
            && r.actor.contains("sso_subject:")
    ));
    app.finish().await;
}
