//! Shared pieces of the tests that run in headless Chromium over the W3C WebDriver protocol:
//! finding Chromium, chromedriver and axe-core (failing when `CHECKBRIDGE_REQUIRE_BROWSER`
//! is set, skipping with a message otherwise), a chromedriver process, a session with the
//! few commands the tests use, and axe-core's check of the page in the window.
//!
//! axe-core is the npm package, installed on first use into `target/tmp/axe` with
//! `npm install axe-core@4` (or point `CHECKBRIDGE_AXE` at an `axe.min.js`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use checkbridge_lab::testing::eventually;

/// The key W3C WebDriver uses for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find(var: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    path.exists().then_some(path)
}

/// What a browser test with axe needs.
pub(crate) struct Tools {
    pub(crate) chromedriver: PathBuf,
    pub(crate) chromium: PathBuf,
    /// axe-core's browser script.
    pub(crate) axe: String,
}

impl Tools {
    /// Chromium, chromedriver and axe-core, or `None` after saying that `test` is skipped.
    /// Panics instead of skipping when `CHECKBRIDGE_REQUIRE_BROWSER` is set.
    pub(crate) fn find(test: &str) -> Option<Tools> {
        let (chromedriver, chromium) = browser(test)?;
        match axe_script() {
            Ok(axe) => Some(Tools {
                chromedriver,
                chromium,
                axe,
            }),
            Err(e) => {
                assert!(!required(), "axe-core is required: {e}");
                eprintln!("no axe-core here ({e}): {test} is skipped");
                None
            }
        }
    }
}

fn required() -> bool {
    std::env::var_os("CHECKBRIDGE_REQUIRE_BROWSER").is_some()
}

/// chromedriver and Chromium, or `None` after saying that `test` is skipped. Panics
/// instead of skipping when `CHECKBRIDGE_REQUIRE_BROWSER` is set.
pub(crate) fn browser(test: &str) -> Option<(PathBuf, PathBuf)> {
    let found = find("CHECKBRIDGE_CHROMEDRIVER", "/usr/bin/chromedriver")
        .zip(find("CHECKBRIDGE_CHROMIUM", "/usr/bin/chromium"));
    if found.is_none() {
        assert!(
            !required(),
            "chromium and chromedriver are required (apt-get install chromium chromium-driver)"
        );
        eprintln!("no chromium/chromedriver here: {test} is skipped");
    }
    found
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

/// The script that runs axe-core on the page and answers its violations as
/// `[{id, impact, help, nodes: [selector]}]`.
fn axe_runner(axe: &str) -> String {
    format!(
        "{axe}\n;const done = arguments[arguments.length - 1];\
         axe.run(document, {{ resultTypes: ['violations'] }})\
         .then(r => done(r.violations.map(v => ({{ id: v.id, impact: v.impact, help: v.help, \
         nodes: v.nodes.map(n => n.target.join(' ')) }}))))\
         .catch(e => done('axe failed: ' + e));"
    )
}

/// A chromedriver process, killed when dropped.
pub(crate) struct Driver {
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
    pub(crate) async fn start(binary: &Path) -> Driver {
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

    /// One WebDriver command; panics on a WebDriver error.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
    }

    /// One WebDriver command, its error returned (the W3C `value` with `error` and
    /// `message`) instead of panicking.
    pub(crate) async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        if v["value"].get("error").is_some() {
            return Err(v["value"].clone());
        }
        Ok(v["value"].clone())
    }
}

/// Whether a WebDriver error is the passing kind a navigation causes: the element asked
/// for is not in the new document yet, or belonged to the one just left.
fn between_documents(error: &Value) -> bool {
    matches!(
        error["error"].as_str(),
        Some("no such element" | "stale element reference")
    )
}

/// A headless Chromium session (English, one minute for scripts such as axe).
pub(crate) struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    pub(crate) async fn open<'a>(driver: &'a Driver, chromium: &Path) -> Session<'a> {
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--lang=en-US"],
            },
        }}});
        let v = driver
            .call(reqwest::Method::POST, "/session", Some(caps))
            .await;
        let session = Session {
            driver,
            id: v["sessionId"].as_str().unwrap().to_owned(),
        };
        session
            .cmd(
                reqwest::Method::POST,
                "timeouts",
                Some(json!({ "script": 60_000 })),
            )
            .await;
        session
    }

    /// A command on this session: `path` is what follows `/session/{id}/`.
    pub(crate) async fn cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        self.driver
            .call(method, &format!("/session/{}/{path}", self.id), body)
            .await
    }

    /// As [`Session::cmd`], the WebDriver error returned instead of panicking.
    pub(crate) async fn try_cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        self.driver
            .try_call(method, &format!("/session/{}/{path}", self.id), body)
            .await
    }

    pub(crate) async fn window(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    pub(crate) async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "url", Some(json!({ "url": url })))
            .await;
    }

    pub(crate) async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn locate(&self, using: &str, value: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "element",
                Some(json!({ "using": using, "value": value })),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("element {value}: {v}"))
            .to_owned()
    }

    pub(crate) async fn element(&self, css: &str) -> String {
        self.locate("css selector", css).await
    }

    /// The control a `<label>` with exactly this text is for, as a person finds it.
    pub(crate) async fn labelled(&self, label: &str) -> String {
        let l = self
            .locate("xpath", &format!("//label[normalize-space(.)=\"{label}\"]"))
            .await;
        let id = self
            .cmd(
                reqwest::Method::GET,
                &format!("element/{l}/attribute/for"),
                None,
            )
            .await;
        let id = id
            .as_str()
            .unwrap_or_else(|| panic!("the label {label:?} names no control"));
        self.element(&format!("[id=\"{id}\"]")).await
    }

    /// Keystrokes into an element (after clearing it when `clear`).
    pub(crate) async fn keys(&self, element: &str, text: &str, clear: bool) {
        if clear {
            self.cmd(
                reqwest::Method::POST,
                &format!("element/{element}/clear"),
                Some(json!({})),
            )
            .await;
        }
        self.cmd(
            reqwest::Method::POST,
            &format!("element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.keys(&e, text, false).await;
    }

    /// An element's DOM property (`value`, `checked`, ...).
    pub(crate) async fn property(&self, element: &str, name: &str) -> Value {
        self.cmd(
            reqwest::Method::GET,
            &format!("element/{element}/property/{name}"),
            None,
        )
        .await
    }

    pub(crate) async fn click_element(&self, element: &str) {
        self.cmd(
            reqwest::Method::POST,
            &format!("element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub(crate) async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.click_element(&e).await;
    }

    /// The page's text as rendered (hidden elements excluded). A page the browser is still
    /// navigating to has no `body` yet, and one it is leaving loses it: either is waited out
    /// (with a deadline), as a person waits for the page to appear.
    pub(crate) async fn visible_text(&self) -> String {
        eventually(Duration::from_secs(15), "the page's body", || async {
            self.try_visible_text().await
        })
        .await
    }

    /// The page's text, or `None` while the window is between two documents (no `body`,
    /// or the one found went stale before its text was read).
    pub(crate) async fn try_visible_text(&self) -> Option<String> {
        let found = self
            .try_cmd(
                reqwest::Method::POST,
                "element",
                Some(json!({ "using": "css selector", "value": "body" })),
            )
            .await;
        let e = match found {
            Ok(v) => v[ELEMENT].as_str()?.to_owned(),
            Err(e) if between_documents(&e) => return None,
            Err(e) => panic!("WebDriver element body: {e}"),
        };
        match self
            .try_cmd(reqwest::Method::GET, &format!("element/{e}/text"), None)
            .await
        {
            Ok(v) => Some(v.as_str()?.to_owned()),
            Err(e) if between_documents(&e) => None,
            Err(e) => panic!("WebDriver element text: {e}"),
        }
    }

    /// What the window shows, as PNG.
    pub(crate) async fn screenshot(&self) -> Vec<u8> {
        let shot = self.cmd(reqwest::Method::GET, "screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap())
            .unwrap()
    }

    /// axe-core's violations on the page (`axe` is its script, see [`Tools`]).
    pub(crate) async fn axe(&self, axe: &str) -> Vec<Value> {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "execute/async",
                Some(json!({ "script": axe_runner(axe), "args": [] })),
            )
            .await;
        v.as_array()
            .unwrap_or_else(|| panic!("axe answered {v}"))
            .clone()
    }

    pub(crate) async fn close(self) {
        self.driver
            .call(
                reqwest::Method::DELETE,
                &format!("/session/{}", self.id),
                None,
            )
            .await;
    }
}
