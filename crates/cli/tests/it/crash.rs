//! Crash safety, proven: `checkbridge serve` runs as a real process on 210 checks across 3
//! tenants with faults on both sandboxes (5xx, dropped connections, 429s, expired tokens,
//! duplicate, reordered, badly signed and lost webhooks), and is killed with SIGKILL at
//! random moments several times, then restarted. Afterwards: every check is in its right
//! final state in PageUp; Theary holds exactly one order per orderable check; every webhook
//! Theary saw acknowledged is in the database; PageUp's history of every check only moves
//! forward and PageUp refused no update; nothing is left owed. In one life the database
//! goes away for 2.5 s (PostgreSQL: a proxy cut, as in a restart; SQLite: locked by another
//! connection) and the service rides it out. Six of the checks come with the minimal
//! invitation (names, email, job, package): their candidates fill the candidate form over
//! HTTP between and across the kills, and each gets exactly one order. On SQLite, and on
//! PostgreSQL when `CHECKBRIDGE_TEST_POSTGRES_URL` is set.

use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use checkbridge::store::Store;
use checkbridge_lab::testing::{eventually, until_changed, SqliteLocker, TcpProxy};
use checkbridge_lab::{orderly, pii_needles, Lab, LabOptions, Scenario, FINAL_STATUSES};
use rand::{Rng, SeedableRng};
use sandbox::common::FaultRule;
use sqlx::AnyPool;

const CHECKS_PER_TENANT: usize = 70;
const KILLS: usize = 6;
/// The life (counted from 0) in which the database goes away for a while.
const OUTAGE_LIFE: usize = 2;
/// When, in that life, the database goes away, and when it comes back.
const OUTAGE: (Duration, Duration) = (Duration::from_millis(300), Duration::from_millis(2_800));

/// How the database goes away in the outage life: PostgreSQL behind a proxy the test cuts
/// (every connection reset, new ones refused, as in a restart); SQLite locked by another
/// connection (every write meets `SQLITE_BUSY`).
enum Outage {
    Proxy(TcpProxy),
    Lock(SqliteLocker),
}

impl Outage {
    async fn begin(&self, database_url: &str) {
        match self {
            Outage::Proxy(p) => p.cut(),
            Outage::Lock(l) => l.lock(database_url.to_owned()).await,
        }
    }

    async fn end(&self) {
        match self {
            Outage::Proxy(p) => p.restore(),
            Outage::Lock(l) => l.unlock().await,
        }
    }
}

fn fault(name: &str, method: Option<&str>, prefix: &str, rate: f64) -> FaultRule {
    FaultRule {
        name: Some(name.to_owned()),
        method: method.map(str::to_owned),
        path_prefix: Some(prefix.to_owned()),
        rate: Some(rate),
        ..FaultRule::default()
    }
}

fn turn_faults_on(lab: &Lab) {
    let p = lab.pageup.state.faults();
    p.add(FaultRule {
        status: Some(503),
        ..fault("pageup 503", None, "/v3/", 0.08)
    });
    p.add(FaultRule {
        drop_before_handling: true,
        ..fault("pageup drop before", None, "/v3/", 0.04)
    });
    p.add(FaultRule {
        drop_after_handling: true,
        ..fault("pageup PUT lost answer", Some("PUT"), "/v3/", 0.05)
    });
    p.add(FaultRule {
        status: Some(429),
        retry_after_secs: Some(1),
        ..fault("pageup 429", Some("GET"), "/v3/", 0.05)
    });
    p.add(FaultRule {
        status: Some(503),
        ..fault("pageup login 503", None, "/connect/token", 0.05)
    });
    let t = lab.theary.state.faults();
    t.add(FaultRule {
        status: Some(502),
        ..fault("theary 502", None, "/background-check/", 0.06)
    });
    t.add(FaultRule {
        drop_after_handling: true,
        ..fault(
            "theary order lost answer",
            Some("POST"),
            "/background-check/v1/orders",
            0.15,
        )
    });
    t.add(FaultRule {
        drop_before_handling: true,
        ..fault("theary drop before", None, "/background-check/", 0.03)
    });
    let d = lab.theary.state.delivery_faults();
    d.duplicate_next(60);
    d.reorder_next(40);
    d.bad_signature_next(20);
    d.drop_next(20);
}

struct Service {
    child: Child,
}

fn spawn_service(config: &std::path::Path, log: &std::path::Path) -> Service {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "info,checkbridge=debug")
        .env_remove("CHECKBRIDGE_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    Service { child }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many lives so far said they were serving.
fn serving_lines(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("checkbridge serving")
        .count()
}

fn log_tail(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Candidates per tenant whose checks go through the candidate form.
const CANDIDATES_PER_TENANT: usize = 2;

/// A candidate who answers the mailed invitation.
struct Candidate {
    email: String,
    answers: checkbridge_lab::candidate::Answers,
    /// The form was submitted (or its link is closed: a submission landed before a kill).
    done: bool,
}

/// Each candidate whose invitation arrived fills the form; one interrupted by a kill tries
/// again later, where the service left it.
async fn answer(http: &reqwest::Client, mail_base: &str, candidates: &mut [Candidate]) {
    if candidates.iter().all(|c| c.done) {
        return;
    }
    let Ok(links) = checkbridge_lab::candidate::invitation_links(http, mail_base).await else {
        return;
    };
    for c in candidates.iter_mut().filter(|c| !c.done) {
        let Some((_, link)) = links.iter().find(|(to, _)| to == &c.email) else {
            continue;
        };
        if checkbridge_lab::candidate::fill(http, link, &c.answers)
            .await
            .is_ok()
        {
            c.done = true;
            continue;
        }
        // The submission may have landed just before a kill: its link is then closed.
        if let Ok(r) = http.get(link).send().await {
            if r.status().as_u16() == 404 {
                c.done = true;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn survives_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/checkbridge.db", dir.path().display());
    run(
        &url,
        &url,
        Outage::Lock(SqliteLocker::default()),
        dir.path(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn survives_sigkill_on_postgres() {
    let Ok(admin) = std::env::var("CHECKBRIDGE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CHECKBRIDGE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "CHECKBRIDGE_REQUIRE_POSTGRES=1 but CHECKBRIDGE_TEST_POSTGRES_URL is not set"
        );
        eprintln!("CHECKBRIDGE_TEST_POSTGRES_URL is not set: PostgreSQL crash test skipped");
        return;
    };
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&admin).await.unwrap();
    let name = format!("cb_crash_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    // The service reaches PostgreSQL through a proxy the test can cut.
    let server = url.socket_addrs(|| Some(5432)).unwrap()[0];
    let proxy = TcpProxy::start(server).await.unwrap();
    let mut through = url.clone();
    through.set_host(Some("127.0.0.1")).unwrap();
    through.set_port(Some(proxy.addr().port())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    run(
        url.as_str(),
        through.as_str(),
        Outage::Proxy(proxy),
        dir.path(),
    )
    .await;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&pool)
        .await
        .unwrap();
}

/// One crash run: `database_url` is the test's own way to the database, `service_url` the
/// service's (through the proxy on PostgreSQL).
async fn run(database_url: &str, service_url: &str, outage: Outage, dir: &std::path::Path) {
    let started = Instant::now();
    let mut lab = Lab::start(LabOptions {
        reconcile_after_secs: 3,
        ..LabOptions::default()
    })
    .await
    .unwrap();
    lab.release_port();
    // Tokens expire quickly, so refreshes happen throughout the run.
    lab.pageup.state.set_token_lifetime(Duration::from_secs(4));
    lab.theary.state.set_token_lifetime(Duration::from_secs(4));

    let mix = [
        Scenario::Clean,
        Scenario::Clean,
        Scenario::Clean,
        Scenario::Discrepancy,
        Scenario::MissingFields,
        Scenario::ActionRequired,
        Scenario::Cancelled,
    ];
    let mut seeded: Vec<(String, String, Scenario)> = Vec::new();
    for t in ["acme", "globex", "initech"] {
        for i in 0..CHECKS_PER_TENANT {
            let s = mix[i % mix.len()];
            seeded.push((t.to_owned(), lab.seed(t, s, i).unwrap(), s));
        }
    }
    // Checks of the minimal shape, completed by candidates through the candidate form while
    // the service is killed around them.
    let mail = sandbox::mail::spawn(sandbox::mail::MailConfig::default())
        .await
        .unwrap();
    let mut candidates: Vec<Candidate> = Vec::new();
    for (ti, t) in ["acme", "globex", "initech"].into_iter().enumerate() {
        for i in 0..CANDIDATES_PER_TENANT {
            let n = ti * CANDIDATES_PER_TENANT + i;
            let email = format!("candidate{n}@candidate.example");
            let (first, last) = ("Zoë", format!("Kowalczyk{n}"));
            let pageup = lab.tenant(t).unwrap().pageup_id.clone();
            let id = lab.pageup.state.seed(
                &pageup,
                serde_json::json!({
                    "packageCode": "EMP", "checkTypes": ["EMPLOYMENT"],
                    "candidate": { "firstName": first, "lastName": last, "email": email },
                    "job": { "title": "Clerk", "worksite": { "city": "Austin", "state": "TX" }, "salary": 41000 }
                }),
            );
            seeded.push((t.to_owned(), id, Scenario::Clean));
            candidates.push(Candidate {
                email,
                answers: checkbridge_lab::candidate::Answers::for_person(first, &last, n),
                done: false,
            });
        }
    }
    turn_faults_on(&lab);

    let config = dir.join("checkbridge.toml");
    std::fs::write(
        &config,
        format!(
            "{}[mail]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"checks@checkbridge.example\"\n",
            lab.config_toml(service_url),
            mail.smtp_addr().port()
        ),
    )
    .unwrap();
    let http = checkbridge_lab::candidate::client().unwrap();
    let mail_base = mail.base_url();
    let log = dir.join("checkbridge.log");
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xC0FFEE);
    let mut cancelled: HashSet<String> = HashSet::new();

    // Cancels stalled orders once placed, as Theary's staff would.
    async fn cancel_placed(
        lab: &Lab,
        seeded: &[(String, String, Scenario)],
        done: &mut HashSet<String>,
    ) {
        for (tenant, id, s) in seeded {
            if *s != Scenario::Cancelled || done.contains(id) {
                continue;
            }
            let Some(view) = lab.pageup_check(tenant, id) else {
                continue;
            };
            let reference = view
                .document
                .get("referenceNumber")
                .and_then(|r| r.as_str())
                .unwrap_or("");
            if !reference.is_empty() && lab.cancel_at_theary(tenant, reference).await.is_ok() {
                done.insert(id.clone());
            }
        }
    }

    // Opened before the first life (it prepares the schema as `serve` would), to look at
    // what was owed at each kill.
    let store = Store::connect(database_url).await.unwrap();
    let mut kills = 0;
    let mut kills_with_work_owed = 0;
    let mut outage_survived = false;
    while kills < KILLS {
        let mut svc = spawn_service(&config, &log);
        let born = Instant::now();
        let mut alive = Duration::from_millis(rng.gen_range(400..2_500));
        // In one life the database goes away and comes back; the service must ride it out
        // (no exit), and is killed a while after the database returned. The outage is timed
        // from the moment this life says it is serving: a database gone during the start
        // itself (migrations, the key checks) stops the start, which is a supervisor's
        // restart to handle, not what this life tests.
        let outage_life = kills == OUTAGE_LIFE;
        let lives_before = serving_lines(&log);
        let mut serving_since: Option<Instant> = None;
        let mut phase = outage_life.then_some(false);
        loop {
            match (outage_life, serving_since) {
                (false, _) if born.elapsed() >= alive => break,
                (true, Some(up)) if phase.is_none() && up.elapsed() >= alive => break,
                _ => {}
            }
            assert!(
                svc.child.try_wait().unwrap().is_none(),
                "checkbridge exited by itself:\n{}",
                log_tail(&log)
            );
            if outage_life && serving_since.is_none() {
                if serving_lines(&log) > lives_before {
                    serving_since = Some(Instant::now());
                    alive = OUTAGE.1 + Duration::from_millis(1_500);
                } else {
                    assert!(
                        born.elapsed() < Duration::from_secs(60),
                        "checkbridge did not start serving within 60 s:\n{}",
                        log_tail(&log)
                    );
                }
            }
            match (phase, serving_since.map(|up| up.elapsed())) {
                (Some(false), Some(up)) if up >= OUTAGE.0 => {
                    outage.begin(database_url).await;
                    phase = Some(true);
                }
                (Some(true), Some(up)) if up >= OUTAGE.1 => {
                    outage.end().await;
                    outage_survived = true;
                    phase = None;
                }
                _ => {}
            }
            cancel_placed(&lab, &seeded, &mut cancelled).await;
            answer(&http, &mail_base, &mut candidates).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        svc.child.kill().unwrap(); // SIGKILL
        svc.child.wait().unwrap();
        kills += 1;
        // What the dead process owed is frozen in the database: an order not yet placed
        // or a PageUp update not yet acknowledged means the kill hit work in flight.
        let owed = store.owed(None).await.unwrap();
        if owed.orders > 0 || owed.pushes > 0 {
            kills_with_work_owed += 1;
        }
        if kills == KILLS / 2 {
            lab.pageup.state.expire_tokens();
            lab.theary.state.expire_tokens();
        }
    }

    // The last life: runs until everything is final. First the candidates still to answer
    // do (polled with a deadline: nothing in the sandboxes changes while a form waits).
    let svc = spawn_service(&config, &log);
    let answering = Instant::now();
    while candidates.iter().any(|c| !c.done) && answering.elapsed() < Duration::from_secs(120) {
        answer(&http, &mail_base, &mut candidates).await;
        cancel_placed(&lab, &seeded, &mut cancelled).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waiting: Vec<&str> = candidates
        .iter()
        .filter(|c| !c.done)
        .map(|c| c.email.as_str())
        .collect();
    assert!(
        waiting.is_empty(),
        "candidates could not finish the form: {waiting:?}\n{}",
        log_tail(&log)
    );
    let cancelled = std::cell::RefCell::new(cancelled);
    let candidates = std::cell::RefCell::new(candidates);
    let open = || {
        seeded
            .iter()
            .filter(|(t, id, _)| {
                !lab.pageup_check(t, id)
                    .is_some_and(|v| FINAL_STATUSES.contains(&v.status.as_str()))
            })
            .count()
    };
    let finished = tokio::time::timeout(
        Duration::from_secs(240),
        until_changed(
            Duration::from_secs(240),
            "every check final after the kills",
            &mut [lab.pageup.state.changes(), lab.theary.state.changes()],
            || async {
                let mut c = cancelled.borrow().clone();
                cancel_placed(&lab, &seeded, &mut c).await;
                *cancelled.borrow_mut() = c;
                let mut k = std::mem::take(&mut *candidates.borrow_mut());
                answer(&http, &mail_base, &mut k).await;
                *candidates.borrow_mut() = k;
                (open() == 0).then_some(())
            },
        ),
    )
    .await;
    assert!(
        finished.is_ok(),
        "{} checks not final after the kills ({}):\n{}",
        open(),
        seeded
            .iter()
            .filter_map(|(t, id, _)| {
                let v = lab.pageup_check(t, id)?;
                (!FINAL_STATUSES.contains(&v.status.as_str()))
                    .then(|| format!("{t}/{id} {}", v.status))
            })
            .collect::<Vec<_>>()
            .join(", "),
        log_tail(&log)
    );
    // Pushes of terminal documents may still be acknowledged a moment after PageUp shows them.
    let settled = tokio::time::timeout(
        Duration::from_secs(30),
        eventually(Duration::from_secs(30), "nothing owed", || async {
            let owed = store.owed(None).await.unwrap();
            (owed.orders == 0 && owed.pushes == 0 && owed.open_searches == 0).then_some(())
        }),
    )
    .await;
    assert!(
        settled.is_ok(),
        "work left owed: {:?}\n{}",
        store.owed(None).await.unwrap(),
        log_tail(&log)
    );
    drop(svc);

    // Every check in its right final state, with an orderly history.
    let mut orderable: BTreeMap<String, usize> = BTreeMap::new();
    for (tenant, id, s) in &seeded {
        let v = lab.pageup_check(tenant, id).unwrap();
        assert_eq!(
            v.status,
            s.expected_status(),
            "{tenant}/{id} ({}): {}",
            s.label(),
            v.document
        );
        if let Some(overall) = s.expected_overall() {
            let results = v.document["results"].as_array().unwrap();
            assert_eq!(
                results.last().unwrap()["status"],
                overall,
                "{tenant}/{id}: {}",
                v.document
            );
        }
        let statuses: Vec<&str> = v.history.iter().map(|h| h.to.as_str()).collect();
        assert!(
            orderly(&statuses),
            "{tenant}/{id} claimed first, never backwards: {statuses:?}"
        );
        if *s != Scenario::MissingFields {
            *orderable.entry(tenant.clone()).or_default() += 1;
        }
    }
    // Exactly one Theary order per orderable check.
    for (tenant, n) in &orderable {
        assert_eq!(
            lab.theary.state.order_count(tenant),
            *n,
            "orders of {tenant}"
        );
    }
    // PageUp refused no status update (an illegal transition would be a 4xx).
    let refused: Vec<_> = lab
        .pageup
        .state
        .journal()
        .matching("PUT", "/v3/")
        .into_iter()
        .filter(|e| {
            e.fault.is_none()
                && e.status
                    .is_some_and(|s| (400..500).contains(&s) && s != 401)
        })
        .collect();
    assert!(refused.is_empty(), "PageUp refused updates: {refused:?}");
    // No webhook acknowledged and then lost.
    let acked: Vec<_> = lab
        .theary
        .state
        .deliveries()
        .into_iter()
        .filter(|d| d.status == Some(200))
        .collect();
    assert!(!acked.is_empty());
    for d in &acked {
        assert!(
            store.has_event(&d.event_id).await.unwrap(),
            "event {} was acknowledged but is not stored",
            d.event_id
        );
    }
    // No candidate data, credential or token in anything the service logged.
    let logged = std::fs::read_to_string(&log).unwrap();
    let mut needles: Vec<String> = seeded
        .iter()
        .enumerate()
        .flat_map(|(n, (_, _, s))| pii_needles(&s.invitation(n % CHECKS_PER_TENANT)))
        .collect();
    for t in &lab.tenants {
        needles.push(t.pageup.client_secret.clone());
        needles.push(t.theary.client_secret.clone());
    }
    for c in candidates.borrow().iter() {
        assert!(c.done, "{} never finished the candidate form", c.email);
        needles.push(c.answers.ssn.clone());
        needles.push(c.answers.date_of_birth.clone());
        needles.push(c.answers.last_name.clone());
    }
    needles.push(secrecy::ExposeSecret::expose_secret(&lab.master_key).to_owned());
    needles.push("eyJ".to_owned());
    // The error log (what PageUp support would receive) holds the faults, and no secrets.
    let mut logged = logged;
    let mut failures = 0;
    for t in &lab.tenants {
        for e in store.errors(&t.key.as_str().into(), 0).await.unwrap() {
            failures += 1;
            logged.push_str(&e.message);
            logged.push('\n');
        }
    }
    assert!(failures > 0, "failed calls were recorded");
    let leaked: Vec<&String> = needles
        .iter()
        .filter(|n| logged.contains(n.as_str()))
        .collect();
    assert!(leaked.is_empty(), "logged in clear: {leaked:?}");
    assert!(logged.lines().count() > 1_000, "the log was captured");
    let faults =
        |j: &sandbox::common::Journal| j.entries().iter().filter(|e| e.fault.is_some()).count();
    let pageup_faults = faults(lab.pageup.state.journal());
    let theary_faults = faults(lab.theary.state.journal());
    assert!(
        pageup_faults > 0 && theary_faults > 0,
        "faults were injected"
    );
    let lookups = std::fs::read_to_string(&log)
        .unwrap()
        .matches("an earlier order request had reached Theary")
        .count();
    // The faults really hit the pipeline: kills landed on owed work, answers lost after
    // Theary took an order were resolved by lookup (not by a second order), and every
    // kind of webhook fault fired.
    assert!(
        kills_with_work_owed > 0,
        "no kill landed while an order or a PageUp update was owed"
    );
    assert!(
        lookups > 0,
        "no order was found by lookup after an unknown outcome"
    );
    assert!(
        outage_survived,
        "the database outage happened and the service rode it out"
    );
    if let Outage::Proxy(p) = &outage {
        assert!(
            p.refused() > 0,
            "the service tried the database while it was away"
        );
    }
    let fired = lab.theary.state.delivery_faults().fired();
    for (kind, n) in [
        ("duplicate", fired.duplicate),
        ("reorder", fired.reorder),
        ("bad signature", fired.bad_signature),
        ("drop", fired.drop),
    ] {
        assert!(n > 0, "the {kind} webhook fault never fired");
    }
    eprintln!(
        "crash test on {}: {} checks, {KILLS} SIGKILLs survived, {} webhooks acknowledged, \
         {pageup_faults} PageUp and {theary_faults} Theary faults injected, {lookups} orders found by lookup \
         instead of posted twice, {kills_with_work_owed} kills with work owed, webhook faults fired \
         {fired:?}, {:.1} s",
        if database_url.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" },
        seeded.len(),
        acked.len(),
        started.elapsed().as_secs_f64()
    );
}
