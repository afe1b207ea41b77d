//! `pageup inspect --map` against the PageUp sandbox, once per intake profile (the sandbox
//! serving that profile's shape): a real, read-only GET of the pending list; the raw and
//! canonical invitations masked unless `--show-pii`; the fields table; `--json`.

use std::path::Path;
use std::process::Command;

use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};
use sandbox::pageup::InvitationShape;

/// Runs `checkbridge ARGS --config FILE`: success, standard output, standard error.
async fn cli(config: &Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_checkbridge"));
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .env_remove("CHECKBRIDGE_CONFIG");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn inspect_maps_the_live_pending_list(shape: Option<InvitationShape>) {
    let profile = shape.unwrap_or_default().profile();
    let app = TestApp::prepare(
        TestDb::sqlite(),
        LabOptions {
            intake: shape,
            ..LabOptions::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checkbridge.toml");
    std::fs::write(&config, app.lab.config_toml(&app.db().url)).unwrap();
    let waiting = app.seed("initech", Scenario::Clean, 0);
    let before = app.lab.pageup_check("initech", &waiting).unwrap();
    let inspect = ["pageup", "inspect", "--tenant", "initech", "--map"];

    let (ok, json, err) = cli(&config, &[&inspect[..], &["--json"]].concat()).await;
    assert!(ok, "{json}{err}");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["tenant"], "initech");
    assert_eq!(doc["mapping"], format!("profile {profile}"));
    assert_eq!(doc["masked"], true);
    let invitations = doc["invitations"].as_array().unwrap();
    assert_eq!(invitations.len(), 1, "{doc}");
    let inv = &invitations[0];
    assert_eq!(inv["index"], 1);
    assert!(inv["error"].is_null(), "{inv}");
    // Ids are shown; the candidate's data is not.
    assert_eq!(inv["canonical"]["id"], waiting.as_str(), "{inv}");
    assert_eq!(inv["canonical"]["candidate"]["email"], "•••", "{inv}");
    assert!(!json.contains('@'), "an email leaked: {json}");
    let field = |name: &str| {
        inv["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == name)
            .unwrap_or_else(|| panic!("no field {name}: {inv}"))
            .clone()
    };
    assert_eq!(field("id")["filled"], true);
    assert_eq!(field("candidate.email")["filled"], true);
    assert!(field("id").get("supplied_by").is_none());
    for f in inv["fields"].as_array().unwrap() {
        if f["filled"] == false {
            assert!(
                f["supplied_by"] == "candidate" || f["supplied_by"] == "recruiter",
                "{f}"
            );
        }
    }
    assert!(
        inv["ignored"].is_array() && inv["ignored_complete"] == true,
        "{inv}"
    );

    let (ok, text, err) = cli(&config, &inspect).await;
    assert!(ok, "{text}{err}");
    assert!(
        text.contains(&format!("tenant initech: intake through profile {profile}"))
            && text.contains("invitation 1:\n  raw:\n")
            && text.contains("\n  canonical:\n")
            && text.contains("canonical fields filled; missing: ")
            && text.contains("missing: who could supply it"),
        "{text}"
    );
    assert!(!text.contains('@'), "an email leaked: {text}");

    let (ok, shown, err) = cli(&config, &[&inspect[..], &["--show-pii"]].concat()).await;
    assert!(ok && shown.contains('@'), "{shown}{err}");

    // Read only: the check is still pending, and nothing was claimed.
    assert_eq!(before.status, "pending");
    let after = app.lab.pageup_check("initech", &waiting).unwrap();
    assert_eq!(after.status, "pending");
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_map_assumed_profile() {
    inspect_maps_the_live_pending_list(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_map_backgroundcheckrequest_profile() {
    inspect_maps_the_live_pending_list(Some(InvitationShape::BackgroundCheckRequest)).await;
}

/// Schema drift end to end: the tenant's remembered shape lacks most of what the sandbox
/// sends, so the service's first poll opens "PageUp payload changed"; `pageup drift` shows
/// it and `--ack` resolves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pageup_drift_shows_and_acknowledges_a_payload_change() {
    use checkbridge::domain::ids::TenantKey;
    use checkbridge::intake::drift::{Shape, ISSUE_KIND};
    let mut app = TestApp::prepare(
        TestDb::sqlite(),
        LabOptions {
            intake: Some(InvitationShape::BackgroundCheckRequest),
            ..LabOptions::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checkbridge.toml");
    std::fs::write(&config, app.lab.config_toml(&app.db().url)).unwrap();
    let (ok, text, err) = cli(&config, &["pageup", "drift", "--tenant", "acme"]).await;
    assert!(ok && text.contains("no invitation seen yet"), "{text}{err}");

    let known = ["BackgroundCheckRequest", "BackgroundCheckRequest.Id"];
    let shape = Shape {
        known: known.iter().map(|p| (*p).to_owned()).collect(),
        reads: known.iter().map(|p| (*p).to_owned()).collect(),
        baseline_done: true,
        ..Shape::default()
    };
    let acme = TenantKey::from("acme");
    app.store.save_intake_shape(&acme, &shape, 1).await.unwrap();
    app.seed("acme", Scenario::Clean, 0);
    app.start().await;
    let store = app.store.clone();
    let issue = app
        .wait_for(
            std::time::Duration::from_secs(30),
            "the drift issue",
            || async {
                store
                    .open_issues()
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|i| i.kind == ISSUE_KIND && i.tenant == acme)
            },
        )
        .await;
    assert!(
        issue
            .summary
            .contains("new fields: BackgroundCheckRequest.Applicant"),
        "{}",
        issue.summary
    );
    assert!(!issue.summary.contains('@'), "{}", issue.summary);

    let (ok, text, err) = cli(&config, &["pageup", "drift", "--tenant", "acme"]).await;
    assert!(
        ok && text.contains("OPEN: PageUp payload changed; new fields: "),
        "{text}{err}"
    );
    let (ok, text, err) = cli(&config, &["pageup", "drift", "--tenant", "acme", "--ack"]).await;
    assert!(ok && text.contains("is accepted"), "{text}{err}");
    assert!(!store
        .open_issues()
        .await
        .unwrap()
        .iter()
        .any(|i| i.kind == ISSUE_KIND));
    let (ok, text, _) = cli(&config, &["pageup", "drift", "--tenant", "acme"]).await;
    assert!(
        ok && text.contains("no PageUp payload change open"),
        "{text}"
    );
}
