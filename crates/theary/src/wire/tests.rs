use super::*;
use serde_json::json;

/// The create-order example from Theary's documentation, verbatim.
fn docs_order() -> serde_json::Value {
    json!({
      "searchTypes": [{"searchType": "EMPLOYMENT"}, {"searchType": "EDUCATION"}],
      "applicant": {
        "firstName": "John", "lastName": "Smith", "ssn": "123-45-6789", "birthday": "1990-05-15",
        "phone": "+1-555-123-4567", "email": "john.smith@example.com",
        "signedReleaseFileUrl": "https://example.com/signed-release.pdf",
        "addresses": [{
          "addressType": "home", "addressLine1": "456 Oak Avenue", "addressLine2": null,
          "addressCity": "Los Angeles", "addressState": "CA", "addressZipCode": "90210",
          "addressCountry": "US", "startDate": "2021-01-01", "endDate": null }],
        "applicantAlias": [{"firstName": "Jonathan", "lastName": "Smith", "middleName": "Michael", "suffix": "Jr."}]
      },
      "businessContext": {
        "entityName": "Apple", "appliedJobTitle": "Senior Software Engineer", "worksiteCity": "San Francisco",
        "worksiteState": "CA", "proposedSalary": 100000, "positionLevel": "STANDARD",
        "securityClearanceRequired": false, "industrySector": "TECHNOLOGY" },
      "history": {
        "employment": [{"employerName": "Tech Corp", "position": "Software Engineer", "employerEmail": "hr@techcorp.com",
                        "employerPhone": "+1-555-123-4567", "startDate": "2020-01-15", "endDate": "2023-06-30"}],
        "education": [{"institutionName": "University of California", "qualification": "Bachelor of Science in Computer Science",
                       "fieldOfStudy": "Computer Science", "graduationDate": "2018-05-15",
                       "institutionContactEmail": "registrar@berkeley.edu", "institutionContactPhone": "+1-510-642-6000"}]
      },
      "webhookConfig": {
        "enabled": true, "secret": "webhook-secret-for-hmac-validation", "retryAttempts": 3,
        "closeoutEndpoints": {
          "EMPLOYMENT": "https://client.example.com/webhooks/employment-closeout",
          "EDUCATION": "https://client.example.com/webhooks/education-closeout" },
        "fallbackEndpoint": "https://client.example.com/webhooks/search-closeout"
      }
    })
}

#[test]
fn the_documented_order_round_trips() {
    let order: OrderRequest = serde_json::from_value(docs_order()).unwrap();
    assert_eq!(order.search_types[1].search_type, SearchType::Education);
    assert_eq!(
        order.business_context.position_level,
        Some(PositionLevel::Standard)
    );
    let back = serde_json::to_value(&order).unwrap();
    assert_eq!(
        back["webhookConfig"]["secret"], "webhook-secret-for-hmac-validation",
        "secrets reach Theary"
    );
    assert_eq!(
        back["applicant"]["addresses"][0]["endDate"],
        serde_json::Value::Null
    );
    assert!(
        back.get("criminalCheck").is_none(),
        "absent fields are not sent"
    );
    let debug = format!("{order:?}");
    for pii in [
        "123-45-6789",
        "1990-05-15",
        "john.smith",
        "webhook-secret-for-hmac",
    ] {
        assert!(!debug.contains(pii), "{pii} in {debug}");
    }
}

#[test]
fn endpoints_take_a_url_a_target_or_a_list() {
    let cfg: WebhookConfig = serde_json::from_value(json!({
        "secret": "s",
        "closeoutEndpoints": {
            "EMPLOYMENT": [ { "url": "https://a/emp", "headers": { "X-Customer": "acme" }, "events": ["verification.completed"] },
                            { "url": "https://a/notify", "events": ["verification.notification"] } ],
            "EDUCATION": { "url": "https://a/edu", "basicAuth": { "username": "api", "password": "pw" }, "events": ["verification.future"] }
        },
        "fallbackEndpoint": "https://a/fallback"
    }))
    .unwrap();
    let closeout = cfg.closeout_endpoints.as_ref().unwrap();
    assert_eq!(closeout["EMPLOYMENT"].targets().len(), 2);
    let edu = closeout["EDUCATION"].targets().remove(0);
    assert_eq!(
        edu.events.unwrap(),
        vec![EventType::Other("verification.future".into())]
    );
    assert!(!format!("{:?}", edu.basic_auth).contains("pw"));
    assert_eq!(
        cfg.fallback_endpoint.unwrap().targets()[0].url,
        "https://a/fallback"
    );
}

#[test]
fn open_enums_keep_unknown_values() {
    for (text, known) in [
        ("VERIFIED", true),
        ("UNABLE_TO_VERIFY", true),
        ("PARTIALLY_VERIFIED", false),
    ] {
        let o: Outcome = serde_json::from_value(json!(text)).unwrap();
        assert_eq!(matches!(o, Outcome::Other(_)), !known);
        assert_eq!(serde_json::to_value(&o).unwrap(), json!(text));
    }
    assert_eq!(ReasonCode::parse("NEW_REASON").as_str(), "NEW_REASON");
    assert_eq!(
        NotificationType::parse("contact_plan"),
        NotificationType::ContactPlan
    );
}

#[test]
fn quick_start_webhook_samples_parse() {
    let completed = json!({
      "event": "verification.completed", "occurredAt": "2026-07-02T14:05:33.120Z",
      "data": { "searchType": "EMPLOYMENT", "searchId": "e2b1c9a4-7d6f-4a1e-9b0c-2f3a4b5c6d7e",
        "externalSearchId": "quickstart-emp-001", "verificationId": "1f0a8b2c-3d4e-5f60-7181-92a3b4c5d6e7",
        "channel": "VOICE",
        "verificationResult": { "id": "1f0a8b2c-3d4e-5f60-7181-92a3b4c5d6e7", "outcome": "VERIFIED", "discrepancy": true,
          "employmentVerification": { "providedCompanyName": "Tech Corp", "providedPosition": "Software Engineer",
            "verifiedPosition": "Senior Software Engineer", "verifiedRehire": true, "verifierFirstName": "Dana" },
          "comments": "Verified by phone with HR." } } });
    let env: Envelope = serde_json::from_value(completed).unwrap();
    let ev = WebhookEvent::from_envelope(env).unwrap();
    let Event::Completed(d) = &ev.event else {
        panic!("{ev:?}")
    };
    let r = d.verification_result.as_ref().unwrap();
    assert_eq!(
        (r.outcome.clone(), r.discrepancy),
        (Some(Outcome::Verified), Some(true))
    );
    assert_eq!(
        r.employment_verification.as_ref().unwrap()["verifiedRehire"],
        json!(true)
    );
    assert_eq!(ev.external_search_id(), Some("quickstart-emp-001"));

    let action = json!({ "event": "verification.action_required", "occurredAt": "2026-07-02T14:03:47.551Z",
      "data": { "searchType": "EMPLOYMENT", "searchId": "e2b1", "externalSearchId": "quickstart-emp-001",
        "reasonCode": "THIRD_PARTY_RECORD", "status": "Action Required", "channel": "JSON",
        "contact": { "type": "EMPLOYMENT", "data": { "providedCompanyName": "Tech Corp" } },
        "metadata": { "vendor": "The Work Number" } } });
    let ev = WebhookEvent::from_envelope(serde_json::from_value(action).unwrap()).unwrap();
    let Event::ActionRequired(d) = &ev.event else {
        panic!("{ev:?}")
    };
    assert_eq!(d.reason_code, Some(ReasonCode::ThirdPartyRecord));

    let note = json!({ "event": "verification.notification", "occurredAt": "2026-07-02T14:00:05.882Z",
      "data": { "searchId": "e2b1", "externalSearchId": "quickstart-emp-001", "notificationType": "CONTACT_PLAN",
        "contactPlan": [ { "name": "HR Department", "method": "EMAIL", "confidence": 0.86 } ] } });
    let ev = WebhookEvent::from_envelope(serde_json::from_value(note).unwrap()).unwrap();
    assert!(
        matches!(&ev.event, Event::Notification(d) if d.notification_type == Some(NotificationType::ContactPlan))
    );

    let future = json!({ "event": "verification.reopened", "data": { "searchId": "s9" } });
    let ev = WebhookEvent::from_envelope(serde_json::from_value(future).unwrap()).unwrap();
    assert_eq!(
        (ev.search_id(), ev.event_type().as_str()),
        (Some("s9"), "verification.reopened")
    );
}

#[test]
fn searches_bare_or_wrapped_and_ids_with_or_without_prefix() {
    let search = json!({ "id": "search_1", "orderId": "ord_1", "externalSearchId": "EXT-12345", "searchType": "EMPLOYMENT",
        "searchStatus": "IN_PROGRESS", "verificationResult": null, "activity": [{ "activityType": "EMAIL_SENT", "channel": "EMAIL" }],
        "somethingNew": 1 });
    let bare: SearchList = serde_json::from_value(json!([search.clone()])).unwrap();
    let wrapped: SearchList = serde_json::from_value(json!({ "searches": [search] })).unwrap();
    assert_eq!(bare, wrapped);
    assert_eq!(bare.0[0].search_status, Some(SearchStatus::InProgress));
    assert_eq!(bare.0[0].extra["somethingNew"], json!(1));
    assert!(
        same_id("ord_123e4567", "123e4567")
            && same_id("search_ab", "search_AB")
            && !same_id("ord_1", "ord_2")
    );
    let created: CreateOrderResponse = serde_json::from_value(
        json!({ "verificationOrderId": "ord_1", "searchIds": ["search_a", "b"] }),
    )
    .unwrap();
    assert_eq!(created.search_ids, vec!["search_a", "b"]);
}

#[test]
fn order_list_and_cancel_shapes() {
    let list: OrderList = serde_json::from_value(json!({
        "data": [ { "id": "550e8400", "status": "completed", "applicant": {"firstName": "John"}, "entityName": "Apple Inc." },
                  { "id": "6ba7b810", "status": "in_progress" } ],
        "pagination": { "page": 1, "limit": 20, "total": 150, "totalPages": 8 } })).unwrap();
    assert_eq!(list.data[1].status, Some(OrderStatus::InProgress));
    assert_eq!(list.pagination.unwrap().total_pages, 8);
    let cancel: CancelResponse = serde_json::from_value(json!({ "orderId": "ord_1", "status": "cancelled", "deletedAt": "2026-01-01T00:00:00Z", "affectedSearches": 2 })).unwrap();
    assert_eq!(cancel.affected_searches, Some(2));
}
