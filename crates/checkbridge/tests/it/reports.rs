//! Report pages behind login, over real HTTP: the link leads to a login page; a reader of
//! the check's tenant sees the report (candidate shown without full national id or birth
//! date); anyone else, and any made-up id, gets the same 404; forms need their CSRF token;
//! failed logins are limited; every view is recorded; signing out ends the session.

use checkbridge::admin::users::{add_operator, add_reader};
use checkbridge_lab::{LabOptions, Scenario};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

use checkbridge_lab::testing::{TestApp, TestDb};

/// A signed-in reader's HTTP client: cookies kept, redirects not followed.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

impl Browser {
    pub(crate) fn new(base: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: Vec::new(),
        }
    }

    fn remember(&mut self, r: &reqwest::Response) {
        for c in r.headers().get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !c.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// GET returning the content type and the raw body.
    pub(crate) async fn download(&mut self, path: &str) -> (u16, String, Vec<u8>) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        let kind = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status().as_u16(), kind, r.bytes().await.unwrap().to_vec())
    }

    pub(crate) async fn get(&mut self, path: &str) -> (u16, String, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.remember(&r);
        let location = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status().as_u16(), location, r.text().await.unwrap())
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, String, String) {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.remember(&r);
        let location = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status().as_u16(), location, r.text().await.unwrap())
    }

    /// Opens the login page and signs in; returns the final status.
    pub(crate) async fn sign_in(
        &mut self,
        next: &str,
        user: &str,
        password: &str,
    ) -> (u16, String, String) {
        let (status, _, page) = self.get(&format!("/login?next={next}")).await;
        assert_eq!(status, 200);
        let csrf = hidden(&page, "csrf");
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("next", next),
                ("username", user),
                ("password", password),
            ],
        )
        .await
    }
}

fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap() + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_open_only_for_their_tenant_after_login() {
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
    let base = app.base_url();
    let path = link.strip_prefix(&base).unwrap().to_owned();
    assert!(
        add_reader(store, &"acme".into(), "alice", "correct horse battery")
            .await
            .unwrap()
    );
    assert!(
        add_reader(store, &"globex".into(), "gina", "another long password")
            .await
            .unwrap()
    );
    assert!(
        !add_reader(store, &"globex".into(), "alice", "yet another password")
            .await
            .unwrap(),
        "names are unique"
    );

    // No session: the link leads to the login page, and back to the report after it.
    let mut b = Browser::new(&base);
    let (status, location, _) = b.get(&path).await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("/login?next=%2Freports%2Facme%2F"),
        "{location}"
    );
    // A form without its CSRF token is refused; so is a wrong password.
    let (status, _, _) = b
        .post(
            "/login",
            &[
                ("csrf", "forged"),
                ("username", "alice"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    let (status, _, page) = b.sign_in(&path, "alice", "wrong").await;
    assert_eq!(status, 401);
    assert!(page.contains("do not match"));
    let (status, location, _) = b.sign_in(&path, "alice", "correct horse battery").await;
    assert_eq!((status, location.as_str()), (303, path.as_str()));
    let (status, _, report) = b.get(&path).await;
    assert_eq!(status, 200, "{report}");
    let c = &invitation["candidate"];
    let ssn = c["nationalId"].as_str().unwrap();
    assert!(
        report.contains(c["firstName"].as_str().unwrap())
            && report.contains(c["lastName"].as_str().unwrap())
    );
    assert!(
        report.contains(&format!("•••-••-{}", &ssn[ssn.len() - 4..])),
        "masked national id"
    );
    assert!(
        !report.contains(ssn) && !report.contains(&ssn.replace('-', "")),
        "no full national id"
    );
    assert!(
        !report.contains(c["dateOfBirth"].as_str().unwrap()),
        "no date of birth"
    );
    for shown in [
        "Employment verification",
        "Education verification",
        "Discrepancy",
        "review",
        "pass",
    ] {
        assert!(report.contains(shown), "{shown} in the report");
    }
    // The same report as a PDF file, linked from the page.
    let pdf_path = format!("{path}?format=pdf");
    // (The template escapes `/` in attributes as `&#x2f;`; a browser reads it back.)
    assert!(
        report.contains(&format!("href=\"{}\"", pdf_path.replace('/', "&#x2f;"))),
        "a download link"
    );
    let (status, kind, pdf) = b.download(&pdf_path).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"));
    if let Some(text) = checkbridge_lab::testing::pdf_text(&pdf) {
        for name in [
            c["firstName"].as_str().unwrap(),
            c["lastName"].as_str().unwrap(),
        ] {
            assert!(text.contains(name), "the candidate's name {name} in {text}");
        }
        assert!(
            text.contains(&format!("•••-••-{}", &ssn[ssn.len() - 4..])),
            "masked national id"
        );
        assert!(
            !text.contains(ssn) && !text.contains(&ssn.replace('-', "")),
            "no full national id"
        );
        assert!(
            !text.contains(c["dateOfBirth"].as_str().unwrap()),
            "no date of birth"
        );
        assert!(text.contains("Employment verification") && text.contains("Discrepancy"));
    }
    // Without a session the file is not served either.
    let (status, _, _) = Browser::new(&base).download(&pdf_path).await;
    assert_eq!(status, 303);

    let views = store.access_records(&"acme".into()).await.unwrap();
    assert!(
        views
            .iter()
            .any(|r| r.action.as_str() == "report_downloaded" && r.actor == "user:alice"),
        "{views:?}"
    );
    assert!(
        views
            .iter()
            .any(|r| r.action.as_str() == "report_viewed" && r.actor == "user:alice"),
        "{views:?}"
    );

    // Another tenant's reader, and a made-up id, get the same 404.
    let mut g = Browser::new(&base);
    let (status, _, _) = g
        .sign_in("/reports/globex/x", "gina", "another long password")
        .await;
    assert_eq!(status, 303);
    let (foreign, _, foreign_body) = g.get(&path).await;
    let (made_up, _, made_up_body) = b
        .get("/reports/acme/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!((foreign, made_up), (404, 404));
    assert_eq!(foreign_body, made_up_body);

    // The operator page: not for readers; an operator sees every tenant and the check's
    // timeline, no candidate data, and no report.
    assert_eq!(b.get("/ops").await.0, 404);
    assert!(add_operator(store, "olive", "operator password 1")
        .await
        .unwrap());
    let mut o = Browser::new(&base);
    let (status, location, _) = o.get("/ops").await;
    assert_eq!((status, location.as_str()), (303, "/login?next=%2Fops"));
    let (status, location, _) = o.sign_in("/ops", "olive", "operator password 1").await;
    assert_eq!((status, location.as_str()), (303, "/ops"));
    let (status, _, ops) = o.get("/ops").await;
    assert_eq!(status, 200, "{ops}");
    for shown in [
        "acme",
        "globex",
        "initech",
        id.as_str(),
        "claimed from PageUp",
        "employment search: completed",
        "No open issues",
        "Error log",
    ] {
        assert!(ops.contains(shown), "{shown} on the operator page");
    }
    for hidden_value in [
        c["firstName"].as_str().unwrap(),
        c["lastName"].as_str().unwrap(),
        ssn,
    ] {
        assert!(
            !ops.contains(hidden_value),
            "candidate data on the operator page"
        );
    }
    let (status, _, narrowed) = o.get("/ops?tenant=globex&since=7d&operation=pageup").await;
    assert_eq!(status, 200);
    assert!(
        !narrowed.contains(id.as_str()),
        "filtered to another tenant"
    );
    assert_eq!(o.get(&path).await.0, 404, "operators read no report");
    let (status, location, _) = o.get("/").await;
    assert_eq!((status, location.as_str()), (303, "/ops"));

    // Failed logins are limited per user name, even with the right password after.
    let mut m = Browser::new(&base);
    for _ in 0..5 {
        assert_eq!(m.sign_in(&path, "gina", "nope").await.0, 401);
    }
    assert_eq!(
        m.sign_in(&path, "gina", "another long password").await.0,
        429
    );

    // Signing out needs the session's CSRF token, and ends the session.
    let (status, _, _) = b.post("/logout", &[("csrf", "forged")]).await;
    assert_eq!(status, 403);
    let csrf = hidden(&report, "csrf");
    let (status, location, _) = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/login"));
    let (status, _, _) = b.get(&path).await;
    assert_eq!(status, 303, "signed out");
    app.finish().await;
}
