//! One test in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`,
//! which `.ci/run` installs when missing), driven over the W3C WebDriver protocol. It follows
//! a report link as a recruiter would from PageUp, signs in on the form, and reads the page
//! as a person sees it (rendered text, not HTML).
//!
//! Without a chromedriver the test says so and passes, unless `CHECKBRIDGE_REQUIRE_BROWSER`
//! is set (as `.ci/run` sets it), where a missing browser fails it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use checkbridge::admin::users::add_reader;
use checkbridge_lab::{LabOptions, Scenario};
use serde_json::{json, Value};

use checkbridge_lab::testing::{eventually, TestApp, TestDb};

/// The key W3C WebDriver uses for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find(var: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    path.exists().then_some(path)
}

/// A chromedriver process, killed when dropped.
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start(binary: &Path) -> Driver {
        // chromedriver picks no port by itself: take a free one from the kernel.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let (http, status) = (driver.http.clone(), format!("{}/status", driver.base));
        eventually(Duration::from_secs(30), "chromedriver to start", || {
            let (http, status) = (http.clone(), status.clone());
            async move {
                let r = http.get(&status).send().await.ok()?;
                let v: Value = r.json().await.ok()?;
                (v["value"]["ready"] == true).then_some(())
            }
        })
        .await;
        driver
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(
            v["value"].get("error").is_none(),
            "WebDriver {path}: {}",
            v["value"]
        );
        v["value"].clone()
    }
}

/// A browser session.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    async fn open<'a>(driver: &'a Driver, chromium: &Path) -> Session<'a> {
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,1600"],
            },
        }}});
        let v = driver
            .call(reqwest::Method::POST, "/session", Some(caps))
            .await;
        Session {
            driver,
            id: v["sessionId"].as_str().unwrap().to_owned(),
        }
    }

    async fn go(&self, url: &str) {
        self.driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/url", self.id),
                Some(json!({ "url": url })),
            )
            .await;
    }

    async fn url(&self) -> String {
        self.driver
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/url", self.id),
                None,
            )
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element", self.id),
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("element {css}: {v}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element/{e}/value", self.id),
                Some(json!({ "text": text })),
            )
            .await;
    }

    async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element/{e}/click", self.id),
                Some(json!({})),
            )
            .await;
    }

    /// The page's text as rendered (hidden elements excluded).
    async fn visible_text(&self) -> String {
        let e = self.element("body").await;
        self.driver
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/element/{e}/text", self.id),
                None,
            )
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn close(self) {
        self.driver
            .call(
                reqwest::Method::DELETE,
                &format!("/session/{}", self.id),
                None,
            )
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recruiter_signs_in_and_reads_a_report_in_a_real_browser() {
    let required = std::env::var_os("CHECKBRIDGE_REQUIRE_BROWSER").is_some();
    let (Some(chromedriver), Some(chromium)) = (
        find("CHECKBRIDGE_CHROMEDRIVER", "/usr/bin/chromedriver"),
        find("CHECKBRIDGE_CHROMIUM", "/usr/bin/chromium"),
    ) else {
        assert!(
            !required,
            "chromium and chromedriver are required (apt-get install chromium chromium-driver)"
        );
        eprintln!("no chromium/chromedriver here: the browser test is skipped");
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
    let required = std::env::var_os("CHECKBRIDGE_REQUIRE_BROWSER").is_some();
    let (Some(chromedriver), Some(chromium)) = (
        find("CHECKBRIDGE_CHROMEDRIVER", "/usr/bin/chromedriver"),
        find("CHECKBRIDGE_CHROMIUM", "/usr/bin/chromium"),
    ) else {
        assert!(
            !required,
            "chromium and chromedriver are required (apt-get install chromium chromium-driver)"
        );
        eprintln!("no chromium/chromedriver here: the browser test is skipped");
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
