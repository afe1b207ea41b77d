//! The candidate form's data and its server-side validation: pure functions from the posted
//! fields (`application/x-www-form-urlencoded`, decoded to name/value pairs) to checked
//! values, or to the form as the candidate typed it with one plain-words error per field.
//! Nothing here does I/O, reads a clock or logs: the caller passes today's date (UTC).
//!
//! The form works without JavaScript. Rows (other names, addresses, jobs, schools) are
//! numbered fields (`addr_0_street`, `addr_1_street`, ...) with a hidden row count
//! (`addr_rows`); an "Add another" button posts `action=add-address` and a row's "Remove"
//! button posts `action=remove-addr-2`, and the page comes back with one row more or less
//! and nothing validated ([`Outcome::Edit`]). Any other submit validates. Rows left
//! entirely blank are ignored.
//!
//! # Limits
//! Every value is trimmed and runs of whitespace become one space. A value over its limit,
//! or holding a line break or another control character, is an error on its field (counted
//! in characters, not bytes):
//! - legal first, middle, last name and each other name: 100; at most 10 other names;
//! - street (each of two lines): 200; city: 100; at most 20 addresses;
//! - employer: 200; position: 100; city: 100; at most 20 jobs;
//! - school: 200; degree: 100; major: 100; at most 10 schools;
//! - typed signature: 320;
//! - the whole POST: 64 KiB of names and values and at most 1,000 fields
//!   ([`MAX_POST_BYTES`], [`MAX_POST_FIELDS`]); the route should also cap the body at
//!   [`MAX_POST_BYTES`] before decoding it.
//!
//! HTML or script typed into any field is kept as text: templates escape it and the PDF
//! draws it as characters.
//!
//! # Rules chosen
//! - Date of birth `YYYY-MM-DD`, a real date, not in the future, age 14 to 120.
//! - SSN `XXX-XX-XXXX` or nine digits (normalised to the dashed form), typed twice, both the
//!   same; numbers the SSA never issues (area 000, 666 or 900-999, group 00, serial 0000)
//!   are refused. It is never echoed back: the form holds at most its last four digits, and
//!   a page that already has a valid SSN may let both fields be left blank to keep it.
//! - Months `YYYY-MM`, not in the future; an end month may equal the start month but not
//!   precede it.
//! - Addresses: exactly one current one (no end month); together they must reach back
//!   [`FormRules::address_years`] years (default 7) from this month, and a stretch inside
//!   that window with no address longer than [`FormRules::max_gap_months`] (default 3) is
//!   an error naming the months. Overlaps are allowed.
//! - The typed signature must equal the legal name, as "first middle last" or "first last",
//!   ignoring case, dots, commas and extra spaces.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use time::Date;

/// Characters allowed in a name (legal or other).
pub const MAX_NAME: usize = 100;
/// Other names used, at most.
pub const MAX_OTHER_NAMES: usize = 10;
/// Characters in a street line.
pub const MAX_STREET: usize = 200;
/// Characters in a city.
pub const MAX_CITY: usize = 100;
/// Addresses, at most.
pub const MAX_ADDRESSES: usize = 20;
/// Characters in an employer's or a school's name.
pub const MAX_ORGANISATION: usize = 200;
/// Characters in a position, degree or major.
pub const MAX_TITLE: usize = 100;
/// Jobs, at most.
pub const MAX_EMPLOYMENT: usize = 20;
/// Schools, at most.
pub const MAX_EDUCATION: usize = 10;
/// Characters in the typed signature.
pub const MAX_SIGNATURE: usize = 320;
/// Bytes of names and values in one POST.
pub const MAX_POST_BYTES: usize = 64 * 1024;
/// Fields in one POST.
pub const MAX_POST_FIELDS: usize = 1000;

/// Writes `Type([REDACTED])` for a type that holds a candidate's personal data.
macro_rules! redacted_debug {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}([REDACTED])", stringify!($t))
            }
        }
    )*};
}

/// The tunable rules of the form (per tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormRules {
    /// How many years the addresses must cover, back from this month.
    pub address_years: u8,
    /// The longest stretch inside those years with no address, in whole months; `None`
    /// allows any gap (only the reach back is checked).
    pub max_gap_months: Option<u8>,
}

impl Default for FormRules {
    fn default() -> Self {
        FormRules {
            address_years: 7,
            max_gap_months: Some(3),
        }
    }
}

/// The posted fields of one form, as decoded name/value pairs.
#[derive(Clone, Copy)]
pub struct Fields<'a>(&'a [(String, String)]);

impl<'a> Fields<'a> {
    pub fn new(pairs: &'a [(String, String)]) -> Fields<'a> {
        Fields(pairs)
    }

    /// The first value posted as `name`, or "" when there is none.
    pub fn get(&self, name: &str) -> &'a str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value posted as `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&'a str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The button pressed (`action`), or "" for the default submit.
    pub fn action(&self) -> &'a str {
        self.get("action")
    }

    /// An error when the POST is over [`MAX_POST_BYTES`] or [`MAX_POST_FIELDS`].
    fn oversized(&self) -> Option<Errors> {
        let bytes: usize = self.0.iter().map(|(n, v)| n.len() + v.len()).sum();
        if bytes > MAX_POST_BYTES || self.0.len() > MAX_POST_FIELDS {
            let mut e = Errors::default();
            e.add(
                "form",
                format!(
                    "The form sent was too large (more than {} KB). Shorten the longest entries and send it again.",
                    MAX_POST_BYTES / 1024
                ),
            );
            return Some(e);
        }
        None
    }

    /// The row count posted in `name`, at least 1 and at most `max`; the second value is
    /// whether more were claimed than allowed.
    fn rows(&self, name: &str, max: usize) -> (usize, bool) {
        let n = self.get(name).trim().parse::<usize>().unwrap_or(1).max(1);
        (n.min(max), n > max)
    }
}

/// Errors by field name (the input's `id`/`name`), each a sentence for the candidate, in
/// the order they were found (which is the order of the fields on the page). Form-wide
/// errors use the keys `form`, `current` and `coverage`. Serialises as a map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Errors(Vec<(String, String)>);

impl Errors {
    /// Records `message` for `field`; a field keeps its first error.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        if self.get(&field).is_none() {
            self.0.push((field, message.into()));
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Field names and messages, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl Serialize for Errors {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// What a submitted step comes to.
#[derive(Debug)]
pub enum Outcome<T, F> {
    /// Every field is valid.
    Valid(T),
    /// Show the form again with these errors next to their fields.
    Invalid { form: F, errors: Errors },
    /// A row was added or removed: show the form again, nothing validated.
    Edit(F),
}

// ---------------------------------------------------------------------------------------
// Values

/// A cleaned single-line value: trimmed, whitespace runs as one space. `None` (with an
/// error recorded) when it is over `max` characters or holds control characters.
fn clean(errors: &mut Errors, field: &str, label: &str, raw: &str, max: usize) -> Option<String> {
    if raw.chars().any(char::is_control) {
        errors.add(
            field,
            format!("{label} can only be one line of text, without tabs or control characters."),
        );
        return None;
    }
    let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = text.chars().count();
    if n > max {
        errors.add(
            field,
            format!("{label} can be at most {max} characters long (this one has {n})."),
        );
        return None;
    }
    Some(text)
}

/// A required cleaned value.
fn required(
    errors: &mut Errors,
    field: &str,
    label: &str,
    raw: &str,
    max: usize,
) -> Option<String> {
    let text = clean(errors, field, label, raw, max)?;
    if text.is_empty() {
        errors.add(field, format!("Enter the {}.", label.to_lowercase()));
        return None;
    }
    Some(text)
}

/// An optional cleaned value: `Some(None)` when blank, `None` when invalid.
fn optional(
    errors: &mut Errors,
    field: &str,
    label: &str,
    raw: &str,
    max: usize,
) -> Option<Option<String>> {
    let text = clean(errors, field, label, raw, max)?;
    Some((!text.is_empty()).then_some(text))
}

/// `raw` with surrounding whitespace dropped, for echoing back into a field.
fn echo(raw: &str, max: usize) -> String {
    // Echo what was typed (so the candidate can fix it), cut to a sane length so an
    // oversized value does not come back in full.
    raw.trim().chars().take(max.saturating_mul(2)).collect()
}

/// A US state, district, territory or military "state" as a two-letter postal code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct UsState(&'static str);

/// The USPS two-letter codes with their names, in the order a list shows them.
pub const US_STATES: &[(&str, &str)] = &[
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
    ("AS", "American Samoa"),
    ("GU", "Guam"),
    ("MP", "Northern Mariana Islands"),
    ("PR", "Puerto Rico"),
    ("VI", "U.S. Virgin Islands"),
    ("AA", "Armed Forces Americas"),
    ("AE", "Armed Forces Europe"),
    ("AP", "Armed Forces Pacific"),
];

impl UsState {
    /// The state whose code is `code` (any case, surrounding spaces ignored).
    pub fn parse(code: &str) -> Option<UsState> {
        let code = code.trim();
        US_STATES
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(code))
            .map(|(c, _)| UsState(c))
    }

    /// The two-letter code.
    pub fn code(&self) -> &'static str {
        self.0
    }

    /// The state's name.
    pub fn name(&self) -> &'static str {
        US_STATES
            .iter()
            .find(|(c, _)| *c == self.0)
            .map(|(_, n)| *n)
            .unwrap_or(self.0)
    }
}

impl fmt::Display for UsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A ZIP code, `12345` or `12345-6789`.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Zip(String);
redacted_debug!(Zip);

impl Zip {
    /// Five or nine digits, with or without the dash.
    pub fn parse(text: &str) -> Option<Zip> {
        let t = text.trim();
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        let shape_ok = match t.len() {
            5 | 9 => t.chars().all(|c| c.is_ascii_digit()),
            10 => t.as_bytes().get(5) == Some(&b'-') && digits.len() == 9,
            _ => false,
        };
        if !shape_ok {
            return None;
        }
        Some(Zip(if digits.len() == 9 {
            format!("{}-{}", &digits[..5], &digits[5..])
        } else {
            digits
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    year: i32,
    month: u8,
}

impl YearMonth {
    /// `YYYY-MM` with a year from 1900 on and a month 01-12.
    pub fn parse(text: &str) -> Option<YearMonth> {
        let t = text.trim().as_bytes();
        if t.len() != 7 || t[4] != b'-' {
            return None;
        }
        let year = digits(&t[..4])?;
        let month = digits(&t[5..])?;
        if year < 1900 || !(1..=12).contains(&month) {
            return None;
        }
        Some(YearMonth {
            year: i32::try_from(year).ok()?,
            month: u8::try_from(month).ok()?,
        })
    }

    /// The month `date` falls in.
    pub fn of(date: Date) -> YearMonth {
        YearMonth {
            year: date.year(),
            month: u8::from(date.month()),
        }
    }

    /// Months since year 0 (for arithmetic).
    fn index(self) -> i32 {
        self.year * 12 + i32::from(self.month) - 1
    }

    fn from_index(i: i32) -> YearMonth {
        YearMonth {
            year: i.div_euclid(12),
            // rem_euclid(12) is 0..=11.
            month: u8::try_from(i.rem_euclid(12) + 1).unwrap_or(1),
        }
    }

    /// This month plus `n` months (negative goes back).
    pub fn plus_months(self, n: i32) -> YearMonth {
        YearMonth::from_index(self.index() + n)
    }

    /// The first day of the month as `YYYY-MM-DD` (the form Theary takes).
    pub fn first_day(self) -> String {
        format!("{self}-01")
    }

    /// The last day of the month as `YYYY-MM-DD`.
    pub fn last_day(self) -> String {
        let days = time::Month::try_from(self.month)
            .map(|m| m.length(self.year))
            .unwrap_or(28);
        format!("{self}-{days:02}")
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `YYYY-MM` of a `YYYY-MM-DD` or `YYYY-MM` text (what PageUp sends), for pre-filling;
/// anything else unchanged.
pub fn month_of(text: &str) -> String {
    let t = text.trim();
    match t.get(..7) {
        Some(m) if YearMonth::parse(m).is_some() && (t.len() == 7 || t.len() == 10) => m.to_owned(),
        _ => t.to_owned(),
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// A `YYYY-MM-DD` date that exists.
fn parse_date(text: &str) -> Option<Date> {
    let t = text.trim().as_bytes();
    if t.len() != 10 || t[4] != b'-' || t[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(&t[..4])?).ok()?;
    let month = time::Month::try_from(u8::try_from(digits(&t[5..7])?).ok()?).ok()?;
    let day = u8::try_from(digits(&t[8..])?).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// Whole years from `born` to `today`.
fn age(born: Date, today: Date) -> i32 {
    let had_birthday =
        (u8::from(today.month()), today.day()) >= (u8::from(born.month()), born.day());
    today.year() - born.year() - i32::from(!had_birthday)
}

/// A US Social Security number, held as `XXX-XX-XXXX` in memory that is wiped on drop.
/// `Debug` prints `Ssn([REDACTED])`; only [`Ssn::masked`] may be shown to anyone.
#[derive(Clone)]
pub struct Ssn(SecretString);
redacted_debug!(Ssn);

/// Why an SSN was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsnError {
    Format,
    NeverIssued,
}

impl Ssn {
    /// `XXX-XX-XXXX` or nine digits; refuses numbers the SSA never issues.
    pub fn parse(text: &str) -> Result<Ssn, SsnError> {
        let t = text.trim();
        let b = t.as_bytes();
        let dashed = b.len() == 11
            && b[3] == b'-'
            && b[6] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 3 || i == 6 || c.is_ascii_digit());
        let plain = b.len() == 9 && b.iter().all(u8::is_ascii_digit);
        if !dashed && !plain {
            return Err(SsnError::Format);
        }
        let d: zeroize::Zeroizing<String> =
            zeroize::Zeroizing::new(t.chars().filter(char::is_ascii_digit).collect());
        let (area, group, serial) = (&d[..3], &d[3..5], &d[5..]);
        if area == "000" || area == "666" || area.starts_with('9') || group == "00" {
            return Err(SsnError::NeverIssued);
        }
        if serial == "0000" {
            return Err(SsnError::NeverIssued);
        }
        Ok(Ssn(SecretString::from(format!("{area}-{group}-{serial}"))))
    }

    /// The number as `XXX-XX-XXXX`, for the order to Theary and nothing else.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The last four digits.
    pub fn last4(&self) -> String {
        let s = self.0.expose_secret();
        s.get(s.len().saturating_sub(4)..)
            .unwrap_or_default()
            .to_owned()
    }

    /// `***-**-1234`: all that a page may show.
    pub fn masked(&self) -> String {
        format!("***-**-{}", self.last4())
    }
}

impl PartialEq for Ssn {
    fn eq(&self, other: &Ssn) -> bool {
        use subtle::ConstantTimeEq as _;
        bool::from(
            self.0
                .expose_secret()
                .as_bytes()
                .ct_eq(other.0.expose_secret().as_bytes()),
        )
    }
}

/// A date of birth, held as `YYYY-MM-DD` in memory that is wiped on drop.
/// `Debug` prints `DateOfBirth([REDACTED])`.
#[derive(Clone)]
pub struct DateOfBirth(SecretString);
redacted_debug!(DateOfBirth);

impl DateOfBirth {
    /// The date as `YYYY-MM-DD`, for the order to Theary.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

// ---------------------------------------------------------------------------------------
// Step 1: personal details

/// The legal name.
#[derive(Clone, PartialEq, Eq)]
pub struct LegalName {
    pub first: String,
    pub middle: Option<String>,
    pub last: String,
}
redacted_debug!(LegalName);

impl LegalName {
    /// "First Middle Last" (or "First Last").
    pub fn full(&self) -> String {
        match &self.middle {
            Some(m) => format!("{} {m} {}", self.first, self.last),
            None => format!("{} {}", self.first, self.last),
        }
    }

    /// Whether a typed signature is this name: "first middle last" or "first last",
    /// ignoring case, dots, commas and extra whitespace.
    pub fn is_signed_by(&self, typed: &str) -> bool {
        let typed = fold(typed);
        if typed.is_empty() {
            return false;
        }
        typed == fold(&self.full()) || typed == fold(&format!("{} {}", self.first, self.last))
    }
}

fn fold(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '.' && *c != ',')
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The personal details, checked.
#[derive(Clone)]
pub struct Personal {
    pub name: LegalName,
    /// Other names used (maiden names, earlier legal names, common spellings).
    pub other_names: Vec<String>,
    pub date_of_birth: DateOfBirth,
    pub ssn: Ssn,
}
redacted_debug!(Personal);

/// The personal-details form as shown: what was typed, except the SSN, of which at most
/// the last four digits of a number already accepted appear.
#[derive(Clone, Default, Serialize)]
pub struct PersonalForm {
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
    /// One entry per row shown (blank rows included).
    pub other_names: Vec<String>,
    pub date_of_birth: String,
    /// `***-**-1234` of an SSN already on file, which blank SSN fields keep.
    pub ssn_on_file: Option<String>,
}
redacted_debug!(PersonalForm);

impl PersonalForm {
    /// The form for accepted details (going back to the step), with one blank other-name row.
    pub fn from_personal(p: &Personal) -> PersonalForm {
        let mut other_names = p.other_names.clone();
        if other_names.len() < MAX_OTHER_NAMES {
            other_names.push(String::new());
        }
        PersonalForm {
            first_name: p.name.first.clone(),
            middle_name: p.name.middle.clone().unwrap_or_default(),
            last_name: p.name.last.clone(),
            other_names,
            date_of_birth: p.date_of_birth.expose().to_owned(),
            ssn_on_file: Some(p.ssn.masked()),
        }
    }

    /// A blank form, pre-filled with the names PageUp sent.
    pub fn prefill(first: &str, middle: &str, last: &str) -> PersonalForm {
        PersonalForm {
            first_name: first.trim().to_owned(),
            middle_name: middle.trim().to_owned(),
            last_name: last.trim().to_owned(),
            other_names: vec![String::new()],
            ..PersonalForm::default()
        }
    }
}

/// The personal-details step. Fields: `first_name`, `middle_name`, `last_name`,
/// `other_name` (repeated, one per row), `date_of_birth`, `ssn`, `ssn_confirm`; buttons
/// `action=add-other-name` and `action=remove-other-name-N`. `on_file` is an SSN accepted
/// earlier, kept when both SSN fields are left blank.
pub fn personal_step(
    pairs: &[(String, String)],
    today: Date,
    on_file: Option<&Ssn>,
) -> Outcome<Personal, PersonalForm> {
    let f = Fields::new(pairs);
    let mut other_rows: Vec<String> = f
        .all("other_name")
        .into_iter()
        .take(MAX_OTHER_NAMES + 1)
        .map(|v| echo(v, MAX_NAME))
        .collect();
    let mut form = PersonalForm {
        first_name: echo(f.get("first_name"), MAX_NAME),
        middle_name: echo(f.get("middle_name"), MAX_NAME),
        last_name: echo(f.get("last_name"), MAX_NAME),
        other_names: Vec::new(),
        date_of_birth: echo(f.get("date_of_birth"), 10),
        ssn_on_file: on_file.map(Ssn::masked),
    };
    if let Some(errors) = f.oversized() {
        form.other_names = other_rows;
        return Outcome::Invalid { form, errors };
    }
    match f.action() {
        "add-other-name" => {
            if other_rows.len() < MAX_OTHER_NAMES {
                other_rows.push(String::new());
            }
            form.other_names = other_rows;
            return Outcome::Edit(form);
        }
        a if a.starts_with("remove-other-name-") => {
            if let Ok(i) = a["remove-other-name-".len()..].parse::<usize>() {
                if i < other_rows.len() {
                    other_rows.remove(i);
                }
            }
            if other_rows.is_empty() {
                other_rows.push(String::new());
            }
            form.other_names = other_rows;
            return Outcome::Edit(form);
        }
        _ => {}
    }

    let mut e = Errors::default();
    let first = required(
        &mut e,
        "first_name",
        "Legal first name",
        f.get("first_name"),
        MAX_NAME,
    );
    let middle = optional(
        &mut e,
        "middle_name",
        "Middle name",
        f.get("middle_name"),
        MAX_NAME,
    );
    let last = required(
        &mut e,
        "last_name",
        "Legal last name",
        f.get("last_name"),
        MAX_NAME,
    );

    let posted_other = f.all("other_name");
    let mut other_names = Vec::new();
    if posted_other.iter().filter(|v| !v.trim().is_empty()).count() > MAX_OTHER_NAMES {
        e.add(
            "other_name_0",
            format!("Give at most {MAX_OTHER_NAMES} other names."),
        );
    } else {
        for (i, raw) in posted_other.iter().enumerate() {
            if let Some(Some(n)) = optional(
                &mut e,
                &format!("other_name_{i}"),
                "Other name",
                raw,
                MAX_NAME,
            ) {
                other_names.push(n);
            }
        }
    }
    form.other_names = other_rows;
    if form.other_names.is_empty() {
        form.other_names.push(String::new());
    }

    let dob_text = f.get("date_of_birth").trim();
    let dob = if dob_text.is_empty() {
        e.add("date_of_birth", "Enter your date of birth.");
        None
    } else {
        match parse_date(dob_text) {
            None => {
                e.add(
                    "date_of_birth",
                    "Enter your date of birth as year-month-day, for example 1990-04-25.",
                );
                None
            }
            Some(d) if d > today => {
                e.add(
                    "date_of_birth",
                    "Your date of birth cannot be in the future.",
                );
                None
            }
            Some(d) if age(d, today) < 14 => {
                e.add(
                    "date_of_birth",
                    "Check your date of birth: it makes you younger than 14.",
                );
                None
            }
            Some(d) if age(d, today) > 120 => {
                e.add(
                    "date_of_birth",
                    "Check your date of birth: it makes you older than 120.",
                );
                None
            }
            Some(d) => Some(d),
        }
    };

    let ssn = ssn_fields(&mut e, f.get("ssn"), f.get("ssn_confirm"), on_file);

    match (first, middle, last, dob, ssn) {
        (Some(first), Some(middle), Some(last), Some(dob), Some(ssn)) if e.is_empty() => {
            Outcome::Valid(Personal {
                name: LegalName {
                    first,
                    middle,
                    last,
                },
                other_names,
                date_of_birth: DateOfBirth(SecretString::from(
                    format!(
                        "{:04}-{:02}-{:02}",
                        dob.year(),
                        u8::from(dob.month()),
                        dob.day()
                    )
                    .as_str(),
                )),
                ssn,
            })
        }
        _ => Outcome::Invalid { form, errors: e },
    }
}

/// The SSN from its two fields (or the one on file when both are blank).
fn ssn_fields(e: &mut Errors, ssn: &str, confirm: &str, on_file: Option<&Ssn>) -> Option<Ssn> {
    if ssn.trim().is_empty() && confirm.trim().is_empty() {
        if let Some(kept) = on_file {
            return Some(kept.clone());
        }
        e.add("ssn", "Enter your Social Security number.");
        return None;
    }
    let first = match Ssn::parse(ssn) {
        Ok(s) => s,
        Err(SsnError::Format) => {
            e.add(
                "ssn",
                "Enter your Social Security number as 9 digits, for example 123-45-6789.",
            );
            return None;
        }
        Err(SsnError::NeverIssued) => {
            e.add(
                "ssn",
                "This is not a number the Social Security Administration issues. Check it against your card.",
            );
            return None;
        }
    };
    if confirm.trim().is_empty() {
        e.add(
            "ssn_confirm",
            "Enter your Social Security number a second time.",
        );
        return None;
    }
    match Ssn::parse(confirm) {
        Ok(second) if second == first => Some(first),
        _ => {
            e.add(
                "ssn_confirm",
                "The two Social Security numbers are not the same. Enter both again.",
            );
            None
        }
    }
}

// ---------------------------------------------------------------------------------------
// Step 2: addresses

/// An address, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Address {
    pub street: String,
    pub street2: Option<String>,
    pub city: String,
    pub state: UsState,
    pub zip: Zip,
    pub from: YearMonth,
    /// `None` for the current address.
    pub to: Option<YearMonth>,
}
redacted_debug!(Address);

/// The addresses, checked: exactly one current, the previous ones newest first.
#[derive(Clone)]
pub struct Addresses {
    pub current: Address,
    pub previous: Vec<Address>,
}
redacted_debug!(Addresses);

/// One address row as typed.
#[derive(Clone, Default, Serialize)]
pub struct AddressRow {
    pub street: String,
    pub street2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub from: String,
    pub to: String,
}
redacted_debug!(AddressRow);

impl AddressRow {
    fn is_blank(&self) -> bool {
        [
            &self.street,
            &self.street2,
            &self.city,
            &self.state,
            &self.zip,
            &self.from,
            &self.to,
        ]
        .iter()
        .all(|v| v.trim().is_empty())
    }

    fn of(a: &Address) -> AddressRow {
        AddressRow {
            street: a.street.clone(),
            street2: a.street2.clone().unwrap_or_default(),
            city: a.city.clone(),
            state: a.state.code().to_owned(),
            zip: a.zip.as_str().to_owned(),
            from: a.from.to_string(),
            to: a.to.map(|t| t.to_string()).unwrap_or_default(),
        }
    }
}

/// The address form as shown. Fields `addr_N_street`, `addr_N_street2`, `addr_N_city`,
/// `addr_N_state`, `addr_N_zip`, `addr_N_from`, `addr_N_to`, the row count `addr_rows`,
/// and the radio `current` whose value is the current row's N.
#[derive(Clone, Serialize)]
pub struct AddressForm {
    pub rows: Vec<AddressRow>,
    /// The row marked current.
    pub current: Option<usize>,
    /// The years the addresses must cover (for the page's instructions).
    pub years: u8,
}
redacted_debug!(AddressForm);

impl AddressForm {
    /// A blank form: the current address and one previous one.
    pub fn blank(rules: &FormRules) -> AddressForm {
        AddressForm {
            rows: vec![AddressRow::default(), AddressRow::default()],
            current: Some(0),
            years: rules.address_years,
        }
    }

    /// The form for accepted addresses (going back to the step), plus one blank row.
    pub fn from_addresses(a: &Addresses, rules: &FormRules) -> AddressForm {
        let mut rows = vec![AddressRow::of(&a.current)];
        rows.extend(a.previous.iter().map(AddressRow::of));
        if rows.len() < MAX_ADDRESSES {
            rows.push(AddressRow::default());
        }
        AddressForm {
            rows,
            current: Some(0),
            years: rules.address_years,
        }
    }
}

/// The addresses step; see [`AddressForm`] for the fields, buttons `action=add-address`
/// and `action=remove-addr-N`.
pub fn addresses_step(
    pairs: &[(String, String)],
    today: Date,
    rules: &FormRules,
) -> Outcome<Addresses, AddressForm> {
    let f = Fields::new(pairs);
    let (n, too_many) = f.rows("addr_rows", MAX_ADDRESSES);
    let mut rows: Vec<AddressRow> = (0..n)
        .map(|i| {
            let g = |k: &str| echo(f.get(&format!("addr_{i}_{k}")), MAX_STREET);
            AddressRow {
                street: g("street"),
                street2: g("street2"),
                city: g("city"),
                state: g("state"),
                zip: g("zip"),
                from: g("from"),
                to: g("to"),
            }
        })
        .collect();
    let currents: Vec<usize> = f
        .all("current")
        .iter()
        .filter_map(|v| v.trim().parse::<usize>().ok())
        .collect();
    let mut form = AddressForm {
        rows: Vec::new(),
        current: currents.first().copied(),
        years: rules.address_years,
    };
    if let Some(errors) = f.oversized() {
        form.rows = rows;
        return Outcome::Invalid { form, errors };
    }
    match f.action() {
        "add-address" => {
            if rows.len() < MAX_ADDRESSES {
                rows.push(AddressRow::default());
            }
            form.rows = rows;
            return Outcome::Edit(form);
        }
        a if a.starts_with("remove-addr-") => {
            if let Ok(i) = a["remove-addr-".len()..].parse::<usize>() {
                if i < rows.len() {
                    rows.remove(i);
                    form.current = match form.current {
                        Some(c) if c == i => None,
                        Some(c) if c > i => Some(c - 1),
                        c => c,
                    };
                }
            }
            if rows.is_empty() {
                rows.push(AddressRow::default());
            }
            form.rows = rows;
            return Outcome::Edit(form);
        }
        _ => {}
    }

    let mut e = Errors::default();
    if too_many {
        e.add(
            "form",
            format!("Give at most {MAX_ADDRESSES} addresses: the earliest ones past the years asked for are not needed."),
        );
    }
    match currents.len() {
        0 => e.add("current", "Choose which address is your current one."),
        1 => {
            if currents[0] >= rows.len() || rows[currents[0]].is_blank() {
                e.add(
                    "current",
                    "The address marked as current is empty. Fill it in or mark another one.",
                );
            }
        }
        _ => e.add("current", "Mark only one address as your current one."),
    }
    let this_month = YearMonth::of(today);
    let mut checked: Vec<(usize, Address)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if row.is_blank() && !currents.contains(&i) {
            continue;
        }
        let is_current = currents.contains(&i);
        if let Some(a) = address_row(&mut e, i, &f, is_current, this_month) {
            checked.push((i, a));
        }
    }
    if rows.iter().all(AddressRow::is_blank) {
        e.add("addr_0_street", "Enter your current address.");
    }
    form.rows = rows;

    if e.is_empty() {
        let addresses: Vec<&Address> = checked.iter().map(|(_, a)| a).collect();
        coverage(&mut e, &addresses, this_month, rules);
    }
    if !e.is_empty() {
        return Outcome::Invalid { form, errors: e };
    }
    let mut current = None;
    let mut previous = Vec::new();
    for (i, a) in checked {
        if currents.first() == Some(&i) {
            current = Some(a);
        } else {
            previous.push(a);
        }
    }
    previous.sort_by_key(|a| std::cmp::Reverse(a.from));
    match current {
        Some(current) => Outcome::Valid(Addresses { current, previous }),
        None => {
            let mut e = Errors::default();
            e.add("current", "Choose which address is your current one.");
            Outcome::Invalid { form, errors: e }
        }
    }
}

/// A month field: `None` (error recorded) when blank and required, malformed, or future.
fn month_field(
    e: &mut Errors,
    field: &str,
    label: &str,
    raw: &str,
    required: bool,
    this_month: YearMonth,
) -> Option<Option<YearMonth>> {
    let raw = raw.trim();
    if raw.is_empty() {
        if required {
            e.add(
                field,
                format!("Enter the {label} as year-month, for example 2019-08."),
            );
            return None;
        }
        return Some(None);
    }
    match YearMonth::parse(raw) {
        None => {
            e.add(
                field,
                format!("Enter the {label} as year-month, for example 2019-08."),
            );
            None
        }
        Some(m) if m > this_month => {
            e.add(field, format!("The {label} cannot be in the future."));
            None
        }
        Some(m) => Some(Some(m)),
    }
}

/// Records an error on `end_field` when `end` is before `start`.
fn ordered(
    e: &mut Errors,
    end_field: &str,
    start: Option<YearMonth>,
    end: Option<YearMonth>,
) -> bool {
    match (start, end) {
        (Some(s), Some(t)) if t < s => {
            e.add(
                end_field,
                format!("The end month ({t}) is before the start month ({s})."),
            );
            false
        }
        _ => true,
    }
}

fn address_row(
    e: &mut Errors,
    i: usize,
    f: &Fields<'_>,
    is_current: bool,
    this_month: YearMonth,
) -> Option<Address> {
    let key = |k: &str| format!("addr_{i}_{k}");
    let street = required(
        e,
        &key("street"),
        "Street address",
        f.get(&key("street")),
        MAX_STREET,
    );
    let street2 = optional(
        e,
        &key("street2"),
        "Apartment, suite or unit",
        f.get(&key("street2")),
        MAX_STREET,
    );
    let city = required(e, &key("city"), "City", f.get(&key("city")), MAX_CITY);
    let state_raw = f.get(&key("state"));
    let state = if state_raw.trim().is_empty() {
        e.add(key("state"), "Choose the state.");
        None
    } else {
        let s = UsState::parse(state_raw);
        if s.is_none() {
            e.add(
                key("state"),
                "Choose a US state, district or territory from the list (two letters, for example TX).",
            );
        }
        s
    };
    let zip_raw = f.get(&key("zip"));
    let zip = if zip_raw.trim().is_empty() {
        e.add(key("zip"), "Enter the ZIP code.");
        None
    } else {
        let z = Zip::parse(zip_raw);
        if z.is_none() {
            e.add(
                key("zip"),
                "Enter the ZIP code as 5 digits (12345) or 9 digits (12345-6789).",
            );
        }
        z
    };
    let from = month_field(
        e,
        &key("from"),
        "month you moved in",
        f.get(&key("from")),
        true,
        this_month,
    )
    .flatten();
    let to_raw = f.get(&key("to"));
    let to = if is_current {
        if !to_raw.trim().is_empty() {
            e.add(
                key("to"),
                "Leave the move-out month empty for your current address.",
            );
            None
        } else {
            Some(None)
        }
    } else {
        month_field(
            e,
            &key("to"),
            "month you moved out",
            to_raw,
            true,
            this_month,
        )
    };
    let to_ok = to.is_some_and(|t| ordered(e, &key("to"), from, t));
    Some(Address {
        street: street?,
        street2: street2?,
        city: city?,
        state: state?,
        zip: zip?,
        from: from?,
        to: if to_ok { to? } else { return None },
    })
}

/// Checks that `addresses` reach back the years asked for and leave no long gap.
fn coverage(e: &mut Errors, addresses: &[&Address], this_month: YearMonth, rules: &FormRules) {
    let years = i32::from(rules.address_years);
    if years == 0 || addresses.is_empty() {
        return;
    }
    let window_start = this_month.plus_months(-12 * years);
    let mut spans: Vec<(YearMonth, YearMonth)> = addresses
        .iter()
        .map(|a| (a.from, a.to.unwrap_or(this_month)))
        .collect();
    spans.sort();
    let earliest = spans[0].0;
    if earliest > window_start {
        e.add(
            "coverage",
            format!(
                "Your addresses must cover the last {years} years, back to {window_start}. The earliest one you gave starts in {earliest}: add where you lived before that."
            ),
        );
        return;
    }
    let Some(max_gap) = rules.max_gap_months.map(i32::from) else {
        return;
    };
    let mut covered_to = spans[0].1;
    let mut gaps = Vec::new();
    for &(from, to) in &spans[1..] {
        // Months with no address between what is covered so far and this one, counted
        // inside the window only.
        let gap_from = covered_to.plus_months(1).max(window_start);
        let gap = from.index() - gap_from.index();
        if gap > max_gap {
            gaps.push(format!("{gap_from} to {}", from.plus_months(-1)));
        }
        covered_to = covered_to.max(to);
    }
    if covered_to < this_month {
        // Only possible when no current address spans to now (caught earlier), kept for safety.
        gaps.push(format!("{} to {this_month}", covered_to.plus_months(1)));
    }
    if !gaps.is_empty() {
        e.add(
            "coverage",
            format!(
                "There is no address for more than {max_gap} months: {}. Add where you lived then.",
                gaps.join("; ")
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Step 3: employment and education

/// A job to verify, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Employment {
    pub employer: String,
    pub position: String,
    pub city: Option<String>,
    pub state: Option<UsState>,
    pub start: YearMonth,
    /// `None` while the candidate still works there.
    pub end: Option<YearMonth>,
}
redacted_debug!(Employment);

/// A qualification to verify, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Education {
    pub school: String,
    pub degree: String,
    pub major: String,
    pub start: Option<YearMonth>,
    /// The month of graduation (or of leaving).
    pub end: YearMonth,
}
redacted_debug!(Education);

/// The histories, checked.
#[derive(Clone, Default)]
pub struct History {
    pub employment: Vec<Employment>,
    pub education: Vec<Education>,
}
redacted_debug!(History);

/// A job as typed, or as PageUp sent it (dates as `YYYY-MM`; see [`month_of`]).
#[derive(Clone, Default, Serialize, PartialEq, Eq)]
pub struct EmploymentRow {
    pub employer: String,
    pub position: String,
    pub city: String,
    pub state: String,
    pub start: String,
    pub end: String,
    /// Still works there (no end month).
    pub current: bool,
}
redacted_debug!(EmploymentRow);

impl EmploymentRow {
    fn is_blank(&self) -> bool {
        !self.current
            && [
                &self.employer,
                &self.position,
                &self.city,
                &self.state,
                &self.start,
                &self.end,
            ]
            .iter()
            .all(|v| v.trim().is_empty())
    }
}

/// A qualification as typed, or as PageUp sent it.
#[derive(Clone, Default, Serialize, PartialEq, Eq)]
pub struct EducationRow {
    pub school: String,
    pub degree: String,
    pub major: String,
    pub start: String,
    pub end: String,
}
redacted_debug!(EducationRow);

impl EducationRow {
    fn is_blank(&self) -> bool {
        [
            &self.school,
            &self.degree,
            &self.major,
            &self.start,
            &self.end,
        ]
        .iter()
        .all(|v| v.trim().is_empty())
    }
}

/// The history form as shown. Fields `emp_N_employer`, `emp_N_position`, `emp_N_city`,
/// `emp_N_state`, `emp_N_start`, `emp_N_end`, `emp_N_current` (checkbox, value `yes`),
/// `emp_rows`; `edu_N_school`, `edu_N_degree`, `edu_N_major`, `edu_N_start`, `edu_N_end`,
/// `edu_rows`. Buttons `action=add-employment`, `add-education`, `remove-emp-N`,
/// `remove-edu-N`.
#[derive(Clone, Default, Serialize)]
pub struct HistoryForm {
    pub employment: Vec<EmploymentRow>,
    pub education: Vec<EducationRow>,
}
redacted_debug!(HistoryForm);

/// What the history step requires of the candidate (from the package ordered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryRules {
    /// At least one job (an employment verification is ordered).
    pub employment: bool,
    /// At least one qualification (an education verification is ordered).
    pub education: bool,
}

impl HistoryForm {
    /// The form pre-filled with the entries PageUp sent, and one blank row of each.
    pub fn prefill(employment: &[EmploymentRow], education: &[EducationRow]) -> HistoryForm {
        let mut form = HistoryForm {
            employment: employment
                .iter()
                .take(MAX_EMPLOYMENT)
                .map(|r| EmploymentRow {
                    start: month_of(&r.start),
                    end: month_of(&r.end),
                    ..r.clone()
                })
                .collect(),
            education: education
                .iter()
                .take(MAX_EDUCATION)
                .map(|r| EducationRow {
                    start: month_of(&r.start),
                    end: month_of(&r.end),
                    ..r.clone()
                })
                .collect(),
        };
        if form.employment.len() < MAX_EMPLOYMENT {
            form.employment.push(EmploymentRow::default());
        }
        if form.education.len() < MAX_EDUCATION {
            form.education.push(EducationRow::default());
        }
        form
    }
}

/// The history step; see [`HistoryForm`] for the fields.
pub fn history_step(
    pairs: &[(String, String)],
    today: Date,
    rules: &HistoryRules,
) -> Outcome<History, HistoryForm> {
    let f = Fields::new(pairs);
    let (ne, emp_too_many) = f.rows("emp_rows", MAX_EMPLOYMENT);
    let (nd, edu_too_many) = f.rows("edu_rows", MAX_EDUCATION);
    let mut employment: Vec<EmploymentRow> = (0..ne)
        .map(|i| {
            let g = |k: &str| echo(f.get(&format!("emp_{i}_{k}")), MAX_ORGANISATION);
            EmploymentRow {
                employer: g("employer"),
                position: g("position"),
                city: g("city"),
                state: g("state"),
                start: g("start"),
                end: g("end"),
                current: f.get(&format!("emp_{i}_current")) == "yes",
            }
        })
        .collect();
    let mut education: Vec<EducationRow> = (0..nd)
        .map(|i| {
            let g = |k: &str| echo(f.get(&format!("edu_{i}_{k}")), MAX_ORGANISATION);
            EducationRow {
                school: g("school"),
                degree: g("degree"),
                major: g("major"),
                start: g("start"),
                end: g("end"),
            }
        })
        .collect();
    if let Some(errors) = f.oversized() {
        return Outcome::Invalid {
            form: HistoryForm {
                employment,
                education,
            },
            errors,
        };
    }
    let action = f.action();
    let edited = match action {
        "add-employment" => {
            if employment.len() < MAX_EMPLOYMENT {
                employment.push(EmploymentRow::default());
            }
            true
        }
        "add-education" => {
            if education.len() < MAX_EDUCATION {
                education.push(EducationRow::default());
            }
            true
        }
        a if a.starts_with("remove-emp-") => {
            if let Ok(i) = a["remove-emp-".len()..].parse::<usize>() {
                if i < employment.len() {
                    employment.remove(i);
                }
            }
            true
        }
        a if a.starts_with("remove-edu-") => {
            if let Ok(i) = a["remove-edu-".len()..].parse::<usize>() {
                if i < education.len() {
                    education.remove(i);
                }
            }
            true
        }
        _ => false,
    };
    if edited {
        if employment.is_empty() {
            employment.push(EmploymentRow::default());
        }
        if education.is_empty() {
            education.push(EducationRow::default());
        }
        return Outcome::Edit(HistoryForm {
            employment,
            education,
        });
    }

    let this_month = YearMonth::of(today);
    let mut e = Errors::default();
    if emp_too_many {
        e.add("form", format!("Give at most {MAX_EMPLOYMENT} jobs."));
    }
    if edu_too_many {
        e.add("form", format!("Give at most {MAX_EDUCATION} schools."));
    }
    let mut history = History::default();
    for (i, row) in employment.iter().enumerate() {
        if row.is_blank() {
            continue;
        }
        let key = |k: &str| format!("emp_{i}_{k}");
        let employer = required(
            &mut e,
            &key("employer"),
            "Employer",
            &row.employer,
            MAX_ORGANISATION,
        );
        let position = required(
            &mut e,
            &key("position"),
            "Position",
            &row.position,
            MAX_TITLE,
        );
        let city = optional(&mut e, &key("city"), "City", &row.city, MAX_CITY);
        let state = if row.state.trim().is_empty() {
            Some(None)
        } else {
            let s = UsState::parse(&row.state);
            if s.is_none() {
                e.add(
                    key("state"),
                    "Choose a US state from the list, or leave it empty.",
                );
            }
            s.map(Some)
        };
        let start = month_field(
            &mut e,
            &key("start"),
            "start month",
            &row.start,
            true,
            this_month,
        )
        .flatten();
        let end = if row.current {
            if !row.end.trim().is_empty() {
                e.add(
                    key("end"),
                    "Leave the end month empty for a job you still have, or untick \"I still work here\".",
                );
                None
            } else {
                Some(None)
            }
        } else if row.end.trim().is_empty() {
            e.add(
                key("end"),
                "Enter the month you left, or tick \"I still work here\".",
            );
            None
        } else {
            month_field(&mut e, &key("end"), "end month", &row.end, true, this_month)
        };
        let end_ok = end.is_some_and(|t| ordered(&mut e, &key("end"), start, t));
        if let (
            Some(employer),
            Some(position),
            Some(city),
            Some(state),
            Some(start),
            Some(end),
            true,
        ) = (employer, position, city, state, start, end, end_ok)
        {
            history.employment.push(Employment {
                employer,
                position,
                city,
                state,
                start,
                end,
            });
        }
    }
    for (i, row) in education.iter().enumerate() {
        if row.is_blank() {
            continue;
        }
        let key = |k: &str| format!("edu_{i}_{k}");
        let school = required(
            &mut e,
            &key("school"),
            "School",
            &row.school,
            MAX_ORGANISATION,
        );
        let degree = required(
            &mut e,
            &key("degree"),
            "Degree or qualification",
            &row.degree,
            MAX_TITLE,
        );
        let major = required(
            &mut e,
            &key("major"),
            "Major or field of study",
            &row.major,
            MAX_TITLE,
        );
        let start = month_field(
            &mut e,
            &key("start"),
            "start month",
            &row.start,
            false,
            this_month,
        );
        let end = month_field(
            &mut e,
            &key("end"),
            "graduation month",
            &row.end,
            true,
            this_month,
        )
        .flatten();
        let end_ok = ordered(&mut e, &key("end"), start.flatten(), end);
        if let (Some(school), Some(degree), Some(major), Some(start), Some(end), true) =
            (school, degree, major, start, end, end_ok)
        {
            history.education.push(Education {
                school,
                degree,
                major,
                start,
                end,
            });
        }
    }
    let any_emp = employment.iter().any(|r| !r.is_blank());
    let any_edu = education.iter().any(|r| !r.is_blank());
    if rules.employment && !any_emp {
        e.add("emp_0_employer", "Enter at least one job to verify.");
    }
    if rules.education && !any_edu {
        e.add(
            "edu_0_school",
            "Enter at least one school or qualification to verify.",
        );
    }
    let form = HistoryForm {
        employment,
        education,
    };
    if e.is_empty() {
        Outcome::Valid(history)
    } else {
        Outcome::Invalid { form, errors: e }
    }
}

// ---------------------------------------------------------------------------------------
// Step 4: the disclosure

/// The candidate read the disclosure and pressed "continue".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureAck {
    /// SHA-256 (hex) of the disclosure text shown.
    pub text_sha256: String,
}

/// The disclosure step: the page's one button posts `acknowledge=yes`.
pub fn disclosure_step(pairs: &[(String, String)], disclosure: &str) -> Outcome<DisclosureAck, ()> {
    let f = Fields::new(pairs);
    if let Some(errors) = f.oversized() {
        return Outcome::Invalid { form: (), errors };
    }
    if f.get("acknowledge") == "yes" {
        return Outcome::Valid(DisclosureAck {
            text_sha256: sha256_hex(disclosure),
        });
    }
    let mut e = Errors::default();
    e.add(
        "acknowledge",
        "Read the disclosure, then press the button at its end to continue.",
    );
    Outcome::Invalid {
        form: (),
        errors: e,
    }
}

/// SHA-256 of `text` (its UTF-8 bytes) as lowercase hex.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

// ---------------------------------------------------------------------------------------
// Step 5: the authorization and e-signature

/// The e-signature, checked: the typed name matches the legal name and consent was given.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    /// The name as typed (cleaned), drawn in the release.
    pub typed_name: String,
    /// The day shown on the page (UTC).
    pub signed_on: Date,
}
redacted_debug!(Signature);

/// The authorization form as shown.
#[derive(Clone, Default, Serialize)]
pub struct AuthorizationForm {
    pub signature: String,
    pub consent: bool,
}
redacted_debug!(AuthorizationForm);

/// The authorization step. Fields `signature` (typed full legal name) and `consent`
/// (checkbox, value `yes`).
pub fn authorization_step(
    pairs: &[(String, String)],
    name: &LegalName,
    today: Date,
) -> Outcome<Signature, AuthorizationForm> {
    let f = Fields::new(pairs);
    let form = AuthorizationForm {
        signature: echo(f.get("signature"), MAX_SIGNATURE),
        consent: f.get("consent") == "yes",
    };
    if let Some(errors) = f.oversized() {
        return Outcome::Invalid { form, errors };
    }
    let mut e = Errors::default();
    let typed = required(
        &mut e,
        "signature",
        "Your full legal name",
        f.get("signature"),
        MAX_SIGNATURE,
    );
    let typed = typed.filter(|t| {
        let ok = name.is_signed_by(t);
        if !ok {
            e.add(
                "signature",
                format!(
                    "Type your full legal name exactly as you gave it: {}.",
                    name.full()
                ),
            );
        }
        ok
    });
    if !form.consent {
        e.add(
            "consent",
            "Tick the box to give your consent. Without it the background check cannot go ahead.",
        );
    }
    match typed {
        Some(typed_name) if e.is_empty() => Outcome::Valid(Signature {
            typed_name,
            signed_on: today,
        }),
        _ => Outcome::Invalid { form, errors: e },
    }
}

#[cfg(test)]
mod tests;
