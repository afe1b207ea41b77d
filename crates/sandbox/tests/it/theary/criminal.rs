use super::*;

/// The Create Order document's own example request, with real addresses where the crawl
/// redacted the emails.
fn seed_example() -> Value {
    json!({
        "searchTypes": [{ "searchType": "EMPLOYMENT" }, { "searchType": "EDUCATION" }],
        "applicant": {
            "firstName": "John", "lastName": "Smith", "ssn": "123-45-6789", "birthday": "1990-05-15",
            "phone": "+1-555-123-4567", "email": "john.smith@example.com",
            "signedReleaseFileUrl": "https://example.com/signed-release.pdf",
            "addresses": [{
                "addressType": "home", "addressLine1": "456 Oak Avenue", "addressLine2": null,
                "addressCity": "Los Angeles", "addressState": "CA", "addressZipCode": "90210",
                "addressCountry": "US", "startDate": "2021-01-01", "endDate": null
            }],
            "applicantAlias": [{ "firstName": "Jonathan", "lastName": "Smith", "middleName": "Michael", "suffix": "Jr." }]
        },
        "businessContext": {
            "entityName": "Apple", "appliedJobTitle": "Senior Software Engineer", "worksiteCity": "San Francisco",
            "worksiteState": "CA", "proposedSalary": 100000, "positionLevel": "STANDARD",
            "securityClearanceRequired": false, "industrySector": "TECHNOLOGY"
        },
        "history": {
            "employment": [{
                "employerName": "Tech Corp", "position": "Software Engineer", "employerEmail": "hr@techcorp.example.com",
                "employerPhone": "+1-555-123-4567", "startDate": "2020-01-15", "endDate": "2023-06-30"
            }],
            "education": [{
                "institutionName": "University of California", "qualification": "Bachelor of Science in Computer Science",
                "fieldOfStudy": "Computer Science", "graduationDate": "2018-05-15",
                "institutionContactEmail": "registrar@university.example.edu", "institutionContactPhone": "+1-510-642-6000"
            }]
        },
        "webhookConfig": {
            "enabled": true, "secret": "webhook-secret-for-hmac-validation", "retryAttempts": 3,
            "closeoutEndpoints": {
                "EMPLOYMENT": "https://client.example.com/webhooks/employment-closeout",
                "EDUCATION": "https://client.example.com/webhooks/education-closeout"
            },
            "fallbackEndpoint": "https://client.example.com/webhooks/search-closeout"
        }
    })
}

async fn sandbox(seed_rules: bool) -> (theary::ThearySandbox, reqwest::Client, String) {
    let sb = theary::spawn(SandboxConfig {
        legacy_criminal: seed_rules,
        ..config()
    })
    .await
    .unwrap();
    sb.state.add_client(ClientSpec {
        tenant: "acme".into(),
        client_id: "cid".into(),
        client_secret: "s".into(),
        audience: AUD.into(),
    });
    let http = reqwest::Client::new();
    let token = token(&sb, &http, "cid", "s", AUD).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (sb, http, token)
}

#[tokio::test]
async fn the_seed_example_request_is_accepted_under_both_rules() {
    for seed_rules in [false, true] {
        let (sb, http, token) = sandbox(seed_rules).await;
        let (status, created) = create(&sb, &http, &token, &seed_example()).await;
        assert_eq!(status, 201, "rules seed={seed_rules}: {created}");
        assert!(created["verificationOrderId"]
            .as_str()
            .unwrap()
            .starts_with("ord_"));
        assert_eq!(created["searchIds"].as_array().unwrap().len(), 2);
    }
}

/// Orders a criminal search for `last_name`, runs it to its end, returns the search read
/// back.
async fn criminal_search(last_name: &str) -> Value {
    let (sb, http, token) = sandbox(true).await;
    let mut body = seed_example();
    body["applicant"]["lastName"] = json!(last_name);
    body["searchTypes"] = json!([{ "searchType": "CRIMINAL", "externalSearchId": "crim-1" }]);
    body["criminalCheck"] = json!({
        "jurisdictions": [{ "type": "STATE", "state": "CA", "country": "US" }],
        "worksiteState": "CA", "positionLevel": "STANDARD", "securityClearanceRequired": false,
        "industrySector": "TECHNOLOGY"
    });
    body["webhookConfig"]["closeoutEndpoints"]["CRIMINAL"] =
        json!("https://client.example.com/webhooks/criminal-closeout");
    let (status, created) = create(&sb, &http, &token, &body).await;
    assert_eq!(status, 201, "{created}");
    let order = created["verificationOrderId"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        sb.state.advance();
    }
    let searches: Value = http
        .get(format!(
            "{}/background-check/v1/orders/{order}/searches",
            sb.api_base()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = searches
        .as_array()
        .or_else(|| searches["searches"].as_array())
        .unwrap()
        .clone();
    assert_eq!(list.len(), 1);
    list[0].clone()
}

#[tokio::test]
async fn seed_rules_run_criminal_searches_to_an_outcome() {
    let clear = criminal_search("Smith").await;
    assert_eq!(clear["searchType"], "CRIMINAL");
    assert_eq!(clear["searchStatus"], "COMPLETED");
    let result = &clear["verificationResult"][0];
    assert_eq!(result["outcome"], "CLEAR");
    let details = &result["resultDetails"]["criminalVerification"];
    assert_eq!(details["recordsFound"], 0);
    assert_eq!(details["jurisdictionsSearched"][0]["state"], "CA");

    let found = criminal_search("Records").await;
    let result = &found["verificationResult"][0];
    assert_eq!(result["outcome"], "RECORDS_FOUND");
    assert_eq!(
        result["resultDetails"]["criminalVerification"]["recordsFound"],
        1
    );
}

#[tokio::test]
async fn current_rules_refuse_a_criminal_search_with_the_documented_message() {
    let (sb, http, token) = sandbox(false).await;
    let mut body = seed_example();
    body["searchTypes"] = json!([{ "searchType": "CRIMINAL" }]);
    body["criminalCheck"] = json!({ "jurisdictions": [{ "state": "CA" }] });
    let (status, err) = create(&sb, &http, &token, &body).await;
    assert_eq!(status, 400);
    let messages = err["message"].to_string();
    assert!(messages.contains("CRIMINAL"), "{messages}");
    assert!(
        messages.contains("criminalCheck is not accepted"),
        "{messages}"
    );
}

#[tokio::test]
async fn seed_rules_refuse_jurisdictions_that_cannot_be_one() {
    let (sb, http, token) = sandbox(true).await;
    let mut body = seed_example();
    body["searchTypes"] = json!([{ "searchType": "CRIMINAL" }]);
    for (jurisdictions, message) in [
        (
            json!([]),
            "Criminal check jurisdictions are required when requesting criminal background checks",
        ),
        (
            json!([{}]),
            "criminalCheck.jurisdictions.0 must be a non-empty object",
        ),
        (
            json!([{ "state": "CA" }, "CA"]),
            "criminalCheck.jurisdictions.1 must be a non-empty object",
        ),
    ] {
        body["criminalCheck"] = json!({ "jurisdictions": jurisdictions });
        let (status, err) = create(&sb, &http, &token, &body).await;
        assert_eq!(status, 400, "{err}");
        assert!(err["message"].to_string().contains(message), "{err}");
    }
    body["criminalCheck"] =
        json!({ "jurisdictions": [{ "state": "CA" }], "worksiteState": "California" });
    let (status, err) = create(&sb, &http, &token, &body).await;
    assert_eq!(status, 400);
    assert!(
        err["message"].to_string().contains("worksiteState"),
        "{err}"
    );
    // A criminalCheck beside searches that are not criminal is ignored, as a tolerant
    // server would.
    let mut plain = seed_example();
    plain["criminalCheck"] = json!({ "jurisdictions": [{ "state": "CA" }] });
    assert_eq!(create(&sb, &http, &token, &plain).await.0, 201);
}
