//! The shape the sandbox lists invitations in. Checks are held in the assumed schema (what
//! `generate` makes and the admin API seeds); a tenant of the sandbox can be served another
//! shape, so the service's intake profiles are exercised end to end against a PageUp that
//! really sends them.

use serde_json::{json, Map, Value};

/// How `GET` lists invitations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InvitationShape {
    /// As held: the assumed schema (checkbridge's `assumed` profile).
    #[default]
    Assumed,
    /// The shape a PageUp peer's field table implies (checkbridge's `backgroundcheckrequest`
    /// profile): a `BackgroundCheckRequest` object with `Id`, an `Applicant` (`EmailId`), an
    /// `Application.Job` with `DivisionCode`, and `Package.Code`, in PascalCase.
    BackgroundCheckRequest,
}

impl InvitationShape {
    /// The profile's name in checkbridge's configuration.
    pub fn profile(self) -> &'static str {
        match self {
            InvitationShape::Assumed => "assumed",
            InvitationShape::BackgroundCheckRequest => "backgroundcheckrequest",
        }
    }

    /// One held invitation as this shape lists it.
    pub fn reshape(self, inv: &Value) -> Value {
        match self {
            InvitationShape::Assumed => inv.clone(),
            InvitationShape::BackgroundCheckRequest => background_check_request(inv),
        }
    }
}

/// `from`'s keys renamed (`(from, to)`), the rest dropped, lists of objects likewise.
fn pick(from: &Value, keys: &[(&str, &str)]) -> Value {
    let mut out = Map::new();
    for (k, to) in keys {
        if let Some(v) = from.get(*k) {
            out.insert((*to).to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

fn pick_all(from: &Value, keys: &[(&str, &str)]) -> Value {
    match from {
        Value::Array(items) => Value::Array(items.iter().map(|i| pick(i, keys)).collect()),
        _ => Value::Null,
    }
}

fn background_check_request(inv: &Value) -> Value {
    let c = &inv["candidate"];
    let j = &inv["job"];
    let mut applicant = pick(
        c,
        &[
            ("applicantId", "Id"),
            ("firstName", "FirstName"),
            ("middleName", "MiddleName"),
            ("lastName", "LastName"),
            ("email", "EmailId"),
            ("phone", "Phone"),
            ("dateOfBirth", "DateOfBirth"),
            ("nationalId", "NationalId"),
        ],
    );
    if let Value::Object(a) = &mut applicant {
        a.insert(
            "Addresses".to_owned(),
            pick_all(
                &c["addresses"],
                &[
                    ("addressType", "AddressType"),
                    ("line1", "Line1"),
                    ("line2", "Line2"),
                    ("city", "City"),
                    ("state", "State"),
                    ("postcode", "Postcode"),
                    ("country", "Country"),
                    ("fromDate", "FromDate"),
                    ("toDate", "ToDate"),
                ],
            ),
        );
        a.insert(
            "EmploymentHistory".to_owned(),
            pick_all(
                &inv["employmentHistory"],
                &[
                    ("employerName", "EmployerName"),
                    ("position", "Position"),
                    ("location", "Location"),
                    ("email", "Email"),
                    ("phone", "Phone"),
                    ("startDate", "StartDate"),
                    ("endDate", "EndDate"),
                ],
            ),
        );
        a.insert(
            "EducationHistory".to_owned(),
            pick_all(
                &inv["educationHistory"],
                &[
                    ("institutionName", "InstitutionName"),
                    ("qualification", "Qualification"),
                    ("fieldOfStudy", "FieldOfStudy"),
                    ("graduationDate", "GraduationDate"),
                    ("email", "Email"),
                    ("phone", "Phone"),
                ],
            ),
        );
    }
    let mut job = pick(
        j,
        &[
            ("jobId", "Id"),
            ("title", "Title"),
            ("department", "DivisionCode"),
            ("salary", "Salary"),
        ],
    );
    if let Value::Object(o) = &mut job {
        o.insert(
            "Location".to_owned(),
            pick(
                &j["worksite"],
                &[("city", "City"), ("state", "State"), ("country", "Country")],
            ),
        );
    }
    json!({
        "BackgroundCheckRequest": {
            "Id": inv["id"],
            "Status": inv["status"],
            "Provider": inv["provider"],
            "CreatedDate": inv["createdDate"],
            // The peer's table names only the package's code; the check types requested (a
            // guess: beside the code) let one request order fewer searches than its package.
            "Package": {"Code": inv["packageCode"], "CheckTypes": inv["checkTypes"]},
            "Applicant": applicant,
            "Application": {"Job": job},
            "Requester": pick(&inv["requester"], &[("firstName", "FirstName"), ("lastName", "LastName"), ("email", "EmailId")]),
            "Documents": pick_all(
                &inv["documents"],
                &[
                    ("documentId", "Id"),
                    ("documentType", "DocumentType"),
                    ("fileName", "FileName"),
                    ("contentType", "ContentType"),
                    ("url", "Url"),
                    ("content", "Content"),
                ],
            ),
        }
    })
}
