//! The Theary API: tokens and 401s, create-order validation, orders read and cancelled per
//! tenant, and the printed quick start.

use sandbox::theary::{self, ClientSpec, SandboxConfig};
use serde_json::{json, Value};

use super::{config, create, order, setup, token, Case, Receiver, AUD};

#[tokio::test]
async fn tokens_and_the_documented_401_bodies() {
    let (sb, http, token) = setup().await;
    assert_eq!(
        token_status(&sb, &http, "cid", "wrong", AUD).await,
        (401, "access_denied".into())
    );
    assert_eq!(
        token_status(&sb, &http, "cid", "s", "https://other").await,
        (403, "access_denied".into())
    );
    let r = http
        .post(format!("{}/oauth/token", sb.auth_url()))
        .json(&json!({ "client_id": "cid" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let orders = format!("{}/background-check/v1/orders", sb.api_base());
    let r = http.get(&orders).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.json::<Value>().await.unwrap()),
        (401, json!({ "statusCode": 401, "message": "Unauthorized" }))
    );
    let r = http
        .get(&orders)
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "Invalid or expired token"
    );
    assert_eq!(
        http.get(&orders)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    sb.state.expire_tokens();
    let r = http.get(&orders).bearer_auth(&token).send().await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.json::<Value>().await.unwrap()["message"].clone()
        ),
        (401, json!("Invalid or expired token"))
    );
    let health = http
        .get(format!("{}/health", sb.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.json::<Value>().await.unwrap()["success"], true);
}

async fn token_status(
    sb: &theary::ThearySandbox,
    http: &reqwest::Client,
    id: &str,
    secret: &str,
    aud: &str,
) -> (u16, String) {
    let (s, v) = token(sb, http, id, secret, aud).await;
    (s, v["error"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn every_validation_rule_with_its_message() {
    let (sb, http, token) = setup().await;
    // One case a line, so the rule and its message read together.
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        (Box::new(|o| { o["applicant"]["firstName"] = json!(""); }), "applicant.firstName should not be empty"),
        (Box::new(|o| { o["applicant"].as_object_mut().unwrap().remove("ssn"); }), "applicant.ssn should not be empty"),
        (Box::new(|o| { o["applicant"]["ssn"] = json!("123456789"); }), "applicant.ssn must match XXX-XX-XXXX format"),
        (Box::new(|o| { o["applicant"]["birthday"] = json!("15/05/1990"); }), "applicant.birthday must be a valid date in YYYY-MM-DD format"),
        (Box::new(|o| { o["applicant"]["email"] = json!("not-an-email"); }), "applicant.email must be an email"),
        (Box::new(|o| { o["businessContext"]["entityName"] = json!(""); }), "entityName should not be empty"),
        (Box::new(|o| { o["businessContext"]["worksiteState"] = json!("Calif"); }), "worksiteState must be exactly 2 characters"),
        (Box::new(|o| { o["businessContext"]["proposedSalary"] = json!("100k"); }), "proposedSalary must be a number"),
        (Box::new(|o| { o["businessContext"]["positionLevel"] = json!("JUNIOR"); }), "positionLevel must be one of the following values: EXECUTIVE, STANDARD, SENSITIVE"),
        (Box::new(|o| { o.as_object_mut().unwrap().remove("businessContext"); }), "businessContext should not be empty"),
        (Box::new(|o| { o["searchTypes"] = json!([]); }), "searchTypes must contain at least 1 elements"),
        (Box::new(|o| { o["searchTypes"][0]["searchType"] = json!("DRUG"); }), "searchTypes.0.searchType must be one of the following values: EMPLOYMENT, EDUCATION"),
        (Box::new(|o| { o["searchTypes"][0]["searchType"] = json!("CRIMINAL"); }), "searchTypes.0.searchType CRIMINAL is not accepted"),
        (Box::new(|o| { o["criminalCheck"] = json!({ "jurisdictions": [{}] }); }), "criminalCheck is not accepted"),
        (Box::new(|o| { o["history"]["criminal"] = json!([]); }), "history.criminal is not accepted"),
        (Box::new(|o| { o["history"]["employment"][0]["startDate"] = json!("2020-13-01"); }), "history.employment.0.startDate must be a valid date in YYYY-MM-DD format"),
        (Box::new(|o| { o["history"]["education"] = json!([{ "institutionName": "UC" }]); }), "history.education.0.qualification should not be empty"),
        (Box::new(|o| { o["applicant"]["addresses"] = json!([
            { "addressType": "home", "addressLine1": "1 A St", "addressCity": "LA", "addressState": "CA", "addressZipCode": "90210", "startDate": "2020-01-01" },
            { "addressType": "home", "addressLine1": "2 B St", "addressCity": "LA", "addressState": "CA", "addressZipCode": "90210", "startDate": "2021-01-01" }]); }),
         "applicant.addresses must have exactly one current address (endDate null)"),
        (Box::new(|o| { o["webhookConfig"] = json!({ "fallbackEndpoint": "http://example.com/hook" }); }), "webhookConfig.fallbackEndpoint must be a valid HTTPS URL"),
        (Box::new(|o| { o["webhookConfig"] = json!({ "retryAttempts": 11 }); }), "webhookConfig.retryAttempts must not be greater than 10"),
        (Box::new(|o| { o["webhookConfig"] = json!({ "closeoutEndpoints": { "EMPLOYMENT": { "url": "https://x.example", "events": ["verification.bogus"] } } }); }),
         "webhookConfig.closeoutEndpoints.EMPLOYMENT.events must contain only"),
    ];
    for (mutate, expected) in cases {
        let mut body = order("Tech Corp", None);
        mutate(&mut body);
        let (status, err) = create(&sb, &http, &token, &body).await;
        assert_eq!(status, 400, "{expected}");
        assert_eq!(err["error"], "Bad Request");
        let messages: Vec<String> = err["message"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect();
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "{expected} not in {messages:?}"
        );
    }
    // Every problem at once.
    let (_, err) = create(
        &sb,
        &http,
        &token,
        &json!({ "applicant": {}, "searchTypes": [] }),
    )
    .await;
    assert!(err["message"].as_array().unwrap().len() >= 5, "{err}");
    let r = http
        .post(format!("{}/background-check/v1/orders", sb.api_base()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        sb.state.order_count("acme"),
        0,
        "nothing invalid was created"
    );
}

#[tokio::test]
async fn legacy_mode_requires_jurisdictions_for_criminal() {
    let sb = theary::spawn(SandboxConfig {
        legacy_criminal: true,
        ..config()
    })
    .await
    .unwrap();
    sb.state.add_client(ClientSpec {
        tenant: "t".into(),
        client_id: "c".into(),
        client_secret: "s".into(),
        audience: AUD.into(),
    });
    let http = reqwest::Client::new();
    let token = token(&sb, &http, "c", "s", AUD).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut body = order("Tech Corp", None);
    body["searchTypes"] = json!([{ "searchType": "CRIMINAL" }]);
    let (s, err) = create(&sb, &http, &token, &body).await;
    assert_eq!(s, 400);
    assert_eq!(
        err["message"][0],
        "Criminal check jurisdictions are required when requesting criminal background checks"
    );
    body["criminalCheck"] = json!({ "jurisdictions": [{ "state": "CA" }] });
    assert_eq!(create(&sb, &http, &token, &body).await.0, 201);
}

#[tokio::test]
async fn create_read_cancel_and_tenant_isolation() {
    let (sb, http, token) = setup().await;
    sb.state.add_client(ClientSpec {
        tenant: "other".into(),
        client_id: "c2".into(),
        client_secret: "s".into(),
        audience: AUD.into(),
    });
    let other = token_of(&sb, &http, "c2").await;
    let mut body = order("Tech Corp", None);
    body["searchTypes"] = json!([{ "searchType": "EMPLOYMENT", "externalSearchId": "e1" }, { "searchType": "EDUCATION", "externalSearchId": "e2" }]);
    let (s, created) = create(&sb, &http, &token, &body).await;
    assert_eq!(s, 201);
    let order_id = created["verificationOrderId"].as_str().unwrap().to_owned();
    assert!(order_id.starts_with("ord_"));
    assert!(created["searchIds"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s.as_str().unwrap().starts_with("search_")));
    let base = format!("{}/background-check/v1/orders", sb.api_base());
    let bare = order_id.trim_start_matches("ord_");
    for id in [order_id.as_str(), bare] {
        let o: Value = http
            .get(format!("{base}/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (o["id"].as_str(), o["status"].as_str()),
            (Some(bare), Some("pending"))
        );
        assert_eq!(o["applicant"]["ssn"], "***-**-6789");
    }
    let r = http
        .get(format!("{base}/{order_id}"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.json::<Value>().await.unwrap()),
        (
            404,
            json!({ "error": "Order not found", "orderId": order_id })
        )
    );
    let searches: Value = http
        .get(format!("{base}/{order_id}/searches"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(searches.as_array().unwrap().len(), 2);
    let sid = created["searchIds"][1].as_str().unwrap();
    let one: Value = http
        .get(format!("{base}/{order_id}/searches/{sid}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            one["externalSearchId"].as_str(),
            one["searchStatus"].as_str()
        ),
        (Some("e2"), Some("IN_PROGRESS"))
    );
    let r = http
        .get(format!("{base}/{order_id}/searches/search_nope"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "Search not found"
    );
    // Timestamps carry milliseconds, and an order changes when its searches do.
    let before: Value = http
        .get(format!("{base}/{order_id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created_at = before["createdAt"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            created_at.len(),
            &created_at[19..20],
            created_at.ends_with('Z')
        ),
        (24, ".", true),
        "{created_at}"
    );
    sb.state.advance();
    let after: Value = http
        .get(format!("{base}/{order_id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let searches: Value = http
        .get(format!("{base}/{order_id}/searches"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let latest = searches
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["updatedAt"].as_str().unwrap().to_owned())
        .chain([created_at.clone()])
        .max()
        .unwrap();
    assert_eq!(after["updatedAt"].as_str().unwrap(), latest);
    assert_eq!(after["status"], "in_progress");
    let list: Value = http
        .get(format!("{base}?page=1&limit=10"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["pagination"]["total"], 1);
    let list: Value = http
        .get(&base)
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["pagination"]["total"], 0);
    assert_eq!(
        http.delete(format!("{base}/{order_id}"))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let c: Value = http
        .delete(format!("{base}/{order_id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (c["status"].as_str(), c["affectedSearches"].as_u64()),
        (Some("cancelled"), Some(2))
    );
    assert_eq!(sb.state.advance(), 0, "cancelled searches do not move");
}

async fn token_of(sb: &theary::ThearySandbox, http: &reqwest::Client, id: &str) -> String {
    token(sb, http, id, "s", AUD).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn quickstart_curl_commands_work_as_printed() {
    let (sb, _http, _) = setup().await;
    let (server, rx) = Receiver::spawn().await;
    let client = ClientSpec {
        tenant: "acme".into(),
        client_id: "cid".into(),
        client_secret: "s".into(),
        audience: AUD.into(),
    };
    let text = sb.quickstart(&client, Some(&format!("{}/hook", server.base_url())));
    let stdout = crate::run_quickstart(&text, |script| script).await;
    assert!(
        stdout.contains("\"verificationOrderId\":\"ord_"),
        "{stdout}"
    );
    assert_eq!(sb.state.order_count("acme"), 1);
    for _ in 0..3 {
        sb.state.advance();
    }
    let events = rx.wait_for(&sb, 3).await;
    assert_eq!(events.last().unwrap().2["event"], "verification.completed");
}
