//! The `checkbridge` executable, run as a user would run it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `checkbridge sandbox` on free ports and returns its quick start.
fn start_sandbox() -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args([
            "sandbox",
            "--pageup-port",
            "0",
            "--theary-port",
            "0",
            "--idp-port",
            "0",
            "--mail-smtp-port",
            "0",
            "--mail-http-port",
            "0",
            "--seed-invitations",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            text.push_str(&line);
            text.push('\n');
            if line.starts_with("Press Ctrl-C") {
                let _ = tx.send(text.clone());
            }
        }
    });
    let text = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the quick start was printed");
    (Running(child), text)
}

fn value_after<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap()
}

#[test]
fn sandbox_prints_a_quick_start_whose_urls_and_credentials_work() {
    let (_child, text) = start_sandbox();
    assert!(
        text.contains("PageUp sandbox")
            && text.contains("Theary sandbox")
            && text.contains("Identity-provider sandbox")
            && text.contains("Mail sandbox"),
        "{text}"
    );
    let http = reqwest::blocking::Client::new();
    let pageup_token = value_after(&text, "Token URL:");
    let id = value_after(&text, "Client id:");
    let secret = value_after(&text, "Client secret:");
    let r = http
        .post(pageup_token)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let token: serde_json::Value = r.json().unwrap();
    let list = value_after(&text, "List pending:   GET")
        .split('[')
        .next()
        .unwrap()
        .trim();
    let pending: serde_json::Value = http
        .get(list)
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        pending.as_array().unwrap().len(),
        3,
        "seeded invitations are listed"
    );
    let theary_base = text
        .split("Theary sandbox")
        .nth(1)
        .map(|t| value_after(t, "Base URL:"))
        .unwrap();
    let health: serde_json::Value = http
        .get(format!("{theary_base}/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["success"], true);
    let messages = value_after(&text, "Messages:       GET")
        .split('[')
        .next()
        .unwrap()
        .trim();
    let listed: serde_json::Value = http.get(messages).send().unwrap().json().unwrap();
    assert_eq!(listed, serde_json::json!([]), "no mail yet");
}

#[test]
fn help_lists_the_sandbox_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("sandbox"));
    let bad = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .arg("no-such-command")
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

/// A well-formed master key (bytes 1 to 32), for `config check`.
const MASTER_KEY: &str = "k1:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

#[test]
fn config_check_accepts_the_example_and_names_a_bad_key() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../checkbridge.example.toml"
    );
    // Without a master key, config check fails as serve would.
    let out = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["config", "check", "--config", example])
        .env_remove("CHECKBRIDGE_SERVICE__MASTER_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("service.master_key"), "{stderr}");
    // A malformed one too, without echoing it.
    let out = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["config", "check", "--config", example])
        .env("CHECKBRIDGE_SERVICE__MASTER_KEY", "k1:not-base64-at-all")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("service.master_key") && !stderr.contains("not-base64-at-all"),
        "{stderr}"
    );
    // A missing file is named once, with the OS's reason once.
    let out = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["config", "check", "--config", "/no/such/checkbridge.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(
        stderr.matches("No such file").count(),
        1,
        "the OS's reason once: {stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["config", "check", "--config", example])
        .env("CHECKBRIDGE_SERVICE__MASTER_KEY", MASTER_KEY)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("tenant acme") && stdout.contains("configuration is valid"),
        "{stdout}"
    );
    assert!(!stdout.contains("set-me-through"), "a secret was printed");

    let out = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["config", "check", "--config", example])
        .env("CHECKBRIDGE_TENANTS__ACME__PAGEUP__ENV", "production")
        .env("CHECKBRIDGE_SERVICE__MASTER_KEY", MASTER_KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tenants.acme.pageup.env"), "{stderr}");
}

#[test]
fn demo_runs_to_the_end_and_prints_a_summary_without_terminal_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["demo", "--checks-per-tenant", "3", "--timeout-secs", "60"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for tenant in ["acme", "globex", "initech"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(tenant)),
            "{tenant} in the summary:\n{stdout}"
        );
    }
    // 3 per tenant, and 2 per tenant of the minimal shape, through the candidate form.
    assert!(stdout.contains("All 15 checks final"), "{stdout}");
    assert!(
        stdout.contains("6 of 6 completed after the candidate filled the candidate form"),
        "{stdout}"
    );
    assert!(stdout.contains("/reports/"), "a report link:\n{stdout}");
    assert!(
        stdout.contains("signs in through acme's identity provider")
            && stdout.contains("sign in there as recruiter@acme.example with password"),
        "the report link signs in through the IdP sandbox:\n{stdout}"
    );
    assert!(!stdout.contains('\x1b'), "no terminal codes when piped");
}

/// Runs `checkbridge serve` on `toml` and returns its exit status and standard error; it
/// must refuse to start within a few seconds.
fn serve_refuses(toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, toml).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["serve", "--config"])
        .arg(&path)
        .env_remove("CHECKBRIDGE_CONFIG")
        .env_remove("CHECKBRIDGE_SERVICE__MASTER_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not refuse the configuration");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    stderr
}

const TENANT: &str = "[tenants.acme.pageup]\ntenant_id = \"1\"\nenv = \"uat\"\ndc = \"dc2\"\nclient_id = \"c\"\nclient_secret = \"s\"\n\
                      [tenants.acme.theary]\nclient_id = \"t\"\nclient_secret = \"u\"\n";

#[test]
fn serve_refuses_a_bad_configuration_and_names_the_key() {
    let key = "k:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for (toml, names) in [
        (format!("[service]\nmaster_key = \"{key}\"\n{TENANT}clinet_id = \"x\"\n"), "tenants.acme.theary.clinet_id"),
        (format!("[service]\nmaster_key = \"{key}\"\ndatabase_url = \"mysql://x\"\n{TENANT}"), "service.database_url"),
        (format!("[service]\nmaster_key = \"{key}\"\npublic_base_url = \"http://checkbridge.example.com\"\n{TENANT}"), "service.public_base_url"),
        (format!("[service]\nlisten = \"127.0.0.1:0\"\ndatabase_url = \"sqlite::memory:\"\n{TENANT}"), "service.master_key"),
        (format!("[service]\nmaster_key = \"k:short\"\nlisten = \"127.0.0.1:0\"\n{TENANT}"), "service.master_key"),
    ] {
        let stderr = serve_refuses(&toml);
        assert!(stderr.contains(names), "names {names}: {stderr}");
    }
}

#[test]
fn users_are_listed_disabled_enabled_reset_and_removed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../checkbridge.example.toml"
    );
    let db = format!("sqlite://{}", dir.path().join("users.db").display());
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
            .arg("users")
            .args(args)
            .args(["--config", example])
            .env("CHECKBRIDGE_SERVICE__DATABASE_URL", &db)
            .env("USER", "tester")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ok = |args: &[&str], stdin: Option<&str>| {
        let (success, stdout, stderr) = run(args, stdin);
        assert!(success, "{args:?}: {stdout}{stderr}");
        stdout
    };
    ok(
        &[
            "add",
            "--tenant",
            "acme",
            "--username",
            "alice",
            "--password-stdin",
        ],
        Some("correct horse battery\n"),
    );
    ok(
        &[
            "add",
            "--operator",
            "--username",
            "olga",
            "--password-stdin",
        ],
        Some("operator's long password\n"),
    );

    let listed: serde_json::Value = serde_json::from_str(&ok(&["list", "--json"], None)).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "olga"]);
    assert_eq!(listed[0]["disabled_at"], serde_json::Value::Null);

    let out: serde_json::Value =
        serde_json::from_str(&ok(&["disable", "alice", "--json"], None)).unwrap();
    assert_eq!(out["action"], "disabled");
    let listed: serde_json::Value = serde_json::from_str(&ok(&["list", "--json"], None)).unwrap();
    assert!(listed[0]["disabled_at"].is_i64(), "{listed}");
    assert!(ok(&["list"], None).contains("disabled"));
    ok(&["enable", "alice"], None);
    let reset: serde_json::Value =
        serde_json::from_str(&ok(&["reset-password", "alice", "--json"], None)).unwrap();
    assert_eq!(
        reset["password"].as_str().unwrap().len(),
        20,
        "a generated password, shown once"
    );

    // Bad input: a clear error and a failing exit, never a panic.
    let (success, _, stderr) = run(&["disable", "nobody"], None);
    assert!(
        !success && stderr.contains("no user is named \"nobody\""),
        "{stderr}"
    );
    let (success, _, stderr) = run(&["remove", "olga"], None);
    assert!(
        !success && stderr.contains("last enabled operator"),
        "{stderr}"
    );
    let (success, _, stderr) = run(
        &["reset-password", "alice", "--password-stdin"],
        Some("short\n"),
    );
    assert!(
        !success && stderr.contains("at least 12 characters"),
        "{stderr}"
    );

    let sessions: serde_json::Value =
        serde_json::from_str(&ok(&["sessions", "alice", "--json"], None)).unwrap();
    assert_eq!(sessions, serde_json::json!([]));
    let out: serde_json::Value =
        serde_json::from_str(&ok(&["revoke", "alice", "--json"], None)).unwrap();
    assert_eq!(out["action"], "sessions_revoked");
    let (success, _, stderr) = run(&["sessions", "nobody"], None);
    assert!(!success && stderr.contains("no user is named"), "{stderr}");

    ok(&["remove", "alice"], None);
    let listed: serde_json::Value = serde_json::from_str(&ok(&["list", "--json"], None)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[test]
fn config_check_places_a_mapping_error_and_mapping_test_masks_what_it_maps() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../checkbridge.example.toml"
    );
    let config = dir.path().join("c.toml");
    std::fs::copy(example, &config).unwrap();
    std::fs::write(
        dir.path().join("acme.jq"),
        "{id: .id,\n  candidate: {firstName: (.name | }\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["config", "check", "--config"])
        .arg(&config)
        .env("CHECKBRIDGE_SERVICE__MASTER_KEY", MASTER_KEY)
        .env("CHECKBRIDGE_TENANTS__ACME__INTAKE__MAPPING", "acme.jq")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tenants.acme.intake.mapping")
            && stderr.contains("acme.jq does not compile: line 2, column "),
        "{stderr}"
    );

    let input = dir.path().join("in.json");
    std::fs::write(
        &input,
        r#"{"items": [{"BackgroundCheckRequest": {"Id": 4711, "Applicant": {"FirstName": "Jane", "EmailId": "jane@example.com"}}}, 7]}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["mapping", "test", "--tenant", "acme", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(&input)
        .env(
            "CHECKBRIDGE_TENANTS__ACME__INTAKE__PROFILE",
            "backgroundcheckrequest",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("intake through profile backgroundcheckrequest"),
        "{stdout}"
    );
    assert!(stdout.contains("  3 of "), "{stdout}");
    for (field, state) in [
        ("id", "filled"),
        ("candidate.email", "filled"),
        ("candidate.firstName", "filled"),
        ("candidate.nationalId", "missing candidate"),
        ("packageCode", "missing recruiter only"),
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")
                    == format!("{field} {state}")),
            "{field}: {stdout}"
        );
    }
    assert!(
        stdout.contains(
            "invitation 2:\n  raw:\n    \"•••\"\n  FAILED: the invitation is not a JSON object"
        ),
        "{stdout}"
    );
    assert!(
        !stdout.contains("Jane") && !stdout.contains("jane@"),
        "{stdout}"
    );
}
