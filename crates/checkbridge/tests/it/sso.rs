//! Single sign-on over real HTTP against the identity-provider sandbox: a report link leads
//! to the tenant's provider and back to the same report; each way a sign-in can go wrong is
//! a clear page and no sign-in; a reader signed in through one tenant's provider reads only
//! that tenant's reports.

use std::time::Duration;

use checkbridge::domain::check::AccessAction;
use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use sandbox::idp::{IdpFault, IdpUser};

/// A browser as far as these tests need one: the service's cookies kept, redirects
/// followed by hand.
pub(crate) struct Visitor {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

/// An answer: status, `Location`, body.
type Answer = (u16, String, String);

impl Visitor {
    pub(crate) fn new(base: &str) -> Visitor {
        Visitor {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: Vec::new(),
        }
    }

    fn url(&self, to: &str) -> String {
        if to.starts_with("http") {
            to.to_owned()
        } else {
            format!("{}{to}", self.base)
        }
    }

    async fn answer(&mut self, r: reqwest::Response, ours: bool) -> Answer {
        if ours {
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
        let location = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status().as_u16(), location, r.text().await.unwrap())
    }

    /// GET `to` (a path of the service or a full URL); the service's cookies go only to it.
    pub(crate) async fn get(&mut self, to: &str) -> Answer {
        let url = self.url(to);
        let ours = url.starts_with(&self.base);
        let mut req = self.http.get(&url);
        if ours {
            req = req.header(COOKIE, self.cookie_header());
        }
        let r = req.send().await.unwrap();
        self.answer(r, ours).await
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Opens `report` signed out and follows the way to the provider's sign-in form;
    /// returns the authorize URL the form is for.
    pub(crate) async fn go_to_provider(&mut self, report: &str) -> url::Url {
        let (status, start, _) = self.get(report).await;
        assert_eq!(status, 303, "a signed-out visitor is sent to sign in");
        assert!(start.starts_with("/sso/"), "to single sign-on: {start}");
        let (status, authorize, body) = self.get(&start).await;
        assert_eq!(status, 303, "{body}");
        let (status, _, form) = self.get(&authorize).await;
        assert_eq!(status, 200, "the provider's sign-in form: {form}");
        assert!(form.contains("idp-username"));
        url::Url::parse(&authorize).unwrap()
    }

    /// Signs in at the provider's form; the callback URL the provider sends the browser to.
    pub(crate) async fn at_provider(
        &mut self,
        authorize: &url::Url,
        user: &str,
        password: &str,
    ) -> String {
        let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
        form.push(("username".into(), user.into()));
        form.push(("password".into(), password.into()));
        let mut post = authorize.clone();
        post.set_query(None);
        let r = self.http.post(post).form(&form).send().await.unwrap();
        let (status, callback, body) = self.answer(r, false).await;
        assert_eq!(status, 303, "the provider signed {user} in: {body}");
        assert!(callback.starts_with(&self.base), "back to us: {callback}");
        callback
    }

    /// The whole way: report link -> provider -> callback. The callback's answer and URL.
    pub(crate) async fn sign_in(
        &mut self,
        report: &str,
        user: &str,
        password: &str,
    ) -> (Answer, String) {
        let authorize = self.go_to_provider(report).await;
        let callback = self.at_provider(&authorize, user, password).await;
        (self.get(&callback).await, callback)
    }
}

fn options(tenants: &[&str]) -> LabOptions {
    LabOptions {
        sso_tenants: tenants.iter().map(|t| (*t).to_owned()).collect(),
        sso_timeout_secs: 1,
        ..LabOptions::default()
    }
}

/// A completed check's report path.
async fn report_path(app: &TestApp, tenant: &str, id: &str) -> String {
    let doc = app.final_view(tenant, id).await.document;
    let link = doc["results"].as_array().unwrap().last().unwrap()["reportLink"]
        .as_str()
        .unwrap()
        .to_owned();
    url::Url::parse(&link).unwrap().path().to_owned()
}

async fn sign_ins(app: &TestApp, tenant: &str) -> Vec<String> {
    app.store
        .access_records(&tenant.into())
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == AccessAction::SignedIn)
        .map(|r| r.actor)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_link_signs_in_through_the_tenants_provider_and_returns_to_the_report() {
    for db in TestDb::all().await {
        let mut app = TestApp::prepare(db, options(&["acme", "globex"])).await;
        let acme_check = app.seed("acme", Scenario::Clean, 0);
        let globex_check = app.seed("globex", Scenario::Clean, 1);
        app.start().await;
        let acme_report = report_path(&app, "acme", &acme_check).await;
        let globex_report = report_path(&app, "globex", &globex_check).await;
        let (user, password) = app.lab.sso_user("acme");
        let idp = app.lab.idp.as_ref().unwrap();

        let mut dana = Visitor::new(&app.base_url());
        let ((status, to, body), callback) = dana.sign_in(&acme_report, &user, &password).await;
        assert_eq!(status, 303, "{body}");
        assert_eq!(to, acme_report, "back to the report asked for");
        let (status, _, page) = dana.get(&acme_report).await;
        assert_eq!(status, 200);
        assert!(page.contains("Background check report"), "{page}");
        let (_, _, home) = dana.get("/").await;
        assert!(home.contains("acme:recruiter@acme.example"), "{home}");

        // The access record has the sign-in and the view, each with the provider's subject.
        let subject = IdpUser::new(&user, &password, &[]).subject;
        let records = app.store.access_records(&"acme".into()).await.unwrap();
        let signed_in: Vec<_> = records
            .iter()
            .filter(|r| r.action == AccessAction::SignedIn)
            .collect();
        assert_eq!(signed_in.len(), 1);
        assert_eq!(signed_in[0].check_id.as_str(), acme_check_id(&acme_report));
        assert!(signed_in[0]
            .actor
            .contains(&format!("sso_subject:{subject}")));
        assert!(records
            .iter()
            .any(|r| r.action == AccessAction::ReportViewed
                && r.actor == format!("user:acme:{user} sso_subject:{subject}")));

        // A replayed callback (the same code and state) signs no one in.
        let mut replay = Visitor::new(&app.base_url());
        let state = url::Url::parse(&callback)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        replay.cookies.push(("cb_sso_state".into(), state));
        let (status, _, page) = replay.get(&callback).await;
        assert_eq!(status, 400, "{page}");
        assert!(page.contains("expired or was already used"), "{page}");
        assert_eq!(sign_ins(&app, "acme").await.len(), 1);

        // An acme reader is nobody at globex: the same 404 as for a report that is not there.
        let (status, _, _) = dana.get(&globex_report).await;
        assert_eq!(status, 404);
        let (status, _, _) = dana.get("/reports/acme/no-such-check").await;
        assert_eq!(status, 404);

        // Signing in again is the same reader (linked by issuer and subject), not a new one.
        let mut again = Visitor::new(&app.base_url());
        let ((status, _, _), _) = again.sign_in(&acme_report, &user, &password).await;
        assert_eq!(status, 303);
        let readers = app.store.list_users(0).await.unwrap();
        assert_eq!(
            readers
                .iter()
                .filter(|u| u.username.starts_with("acme:"))
                .count(),
            1
        );

        // globex's recruiter at acme's link: the IdP knows them, acme does not allow them.
        let (g_user, g_password) = app.lab.sso_user("globex");
        let ((status, _, page), _) = Visitor::new(&app.base_url())
            .sign_in(&acme_report, &g_user, &g_password)
            .await;
        assert_eq!(status, 403, "{page}");
        assert_eq!(idp.state.fault(), None);
        app.finish().await;
    }
}

fn acme_check_id(report: &str) -> &str {
    report
        .trim_start_matches("/reports/acme/")
        .split('/')
        .next()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_sign_in_is_a_clear_page_and_signs_no_one_in() {
    let mut app = TestApp::prepare(TestDb::sqlite(), options(&["acme", "globex"])).await;
    let mut config = app.config();
    config
        .tenants
        .get_mut("globex")
        .unwrap()
        .sso
        .as_mut()
        .unwrap()
        .max_pending = 2;
    app.start_with(&config).await;
    let base = app.base_url();
    let report = "/reports/acme/some-check";
    let (user, password) = app.lab.sso_user("acme");
    let idp = app.lab.idp.as_ref().unwrap().state.clone();
    idp.add_user(IdpUser::new(
        "eve@evil.example",
        "eve-password",
        &["recruiters"],
    ));
    idp.add_user(IdpUser::new("sam@acme.example", "sam-password", &["sales"]));

    // The provider is down before anything was fetched from it: discovery times out.
    idp.set_fault(Some(IdpFault::Down));
    let mut v = Visitor::new(&base);
    let (status, start, _) = v.get(report).await;
    assert_eq!(status, 303);
    let started = std::time::Instant::now();
    let (status, _, page) = v.get(&start).await;
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("not answering"), "{page}");
    assert!(started.elapsed() < Duration::from_secs(10));
    idp.set_fault(None);

    // A wrong state (not the one this browser started with).
    let mut v = Visitor::new(&base);
    let authorize = v.go_to_provider(report).await;
    let callback = v.at_provider(&authorize, &user, &password).await;
    let mut forged = url::Url::parse(&callback).unwrap();
    let code: String = forged
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    forged.set_query(Some(&format!("code={code}&state=forged-state")));
    let (status, _, page) = v.get(forged.as_str()).await;
    assert_eq!(status, 400, "{page}");
    // ... nor a state this service never issued, even with a cookie to match.
    let mut w = Visitor::new(&base);
    w.cookies
        .push(("cb_sso_state".into(), "forged-state".into()));
    let (status, _, _) = w.get(forged.as_str()).await;
    assert_eq!(status, 400);

    // Tokens that do not check out: another audience, expired, a bad signature.
    for fault in [
        IdpFault::WrongAudience,
        IdpFault::Expired,
        IdpFault::BadSignature,
    ] {
        idp.set_fault(Some(fault));
        let ((status, _, page), _) = Visitor::new(&base).sign_in(report, &user, &password).await;
        assert_eq!(status, 401, "{fault:?}: {page}");
        assert!(page.contains("could not be verified"), "{page}");
        assert!(!page.contains("eyJ"), "no token on the page");
    }
    idp.set_fault(None);

    // Users the provider knows but the tenant does not allow.
    for (who, pw) in [
        ("eve@evil.example", "eve-password"),
        ("sam@acme.example", "sam-password"),
    ] {
        let ((status, _, page), _) = Visitor::new(&base).sign_in(report, who, pw).await;
        assert_eq!(status, 403, "{who}: {page}");
        assert!(page.contains("not one allowed"), "{page}");
    }

    // The provider goes down between the form and the code exchange.
    let mut v = Visitor::new(&base);
    let authorize = v.go_to_provider(report).await;
    let callback = v.at_provider(&authorize, &user, &password).await;
    idp.set_fault(Some(IdpFault::Down));
    let (status, _, page) = v.get(&callback).await;
    assert_eq!(status, 503, "{page}");
    idp.set_fault(None);

    // Sign-ins in progress are bounded per tenant.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let mut v = Visitor::new(&base);
        let (_, start, _) = v.get("/reports/globex/x").await;
        statuses.push(v.get(&start).await.0);
    }
    assert_eq!(statuses, [303, 303, 503]);

    // None of it was a sign-in, and no reader was made.
    assert_eq!(sign_ins(&app, "acme").await, Vec::<String>::new());
    assert!(app
        .store
        .list_users(0)
        .await
        .unwrap()
        .iter()
        .all(|u| !u.username.starts_with("acme:")));
    // A session cookie was never handed out.
    let mut v = Visitor::new(&base);
    let (status, _, _) = v.get(report).await;
    assert_eq!(status, 303);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotated_at_the_provider_are_fetched_again_and_passwords_can_be_turned_off() {
    let mut app = TestApp::prepare(TestDb::sqlite(), options(&["acme"])).await;
    let mut config = app.config();
    config
        .tenants
        .get_mut("acme")
        .unwrap()
        .sso
        .as_mut()
        .unwrap()
        .password_sign_in = false;
    app.start_with(&config).await;
    let (user, password) = app.lab.sso_user("acme");
    let report = "/reports/acme/some-check";
    let ((status, _, _), _) = Visitor::new(&app.base_url())
        .sign_in(report, &user, &password)
        .await;
    assert_eq!(status, 303);
    // The provider rotates its key: the cached JWKS lacks the new kid, so it is fetched again.
    app.lab.idp.as_ref().unwrap().state.rotate_key().unwrap();
    let ((status, to, page), _) = Visitor::new(&app.base_url())
        .sign_in(report, &user, &password)
        .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(to, report);

    // acme's password readers cannot sign in with a password any more.
    checkbridge::admin::users::add_reader(&app.store, &"acme".into(), "pat", "pat's long password")
        .await
        .unwrap();
    let mut b = crate::reports::Browser::new(&app.base_url());
    assert_eq!(b.sign_in("/", "pat", "pat's long password").await.0, 401);
    app.finish().await;
}
