//! Realistic generated invitations in the assumed schema (`crates/pageup/README.md`).
//! Deterministic for a given `seed`, so demos and tests can reproduce a data set.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::fuzzjson::DOCUMENT_MARKER;

/// What to generate.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateOptions {
    /// Size of the inline resume in bytes (0: no resume).
    pub document_bytes: usize,
    pub provider: Option<String>,
    pub package_code: Option<String>,
    /// Check-type codes; EMPLOYMENT and EDUCATION when empty.
    pub check_types: Vec<String>,
    /// Seed for reproducible data.
    pub seed: Option<u64>,
    /// Every invitation complete enough to order (at least one education entry); by
    /// default about a third have none, as real requisitions sometimes do.
    pub orderable: bool,
}

const FIRST: &[&str] = &[
    "Jane", "Marcus", "Priya", "Daniel", "Sofia", "Kevin", "Aisha", "Luis", "Emily", "Noah",
];
const LAST: &[&str] = &[
    "Doe", "Okafor", "Patel", "Nguyen", "Garcia", "Kowalski", "Haddad", "Smith", "Reyes", "Chen",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Austin", "TX", "73301"),
    ("Denver", "CO", "80202"),
    ("Columbus", "OH", "43004"),
    ("Raleigh", "NC", "27601"),
    ("Portland", "OR", "97201"),
    ("Tampa", "FL", "33601"),
];
const EMPLOYERS: &[&str] = &[
    "Acme Corp",
    "Northwind Traders",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
];
const SCHOOLS: &[(&str, &str, &str)] = &[
    ("University of Texas", "BBA Accounting", "Accounting"),
    (
        "Ohio State University",
        "BS Computer Science",
        "Computer Science",
    ),
    ("Portland Community College", "AAS Nursing", "Nursing"),
];
const JOBS: &[(&str, &str, u32)] = &[
    ("Staff Accountant", "Finance", 85_000),
    ("Software Engineer", "Engineering", 140_000),
    ("Registered Nurse", "Clinical", 92_000),
    ("Warehouse Supervisor", "Operations", 61_000),
];

/// One invitation; `index` varies it when no seed is given.
pub fn invitation(id: &str, index: usize, opts: &GenerateOptions) -> Value {
    let seed = opts
        .seed
        .map(|s| s.wrapping_add(index as u64))
        .unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let first = *FIRST.choose(&mut rng).unwrap_or(&"Jane");
    let last = *LAST.choose(&mut rng).unwrap_or(&"Doe");
    let (city, state, zip) = *CITIES.choose(&mut rng).unwrap_or(&CITIES[0]);
    let (title, department, salary) = *JOBS.choose(&mut rng).unwrap_or(&JOBS[0]);
    let year = rng.gen_range(1965..2003);
    let ssn = format!(
        "{:03}-{:02}-{:04}",
        rng.gen_range(100..899),
        rng.gen_range(10..99),
        rng.gen_range(1000..9999)
    );
    let check_types = if opts.check_types.is_empty() {
        vec!["EMPLOYMENT".to_owned(), "EDUCATION".to_owned()]
    } else {
        opts.check_types.clone()
    };

    let mut employment = Vec::new();
    let mut end_year = 2025;
    for _ in 0..rng.gen_range(1..=3) {
        let start_year = end_year - rng.gen_range(1..6);
        let (ecity, estate, _) = *CITIES.choose(&mut rng).unwrap_or(&CITIES[0]);
        let employer = *EMPLOYERS.choose(&mut rng).unwrap_or(&"Acme Corp");
        employment.push(json!({
            "employerName": employer,
            "position": title,
            "location": format!("{ecity}, {estate}"),
            "email": format!("hr@{}.example", employer.to_ascii_lowercase().replace(' ', "")),
            "phone": format!("+1-555-01{:02}-{:04}", rng.gen_range(0..99), rng.gen_range(0..9999)),
            "startDate": format!("{start_year}-{:02}-01", rng.gen_range(1..13)),
            "endDate": format!("{end_year}-{:02}-28", rng.gen_range(1..13)),
        }));
        end_year = start_year;
    }
    let least = usize::from(opts.orderable);
    let education: Vec<Value> = (0..rng.gen_range(least..=2))
        .map(|_| {
            let (school, qualification, field) = *SCHOOLS.choose(&mut rng).unwrap_or(&SCHOOLS[0]);
            json!({
                "institutionName": school,
                "qualification": qualification,
                "fieldOfStudy": field,
                "graduationDate": format!("{}-05-15", year + 22),
                "email": "registrar@school.example",
                "phone": null,
            })
        })
        .collect();

    let mut documents = vec![json!({
        "documentId": format!("{id}-release"),
        "documentType": "signedRelease",
        "fileName": "release.pdf",
        "contentType": "application/pdf",
        "content": "JVBERi0xLjQKJSBzaWduZWQgcmVsZWFzZQo=",
    })];
    if opts.document_bytes > 0 {
        documents.push(json!({
            "documentId": format!("{id}-resume"),
            "documentType": "resume",
            "fileName": "resume.pdf",
            "contentType": "application/pdf",
            "content": format!("{DOCUMENT_MARKER}{}", opts.document_bytes),
        }));
    }

    json!({
        "id": id,
        "status": "pending",
        "provider": opts.provider.clone().unwrap_or_else(|| "bg".to_owned()),
        "packageCode": opts.package_code.clone().unwrap_or_else(|| "EMP-EDU".to_owned()),
        "checkTypes": check_types,
        "note": null,
        "createdDate": "2026-11-20T09:15:00Z",
        "candidate": {
            "applicantId": format!("A-{id}"),
            "firstName": first,
            "middleName": null,
            "lastName": last,
            "email": format!("{}.{}@example.com", first.to_ascii_lowercase(), last.to_ascii_lowercase()),
            "phone": format!("+1-555-02{:02}-{:04}", rng.gen_range(0..99), rng.gen_range(0..9999)),
            "dateOfBirth": format!("{year}-{:02}-{:02}", rng.gen_range(1..13), rng.gen_range(1..29)),
            "nationalId": ssn,
            "addresses": [{
                "addressType": "home", "line1": format!("{} Main St", rng.gen_range(1..999)),
                "line2": null, "city": city, "state": state, "postcode": zip, "country": "US",
                "fromDate": "2021-01-01", "toDate": null
            }],
            "aliases": [],
        },
        "job": {
            "jobId": format!("J-{}", rng.gen_range(100..999)),
            "title": title,
            "department": department,
            "worksite": { "city": city, "state": state, "country": "US" },
            "salary": salary,
        },
        "requester": { "firstName": "Rita", "lastName": "Recruiter", "email": "rita.recruiter@example.com" },
        "employmentHistory": employment,
        "educationHistory": education,
        "documents": documents,
    })
}
