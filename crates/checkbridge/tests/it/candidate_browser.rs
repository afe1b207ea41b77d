//! The candidate's part as a person on a phone does it: a minimal invitation is claimed, its
//! mail reaches the mail sandbox, and its link is opened in headless Chromium at 390x900.
//! Every step is filled by typing into the fields found by their labels and sent with its
//! Continue button; on every page as served (CSP, stylesheet, cookies) axe-core finds no
//! violation of impact serious or critical. Each page is photographed on arrival and filled
//! into `target/tmp/candidate-browser/` for a person to look at. After the e-signature the
//! candidate sees the thank-you page, PageUp ends `completed` and Theary has one order.
//!
//! Without a browser or axe-core (see [`crate::webdriver`]) the test says so and passes,
//! unless `CHECKBRIDGE_REQUIRE_BROWSER` is set, where it fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use checkbridge_lab::testing::{eventually, TestApp, TestDb};
use checkbridge_lab::LabOptions;
use serde_json::{json, Value};

use crate::webdriver::{Driver, Session, Tools};

const FIRST: &str = "Łukasz";
const LAST: &str = "Nguyễn";
const EMAIL: &str = "lukasz@phone.example";

/// The candidate's browser, where the screenshots go, and what axe found so far.
struct Phone<'a> {
    browser: Session<'a>,
    axe: &'a str,
    shots: PathBuf,
    serious: Vec<String>,
}

impl Phone<'_> {
    /// Waits until the window shows the loaded page at `…/{step}`, then checks it with axe
    /// and photographs it as `{shot}.png`.
    async fn arrive(&mut self, shot: &str, step: &str) {
        let browser = &self.browser;
        eventually(
            Duration::from_secs(15),
            &format!("the {step} page"),
            || async {
                let at = browser.url().await;
                // A script run while the window swaps documents can fail: that is "not yet".
                let loaded = browser
                    .try_cmd(
                        reqwest::Method::POST,
                        "execute/sync",
                        Some(json!({ "script": "return document.readyState", "args": [] })),
                    )
                    .await
                    .ok()?;
                (at.ends_with(&format!("/{step}")) && loaded == "complete").then_some(())
            },
        )
        .await;
        self.shoot(shot).await;
        let violations = self.browser.axe(self.axe).await;
        for v in &violations {
            eprintln!("axe {shot}: {} ({}): {}", v["id"], v["impact"], v["nodes"]);
            if matches!(v["impact"].as_str(), Some("serious" | "critical")) {
                self.serious.push(format!("{shot}: {v}"));
            }
        }
        if violations.is_empty() {
            eprintln!("axe {shot}: no violations");
        }
    }

    async fn shoot(&self, name: &str) {
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, self.browser.screenshot().await).unwrap();
    }

    /// Types `text` into the field labelled `label` (emptied first) and checks that the
    /// field holds `holds` afterwards.
    async fn fill(&self, label: &str, text: &str, holds: &str) {
        let e = self.browser.labelled(label).await;
        self.browser.keys(&e, text, true).await;
        assert_eq!(
            self.browser.property(&e, "value").await,
            holds,
            "{label} after typing {text:?}"
        );
    }

    /// Picks the option of the select labelled `label` whose text starts with the typed
    /// `text`, and checks that the select's value is `holds`.
    async fn choose(&self, label: &str, text: &str, holds: &str) {
        let e = self.browser.labelled(label).await;
        self.browser.keys(&e, text, false).await;
        assert_eq!(
            self.browser.property(&e, "value").await,
            holds,
            "{label} after typing {text:?}"
        );
    }

    /// Ticks the checkbox or radio labelled `label`.
    async fn tick(&self, label: &str) {
        let e = self.browser.labelled(label).await;
        self.browser.click_element(&e).await;
        assert_eq!(self.browser.property(&e, "checked").await, true, "{label}");
    }

    /// Presses the form's visible Continue (or `css`) button.
    async fn send(&self, css: &str) {
        self.browser.click(css).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_candidate_completes_the_form_on_a_phone_in_a_real_browser() {
    let Some(tools) = Tools::find("the candidate's browser test") else {
        return;
    };
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let mail = sandbox::mail::spawn(sandbox::mail::MailConfig::default())
        .await
        .unwrap();
    let mut config = app.config();
    config.mail = Some(checkbridge_lab::candidate::mail_config(
        mail.smtp_addr(),
        None,
    ));
    let tenant = app.lab.tenant("acme").unwrap().pageup_id.clone();
    let id = app.lab.pageup.state.seed(
        &tenant,
        json!({
            "packageCode": "EMP", "checkTypes": ["EMPLOYMENT"],
            "candidate": { "firstName": FIRST, "lastName": LAST, "email": EMAIL },
            "job": { "title": "Payroll Analyst", "worksite": { "city": "Austin", "state": "TX" }, "salary": 70000 }
        }),
    );
    app.start_with(&config).await;

    // The invitation, as the mail sandbox lists it; its link is what the candidate taps.
    let http = reqwest::Client::new();
    let listing = format!("{}/messages", mail.base_url());
    let message: Value = eventually(Duration::from_secs(30), "the invitation mail", || async {
        let list: Vec<Value> = http
            .get(&listing)
            .query(&[("to", EMAIL)])
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        list.into_iter().next()
    })
    .await;
    let base = app.base_url();
    let link = message["text"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{base}/candidate/")))
        .unwrap_or_else(|| panic!("a form link in {message}"))
        .to_owned();

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("candidate-browser");
    std::fs::create_dir_all(&shots).unwrap();
    let driver = Driver::start(&tools.chromedriver).await;
    let browser = Session::open(&driver, &tools.chromium).await;
    browser.window(390, 900).await;
    let mut phone = Phone {
        browser,
        axe: &tools.axe,
        shots,
        serious: Vec::new(),
    };
    const CONTINUE: &str = ".actions button[value=continue]";

    phone.browser.go(&link).await;
    phone.arrive("1-personal", "personal").await;
    // Pre-filled with PageUp's names.
    let first = phone.browser.labelled("First name").await;
    assert_eq!(phone.browser.property(&first, "value").await, FIRST);
    phone.fill("First name", FIRST, FIRST).await;
    phone.fill("Last name", LAST, LAST).await;
    // A date field takes the digits in the locale's order (en-US: month, day, year).
    phone.fill("Date of birth", "04121990", "1990-04-12").await;
    phone
        .fill("Social Security number", "512-44-7788", "512-44-7788")
        .await;
    phone
        .fill("Social Security number again", "512447788", "512447788")
        .await;
    phone.shoot("1-personal-filled").await;
    phone.send(CONTINUE).await;

    phone.arrive("2-addresses", "addresses").await;
    phone.tick("This is where I live now").await;
    phone.fill("Street address", "1 Main St", "1 Main St").await;
    phone.fill("City", "Austin", "Austin").await;
    phone.choose("State", "Texas", "TX").await;
    phone.fill("ZIP code", "73301", "73301").await;
    phone.fill("Moved in", "2012-03", "2012-03").await;
    phone.shoot("2-addresses-filled").await;
    phone.send(CONTINUE).await;

    phone.arrive("3-history", "history").await;
    phone
        .fill("Employer", "Globex Payroll", "Globex Payroll")
        .await;
    phone
        .fill("Position or job title", "Analyst", "Analyst")
        .await;
    phone.fill("City (optional)", "Austin", "Austin").await;
    phone.choose("State (optional)", "Texas", "TX").await;
    phone.fill("Started", "2016-01", "2016-01").await;
    phone.tick("I still work here").await;
    phone.shoot("3-history-filled").await;
    phone.send(CONTINUE).await;

    phone.arrive("4-disclosure", "disclosure").await;
    assert!(phone.browser.visible_text().await.contains("counsel"));
    phone.send("button[name=acknowledge]").await;

    phone.arrive("5-authorization", "authorization").await;
    let signature = format!("{FIRST} {LAST}");
    phone
        .fill("Type your full legal name", &signature, &signature)
        .await;
    phone
        .tick(
            "I have read the disclosure and this authorization, and I consent to the \
             background check described in them.",
        )
        .await;
    phone.shoot("5-authorization-filled").await;
    phone.send(".actions button[value=sign]").await;

    // The thank-you page answers the signature's post, at the same address.
    let browser = &phone.browser;
    let done = eventually(Duration::from_secs(15), "the thank-you page", || async {
        let text = browser.try_visible_text().await?;
        text.contains("Thank you").then_some(text)
    })
    .await;
    assert!(done.contains("Acme"), "{done}");
    phone.arrive("6-done", "authorization").await;
    let Phone {
        browser, serious, ..
    } = phone;
    browser.close().await;
    assert!(
        serious.is_empty(),
        "serious or critical accessibility violations:\n{}",
        serious.join("\n")
    );

    let view = app.final_view("acme", &id).await;
    assert_eq!(view.status, "completed", "{:?}", view.document);
    let orders = app.lab.theary.state.orders("acme");
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["applicant"]["ssn"], "***-**-7788");
    app.finish().await;
}
