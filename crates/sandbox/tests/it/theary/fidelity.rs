//! Theary as its reference notes describe it, where the sandbox once took shortcuts:
//! tenant-level webhooks, `searchConfig` replacing `defaultSearchConfig` as a whole, no
//! fallback for an event a type-specific target does not take, the bare validation messages,
//! batches, the release-form upload and inbound notifications.

use std::time::Duration;

use serde_json::{json, Value};

use super::{all_events, create, order, setup, Receiver};

/// Advances every search to its end and waits for the deliveries to settle.
async fn run_out(sb: &sandbox::theary::ThearySandbox) {
    for _ in 0..3 {
        sb.state.advance();
    }
    assert!(sb.state.wait_deliveries_idle(Duration::from_secs(10)).await);
}

fn count(rx: &Receiver, path: &str) -> usize {
    rx.got
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, ..)| p == path)
        .count()
}

#[tokio::test]
async fn tenant_level_webhooks_apply_only_without_a_request_level_config() {
    let (sb, http, token) = setup().await;
    let (server, rx) = Receiver::spawn().await;
    let base = server.base_url();
    let admin = format!("{}/__admin/tenants/acme/webhook-config", sb.base_url());

    // A bad configuration is refused with Theary's validation messages, and not stored.
    let r = http
        .put(&admin)
        .json(&json!({ "retryAttempts": 11, "fallbackEndpoint": "ftp://x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    let msgs = body["message"].to_string();
    assert!(
        msgs.contains("webhookConfig.retryAttempts must not be greater than 10"),
        "{msgs}"
    );
    assert!(
        msgs.contains("webhookConfig.fallbackEndpoint must be a valid HTTPS URL"),
        "{msgs}"
    );
    assert_eq!(
        http.get(&admin).send().await.unwrap().status().as_u16(),
        404
    );

    let tenant_cfg = json!({ "secret": "tenant-secret-0123", "fallbackEndpoint": { "url": format!("{base}/tenant"), "events": all_events() } });
    let r = http.put(&admin).json(&tenant_cfg).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let stored: Value = http.get(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(stored, tenant_cfg);

    // No webhookConfig: the tenant's settings, signed with the tenant's secret.
    let (status, _) = create(&sb, &http, &token, &order("Tech Corp", None)).await;
    assert_eq!(status, 201);
    run_out(&sb).await;
    assert_eq!(count(&rx, "/tenant"), 3);

    // A request-level webhookConfig takes precedence: nothing goes to the tenant's target.
    let hook =
        json!({ "fallbackEndpoint": { "url": format!("{base}/order"), "events": all_events() } });
    create(&sb, &http, &token, &order("Tech Corp", Some(hook))).await;
    run_out(&sb).await;
    assert_eq!((count(&rx, "/order"), count(&rx, "/tenant")), (3, 3));

    // Another tenant's configuration is not this tenant's.
    let r = http
        .put(format!("{}/__admin/tenants/other/webhook-config", sb.base_url()))
        .json(&json!({ "fallbackEndpoint": { "url": format!("{base}/other"), "events": all_events() } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    create(&sb, &http, &token, &order("Tech Corp", None)).await;
    run_out(&sb).await;
    assert_eq!((count(&rx, "/tenant"), count(&rx, "/other")), (6, 0));

    // Removed: an order without webhookConfig sends nothing.
    let r = http.delete(&admin).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    create(&sb, &http, &token, &order("Tech Corp", None)).await;
    run_out(&sb).await;
    assert_eq!(count(&rx, "/tenant"), 6);
}

#[tokio::test]
async fn an_empty_search_config_replaces_the_default_search_config() {
    let (sb, http, token) = setup().await;
    let (server, rx) = Receiver::spawn().await;
    let base = server.base_url();
    let mut body = order(
        "Tech Corp",
        Some(
            json!({ "fallbackEndpoint": { "url": format!("{base}/order"), "events": all_events() } }),
        ),
    );
    body["defaultSearchConfig"] = json!({ "notifications": { "webhookOverride": {
        "fallbackEndpoint": { "url": format!("{base}/default"), "events": all_events() } } } });
    body["searchTypes"] = json!([
        { "searchType": "EMPLOYMENT", "externalSearchId": "emp", "searchConfig": {} },
        { "searchType": "EDUCATION", "externalSearchId": "edu" }
    ]);
    body["history"]["education"] = json!([{ "institutionName": "UC", "qualification": "BS", "fieldOfStudy": "CS", "graduationDate": "2018-05-15" }]);
    let (status, _) = create(&sb, &http, &token, &body).await;
    assert_eq!(status, 201);
    run_out(&sb).await;
    let got = rx.events();
    let to = |path: &str| -> Vec<String> {
        got.iter()
            .filter(|(p, ..)| p == path)
            .map(|(_, h, _)| h["x-external-search-id"].to_str().unwrap().to_owned())
            .collect()
    };
    // EMPLOYMENT's `{}` replaced the default (and its override): the order's webhookConfig.
    assert_eq!(to("/order"), ["emp", "emp", "emp"]);
    // EDUCATION had no searchConfig: the default's override.
    assert_eq!(to("/default"), ["edu", "edu", "edu"]);
}

#[tokio::test]
async fn an_event_a_type_specific_target_does_not_take_does_not_fall_back() {
    let (sb, http, token) = setup().await;
    let (server, rx) = Receiver::spawn().await;
    let base = server.base_url();
    let hook = json!({
        "closeoutEndpoints": { "EMPLOYMENT": { "url": format!("{base}/emp"), "events": ["verification.completed"] } },
        "fallbackEndpoint": { "url": format!("{base}/fallback"), "events": all_events() }
    });
    create(&sb, &http, &token, &order("Tech Corp", Some(hook))).await;
    run_out(&sb).await;
    // Two notifications and the completion were produced; only the completion was wanted.
    assert_eq!((count(&rx, "/emp"), count(&rx, "/fallback")), (1, 0));
    assert_eq!(rx.events()[0].1["x-event-type"], "verification.completed");
}

#[tokio::test]
async fn validation_messages_name_business_context_fields_bare() {
    let (sb, http, token) = setup().await;
    let mut body = order("Tech Corp", None);
    body["applicant"]["firstName"] = json!("");
    body["businessContext"]["entityName"] = json!("");
    body["businessContext"]["proposedSalary"] = json!("lots");
    let (status, err) = create(&sb, &http, &token, &body).await;
    assert_eq!(status, 400);
    let messages: Vec<&str> = err["message"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    // As Theary's error examples show them: applicant fields with their path, business
    // context fields bare.
    assert_eq!(
        messages,
        [
            "applicant.firstName should not be empty",
            "entityName should not be empty",
            "proposedSalary must be a number"
        ]
    );
    assert_eq!(err["error"], "Bad Request");
}

async fn post(
    sb: &sandbox::theary::ThearySandbox,
    http: &reqwest::Client,
    token: &str,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let r = http
        .post(format!("{}{path}", sb.api_base()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn batches_create_each_order_on_its_own_and_name_the_bad_entry() {
    let (sb, http, token) = setup().await;
    let (status, ok) = post(
        &sb,
        &http,
        &token,
        "/background-check/v1/batches",
        &json!({ "orders": [order("Tech Corp", None), order("Other Corp", None)] }),
    )
    .await;
    assert_eq!(status, 201, "{ok}");
    assert_eq!(ok["success"], true);
    assert_eq!(ok["ordersCreated"], 2);
    assert!(ok["batchId"].as_str().is_some_and(|b| !b.is_empty()));
    for o in ok["orders"].as_array().unwrap() {
        assert!(o["verificationOrderId"]
            .as_str()
            .unwrap()
            .starts_with("ord_"));
        assert_eq!(o["searchIds"].as_array().unwrap().len(), 1);
    }
    assert_eq!(sb.state.order_count("acme"), 2);

    // A bad entry among good ones: the request fails, naming the entry, but it is not atomic:
    // the good entries were created, and the per-entry results say which.
    let mut bad = order("Bad Corp", None);
    bad["applicant"]["ssn"] = json!("123456789");
    let (status, err) = post(
        &sb,
        &http,
        &token,
        "/background-check/v1/batches",
        &json!({ "orders": [order("Tech Corp", None), bad, order("Third Corp", None)] }),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(
        err["message"],
        json!(["orders.1.applicant.ssn must match XXX-XX-XXXX format"])
    );
    assert_eq!(err["ordersCreated"], 2);
    let results = err["results"].as_array().unwrap();
    assert_eq!(
        results
            .iter()
            .map(|r| r["success"].as_bool().unwrap())
            .collect::<Vec<_>>(),
        [true, false, true]
    );
    assert_eq!(
        results[1]["message"],
        json!(["applicant.ssn must match XXX-XX-XXXX format"])
    );
    assert!(results[0]["order"]["verificationOrderId"]
        .as_str()
        .unwrap()
        .starts_with("ord_"));
    assert_eq!(sb.state.order_count("acme"), 4);

    for (body, message) in [
        (json!({}), "orders should not be empty"),
        (
            json!({ "orders": [] }),
            "orders must contain at least 1 elements",
        ),
        (json!({ "orders": {} }), "orders must be an array"),
        (json!({ "orders": [7] }), "orders.0 must be an object"),
    ] {
        let (status, err) = post(&sb, &http, &token, "/background-check/v1/batches", &body).await;
        assert_eq!((status, err["message"].clone()), (400, json!([message])));
    }
    assert_eq!(sb.state.order_count("acme"), 4);

    // The placeholders, verbatim; a token is still needed.
    let get = |path: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            let r = http.get(path).bearer_auth(token).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, list) = get(format!(
        "{}/background-check/v1/batches?page=2&limit=20",
        sb.api_base()
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["batches"], json!([]));
    assert_eq!(
        list["pagination"],
        json!({ "page": 2, "limit": 20, "total": 0, "totalPages": 0, "hasNext": false, "hasPrev": false })
    );
    assert_eq!(
        list["message"],
        "Batch tracking not yet implemented - orders are processed individually"
    );
    let (_, one) = get(format!("{}/background-check/v1/batches/b-1", sb.api_base())).await;
    assert_eq!(one["batchId"], "b-1");
    assert_eq!(
        one["note"],
        "Use individual order endpoints to track order status"
    );
    let r = http
        .delete(format!("{}/background-check/v1/batches/b-1", sb.api_base()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let deleted: Value = r.json().await.unwrap();
    assert_eq!(
        (deleted["success"].clone(), deleted["batchId"].clone()),
        (json!(false), json!("b-1"))
    );
    let r = http
        .get(format!("{}/background-check/v1/batches", sb.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn release_forms_upload_through_an_expiring_signed_url() {
    let (sb, http, token) = setup().await;
    let url = format!("{}/files/release-form/generate-upload-url", sb.api_base());
    assert_eq!(http.get(&url).send().await.unwrap().status().as_u16(), 401);
    let issued: Value = http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signed = issued["signedUrl"].as_str().unwrap().to_owned();
    let file_uri = issued["fileUri"].as_str().unwrap().to_owned();
    assert!(
        file_uri.starts_with("gs://verification-api-storage/tenants/acme/releaseForms/")
            && file_uri.ends_with(".pdf"),
        "{file_uri}"
    );
    assert!(signed.contains("X-Goog-Signature="), "{signed}");
    let pdf = b"%PDF-1.4\n% signed release\n".to_vec();
    let put = |url: String, ctype: &'static str, body: Vec<u8>| {
        let http = http.clone();
        async move {
            let r = http
                .put(url)
                .header("Content-Type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };

    // Not a PDF, or not sent as one: refused, nothing stored.
    let (status, text) = put(signed.clone(), "application/pdf", b"hello".to_vec()).await;
    assert_eq!(status, 400);
    assert!(text.contains("must be a PDF"), "{text}");
    let (status, text) = put(signed.clone(), "text/plain", pdf.clone()).await;
    assert_eq!(status, 400);
    assert!(text.contains("Content-Type: application/pdf"), "{text}");
    // An altered URL (another tenant's path) is not signed.
    let forged = signed.replace("/tenants/acme/", "/tenants/other/");
    let (status, text) = put(forged, "application/pdf", pdf.clone()).await;
    assert_eq!(status, 403);
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    assert!(sb.state.release_forms().is_empty());

    let (status, _) = put(signed.clone(), "application/pdf", pdf.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(sb.state.release_forms(), [(file_uri.clone(), pdf.len())]);

    // The order then names the uploaded file.
    let mut body = order("Tech Corp", None);
    body["applicant"]["signedReleaseFileUrl"] = json!(file_uri);
    assert_eq!(create(&sb, &http, &token, &body).await.0, 201);

    // An expired URL is refused.
    let quick = sandbox::theary::spawn(sandbox::theary::SandboxConfig {
        upload_url_lifetime: Duration::ZERO,
        ..super::config()
    })
    .await
    .unwrap();
    quick.state.add_client(sandbox::theary::ClientSpec {
        tenant: "acme".into(),
        client_id: "cid".into(),
        client_secret: "s".into(),
        audience: super::AUD.into(),
    });
    let (_, t) = super::token(&quick, &http, "cid", "s", super::AUD).await;
    let issued: Value = http
        .get(format!(
            "{}/files/release-form/generate-upload-url",
            quick.api_base()
        ))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, text) = put(
        issued["signedUrl"].as_str().unwrap().to_owned(),
        "application/pdf",
        pdf,
    )
    .await;
    assert_eq!(status, 400);
    assert!(text.contains("ExpiredToken"), "{text}");
    assert!(quick.state.release_forms().is_empty());
}

#[tokio::test]
async fn inbound_notifications_are_validated_matched_and_drive_the_search() {
    let (sb, http, token) = setup().await;
    let (server, rx) = Receiver::spawn().await;
    let hook = json!({ "fallbackEndpoint": { "url": format!("{}/h", server.base_url()), "events": all_events() } });
    let mut body = order("Tech Corp", Some(hook));
    body["searchTypes"][0]["externalSearchId"] = json!("inbound-ext-42");
    let (_, created) = create(&sb, &http, &token, &body).await;
    let search = created["searchIds"][0]
        .as_str()
        .unwrap()
        .trim_start_matches("search_")
        .to_owned();
    let path = "/background-check/v1/inbound/notifications";

    // Invalid bodies get every problem named.
    let (status, err) = post(
        &sb,
        &http,
        &token,
        path,
        &json!({ "channel": "PIGEON", "messageData": { "subject": 7, "timestamp": "yesterday", "attachments": {} }, "metadata": [] }),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(
        err["message"],
        json!([
            "channel must be one of the following values: EMAIL, EFORM, MICROSOFT_GRAPH, FAX_WEBHOOK, TICKETING, JITBIT, JSON, STANDARD",
            "messageData.subject must be a string",
            "messageData.timestamp must be a valid ISO 8601 date string",
            "messageData.attachments must be an array",
            "metadata must be an object"
        ])
    );
    let (status, err) = post(&sb, &http, &token, path, &json!({ "messageId": "m" })).await;
    assert_eq!(
        (status, err["message"].clone()),
        (400, json!(["messageData should not be empty"]))
    );

    // No reference to a search: the documented failure result, with a generated id.
    let (status, res) = post(
        &sb,
        &http,
        &token,
        path,
        &json!({ "messageData": { "subject": "Hello", "body": { "text": "Nothing here" } } }),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(res["success"], false);
    assert_eq!(
        res["failureReasons"],
        json!(["Search not found for reference number"])
    );
    assert_eq!(res["metadata"]["errorCode"], "SEARCH_NOT_FOUND");
    let generated = res["messageId"].as_str().unwrap();
    assert!(generated.starts_with("msg_"), "{generated}");
    assert_eq!(
        res["threadId"], res["messageId"],
        "threadId falls back to messageId"
    );

    // A non-terminal reply (referenced by externalSearchId): a notification, still open.
    let (status, res) = post(
        &sb,
        &http,
        &token,
        path,
        &json!({ "channel": "EMAIL", "messageData": { "id": "msg_001", "threadId": "thread_001",
            "from": "hr@techcorp.com", "to": "verify@theary.ai", "subject": "Re: inbound-ext-42",
            "body": { "text": "Who is asking?" }, "timestamp": "2024-01-15T10:30:00.000Z", "attachments": [{}] }, "metadata": {} }),
    )
    .await;
    assert_eq!(status, 201, "{res}");
    assert_eq!(
        (
            res["success"].clone(),
            res["messageId"].clone(),
            res["threadId"].clone()
        ),
        (json!(true), json!("msg_001"), json!("thread_001"))
    );
    assert_eq!(res["searchId"], search);
    assert_eq!(res["terminal"], false);
    assert_eq!(res["classification"]["type"], "UNKNOWN");
    let got = rx.wait_for(&sb, 1).await;
    assert_eq!(got[0].2["data"]["notificationType"], "INBOUND_MESSAGE");
    assert_eq!(got[0].2["data"]["classification"]["type"], "UNKNOWN");

    // A confirming reply (referenced by search id; top-level ids win): the search completes.
    let (_, res) = post(
        &sb,
        &http,
        &token,
        path,
        &json!({ "messageId": "top", "channel": "EMAIL", "messageData": { "id": "inner", "subject": format!("Verification search_{search}"),
            "body": { "text": "John Smith worked here from 2020-01-15 to 2023-06-30 as Engineer." } } }),
    )
    .await;
    assert_eq!(res["messageId"], "top");
    assert_eq!(res["classification"]["type"], "VERIFICATION");
    assert_eq!(res["terminal"], true);
    let got = rx.wait_for(&sb, 3).await;
    assert_eq!(got[2].1["x-event-type"], "verification.completed");
    assert_eq!(
        got[2].2["data"]["verificationResult"]["outcome"],
        "VERIFIED"
    );

    // Once finished, further replies are not applied.
    let (_, res) = post(
        &sb,
        &http,
        &token,
        path,
        &json!({ "messageData": { "subject": format!("search_{search}"), "body": { "text": "again" } },
            "metadata": { "classification": { "type": "NO_RECORD" } } }),
    )
    .await;
    assert_eq!(res["success"], false);
    assert_eq!(res["metadata"]["errorCode"], "SEARCH_CLOSED");

    // Another tenant's token cannot reach this search.
    sb.state.add_client(sandbox::theary::ClientSpec {
        tenant: "other".into(),
        client_id: "cid2".into(),
        client_secret: "s2".into(),
        audience: super::AUD.into(),
    });
    let (_, t) = super::token(&sb, &http, "cid2", "s2", super::AUD).await;
    let (_, res) = post(
        &sb,
        &http,
        t["access_token"].as_str().unwrap(),
        path,
        &json!({ "messageData": { "subject": format!("search_{search}") } }),
    )
    .await;
    assert_eq!(res["metadata"]["errorCode"], "SEARCH_NOT_FOUND");
}

#[tokio::test]
async fn search_config_sections_are_validated_as_documented() {
    let (sb, http, token) = setup().await;
    let mut body = order("Tech Corp", None);
    body["defaultSearchConfig"] = json!({
        "thirdPartyBan": ["TALX_WORK_NUMBER", "unknown"],
        "channels": { "email": "yes", "preferredChannel": "SMS", "blockedDestinations": ["a@x.com"], "allowedDestinations": ["b@x.com"] },
        "timing": { "searchSlaMinutes": 0, "outboundWindowMinutes": "soon",
            "businessHours": { "timezone": "America/New_York", "startTime": "17:00", "endTime": "09:00", "allowedDays": [1, 2, "Fri"] } },
        "outbound": { "contactHints": [{ "priority": "HIGH" }] },
        "research": { "skipResearch": true },
        "escalation": { "disableThirdPartyEvent": "no" },
        "qaDestinations": { "email": 5 }
    });
    body["searchTypes"][0]["searchConfig"] = json!({ "research": { "skipResearch": true } });
    let (status, err) = create(&sb, &http, &token, &body).await;
    assert_eq!(status, 400, "{err}");
    let messages: Vec<&str> = err["message"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    println!("{messages:#?}");
    for expected in [
        "searchTypes.0.searchConfig.research.skipResearch requires at least one outbound.contactHints entry",
        "defaultSearchConfig.thirdPartyBan must not contain UNKNOWN",
        "defaultSearchConfig.channels.email must be a boolean value",
        "defaultSearchConfig.channels.preferredChannel must be one of the following values: EMAIL, VOICE, FAX",
        "defaultSearchConfig.channels.blockedDestinations and allowedDestinations cannot both be set",
        "defaultSearchConfig.timing.searchSlaMinutes must not be less than 1",
        "defaultSearchConfig.timing.outboundWindowMinutes must be a number",
        "defaultSearchConfig.timing.businessHours.startTime must be before endTime",
        "defaultSearchConfig.timing.businessHours.allowedDays must be an array of day numbers",
        "defaultSearchConfig.outbound.contactHints.0 must have at least one of email, phone, fax or thirdPartyVendor",
        "defaultSearchConfig.escalation.disableThirdPartyEvent must be a boolean value",
        "defaultSearchConfig.qaDestinations.email must be a string",
    ] {
        assert!(messages.contains(&expected), "missing {expected:?} in {messages:#?}");
    }
    // Nothing else: the default's skipResearch has a (bad, reported) contact hint.
    assert_eq!(messages.len(), 12, "{messages:#?}");
    // Every section filled in by the rules is accepted.
    let mut ok = order("Tech Corp", None);
    ok["defaultSearchConfig"] = json!({
        "thirdPartyBan": ["TALX_WORK_NUMBER", "NSCH"],
        "channels": { "email": true, "voice": false, "preferredChannel": "EMAIL", "blockedDestinations": ["x@y.com"] },
        "timing": { "searchSlaMinutes": 2880, "outboundWindowMinutes": 120,
            "businessHours": { "timezone": "America/New_York", "startTime": "09:00", "endTime": "17:00", "allowedDays": [1, 2, 3, 4, 5] } },
        "outbound": { "contactHints": [{ "email": "hr@techcorp.com", "priority": "HIGH" }] },
        "research": { "skipResearch": true },
        "escalation": { "disableThirdPartyEvent": false },
        "qaDestinations": { "email": "qa@example.com", "phone": "+1-555-0100" }
    });
    let (status, created) = create(&sb, &http, &token, &ok).await;
    assert_eq!(status, 201, "{created}");
}
