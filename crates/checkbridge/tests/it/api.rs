//! The admin API over real HTTP: tokens made, used, revoked; 401 and 403 with the one error
//! shape; a tenant's token sees no other tenant (the same 404 as an unknown one); retry and
//! cancel; bad query parameters and bodies; every use in the access record.

use std::time::Duration;

use checkbridge::admin::tokens;
use checkbridge::domain::check::{AccessAction, ApiScope};
use checkbridge::domain::ids::TenantKey;
use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::{LabOptions, Scenario};
use serde_json::Value;

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (u16, String, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = r.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, ct, json)
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let (s, _, v) = self.call(reqwest::Method::GET, path, token, None).await;
        (s, v)
    }

    async fn post(&self, path: &str, token: &str) -> (u16, Value) {
        let (s, _, v) = self
            .call(reqwest::Method::POST, path, Some(token), None)
            .await;
        (s, v)
    }
}

/// The error code of an API error body (asserting its shape).
fn code(v: &Value) -> &str {
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "one error shape: {v}"
    );
    v["error"]["code"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_scopes_tenants_and_the_access_record() {
    for db in TestDb::all().await {
        let mut app = TestApp::prepare(db, LabOptions::default()).await;
        let open_id = app.seed("acme", Scenario::Cancelled, 0); // stays open at Theary
        let done_id = app.seed("acme", Scenario::Clean, 1);
        let globex_id = app.seed("globex", Scenario::Clean, 2);
        app.start().await;
        let (lab, store) = (&app.lab, &app.store);
        app.wait_for(Duration::from_secs(30), "the checks ordered", || async {
            let o = lab.pageup_check("acme", &open_id)?;
            let d = lab.pageup_check("acme", &done_id)?;
            let g = lab.pageup_check("globex", &globex_id)?;
            (o.status == "new" && d.status == "completed" && g.status == "completed").then_some(())
        })
        .await;
        let api = Api {
            http: reqwest::Client::new(),
            base: app.base_url(),
        };
        let acme = TenantKey::new("acme");
        let make = |scope, tenant: Option<&TenantKey>, name: &'static str| {
            let tenant = tenant.cloned();
            async move {
                tokens::create(store, scope, tenant.as_ref(), name, "cli:test")
                    .await
                    .unwrap()
            }
        };
        let all_operate = make(ApiScope::Operate, None, "ops").await;
        let all_read = make(ApiScope::Read, None, "dash").await;
        let acme_read = make(ApiScope::Read, Some(&acme), "acme-dash").await;
        let acme_operate = make(ApiScope::Operate, Some(&acme), "acme-ops").await;
        let (ops, dash, acme_dash, acme_ops) = (
            all_operate.text.expose(),
            all_read.text.expose(),
            acme_read.text.expose(),
            acme_operate.text.expose(),
        );

        // The description needs no token and names the webhook receiver too.
        let (status, spec) = api.get("/api/v1/openapi.json", None).await;
        assert_eq!(status, 200);
        assert!(
            spec["openapi"].as_str().unwrap().starts_with("3.1"),
            "{spec}"
        );
        for path in [
            "/api/v1/tenants",
            "/api/v1/tenants/{tenant}/checks/{check}/cancel",
            "/webhooks/theary/{tenant}",
        ] {
            assert!(spec["paths"].get(path).is_some(), "{path} documented");
        }

        // Each sandbox describes its own routes.
        for base in [lab.pageup.base_url(), lab.theary.base_url()] {
            let r = reqwest::get(format!("{base}/openapi.json")).await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "{base}");
            let doc: Value = r.json().await.unwrap();
            assert!(
                doc["paths"].as_object().is_some_and(|p| p.len() > 5),
                "{doc}"
            );
        }

        // No token, a stranger's, one of ours with a wrong tail: 401, one shape.
        for token in [
            None,
            Some("nonsense"),
            Some("cbt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ] {
            let (status, body) = api.get("/api/v1/tenants", token).await;
            assert_eq!((status, code(&body)), (401, "unauthorized"), "{token:?}");
        }

        // Every tenant for an operator's token; one for a tenant's.
        let keys = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|t| t["tenant"].as_str().unwrap().to_owned())
                .collect()
        };
        let (status, all) = api.get("/api/v1/tenants", Some(dash)).await;
        assert_eq!(status, 200);
        assert!(
            keys(&all).contains(&"globex".to_owned()) && keys(&all).contains(&"acme".to_owned())
        );
        assert!(all[0]["healthy"].is_boolean(), "{all}");
        let (_, mine) = api.get("/api/v1/tenants", Some(acme_dash)).await;
        assert_eq!(keys(&mine), vec!["acme".to_owned()]);

        // Lists and filters, as the command line has them.
        let (status, list) = api
            .get("/api/v1/tenants/acme/checks", Some(acme_dash))
            .await;
        assert_eq!(status, 200);
        let ids: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["pageup_id"].as_str().unwrap())
            .collect();
        assert!(
            ids.contains(&open_id.as_str()) && ids.contains(&done_id.as_str()),
            "{list}"
        );
        let (_, ordered) = api
            .get(
                "/api/v1/tenants/acme/checks?phase=ordered&since=1d&limit=10&owing=false",
                Some(acme_dash),
            )
            .await;
        assert_eq!(ordered.as_array().unwrap().len(), 2, "{ordered}");

        // Another tenant, another tenant's check, an unknown tenant: the same 404.
        let (s1, unknown) = api
            .get("/api/v1/tenants/nosuch/checks", Some(acme_dash))
            .await;
        let (s2, other) = api
            .get("/api/v1/tenants/globex/checks", Some(acme_dash))
            .await;
        let (s3, theirs) = api
            .get(
                &format!("/api/v1/tenants/globex/checks/{globex_id}"),
                Some(acme_dash),
            )
            .await;
        let (s4, wrong_tenant) = api
            .get(
                &format!("/api/v1/tenants/acme/checks/{globex_id}"),
                Some(ops),
            )
            .await;
        assert_eq!((s1, s2, s3, s4), (404, 404, 404, 404));
        assert_eq!(unknown, other);
        assert_eq!(other, theirs);
        assert_eq!(theirs, wrong_tenant);
        assert_eq!(code(&unknown), "not_found");
        let (s, _) = api
            .get("/api/v1/tenants/globex/readers", Some(acme_dash))
            .await;
        assert_eq!(s, 404);

        // Malformed parameters: 400, never a panic or a 500.
        for q in [
            "since=1%C3%A9",
            "since=%C3%A9",
            "since=0d",
            "limit=0",
            "limit=x",
            "limit=100000",
            "owing=maybe",
            "phase=done",
            "phase=a&phase=b",
        ] {
            let (status, body) = api
                .get(&format!("/api/v1/tenants/acme/checks?{q}"), Some(acme_dash))
                .await;
            assert_eq!((status, code(&body)), (400, "bad_request"), "{q}: {body}");
        }
        let (status, body) = api
            .get("/api/v1/tenants/acme/errors?since=1%C3%A9", Some(acme_dash))
            .await;
        assert_eq!((status, code(&body)), (400, "bad_request"), "{body}");
        let (status, body) = api
            .get("/api/v1/tenants/acme/checks/%00", Some(acme_dash))
            .await;
        assert_eq!((status, code(&body)), (404, "not_found"), "{body}");

        // One check in full, by PageUp's id.
        let (status, shown) = api
            .get(
                &format!("/api/v1/tenants/acme/checks/{done_id}"),
                Some(acme_dash),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            (shown["pageup_id"].as_str(), shown["pageup_status"].as_str()),
            (Some(done_id.as_str()), Some("completed"))
        );
        let done_check = shown["check"].as_str().unwrap().to_owned();

        // Retry and cancel need an operate token.
        let retry = format!("/api/v1/tenants/acme/checks/{done_id}/retry");
        let cancel = format!("/api/v1/tenants/acme/checks/{open_id}/cancel");
        for path in [&retry, &cancel] {
            let (status, body) = api.post(path, acme_dash).await;
            assert_eq!((status, code(&body)), (403, "forbidden"), "{path}");
        }
        let (status, body) = api
            .post(
                &format!("/api/v1/tenants/globex/checks/{globex_id}/retry"),
                acme_ops,
            )
            .await;
        assert_eq!((status, code(&body)), (404, "not_found"));
        let (status, body) = api.post(&retry, acme_ops).await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("due_now")),
            "{body}"
        );

        // A body over the cap: 413, the API's shape.
        let (status, _, body) = api
            .call(
                reqwest::Method::POST,
                &retry,
                Some(acme_ops),
                Some(vec![b'x'; 20 * 1024]),
            )
            .await;
        assert_eq!((status, code(&body)), (413, "body_too_large"));

        let (status, body) = api.post(&cancel, ops).await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("cancelled")),
            "{body}"
        );
        app.wait_for(
            Duration::from_secs(15),
            "PageUp to show cancelled",
            || async { (lab.pageup_check("acme", &open_id)?.status == "cancelled").then_some(()) },
        )
        .await;
        let (status, body) = api.post(&cancel, ops).await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("already_final")),
            "{body}"
        );

        // Readers and the error log.
        checkbridge::admin::users::add_reader(
            store,
            &acme,
            "acme-recruiter",
            "a long password here",
        )
        .await
        .unwrap();
        let (status, readers) = api
            .get("/api/v1/tenants/acme/readers", Some(acme_dash))
            .await;
        assert_eq!(status, 200);
        assert_eq!(readers[0]["username"], "acme-recruiter", "{readers}");
        assert!(readers[0].get("password_hash").is_none());
        let (status, log) = api
            .get("/api/v1/tenants/acme/errors?since=1d", Some(acme_dash))
            .await;
        assert_eq!(
            (status, log["tenant"].as_str()),
            (200, Some("acme")),
            "{log}"
        );
        let (status, ct, csv) = api
            .call(
                reqwest::Method::GET,
                "/api/v1/tenants/acme/errors?format=csv",
                Some(acme_dash),
                None,
            )
            .await;
        assert_eq!(status, 200);
        assert!(ct.starts_with("text/csv"), "{ct}");
        assert!(
            csv.as_str().unwrap().starts_with("time,tenant,operation"),
            "{csv}"
        );

        // Every use is in the access record, with the token as the actor; the change too.
        let record = store.access_records(&acme).await.unwrap();
        let by = |t: &tokens::Created| format!("token:{}", t.token.id);
        assert!(record.iter().any(|r| r.actor == by(&acme_read)
            && r.action == AccessAction::ApiRequest
            && r.detail.as_deref() == Some("GET /api/v1/tenants/acme/checks 200")));
        assert!(
            record.iter().any(|r| r.actor == by(&acme_read)
                && r.detail.as_deref() == Some("GET /api/v1/tenants/globex/checks 404")),
            "a tenant's token is recorded in its own tenant's record whatever it asked"
        );
        assert!(record.iter().any(|r| r.actor == by(&acme_read)
            && r.check_id.as_str() == done_check
            && r.detail.as_deref().is_some_and(|d| d.ends_with(" 200"))));
        assert!(record.iter().any(|r| r.actor == by(&acme_read)
            && r.detail
                .as_deref()
                .is_some_and(|d| d.ends_with("/retry 403"))));
        assert!(record
            .iter()
            .any(|r| r.actor == by(&acme_operate) && r.action == AccessAction::Retried));
        assert!(record
            .iter()
            .any(|r| r.actor == by(&all_operate) && r.action == AccessAction::Cancelled));
        assert!(store
            .access_records(&TenantKey::new("globex"))
            .await
            .unwrap()
            .iter()
            .all(|r| r.actor != by(&acme_read)));

        // Revoked: 401 from the next request on; listed with when it was last used.
        assert!(tokens::revoke(store, &acme_read.token.id).await.unwrap());
        assert!(!tokens::revoke(store, &acme_read.token.id).await.unwrap());
        assert!(tokens::revoke(store, "tok_nosuch").await.is_err());
        let (status, body) = api.get("/api/v1/tenants", Some(acme_dash)).await;
        assert_eq!((status, code(&body)), (401, "unauthorized"));
        let listed = tokens::list(store).await.unwrap();
        let row = listed.iter().find(|t| t.id == acme_read.token.id).unwrap();
        assert!(
            row.revoked_at.is_some() && row.last_used_at.is_some(),
            "{row:?}"
        );
        assert_eq!(listed.len(), 4);
        // The text is never stored, nor printed by the types that hold it.
        assert!(!format!("{listed:?}{acme_read:?}").contains(&acme_dash[4..]));

        app.finish().await;
    }
}
