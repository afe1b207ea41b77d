//! Recording a claimed check and reading it back within its tenant.

use super::*;
use crate::domain::check::Phase;

#[tokio::test]
async fn a_claim_is_recorded_once_per_tenant_and_pageup_id() {
    on_each_backend(|store| async move {
        let first = claim(&store, "acme", "12345", "secret-1", 1_000).await;
        assert!(first.new);
        let again = claim(&store, "acme", "12345", "secret-2", 2_000).await;
        assert_eq!(
            again,
            Recorded {
                id: first.id.clone(),
                new: false
            }
        );
        let other_tenant = claim(&store, "globex", "12345", "secret-3", 2_000).await;
        assert!(other_tenant.new && other_tenant.id != first.id);
        assert_eq!(
            store
                .check_phase(&t("acme"), &first.id)
                .await
                .unwrap()
                .map(Phase::as_str),
            Some("claimed")
        );
        assert_eq!(
            store.check_phase(&t("globex"), &first.id).await.unwrap(),
            None,
            "another tenant's check reads as absent"
        );
    })
    .await;
}
