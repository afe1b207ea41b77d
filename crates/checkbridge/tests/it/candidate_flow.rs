//! The candidate's part end to end over real HTTP and real SMTP: a minimal invitation (names,
//! email, job, package) is claimed, PageUp shows it waiting on the candidate, the invitation
//! mail reaches the mail sandbox, its link is followed and the form filled as a candidate
//! would (step by step, with the CSRF cookie), and Theary receives an order with the SSN,
//! the addresses, the history and a signed release PDF; PageUp ends `completed`. A second
//! submission and a guessed token get the same closed page.

use std::time::Duration;

use checkbridge_lab::testing::{eventually, pdf_text, TestApp, TestDb};
use checkbridge_lab::LabOptions;
use serde_json::{json, Value};

const FIRST: &str = "Łukasz";
const LAST: &str = "Nguyễn";

struct Browser {
    http: reqwest::Client,
    base: String,
    csrf: String,
}

impl Browser {
    /// GETs `path`, keeping the page's CSRF cookie; the status, Location and body.
    async fn get(&mut self, path: &str) -> (u16, String, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        if let Some(c) = r
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("cb_candidate_csrf="))
        {
            self.csrf = c.split(';').next().unwrap_or("").to_owned();
        }
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, location, r.text().await.unwrap())
    }

    /// POSTs `fields` (with the CSRF token) to `path`.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &self.csrf));
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(
                reqwest::header::COOKIE,
                format!("cb_candidate_csrf={}", self.csrf),
            )
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, location, r.text().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_minimal_invitation_is_completed_through_the_candidate_form() {
    for db in TestDb::all().await {
        minimal_invitation_through_the_form(db).await;
    }
}

async fn minimal_invitation_through_the_form(db: TestDb) {
    let mut app = TestApp::prepare(db, LabOptions::default()).await;
    let mail = sandbox::mail::spawn(sandbox::mail::MailConfig {
        users: vec![("checkbridge".into(), "mail-password-1".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut config = app.config();
    config.mail = Some(checkbridge_lab::candidate::mail_config(
        mail.smtp_addr(),
        Some(("checkbridge", "mail-password-1")),
    ));
    let tenant = app.lab.tenant("acme").unwrap().pageup_id.clone();
    let id = app.lab.pageup.state.seed(
        &tenant,
        json!({
            "packageCode": "EMP", "checkTypes": ["EMPLOYMENT"],
            "candidate": { "firstName": FIRST, "lastName": LAST, "email": "lukasz@candidate.example" },
            "job": { "title": "Payroll Analyst", "worksite": { "city": "Austin", "state": "TX" }, "salary": 70000 }
        }),
    );
    app.start_with(&config).await;

    // PageUp shows it waiting on the candidate: `new`, our reference, one partial row.
    let waiting = eventually(
        Duration::from_secs(30),
        "PageUp shows the check waiting",
        || async {
            let c = app.lab.pageup_check("acme", &id)?;
            (c.status == "new").then_some(c)
        },
    )
    .await;
    assert_eq!(
        waiting.document["results"][0]["reportType"],
        "Candidate form"
    );
    let row = waiting.document["results"][0]["status"].as_str().unwrap();
    assert!(row.starts_with("awaiting candidate since 20"), "{row}");
    let our_ref = waiting.document["referenceNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!our_ref.is_empty());
    assert_eq!(
        app.lab.theary.state.order_count("acme"),
        0,
        "nothing ordered yet"
    );

    // The invitation mail, with the link in both parts and nothing else personal.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let listing = format!("{}/messages", mail.base_url());
    let message: Value = eventually(Duration::from_secs(30), "the invitation mail", || async {
        let list: Vec<Value> = http
            .get(&listing)
            .query(&[("to", "lukasz@candidate.example")])
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        list.into_iter().next()
    })
    .await;
    let text = message["text"].as_str().unwrap_or_default().to_owned();
    assert!(text.contains(FIRST), "{text}");
    assert!(!text.contains(LAST), "only the first name: {text}");
    assert!(
        message["subject"]
            .as_str()
            .unwrap()
            .contains("Payroll Analyst"),
        "{message}"
    );
    let base = app.base_url();
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{base}/candidate/")))
        .unwrap()
        .to_owned();
    let path = link.strip_prefix(&base).unwrap().to_owned();
    let token = path.rsplit('/').next().unwrap();
    assert!(
        message["html"].as_str().unwrap_or_default().contains(token),
        "the link in both parts"
    );

    // The form, step by step, as a browser without JavaScript would post it.
    let mut b = Browser {
        http: http.clone(),
        base: base.clone(),
        csrf: String::new(),
    };
    let (status, location, _) = b.get(&path).await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{path}/personal").as_str())
    );
    let (status, _, page) = b.get(&format!("{path}/personal")).await;
    assert_eq!(status, 200);
    assert!(page.contains(FIRST), "pre-filled with PageUp's names");
    // A post without the CSRF token changes nothing.
    let no_csrf = http
        .post(format!("{base}{path}/personal"))
        .form(&[("first_name", FIRST)])
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status().as_u16(), 403);
    let personal = [
        ("first_name", FIRST),
        ("middle_name", ""),
        ("last_name", LAST),
        ("date_of_birth", "1990-04-12"),
        ("ssn", "512-44-7788"),
        ("ssn_confirm", "512447788"),
    ];
    // A mistyped confirmation is shown again, the SSN never echoed.
    let mut wrong = personal;
    wrong[5] = ("ssn_confirm", "512-44-7780");
    let (status, _, page) = b.post(&format!("{path}/personal"), &wrong).await;
    assert_eq!(status, 422);
    for shown in ["512-44-7788", "512447788", "512-44-7780"] {
        assert!(!page.contains(shown), "never shown back: {shown}");
    }
    let (status, location, _) = b.post(&format!("{path}/personal"), &personal).await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{path}/addresses").as_str())
    );

    b.get(&format!("{path}/addresses")).await;
    let (status, location, page) = b
        .post(
            &format!("{path}/addresses"),
            &[
                ("addr_rows", "1"),
                ("addr_0_street", "1 Main St"),
                ("addr_0_street2", ""),
                ("addr_0_city", "Austin"),
                ("addr_0_state", "TX"),
                ("addr_0_zip", "73301"),
                ("addr_0_from", "2012-03"),
                ("addr_0_to", ""),
                ("current", "0"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{path}/history").as_str()),
        "{page}"
    );

    b.get(&format!("{path}/history")).await;
    let (status, location, page) = b
        .post(
            &format!("{path}/history"),
            &[
                ("emp_rows", "1"),
                ("emp_0_employer", "Globex Payroll"),
                ("emp_0_position", "Analyst"),
                ("emp_0_city", "Austin"),
                ("emp_0_state", "TX"),
                ("emp_0_start", "2016-01"),
                ("emp_0_end", ""),
                ("emp_0_current", "yes"),
                ("edu_rows", "1"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{path}/disclosure").as_str()),
        "{page}"
    );

    let (_, _, page) = b.get(&format!("{path}/disclosure")).await;
    assert!(
        page.contains("counsel"),
        "the shipped disclosure says it must be reviewed"
    );
    let (status, location, _) = b
        .post(&format!("{path}/disclosure"), &[("acknowledge", "yes")])
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{path}/authorization").as_str())
    );

    b.get(&format!("{path}/authorization")).await;
    let (status, _, _) = b
        .post(
            &format!("{path}/authorization"),
            &[("signature", "Lukasz Nguyen"), ("consent", "yes")],
        )
        .await;
    assert_eq!(status, 422, "the signature must be the legal name");
    let signature = format!("{FIRST} {LAST}");
    let (status, _, page) = b
        .post(
            &format!("{path}/authorization"),
            &[("signature", signature.as_str()), ("consent", "yes")],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    // Posted twice: the link is used up; a guessed token looks the same.
    let (again, _, closed) = b
        .post(
            &format!("{path}/authorization"),
            &[("signature", signature.as_str()), ("consent", "yes")],
        )
        .await;
    let (guessed, _, guessed_page) = b.get("/candidate/not-a-real-token-at-all").await;
    assert_eq!((again, guessed), (404, 404));
    assert_eq!(closed, guessed_page);

    // Theary gets one order with what the candidate gave and the signed release.
    let view = app.final_view("acme", &id).await;
    assert_eq!(view.status, "completed", "{:?}", view.document);
    let statuses: Vec<&str> = view.history.iter().map(|h| h.to.as_str()).collect();
    assert_eq!(statuses.first(), Some(&"queued"));
    assert!(statuses.contains(&"new"), "{statuses:?}");
    assert_ne!(
        view.document["referenceNumber"],
        our_ref.as_str(),
        "Theary's reference now"
    );
    let orders = app.lab.theary.state.orders("acme");
    assert_eq!(orders.len(), 1);
    // The sandbox keeps only the last four of an SSN it received.
    assert_eq!(orders[0]["applicant"]["ssn"], "***-**-7788");
    assert!(
        app.lab.theary.state.release_references("acme")[0].is_some(),
        "the order named a signed release"
    );
    // The order as POSTed (sealed in our store): what the candidate gave, and the PDF.
    let key = checkbridge::domain::ids::TenantKey::from("acme");
    let check = app.store.find_check(&key, &id).await.unwrap().unwrap();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db().url).await.unwrap();
    let sealed: String = sqlx::Row::get(
        &sqlx::query("SELECT order_json FROM check_orders WHERE check_id = $1")
            .bind(check.id.as_str())
            .fetch_one(&pool)
            .await
            .unwrap(),
        "order_json",
    );
    let order: Value = serde_json::from_str(
        &app.engine()
            .keyring()
            .open_text(checkbridge::crypto::Place::order(&key, &check.id), &sealed)
            .await
            .unwrap(),
    )
    .unwrap();
    let applicant = &order["applicant"];
    assert_eq!(applicant["ssn"], "512-44-7788");
    assert_eq!(applicant["birthday"], "1990-04-12");
    assert_eq!(applicant["addresses"][0]["addressState"], "TX");
    assert_eq!(applicant["addresses"][0]["startDate"], "2012-03-01");
    assert_eq!(
        order["history"]["employment"][0]["employerName"],
        "Globex Payroll"
    );
    let release = applicant["signedReleaseFileUrl"].as_str().unwrap();
    let pdf = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        release
            .strip_prefix("data:application/pdf;base64,")
            .unwrap(),
    )
    .unwrap();
    assert!(pdf.starts_with(b"%PDF") && pdf.len() <= 10 * 1024 * 1024);
    if let Some(text) = pdf_text(&pdf) {
        assert!(
            text.contains(&signature),
            "the e-signature, exactly: {text}"
        );
        assert!(
            text.contains("SHA-256") || text.contains("sha256") || text.contains("SHA256"),
            "{text}"
        );
    }
    // The report page tells the candidate step to a reader of the tenant.
    let password = checkbridge::admin::users::generate_password();
    checkbridge::admin::users::add_reader(&app.store, &key, "acme-reader", &password)
        .await
        .unwrap();
    let login = http.get(format!("{base}/login")).send().await.unwrap();
    let login_csrf = login
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("cb_login_csrf="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .unwrap();
    let signed = http
        .post(format!("{base}/login"))
        .header(
            reqwest::header::COOKIE,
            format!("cb_login_csrf={login_csrf}"),
        )
        .form(&[
            ("csrf", login_csrf.as_str()),
            ("username", "acme-reader"),
            ("password", password.as_str()),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    let session = signed
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("cb_session="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .unwrap();
    let report = http
        .get(format!("{base}/reports/acme/{}", check.id))
        .header(reqwest::header::COOKIE, format!("cb_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        report.contains("candidate form: submitted and signed")
            && report.contains("candidate form: the candidate is invited"),
        "{report}"
    );
    // The signed release opens from the report page for a reader of the tenant.
    let release = http
        .get(format!("{base}/reports/acme/{}?format=release", check.id))
        .header(reqwest::header::COOKIE, format!("cb_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(release.status().as_u16(), 200);
    assert_eq!(
        release.headers()[reqwest::header::CONTENT_TYPE],
        "application/pdf"
    );
    assert!(release.bytes().await.unwrap().starts_with(b"%PDF"));
    assert!(report.contains("?format=release"), "linked from the report");
    let anonymous = http
        .get(format!("{base}/reports/acme/{}?format=release", check.id))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 303, "a sign-in first");
    // What the request held is gone; the access record tells the candidate's steps.
    let request = app
        .store
        .candidate_request(&key, &check.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.state, "submitted");
    assert!(request.token_sealed.is_none() && request.invitation_sealed.is_none());
    app.finish().await;
}

/// The mail sandbox's messages to `to`, oldest first.
async fn mails_to(base: &str, to: &str) -> Vec<Value> {
    reqwest::Client::new()
        .get(format!("{base}/messages"))
        .query(&[("to", to)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_go_out_with_the_same_link_and_an_unanswered_request_expires_purged() {
    let app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
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
            "candidate": { "firstName": "Ana", "lastName": "Ruiz", "email": "ana@candidate.example" },
            "job": { "title": "Driver", "worksite": { "city": "Austin", "state": "TX" }, "salary": 50000 }
        }),
    );
    // Driven step by step: poll, then the candidate mailer's passes.
    let engine = app.engine_only(&config).await;
    let key = checkbridge::domain::ids::TenantKey::from("acme");
    assert_eq!(engine.poll_tenant(&key).await.unwrap().claimed, 1);
    assert_eq!(app.lab.pageup_check("acme", &id).unwrap().status, "new");
    let first = engine.candidate_step().await.unwrap();
    assert_eq!(first.sent, 1, "{first:?}");
    assert_eq!(
        engine.candidate_step().await.unwrap().sent,
        0,
        "the first reminder is days away"
    );

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db().url).await.unwrap();
    let check = app.store.find_check(&key, &id).await.unwrap().unwrap();
    // The reminder's day has come.
    sqlx::query("UPDATE candidate_requests SET mail_due_at = 1 WHERE check_id = $1")
        .bind(check.id.as_str())
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(engine.candidate_step().await.unwrap().sent, 1);
    let mails = mails_to(&mail.base_url(), "ana@candidate.example").await;
    assert_eq!(mails.len(), 2);
    assert!(
        mails[1]["subject"]
            .as_str()
            .unwrap()
            .starts_with("Reminder:"),
        "{}",
        mails[1]
    );
    let link = |m: &Value| {
        m["text"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .find(|w| w.contains("/candidate/"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(link(&mails[0]), link(&mails[1]), "the same link");
    assert_ne!(mails[0]["message_id"], mails[1]["message_id"]);
    // An operator resends it: a third mail, the same link again.
    let (_, resent) = checkbridge::admin::checks::resend_invite(&app.store, &key, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(resent);
    assert_eq!(engine.candidate_step().await.unwrap().sent, 1);
    let mails = mails_to(&mail.base_url(), "ana@candidate.example").await;
    assert_eq!(mails.len(), 3);
    assert_eq!(link(&mails[2]), link(&mails[0]));
    let links = checkbridge::domain::view::ReportLinks::new(&config.service.public_base_url);
    let detail =
        checkbridge::admin::checks::detail(&app.store, &links, &config.tenants["acme"], &key, &id)
            .await
            .unwrap()
            .unwrap();
    let step = detail.candidate.unwrap();
    assert_eq!(
        (step.state.as_str(), step.mails_sent, step.reminders_sent),
        ("invited", 3, 2)
    );
    assert!(step.asked.contains(&"ssn".to_owned()), "{:?}", step.asked);

    // Nobody answers: at the deadline the check expires and the request's data is purged.
    sqlx::query("UPDATE candidate_requests SET expires_at = 2 WHERE check_id = $1")
        .bind(check.id.as_str())
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(engine.candidate_step().await.unwrap().expired, 1);
    engine.push_step().await.unwrap();
    let view = app.lab.pageup_check("acme", &id).unwrap();
    assert_eq!(view.status, "expired", "{:?}", view.document);
    let request = app
        .store
        .candidate_request(&key, &check.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.state, "expired");
    assert!(request.token_sealed.is_none() && request.invitation_sealed.is_none());
    let actions: Vec<String> = app
        .store
        .access_records(&key)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.check_id == check.id)
        .map(|a| a.action.to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "procured",
            "candidate_invited",
            "candidate_invited",
            "candidate_invited",
            "candidate_expired"
        ]
    );
    assert_eq!(app.lab.theary.state.order_count("acme"), 0, "never ordered");
    app.finish().await;
}
