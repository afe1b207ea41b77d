//! `checkbridge demo`: everything on one machine with no setup. Both sandboxes and the
//! service run in this process on SQLite; three tenants get a realistic mix of checks
//! (clean passes, a discrepancy, a missing-field failure, an action-required, a
//! cancellation); progress is shown until every check is final, then a summary per tenant,
//! a report link and how to open it: the first tenant's readers sign in through the
//! identity-provider sandbox (single sign-on; its user and password are printed), the others'
//! with a password. Each tenant also gets invitations of the minimal shape (names, email,
//! job, package): their candidates are emailed through the mail sandbox and fill the
//! candidate form over HTTP; a serving demo leaves one form for a person to fill.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;

use checkbridge::store::Store;
use checkbridge_lab::{Lab, LabOptions, Scenario, FINAL_STATUSES};

use super::sandbox::ThearyRules;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Checks seeded per tenant (three tenants).
    #[arg(long, default_value_t = 8)]
    pub checks_per_tenant: usize,
    /// Database to use; a temporary SQLite file when not given.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Give up when not every check is final after this many seconds.
    #[arg(long, default_value_t = 90)]
    pub timeout_secs: u64,
    /// Exit after the summary even on a terminal (by default a terminal session keeps
    /// serving, so the report link can be opened, until Ctrl-C).
    #[arg(long)]
    pub exit: bool,
    /// Which of Theary's documents the Theary sandbox follows. With `seed`, the tenants'
    /// Theary accounts run criminal checks and each tenant gets one check with a package
    /// that orders employment, education and a criminal check.
    #[arg(long, value_enum, default_value_t = ThearyRules::Current)]
    pub theary_rules: ThearyRules,
    /// Keep serving after the summary, terminal or not, until Ctrl-C or SIGTERM (for
    /// running tools against the service, as `.ci/schemathesis` does).
    #[arg(long, conflicts_with = "exit")]
    pub serve: bool,
    /// After the summary, make an `operate` API token for every tenant and write it to
    /// this file (mode 0600), the admin API's address being printed just before.
    #[arg(long)]
    pub api_token_file: Option<std::path::PathBuf>,
}

/// The mix each tenant gets, in order; the rarer outcomes are spread across tenants.
fn scenario_for(tenant_index: usize, i: usize, rules: ThearyRules) -> Scenario {
    let special = [
        Scenario::Discrepancy,
        Scenario::MissingFields,
        Scenario::ActionRequired,
        Scenario::Cancelled,
    ];
    // Each tenant gets two of the special cases (rotating), the rest are clean passes.
    match i {
        1 => special[tenant_index % special.len()],
        3 => special[(tenant_index + 1) % special.len()],
        5 if tenant_index == 0 => special[(tenant_index + 2) % special.len()],
        6 if tenant_index == 0 => special[(tenant_index + 3) % special.len()],
        2 if rules.criminal() => Scenario::Criminal,
        _ => Scenario::Clean,
    }
}

struct Seeded {
    tenant: String,
    pageup_id: String,
    scenario: Scenario,
    cancelled_at_theary: bool,
    /// A minimal invitation (names, email, job, package): the candidate at this address
    /// fills the candidate form.
    candidate: Option<String>,
}

/// Minimal invitations per tenant, whose candidates fill the candidate form.
const CANDIDATE_CHECKS: usize = 2;

/// An invitation of the minimal shape PageUp is known to send.
fn minimal_invitation(
    tenant: &str,
    i: usize,
) -> (serde_json::Value, String, (&'static str, &'static str)) {
    const PEOPLE: [(&str, &str); 4] = [
        ("Łukasz", "Nguyễn"),
        ("Amara", "Okafor"),
        ("Sofía", "Hernández"),
        ("Wei", "Zhang"),
    ];
    let person = PEOPLE[i % PEOPLE.len()];
    let email = format!("candidate{i}.{tenant}@candidate.example");
    (
        serde_json::json!({
            "packageCode": "EMP", "checkTypes": ["EMPLOYMENT"],
            "candidate": { "firstName": person.0, "lastName": person.1, "email": email },
            "job": { "title": "Payroll Analyst", "worksite": { "city": "Austin", "state": "TX" }, "salary": 64000 }
        }),
        email,
        person,
    )
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut out = std::io::stdout().lock();
    let tty = std::io::stdout().is_terminal();
    let tmp = tempfile::tempdir().context("making a temporary directory")?;
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/checkbridge-demo.db", tmp.path().display()));

    let mut lab = Lab::start(LabOptions {
        theary_rules: if args.theary_rules.criminal() {
            checkbridge_lab::ThearyRules::Seed
        } else {
            checkbridge_lab::ThearyRules::Current
        },
        // The first tenant signs in through the identity-provider sandbox.
        sso_tenants: vec!["acme".to_owned()],
        ..LabOptions::default()
    })
    .await?;
    writeln!(
        out,
        "checkbridge demo: PageUp sandbox {}, Theary sandbox {}, checkbridge http://{}",
        lab.pageup.base_url(),
        lab.theary.base_url(),
        lab.service_addr
    )?;
    let mut seeded = Vec::new();
    for (ti, t) in lab.tenants.clone().iter().enumerate() {
        for i in 0..args.checks_per_tenant.max(1) {
            let scenario = scenario_for(ti, i, args.theary_rules);
            let pageup_id = lab
                .seed(&t.key, scenario, ti * 100 + i)
                .context("seeding PageUp")?;
            seeded.push(Seeded {
                tenant: t.key.clone(),
                pageup_id,
                scenario,
                cancelled_at_theary: false,
                candidate: None,
            });
        }
    }
    // The candidate's part: minimal invitations, their candidates emailed a form link.
    let mail = sandbox::mail::spawn(sandbox::mail::MailConfig::default())
        .await
        .context("starting the mail sandbox")?;
    let mut people = BTreeMap::new();
    for (ti, t) in lab.tenants.clone().iter().enumerate() {
        for i in 0..CANDIDATE_CHECKS {
            let n = ti * CANDIDATE_CHECKS + i;
            let (invitation, email, person) = minimal_invitation(&t.key, n);
            let pageup_id = lab.pageup.state.seed(&t.pageup_id, invitation);
            people.insert(email.clone(), (person, n));
            seeded.push(Seeded {
                tenant: t.key.clone(),
                pageup_id,
                scenario: Scenario::Clean,
                cancelled_at_theary: false,
                candidate: Some(email),
            });
        }
    }
    // One more, left for a person to fill in a browser while the demo keeps serving.
    let keeps_serving = args.serve || (tty && !args.exit);
    let by_hand = if keeps_serving {
        let acme = lab.tenants[0].clone();
        let (mut invitation, _, _) = minimal_invitation(&acme.key, 99);
        invitation["candidate"]["email"] = "you@candidate.example".into();
        invitation["candidate"]["firstName"] = "Alex".into();
        invitation["candidate"]["lastName"] = "Morgan".into();
        Some(lab.pageup.state.seed(&acme.pageup_id, invitation))
    } else {
        None
    };
    writeln!(
        out,
        "seeded {} pending background checks across {} tenants in PageUp; starting checkbridge on {}",
        seeded.len(),
        lab.tenants.len(),
        checkbridge::config::redact_url(&database_url)
    )?;
    let mut config = lab.config(&database_url)?;
    config.mail = Some(checkbridge_lab::candidate::mail_config(
        mail.smtp_addr(),
        None,
    ));
    let store = Store::connect(&database_url)
        .await
        .context("opening the demo database")?;
    let running =
        checkbridge::service::start_on(&config, store.clone(), lab.take_listener()).await?;
    // A report reader per tenant, to open the report links with.
    let mut readers = BTreeMap::new();
    for t in lab
        .tenants
        .iter()
        .filter(|t| !lab.options.sso_tenants.contains(&t.key))
    {
        let username = format!("{}-recruiter", t.key);
        let password = checkbridge::admin::users::generate_password();
        checkbridge::admin::users::add_reader(&store, &t.key.as_str().into(), &username, &password)
            .await?;
        readers.insert(t.key.clone(), (username, password));
    }
    let operator_password = checkbridge::admin::users::generate_password();
    checkbridge::admin::users::add_operator(&store, "demo-operator", &operator_password).await?;

    let deadline = started + Duration::from_secs(args.timeout_secs);
    let mut last_line = String::new();
    let http = checkbridge_lab::candidate::client()?;
    let mut filled = std::collections::BTreeSet::new();
    loop {
        // Candidates whose invitation arrived fill the form, as they would in a browser.
        for (to, link) in checkbridge_lab::candidate::invitation_links(&http, &mail.base_url())
            .await
            .unwrap_or_default()
        {
            let Some(((first, last), n)) = people.get(&to) else {
                continue;
            };
            if filled.contains(&to) {
                continue;
            }
            let answers = checkbridge_lab::candidate::Answers::for_person(first, last, *n);
            checkbridge_lab::candidate::fill(&http, &link, &answers)
                .await
                .with_context(|| format!("filling the candidate form for {to}"))?;
            filled.insert(to.clone());
            if tty {
                write!(out, "\r\x1b[2K")?;
            }
            writeln!(
                out,
                "candidate {first} {last} filled the candidate form ({to})"
            )?;
            last_line.clear();
        }
        // Theary's staff cancel the orders that were meant to be cancelled, once placed.
        for s in seeded
            .iter_mut()
            .filter(|s| s.scenario == Scenario::Cancelled && !s.cancelled_at_theary)
        {
            let reference = lab
                .pageup_check(&s.tenant, &s.pageup_id)
                .and_then(|v| {
                    v.document
                        .get("referenceNumber")
                        .and_then(|r| r.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            if !reference.is_empty() && lab.cancel_at_theary(&s.tenant, &reference).await.is_ok() {
                s.cancelled_at_theary = true;
                if tty {
                    write!(out, "\r\x1b[2K")?;
                }
                writeln!(
                    out,
                    "Theary staff cancelled order {reference} ({} check {})",
                    s.tenant, s.pageup_id
                )?;
                last_line.clear();
            }
        }
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for s in &seeded {
            let status = lab
                .pageup_check(&s.tenant, &s.pageup_id)
                .map(|v| v.status)
                .unwrap_or_else(|| "unknown".into());
            *counts.entry(status).or_default() += 1;
        }
        let done: usize = counts
            .iter()
            .filter(|(k, _)| FINAL_STATUSES.contains(&k.as_str()))
            .map(|(_, n)| n)
            .sum();
        let open: Vec<String> = ["pending", "queued", "new", "inprogress"]
            .iter()
            .filter_map(|k| counts.get(*k).map(|n| format!("{k} {n}")))
            .collect();
        let line = format!(
            "{done}/{} final{}",
            seeded.len(),
            if open.is_empty() {
                String::new()
            } else {
                format!("  ({})", open.join(", "))
            }
        );
        if tty {
            let width = 30;
            let filled = done * width / seeded.len().max(1);
            write!(
                out,
                "\r\x1b[2K[{}{}] {line}",
                "#".repeat(filled),
                ".".repeat(width - filled)
            )?;
            out.flush()?;
        } else if line != last_line {
            writeln!(out, "{line}")?;
        }
        last_line = line;
        if done == seeded.len() {
            if tty {
                writeln!(out)?;
            }
            break;
        }
        if Instant::now() > deadline {
            if tty {
                writeln!(out)?;
            }
            let stuck: Vec<String> = seeded
                .iter()
                .filter(|s| {
                    !lab.pageup_check(&s.tenant, &s.pageup_id)
                        .is_some_and(|v| FINAL_STATUSES.contains(&v.status.as_str()))
                })
                .map(|s| format!("{}/{} ({})", s.tenant, s.pageup_id, s.scenario.label()))
                .collect();
            running.stop().await;
            anyhow::bail!(
                "not every check was final after {} s; still open: {}",
                args.timeout_secs,
                stuck.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();

    // Summary per tenant.
    writeln!(out)?;
    writeln!(
        out,
        "{:<10} {:>6} {:>10} {:>7} {:>10} {:>8} {:>6}",
        "tenant", "checks", "completed", "failed", "cancelled", "expired", "other"
    )?;
    let mut report_link = None;
    for t in &lab.tenants {
        let mut c: BTreeMap<&str, usize> = BTreeMap::new();
        let mut total = 0;
        for s in seeded.iter().filter(|s| s.tenant == t.key) {
            total += 1;
            let v = lab.pageup_check(&s.tenant, &s.pageup_id);
            let status = v.as_ref().map(|v| v.status.as_str()).unwrap_or("unknown");
            let key: &'static str = match status {
                "completed" => "completed",
                "failed" => "failed",
                "cancelled" => "cancelled",
                "expired" => "expired",
                _ => "other",
            };
            *c.entry(key).or_default() += 1;
            // The report to open: a criminal check's where there is one, else a clean pass.
            let wanted = if args.theary_rules.criminal() {
                Scenario::Criminal
            } else {
                Scenario::Clean
            };
            // The first tenant's (acme, which signs in through the IdP sandbox).
            if report_link.is_none() && s.scenario == wanted {
                report_link = v.and_then(|v| {
                    v.document["results"]
                        .as_array()
                        .and_then(|r| r.last())
                        .and_then(|r| r["reportLink"].as_str())
                        .map(|l| (t.key.clone(), l.to_owned()))
                });
            }
        }
        let n = |k: &str| c.get(k).copied().unwrap_or(0);
        writeln!(
            out,
            "{:<10} {:>6} {:>10} {:>7} {:>10} {:>8} {:>6}",
            t.key,
            total,
            n("completed"),
            n("failed"),
            n("cancelled"),
            n("expired"),
            n("other")
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "One check of each kind, as the recruiter sees it in PageUp:"
    )?;
    for scenario in Scenario::ALL.into_iter().chain([Scenario::Criminal]) {
        let Some(s) = seeded.iter().find(|s| s.scenario == scenario) else {
            continue;
        };
        let Some(v) = lab.pageup_check(&s.tenant, &s.pageup_id) else {
            continue;
        };
        let overall = v.document["results"]
            .as_array()
            .and_then(|r| r.last())
            .and_then(|r| r["status"].as_str())
            .unwrap_or("-")
            .to_owned();
        let reason: String = v.document["reasonForFail"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(120)
            .collect();
        writeln!(
            out,
            "  {:<16} {:<10} {:<14} overall {:<7} {}",
            scenario.label(),
            v.status,
            format!("{}/{}", s.tenant, s.pageup_id),
            overall,
            reason
        )?;
        // Each result entry of a check with a criminal search, as PageUp lists them.
        if scenario == Scenario::Criminal {
            for r in v.document["results"].as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "  {:<16} {:<30} {}",
                    "",
                    r["reportType"].as_str().unwrap_or("-"),
                    r["status"].as_str().unwrap_or("-")
                )?;
            }
        }
    }
    let through_form: Vec<&Seeded> = seeded.iter().filter(|s| s.candidate.is_some()).collect();
    let completed = through_form
        .iter()
        .filter(|s| {
            lab.pageup_check(&s.tenant, &s.pageup_id)
                .is_some_and(|v| v.status == "completed")
        })
        .count();
    writeln!(
        out,
        "  {:<16} {completed} of {} completed after the candidate filled the candidate form (PageUp sent names, an email, the job and a package only)",
        "candidate form",
        through_form.len()
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "All {} checks final in {:.1} s.",
        seeded.len(),
        elapsed.as_secs_f64()
    )?;
    if let Some((tenant, link)) = report_link {
        writeln!(out, "Report link PageUp shows the recruiter: {link}")?;
        if let Some((user, password)) = readers.get(&tenant) {
            writeln!(
                out,
                "  sign in as {user} with password {}",
                password.as_str()
            )?;
        } else if let Some(idp) = &lab.idp {
            let (user, password) = lab.sso_user(&tenant);
            writeln!(
                out,
                "  it signs in through {tenant}'s identity provider (the IdP sandbox at {}):\n  sign in there as {user} with password {password}",
                idp.base_url()
            )?;
        }
    }
    writeln!(
        out,
        "Operator page (tenants' health, checks, error log): {}/ops\n  sign in as demo-operator with password {}",
        format_args!("http://{}", lab.service_addr),
        operator_password.as_str()
    )?;
    writeln!(
        out,
        "Admin API: http://{}/api/v1 (description at /api/v1/openapi.json)",
        lab.service_addr
    )?;
    if let Some(path) = &args.api_token_file {
        let made = checkbridge::admin::tokens::create(
            &store,
            checkbridge::domain::check::ApiScope::Operate,
            None,
            "demo",
            "cli:demo",
        )
        .await?;
        write_secret_file(path, made.text.expose())
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(
            out,
            "  an operate token ({}) is in {}",
            made.token.id,
            path.display()
        )?;
    }
    match &args.database_url {
        Some(url) => writeln!(
            out,
            "Database kept at {}",
            checkbridge::config::redact_url(url)
        )?,
        None => writeln!(
            out,
            "Database was {} (removed on exit; pass --database-url to keep one)",
            checkbridge::config::redact_url(&database_url)
        )?,
    }
    writeln!(
        out,
        "Mail sandbox (every invitation and reminder sent): {}/messages",
        mail.base_url()
    )?;
    if let Some(id) = &by_hand {
        let link = checkbridge_lab::candidate::invitation_links(&http, &mail.base_url())
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|(to, _)| to == "you@candidate.example")
            .map(|(_, l)| l);
        match link {
            Some(link) => writeln!(
                out,
                "A candidate form to fill yourself (acme check {id}, Alex Morgan; any SSN such as 212-45-7000): {link}"
            )?,
            None => writeln!(
                out,
                "acme check {id} waits on its candidate; its invitation is at {}/messages",
                mail.base_url()
            )?,
        }
    }
    if keeps_serving {
        writeln!(
            out,
            "Still serving, so the link opens. Press Ctrl-C to stop."
        )?;
        out.flush()?;
        drop(out);
        stopped().await;
    } else {
        drop(out);
    }
    running.stop().await;
    let _ = store;
    Ok(())
}

/// Ctrl-C or SIGTERM (what a script's `kill` sends).
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Writes `text` to `path`, readable by its owner only (it is a credential).
fn write_secret_file(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}
