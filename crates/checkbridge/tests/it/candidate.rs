//! The candidate form's pages in a real browser: every step, blank and with errors, is
//! rendered to a static HTML file, served (with the service's stylesheet and CSP) from a
//! tiny router on port 0, opened in headless Chromium, and checked with axe-core: no
//! violation of impact serious or critical. Each page is also photographed at 360x800 and
//! 1200x1600 into `target/tmp/candidate-pages/` for a person to look at.
//!
//! axe-core is the npm package, installed on first use into `target/tmp/axe` with
//! `npm install axe-core@4` (or point `CHECKBRIDGE_AXE` at an `axe.min.js`). Without a
//! browser or axe the test says so and passes, unless `CHECKBRIDGE_REQUIRE_BROWSER` is set,
//! where it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use checkbridge::candidate::form::{
    self, AddressForm, AuthorizationForm, EducationRow, EmploymentRow, Errors, FormRules,
    HistoryForm, HistoryRules, LegalName, Outcome, PersonalForm, UsState,
};
use checkbridge::candidate::page::{self, Common, Step};
use checkbridge::candidate::texts::LegalTexts;
use checkbridge::http::pages::Pages;
use serde_json::{json, Value};
use time::macros::date;

use checkbridge_lab::testing::eventually;

const TODAY: time::Date = date!(2026 - 05 - 15);

fn find(var: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    path.exists().then_some(path)
}

/// axe-core's browser script: `CHECKBRIDGE_AXE`, or installed with npm into the target dir.
fn axe_script() -> Result<String, String> {
    if let Some(path) = std::env::var_os("CHECKBRIDGE_AXE") {
        return std::fs::read_to_string(&path).map_err(|e| format!("{path:?}: {e}"));
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("axe");
    let script = dir.join("node_modules/axe-core/axe.min.js");
    if !script.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let out = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--prefix",
            ])
            .arg(&dir)
            .arg("axe-core@4")
            .output()
            .map_err(|e| format!("npm: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "npm install axe-core@4 failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    std::fs::read_to_string(&script).map_err(|e| format!("{}: {e}", script.display()))
}

async fn html(r: Response) -> String {
    assert_eq!(r.status(), axum::http::StatusCode::OK);
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

fn post(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn invalid<T, F>(o: Outcome<T, F>) -> (F, Errors) {
    match o {
        Outcome::Invalid { form, errors } => (form, errors),
        _ => panic!("expected errors"),
    }
}

/// Every page of the form, blank and with errors, by name.
async fn all_pages() -> Vec<(String, String)> {
    let pages = Pages::new();
    let texts = LegalTexts::shipped("Acme Staffing");
    let rules = FormRules::default();
    let c = Common {
        company: "Acme Staffing",
        job_title: Some("Senior Accountant"),
        action: "/candidate/t0k3n",
        csrf: "csrf-token",
    };
    let name = LegalName {
        first: "Łukasz".to_owned(),
        middle: None,
        last: "Nguyễn".to_owned(),
    };
    let none = Errors::default();

    let (personal, personal_errors) = invalid(form::personal_step(
        &post(&[
            ("first_name", "Łukasz"),
            ("last_name", ""),
            ("other_name", "<script>alert(1)</script>"),
            ("date_of_birth", "2099-01-01"),
            ("ssn", "12-345"),
            ("ssn_confirm", ""),
        ]),
        TODAY,
        None,
    ));
    let (addresses, address_errors) = invalid(form::addresses_step(
        &post(&[
            ("addr_rows", "2"),
            ("addr_0_street", "1 Main St"),
            ("addr_0_city", "Austin"),
            ("addr_0_state", "TX"),
            ("addr_0_zip", "7870"),
            ("addr_0_from", "2021-06"),
            ("addr_1_street", "2 Oak Ave"),
            ("addr_1_city", "Oakland"),
            ("addr_1_state", "XX"),
            ("addr_1_zip", "94607"),
            ("addr_1_from", "2020-01"),
            ("addr_1_to", "2019-05"),
        ]),
        TODAY,
        &rules,
    ));
    let (history, history_errors) = invalid(form::history_step(
        &post(&[
            ("emp_rows", "2"),
            ("emp_0_employer", "Acme Corp"),
            ("emp_0_position", ""),
            ("emp_0_start", "2019-02"),
            ("emp_0_current", "yes"),
            ("emp_1_employer", "Globex"),
            ("emp_1_position", "Clerk"),
            ("emp_1_start", "2016-01"),
            ("emp_1_end", "2015-01"),
            ("edu_rows", "1"),
            ("edu_0_school", "University of Texas"),
            ("edu_0_degree", "BBA"),
            ("edu_0_end", "2018/05"),
        ]),
        TODAY,
        &HistoryRules::default(),
    ));
    let (_, disclosure_errors) = invalid(form::disclosure_step(&[], texts.disclosure()));
    let (authorization, authorization_errors) = invalid(form::authorization_step(
        &post(&[("signature", "Someone Else")]),
        &name,
        TODAY,
    ));
    let prefilled = HistoryForm::prefill(
        &[EmploymentRow {
            employer: "Acme Corp".to_owned(),
            position: "Accountant".to_owned(),
            city: "Austin".to_owned(),
            state: "TX".to_owned(),
            start: "2019-02-01".to_owned(),
            end: String::new(),
            current: true,
        }],
        &[EducationRow {
            school: "University of Texas".to_owned(),
            degree: "BBA".to_owned(),
            major: "Accounting".to_owned(),
            start: "2014-09-01".to_owned(),
            end: "2018-05-15".to_owned(),
        }],
    );
    let ca = UsState::parse("CA");
    let contexts: Vec<(&str, Step, Value)> = vec![
        (
            "personal",
            Step::Personal,
            page::personal_context(&c, &PersonalForm::prefill("Łukasz", "", "Nguyễn"), &none),
        ),
        (
            "personal-errors",
            Step::Personal,
            page::personal_context(&c, &personal, &personal_errors),
        ),
        (
            "addresses",
            Step::Addresses,
            page::addresses_context(&c, &AddressForm::blank(&rules), &none),
        ),
        (
            "addresses-errors",
            Step::Addresses,
            page::addresses_context(&c, &addresses, &address_errors),
        ),
        (
            "history",
            Step::History,
            page::history_context(&c, &prefilled, &none),
        ),
        (
            "history-errors",
            Step::History,
            page::history_context(&c, &history, &history_errors),
        ),
        (
            "disclosure",
            Step::Disclosure,
            page::disclosure_context(&c, &texts, &none),
        ),
        (
            "disclosure-errors",
            Step::Disclosure,
            page::disclosure_context(&c, &texts, &disclosure_errors),
        ),
        (
            "authorization",
            Step::Authorization,
            page::authorization_context(
                &c,
                &texts,
                ca,
                &name,
                &AuthorizationForm::default(),
                &none,
                TODAY,
            ),
        ),
        (
            "authorization-errors",
            Step::Authorization,
            page::authorization_context(
                &c,
                &texts,
                ca,
                &name,
                &authorization,
                &authorization_errors,
                TODAY,
            ),
        ),
    ];
    let mut out = Vec::new();
    for (name, step, ctx) in contexts {
        out.push((name.to_owned(), html(page::render(&pages, step, ctx)).await));
    }
    out.push((
        "done".to_owned(),
        html(page::render_done(
            &pages,
            page::done_context("Acme Staffing"),
        ))
        .await,
    ));
    out.push(("closed".to_owned(), html(page::render_closed(&pages)).await));
    out
}

/// Serves `pages` at `/NAME.html` and the stylesheet, with the service's CSP.
async fn serve(pages: Vec<(String, String)>) -> String {
    use axum::routing::get;
    let mut router = axum::Router::new().route(
        checkbridge::http::pages::STYLESHEET_PATH,
        get(checkbridge::http::pages::stylesheet),
    );
    for (name, body) in pages {
        router = router.route(
            &format!("/{name}.html"),
            get(move || {
                let body = body.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_SECURITY_POLICY,
                            checkbridge::http::limits::CSP,
                        )],
                        Html(body),
                    )
                        .into_response()
                }
            }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
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

    async fn session(&self, chromium: &Path) -> String {
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"],
            },
        }}});
        let v = self
            .call(reqwest::Method::POST, "/session", Some(caps))
            .await;
        let id = v["sessionId"].as_str().unwrap().to_owned();
        self.call(
            reqwest::Method::POST,
            &format!("/session/{id}/timeouts"),
            Some(json!({ "script": 60_000 })),
        )
        .await;
        id
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_candidate_page_passes_axe_and_is_photographed() {
    let required = std::env::var_os("CHECKBRIDGE_REQUIRE_BROWSER").is_some();
    let (Some(chromedriver), Some(chromium)) = (
        find("CHECKBRIDGE_CHROMEDRIVER", "/usr/bin/chromedriver"),
        find("CHECKBRIDGE_CHROMIUM", "/usr/bin/chromium"),
    ) else {
        assert!(
            !required,
            "chromium and chromedriver are required (apt-get install chromium chromium-driver)"
        );
        eprintln!("no chromium/chromedriver here: the candidate accessibility test is skipped");
        return;
    };
    let axe = match axe_script() {
        Ok(s) => s,
        Err(e) => {
            assert!(!required, "axe-core is required: {e}");
            eprintln!("no axe-core here ({e}): the candidate accessibility test is skipped");
            return;
        }
    };

    let pages = all_pages().await;
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("candidate-pages");
    std::fs::create_dir_all(out.join("static")).unwrap();
    std::fs::write(
        out.join("static/style.css"),
        include_str!("../../templates/style.css"),
    )
    .unwrap();
    for (name, body) in &pages {
        // The static copy links the stylesheet relatively, so it also opens from disk.
        std::fs::write(
            out.join(format!("{name}.html")),
            body.replace("href=\"/static/style.css\"", "href=\"static/style.css\""),
        )
        .unwrap();
        eprintln!("page {name}: {:.1} KB", body.len() as f64 / 1024.0);
    }
    let mut served = pages.clone();
    served.push((
        "control".to_owned(),
        "<!doctype html><html lang=en><title>control</title><main><form><input name=x></form></main></html>".to_owned(),
    ));
    let base = serve(served).await;

    let driver = Driver::start(&chromedriver).await;
    let session = driver.session(&chromium).await;
    let run_axe = format!(
        "{axe}\n;const done = arguments[arguments.length - 1];\
         axe.run(document, {{ resultTypes: ['violations'] }})\
         .then(r => done(r.violations.map(v => ({{ id: v.id, impact: v.impact, help: v.help, \
         nodes: v.nodes.map(n => n.target.join(' ')) }}))))\
         .catch(e => done('axe failed: ' + e));"
    );
    let mut serious = Vec::new();
    // A page with known faults first: proves axe runs and reports.
    driver
        .call(
            reqwest::Method::POST,
            &format!("/session/{session}/url"),
            Some(json!({ "url": format!("{base}/control.html") })),
        )
        .await;
    let control = driver
        .call(
            reqwest::Method::POST,
            &format!("/session/{session}/execute/async"),
            Some(json!({ "script": run_axe, "args": [] })),
        )
        .await;
    assert!(
        control
            .as_array()
            .is_some_and(|v| v.iter().any(|v| v["id"] == "label")),
        "axe finds the unlabelled input of the control page: {control}"
    );
    // 360x800 and 1200x1600 as asked; 360x3000 to see a whole form at phone width.
    for (width, height) in [(1200, 1600), (360, 800), (360, 3000)] {
        driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{session}/window/rect"),
                Some(json!({ "width": width, "height": height })),
            )
            .await;
        for (name, _) in &pages {
            driver
                .call(
                    reqwest::Method::POST,
                    &format!("/session/{session}/url"),
                    Some(json!({ "url": format!("{base}/{name}.html") })),
                )
                .await;
            let shot = driver
                .call(
                    reqwest::Method::GET,
                    &format!("/session/{session}/screenshot"),
                    None,
                )
                .await;
            let png = base64::engine::general_purpose::STANDARD
                .decode(shot.as_str().unwrap())
                .unwrap();
            std::fs::write(out.join(format!("{name}-{width}x{height}.png")), png).unwrap();

            let violations = driver
                .call(
                    reqwest::Method::POST,
                    &format!("/session/{session}/execute/async"),
                    Some(json!({ "script": run_axe, "args": [] })),
                )
                .await;
            let list = violations
                .as_array()
                .unwrap_or_else(|| panic!("{name}: {violations}"));
            for v in list {
                eprintln!(
                    "axe {name} at {width}px: {} ({}): {}",
                    v["id"], v["impact"], v["nodes"]
                );
                if matches!(v["impact"].as_str(), Some("serious" | "critical")) {
                    serious.push(format!("{name} at {width}px: {v}"));
                }
            }
            if list.is_empty() {
                eprintln!("axe {name} at {width}px: no violations");
            }
        }
    }
    driver
        .call(
            reqwest::Method::DELETE,
            &format!("/session/{session}"),
            None,
        )
        .await;
    assert!(
        serious.is_empty(),
        "serious or critical accessibility violations:\n{}",
        serious.join("\n")
    );
    eprintln!("pages and screenshots in {}", out.display());
}
