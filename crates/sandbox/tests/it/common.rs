//! The shared fault and journal layer.

use axum::routing::get;
use axum::Router;
use sandbox::common::{
    admin_routes, bind_local, fault_and_journal, serve, FaultRule, Instrumentation,
};

async fn spawn() -> (sandbox::common::Server, Instrumentation) {
    let inst = Instrumentation::default();
    let app = Router::new()
        .route("/x", get(|| async { "ok" }))
        .layer(axum::middleware::from_fn_with_state(
            inst.clone(),
            fault_and_journal,
        ))
        .nest("/__admin", admin_routes(inst.clone()));
    let server = serve(bind_local(0).await.unwrap(), app).unwrap();
    (server, inst)
}

#[tokio::test]
async fn counted_faults_apply_exactly_then_retire() {
    let (server, inst) = spawn().await;
    let http = reqwest::Client::new();
    let url = format!("{}/x", server.base_url());
    http.post(format!("{}/__admin/faults", server.base_url()))
        .json(&FaultRule {
            path_prefix: Some("/x".into()),
            count: Some(2),
            status: Some(429),
            retry_after_secs: Some(3),
            ..Default::default()
        })
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    for _ in 0..2 {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "3");
    }
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    let statuses: Vec<_> = inst
        .journal
        .matching("GET", "/x")
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, vec![Some(429), Some(429), Some(200)]);
}

#[tokio::test]
async fn dropped_connections_fail_the_call() {
    let (server, inst) = spawn().await;
    let url = format!("{}/x", server.base_url());
    for (before, after) in [(true, false), (false, true)] {
        inst.faults.add(FaultRule {
            count: Some(1),
            drop_before_handling: before,
            drop_after_handling: after,
            ..Default::default()
        });
        let http = reqwest::Client::new();
        let outcome = match http.get(&url).send().await {
            Ok(r) => r.text().await.map(|_| ()),
            Err(e) => Err(e),
        };
        assert!(
            outcome.is_err(),
            "a dropped connection must surface as an error"
        );
    }
    assert_eq!(
        reqwest::get(&url).await.unwrap().text().await.unwrap(),
        "ok"
    );
}
