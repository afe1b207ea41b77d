//! Invitation to order. Anything an order needs that the invitation lacks is collected, in a
//! recruiter's words, into one `reasonForFail`, so the recruiter can fix everything at once.

use base64::Engine as _;
use pageup::wire::{Document, Invitation};
use theary::wire::{
    Address, Alias, Applicant, BusinessContext, EducationHistory, EmploymentHistory, Endpoints,
    EventType, History, Notifications, OrderRequest, PositionLevel, SearchConfig, SearchType,
    SearchTypeRequest, Secret, WebhookConfig, WebhookTarget,
};

use super::ids::TenantKey;
use crate::config::TenantConfig;

/// What the order needs from us besides the invitation.
#[derive(Clone)]
pub struct OrderContext<'a> {
    /// Our tenant key (part of the webhook URLs).
    pub tenant_key: &'a TenantKey,
    /// `service.public_base_url`.
    pub public_base_url: &'a str,
    /// The per-order webhook secret.
    pub webhook_secret: &'a str,
    /// Our id for each search, sent as `externalSearchId`: called with the search type.
    pub search_key: &'a dyn Fn(&SearchType) -> String,
    /// Today as `YYYY-MM-DD` (UTC): where a criminal check's address lookback starts from.
    pub today: &'a str,
}

impl std::fmt::Debug for OrderContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderContext")
            .field("tenant_key", &self.tenant_key)
            .field("public_base_url", &self.public_base_url)
            .field("webhook_secret", &"<redacted>")
            .field("today", &self.today)
            .finish_non_exhaustive()
    }
}

/// Why an invitation cannot become an order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MappingError {
    /// Fields the recruiter must fill in, in their words.
    pub missing: Vec<String>,
    /// Fields present but unusable, with why.
    pub invalid: Vec<String>,
    /// What was asked for that this organisation's setup does not offer, in full sentences
    /// that say what to do instead.
    pub refused: Vec<String>,
    /// Of `missing` and `invalid`, the entries the candidate could supply through the
    /// candidate form instead of the recruiter (see [`MappingError::candidate_can_fix`]).
    pub from_candidate: Vec<crate::domain::candidate::CandidateField>,
}

impl MappingError {
    /// Whether everything wrong is something the candidate can supply: nothing refused and
    /// every missing or invalid field one the candidate form asks for.
    pub fn candidate_can_fix(&self) -> bool {
        self.refused.is_empty()
            && !self.from_candidate.is_empty()
            && self.from_candidate.len() == self.missing.len() + self.invalid.len()
    }
}

impl MappingError {
    /// The `reasonForFail` shown to the recruiter in PageUp.
    pub fn reason_for_fail(&self) -> String {
        if !self.refused.is_empty() && self.missing.is_empty() && self.invalid.is_empty() {
            return format!(
                "The background check could not be ordered: {}",
                self.refused.join(" ")
            );
        }
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "missing mandatory fields: {}",
                self.missing.join(", ")
            ));
        }
        if !self.invalid.is_empty() {
            parts.push(format!(
                "fields that need correcting: {}",
                self.invalid.join("; ")
            ));
        }
        let fields = format!(
            "The background check could not be ordered because of {}. Please fill in or correct these in PageUp and try again.",
            parts.join(", and ")
        );
        if self.refused.is_empty() {
            fields
        } else {
            format!("{fields} Also: {}", self.refused.join(" "))
        }
    }
}

/// The Theary search types an invitation asks for: its check-type codes and package code,
/// mapped through the tenant's configuration, else the tenant's defaults. Order is kept,
/// duplicates dropped.
pub fn search_types(inv: &Invitation, tenant: &TenantConfig) -> Vec<SearchType> {
    fn push(out: &mut Vec<SearchType>, t: &str) {
        let st = SearchType::parse(t);
        if !out.contains(&st) {
            out.push(st);
        }
    }
    let mut out: Vec<SearchType> = Vec::new();
    for code in inv.check_types.iter().chain(inv.package_code.iter()) {
        let upper = code.to_ascii_uppercase();
        if let Some(types) = tenant.checks.packages.get(&upper) {
            types.iter().for_each(|t| push(&mut out, t));
        } else if matches!(upper.as_str(), "EMPLOYMENT" | "EDUCATION") {
            push(&mut out, &upper);
        }
    }
    if out.is_empty() {
        tenant
            .checks
            .default_search_types
            .iter()
            .for_each(|t| push(&mut out, t));
    }
    out
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && s[5..7].parse::<u8>().is_ok_and(|m| (1..=12).contains(&m))
        && s[8..10].parse::<u8>().is_ok_and(|d| (1..=31).contains(&d))
}

/// A date as `YYYY-MM-DD`, accepting a full timestamp (`1990-05-15T00:00:00Z`).
pub(crate) fn date(s: &str) -> Option<String> {
    let head = s.get(..10)?;
    is_date(head).then(|| head.to_owned())
}

/// An SSN as `XXX-XX-XXXX`, accepting nine digits with or without separators.
fn ssn(s: &str) -> Option<String> {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let only_separators = s
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ');
    (digits.len() == 9 && only_separators)
        .then(|| format!("{}-{}-{}", &digits[..3], &digits[3..5], &digits[5..]))
}

fn is_email(s: &str) -> bool {
    let mut parts = s.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !s.contains(' '))
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The signed release as Theary takes it: an HTTPS URL, or the PDF inline (at most 10 MB).
pub(crate) fn signed_release(docs: &[Document]) -> Option<String> {
    let doc = docs.iter().find(|d| {
        d.document_type.as_deref().is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t.contains("release") || t.contains("consent") || t.contains("authori")
        })
    })?;
    if let Some(url) = doc.url.as_deref().filter(|u| u.starts_with("https://")) {
        return Some(url.to_owned());
    }
    let bytes = doc.content.as_ref()?.bytes()?;
    (bytes.starts_with(b"%PDF") && bytes.len() <= 10 * 1024 * 1024).then(|| {
        format!(
            "data:application/pdf;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    })
}

fn webhook_config(ctx: &OrderContext<'_>, types: &[SearchType]) -> WebhookConfig {
    let base = ctx.public_base_url.trim_end_matches('/');
    let all = vec![
        EventType::Completed,
        EventType::ActionRequired,
        EventType::Notification,
    ];
    let target = |url: String| WebhookTarget {
        url,
        events: Some(all.clone()),
        ..Default::default()
    };
    WebhookConfig {
        enabled: Some(true),
        secret: Some(Secret::new(ctx.webhook_secret)),
        retry_attempts: Some(5),
        closeout_endpoints: Some(
            types
                .iter()
                .map(|t| {
                    let url = format!(
                        "{base}/webhooks/theary/{}/{}",
                        ctx.tenant_key,
                        t.as_str().to_ascii_lowercase()
                    );
                    (t.as_str().to_owned(), Endpoints::Target(target(url)))
                })
                .collect(),
        ),
        fallback_endpoint: Some(Endpoints::Target(target(format!(
            "{base}/webhooks/theary/{}",
            ctx.tenant_key
        )))),
    }
}

/// Builds the order, or says every field the recruiter must fix.
pub fn build_order(
    inv: &Invitation,
    tenant: &TenantConfig,
    ctx: &OrderContext<'_>,
) -> Result<OrderRequest, MappingError> {
    use crate::domain::candidate::CandidateField;
    let mut missing: Vec<String> = Vec::new();
    let mut invalid: Vec<String> = Vec::new();
    let mut from_candidate: Vec<CandidateField> = Vec::new();
    let c = &inv.candidate;
    let first = nonempty(&c.first_name);
    let last = nonempty(&c.last_name);
    if first.is_none() {
        missing.push("candidate first name".into());
    }
    if last.is_none() {
        missing.push("candidate last name".into());
    }
    let national_id = match nonempty(&c.national_id) {
        None => {
            missing.push("candidate national id (SSN)".into());
            from_candidate.push(CandidateField::Ssn);
            None
        }
        Some(raw) => {
            let parsed = ssn(&raw);
            if parsed.is_none() {
                invalid
                    .push("candidate national id (SSN) must have 9 digits, as 123-45-6789".into());
                from_candidate.push(CandidateField::Ssn);
            }
            parsed
        }
    };
    let birthday = nonempty(&c.date_of_birth).and_then(|d| {
        let parsed = date(&d);
        if parsed.is_none() {
            invalid.push("candidate date of birth must be a date (YYYY-MM-DD)".into());
            from_candidate.push(CandidateField::DateOfBirth);
        }
        parsed
    });
    let email = nonempty(&c.email).filter(|e| {
        let ok = is_email(e);
        if !ok {
            invalid.push("candidate email is not a valid address".into());
        }
        ok
    });

    // Addresses are optional for Theary; sent only as a set it accepts (one current).
    let addresses: Vec<Address> = c
        .addresses
        .iter()
        .filter_map(|a| {
            Some(Address {
                address_type: nonempty(&a.address_type).unwrap_or_else(|| "home".to_owned()),
                address_line1: nonempty(&a.line1)?,
                address_line2: nonempty(&a.line2),
                address_city: nonempty(&a.city)?,
                address_state: nonempty(&a.state).filter(|s| s.len() == 2)?,
                address_zip_code: nonempty(&a.postcode).filter(|z| z.len() <= 10)?,
                address_country: nonempty(&a.country).filter(|c| c.len() == 2),
                start_date: nonempty(&a.from_date).and_then(|d| date(&d))?,
                end_date: nonempty(&a.to_date).and_then(|d| date(&d)),
            })
        })
        .collect();
    let current = addresses.iter().filter(|a| a.end_date.is_none()).count();
    let addresses = if current == 1 && addresses.len() == c.addresses.len() {
        addresses
    } else {
        Vec::new()
    };
    let aliases: Vec<Alias> = c
        .aliases
        .iter()
        .filter_map(|a| {
            Some(Alias {
                first_name: nonempty(&a.first_name)?,
                last_name: nonempty(&a.last_name)?,
                middle_name: nonempty(&a.middle_name),
                suffix: nonempty(&a.suffix),
            })
        })
        .collect();

    let job = &inv.job;
    let business = &tenant.business;
    let entity_name = business
        .entity_name
        .clone()
        .filter(|s| !s.trim().is_empty());
    if entity_name.is_none() {
        missing.push(
            "organisation name (ask your checkbridge administrator to set business.entity_name)"
                .into(),
        );
    }
    let title = nonempty(&job.title);
    if title.is_none() {
        missing.push("job title".into());
    }
    let city = nonempty(&job.worksite.city);
    if city.is_none() {
        missing.push("job worksite city".into());
    }
    let state = match nonempty(&job.worksite.state) {
        None => {
            missing.push("job worksite state".into());
            None
        }
        Some(s) if s.len() == 2 => Some(s.to_ascii_uppercase()),
        Some(_) => {
            invalid.push("job worksite state must be a two-letter code such as CA".into());
            None
        }
    };
    let salary = match job.salary {
        None => {
            missing.push("job salary".into());
            None
        }
        Some(v) if v < 0.0 => {
            invalid.push("job salary must not be negative".into());
            None
        }
        Some(v) => Some(v),
    };

    let types = search_types(inv, tenant);
    let employment: Vec<EmploymentHistory> = inv
        .employment_history
        .iter()
        .filter_map(|e| {
            Some(EmploymentHistory {
                employer_name: nonempty(&e.employer_name)?,
                position: nonempty(&e.position)?,
                employer_location: nonempty(&e.location),
                employer_email: nonempty(&e.email).filter(|m| is_email(m)),
                employer_phone: nonempty(&e.phone),
                start_date: nonempty(&e.start_date).and_then(|d| date(&d)),
                end_date: nonempty(&e.end_date).and_then(|d| date(&d)),
            })
        })
        .collect();
    let education: Vec<EducationHistory> = inv
        .education_history
        .iter()
        .filter_map(|e| {
            Some(EducationHistory {
                institution_name: nonempty(&e.institution_name)?,
                qualification: nonempty(&e.qualification)?,
                field_of_study: nonempty(&e.field_of_study)?,
                graduation_date: nonempty(&e.graduation_date).and_then(|d| date(&d))?,
                institution_contact_email: nonempty(&e.email).filter(|m| is_email(m)),
                institution_contact_phone: nonempty(&e.phone),
            })
        })
        .collect();
    if types.contains(&SearchType::Employment) && employment.is_empty() {
        missing.push("employment history (employer name and position)".into());
        from_candidate.push(CandidateField::EmploymentHistory);
    }
    if types.contains(&SearchType::Education) && education.is_empty() {
        missing.push(
            "education history (institution, qualification, field of study and graduation date)"
                .into(),
        );
        from_candidate.push(CandidateField::EducationHistory);
    }
    let mut refused = Vec::new();
    if types.contains(&SearchType::Criminal) && !tenant.theary.criminal {
        refused.push(
            "the package asks for a criminal record check, which this organisation's background \
             check account does not offer. Please order a package without a criminal check, or ask \
             your checkbridge administrator to enable criminal checks for this account."
                .to_owned(),
        );
    }
    if !missing.is_empty() || !invalid.is_empty() || !refused.is_empty() {
        return Err(MappingError {
            missing,
            invalid,
            refused,
            from_candidate,
        });
    }
    let (
        Some(first_name),
        Some(last_name),
        Some(ssn),
        Some(entity_name),
        Some(title),
        Some(city),
        Some(state),
        Some(salary),
    ) = (
        first,
        last,
        national_id,
        entity_name,
        title,
        city,
        state,
        salary,
    )
    else {
        // Every None above was recorded as missing or invalid, which returned already.
        return Err(MappingError {
            missing: vec!["required fields".into()],
            ..MappingError::default()
        });
    };

    let worksite_state = state.clone();
    let webhook = webhook_config(ctx, &types);
    let search_types = types
        .iter()
        .map(|t| SearchTypeRequest {
            search_type: t.clone(),
            external_search_id: Some((ctx.search_key)(t)),
            questionnaire_url: None,
            questionnaire_access_code: None,
            // Theary's quick start routes progress and action-required events per search.
            search_config: Some(SearchConfig {
                notifications: Some(Notifications {
                    webhook_override: Some(webhook.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        })
        .collect();
    Ok(OrderRequest {
        applicant: Applicant {
            first_name,
            last_name,
            ssn,
            birthday,
            phone: nonempty(&c.phone),
            email,
            signed_release_file_url: signed_release(&inv.documents),
            addresses,
            applicant_alias: aliases,
        },
        business_context: BusinessContext {
            entity_name,
            applied_job_title: title,
            worksite_city: city,
            worksite_state: state,
            proposed_salary: salary,
            position_level: business.position_level.as_deref().map(PositionLevel::parse),
            security_clearance_required: business.security_clearance_required,
            industry_sector: business.industry_sector.clone(),
        },
        search_types,
        history: Some(History {
            employment,
            education,
        }),
        default_search_config: None,
        criminal_check: types
            .contains(&SearchType::Criminal)
            .then(|| criminal_check(inv, tenant, &worksite_state, ctx.today)),
        webhook_config: Some(webhook),
    })
}

/// `criminalCheck` for an order with a CRIMINAL search: jurisdictions from the candidate's
/// recent addresses and the worksite (see [`crate::config::tenant::CriminalMapping`]), and
/// the business context the order document lists.
fn criminal_check(
    inv: &Invitation,
    tenant: &TenantConfig,
    worksite_state: &str,
    today: &str,
) -> serde_json::Value {
    let rules = &tenant.criminal;
    // Addresses that ended before this date are outside the lookback.
    let cutoff = today
        .get(..4)
        .and_then(|y| y.parse::<u64>().ok())
        .map(|y| format!("{}{}", y.saturating_sub(rules.lookback_years), &today[4..]))
        .unwrap_or_default();
    let mut places: Vec<[(&str, String); 5]> = Vec::new();
    for a in &inv.candidate.addresses {
        let ended = nonempty(&a.to_date).and_then(|d| date(&d));
        if ended.is_some_and(|d| d < cutoff) {
            continue;
        }
        let Some(state) = nonempty(&a.state) else {
            continue;
        };
        places.push([
            ("state", state.to_ascii_uppercase()),
            (
                "country",
                nonempty(&a.country).unwrap_or_else(|| rules.default_country.clone()),
            ),
            ("city", nonempty(&a.city).unwrap_or_default()),
            ("zip", nonempty(&a.postcode).unwrap_or_default()),
            ("source", "address".to_owned()),
        ]);
    }
    if rules.include_worksite {
        places.push([
            ("state", worksite_state.to_owned()),
            ("country", rules.default_country.clone()),
            ("city", nonempty(&inv.job.worksite.city).unwrap_or_default()),
            ("zip", String::new()),
            ("source", "worksite".to_owned()),
        ]);
    }
    let mut jurisdictions: Vec<serde_json::Value> = Vec::new();
    for place in &places {
        let j = serde_json::Value::Object(
            rules
                .jurisdiction
                .iter()
                .map(|(k, v)| (k.clone(), fill(v, place)))
                .collect(),
        );
        // The same jurisdiction from two places is searched once; `{source}` in a template
        // makes an address and the worksite distinct on purpose.
        if !jurisdictions.contains(&j) {
            jurisdictions.push(j);
        }
    }
    let business = &tenant.business;
    let mut check = serde_json::json!({
        "jurisdictions": jurisdictions,
        "worksiteState": worksite_state,
    });
    if let Some(level) = &business.position_level {
        check["positionLevel"] = level.clone().into();
    }
    if let Some(clearance) = business.security_clearance_required {
        check["securityClearanceRequired"] = clearance.into();
    }
    if let Some(sector) = &business.industry_sector {
        check["industrySector"] = sector.clone().into();
    }
    check
}

/// A template value with `{name}` placeholders filled in from `place`.
fn fill(template: &serde_json::Value, place: &[(&str, String)]) -> serde_json::Value {
    match template {
        serde_json::Value::String(t) => {
            let mut out = t.clone();
            for (name, value) in place {
                out = out.replace(&format!("{{{name}}}"), value);
            }
            serde_json::Value::String(out)
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(|i| fill(i, place)).collect())
        }
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, place)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Turns Theary's 400 messages into a `reasonForFail` a recruiter can act on.
pub fn theary_rejection_reason(messages: &[String]) -> String {
    let translated: Vec<String> = messages.iter().map(|m| translate(m)).collect();
    format!(
        "The background check provider could not accept the order: {}. Please correct these in PageUp and try again.",
        translated.join("; ")
    )
}

fn translate(message: &str) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("applicant.firstName", "candidate first name"),
        ("applicant.lastName", "candidate last name"),
        ("applicant.ssn", "candidate national id (SSN)"),
        ("applicant.birthday", "candidate date of birth"),
        ("applicant.email", "candidate email"),
        ("applicant.phone", "candidate phone"),
        ("applicant.addresses", "candidate addresses"),
        ("applicant.signedReleaseFileUrl", "signed release document"),
        ("businessContext.entityName", "organisation name"),
        ("businessContext.appliedJobTitle", "job title"),
        ("businessContext.worksiteCity", "job worksite city"),
        ("businessContext.worksiteState", "job worksite state"),
        ("businessContext.proposedSalary", "job salary"),
        ("history.employment", "employment history"),
        ("history.education", "education history"),
    ];
    let mut out = message.to_owned();
    for (path, name) in NAMES {
        if out.contains(path) {
            out = out.replacen(path, name, 1);
            break;
        }
        // Theary names business-context fields bare as well ("entityName should not be
        // empty"): the field at the start of the message, followed by a word.
        if let Some(rest) = path
            .strip_prefix("businessContext.")
            .and_then(|field| out.strip_prefix(field))
            .filter(|rest| rest.starts_with(' '))
        {
            out = format!("{name}{rest}");
            break;
        }
    }
    out.replace("should not be empty", "is missing")
}

#[cfg(test)]
mod tests;
