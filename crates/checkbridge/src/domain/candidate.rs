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

/// A candidate request's moments, for the operator page's timeline and the report page
/// (no candidate data): invited, reminders, and how it ended.
pub fn candidate_timeline(r: &crate::store::CandidateRequest) -> Vec<super::view::TimelineEntry> {
    use super::view::TimelineEntry;
    let mut out = vec![TimelineEntry {
        at: r.invited_at,
        what: "candidate form: the candidate is invited".to_owned(),
    }];
    let reminders = (r.mails_sent - 1).max(0);
    if reminders > 0 {
        out.push(TimelineEntry {
            at: r.invited_at,
            what: format!("candidate form: {reminders} reminder(s) sent"),
        });
    }
    match (r.state.as_str(), r.submitted_at) {
        ("submitted", Some(at)) => out.push(TimelineEntry {
            at,
            what: "candidate form: submitted and signed".to_owned(),
        }),
        ("expired", _) => out.push(TimelineEntry {
            at: r.expires_at,
            what: "candidate form: not answered in time (expired)".to_owned(),
        }),
        ("refused", _) => out.push(TimelineEntry {
            at: r.invited_at,
            what: "candidate form: the mail server refused the candidate's address".to_owned(),
        }),
        _ => {}
    }
    out
}

/// The invitation as kept while the candidate answers: the fields an order is built from,
/// in the canonical shape (read back through the same lenient reader). Documents are left
/// out: the candidate's signed release replaces them.
pub fn snapshot(inv: &Invitation) -> serde_json::Value {
    let c = &inv.candidate;
    serde_json::json!({
        "id": inv.id, "status": "pending", "packageCode": inv.package_code,
        "checkTypes": inv.check_types, "provider": inv.provider,
        "candidate": {
            "applicantId": c.applicant_id, "firstName": c.first_name, "middleName": c.middle_name,
            "lastName": c.last_name, "email": c.email, "phone": c.phone,
            "dateOfBirth": c.date_of_birth, "nationalId": c.national_id,
            "addresses": c.addresses.iter().map(|a| serde_json::json!({
                "addressType": a.address_type, "line1": a.line1, "line2": a.line2, "city": a.city,
                "state": a.state, "postcode": a.postcode, "country": a.country,
                "fromDate": a.from_date, "toDate": a.to_date,
            })).collect::<Vec<_>>(),
            "aliases": c.aliases.iter().map(|a| serde_json::json!({
                "firstName": a.first_name, "middleName": a.middle_name, "lastName": a.last_name,
                "suffix": a.suffix,
            })).collect::<Vec<_>>(),
        },
        "job": {
            "jobId": inv.job.job_id, "title": inv.job.title, "department": inv.job.department,
            "worksite": { "city": inv.job.worksite.city, "state": inv.job.worksite.state,
                          "country": inv.job.worksite.country },
            "salary": inv.job.salary,
        },
        "employmentHistory": inv.employment_history.iter().map(|e| serde_json::json!({
            "employerName": e.employer_name, "position": e.position, "location": e.location,
            "email": e.email, "phone": e.phone, "startDate": e.start_date, "endDate": e.end_date,
        })).collect::<Vec<_>>(),
        "educationHistory": inv.education_history.iter().map(|e| serde_json::json!({
            "institutionName": e.institution_name, "qualification": e.qualification,
            "fieldOfStudy": e.field_of_study, "graduationDate": e.graduation_date,
            "email": e.email, "phone": e.phone,
        })).collect::<Vec<_>>(),
    })
}

/// What the candidate entered, checked by the form.
#[derive(Debug)]
pub struct Answers<'a> {
    pub personal: &'a crate::candidate::form::Personal,
    pub addresses: &'a crate::candidate::form::Addresses,
    pub history: &'a crate::candidate::form::History,
    /// The signed release (a PDF).
    pub release_pdf: &'a [u8],
}

/// The invitation an order is built from once the candidate has answered: the snapshot
/// with the candidate's details, addresses, history and signed release in place of what
/// PageUp sent (the names stay PageUp's; the legal name typed is in the release).
pub fn answered(snapshot: &serde_json::Value, a: &Answers<'_>) -> Result<Invitation, String> {
    use base64::Engine as _;
    let mut v = snapshot.clone();
    let p = a.personal;
    v["candidate"]["nationalId"] = p.ssn.expose().into();
    v["candidate"]["dateOfBirth"] = p.date_of_birth.expose().into();
    if v["candidate"]["middleName"].is_null() {
        if let Some(m) = &p.name.middle {
            v["candidate"]["middleName"] = m.clone().into();
        }
    }
    let address = |x: &crate::candidate::form::Address, current: bool| {
        serde_json::json!({
            "addressType": "home", "line1": x.street, "city": x.city, "state": x.state.code(),
            "postcode": x.zip.as_str(), "country": "US", "fromDate": x.from.first_day(),
            "toDate": if current { serde_json::Value::Null } else {
                x.to.map_or(serde_json::Value::Null, |t| t.last_day().into())
            },
        })
    };
    let mut addresses = vec![address(&a.addresses.current, true)];
    addresses.extend(a.addresses.previous.iter().map(|x| address(x, false)));
    v["candidate"]["addresses"] = addresses.into();
    v["candidate"]["aliases"] = p
        .other_names
        .iter()
        .filter_map(|n| {
            let mut parts = n.split_whitespace();
            let first = parts.next()?;
            let rest: Vec<&str> = parts.collect();
            let last = rest.last()?;
            Some(serde_json::json!({ "firstName": first, "lastName": last }))
        })
        .collect::<Vec<_>>()
        .into();
    v["employmentHistory"] = a
        .history
        .employment
        .iter()
        .map(|e| {
            serde_json::json!({
                "employerName": e.employer, "position": e.position,
                "location": match (&e.city, &e.state) {
                    (Some(c), Some(s)) => serde_json::Value::from(format!("{c}, {}", s.code())),
                    (Some(c), None) => c.clone().into(),
                    (None, Some(s)) => s.code().into(),
                    (None, None) => serde_json::Value::Null,
                },
                "startDate": e.start.first_day(),
                "endDate": e.end.map_or(serde_json::Value::Null, |d| d.last_day().into()),
            })
        })
        .collect::<Vec<_>>()
        .into();
    v["educationHistory"] = a
        .history
        .education
        .iter()
        .map(|e| {
            serde_json::json!({
                "institutionName": e.school, "qualification": e.degree,
                "fieldOfStudy": e.major, "graduationDate": e.end.last_day(),
            })
        })
        .collect::<Vec<_>>()
        .into();
    v["documents"] = serde_json::json!([{
        "documentId": "candidate-release", "documentType": "signedRelease",
        "fileName": "signed-release.pdf", "contentType": "application/pdf",
        "content": base64::engine::general_purpose::STANDARD.encode(a.release_pdf),
    }]);
    serde_json::from_value(v)
        .map_err(|e| format!("the answered invitation does not read back: {e}"))
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
