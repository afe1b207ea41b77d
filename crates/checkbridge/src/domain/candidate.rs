//! Whether a claimed check is ordered now, waits on the candidate, or fails: the rule of the
//! tenant's `[tenants.T.candidate] intake` applied to what the invitation brought. The
//! candidate can supply their own details (the SSN, the date of birth, addresses), the
//! history to verify and the signed release; only the recruiter can fix the rest (no
//! candidate email to invite them by, an unknown package, a job without a worksite), so
//! those fail at once, naming the field, whatever the rule.

use pageup::wire::Invitation;
use theary::wire::OrderRequest;

use super::mapping::{date, signed_release, MappingError};
use crate::config::CandidateIntake;

/// What the candidate form can collect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateField {
    Ssn,
    DateOfBirth,
    /// The current address and the address history.
    Addresses,
    EmploymentHistory,
    EducationHistory,
    /// The FCRA disclosure acknowledged and the authorization e-signed.
    SignedRelease,
}

impl CandidateField {
    /// The field in a recruiter's words (PageUp's partial result, the ops page).
    pub fn words(self) -> &'static str {
        match self {
            CandidateField::Ssn => "national id (SSN)",
            CandidateField::DateOfBirth => "date of birth",
            CandidateField::Addresses => "address history",
            CandidateField::EmploymentHistory => "employment history",
            CandidateField::EducationHistory => "education history",
            CandidateField::SignedRelease => "signed disclosure and authorization",
        }
    }
}

/// What happens to a claimed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The order is complete: place it.
    Order,
    /// Invite the candidate to supply these (sorted, never empty).
    Invite(Vec<CandidateField>),
    /// Fail at once with this reason for the recruiter.
    Fail(String),
}

/// What the invitation lacks that the candidate could supply, beyond what the order needs:
/// Theary takes an order without a date of birth, addresses or a signed release, but an
/// FCRA check is ordered only with the candidate's signed authorization, and a richer
/// applicant verifies better.
fn gaps(inv: &Invitation) -> Vec<CandidateField> {
    let c = &inv.candidate;
    let mut out = Vec::new();
    if c.date_of_birth
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .and_then(date)
        .is_none()
    {
        out.push(CandidateField::DateOfBirth);
    }
    let current = c
        .addresses
        .iter()
        .filter(|a| a.to_date.as_deref().is_none_or(|d| d.trim().is_empty()))
        .count();
    if c.addresses.is_empty() || current != 1 {
        out.push(CandidateField::Addresses);
    }
    if signed_release(&inv.documents).is_none() {
        out.push(CandidateField::SignedRelease);
    }
    out
}

/// Whether the invitation names an address the candidate can be invited at.
fn invitable(inv: &Invitation) -> bool {
    inv.candidate
        .email
        .as_deref()
        .map(str::trim)
        .is_some_and(|e| {
            let mut parts = e.split('@');
            matches!(
                (parts.next(), parts.next(), parts.next()),
                (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
            ) && !e.contains(char::is_whitespace)
        })
}

/// The decision for one claimed check, from the order as it was built (or why not).
pub fn decide(
    built: &Result<OrderRequest, MappingError>,
    inv: &Invitation,
    intake: CandidateIntake,
) -> Decision {
    let mut wanted = match built {
        Err(e) if intake == CandidateIntake::Never || !e.candidate_can_fix() => {
            return Decision::Fail(e.reason_for_fail());
        }
        Err(e) => {
            let mut w = e.from_candidate.clone();
            w.extend(gaps(inv));
            w
        }
        Ok(_) if intake == CandidateIntake::Never => return Decision::Order,
        Ok(_) => gaps(inv),
    };
    if intake == CandidateIntake::Always {
        wanted.push(CandidateField::SignedRelease);
    }
    wanted.sort();
    wanted.dedup();
    if wanted.is_empty() {
        return Decision::Order;
    }
    if !invitable(inv) {
        let asked = wanted
            .iter()
            .map(|f| f.words())
            .collect::<Vec<_>>()
            .join(", ");
        return Decision::Fail(format!(
            "The background check could not be ordered: the candidate's email address is missing or not valid, so the candidate cannot be asked for their {asked}. Please add the candidate's email address and try again."
        ));
    }
    Decision::Invite(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::TenantKey;
    use crate::domain::mapping::{build_order, OrderContext};
    use crate::domain::test_support::tenant;
    use serde_json::json;

    fn complete() -> serde_json::Value {
        json!({
            "id": "12345", "status": "pending", "packageCode": "EMP", "checkTypes": [],
            "candidate": {
                "firstName": "Jane", "lastName": "Doe", "email": "jane@example.com",
                "dateOfBirth": "1990-05-15", "nationalId": "123-45-6789",
                "addresses": [{ "line1": "1 Main St", "city": "Austin", "state": "TX",
                                "postcode": "73301", "fromDate": "2021-01-01", "toDate": null }]
            },
            "job": { "title": "Accountant", "worksite": { "city": "Austin", "state": "TX" }, "salary": 85000 },
            "employmentHistory": [{ "employerName": "Acme Corp", "position": "Accountant" }],
            "documents": [{ "documentType": "signedRelease", "content": "JVBERi0xLjQKJSBzaWduZWQK" }]
        })
    }

    /// The minimal shape PageUp is known to send: names, an email, a job and a package.
    fn minimal() -> serde_json::Value {
        json!({
            "id": "777", "status": "pending", "packageCode": "EMP",
            "candidate": { "firstName": "Nguyễn", "lastName": "Văn An", "email": "an@example.com" },
            "job": { "title": "Accountant", "worksite": { "city": "Austin", "state": "TX" }, "salary": 85000 }
        })
    }

    fn decide_on(v: serde_json::Value, intake: CandidateIntake) -> Decision {
        let inv: Invitation = serde_json::from_value(v).unwrap();
        let key = TenantKey::from("acme");
        let search_key = |_: &theary::wire::SearchType| "s".to_owned();
        let ctx = OrderContext {
            tenant_key: &key,
            public_base_url: "https://cb.example.com",
            webhook_secret: "per-order-secret-xyz",
            search_key: &search_key,
            today: "2026-12-07",
        };
        let built = build_order(&inv, &tenant(), &ctx);
        decide(&built, &inv, intake)
    }

    #[test]
    fn a_complete_invitation_is_ordered_unless_consent_is_always_asked() {
        assert_eq!(
            decide_on(complete(), CandidateIntake::WhenNeeded),
            Decision::Order
        );
        assert_eq!(
            decide_on(complete(), CandidateIntake::Never),
            Decision::Order
        );
        assert_eq!(
            decide_on(complete(), CandidateIntake::Always),
            Decision::Invite(vec![CandidateField::SignedRelease])
        );
    }

    #[test]
    fn a_minimal_invitation_asks_the_candidate_for_what_it_lacks() {
        use CandidateField::*;
        assert_eq!(
            decide_on(minimal(), CandidateIntake::WhenNeeded),
            Decision::Invite(vec![
                Ssn,
                DateOfBirth,
                Addresses,
                EmploymentHistory,
                SignedRelease
            ])
        );
        // Never: it fails, naming the fields, as before the candidate form.
        let Decision::Fail(reason) = decide_on(minimal(), CandidateIntake::Never) else {
            panic!("never invites");
        };
        assert!(
            reason.contains("national id (SSN)") && reason.contains("employment history"),
            "{reason}"
        );
    }

    #[test]
    fn a_malformed_ssn_or_birth_date_is_asked_again_and_two_current_addresses_too() {
        let mut v = complete();
        v["candidate"]["nationalId"] = json!("12-34");
        v["candidate"]["dateOfBirth"] = json!("15/05/1990");
        let current = v["candidate"]["addresses"][0].clone();
        v["candidate"]["addresses"] = json!([current.clone(), current]);
        assert_eq!(
            decide_on(v, CandidateIntake::WhenNeeded),
            Decision::Invite(vec![
                CandidateField::Ssn,
                CandidateField::DateOfBirth,
                CandidateField::Addresses
            ])
        );
    }

    #[test]
    fn what_only_the_recruiter_can_fix_fails_at_once_naming_it() {
        // No email: the candidate cannot be invited.
        let mut v = minimal();
        v["candidate"]["email"] = json!(null);
        let Decision::Fail(reason) = decide_on(v, CandidateIntake::WhenNeeded) else {
            panic!("no email, no invitation");
        };
        assert!(reason.contains("email address is missing"), "{reason}");
        assert!(
            reason.contains("national id (SSN)"),
            "says what would have been asked: {reason}"
        );
        // A job without a worksite: the recruiter's to fix, whatever the candidate sends.
        let mut v = minimal();
        v["job"]["worksite"] = json!({});
        let Decision::Fail(reason) = decide_on(v, CandidateIntake::Always) else {
            panic!("the recruiter must fix the job");
        };
        assert!(reason.contains("job worksite city"), "{reason}");
        // An address that is not one.
        let mut v = minimal();
        v["candidate"]["email"] = json!("an at example.com");
        assert!(matches!(
            decide_on(v, CandidateIntake::WhenNeeded),
            Decision::Fail(_)
        ));
    }
}
