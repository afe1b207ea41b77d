//! The ONE assumed invitation schema (see the crate README): a pending check as PageUp's
//! `GET` returns it, with the candidate, job and histories it carries. Every field is
//! optional and read leniently; the PII-holding types redact `Debug` and zero on drop.

use std::fmt;

use serde::Deserialize;

use super::document::Document;
use super::lenient::{amount, null_default, text, text_list};
use super::status::{opt_status, CheckStatus};

/// One pending background check as PageUp's `GET` returns it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Invitation {
    /// PageUp's check id (a string or a number on the wire).
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Id")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_status")]
    #[serde(alias = "Status")]
    pub status: Option<CheckStatus>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Provider")]
    pub provider: Option<String>,
    /// Package code configured in PageUp (e.g. `EMP-EDU`).
    #[serde(deserialize_with = "text")]
    #[serde(alias = "PackageCode")]
    pub package_code: Option<String>,
    /// Check-type codes requested.
    #[serde(deserialize_with = "text_list")]
    #[serde(alias = "CheckTypes")]
    pub check_types: Vec<String>,
    /// The legacy note (read-only; PageUp does not support writing it).
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Note")]
    pub note: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "CreatedDate")]
    pub created_date: Option<String>,
    #[serde(deserialize_with = "null_default")]
    #[serde(alias = "Candidate")]
    pub candidate: Candidate,
    #[serde(deserialize_with = "null_default")]
    #[serde(alias = "Job")]
    pub job: Job,
    #[serde(deserialize_with = "null_default")]
    #[serde(alias = "Requester")]
    pub requester: Person,
    #[serde(deserialize_with = "null_default")]
    #[serde(alias = "EmploymentHistory")]
    pub employment_history: Vec<Employment>,
    #[serde(deserialize_with = "null_default")]
    #[serde(alias = "EducationHistory")]
    pub education_history: Vec<Education>,
    #[serde(deserialize_with = "null_default")]
    #[serde(alias = "Documents")]
    pub documents: Vec<Document>,
}

/// The person to be checked. Holds PII: `Debug` shows only the applicant id, and the
/// memory is zeroed on drop.
#[derive(Clone, Default, PartialEq, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "ApplicantId")]
    pub applicant_id: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "FirstName")]
    pub first_name: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "MiddleName")]
    pub middle_name: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "LastName")]
    pub last_name: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Email")]
    pub email: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Phone")]
    pub phone: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "DateOfBirth")]
    pub date_of_birth: Option<String>,
    /// National identifier (an SSN in the US).
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "NationalId")]
    pub national_id: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "null_default")]
    #[serde(alias = "Addresses")]
    pub addresses: Vec<Address>,
    #[serde(default)]
    #[serde(deserialize_with = "null_default")]
    #[serde(alias = "Aliases")]
    pub aliases: Vec<Alias>,
}

impl fmt::Debug for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Candidate")
            .field("applicant_id", &self.applicant_id)
            .field("pii", &"<redacted>")
            .finish()
    }
}

/// A candidate's address. PII: `Debug` redacts.
#[derive(Clone, Default, PartialEq, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "AddressType")]
    pub address_type: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Line1")]
    pub line1: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Line2")]
    pub line2: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "City")]
    pub city: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "State")]
    pub state: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Postcode")]
    pub postcode: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Country")]
    pub country: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "FromDate")]
    pub from_date: Option<String>,
    /// `None` for the current address.
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "ToDate")]
    pub to_date: Option<String>,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Address(<redacted>)")
    }
}

/// Another name the candidate has used. PII: `Debug` redacts.
#[derive(Clone, Default, PartialEq, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
#[serde(rename_all = "camelCase")]
pub struct Alias {
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "FirstName")]
    pub first_name: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "MiddleName")]
    pub middle_name: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "LastName")]
    pub last_name: Option<String>,
    #[serde(default)]
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Suffix")]
    pub suffix: Option<String>,
}

impl fmt::Debug for Alias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Alias(<redacted>)")
    }
}

/// The job applied for.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Job {
    #[serde(deserialize_with = "text")]
    #[serde(alias = "JobId")]
    pub job_id: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Title")]
    pub title: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Department")]
    pub department: Option<String>,
    #[serde(deserialize_with = "null_default")]
    #[serde(alias = "Worksite")]
    pub worksite: Worksite,
    #[serde(deserialize_with = "amount")]
    #[serde(alias = "Salary")]
    pub salary: Option<f64>,
}

/// Where the job is.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Worksite {
    #[serde(deserialize_with = "text")]
    #[serde(alias = "City")]
    pub city: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "State")]
    pub state: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Country")]
    pub country: Option<String>,
}

/// The recruiter who ordered the check.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Person {
    #[serde(deserialize_with = "text")]
    #[serde(alias = "FirstName")]
    pub first_name: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "LastName")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Email")]
    pub email: Option<String>,
}

/// A past job to verify.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Employment {
    #[serde(deserialize_with = "text")]
    #[serde(alias = "EmployerName")]
    pub employer_name: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Position")]
    pub position: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Location")]
    pub location: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Email")]
    pub email: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Phone")]
    pub phone: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "StartDate")]
    pub start_date: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "EndDate")]
    pub end_date: Option<String>,
}

/// A qualification to verify.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Education {
    #[serde(deserialize_with = "text")]
    #[serde(alias = "InstitutionName")]
    pub institution_name: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Qualification")]
    pub qualification: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "FieldOfStudy")]
    pub field_of_study: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "GraduationDate")]
    pub graduation_date: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Email")]
    pub email: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Phone")]
    pub phone: Option<String>,
}
