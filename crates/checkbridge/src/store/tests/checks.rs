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

#[tokio::test]
async fn a_page_of_claims_is_recorded_in_one_write_each_with_its_own_outcome() {
    on_each_backend(|store| async move {
        let held = claim(&store, "acme", "p-2", "s", 1_000).await;
        let ids: Vec<CheckId> = (0..3).map(|_| CheckId::random()).collect();
        let pageup: Vec<PageUpCheckId> = ["p-1", "p-2", "p-3"]
            .into_iter()
            .map(PageUpCheckId::from)
            .collect();
        let searches = [NewSearch {
            id: SearchId::new(format!("{}-emp", ids[0])),
            search_type: SearchType::Employment,
        }];
        let tenant = t("acme");
        let page: Vec<NewCheck<'_>> = vec![
            NewCheck {
                id: &ids[0],
                tenant: &tenant,
                pageup_id: &pageup[0],
                webhook_secret: "s",
                searches: &searches,
                plan: Plan::Order { order_json: "{}" },
            },
            // Held already: nothing of it is written again, and its id comes back.
            NewCheck {
                id: &ids[1],
                tenant: &tenant,
                pageup_id: &pageup[1],
                webhook_secret: "s",
                searches: &[],
                plan: Plan::Order { order_json: "{}" },
            },
            NewCheck {
                id: &ids[2],
                tenant: &tenant,
                pageup_id: &pageup[2],
                webhook_secret: "s",
                searches: &[],
                plan: Plan::Failed { reason: "no email" },
            },
        ];
        let recorded = store
            .record_claims_leased(&page, 2_000, "poller-1", std::time::Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(
            recorded,
            vec![
                Recorded {
                    id: ids[0].clone(),
                    new: true
                },
                Recorded {
                    id: held.id.clone(),
                    new: false
                },
                Recorded {
                    id: ids[2].clone(),
                    new: true
                },
            ]
        );
        let first = store.check_record(&tenant, &ids[0]).await.unwrap().unwrap();
        assert_eq!(
            first.searches.len(),
            1,
            "the new check's searches are written"
        );
        assert_eq!(
            store
                .check_phase(&tenant, &ids[2])
                .await
                .unwrap()
                .map(Phase::as_str),
            Some("failed")
        );
        assert_eq!(
            store
                .check_record(&tenant, &ids[1])
                .await
                .unwrap()
                .map(|c| c.id),
            None,
            "the repeat's fresh id was never written"
        );
        // The page listed again (fresh ids, as every poll makes): all held already.
        let fresh: Vec<CheckId> = (0..3).map(|_| CheckId::random()).collect();
        let again: Vec<NewCheck<'_>> = page
            .iter()
            .zip(&fresh)
            .map(|(c, id)| NewCheck {
                id,
                searches: &[],
                ..*c
            })
            .collect();
        let recorded_again = store
            .record_claims_leased(
                &again,
                3_000,
                "poller-2",
                std::time::Duration::from_secs(30),
            )
            .await
            .unwrap();
        assert_eq!(
            recorded_again
                .iter()
                .map(|r| (&r.id, r.new))
                .collect::<Vec<_>>(),
            vec![(&ids[0], false), (&held.id, false), (&ids[2], false)]
        );
    })
    .await;
}
