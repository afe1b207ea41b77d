//! A receiver for the service's alerts on a free port, keeping every body it gets, with a
//! change signal to wait on.

use std::sync::{Arc, Mutex};

use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use tokio::sync::watch;

/// The alerts received so far, and a signal bumped on each.
#[derive(Clone)]
pub struct Alerts {
    got: Arc<Mutex<Vec<Value>>>,
    changes: watch::Sender<u64>,
}

impl Alerts {
    /// Every alert body received, oldest first.
    pub fn all(&self) -> Vec<Value> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// A receiver that wakes on the next alert.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

/// Starts a receiver; returns its URL (to set as `alerts.webhook_url`) and what it got.
pub async fn alert_receiver() -> (String, Alerts) {
    let alerts = Alerts {
        got: Arc::new(Mutex::new(Vec::new())),
        changes: watch::channel(0).0,
    };
    let keep = alerts.clone();
    let app = Router::new().route(
        "/hooks/alerts",
        post(move |Json(body): Json<Value>| {
            let keep = keep.clone();
            async move {
                if let Ok(mut g) = keep.got.lock() {
                    g.push(body);
                }
                keep.changes.send_modify(|n| *n += 1);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!(
        "http://{}/hooks/alerts",
        listener.local_addr().expect("a bound address")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, alerts)
}
