//! Intake shapes: none before the first write; written whole, read back; per tenant.

use std::collections::BTreeSet;

use super::*;
use crate::intake::drift::{Drift, Shape};

#[tokio::test]
async fn an_intake_shape_is_kept_per_tenant_and_rewritten_whole() {
    on_each_backend(|store| async move {
        assert_eq!(store.intake_shape(&t("acme")).await.unwrap(), None);
        let known: BTreeSet<String> = ["Id", "Applicant", "Applicant.EmailId"]
            .iter()
            .map(|p| (*p).to_owned())
            .collect();
        let mut shape = Shape {
            known: known.clone(),
            drift: None,
            reads: known.clone(),
            baseline_done: true,
            baseline_seen: 0,
            settled: 0,
        };
        store
            .save_intake_shape(&t("acme"), &shape, 1)
            .await
            .unwrap();
        assert_eq!(
            store.intake_shape(&t("acme")).await.unwrap(),
            Some(shape.clone())
        );
        assert_eq!(store.intake_shape(&t("globex")).await.unwrap(), None);
        shape.known.insert("Applicant.Phone".to_owned());
        shape.drift = Some(Drift {
            new: ["Applicant.Phone".to_owned()].into_iter().collect(),
            missing: BTreeSet::new(),
        });
        store
            .save_intake_shape(&t("acme"), &shape, 2)
            .await
            .unwrap();
        assert_eq!(store.intake_shape(&t("acme")).await.unwrap(), Some(shape));
        // A tenant that leaves takes its shape with it.
        store.shred_tenant(&t("acme"), 3).await.unwrap();
        assert_eq!(store.intake_shape(&t("acme")).await.unwrap(), None);
    })
    .await;
}

/// A mapping compiled from the `assumed` profile, settling after `settle_after`.
fn assumed(settle_after: u32) -> std::sync::Arc<crate::intake::Mapping> {
    crate::intake::IntakeSection {
        profile: Some("assumed".to_owned()),
        drift_settle_after: settle_after,
        ..crate::intake::IntakeSection::default()
    }
    .compile(std::path::Path::new("."))
    .unwrap()
    .unwrap()
}

fn body(invitations: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "items": invitations })).unwrap()
}

async fn drift_issue(store: &Store) -> Option<HealthIssue> {
    store
        .open_issues()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.kind == crate::intake::drift::ISSUE_KIND)
}

#[tokio::test]
async fn a_payload_change_opens_an_issue_that_settles_or_is_acknowledged() {
    use crate::intake::drift::{acknowledge, watch};
    use serde_json::json;
    on_each_backend(|store| async move {
        let acme = t("acme");
        let old = json!({"id": "1", "candidate": {"firstName": "Jane", "email": "j@x.example"}});
        let grown = json!({"id": "2", "candidate": {"firstName": "Jo", "email": "o@x.example", "shoe": 9}, "6F9619FF-8B86-D011-B42D-00CF4FC964FF": 1});
        let lacking = json!({"id": "3", "candidate": {"firstName": "Al"}});

        // The baseline (its first invitations): no issue; no value is kept.
        let m = assumed(2);
        let baseline = vec![old.clone(); crate::intake::drift::BASELINE as usize];
        watch(&store, &acme, &m, &body(&baseline), false).await;
        assert!(drift_issue(&store).await.is_none());
        let shape = store.intake_shape(&acme).await.unwrap().unwrap();
        assert!(shape.baseline_done && shape.known.contains("candidate.email"));
        assert!(!format!("{shape:?}").contains("Jane"));

        // A new path opens the issue, naming it.
        watch(&store, &acme, &m, &body(std::slice::from_ref(&grown)), false).await;
        let issue = drift_issue(&store).await.unwrap();
        assert!(issue.summary.contains("new fields: candidate.shoe"), "{}", issue.summary);
        assert!(!issue.summary.contains("6F9619FF"), "{}", issue.summary);
        // Two invitations in the new shape settle it.
        watch(&store, &acme, &m, &body(&[grown.clone(), grown.clone()]), false).await;
        assert!(drift_issue(&store).await.is_none());
        assert_eq!(store.intake_shape(&acme).await.unwrap().unwrap().drift, None);

        // A lack of a path the mapping reads opens it again; only an acknowledgement closes
        // it when drift_settle_after is 0. A fresh mapping (a restart) reads the store.
        let m = assumed(0);
        watch(&store, &acme, &m, &body(std::slice::from_ref(&lacking)), false).await;
        let issue = drift_issue(&store).await.unwrap();
        assert!(
            issue.summary.contains("missing fields the mapping reads: candidate.email"),
            "{}",
            issue.summary
        );
        watch(&store, &acme, &m, &body(&[old.clone(), old.clone(), old.clone()]), false).await;
        assert!(drift_issue(&store).await.is_some());
        assert!(acknowledge(&store, &acme, false).await.unwrap());
        assert!(drift_issue(&store).await.is_none());
        // The running poller (the same mapping, its drift still open in memory) learns of
        // the acknowledgement at its next poll and does not write the drift back.
        watch(&store, &acme, &m, &body(std::slice::from_ref(&old)), false).await;
        assert!(m.drift.lock().unwrap().as_ref().unwrap().drift.is_none());
        assert_eq!(store.intake_shape(&acme).await.unwrap().unwrap().drift, None);
        assert!(drift_issue(&store).await.is_none());
        assert!(!acknowledge(&store, &acme, false).await.unwrap());
        assert!(store.intake_shape(&t("globex")).await.unwrap().is_none());
    })
    .await;
}
