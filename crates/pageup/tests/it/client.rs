use std::time::Duration;

use outbound::RetryPolicy;
use pageup::{
    CheckStatus, Error, Limits, PageUpClient, PageUpTenant, ResultEntry, StatusDocument,
    UrlTemplates,
};
use sandbox::common::FaultRule;
use sandbox::pageup::{self as sb, ClientSpec, GenerateOptions, PageUpConfig};
use secrecy::SecretString;
use serde_json::json;
use tokio::time::Instant;

const TENANT: &str = "218";

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(2),
    }
}

async fn setup() -> (sb::PageUpSandbox, PageUpClient, PageUpTenant) {
    let sandbox = sb::spawn(PageUpConfig::default()).await.unwrap();
    sandbox
        .state
        .add_client(ClientSpec::full(TENANT, "cid", "secret"));
    let client = PageUpClient::new(fast_retries(), Limits::default()).unwrap();
    let tenant = tenant_for(&sandbox, "cid", "secret");
    (sandbox, client, tenant)
}

fn tenant_for(sandbox: &sb::PageUpSandbox, id: &str, secret: &str) -> PageUpTenant {
    let mut t = PageUpTenant::new(
        TENANT,
        "uat",
        "dc2",
        id,
        SecretString::from(secret.to_owned()),
    );
    t.urls = UrlTemplates {
        token: sandbox.token_url(),
        list: sandbox.list_url_template(),
        update: sandbox.update_url_template(),
    };
    t
}

fn token_requests(sandbox: &sb::PageUpSandbox) -> usize {
    sandbox
        .state
        .journal()
        .matching("POST", "/connect/token")
        .len()
}

fn queued() -> StatusDocument {
    StatusDocument::new(CheckStatus::Queued)
}

#[tokio::test]
async fn token_is_cached_and_refreshed_after_expiry() {
    let (sandbox, client, tenant) = setup().await;
    sandbox
        .state
        .seed_generated(TENANT, 1, &GenerateOptions::default());
    for _ in 0..5 {
        assert_eq!(client.list_pending(&tenant).await.unwrap().len(), 1);
    }
    assert_eq!(token_requests(&sandbox), 1, "one token for five calls");
    // Every issued token expires: the next call gets 401, drops the token and retries once.
    sandbox.state.expire_tokens();
    assert_eq!(client.list_pending(&tenant).await.unwrap().len(), 1);
    assert_eq!(token_requests(&sandbox), 2);
    let gets: Vec<_> = sandbox
        .state
        .journal()
        .matching("GET", "/v3/")
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(
        gets.iter().filter(|s| **s == Some(401)).count(),
        1,
        "{gets:?}"
    );
}

#[tokio::test]
async fn short_lived_tokens_are_refreshed_before_expiry_without_401s() {
    let (sandbox, client, tenant) = setup().await;
    // 2 s tokens: the cache refreshes after half their life, so no call ever meets a 401.
    sandbox.state.set_token_lifetime(Duration::from_secs(2));
    let half_life = Duration::from_secs(1);
    let deadline = Instant::now() + Duration::from_secs(20);
    client.list_pending(&tenant).await.unwrap();
    // The token in use was fetched before this instant, so half its life is gone by
    // `token_since + half_life` at the latest.
    let mut token_since = Instant::now();
    while token_requests(&sandbox) < 3 {
        // Step to that instant, when the cache must replace the token, and call. A wait for the
        // time under test, not a guess at how long something takes: the sandbox checks expiry
        // on the wall clock, so paused time would leave the no-401 check below toothless.
        tokio::time::sleep_until(token_since + half_life).await;
        let before = token_requests(&sandbox);
        client.list_pending(&tenant).await.unwrap();
        assert!(
            Instant::now() < deadline && token_requests(&sandbox) > before,
            "token not refreshed at half its life"
        );
        token_since = Instant::now();
    }
    let unauthorized = sandbox
        .state
        .journal()
        .matching("GET", "/v3/")
        .iter()
        .filter(|e| e.status == Some(401))
        .count();
    assert_eq!(unauthorized, 0);
}

#[tokio::test]
async fn concurrent_calls_share_one_token_request() {
    let (sandbox, client, tenant) = setup().await;
    // The token endpoint answers slowly, so every call below asks for a token while the
    // first request for one is still out.
    sandbox.state.faults().add(FaultRule {
        path_prefix: Some("/connect/token".into()),
        latency_ms: Some(300),
        ..FaultRule::default()
    });
    let started = Instant::now();
    // Spawned eagerly (collected before any is awaited), then joined together.
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (client, tenant) = (client.clone(), tenant.clone());
            tokio::spawn(async move { client.list_pending(&tenant).await.map(|_| Instant::now()) })
        })
        .collect();
    let finished: Vec<Instant> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(
        token_requests(&sandbox),
        1,
        "one token request for 20 overlapping calls"
    );
    // They overlapped: all 20 waited on the one slow token request, none started after it.
    let lists = sandbox.state.journal().matching("GET", "/v3/");
    assert_eq!(lists.len(), 20);
    assert!(finished
        .iter()
        .all(|f| *f >= started + Duration::from_millis(300)));
}

#[tokio::test]
async fn credential_scope_and_partner_problems_are_distinct_errors() {
    let (sandbox, client, _) = setup().await;
    let bad = client
        .list_pending(&tenant_for(&sandbox, "cid", "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(bad, Error::BadCredentials { .. }), "{bad:?}");
    assert!(bad.to_string().contains("ask PageUp"), "{bad}");

    sandbox.state.add_client(ClientSpec {
        scopes: vec![sb::SCOPE_READ.into()],
        ..ClientSpec::full(TENANT, "ro", "s")
    });
    let read_only = tenant_for(&sandbox, "ro", "s");
    let err = client.list_pending(&read_only).await.unwrap_err();
    assert!(
        matches!(&err, Error::MissingScope { scope, .. } if scope.contains("Write")),
        "{err:?}"
    );
    // Asking only for what it has, it can read but not write: the 403 names the scope.
    let read_only = PageUpTenant {
        scopes: vec![pageup::SCOPE_READ.into()],
        ..read_only
    };
    client.list_pending(&read_only).await.unwrap();
    let id = sandbox.state.seed(TENANT, json!({}));
    let err = client
        .update_status(&read_only, &id, &queued())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::MissingScope { scope, .. } if scope == pageup::SCOPE_WRITE),
        "{err:?}"
    );

    sandbox.state.add_client(ClientSpec {
        partner_id: None,
        ..ClientSpec::full(TENANT, "np", "s")
    });
    let err = client
        .list_pending(&tenant_for(&sandbox, "np", "s"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MissingPartnerClaim { .. }), "{err:?}");
    assert!(err.to_string().contains("partner id"), "{err}");

    let mut other = tenant_for(&sandbox, "cid", "secret");
    other.tenant_id = "999".into();
    let err = client.list_pending(&other).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
}

#[tokio::test]
async fn drains_23_pending_in_batches_of_5() {
    let (sandbox, client, tenant) = setup().await;
    let seeded = sandbox.state.seed_generated(
        TENANT,
        23,
        &GenerateOptions {
            seed: Some(3),
            ..Default::default()
        },
    );
    let mut claimed = Vec::new();
    let mut batches = Vec::new();
    loop {
        let page = client.list_pending(&tenant).await.unwrap();
        if page.is_empty() {
            break;
        }
        batches.push(page.len());
        for inv in page {
            let id = inv.id.clone().unwrap();
            assert!(inv.candidate.last_name.is_some() && !inv.employment_history.is_empty());
            client.update_status(&tenant, &id, &queued()).await.unwrap();
            claimed.push(id);
        }
    }
    assert_eq!(batches, vec![5, 5, 5, 5, 3]);
    assert_eq!(claimed, seeded);
    assert!(seeded
        .iter()
        .all(|id| sandbox.state.check(TENANT, id).unwrap().status == "queued"));
}

#[tokio::test]
async fn every_put_carries_the_full_document() {
    let (sandbox, client, tenant) = setup().await;
    let id = sandbox.state.seed(TENANT, json!({}));
    client.update_status(&tenant, &id, &queued()).await.unwrap();
    let mut doc = StatusDocument::new(CheckStatus::New);
    doc.reference_number = "ord_123".into();
    client.update_status(&tenant, &id, &doc).await.unwrap();
    doc.status = CheckStatus::InProgress;
    doc.results = vec![ResultEntry {
        report_link: "https://cb.example/r/1".into(),
        report_type: "Employment verification".into(),
        status: "pass".into(),
    }];
    client.update_status(&tenant, &id, &doc).await.unwrap();
    doc.status = CheckStatus::Completed;
    client.update_status(&tenant, &id, &doc).await.unwrap();
    let view = sandbox.state.check(TENANT, &id).unwrap();
    assert_eq!(view.status, "completed");
    assert_eq!(
        view.document["referenceNumber"], "ord_123",
        "reference kept because it is always sent"
    );
    assert_eq!(
        view.document["results"][0]["reportType"],
        "Employment verification"
    );
    for put in &view.history {
        let keys: Vec<_> = put.body.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
    }
}

#[tokio::test]
async fn refused_transitions_surface_pageups_message_without_retrying() {
    let (sandbox, client, tenant) = setup().await;
    let id = sandbox.state.seed(TENANT, json!({}));
    let err = client
        .update_status(&tenant, &id, &StatusDocument::new(CheckStatus::New))
        .await
        .unwrap_err();
    match &err {
        Error::Api {
            status: 400,
            messages,
            ..
        } => {
            assert!(
                messages
                    .iter()
                    .any(|m| m.message.contains("from pending to new")),
                "{messages:?}"
            )
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    assert_eq!(
        sandbox.state.journal().matching("PUT", "/v3/").len(),
        1,
        "a 400 is not retried"
    );
    let err = client
        .update_status(&tenant, "no-such-check", &queued())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn transient_faults_are_retried_to_success() {
    let (sandbox, client, tenant) = setup().await;
    let ids = sandbox
        .state
        .seed_generated(TENANT, 2, &GenerateOptions::default());
    let faults = sandbox.state.faults();
    faults.add(FaultRule {
        method: Some("GET".into()),
        path_prefix: Some("/v3/".into()),
        count: Some(1),
        status: Some(503),
        ..Default::default()
    });
    faults.add(FaultRule {
        method: Some("GET".into()),
        path_prefix: Some("/v3/".into()),
        count: Some(1),
        drop_before_handling: true,
        ..Default::default()
    });
    faults.add(FaultRule {
        method: Some("GET".into()),
        path_prefix: Some("/v3/".into()),
        count: Some(1),
        status: Some(429),
        retry_after_secs: Some(1),
        ..Default::default()
    });
    assert_eq!(client.list_pending(&tenant).await.unwrap().len(), 2);
    let statuses: Vec<_> = sandbox
        .state
        .journal()
        .matching("GET", "/v3/")
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, vec![Some(503), None, Some(429), Some(200)]);

    // A PUT whose answer is lost after PageUp applied it is safe to repeat: same document.
    faults.add(FaultRule {
        method: Some("PUT".into()),
        count: Some(1),
        drop_after_handling: true,
        ..Default::default()
    });
    client
        .update_status(&tenant, &ids[0], &queued())
        .await
        .unwrap();
    let view = sandbox.state.check(TENANT, &ids[0]).unwrap();
    assert_eq!(view.history.len(), 2, "applied twice, harmlessly");
    assert!(view.history.iter().all(|h| h.to == "queued"));

    // The token endpoint's transient failures are retried too.
    sandbox.state.expire_tokens();
    faults.add(FaultRule {
        path_prefix: Some("/connect/token".into()),
        count: Some(2),
        status: Some(500),
        ..Default::default()
    });
    client
        .update_status(&tenant, &ids[1], &queued())
        .await
        .unwrap();
}

#[tokio::test]
async fn retries_are_bounded_and_long_retry_after_is_left_to_the_caller() {
    let (sandbox, client, tenant) = setup().await;
    sandbox.state.faults().add(FaultRule {
        path_prefix: Some("/v3/".into()),
        status: Some(502),
        ..Default::default()
    });
    let err = client.list_pending(&tenant).await.unwrap_err();
    assert_eq!((err.status(), err.is_transient()), (Some(502), true));
    assert_eq!(
        sandbox.state.journal().matching("GET", "/v3/").len(),
        4,
        "max_attempts"
    );
    sandbox.state.faults().clear();
    sandbox.state.faults().add(FaultRule {
        path_prefix: Some("/v3/".into()),
        count: Some(1),
        status: Some(429),
        retry_after_secs: Some(3600),
        ..Default::default()
    });
    let err = client.list_pending(&tenant).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn wrapped_lists_documents_and_size_limits() {
    let sandbox = sb::spawn(PageUpConfig {
        wrap_list: true,
        ..Default::default()
    })
    .await
    .unwrap();
    sandbox
        .state
        .add_client(ClientSpec::full(TENANT, "cid", "secret"));
    let tenant = tenant_for(&sandbox, "cid", "secret");
    sandbox.state.seed_generated(
        TENANT,
        2,
        &GenerateOptions {
            document_bytes: 300_000,
            ..Default::default()
        },
    );
    let client = PageUpClient::new(fast_retries(), Limits::default()).unwrap();
    let page = client.list_pending(&tenant).await.unwrap();
    assert_eq!(page.len(), 2);
    let resume = page[0]
        .documents
        .iter()
        .find(|d| d.document_type.as_deref() == Some("resume"))
        .unwrap();
    let bytes = resume.content.as_ref().and_then(|c| c.bytes()).unwrap();
    assert_eq!(bytes.len(), 300_000);
    assert!(bytes.starts_with(b"%PDF"));
    let raw = client.list_pending_raw(&tenant).await.unwrap();
    assert!(raw.starts_with(b"{"));

    let small = PageUpClient::new(
        fast_retries(),
        Limits {
            max_response_bytes: 100_000,
            max_document_bytes: 1 << 20,
        },
    )
    .unwrap();
    assert!(matches!(
        small.list_pending(&tenant).await.unwrap_err(),
        Error::TooLarge { .. }
    ));
    let strict = PageUpClient::new(
        fast_retries(),
        Limits {
            max_response_bytes: 1 << 30,
            max_document_bytes: 1000,
        },
    )
    .unwrap();
    assert!(strict
        .list_pending(&tenant)
        .await
        .unwrap_err()
        .to_string()
        .contains("over the 1000 allowed"));
}
