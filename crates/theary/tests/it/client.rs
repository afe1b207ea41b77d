use std::time::Duration;

use outbound::RetryPolicy;
use sandbox::common::FaultRule;
use sandbox::theary::{self as sb, ClientSpec, SandboxConfig};
use secrecy::SecretString;
use theary::wire::*;
use theary::{Error, ThearyClient, ThearyConfig};

pub const AUD: &str = "https://empv-auth-dev.theary.ai";

pub fn retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(2),
    }
}

pub async fn setup() -> (sb::ThearySandbox, ThearyClient, ThearyConfig) {
    let sandbox = sb::spawn(SandboxConfig {
        auto_run: false,
        retry_base: Duration::from_millis(5),
        ..Default::default()
    })
    .await
    .unwrap();
    sandbox.state.add_client(ClientSpec {
        tenant: "acme".into(),
        client_id: "cid".into(),
        client_secret: "secret".into(),
        audience: AUD.into(),
    });
    let config = config_for(&sandbox, "cid", "secret");
    (sandbox, ThearyClient::new(retries()).unwrap(), config)
}

pub fn config_for(sandbox: &sb::ThearySandbox, id: &str, secret: &str) -> ThearyConfig {
    ThearyConfig {
        auth_url: sandbox.auth_url(),
        audience: AUD.into(),
        api_base: sandbox.api_base(),
        client_id: id.into(),
        client_secret: SecretString::from(secret.to_owned()),
    }
}

pub fn order(employer: &str, external: &str) -> OrderRequest {
    // Applicant zeroes itself on drop, so it is filled in rather than built by update.
    let mut applicant = Applicant::default();
    applicant.first_name = "John".into();
    applicant.last_name = "Smith".into();
    applicant.ssn = "123-45-6789".into();
    OrderRequest {
        applicant,
        business_context: BusinessContext {
            entity_name: "Apple".into(),
            applied_job_title: "Engineer".into(),
            worksite_city: "San Francisco".into(),
            worksite_state: "CA".into(),
            proposed_salary: 100_000.0,
            ..Default::default()
        },
        search_types: vec![SearchTypeRequest {
            search_type: SearchType::Employment,
            external_search_id: Some(external.into()),
            questionnaire_url: None,
            questionnaire_access_code: None,
            search_config: None,
        }],
        history: Some(History {
            employment: vec![EmploymentHistory {
                employer_name: employer.into(),
                position: "Engineer".into(),
                ..Default::default()
            }],
            education: vec![],
        }),
        default_search_config: None,
        criminal_check: None,
        webhook_config: None,
    }
}

fn token_requests(sandbox: &sb::ThearySandbox) -> usize {
    sandbox
        .state
        .journal()
        .matching("POST", "/oauth/token")
        .len()
}

#[tokio::test]
async fn order_round_trip() {
    let (sandbox, client, config) = setup().await;
    let created = client
        .create_order(&config, &order("Tech Corp", "ext-1"))
        .await
        .unwrap();
    assert!(created.verification_order_id.starts_with("ord_"));
    let id = created.verification_order_id.clone();
    let fetched = client.get_order(&config, &id).await.unwrap();
    assert!(same_id(&fetched.id, &id), "{} vs {id}", fetched.id);
    assert_eq!(fetched.status, Some(OrderStatus::Pending));
    let searches = client.searches(&config, &id).await.unwrap();
    assert_eq!(searches.len(), 1);
    assert!(theary::contains_id(&created.search_ids, &searches[0].id));
    let one = client
        .search(&config, &id, &created.search_ids[0])
        .await
        .unwrap();
    assert_eq!(one.external_search_id.as_deref(), Some("ext-1"));
    for _ in 0..3 {
        sandbox.state.advance();
    }
    let done = client
        .search(&config, &id, &created.search_ids[0])
        .await
        .unwrap();
    assert_eq!(done.search_status, Some(SearchStatus::Completed));
    assert_eq!(done.verification_result[0].outcome, Some(Outcome::Verified));
    let list = client.list_orders(&config, 1, 10).await.unwrap();
    assert_eq!(list.data.len(), 1);
    let second = client
        .create_order(&config, &order("Stall Co", "ext-2"))
        .await
        .unwrap();
    let cancelled = client
        .cancel_order(&config, &second.verification_order_id)
        .await
        .unwrap();
    assert_eq!(
        (cancelled.status, cancelled.affected_searches),
        (Some(OrderStatus::Cancelled), Some(1))
    );
    assert_eq!(token_requests(&sandbox), 1, "one token for every call");
}

#[tokio::test]
async fn tokens_refresh_after_expiry_and_bad_credentials_are_named() {
    let (sandbox, client, config) = setup().await;
    client.list_orders(&config, 1, 10).await.unwrap();
    sandbox.state.expire_tokens();
    client.list_orders(&config, 1, 10).await.unwrap();
    assert_eq!(
        token_requests(&sandbox),
        2,
        "the 401 dropped the token and one new one was fetched"
    );
    let err = client
        .list_orders(&config_for(&sandbox, "cid", "wrong"), 1, 10)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadCredentials { .. }), "{err:?}");
    let mut wrong_aud = config_for(&sandbox, "cid", "secret");
    wrong_aud.audience = "https://elsewhere".into();
    let err = client.list_orders(&wrong_aud, 1, 10).await.unwrap_err();
    assert!(matches!(err, Error::WrongAudience { .. }), "{err:?}");
}

#[tokio::test]
async fn a_400_keeps_every_message_verbatim() {
    let (sandbox, client, config) = setup().await;
    let mut bad = order("Tech Corp", "x");
    bad.applicant.ssn = "123456789".into();
    bad.business_context.worksite_state = "Calif".into();
    let err = client.create_order(&config, &bad).await.unwrap_err();
    let Error::Invalid { messages } = &err else {
        panic!("{err:?}")
    };
    assert!(
        messages.contains(&"applicant.ssn must match XXX-XX-XXXX format".to_owned()),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"worksiteState must be exactly 2 characters".to_owned()),
        "{messages:?}"
    );
    assert_eq!(sandbox.state.order_count("acme"), 0);
}

#[tokio::test]
async fn another_tenants_order_is_not_found() {
    let (sandbox, client, config) = setup().await;
    sandbox.state.add_client(ClientSpec {
        tenant: "other".into(),
        client_id: "c2".into(),
        client_secret: "s2".into(),
        audience: AUD.into(),
    });
    let created = client
        .create_order(&config, &order("Tech Corp", "x"))
        .await
        .unwrap();
    let other = config_for(&sandbox, "c2", "s2");
    let err = client
        .get_order(&other, &created.verification_order_id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(matches!(
        client
            .cancel_order(&other, &created.verification_order_id)
            .await
            .unwrap_err(),
        Error::NotFound { .. }
    ));
}

#[tokio::test]
async fn reads_retry_transient_faults() {
    let (sandbox, client, config) = setup().await;
    let faults = sandbox.state.faults();
    faults.add(FaultRule {
        method: Some("GET".into()),
        count: Some(1),
        status: Some(503),
        ..Default::default()
    });
    faults.add(FaultRule {
        method: Some("GET".into()),
        count: Some(1),
        drop_after_handling: true,
        ..Default::default()
    });
    faults.add(FaultRule {
        method: Some("GET".into()),
        count: Some(1),
        status: Some(429),
        retry_after_secs: Some(1),
        ..Default::default()
    });
    client.list_orders(&config, 1, 10).await.unwrap();
    let statuses: Vec<_> = sandbox
        .state
        .journal()
        .matching("GET", "/background-check")
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, vec![Some(503), None, Some(429), Some(200)]);
}

#[tokio::test]
async fn an_order_post_with_an_unknown_outcome_is_never_repeated() {
    let (sandbox, client, config) = setup().await;
    sandbox.state.faults().add(FaultRule {
        method: Some("POST".into()),
        path_prefix: Some("/background-check".into()),
        count: Some(1),
        drop_after_handling: true,
        ..Default::default()
    });
    let err = client
        .create_order(&config, &order("Tech Corp", "our-search-42"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Indeterminate { .. }), "{err:?}");
    assert_eq!(
        sandbox
            .state
            .journal()
            .matching("POST", "/background-check")
            .len(),
        1,
        "not sent twice"
    );
    // The order did get created; the caller finds it by its externalSearchId.
    let found = client
        .find_by_external_search_id(&config, "our-search-42", 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sandbox.state.order_count("acme"), 1);
    assert_eq!(found.search_ids.len(), 1);
    assert!(client
        .find_by_external_search_id(&config, "never-ordered", 5)
        .await
        .unwrap()
        .is_none());

    // A 5xx to a POST is just as uncertain; a refused connection is not.
    sandbox.state.faults().add(FaultRule {
        method: Some("POST".into()),
        path_prefix: Some("/background-check".into()),
        count: Some(1),
        status: Some(502),
        ..Default::default()
    });
    let err = client
        .create_order(&config, &order("Tech Corp", "our-search-43"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Indeterminate { .. }), "{err:?}");
}

#[tokio::test]
async fn a_release_form_is_uploaded_through_a_signed_url_and_named_by_its_file_uri() {
    let (sandbox, client, config) = setup().await;
    let upload = client.release_form_upload_url(&config).await.unwrap();
    assert!(
        upload
            .file_uri
            .starts_with("gs://verification-api-storage/tenants/acme/releaseForms/"),
        "{upload:?}"
    );
    let shown = format!("{upload:?}");
    assert!(!shown.contains("X-Goog-Signature"), "{shown}");

    // Not a PDF: refused before anything is sent.
    let err = client
        .upload_release_form(&upload.signed_url, b"plain text".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(sandbox.state.release_forms().is_empty());

    let pdf = b"%PDF-1.4\n% release\n".to_vec();
    client
        .upload_release_form(&upload.signed_url, pdf.clone())
        .await
        .unwrap();
    assert_eq!(
        sandbox.state.release_forms(),
        [(upload.file_uri.clone(), pdf.len())]
    );

    // A forged URL: Cloud Storage's error, code and message kept.
    let forged = upload
        .signed_url
        .replace("/tenants/acme/", "/tenants/evil/");
    let err = client.upload_release_form(&forged, pdf).await.unwrap_err();
    match err {
        Error::Api {
            status, messages, ..
        } => {
            assert_eq!(status, 403);
            assert!(
                messages[0].starts_with("SignatureDoesNotMatch: "),
                "{messages:?}"
            );
        }
        other => panic!("{other}"),
    }

    // An unreachable upload URL: the error (which is logged) does not carry the signature.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let unreachable = format!("http://{closed}/x.pdf?X-Goog-Signature=deadbeefdeadbeef");
    let err = client
        .upload_release_form(&unreachable, b"%PDF-1.4\n".to_vec())
        .await
        .unwrap_err();
    let shown = format!(
        "{err} {err:?} {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(!shown.contains("deadbeef"), "{shown}");

    // The order then names the uploaded file, and Theary takes it.
    let mut o = order("Tech Corp", "rel-1");
    o.applicant.signed_release_file_url = Some(upload.file_uri);
    client.create_order(&config, &o).await.unwrap();
}
