//! The admin API, the printed quick start, and the change signal.

use std::time::Duration;

use sandbox::pageup::{ClientSpec, GenerateOptions, PageUpConfig};
use serde_json::{json, Value};

use super::{doc, list_url, put, put_url, setup, TENANT};

#[tokio::test]
async fn admin_api_seeds_reads_and_injects_faults() {
    let (sb, http, token) = setup(PageUpConfig::default()).await;
    let admin = format!("{}/__admin", sb.base_url());
    let r = http
        .post(format!("{admin}/tenants/{TENANT}/invitations/generate"))
        .json(&json!({ "count": 3, "seed": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(format!("{admin}/tenants/{TENANT}/invitations"))
        .json(&json!({ "id": 42 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["id"], "42");
    let checks: Value = http
        .get(format!("{admin}/tenants/{TENANT}/checks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(checks.as_array().unwrap().len(), 4);
    http.post(format!("{admin}/faults"))
        .json(&json!({ "pathPrefix": "/v3/", "count": 1, "status": 503 }))
        .send()
        .await
        .unwrap();
    let url = list_url(&sb, TENANT);
    assert_eq!(
        http.get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        http.get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let journal: Value = http
        .get(format!("{admin}/journal"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<_> = journal
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["method"] == "GET")
        .map(|e| e["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!(503), json!(200)]);
    let r = http
        .get(format!("{admin}/tenants/{TENANT}/checks/none"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// The quick start's curl commands work as printed.
#[tokio::test]
async fn quickstart_curl_commands_work_as_printed() {
    let (sb, _http, _) = setup(PageUpConfig::default()).await;
    let id = sb
        .state
        .seed_generated(TENANT, 1, &GenerateOptions::default())
        .remove(0);
    let text = sb.quickstart(&ClientSpec::full(TENANT, "cid", "secret"));
    let stdout =
        crate::run_quickstart(&text, |script| script.replace("/ID", &format!("/{id}"))).await;
    assert!(
        stdout.contains(&format!("\"{id}\"")),
        "listed and claimed: {stdout}"
    );
    assert_eq!(sb.state.check(TENANT, &id).unwrap().status, "queued");
}

#[tokio::test]
async fn changes_are_signalled_on_seed_and_accepted_put_only() {
    let (sb, http, token) = setup(PageUpConfig::default()).await;
    let mut changes = sb.state.changes();
    let id = sb.state.seed(TENANT, json!({}));
    assert!(changes.has_changed().unwrap(), "a seed is a change");
    changes.borrow_and_update();
    // A refused PUT changes nothing, so it signals nothing.
    let (status, _) = put(&http, &put_url(&sb, TENANT, &id), &token, doc("new")).await;
    assert_eq!(status, 400);
    assert!(!changes.has_changed().unwrap());
    // A claim does: a waiter wakes at once.
    let (status, _) = put(&http, &put_url(&sb, TENANT, &id), &token, doc("queued")).await;
    assert_eq!(status, 200);
    tokio::time::timeout(Duration::from_secs(5), changes.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sb.state.check(TENANT, &id).unwrap().status, "queued");
}
