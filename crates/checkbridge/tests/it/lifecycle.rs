//! A reader's lifecycle over real HTTP: disabled (their open session ends at once, sign-in
//! refused as for an unknown name), enabled, password reset (sessions end, the old password
//! no longer works), removed; the last operator cannot be disabled or removed; every change
//! is recorded with who made it.

use checkbridge::admin::users::{
    add_operator, add_reader, change, reset_password, Change, UserError,
};
use checkbridge_lab::testing::{TestApp, TestDb};
use checkbridge_lab::LabOptions;

use crate::reports::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_ends_sessions_at_once_and_every_change_is_recorded() {
    for db in TestDb::all().await {
        let mut app = TestApp::prepare(db, LabOptions::default()).await;
        let store = app.store.clone();
        add_reader(&store, &"acme".into(), "alice", "correct horse battery")
            .await
            .unwrap();
        add_operator(&store, "olga", "operator's long password")
            .await
            .unwrap();
        app.start().await;
        let base = app.base_url();

        let mut b = Browser::new(&base);
        assert_eq!(
            b.sign_in("/", "alice", "correct horse battery").await.0,
            303
        );
        assert_eq!(b.get("/").await.0, 200, "signed in");
        let listed = store.list_users(checkbridge::time::now_ms()).await.unwrap();
        let alice = listed.iter().find(|u| u.username == "alice").unwrap();
        assert_eq!(
            (alice.role.as_str(), alice.sessions, alice.disabled_at),
            ("reader", 1, None)
        );

        change(&store, "alice", Change::Disable, "cli:test")
            .await
            .unwrap();
        let (status, location, _) = b.get("/").await;
        assert_eq!(
            (status, location.as_str()),
            (303, "/login"),
            "the session ended at once"
        );
        let (status, _, page) = Browser::new(&base)
            .sign_in("/", "alice", "correct horse battery")
            .await;
        assert_eq!(status, 401, "a disabled user signs in like an unknown one");
        assert!(page.contains("do not match"));

        change(&store, "alice", Change::Enable, "cli:test")
            .await
            .unwrap();
        let mut b = Browser::new(&base);
        assert_eq!(
            b.sign_in("/", "alice", "correct horse battery").await.0,
            303
        );
        reset_password(&store, "alice", "a brand new passphrase", "cli:test")
            .await
            .unwrap();
        assert_eq!(b.get("/").await.0, 303, "a reset ends the sessions");
        assert_eq!(
            Browser::new(&base)
                .sign_in("/", "alice", "correct horse battery")
                .await
                .0,
            401
        );
        assert_eq!(
            Browser::new(&base)
                .sign_in("/", "alice", "a brand new passphrase")
                .await
                .0,
            303
        );

        // Bad input: unknown users, the last operator.
        assert!(matches!(
            change(&store, "nobody", Change::Disable, "cli:test").await,
            Err(UserError::Unknown(_))
        ));
        for c in [Change::Disable, Change::Remove] {
            assert!(matches!(
                change(&store, "olga", c, "cli:test").await,
                Err(UserError::LastOperator(_))
            ));
        }
        // A session ends after its idle time without a request, and at its absolute end
        // however active (the store is asked with explicit times).
        let user_id = store.user_for_login("alice").await.unwrap().unwrap().0;
        store
            .create_session_with_idle("idle-test", &user_id, 1_000, 1_000 + 200_000, 60_000)
            .await
            .unwrap();
        for (at, live) in [
            (30_000, true),
            (85_000, true),
            (140_000, true),
            (199_000, true),
            (201_000, false),
        ] {
            assert_eq!(
                store.session_user("idle-test", at).await.unwrap().is_some(),
                live,
                "at {at} ms"
            );
        }
        store
            .create_session_with_idle("idle-test-2", &user_id, 1_000, 1_000 + 200_000, 60_000)
            .await
            .unwrap();
        assert!(
            store
                .session_user("idle-test-2", 61_001)
                .await
                .unwrap()
                .is_none(),
            "idle too long"
        );
        change(&store, "alice", Change::RevokeSessions, "cli:test")
            .await
            .unwrap();

        // Sessions are listed per user and revoked at once.
        let mut other = Browser::new(&base);
        assert_eq!(
            other
                .sign_in("/", "alice", "a brand new passphrase")
                .await
                .0,
            303
        );
        let now = checkbridge::time::now_ms();
        assert_eq!(
            store
                .user_sessions("alice", now)
                .await
                .unwrap()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(store.user_sessions("nobody", now).await.unwrap(), None);
        change(&store, "alice", Change::RevokeSessions, "cli:test")
            .await
            .unwrap();
        assert_eq!(other.get("/").await.0, 303, "revoked at once");
        assert!(store
            .user_sessions("alice", now)
            .await
            .unwrap()
            .unwrap()
            .is_empty());

        change(&store, "alice", Change::Remove, "cli:test")
            .await
            .unwrap();
        assert!(store
            .list_users(0)
            .await
            .unwrap()
            .iter()
            .all(|u| u.username != "alice"));
        assert_eq!(
            Browser::new(&base)
                .sign_in("/", "alice", "a brand new passphrase")
                .await
                .0,
            401
        );

        let changes = store.user_changes(Some("alice")).await.unwrap();
        let actions: Vec<&str> = changes.iter().map(|c| c.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "disabled",
                "enabled",
                "password_reset",
                "sessions_revoked",
                "sessions_revoked",
                "removed"
            ]
        );
        assert!(changes.iter().all(|c| c.actor == "cli:test"));
        assert!(
            store.user_changes(Some("olga")).await.unwrap().is_empty(),
            "refused changes are not recorded"
        );
        app.finish().await;
    }
}
