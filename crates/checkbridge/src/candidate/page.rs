//! The form's pages: one template per step (`templates/candidate_*.html`, registered with
//! the other pages in `http::pages`), rendered through [`Pages`] so the routes answer them
//! like any other page. Each `*_context` builds the step's context from its form and
//! errors; [`render`] adds the step indicator and renders it.
//!
//! The pages need no JavaScript and load nothing from elsewhere: the one stylesheet is the
//! service's own. Every input has a `<label for>`, an error sits next to its field and is
//! tied to it with `aria-describedby` and `aria-invalid`, groups are fieldsets with legends,
//! and an error summary at the top links to each field in error.

use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Value};
use time::Date;

use super::form::{
    AddressForm, AuthorizationForm, Errors, HistoryForm, LegalName, PersonalForm, UsState,
    US_STATES,
};
use super::texts::{blocks, LegalTexts, FCRA_SUMMARY_URL};
use crate::http::pages::Pages;

/// The steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Personal,
    Addresses,
    History,
    Disclosure,
    Authorization,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::Personal,
        Step::Addresses,
        Step::History,
        Step::Disclosure,
        Step::Authorization,
    ];

    /// The step's name in URLs and forms.
    pub fn slug(self) -> &'static str {
        match self {
            Step::Personal => "personal",
            Step::Addresses => "addresses",
            Step::History => "history",
            Step::Disclosure => "disclosure",
            Step::Authorization => "authorization",
        }
    }

    /// The step as the indicator names it.
    pub fn title(self) -> &'static str {
        match self {
            Step::Personal => "Personal details",
            Step::Addresses => "Addresses",
            Step::History => "Work and education",
            Step::Disclosure => "Disclosure",
            Step::Authorization => "Authorization",
        }
    }

    /// The step's template.
    pub fn template(self) -> &'static str {
        match self {
            Step::Personal => "candidate_personal.html",
            Step::Addresses => "candidate_addresses.html",
            Step::History => "candidate_history.html",
            Step::Disclosure => "candidate_disclosure.html",
            Step::Authorization => "candidate_authorization.html",
        }
    }

    /// 1-based position.
    pub fn number(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    /// The step of a slug.
    pub fn parse(slug: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.slug() == slug)
    }
}

/// What every step's page needs: who asks, where the form posts, its CSRF token.
#[derive(Debug, Clone, Copy)]
pub struct Common<'a> {
    /// The tenant's display name.
    pub company: &'a str,
    /// The job applied for, if known.
    pub job_title: Option<&'a str>,
    /// Where the step's form posts (its own URL).
    pub action: &'a str,
    /// The CSRF token for the hidden `csrf` field.
    pub csrf: &'a str,
}

fn common(c: &Common<'_>, errors: &Errors) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("company".into(), json!(c.company));
    m.insert("job_title".into(), json!(c.job_title));
    m.insert("action".into(), json!(c.action));
    m.insert("csrf".into(), json!(c.csrf));
    m.insert("errors".into(), json!(errors));
    // The summary, in the order the errors were found: the order of the fields.
    let summary: Vec<Value> = errors
        .iter()
        .map(|(field, message)| json!({ "field": anchor(field), "message": message }))
        .collect();
    m.insert("error_summary".into(), Value::Array(summary));
    m
}

/// The element an error's summary entry links to.
fn anchor(field: &str) -> Option<String> {
    match field {
        "form" => None,
        "current" => Some("current-group".to_owned()),
        "coverage" => Some("coverage".to_owned()),
        f => Some(f.to_owned()),
    }
}

fn states() -> Value {
    Value::Array(
        US_STATES
            .iter()
            .map(|(code, name)| json!({ "code": code, "name": name }))
            .collect(),
    )
}

/// The personal-details page.
pub fn personal_context(c: &Common<'_>, form: &PersonalForm, errors: &Errors) -> Value {
    let mut m = common(c, errors);
    m.insert("form".into(), json!(form));
    m.insert(
        "max_other_names".into(),
        json!(super::form::MAX_OTHER_NAMES),
    );
    Value::Object(m)
}

/// The addresses page.
pub fn addresses_context(c: &Common<'_>, form: &AddressForm, errors: &Errors) -> Value {
    let mut m = common(c, errors);
    m.insert("form".into(), json!(form));
    m.insert("states".into(), states());
    m.insert("max_rows".into(), json!(super::form::MAX_ADDRESSES));
    Value::Object(m)
}

/// The work-and-education page.
pub fn history_context(c: &Common<'_>, form: &HistoryForm, errors: &Errors) -> Value {
    let mut m = common(c, errors);
    m.insert("form".into(), json!(form));
    m.insert("states".into(), states());
    m.insert("max_employment".into(), json!(super::form::MAX_EMPLOYMENT));
    m.insert("max_education".into(), json!(super::form::MAX_EDUCATION));
    Value::Object(m)
}

/// The standalone disclosure page: the text and one button.
pub fn disclosure_context(c: &Common<'_>, texts: &LegalTexts, errors: &Errors) -> Value {
    let mut m = common(c, errors);
    m.insert("disclosure".into(), json!(blocks(texts.disclosure())));
    Value::Object(m)
}

/// The authorization page: the text, the notice for the candidate's `state`, the link to
/// the summary of rights, and the e-signature with `today`'s date (UTC).
pub fn authorization_context(
    c: &Common<'_>,
    texts: &LegalTexts,
    state: Option<UsState>,
    name: &LegalName,
    form: &AuthorizationForm,
    errors: &Errors,
    today: Date,
) -> Value {
    let mut m = common(c, errors);
    m.insert("authorization".into(), json!(blocks(texts.authorization())));
    let notice = state.and_then(|s| texts.notice(s)).map(blocks);
    m.insert("notice".into(), json!(notice));
    m.insert("summary_url".into(), json!(FCRA_SUMMARY_URL));
    m.insert("legal_name".into(), json!(name.full()));
    m.insert("form".into(), json!(form));
    m.insert(
        "today".into(),
        json!(format!(
            "{:04}-{:02}-{:02}",
            today.year(),
            u8::from(today.month()),
            today.day()
        )),
    );
    Value::Object(m)
}

/// The page after the last step.
pub fn done_context(company: &str) -> Value {
    json!({ "company": company })
}

/// `step`'s page filled with `ctx` (one of the `*_context` values, or the lead's own),
/// with the step indicator added.
pub fn render(pages: &Pages, step: Step, ctx: Value) -> Response {
    pages.render(step.template(), with_steps(step, ctx))
}

/// The page after submission ("thank you").
pub fn render_done(pages: &Pages, ctx: Value) -> Response {
    pages.render("candidate_done.html", ctx)
}

/// The one page for a link that cannot be used: unknown, expired, already used, or
/// another tenant's. It says nothing about which.
pub fn render_closed(pages: &Pages) -> Response {
    pages.render("candidate_closed.html", json!({}))
}

fn with_steps(step: Step, ctx: Value) -> Value {
    let mut m = match ctx {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let steps: Vec<Value> = Step::ALL
        .iter()
        .map(|s| {
            json!({
                "number": s.number(),
                "title": s.title(),
                "current": *s == step,
                "done": s.number() < step.number(),
            })
        })
        .collect();
    m.insert("steps".into(), Value::Array(steps));
    m.insert("step_number".into(), json!(step.number()));
    m.insert("step_count".into(), json!(Step::ALL.len()));
    m.insert("step_title".into(), json!(step.title()));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::super::form::{self, Outcome};
    use super::*;

    async fn html(r: Response) -> String {
        assert_eq!(r.status(), axum::http::StatusCode::OK);
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    const C: Common<'static> = Common {
        company: "Acme <i>Corp</i>",
        job_title: Some("Clerk"),
        action: "/candidate/t0k3n/personal",
        csrf: "csrf-value",
    };

    fn post(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn a_page_with_errors_escapes_what_was_typed_and_never_shows_the_ssn() {
        let pages = Pages::new();
        let pairs = post(&[
            ("first_name", "<script>alert(1)</script>"),
            ("last_name", ""),
            ("date_of_birth", "2099-01-01"),
            ("ssn", "234-56-7891"),
            ("ssn_confirm", "234-56-7892"),
        ]);
        let Outcome::Invalid { form, errors } =
            form::personal_step(&pairs, date!(2026 - 05 - 15), None)
        else {
            panic!("accepted");
        };
        let page = html(render(
            &pages,
            Step::Personal,
            personal_context(&C, &form, &errors),
        ))
        .await;
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{page}"
        );
        assert!(!page.contains("<script>"));
        assert!(page.contains("Acme &lt;i&gt;Corp&lt;&#x2f;i&gt;"));
        assert!(!page.contains("7891") && !page.contains("7892"));
        assert!(page.contains(r#"aria-describedby="date_of_birth-hint date_of_birth-error""#));
        assert!(page.contains(r#"aria-current="step""#));
        assert!(page.contains("Step 1 of 5"));
        assert!(page.contains(r##"<a href="#last_name">"##));
        assert!(page.contains(r#"name="csrf" value="csrf-value""#));
    }

    #[tokio::test]
    async fn every_step_renders_blank() {
        let pages = Pages::new();
        let texts = LegalTexts::shipped("Acme");
        let rules = form::FormRules::default();
        let name = LegalName {
            first: "Ann".into(),
            middle: None,
            last: "Lee".into(),
        };
        let none = Errors::default();
        for (step, ctx) in [
            (
                Step::Personal,
                personal_context(&C, &PersonalForm::prefill("Ann", "", "Lee"), &none),
            ),
            (
                Step::Addresses,
                addresses_context(&C, &AddressForm::blank(&rules), &none),
            ),
            (
                Step::History,
                history_context(&C, &HistoryForm::prefill(&[], &[]), &none),
            ),
            (Step::Disclosure, disclosure_context(&C, &texts, &none)),
            (
                Step::Authorization,
                authorization_context(
                    &C,
                    &texts,
                    UsState::parse("CA"),
                    &name,
                    &AuthorizationForm::default(),
                    &none,
                    date!(2026 - 05 - 15),
                ),
            ),
        ] {
            let page = html(render(&pages, step, ctx)).await;
            assert!(page.contains("<h1>"), "{step:?}");
            if step == Step::Disclosure {
                assert!(!page.contains("Step 4"), "the disclosure stands alone");
                assert_eq!(page.matches("<button").count(), 1);
            }
            if step == Step::Authorization {
                assert!(page.contains("Notice for candidates living in California"));
                assert!(page.contains("files.consumerfinance.gov"));
                assert!(page.contains("2026-05-15"));
            }
        }
        let page = html(render_closed(&pages)).await;
        assert!(page.contains("cannot be used"));
        let page = html(render_done(&pages, done_context("Acme"))).await;
        assert!(page.contains("Thank you"));
    }
}
