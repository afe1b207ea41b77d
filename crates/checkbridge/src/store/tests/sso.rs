//! Single sign-on: a sign-in in progress is taken once, only by its tenant, and not after it
//! expired; they are capped per tenant; a provider's user is one reader per tenant.

use super::*;

fn pending(tenant: &str, expires_at: i64) -> PendingSignIn {
    PendingSignIn {
        tenant: t(tenant),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        return_path: "/reports/acme/c-1".into(),
        expires_at,
    }
}

#[tokio::test]
async fn a_sign_in_in_progress_is_taken_once_by_its_tenant_before_it_expires() {
    on_each_backend(|store| async move {
        assert!(store
            .sso_pending_put("s1", &pending("acme", 10_000), 1_000, 10)
            .await
            .unwrap());
        assert_eq!(
            store
                .sso_pending_take(&t("globex"), "s1", 2_000)
                .await
                .unwrap(),
            None,
            "another tenant's callback does not complete it"
        );
        // ... and took it: nobody can use it now.
        assert_eq!(
            store
                .sso_pending_take(&t("acme"), "s1", 2_000)
                .await
                .unwrap(),
            None
        );

        assert!(store
            .sso_pending_put("s2", &pending("acme", 10_000), 1_000, 10)
            .await
            .unwrap());
        let got = store
            .sso_pending_take(&t("acme"), "s2", 2_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.return_path, "/reports/acme/c-1");
        assert_eq!(
            store
                .sso_pending_take(&t("acme"), "s2", 2_000)
                .await
                .unwrap(),
            None,
            "once"
        );

        assert!(store
            .sso_pending_put("s3", &pending("acme", 10_000), 1_000, 10)
            .await
            .unwrap());
        assert_eq!(
            store
                .sso_pending_take(&t("acme"), "s3", 10_000)
                .await
                .unwrap(),
            None,
            "expired"
        );

        // Capped per tenant; expired ones make room as new ones come.
        for (i, s) in ["a", "b"].iter().enumerate() {
            assert!(store
                .sso_pending_put(s, &pending("acme", 5_000), 1_000 + i as i64, 2)
                .await
                .unwrap());
        }
        assert!(!store
            .sso_pending_put("c", &pending("acme", 5_000), 1_100, 2)
            .await
            .unwrap());
        assert!(store
            .sso_pending_put("g", &pending("globex", 5_000), 1_100, 2)
            .await
            .unwrap());
        assert!(store
            .sso_pending_put("c", &pending("acme", 9_000), 5_000, 2)
            .await
            .unwrap());
        assert_eq!(
            store.sso_pending_count().await.unwrap(),
            1,
            "the expired ones were purged"
        );
    })
    .await;
}

#[tokio::test]
async fn a_providers_user_is_one_reader_of_one_tenant() {
    on_each_backend(|store| async move {
        let first = store
            .sso_reader(
                &t("acme"),
                "https://idp",
                "sub-1",
                "acme:dana@acme.example",
                1,
            )
            .await
            .unwrap();
        let SsoReader::Reader { user_id, username } = first else {
            panic!("{first:?}");
        };
        assert_eq!(username, "acme:dana@acme.example");
        // The same subject again, even under a changed email: the same reader.
        let again = store
            .sso_reader(
                &t("acme"),
                "https://idp",
                "sub-1",
                "acme:dana.new@acme.example",
                2,
            )
            .await
            .unwrap();
        assert_eq!(
            again,
            SsoReader::Reader {
                user_id: user_id.clone(),
                username: username.clone()
            }
        );
        // A name taken by a reader not linked to this identity is not taken over.
        assert!(store
            .create_user(&t("acme"), "acme:pat@acme.example", "hash", 3)
            .await
            .unwrap());
        assert_eq!(
            store
                .sso_reader(
                    &t("acme"),
                    "https://idp",
                    "sub-2",
                    "acme:pat@acme.example",
                    4
                )
                .await
                .unwrap(),
            SsoReader::NameTaken
        );
        // A disabled reader does not sign in; removing them removes the link too.
        let changed = store
            .change_user("acme:dana@acme.example", "disabled", None, "cli:test", 5)
            .await
            .unwrap();
        assert_eq!(changed, UserChangeOutcome::Done);
        assert_eq!(
            store
                .sso_reader(&t("acme"), "https://idp", "sub-1", "x", 6)
                .await
                .unwrap(),
            SsoReader::Disabled
        );
        let removed = store
            .change_user("acme:dana@acme.example", "removed", None, "cli:test", 7)
            .await
            .unwrap();
        assert_eq!(removed, UserChangeOutcome::Done);
        let back = store
            .sso_reader(
                &t("acme"),
                "https://idp",
                "sub-1",
                "acme:dana@acme.example",
                8,
            )
            .await
            .unwrap();
        assert!(matches!(back, SsoReader::Reader { user_id: new, .. } if new != user_id));
        // A tenant that is shredded takes its readers' links with it.
        store.shred_tenant(&t("acme"), 9).await.unwrap();
    })
    .await;
}
