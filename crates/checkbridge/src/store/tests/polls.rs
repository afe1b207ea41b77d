//! Tenant poll leases: one poller per tenant at a time.

use super::*;

#[tokio::test]
async fn one_poller_per_tenant_at_a_time() {
    on_each_backend(|store| async move {
        assert!(store
            .lease_tenant_poll(&t("acme"), "node-1", 1_000, MINUTE)
            .await
            .unwrap());
        assert!(!store
            .lease_tenant_poll(&t("acme"), "node-2", 2_000, MINUTE)
            .await
            .unwrap());
        assert!(
            store
                .lease_tenant_poll(&t("acme"), "node-1", 2_000, MINUTE)
                .await
                .unwrap(),
            "the holder may renew"
        );
        assert!(
            store
                .lease_tenant_poll(&t("globex"), "node-2", 2_000, MINUTE)
                .await
                .unwrap(),
            "tenants are independent"
        );
        store
            .release_tenant_poll(&t("acme"), "node-2", 9_000, None)
            .await
            .unwrap();
        assert!(
            !store
                .lease_tenant_poll(&t("acme"), "node-2", 3_000, MINUTE)
                .await
                .unwrap(),
            "only the holder releases"
        );
        store
            .release_tenant_poll(&t("acme"), "node-1", 9_000, None)
            .await
            .unwrap();
        assert!(store
            .lease_tenant_poll(&t("acme"), "node-2", 3_000, MINUTE)
            .await
            .unwrap());
        let expired = 3_000 + MINUTE.as_millis() as i64 + 1;
        assert!(
            store
                .lease_tenant_poll(&t("acme"), "node-3", expired, MINUTE)
                .await
                .unwrap(),
            "an expired lease is taken over"
        );
    })
    .await;
}
