//! PageUp's wire format: the ONE assumed invitation schema, the status document we `PUT`, and
//! the tolerant parsing PageUp's responses need.
//!
//! Tolerance, because PageUp's JSON goes through a "fuzzy serializer" and the schema is not
//! public: properties in any order; unknown properties (including the GUID-named extra on
//! every object) ignored; `null` wherever a value may be missing; ids, phones and postcodes
//! as strings or numbers; salary as a number or a numeric string; status in any case; the list
//! as a bare array or wrapped in an object. Field names are camelCase as assumed in the
//! README, and PascalCase is accepted too (PageUp is a .NET API and its partner samples use
//! it); a payload that differs further is fitted through the service's field mapping.
//!
//! Inline documents (`content`, base64) are decoded while the response streams in, so the
//! encoded text is never held whole next to the decoded bytes.

use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

// ------------------------------------------------------------------------------------------
// Lenient field helpers

/// Visitor methods that accept any number or boolean (and, with `unit`, null) as `$value`:
/// a value of an unexpected kind is skipped, not fatal.
macro_rules! skip_scalars {
    ($value:expr) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// `null` or absent becomes the default.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A string, or a number/bool turned into its text; `null`/empty becomes `None`.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, number or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let v = v.trim();
            Ok((!v.is_empty()).then(|| v.to_owned()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
        // An object or array where text was expected is skipped, not fatal.
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// A list of strings; a single string becomes a one-item list; `null` an empty one.
fn text_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        Many(Vec<Option<serde_json::Value>>),
        One(String),
    }
    Ok(match Option::<Shape>::deserialize(d)? {
        None => Vec::new(),
        Some(Shape::One(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(Shape::Many(v)) => v
            .into_iter()
            .flatten()
            .filter_map(|v| match v {
                serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
    })
}

/// A salary as a number or a numeric string (`"85,000"`, `"$85000"`); anything else `None`.
fn amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(text(d)?.and_then(|s| {
        let cleaned: String = s
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
            .collect();
        cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
    }))
}

// ------------------------------------------------------------------------------------------
// Status

/// A background check's status in PageUp's workflow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CheckStatus {
    Pending,
    Queued,
    New,
    InProgress,
    Completed,
    Failed,
    Cancelled,
    Expired,
    /// A value this client does not know, kept as sent.
    Other(String),
}

impl CheckStatus {
    /// The wire spelling (lower case, as in PageUp's guide).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::New => "new",
            Self::InProgress => "inprogress",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Other(s) => s,
        }
    }

    /// Parses any case, ignoring spaces, `_` and `-` (`In Progress`, `in_progress`).
    pub fn parse(s: &str) -> Self {
        let key: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .collect::<String>()
            .to_ascii_lowercase();
        match key.as_str() {
            "pending" => Self::Pending,
            "queued" => Self::Queued,
            "new" | "created" => Self::New,
            "inprogress" => Self::InProgress,
            "completed" | "complete" => Self::Completed,
            "failed" => Self::Failed,
            "cancelled" | "canceled" => Self::Cancelled,
            "expired" => Self::Expired,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// Whether PageUp's workflow ends here.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Cancelled | Self::Expired
        )
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CheckStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CheckStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&text(d)?.unwrap_or_default()))
    }
}

fn opt_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CheckStatus>, D::Error> {
    Ok(text(d)?.map(|s| CheckStatus::parse(&s)))
}

// ------------------------------------------------------------------------------------------
// The invitation (assumed schema: see the crate README)

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

/// An attached document (the resume, a signed release): inline bytes or a link.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Document {
    #[serde(deserialize_with = "text")]
    #[serde(alias = "DocumentId")]
    pub document_id: Option<String>,
    /// e.g. `resume`, `signedRelease`.
    #[serde(deserialize_with = "text")]
    #[serde(alias = "DocumentType")]
    pub document_type: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "FileName")]
    pub file_name: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "ContentType")]
    pub content_type: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Url")]
    pub url: Option<String>,
    #[serde(alias = "Content")]
    pub content: Option<DocumentContent>,
}

/// A document's inline content, decoded from base64 as it was read.
#[derive(Clone, PartialEq, Eq)]
pub enum DocumentContent {
    Bytes(Bytes),
    /// The content was not valid base64; kept as a fact, not as an error that would lose
    /// the whole page of invitations.
    Invalid,
}

impl DocumentContent {
    /// Decoded bytes, if the content was valid.
    pub fn bytes(&self) -> Option<&Bytes> {
        match self {
            Self::Bytes(b) => Some(b),
            Self::Invalid => None,
        }
    }
}

impl fmt::Debug for DocumentContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(b) => write!(f, "DocumentContent({} bytes)", b.len()),
            Self::Invalid => f.write_str("DocumentContent(invalid base64)"),
        }
    }
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Decodes base64, tolerating a `data:...;base64,` prefix and line breaks.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = match text.find(";base64,") {
        Some(i) if text.starts_with("data:") => &text[i + 8..],
        _ => text,
    };
    BASE64.decode(text.trim()).ok().or_else(|| {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        BASE64.decode(compact).ok()
    })
}

impl<'de> Deserialize<'de> for DocumentContent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DocumentContent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("base64 text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(decode_base64(v).map_or(DocumentContent::Invalid, |b| {
                    DocumentContent::Bytes(b.into())
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(DocumentContent::Invalid)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(DocumentContent::Invalid)
            }
            skip_scalars!(DocumentContent::Invalid);
        }
        d.deserialize_any(V)
    }
}

// ------------------------------------------------------------------------------------------
// The list: a bare array, or an object wrapping one

/// The `GET` response: invitations from a bare array, or from the first array-valued property
/// of a wrapping object (`items`, `data`, `invitations`, ...). Other properties are ignored.
#[derive(Debug, Default)]
pub struct InvitationList(pub Vec<Invitation>);

impl<'de> Deserialize<'de> for InvitationList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor)
            .map(|v| InvitationList(v.unwrap_or_default()))
    }
}

struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = Option<Vec<Invitation>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of invitations, bare or wrapped in an object")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(inv) = seq.next_element::<Option<Invitation>>()? {
            out.extend(inv);
        }
        Ok(Some(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while map.next_key::<IgnoredAny>()?.is_some() {
            if found.is_none() {
                found = map.next_value::<MaybeList>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Some(found.unwrap_or_default()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A property value that is the list if it is an array, and skipped otherwise.
struct MaybeList(Option<Vec<Invitation>>);

impl<'de> Deserialize<'de> for MaybeList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                ListVisitor.visit_seq(seq).map(MaybeList)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeList(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeList(None))
            }
            skip_scalars!(MaybeList(None));
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeList(None))
            }
        }
        d.deserialize_any(V)
    }
}

// ------------------------------------------------------------------------------------------
// The status document (PUT body)

/// One per-check result shown to the recruiter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ResultEntry {
    /// Authenticated link to the report (never a public URL).
    pub report_link: String,
    /// Which check this is (e.g. "Employment verification"); PageUp requires it.
    pub report_type: String,
    /// Outcome of this check (e.g. `pass`).
    pub status: String,
}

/// The whole document `PUT` to PageUp. Every field is always sent: PageUp treats a `PUT` as a
/// full override, so a missing field would clear what an earlier update set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDocument {
    pub status: CheckStatus,
    pub reference_number: String,
    pub reason_for_fail: String,
    pub results: Vec<ResultEntry>,
}

impl StatusDocument {
    /// A document with only a status (reference, reason and results empty).
    pub fn new(status: CheckStatus) -> Self {
        Self {
            status,
            reference_number: String::new(),
            reason_for_fail: String::new(),
            results: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
