//! What a stranger on the internet can cost the service, one regression test per finding
//! (issue 19): read timeouts and the connection cap, bounded refused-request logging,
//! replays under a fresh event id, `/metrics` behind its token, webhook answers that do not
//! tell which tenants exist, and the security headers on every route. Each test prints the
//! figure it measured.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use checkbridge::admin::users::{add_operator, add_reader};
use checkbridge_lab::testing::{order_secret, TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario, METRICS_TOKEN};
use futures::StreamExt as _;
use serde_json::{json, Value};
use theary::signature::sign;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or `limit` passes); what it sent.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

async fn post_json(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> (u16, Vec<u8>) {
    let mut req = http.post(url).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req.body(body).send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

fn event(event_type: &str, data: Value) -> Vec<u8> {
    serde_json::to_vec(
        &json!({ "event": event_type, "occurredAt": "2026-11-23T10:00:00Z", "data": data }),
    )
    .unwrap()
}

/// The service with `[http]` changed by `f`, one acme check ordered (still open).
async fn app_with(f: impl FnOnce(&mut checkbridge::config::HttpConfig)) -> (TestApp, String) {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let id = app.seed("acme", Scenario::Cancelled, 0);
    let mut config = app.config();
    f(&mut config.http);
    app.start_with(&config).await;
    app.wait_for(Duration::from_secs(30), "acme ordered", || async {
        let a = app.lab.pageup_check("acme", &id)?;
        (a.status == "new" && app.lab.theary.state.order_count("acme") == 1).then_some(())
    })
    .await;
    (app, id)
}

/// The SQLite database's size as SQLite sees it (pages in use, the write-ahead log included).
async fn sqlite_bytes(url: &str) -> i64 {
    use sqlx::Row as _;
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let row = sqlx::query(
        "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let n: i64 = row.try_get("n").unwrap();
    pool.close().await;
    n
}

fn addr(app: &TestApp) -> SocketAddr {
    app.running().addr.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_slow_bodies_and_idle_connections_are_cut_off() {
    let (app, _) = app_with(|h| {
        h.header_timeout_secs = 1;
        h.body_timeout_secs = 1;
    })
    .await;
    let addr = addr(&app);

    // Headers sent a byte at a time, never finished: closed after the header timeout.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let trickle = async {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow.write_all(b"X").await.is_err() {
                break;
            }
        }
    };
    // The trickle runs until the server closes; then the next read sees the end.
    let _ = tokio::time::timeout(Duration::from_secs(15), trickle).await;
    let closed = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    let took = started.elapsed();
    println!("slow headers closed after {:.2} s", took.as_secs_f64());
    assert!(closed.is_some(), "the slow-header connection was closed");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );

    // A body sent a byte at a time: answered 408 after the body timeout.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    slow.write_all(
        b"POST /webhooks/theary/acme HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let _ = slow.write_all(b" ").await;
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(200), slow.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    }
    let took = started.elapsed();
    let head = String::from_utf8_lossy(&answer).to_string();
    println!(
        "slow body answered {:?} after {:.2} s",
        head.lines().next(),
        took.as_secs_f64()
    );
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );

    // A kept-alive connection left idle after its request: closed after the header timeout.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let got = read_until_closed(&mut idle, Duration::from_secs(15)).await;
    let took = started.elapsed();
    println!(
        "idle keep-alive connection closed after {:.2} s",
        took.as_secs_f64()
    );
    let got = String::from_utf8_lossy(&got.expect("the idle connection was closed")).to_string();
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    app.finish_owing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_closed_and_healthz_answers_again_after() {
    let (app, _) = app_with(|h| h.max_connections = 8).await;
    let addr = addr(&app);
    // Eight kept-alive connections, each with one answered request (so each is accepted).
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = c.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(c);
    }
    // The ninth is closed as soon as it is accepted, without an answer.
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let got = read_until_closed(&mut extra, Duration::from_secs(10)).await;
    println!(
        "connection 9 of a cap of 8 closed after {:.3} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(got.as_deref(), Some(&b""[..]), "closed without an answer");
    // One held connection closes: a new one is served again.
    drop(held.pop());
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/healthz");
    app.wait_for(Duration::from_secs(10), "healthz answers again", || async {
        let r = http.get(&url).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    drop(held);
    app.finish_owing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_refused_webhooks_leave_a_small_bounded_error_log() {
    let (app, pageup_id) = app_with(|h| h.refused_log_per_minute = 10).await;
    let (store, running) = (&app.store, app.running());
    let (_, search, _) = order_secret(store, &running.engine, "acme", &pageup_id).await;
    let body = event(
        "verification.completed",
        json!({ "externalSearchId": search.id, "status": "COMPLETED" }),
    );
    let url = format!("{}/webhooks/theary/acme", app.base_url());
    let http = reqwest::Client::new();
    // Unsigned, each with a 60 KB event id of the caller's choosing.
    let big_id = "E".repeat(60 * 1024);
    let db_before = sqlite_bytes(&app.db().url).await;
    let started = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(0..1_000)
        .map(|i| {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            let id = format!("{i}-{big_id}");
            async move { post_json(&http, &url, body, &[("x-event-id", id)]).await.0 }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 401), "all refused");
    // A head over `max_header_bytes` (64 KiB) is refused before any handler sees it.
    let (status, _) = post_json(
        &http,
        &url,
        body.clone(),
        &[("x-event-id", "E".repeat(100 * 1024))],
    )
    .await;
    println!("a 100 KB header: {status}");
    assert_eq!(status, 431);
    let minutes = started.elapsed().as_secs() / 60 + 2;
    let rows = store.errors(&"acme".into(), 0).await.unwrap();
    let refused: Vec<_> = rows
        .iter()
        .filter(|e| e.operation == "webhook.refused")
        .collect();
    let bytes: usize = refused
        .iter()
        .map(|e| e.operation.len() + e.message.len() + e.correlation.len() + 8 * 3)
        .sum();
    let db_after = sqlite_bytes(&app.db().url).await;
    println!(
        "1,000 refused webhooks in {:.1} s: {} error-log rows, {} bytes; database {} -> {} bytes",
        started.elapsed().as_secs_f64(),
        refused.len(),
        bytes,
        db_before,
        db_after
    );
    assert!(
        db_after.saturating_sub(db_before) < 256 * 1024,
        "the database grew {} bytes",
        db_after.saturating_sub(db_before)
    );
    assert!(!refused.is_empty(), "refusals are still visible");
    assert!(
        refused.len() as u64 <= 10 * minutes,
        "rate-limited: {} rows",
        refused.len()
    );
    assert!(bytes < 20_000, "{bytes} bytes");
    assert!(
        refused
            .iter()
            .all(|e| e.message == "invalid_signature" && !e.correlation.contains("EEEE")),
        "a fixed-size summary, none of the caller's values"
    );
    // Kept hours, not years: a purge a day later removes them.
    let later = checkbridge::time::now_ms() + 25 * 3_600_000;
    running.engine.purge_step(later).await.unwrap();
    let left = store
        .errors(&"acme".into(), 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.operation == "webhook.refused")
        .count();
    println!("refused rows left a day later: {left}");
    assert_eq!(left, 0);
    app.finish_owing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_body_under_a_fresh_event_id_is_a_duplicate() {
    for db in TestDb::all().await {
        let mut app = TestApp::prepare(db, LabOptions::default()).await;
        let id = app.seed("acme", Scenario::Cancelled, 0);
        app.start().await;
        app.wait_for(Duration::from_secs(30), "acme ordered", || async {
            (app.lab.theary.state.order_count("acme") == 1).then_some(())
        })
        .await;
        let (store, running) = (&app.store, app.running());
        let (_, search, secret) = order_secret(store, &running.engine, "acme", &id).await;
        let url = format!("{}/webhooks/theary/acme", app.base_url());
        let http = reqwest::Client::new();
        let note = event(
            "verification.notification",
            json!({ "searchId": "search_r", "externalSearchId": search.id, "type": "CONTACT_PLAN" }),
        );
        let headers = |id: &str| {
            vec![
                ("x-webhook-signature", sign(&secret, &note)),
                ("x-event-id", id.to_owned()),
            ]
        };
        let (status, first) = post_json(&http, &url, note.clone(), &headers("r-1")).await;
        let first: Value = serde_json::from_slice(&first).unwrap();
        assert_eq!((status, first["duplicate"].as_bool()), (200, Some(false)));
        let mut duplicates = 0;
        for i in 2..=8 {
            let (status, again) =
                post_json(&http, &url, note.clone(), &headers(&format!("r-{i}"))).await;
            let again: Value = serde_json::from_slice(&again).unwrap();
            assert_eq!(status, 200);
            if again["duplicate"] == true {
                duplicates += 1;
            }
            assert!(!store.has_event(&format!("r-{i}")).await.unwrap());
        }
        let stored = store
            .webhook_events(&"acme".into(), &search.id)
            .await
            .unwrap()
            .iter()
            .filter(|(id, _)| id.starts_with("r-"))
            .count();
        // (The sandbox may deliver its own events for the search meanwhile: only ours count.)
        println!(
            "7 replays under fresh ids: {duplicates} answered duplicate, {stored} event stored"
        );
        assert_eq!(duplicates, 7);
        assert_eq!(stored, 1);
        app.finish_owing().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_and_webhooks_do_not_tell_which_tenants_exist() {
    let (app, _) = app_with(|_| {}).await;
    let base = app.base_url();
    let http = reqwest::Client::new();
    let url = format!("{base}/metrics");
    let none = http.get(&url).send().await.unwrap();
    let wrong = http
        .get(&url)
        .bearer_auth("not-the-token-at-all")
        .send()
        .await
        .unwrap();
    let right = http
        .get(&url)
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    println!(
        "/metrics: no token {}, wrong token {}, the token {}",
        none.status(),
        wrong.status(),
        right.status()
    );
    assert_eq!(none.status(), 401);
    assert!(!none.text().await.unwrap().contains("tenant="));
    assert_eq!(wrong.status(), 401);
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("tenant=\"acme\""));

    // Unknown tenant and unknown search: the same status and the same bytes.
    let body = event(
        "verification.completed",
        json!({ "externalSearchId": "no-such-search" }),
    );
    let headers = [
        ("x-webhook-signature", sign(b"whatever", &body)),
        ("x-event-id", "probe-1".to_owned()),
    ];
    let known = post_json(
        &http,
        &format!("{base}/webhooks/theary/acme"),
        body.clone(),
        &headers,
    )
    .await;
    let unknown = post_json(
        &http,
        &format!("{base}/webhooks/theary/nosuchtenant"),
        body.clone(),
        &headers,
    )
    .await;
    let typed = post_json(
        &http,
        &format!("{base}/webhooks/theary/nosuchtenant/EMPLOYMENT"),
        body,
        &headers,
    )
    .await;
    println!(
        "unknown search {} {}, unknown tenant {} {}",
        known.0,
        String::from_utf8_lossy(&known.1),
        unknown.0,
        String::from_utf8_lossy(&unknown.1)
    );
    assert_eq!(known.0, 404);
    assert_eq!(known, unknown);
    assert_eq!(known, typed);
    // Malformed JSON is answered alike too.
    let bad = b"{not json".to_vec();
    let a = post_json(
        &http,
        &format!("{base}/webhooks/theary/acme"),
        bad.clone(),
        &[],
    )
    .await;
    let b = post_json(
        &http,
        &format!("{base}/webhooks/theary/nosuchtenant"),
        bad,
        &[],
    )
    .await;
    assert_eq!(a, b);
    app.finish_owing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_without_a_configured_token_answer_nobody() {
    let (app, _) = app_with(|h| h.metrics_token = None).await;
    let r = reqwest::Client::new()
        .get(format!("{}/metrics", app.base_url()))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    println!("/metrics with no token configured: {}", r.status());
    assert_eq!(r.status(), 404);
    app.finish_owing().await;
}

/// A signed-in client's cookie header.
async fn sign_in(http: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let r = http.get(format!("{base}/login")).send().await.unwrap();
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let page = r.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let csrf = page[start..].split('"').next().unwrap().to_owned();
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", csrf.as_str()),
            ("next", "/ops"),
            ("username", user),
            ("password", password),
        ])
        .finish();
    let r = http
        .post(format!("{base}/login"))
        .header("cookie", cookies.join("; "))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .filter(|c| !c.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_carries_the_security_headers_and_next_is_safe() {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let id = app.seed("acme", Scenario::Clean, 0);
    app.start().await;
    let doc = app.view_in("acme", &id, "completed").await.document;
    let link = doc["results"].as_array().unwrap().last().unwrap()["reportLink"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = app.base_url();
    let report = link.strip_prefix(&base).unwrap().to_owned();
    let store = &app.store;
    assert!(
        add_reader(store, &"acme".into(), "rita", "correct horse battery")
            .await
            .unwrap()
    );
    assert!(add_operator(store, "otto", "another long password")
        .await
        .unwrap());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let reader = sign_in(&http, &base, "rita", "correct horse battery").await;
    let operator = sign_in(&http, &base, "otto", "another long password").await;
    let search_page = format!("{report}/{}", report.rsplit('/').next().unwrap());
    // Every route the service has, signed in and not, plus one it does not have.
    let routes: Vec<(&str, String, &str)> = vec![
        ("GET", "/".into(), ""),
        ("GET", "/".into(), reader.as_str()),
        ("GET", "/login".into(), ""),
        ("GET", "/login?next=%2Fops".into(), ""),
        ("POST", "/login".into(), ""),
        ("POST", "/logout".into(), ""),
        ("GET", report.clone(), ""),
        ("GET", report.clone(), reader.as_str()),
        ("GET", format!("{report}?format=pdf"), reader.as_str()),
        ("GET", search_page, reader.as_str()),
        ("GET", "/ops".into(), ""),
        ("GET", "/ops".into(), operator.as_str()),
        ("GET", "/healthz".into(), ""),
        ("GET", "/readyz".into(), ""),
        ("GET", "/metrics".into(), ""),
        ("POST", "/webhooks/theary/acme".into(), ""),
        ("POST", "/webhooks/theary/acme/EMPLOYMENT".into(), ""),
        ("GET", "/static/style.css".into(), ""),
        ("GET", "/no/such/page".into(), ""),
    ];
    let mut checked = 0;
    for (method, path, cookie) in &routes {
        let req = match *method {
            "GET" => http.get(format!("{base}{path}")),
            _ => http.post(format!("{base}{path}")).body("{}"),
        };
        let r = req.header("cookie", *cookie).send().await.unwrap();
        let h = r.headers();
        let get = |name: &str| {
            h.get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let what = format!(
            "{method} {path} (signed in: {}) -> {}",
            !cookie.is_empty(),
            r.status()
        );
        let csp = get("content-security-policy");
        assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
        assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(get("x-frame-options"), "DENY", "{what}");
        assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
        if path != "/static/style.css" {
            assert!(get("cache-control").contains("no-store"), "{what}");
        }
        let html = get("content-type").starts_with("text/html");
        let body = r.text().await.unwrap();
        if html {
            assert!(
                !body.contains("<script") && !body.contains("<style") && !body.contains("style="),
                "{what}: nothing inline"
            );
        }
        println!("{what}: headers present");
        checked += 1;
    }
    println!("security headers checked on {checked} routes");

    // A next holding CR, LF or NUL, another host or a scheme sends the reader to /.
    for next in [
        "/reports/acme/x\r\nSet-Cookie: a=b",
        "/reports/acme/x\n",
        "/reports/acme/\0x",
        "//evil.example/reports/x",
        "https://evil.example/reports/x",
    ] {
        let r = http.get(format!("{base}/login")).send().await.unwrap();
        let cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect();
        let page = r.text().await.unwrap();
        let marker = "name=\"csrf\" value=\"";
        let start = page.find(marker).unwrap() + marker.len();
        let csrf = page[start..].split('"').next().unwrap().to_owned();
        let form: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("csrf", csrf.as_str()),
                ("next", next),
                ("username", "rita"),
                ("password", "correct horse battery"),
            ])
            .finish();
        let r = http
            .post(format!("{base}/login"))
            .header("cookie", cookies.join("; "))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{next:?}");
        assert_eq!(r.headers()["location"], "/", "{next:?}");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_master_key_refuses_to_start_and_an_unreadable_data_key_is_not_ready() {
    for db in TestDb::all().await {
        let mut app = TestApp::prepare(db, LabOptions::default()).await;
        let id = app.seed("acme", Scenario::Clean, 0);
        app.start().await;
        let doc = app.view_in("acme", &id, "completed").await.document;
        let link = doc["results"].as_array().unwrap().last().unwrap()["reportLink"]
            .as_str()
            .unwrap()
            .to_owned();
        let base = app.base_url();
        let report = link.strip_prefix(&base).unwrap().to_owned();
        app.stop_service().await;

        // Another key under the same id, and a key under another id: both refused, saying so.
        let random = || {
            checkbridge::crypto::Key::random()
                .to_base64()
                .as_str()
                .to_owned()
        };
        for spec in [format!("lab:{}", random()), format!("other:{}", random())] {
            let mut config = app.config();
            config.service.master_key = Some(spec.into());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let started = Instant::now();
            let err = checkbridge::service::start_on(&config, app.store.clone(), Some(listener))
                .await
                .unwrap_err();
            let shown = format!("{err:#}");
            println!(
                "wrong master key refused in {:.2} s: {shown}",
                started.elapsed().as_secs_f64()
            );
            assert!(shown.contains("master key does not match"), "{shown}");
        }

        // The right key, but acme's data key altered in the database: the service starts,
        // /readyz says not ready, and the report is not shown as "removed" nor recorded.
        let url = app.db().url.clone();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        use sqlx::Row as _;
        let wrapped: String = sqlx::query("SELECT wrapped FROM tenant_keys WHERE tenant = 'acme'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .try_get("wrapped")
            .unwrap();
        let mut altered: Vec<char> = wrapped.chars().collect();
        let at = altered.len() - 10;
        altered[at] = if altered[at] == 'A' { 'B' } else { 'A' };
        let altered: String = altered.into_iter().collect();
        sqlx::query("UPDATE tenant_keys SET wrapped = $1 WHERE tenant = 'acme'")
            .bind(altered)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        app.start().await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
        println!(
            "/readyz with acme's data key unreadable: {}",
            ready.status()
        );
        assert_eq!(ready.status(), 503);
        assert!(
            add_reader(&app.store, &"acme".into(), "rita", "correct horse battery")
                .await
                .unwrap()
        );
        let cookie = sign_in(&http, &base, "rita", "correct horse battery").await;
        let r = http
            .get(format!("{base}{report}"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        println!("report with its data key unreadable: {status} {body}");
        assert_eq!(status, 503);
        assert!(!body.contains("removed"), "{body}");
        let viewed = app
            .store
            .access_records(&"acme".into())
            .await
            .unwrap()
            .iter()
            .filter(|a| a.actor == "user:rita")
            .count();
        assert_eq!(viewed, 0, "no view recorded for a page not shown");
        app.finish_owing().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_posts_naming_a_search_open_no_issue_but_theary_like_failures_do() {
    let (app, id) = app_with(|_| {}).await;
    let (store, running) = (&app.store, app.running());
    let (_, search, _) = order_secret(store, &running.engine, "acme", &id).await;
    let theirs = app
        .wait_for(
            Duration::from_secs(10),
            "Theary's search id known",
            || async {
                let (_, s, _) = order_secret(store, &running.engine, "acme", &id).await;
                s.theary_search_id
            },
        )
        .await;
    let url = format!("{}/webhooks/theary/acme", app.base_url());
    let http = reqwest::Client::new();
    let health = running.engine.health();
    let verification_issue = || {
        health
            .findings(checkbridge::time::now_ms())
            .into_iter()
            .any(|f| {
                f.tenant == "acme"
                    && f.kind == checkbridge::health::kind::WEBHOOK_VERIFICATION
                    && matches!(f.verdict, checkbridge::health::Verdict::Open { .. })
            })
    };
    // 60 posts a stranger could make from a report link: our search id, no or junk
    // signatures.
    let body = event(
        "verification.completed",
        json!({ "externalSearchId": search.id, "status": "COMPLETED" }),
    );
    for i in 0..60 {
        let headers = match i % 3 {
            0 => vec![],
            1 => vec![("x-webhook-signature", "sha256=00".to_owned())],
            _ => vec![
                ("x-webhook-signature", sign(b"guess", &body)),
                ("x-event-id", format!("s-{i}")),
            ],
        };
        let (status, _) = post_json(&http, &url, body.clone(), &headers).await;
        assert_eq!(status, 401);
    }
    let stranger = verification_issue();
    let metrics = http
        .get(format!("{}/metrics", app.base_url()))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = metrics
        .lines()
        .find_map(|l| l.strip_prefix("checkbridge_webhook_unverified_total{tenant=\"acme\"} "))
        .unwrap_or("0")
        .to_owned();
    println!("60 unsigned posts naming a search: issue opened: {stranger}, counted unverified: {counted}");
    assert!(!stranger, "a stranger cannot open the verification issue");
    assert_eq!(counted, "60");
    assert!(store.open_issues().await.unwrap().is_empty());

    // Deliveries that look like Theary's own (its search id, a well-formed signature, an
    // event id, a known type) failing verification are what the issue is for.
    let real_like = event(
        "verification.completed",
        json!({ "searchId": format!("search_{}", theirs.as_str()), "externalSearchId": search.id,
                "status": "COMPLETED" }),
    );
    for i in 0..10 {
        let headers = vec![
            ("x-webhook-signature", sign(b"a rotated secret", &real_like)),
            ("x-event-id", format!("t-{i}")),
        ];
        let (status, _) = post_json(&http, &url, real_like.clone(), &headers).await;
        assert_eq!(status, 401);
    }
    let theary_like = verification_issue();
    println!("10 Theary-like deliveries failing verification: issue opens: {theary_like}");
    assert!(theary_like);
    app.finish_owing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_page_stays_bounded_and_pages_the_error_log() {
    let (app, _) = app_with(|_| {}).await;
    let store = &app.store;
    let now = checkbridge::time::now_ms();
    for i in 0..450i64 {
        store
            .log_error(&checkbridge::store::ErrorEntry {
                at: now - i * 1_000,
                tenant: "acme".into(),
                operation: "pageup.update".into(),
                http_status: Some(503),
                message: format!("row {i} {}", "x".repeat(1_500)),
                correlation: format!("c-{i}"),
                check_id: None,
            })
            .await
            .unwrap();
    }
    assert!(add_operator(store, "otto", "another long password")
        .await
        .unwrap());
    let base = app.base_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = sign_in(&http, &base, "otto", "another long password").await;
    let mut sizes = Vec::new();
    for (page, first, older) in [(0, "1–200 of 450", true), (2, "401–450 of 450", false)] {
        let r = http
            .get(format!("{base}/ops?since=7d&errors_page={page}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains(first), "page {page}");
        assert_eq!(html.contains(">Older</a>"), older, "page {page}");
        sizes.push(html.len());
    }
    println!(
        "/ops over 450 error rows of 1.5 KB: page 1 {} bytes, page 3 {} bytes",
        sizes[0], sizes[1]
    );
    assert!(sizes[0] < 600_000, "{sizes:?}");
    app.finish_owing().await;
}
