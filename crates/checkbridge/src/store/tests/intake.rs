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
    })
    .await;
}
