//! Operators' commands, run as the real binary against a running service and both
//! sandboxes: tenants test (and a plain-words failure), pageup inspect, checks list and
//! show, checks cancel, and pageup reset (the service claims the check again).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};

/// Runs `checkbridge ARGS --config FILE` (with extra environment) off the async runtime.
async fn cli(config: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_checkbridge"));
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .env_remove("CHECKBRIDGE_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs `checkbridge ARGS --json --config FILE` and parses its standard output.
async fn cli_json(config: &Path, args: &[&str]) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_checkbridge"));
    cmd.args(args)
        .arg("--json")
        .arg("--config")
        .arg(config)
        .env_remove("CHECKBRIDGE_CONFIG");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_can_test_inspect_list_cancel_and_reset() {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("checkbridge.toml");
    std::fs::write(&config_path, app.lab.config_toml(&app.db().url)).unwrap();

    // Before the service runs: the raw pending list, as PageUp sends it.
    let waiting = app.seed("initech", Scenario::Clean, 0);
    let (ok, text) = cli(
        &config_path,
        &["pageup", "inspect", "--tenant", "initech"],
        &[],
    )
    .await;
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("\"{waiting}\"")) || text.contains(&format!(":{waiting}")),
        "{text}"
    );

    let (ok, text) = cli(&config_path, &["tenants", "test", "--tenant", "acme"], &[]).await;
    assert!(ok && text.contains("tenant acme is ready"), "{text}");
    let (ok, text) = cli(
        &config_path,
        &["tenants", "test", "--tenant", "acme"],
        &[(
            "CHECKBRIDGE_TENANTS__ACME__PAGEUP__CLIENT_SECRET",
            "wrong-secret",
        )],
    )
    .await;
    assert!(
        !ok && text.contains("rejected the client id and secret"),
        "{text}"
    );

    let done = app.seed("acme", Scenario::Clean, 1);
    let stalled = app.seed("acme", Scenario::Cancelled, 2);
    app.start().await;
    let lab = &app.lab;
    app.wait_for(
        Duration::from_secs(30),
        "one completed, one ordered",
        || async {
            let d = lab.pageup_check("acme", &done)?;
            let s = lab.pageup_check("acme", &stalled)?;
            (d.status == "completed" && s.status == "new").then_some(())
        },
    )
    .await;

    let (ok, text) = cli(&config_path, &["checks", "list", "--tenant", "acme"], &[]).await;
    assert!(
        ok && text.contains(&done) && text.contains(&stalled),
        "{text}"
    );
    let (ok, text) = cli(
        &config_path,
        &["checks", "show", "--tenant", "acme", "--check", &done],
        &[],
    )
    .await;
    assert!(
        ok && text.contains("procured by service:poller")
            && text.contains("verification.completed"),
        "{text}"
    );
    let (ok, text) = cli(&config_path, &["tenants", "list"], &[]).await;
    assert!(
        ok && text.contains("acme") && text.contains("globex"),
        "{text}"
    );

    // The same, as one JSON document each (shapes in docs/operations.md).
    let listed = cli_json(&config_path, &["checks", "list", "--tenant", "acme"]).await;
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pageup_id"] == done.as_str())
        .unwrap();
    assert_eq!(row["phase"], "ordered");
    assert!(
        row["check"].as_str().is_some_and(|c| c.len() == 36),
        "{row}"
    );
    let shown = cli_json(
        &config_path,
        &["checks", "show", "--tenant", "acme", "--check", &done],
    )
    .await;
    assert_eq!(shown["pageup_id"], done.as_str());
    assert_eq!(shown["pageup_status"], "completed");
    let searches = shown["searches"].as_array().unwrap();
    assert!(!searches.is_empty());
    assert!(
        searches.iter().all(|s| s["state"] == "completed"),
        "{shown}"
    );
    assert!(
        shown["access"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["actor"] == "service:poller"),
        "{shown}"
    );
    let tenants = cli_json(&config_path, &["tenants", "list"]).await;
    let keys: Vec<&str> = tenants
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["tenant"].as_str())
        .collect();
    assert!(
        keys.contains(&"acme") && keys.contains(&"globex"),
        "{tenants}"
    );
    assert!(cli_json(&config_path, &["tenants", "health"])
        .await
        .is_array());
    let due = cli_json(&config_path, &["retention", "due"]).await;
    let acme_due = due
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tenant"] == "acme")
        .unwrap();
    assert_eq!(acme_due["due"], 0, "nothing is past retention yet: {due}");
    assert!(acme_due["pii_days"].as_u64().is_some(), "{due}");

    // An operator cancels the stalled check: at Theary, and PageUp is told.
    let (ok, text) = cli(
        &config_path,
        &["checks", "cancel", "--tenant", "acme", "--check", &stalled],
        &[],
    )
    .await;
    assert!(ok, "{text}");
    app.wait_for(
        Duration::from_secs(15),
        "PageUp to show cancelled",
        || async { (lab.pageup_check("acme", &stalled)?.status == "cancelled").then_some(()) },
    )
    .await;
    let reference = lab.pageup_check("acme", &stalled).unwrap().document["referenceNumber"]
        .as_str()
        .unwrap()
        .trim_start_matches("ord_")
        .to_owned();
    let order = lab
        .theary
        .state
        .orders("acme")
        .into_iter()
        .find(|o| o["id"].as_str().is_some_and(|id| id.ends_with(&reference)))
        .unwrap();
    assert_eq!(order["status"], "cancelled", "cancelled at Theary: {order}");

    // An API token made, used over HTTP, listed and revoked from the command line.
    let made = cli_json(
        &config_path,
        &[
            "tokens", "create", "--scope", "read", "--tenant", "acme", "--name", "dash",
        ],
    )
    .await;
    let (id, token) = (
        made["id"].as_str().unwrap().to_owned(),
        made["token"].as_str().unwrap().to_owned(),
    );
    assert!(
        token.starts_with("cbt_") && made["tenant"] == "acme",
        "{made}"
    );
    let (ok, text) = cli(
        &config_path,
        &["tokens", "create", "--scope", "read", "--tenant", "nosuch"],
        &[],
    )
    .await;
    assert!(!ok && text.contains("not configured"), "{text}");
    let http = reqwest::Client::new();
    let tenants = |token: String| {
        let req = http
            .get(format!("{}/api/v1/tenants", app.base_url()))
            .bearer_auth(token);
        async move { req.send().await.unwrap() }
    };
    let r = tenants(token.clone()).await;
    assert_eq!(r.status().as_u16(), 200);
    let seen: serde_json::Value = r.json().await.unwrap();
    assert_eq!(seen.as_array().unwrap().len(), 1, "acme only: {seen}");
    let listed = cli_json(&config_path, &["tokens", "list"]).await;
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap();
    assert!(
        row["last_used_at"].is_string() && row.get("token").is_none(),
        "{row}"
    );
    assert!(
        !listed.to_string().contains(&token[4..]),
        "the text is never listed"
    );
    let (ok, text) = cli(&config_path, &["tokens", "revoke", &id], &[]).await;
    assert!(ok && text.contains("revoked"), "{text}");
    assert_eq!(tenants(token).await.status().as_u16(), 401);

    // Reset a finished check to pending for another UAT run: the service claims it again.
    let (ok, text) = cli(
        &config_path,
        &["pageup", "reset", "--tenant", "acme", "--check", &done],
        &[],
    )
    .await;
    assert!(ok, "{text}");
    let view = app
        .wait_for(
            Duration::from_secs(30),
            "the check claimed and completed again",
            || async {
                let v = lab.pageup_check("acme", &done)?;
                let statuses: Vec<&str> = v.history.iter().map(|h| h.to.as_str()).collect();
                let after_reset = statuses.iter().rposition(|s| *s == "pending")?;
                (v.status == "completed" && statuses[after_reset..].contains(&"queued"))
                    .then_some(v)
            },
        )
        .await;
    assert_eq!(
        lab.theary.state.order_count("acme"),
        2,
        "no second order for a reset check"
    );
    assert!(!view.document["referenceNumber"]
        .as_str()
        .unwrap()
        .is_empty());
    app.finish().await;
}
