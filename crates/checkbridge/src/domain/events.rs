//! How Theary's news about a search (a webhook event, or a search read by the reconciler)
//! moves our record of it, and how a stored search reads back for the status document.

use theary::wire::{Event, Outcome, ReasonCode, Search, SearchStatus};

use super::check::{SearchState, SearchUpdate};

fn is_cancelled(status: Option<&str>) -> bool {
    status.is_some_and(|s| {
        let s = s.trim();
        s.eq_ignore_ascii_case("cancelled") || s.eq_ignore_ascii_case("canceled")
    })
}

/// The move an event makes, if any. Progress notifications move nothing; the receiver
/// still stores them and takes them as a sign the search is alive.
pub fn update_for_event(event: &Event, body: &str) -> Option<SearchUpdate> {
    match event {
        Event::Completed(d) => {
            if is_cancelled(d.status.as_deref()) {
                return Some(cancelled());
            }
            let r = d.verification_result.as_ref();
            Some(SearchUpdate {
                state: SearchState::Completed,
                outcome: r.and_then(|r| r.outcome.clone()),
                discrepancy: r.and_then(|r| r.discrepancy).unwrap_or(false),
                reason_code: None,
                result_json: Some(body.to_owned()),
            })
        }
        Event::ActionRequired(d) => Some(SearchUpdate {
            state: SearchState::ActionRequired,
            outcome: None,
            discrepancy: false,
            reason_code: d.reason_code.clone(),
            result_json: Some(body.to_owned()),
        }),
        Event::Notification(_) | Event::Unknown { .. } => None,
    }
}

fn cancelled() -> SearchUpdate {
    SearchUpdate {
        state: SearchState::Cancelled,
        outcome: None,
        discrepancy: false,
        reason_code: None,
        result_json: None,
    }
}

/// The move a search read from Theary shows (the reconciler's view), if any.
pub fn update_for_search(s: &Search) -> Option<SearchUpdate> {
    match s.search_status.as_ref()? {
        SearchStatus::Completed => {
            let last = s.verification_result.last();
            // The read API's result shape is not published: the webhook's fields
            // (`discrepancy`, the verification sections) may sit on the entry itself or in
            // its `resultDetails` object. Both are read, so a search the reconciler
            // finishes (its webhook late or lost) keeps its discrepancy and its details.
            let details = last
                .and_then(|r| r.result_details.as_ref())
                .filter(|d| d.is_object());
            let discrepancy = last
                .and_then(|r| r.extra.get("discrepancy"))
                .or_else(|| details.and_then(|d| d.get("discrepancy")))
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            let mut result = serde_json::json!({
                "source": "reconciler",
                "searchStatus": "COMPLETED",
                "outcome": last.and_then(|r| r.outcome.as_ref()).map(Outcome::as_str),
                "completedAt": s.completed_at,
            });
            if let Some(d) = details {
                result["verificationResult"] = d.clone();
            }
            Some(SearchUpdate {
                state: SearchState::Completed,
                outcome: last.and_then(|r| r.outcome.clone()),
                discrepancy,
                reason_code: None,
                result_json: Some(result.to_string()),
            })
        }
        SearchStatus::Cancelled => Some(cancelled()),
        SearchStatus::ActionRequired => Some(SearchUpdate {
            state: SearchState::ActionRequired,
            outcome: None,
            discrepancy: false,
            reason_code: s
                .extra
                .get("reasonCode")
                .and_then(serde_json::Value::as_str)
                .map(ReasonCode::parse),
            result_json: None,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Event {
        let sig = theary::signature::sign(b"k", body.as_bytes());
        theary::signature::verify(b"k", body.as_bytes(), Some(&sig))
            .unwrap()
            .parse()
            .unwrap()
            .event
    }

    #[test]
    fn results_move_searches_and_progress_does_not() {
        let completed = r#"{"event":"verification.completed","data":{"searchId":"s1","status":"COMPLETED",
            "verificationResult":{"outcome":"VERIFIED","discrepancy":true}}}"#;
        let u = update_for_event(&parse(completed), completed).unwrap();
        assert_eq!(u.state, SearchState::Completed);
        assert_eq!(u.outcome, Some(Outcome::Verified));
        assert!(u.discrepancy);
        assert_eq!(u.rank(), 2);

        let action = r#"{"event":"verification.action_required","data":{"searchId":"s1","reasonCode":"SLA_REACHED"}}"#;
        let u = update_for_event(&parse(action), action).unwrap();
        assert_eq!((u.state, u.rank()), (SearchState::ActionRequired, 1));
        assert_eq!(u.reason_code, Some(ReasonCode::SlaReached));

        let note = r#"{"event":"verification.notification","data":{"searchId":"s1","notificationType":"OUTBOUND_ATTEMPT"}}"#;
        assert_eq!(update_for_event(&parse(note), note), None);
    }

    #[test]
    fn a_search_read_back_keeps_its_discrepancy_wherever_the_entry_holds_it() {
        let read = |entry: serde_json::Value| -> Search {
            serde_json::from_value(serde_json::json!({
                "id": "s1", "searchStatus": "COMPLETED", "verificationResult": [entry]
            }))
            .unwrap()
        };
        let nested = read(serde_json::json!({
            "id": "v1", "outcome": "VERIFIED",
            "resultDetails": { "discrepancy": true, "employmentVerification": { "verifiedPosition": "Senior Engineer" } }
        }));
        let u = update_for_search(&nested).unwrap();
        assert_eq!(
            (u.state, u.outcome.clone()),
            (SearchState::Completed, Some(Outcome::Verified))
        );
        assert!(u.discrepancy, "from resultDetails");
        let kept: serde_json::Value =
            serde_json::from_str(u.result_json.as_deref().unwrap()).unwrap();
        assert_eq!(
            kept["verificationResult"]["employmentVerification"]["verifiedPosition"],
            "Senior Engineer",
            "the report keeps the details"
        );
        let flat =
            read(serde_json::json!({ "id": "v1", "outcome": "VERIFIED", "discrepancy": true }));
        assert!(
            update_for_search(&flat).unwrap().discrepancy,
            "on the entry itself"
        );
        let clean =
            read(serde_json::json!({ "id": "v1", "outcome": "VERIFIED", "resultDetails": "ok" }));
        assert!(!update_for_search(&clean).unwrap().discrepancy);
    }
}
