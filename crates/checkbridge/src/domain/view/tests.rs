use super::*;
use crate::domain::check::SearchRecord;
use crate::domain::ids::{PageUpCheckId, ThearyOrderId};
use crate::domain::test_support::tenant;
use proptest::prelude::*;

fn links() -> ReportLinks {
    ReportLinks::new("https://cb.example.com/")
}

fn record(phase: Phase, searches: Vec<SearchRecord>) -> CheckRecord {
    CheckRecord {
        id: CheckId::new("c-1"),
        tenant: TenantKey::new("acme"),
        pageup_id: PageUpCheckId::new("100"),
        phase,
        reference: (phase != Phase::Claimed).then(|| ThearyOrderId::new("ord_1")),
        reason: (phase == Phase::Failed).then(|| "missing job title".to_owned()),
        desired_version: 3,
        acked_version: 1,
        created_at: 0,
        updated_at: 0,
        searches,
    }
}

fn search(t: SearchType, result: SearchResult) -> SearchRecord {
    let (state, outcome, discrepancy, reason_code) = match result {
        SearchResult::Open => (SearchState::Open, None, false, None),
        SearchResult::Cancelled => (SearchState::Cancelled, None, false, None),
        SearchResult::Completed {
            outcome,
            discrepancy,
        } => (SearchState::Completed, Some(outcome), discrepancy, None),
        SearchResult::ActionRequired { reason } => {
            (SearchState::ActionRequired, None, false, Some(reason))
        }
    };
    SearchRecord {
        id: SearchId::new(t.as_str()),
        search_type: t,
        theary_search_id: None,
        state,
        outcome,
        discrepancy,
        reason_code,
    }
}

const VERIFIED: SearchResult = SearchResult::Completed {
    outcome: Outcome::Verified,
    discrepancy: false,
};

fn doc(phase: Phase, searches: Vec<SearchRecord>) -> StatusDocument {
    view(&record(phase, searches), &links(), &tenant()).document
}

#[test]
fn the_life_of_a_check() {
    assert_eq!(
        doc(Phase::Claimed, vec![]),
        StatusDocument::new(CheckStatus::Queued)
    );
    let mut searches = vec![
        search(SearchType::Employment, SearchResult::Open),
        search(SearchType::Education, SearchResult::Open),
    ];
    let new = doc(Phase::Ordered, searches.clone());
    assert_eq!(
        (
            new.status.clone(),
            new.reference_number.as_str(),
            new.results.len()
        ),
        (CheckStatus::New, "ord_1", 0)
    );
    searches[0] = search(SearchType::Employment, VERIFIED);
    let partial = doc(Phase::Ordered, searches.clone());
    assert_eq!(partial.status, CheckStatus::InProgress);
    assert_eq!(
        partial.results,
        vec![ResultEntry {
            report_link: "https://cb.example.com/reports/acme/c-1/EMPLOYMENT".into(),
            report_type: "Employment verification".into(),
            status: "pass".into()
        }]
    );
    searches[1] = search(
        SearchType::Education,
        SearchResult::Completed {
            outcome: Outcome::Verified,
            discrepancy: true,
        },
    );
    let v = view(&record(Phase::Ordered, searches), &links(), &tenant());
    let done = &v.document;
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
    assert_eq!(
        done.results[2].report_link,
        "https://cb.example.com/reports/acme/c-1"
    );
    assert_eq!(v.overall.as_deref(), Some("review"));
    assert_eq!(
        (v.status_words(), v.searches[1].status.as_str()),
        ("completed", "review")
    );
}

#[test]
fn outcomes_map_through_the_tenants_configuration() {
    let t = tenant();
    let status = |o: SearchResult| result_status(&o, &t);
    assert_eq!(
        status(SearchResult::Completed {
            outcome: Outcome::NoRecord,
            discrepancy: false
        }),
        "fail"
    );
    assert_eq!(
        status(SearchResult::Completed {
            outcome: Outcome::Other("PARTIAL".into()),
            discrepancy: false
        }),
        "review"
    );
    assert_eq!(
        status(SearchResult::ActionRequired {
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
    let all_cancelled = vec![search(SearchType::Employment, SearchResult::Cancelled)];
    assert_eq!(
        doc(Phase::Ordered, all_cancelled).status,
        CheckStatus::Cancelled
    );
    let sla = vec![
        search(SearchType::Employment, VERIFIED),
        search(
            SearchType::Education,
            SearchResult::ActionRequired {
                reason: ReasonCode::SlaReached,
            },
        ),
    ];
    let expired = doc(Phase::Ordered, sla);
    assert_eq!(
        (expired.status, expired.results.len()),
        (CheckStatus::Expired, 2)
    );
    let failed = doc(Phase::Failed, vec![]);
    assert_eq!(
        (failed.status, failed.reason_for_fail.as_str()),
        (CheckStatus::Failed, "missing job title")
    );
    assert_eq!(
        doc(Phase::Cancelled, vec![]).reference_number,
        "ord_1",
        "a cancelled order keeps its reference"
    );
}

#[test]
fn the_claim_is_sent_before_anything_else() {
    let mut check = record(Phase::Failed, vec![]);
    check.acked_version = 0;
    let v = view(&check, &links(), &tenant());
    assert_eq!(v.status(), &CheckStatus::Failed, "where it is going");
    assert_eq!(
        next_document(&check, &v),
        (StatusDocument::new(CheckStatus::Queued), 1),
        "the claim first"
    );
    check.acked_version = 1;
    assert_eq!(next_document(&check, &v), (v.document.clone(), 3));
}

fn result() -> impl Strategy<Value = SearchResult> {
    prop_oneof![
        Just(SearchResult::Open),
        Just(SearchResult::Cancelled),
        (prop::sample::select(Outcome::KNOWN.to_vec()), any::<bool>()).prop_map(
            |(outcome, discrepancy)| SearchResult::Completed {
                outcome,
                discrepancy
            }
        ),
        prop::sample::select(ReasonCode::KNOWN.to_vec())
            .prop_map(|reason| SearchResult::ActionRequired { reason }),
    ]
}

proptest! {
    #[test]
    fn documents_are_always_complete_and_consistent(results in prop::collection::vec(result(), 1..4)) {
        let types = [SearchType::Employment, SearchType::Education, SearchType::Employment, SearchType::Education];
        let searches: Vec<_> = results.iter().cloned().zip(types).map(|(o, ty)| search(ty, o)).collect();
        let v = view(&record(Phase::Ordered, searches), &links(), &tenant());
        let doc = &v.document;
        prop_assert_eq!(doc.reference_number.as_str(), "ord_1", "the reference is never dropped once ordered");
        for r in &doc.results {
            prop_assert!(!r.report_type.is_empty() && !r.report_link.is_empty() && !r.status.is_empty());
        }
        let finished = results.iter().filter(|o| o.is_result()).count();
        let open = results.contains(&SearchResult::Open);
        match doc.status {
            CheckStatus::New => prop_assert!(doc.results.is_empty() && (open || finished == 0)),
            CheckStatus::InProgress => prop_assert!(open && doc.results.len() == finished),
            CheckStatus::Completed => prop_assert!(!open && doc.results.len() == finished + 1),
            CheckStatus::Expired => prop_assert!(!open && doc.results.len() == finished),
            CheckStatus::Cancelled => prop_assert!(results.iter().all(|o| *o == SearchResult::Cancelled)),
            ref other => prop_assert!(false, "unexpected status {other}"),
        }
        // The view's overall result is the document's whenever the document has one.
        if doc.status == CheckStatus::Completed {
            prop_assert_eq!(v.overall.as_deref(), doc.results.last().map(|r| r.status.as_str()));
        }
    }
}
