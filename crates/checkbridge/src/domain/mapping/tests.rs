use super::*;
use crate::domain::ids::TenantKey;
use crate::domain::test_support::tenant;
use serde_json::json;

fn invitation() -> serde_json::Value {
    json!({
        "id": "12345", "status": "pending", "packageCode": "EMP-EDU", "checkTypes": [],
        "candidate": {
            "firstName": "Jane", "lastName": "Doe", "email": "jane@example.com", "phone": "+1-555-010-2000",
            "dateOfBirth": "1990-05-15T00:00:00", "nationalId": "123 45 6789",
            "addresses": [{ "addressType": "home", "line1": "1 Main St", "city": "Austin", "state": "TX",
                            "postcode": "73301", "country": "US", "fromDate": "2021-01-01", "toDate": null }],
            "aliases": [{ "firstName": "Janet", "lastName": "Doe" }]
        },
        "job": { "title": "Staff Accountant", "worksite": { "city": "Austin", "state": "tx" }, "salary": "85,000" },
        "employmentHistory": [{ "employerName": "Acme Corp", "position": "Accountant", "startDate": "2019-02-01", "endDate": "2023-06-30" }],
        "educationHistory": [{ "institutionName": "University of Texas", "qualification": "BBA", "fieldOfStudy": "Accounting", "graduationDate": "2018-05-15" }],
        "documents": [{ "documentType": "signedRelease", "content": "JVBERi0xLjQKJSBzaWduZWQK" }]
    })
}

fn parse(v: serde_json::Value) -> Invitation {
    serde_json::from_value(v).unwrap()
}

fn ctx_key(t: &SearchType) -> String {
    format!("chk-1-{}", t.as_str().to_ascii_lowercase())
}

static ACME: std::sync::LazyLock<TenantKey> = std::sync::LazyLock::new(|| TenantKey::from("acme"));

fn ctx() -> OrderContext<'static> {
    OrderContext {
        tenant_key: &ACME,
        public_base_url: "https://cb.example.com/",
        webhook_secret: "per-order-secret-xyz",
        search_key: &ctx_key,
        today: "2026-12-02",
    }
}

#[test]
fn a_complete_invitation_becomes_a_complete_order() {
    let mut tenant = tenant();
    tenant.checks.packages.insert(
        "EMP-EDU".into(),
        vec!["EMPLOYMENT".into(), "EDUCATION".into()],
    );
    let order = build_order(&parse(invitation()), &tenant, &ctx()).unwrap();
    assert_eq!(order.applicant.ssn, "123-45-6789");
    assert_eq!(order.applicant.birthday.as_deref(), Some("1990-05-15"));
    assert_eq!(order.applicant.addresses.len(), 1);
    assert!(order
        .applicant
        .signed_release_file_url
        .as_deref()
        .unwrap()
        .starts_with("data:application/pdf;base64,"));
    assert_eq!(order.business_context.worksite_state, "TX");
    assert_eq!(order.business_context.proposed_salary, 85000.0);
    assert_eq!(order.business_context.entity_name, "Acme Corp");
    let types: Vec<_> = order
        .search_types
        .iter()
        .map(|s| s.search_type.clone())
        .collect();
    assert_eq!(types, vec![SearchType::Employment, SearchType::Education]);
    assert_eq!(
        order.search_types[1].external_search_id.as_deref(),
        Some("chk-1-education")
    );
    let hook = order.webhook_config.as_ref().unwrap();
    assert_eq!(
        hook.secret.as_ref().unwrap().expose(),
        "per-order-secret-xyz"
    );
    let closeout = hook.closeout_endpoints.as_ref().unwrap();
    let Endpoints::Target(t) = &closeout["EMPLOYMENT"] else {
        panic!("{closeout:?}")
    };
    assert_eq!(
        t.url,
        "https://cb.example.com/webhooks/theary/acme/employment"
    );
    assert_eq!(t.events.as_ref().unwrap().len(), 3, "all three event types");
    let over = order.search_types[0]
        .search_config
        .as_ref()
        .unwrap()
        .notifications
        .as_ref()
        .unwrap();
    assert_eq!(
        over.webhook_override.as_ref(),
        Some(hook),
        "and the per-search override, as Theary's quick start does"
    );
}

#[test]
fn missing_fields_are_named_in_a_recruiters_words() {
    let mut v = invitation();
    v["candidate"]["nationalId"] = json!(null);
    v["candidate"]["firstName"] = json!("  ");
    v["job"]["worksite"] = json!({});
    v["employmentHistory"] = json!([]);
    let err = build_order(&parse(v), &tenant(), &ctx()).unwrap_err();
    assert_eq!(
        err.missing,
        vec![
            "candidate first name",
            "candidate national id (SSN)",
            "job worksite city",
            "job worksite state",
            "employment history (employer name and position)"
        ]
    );
    let reason = err.reason_for_fail();
    assert!(reason.starts_with("The background check could not be ordered because of missing mandatory fields: candidate first name,"), "{reason}");
    assert!(
        reason.ends_with("Please fill in or correct these in PageUp and try again."),
        "{reason}"
    );
    assert!(!reason.contains("123-45"), "no PII in the reason");

    let mut v = invitation();
    v["candidate"]["nationalId"] = json!("12-345");
    v["candidate"]["dateOfBirth"] = json!("15/05/1990");
    v["job"]["worksite"]["state"] = json!("Texas");
    let err = build_order(&parse(v), &tenant(), &ctx()).unwrap_err();
    assert!(err.missing.is_empty());
    assert_eq!(err.invalid.len(), 3, "{:?}", err.invalid);
}

#[test]
fn search_types_follow_codes_then_defaults() {
    let t = tenant();
    let types = |v: serde_json::Value| search_types(&parse(v), &t);
    assert_eq!(
        types(json!({ "packageCode": "emp" })),
        vec![SearchType::Employment]
    );
    assert_eq!(
        types(json!({ "checkTypes": ["EDU", "EMP", "EDU"] })),
        vec![SearchType::Education, SearchType::Employment]
    );
    assert_eq!(
        types(json!({ "checkTypes": "EDUCATION" })),
        vec![SearchType::Education]
    );
    assert_eq!(
        types(json!({ "packageCode": "UNKNOWN-PACKAGE" })),
        vec![SearchType::Employment, SearchType::Education]
    );
}

#[test]
fn addresses_are_sent_only_as_a_set_theary_accepts() {
    let mut v = invitation();
    let again = v["candidate"]["addresses"][0].clone();
    v["candidate"]["addresses"]
        .as_array_mut()
        .unwrap()
        .push(again);
    let order = build_order(&parse(v), &tenant(), &ctx()).unwrap();
    assert!(
        order.applicant.addresses.is_empty(),
        "two current addresses: none sent rather than a refused order"
    );
}

#[test]
fn theary_messages_are_translated_not_dropped() {
    let reason = theary_rejection_reason(&[
        "applicant.ssn must match XXX-XX-XXXX format".into(),
        "businessContext.worksiteCity should not be empty".into(),
        "something new from Theary".into(),
    ]);
    assert!(
        reason.contains("candidate national id (SSN) must match XXX-XX-XXXX format"),
        "{reason}"
    );
    assert!(reason.contains("job worksite city is missing"), "{reason}");
    assert!(reason.contains("something new from Theary"), "{reason}");
}

#[test]
fn theary_bare_business_context_messages_are_translated_too() {
    let reason = theary_rejection_reason(&[
        "entityName should not be empty".into(),
        "proposedSalary must be a number".into(),
        "businessContext.worksiteState must be exactly 2 characters".into(),
        "worksiteStateless is not a field".into(),
    ]);
    assert!(reason.contains("organisation name is missing"), "{reason}");
    assert!(reason.contains("job salary must be a number"), "{reason}");
    assert!(
        reason.contains("job worksite state must be exactly 2 characters"),
        "{reason}"
    );
    // Only a whole field name at the start is a field.
    assert!(
        reason.contains("worksiteStateless is not a field"),
        "{reason}"
    );
}

/// The order passes the Theary sandbox's own, independent validation.
#[tokio::test]
async fn the_order_is_accepted_by_the_theary_sandbox() {
    use sandbox::theary as sb;
    let sandbox = sb::spawn(sb::SandboxConfig {
        auto_run: false,
        ..Default::default()
    })
    .await
    .unwrap();
    sandbox.state.add_client(sb::ClientSpec {
        tenant: "acme".into(),
        client_id: "c".into(),
        client_secret: "s".into(),
        audience: "aud".into(),
    });
    let config = theary::ThearyConfig {
        auth_url: sandbox.auth_url(),
        audience: "aud".into(),
        api_base: sandbox.api_base(),
        client_id: "c".into(),
        client_secret: secrecy::SecretString::from("s".to_owned()),
    };
    let client = theary::ThearyClient::new(outbound::RetryPolicy::none()).unwrap();
    let mut tenant = tenant();
    tenant.checks.packages.insert(
        "EMP-EDU".into(),
        vec!["EMPLOYMENT".into(), "EDUCATION".into()],
    );
    let ctx = OrderContext {
        public_base_url: "http://127.0.0.1:9",
        ..ctx()
    };
    let order = build_order(&parse(invitation()), &tenant, &ctx).unwrap();
    let created = client.create_order(&config, &order).await.unwrap();
    assert_eq!(created.search_ids.len(), 2);
}

fn criminal_invitation() -> serde_json::Value {
    let mut v = invitation();
    v["packageCode"] = json!("FULL-CRIM");
    v["candidate"]["addresses"] = json!([
        { "line1": "1 Main St", "city": "Austin", "state": "TX", "postcode": "73301", "country": "US",
          "fromDate": "2021-01-01", "toDate": null },
        { "line1": "9 Elm St", "city": "Denver", "state": "co", "postcode": "80202",
          "fromDate": "2017-03-01", "toDate": "2020-12-31" },
        { "line1": "5 Old Rd", "city": "Reno", "state": "NV", "postcode": "89501",
          "fromDate": "2010-01-01", "toDate": "2015-06-30" }
    ]);
    v["job"]["worksite"] = json!({ "city": "San Francisco", "state": "CA" });
    v
}

fn criminal_tenant(enabled: bool) -> crate::config::TenantConfig {
    let mut t = tenant();
    t.checks.packages.insert(
        "FULL-CRIM".into(),
        vec!["EMPLOYMENT".into(), "EDUCATION".into(), "CRIMINAL".into()],
    );
    t.theary.criminal = enabled;
    t.business.position_level = Some("SENSITIVE".into());
    t.business.security_clearance_required = Some(false);
    t.business.industry_sector = Some("Finance".into());
    t
}

#[test]
fn a_criminal_check_carries_jurisdictions_from_recent_addresses_and_the_worksite() {
    let order = build_order(
        &parse(criminal_invitation()),
        &criminal_tenant(true),
        &ctx(),
    )
    .unwrap();
    let types: Vec<&str> = order
        .search_types
        .iter()
        .map(|s| s.search_type.as_str())
        .collect();
    assert_eq!(types, ["EMPLOYMENT", "EDUCATION", "CRIMINAL"]);
    let check = order.criminal_check.unwrap();
    // Nevada ended in 2015: outside the seven-year lookback from 2026-12-02.
    assert_eq!(
        check["jurisdictions"],
        json!([
            { "type": "STATE", "state": "TX", "country": "US" },
            { "type": "STATE", "state": "CO", "country": "US" },
            { "type": "STATE", "state": "CA", "country": "US" }
        ])
    );
    assert_eq!(check["worksiteState"], "CA");
    assert_eq!(check["positionLevel"], "SENSITIVE");
    assert_eq!(check["securityClearanceRequired"], false);
    assert_eq!(check["industrySector"], "Finance");
    // The CRIMINAL closeout endpoint is routed like the others.
    let hook = serde_json::to_value(order.webhook_config.unwrap()).unwrap();
    assert_eq!(
        hook["closeoutEndpoints"]["CRIMINAL"]["url"],
        "https://cb.example.com/webhooks/theary/acme/criminal"
    );
}

#[test]
fn the_jurisdiction_template_and_lookback_are_the_tenants() {
    let mut t = criminal_tenant(true);
    t.criminal.jurisdiction = json!({
        "level": "COUNTY", "place": "{city}, {state}", "origin": "{source}", "postal": ["{zip}"]
    })
    .as_object()
    .unwrap()
    .clone();
    t.criminal.lookback_years = 20;
    t.criminal.include_worksite = false;
    let order = build_order(&parse(criminal_invitation()), &t, &ctx()).unwrap();
    assert_eq!(
        order.criminal_check.unwrap()["jurisdictions"],
        json!([
            { "level": "COUNTY", "place": "Austin, TX", "origin": "address", "postal": ["73301"] },
            { "level": "COUNTY", "place": "Denver, CO", "origin": "address", "postal": ["80202"] },
            { "level": "COUNTY", "place": "Reno, NV", "origin": "address", "postal": ["89501"] }
        ])
    );
}

#[test]
fn a_criminal_package_fails_at_once_where_the_account_runs_no_criminal_checks() {
    let err = build_order(
        &parse(criminal_invitation()),
        &criminal_tenant(false),
        &ctx(),
    )
    .unwrap_err();
    let reason = err.reason_for_fail();
    assert!(reason.contains("criminal record check"), "{reason}");
    assert!(
        reason.contains("package without a criminal check"),
        "{reason}"
    );
    assert!(!reason.contains("missing mandatory fields"), "{reason}");
    // With fields missing as well, the recruiter learns both at once.
    let mut v = criminal_invitation();
    v["candidate"]["lastName"] = serde_json::Value::Null;
    let reason = build_order(&parse(v), &criminal_tenant(false), &ctx())
        .unwrap_err()
        .reason_for_fail();
    assert!(
        reason.contains("candidate last name") && reason.contains("criminal"),
        "{reason}"
    );
    // An order without CRIMINAL carries no criminalCheck.
    let order = build_order(&parse(invitation()), &criminal_tenant(false), &ctx()).unwrap();
    assert!(order.criminal_check.is_none());
}
