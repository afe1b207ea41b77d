//! A check waiting on the candidate: its request is recorded with the claim, owes its mails
//! one lease at a time, ends once (submitted, expired or refused), and never crosses tenants.

use super::*;
use crate::domain::check::Phase;
use crate::store::{CandidateRequest, NewCandidate, Submitted};

async fn invite(
    store: &Store,
    tenant: &str,
    pageup_id: &str,
    token_hash: &str,
    now: i64,
) -> CheckId {
    let id = CheckId::random();
    let searches = [NewSearch {
        id: SearchId::new(format!("{id}-emp")),
        search_type: SearchType::Employment,
    }];
    let request = NewCandidate {
        token_hash,
        token_sealed: "sealed-token",
        invitation_sealed: "sealed-invitation",
        needs_json: "[\"ssn\",\"signed_release\"]",
        expires_at: now + 7 * 86_400_000,
    };
    let r = store
        .record_claimed(
            &NewCheck {
                id: &id,
                tenant: &t(tenant),
                pageup_id: &PageUpCheckId::from(pageup_id),
                webhook_secret: "s",
                searches: &searches,
                plan: Plan::Candidate(&request),
            },
            now,
        )
        .await
        .unwrap();
    assert!(r.new);
    id
}

async fn request(store: &Store, tenant: &str, id: &CheckId) -> CandidateRequest {
    store
        .candidate_request(&t(tenant), id)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_candidate_request_owes_its_mails_and_ends_once_on_submission() {
    on_each_backend(|store| async move {
        let id = invite(&store, "acme", "1", "hash-1", 1_000).await;
        assert_eq!(
            store.check_phase(&t("acme"), &id).await.unwrap(),
            Some(Phase::Candidate)
        );
        assert!(store
            .candidate_request(&t("globex"), &id)
            .await
            .unwrap()
            .is_none());
        let r = store.candidate_by_token("hash-1").await.unwrap().unwrap();
        assert_eq!((r.state.as_str(), r.mails_sent), ("invited", 0));
        assert!(!format!("{r:?}").contains("sealed"), "{r:?}");

        // The invitation is due at once, leased by one mailer at a time.
        let leased = store
            .lease_candidate_mail("a", 1_000, 30_000, 10)
            .await
            .unwrap();
        assert_eq!(leased.len(), 1);
        assert!(store
            .lease_candidate_mail("b", 2_000, 30_000, 10)
            .await
            .unwrap()
            .is_empty());
        store
            .candidate_mail_retry(&id, "a", 5_000, "451 try later", 2_000)
            .await
            .unwrap();
        assert!(store
            .lease_candidate_mail("b", 4_000, 30_000, 10)
            .await
            .unwrap()
            .is_empty());
        let leased = store
            .lease_candidate_mail("b", 5_000, 30_000, 10)
            .await
            .unwrap();
        assert_eq!(
            (leased[0].mail_attempts, leased[0].mail_error.as_deref()),
            (1, Some("451 try later"))
        );
        // A stale lease holder cannot record the send.
        store
            .candidate_mail_sent(&leased[0], "a", 5_000, Some(9_000))
            .await
            .unwrap();
        assert_eq!(request(&store, "acme", &id).await.mails_sent, 0);
        store
            .candidate_mail_sent(&leased[0], "b", 5_000, Some(9_000))
            .await
            .unwrap();
        let r = request(&store, "acme", &id).await;
        assert_eq!((r.mails_sent, r.mail_attempts, r.mail_error), (1, 0, None));
        // The reminder is due at its time; a resend makes it due now.
        assert!(store
            .lease_candidate_mail("b", 8_000, 30_000, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(store
            .resend_candidate_invitation(&t("acme"), &id, 8_000)
            .await
            .unwrap());
        assert!(!store
            .resend_candidate_invitation(&t("globex"), &id, 8_000)
            .await
            .unwrap());
        // The next mail is due now (a reminder, with the same link).
        assert_eq!(request(&store, "acme", &id).await.mails_sent, 1);
        assert_eq!(
            store
                .lease_candidate_mail("b", 8_000, 30_000, 10)
                .await
                .unwrap()
                .len(),
            1
        );

        assert!(store
            .save_candidate_draft(&id, "sealed-draft", 8_500)
            .await
            .unwrap());
        assert_eq!(
            request(&store, "acme", &id).await.draft_sealed.as_deref(),
            Some("sealed-draft")
        );
        assert_eq!(
            store
                .submit_candidate(&id, "sealed-order", 9_000)
                .await
                .unwrap(),
            Submitted::Now
        );
        assert_eq!(
            store
                .submit_candidate(&id, "sealed-order", 9_500)
                .await
                .unwrap(),
            Submitted::Closed,
            "a second submission changes nothing"
        );
        let r = request(&store, "acme", &id).await;
        assert_eq!(
            (r.state.as_str(), r.submitted_at),
            ("submitted", Some(9_000))
        );
        assert!(
            r.token_sealed.is_none() && r.invitation_sealed.is_none() && r.draft_sealed.is_none()
        );
        assert!(!store
            .save_candidate_draft(&id, "late", 9_600)
            .await
            .unwrap());
        assert!(store
            .lease_candidate_mail("b", 99_000, 30_000, 10)
            .await
            .unwrap()
            .is_empty());
        // The check now owes its order, as a check claimed with a complete invitation does.
        assert_eq!(
            store.check_phase(&t("acme"), &id).await.unwrap(),
            Some(Phase::Submitted)
        );
        let access: Vec<String> = store
            .access_records(&t("acme"))
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.check_id == id)
            .map(|a| a.action.to_string())
            .collect();
        assert_eq!(
            access,
            ["procured", "candidate_invited", "candidate_submitted"]
        );
    })
    .await;
}

#[tokio::test]
async fn an_unanswered_request_expires_and_a_refused_address_fails_the_check() {
    on_each_backend(|store| async move {
        let day = 86_400_000;
        let late = invite(&store, "acme", "2", "hash-2", 0).await;
        let refused = invite(&store, "acme", "3", "hash-3", 0).await;
        assert!(store
            .expire_candidates(7 * day - 1, 10)
            .await
            .unwrap()
            .is_empty());
        let leased = store
            .lease_candidate_mail("m", day, 30_000, 10)
            .await
            .unwrap();
        let to_refuse = leased.iter().find(|r| r.check_id == refused).unwrap();
        store
            .candidate_mail_refused(
                to_refuse,
                "m",
                "550 no such user",
                "The candidate's email address was refused.",
                day,
            )
            .await
            .unwrap();
        let expired = store.expire_candidates(7 * day, 10).await.unwrap();
        assert_eq!(expired, vec![(t("acme"), late.clone())]);
        assert_eq!(
            store.check_phase(&t("acme"), &late).await.unwrap(),
            Some(Phase::Expired)
        );
        assert_eq!(
            store.check_phase(&t("acme"), &refused).await.unwrap(),
            Some(Phase::Failed)
        );
        for id in [&late, &refused] {
            let r = request(&store, "acme", id).await;
            assert!(
                r.token_sealed.is_none()
                    && r.invitation_sealed.is_none()
                    && r.draft_sealed.is_none(),
                "what the request held is purged: {}",
                r.state
            );
        }
        assert_eq!(
            store
                .submit_candidate(&late, "o", 7 * day + 1)
                .await
                .unwrap(),
            Submitted::Closed,
            "an expired request takes no submission"
        );
        assert!(
            store
                .expire_candidates(8 * day, 10)
                .await
                .unwrap()
                .is_empty(),
            "once"
        );
        // A shredded tenant keeps no request.
        store.shred_tenant(&t("acme"), 9 * day).await.unwrap();
        assert!(store
            .candidate_request(&t("acme"), &late)
            .await
            .unwrap()
            .is_none());
    })
    .await;
}
