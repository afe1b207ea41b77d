use super::*;
use crate::domain::test_support::tenant;
use proptest::prelude::*;

fn search(t: SearchType, outcome: SearchOutcome) -> SearchView {
    SearchView {
        report_link: format!("https://cb.example.com/r/{}", t.as_str()),
        search_type: t,
        outcome,
    }
}

fn ordered() -> Phase {
    Phase::Ordered {
        reference: "ord_1".into(),
    }
}

const VERIFIED: SearchOutcome = SearchOutcome::Completed {
    outcome: Outcome::Verified,
    discrepancy: false,
};

#[test]
fn the_life_of_a_check() {
    let t = tenant();
    let link = "https://cb.example.com/r/all";
    assert_eq!(
        desired_document(&Phase::Claimed, &[], link, &t),
        StatusDocument::new(CheckStatus::Queued)
    );
    let mut searches = vec![
        search(SearchType::Employment, SearchOutcome::Open),
        search(SearchType::Education, SearchOutcome::Open),
    ];
    let new = desired_document(&ordered(), &searches, link, &t);
    assert_eq!(
        (
            new.status.clone(),
            new.reference_number.as_str(),
            new.results.len()
        ),
        (CheckStatus::New, "ord_1", 0)
    );
    searches[0].outcome = VERIFIED;
    let partial = desired_document(&ordered(), &searches, link, &t);
    assert_eq!(partial.status, CheckStatus::InProgress);
    assert_eq!(
        partial.results,
        vec![ResultEntry {
            report_link: "https://cb.example.com/r/EMPLOYMENT".into(),
            report_type: "Employment verification".into(),
            status: "pass".into()
        }]
    );
    searches[1].outcome = SearchOutcome::Completed {
        outcome: Outcome::Verified,
        discrepancy: true,
    };
    let done = desired_document(&ordered(), &searches, link, &t);
    assert_eq!(done.status, CheckStatus::Completed);
    assert_eq!(done.reference_number, "ord_1");
    let statuses: Vec<_> = done
        .results
        .iter()
        .map(|r| (r.report_type.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("Employment verification", "pass"),
            ("Education verification", "review"),
            ("Background check report", "review")
        ]
    );
    assert_eq!(done.results[2].report_link, link);
}

#[test]
fn outcomes_map_through_the_tenants_configuration() {
    let t = tenant();
    let status = |o: SearchOutcome| result_status(&o, &t);
    assert_eq!(
        status(SearchOutcome::Completed {
            outcome: Outcome::NoRecord,
            discrepancy: false
        }),
        "fail"
    );
    assert_eq!(
        status(SearchOutcome::Completed {
            outcome: Outcome::Other("PARTIAL".into()),
            discrepancy: false
        }),
        "review"
    );
    assert_eq!(
        status(SearchOutcome::ActionRequired {
            reason: ReasonCode::ThirdPartyRecord
        }),
        "review"
    );
    assert_eq!(overall_status(["pass", "fail", "review"], &t), "fail");
    assert_eq!(overall_status(["pass", "pass"], &t), "pass");
    assert_eq!(
        overall_status(["pass", "something odd"], &t),
        "something odd",
        "an unlisted status counts as most severe"
    );
}

#[test]
fn cancellation_expiry_and_failure() {
    let t = tenant();
    let all_cancelled = [search(SearchType::Employment, SearchOutcome::Cancelled)];
    assert_eq!(
        desired_document(&ordered(), &all_cancelled, "l", &t).status,
        CheckStatus::Cancelled
    );
    let sla = [
        search(SearchType::Employment, VERIFIED),
        search(
            SearchType::Education,
            SearchOutcome::ActionRequired {
                reason: ReasonCode::SlaReached,
            },
        ),
    ];
    let expired = desired_document(&ordered(), &sla, "l", &t);
    assert_eq!(
        (expired.status, expired.results.len()),
        (CheckStatus::Expired, 2)
    );
    let failed = desired_document(
        &Phase::Failed {
            reference: None,
            reason: "missing job title".into(),
        },
        &[],
        "l",
        &t,
    );
    assert_eq!(
        (failed.status, failed.reason_for_fail.as_str()),
        (CheckStatus::Failed, "missing job title")
    );
}

fn outcome() -> impl Strategy<Value = SearchOutcome> {
    prop_oneof![
        Just(SearchOutcome::Open),
        Just(SearchOutcome::Cancelled),
        (prop::sample::select(Outcome::KNOWN.to_vec()), any::<bool>()).prop_map(
            |(outcome, discrepancy)| SearchOutcome::Completed {
                outcome,
                discrepancy
            }
        ),
        prop::sample::select(ReasonCode::KNOWN.to_vec())
            .prop_map(|reason| SearchOutcome::ActionRequired { reason }),
    ]
}

proptest! {
    #[test]
    fn documents_are_always_complete_and_consistent(outcomes in prop::collection::vec(outcome(), 1..4)) {
        let t = tenant();
        let types = [SearchType::Employment, SearchType::Education, SearchType::Employment, SearchType::Education];
        let searches: Vec<_> = outcomes.iter().cloned().zip(types).map(|(o, ty)| search(ty, o)).collect();
        let doc = desired_document(&ordered(), &searches, "https://cb.example.com/r/all", &t);
        prop_assert_eq!(doc.reference_number.as_str(), "ord_1", "the reference is never dropped once ordered");
        for r in &doc.results {
            prop_assert!(!r.report_type.is_empty() && !r.report_link.is_empty() && !r.status.is_empty());
        }
        let finished = outcomes.iter().filter(|o| o.is_result()).count();
        let open = outcomes.contains(&SearchOutcome::Open);
        match doc.status {
            CheckStatus::New => prop_assert!(doc.results.is_empty() && (open || finished == 0)),
            CheckStatus::InProgress => prop_assert!(open && doc.results.len() == finished),
            CheckStatus::Completed => prop_assert!(!open && doc.results.len() == finished + 1),
            CheckStatus::Expired => prop_assert!(!open && doc.results.len() == finished),
            CheckStatus::Cancelled => prop_assert!(outcomes.iter().all(|o| *o == SearchOutcome::Cancelled)),
            other => prop_assert!(false, "unexpected status {other}"),
        }
    }
}
