//! The candidate form's routes: `/candidate/{token}` and one page per step
//! (`/candidate/{token}/{step}`). The token (256 random bits, in the mail's link) is looked up
//! by its SHA-256; an unknown, expired, used or other tenant's token gets the same page, and
//! a client address that keeps trying unknown tokens is slowed down. Each step's answers are
//! checked by `candidate::form` and kept, sealed, in the request's draft; the last step
//! signs the authorization, writes the signed release (PDF), builds the order from the
//! invitation and the answers, and hands it to the orderer in one transaction.
//! Every POST carries a CSRF token matching its cookie (double submit).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::Value;
use tokio::sync::Notify;
use zeroize::Zeroizing;

use super::pages::{no_store, Pages, Tenants};
use super::session::Cookies;
use crate::candidate::form::{
    self, AddressForm, AuthorizationForm, EducationRow, EmploymentRow, Errors, FormRules,
    HistoryForm, HistoryRules, Outcome, PersonalForm,
};
use crate::candidate::page::{self, Common, Step};
use crate::candidate::release::{signed_release, Signer};
use crate::candidate::texts::LegalTexts;
use crate::config::TenantConfig;
use crate::crypto::{Keyring, Place};
use crate::domain::candidate::{answered, Answers};
use crate::domain::ids::TenantKey;
use crate::domain::mapping::{build_order, OrderContext};
use crate::metrics::Metrics;
use crate::store::{CandidateRequest, Store, Submitted};
use crate::time::now_ms;

const CSRF_COOKIE: &str = "cb_candidate_csrf";

type Limiter = governor::DefaultKeyedRateLimiter<String>;

/// What the candidate routes need.
#[derive(Clone)]
pub struct CandidateState {
    pub store: Store,
    pub keyring: Keyring,
    pub tenants: Tenants,
    pub pages: Pages,
    pub cookies: Cookies,
    pub metrics: Arc<Metrics>,
    pub wake_orderer: Arc<Notify>,
    pub public_base_url: String,
    /// Unknown tokens per client address.
    misses: Arc<Limiter>,
}

impl CandidateState {
    pub fn new(
        store: Store,
        keyring: Keyring,
        tenants: Tenants,
        metrics: Arc<Metrics>,
        wake_orderer: Arc<Notify>,
        public_base_url: &str,
    ) -> CandidateState {
        let quota = governor::Quota::per_minute(
            std::num::NonZeroU32::new(20).unwrap_or(std::num::NonZeroU32::MIN),
        );
        CandidateState {
            store,
            keyring,
            tenants,
            pages: Pages::new(),
            cookies: Cookies::for_base_url(public_base_url),
            metrics,
            wake_orderer,
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
            misses: Arc::new(governor::RateLimiter::keyed(quota)),
        }
    }
}

/// The routes (their state given).
pub fn router(state: CandidateState) -> Router {
    Router::new()
        .route("/candidate/{token}", get(start))
        .route("/candidate/{token}/{step}", get(show).post(submit))
        .with_state(state)
}

/// An open request, its tenant and what the candidate entered so far.
struct Open {
    request: CandidateRequest,
    tenant: Arc<TenantConfig>,
    draft: serde_json::Map<String, Value>,
    snapshot: Value,
}

fn peer(connect: Option<Extension<ConnectInfo<SocketAddr>>>) -> String {
    connect
        .map(|Extension(ConnectInfo(a))| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn closed(s: &CandidateState, address: &str) -> Response {
    let limited = s.misses.check_key(&address.to_owned()).is_err();
    let mut r = no_store(page::render_closed(&s.pages));
    *r.status_mut() = if limited {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::NOT_FOUND
    };
    r
}

async fn open(s: &CandidateState, token: &str) -> Option<Open> {
    if token.len() > 100 {
        return None;
    }
    let request = s
        .store
        .candidate_by_token(&crate::sync::candidate::token_hash(token))
        .await
        .ok()??;
    if request.state != "invited" || request.expires_at <= now_ms() {
        return None;
    }
    let tenant = s.tenants.get_arc(&request.tenant)?;
    let snapshot = s
        .keyring
        .open_text(
            Place::candidate(&request.tenant, &request.check_id, "invitation"),
            request.invitation_sealed.as_deref()?,
        )
        .await
        .ok()?;
    let snapshot: Value = serde_json::from_str(&snapshot).ok()?;
    let draft = match &request.draft_sealed {
        Some(d) => {
            let text = s
                .keyring
                .open_text(
                    Place::candidate(&request.tenant, &request.check_id, "draft"),
                    d,
                )
                .await
                .ok()?;
            match serde_json::from_str::<Value>(&text).ok()? {
                Value::Object(m) => m,
                _ => serde_json::Map::new(),
            }
        }
        None => serde_json::Map::new(),
    };
    Some(Open {
        request,
        tenant,
        draft,
        snapshot,
    })
}

fn pairs_of(draft: &serde_json::Map<String, Value>, step: Step) -> Option<Vec<(String, String)>> {
    serde_json::from_value(draft.get(step.slug())?.clone()).ok()
}

/// The first step not yet done.
fn next_step(draft: &serde_json::Map<String, Value>) -> Step {
    Step::ALL
        .into_iter()
        .find(|s| !draft.contains_key(s.slug()))
        .unwrap_or(Step::Authorization)
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn rules(t: &TenantConfig) -> FormRules {
    FormRules {
        address_years: u8::try_from(t.candidate.address_years).unwrap_or(7),
        ..FormRules::default()
    }
}

fn history_rules(snapshot: &Value, t: &TenantConfig) -> HistoryRules {
    let inv: Option<pageup::Invitation> = serde_json::from_value(snapshot.clone()).ok();
    let types = inv
        .map(|i| crate::domain::mapping::search_types(&i, t))
        .unwrap_or_default();
    HistoryRules {
        employment: types.contains(&theary::wire::SearchType::Employment),
        education: types.contains(&theary::wire::SearchType::Education),
    }
}

fn text(v: &Value) -> String {
    v.as_str().map(str::trim).unwrap_or("").to_owned()
}

fn company(t: &TenantConfig, key: &TenantKey) -> String {
    t.name.clone().unwrap_or_else(|| key.to_string())
}

fn texts(t: &TenantConfig, key: &TenantKey) -> LegalTexts {
    LegalTexts::load(t.candidate.templates.as_deref(), &company(t, key))
        .unwrap_or_else(|_| LegalTexts::shipped(&company(t, key)))
}

async fn start(
    State(s): State<CandidateState>,
    Path(token): Path<String>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    let Some(o) = open(&s, &token).await else {
        return closed(&s, &peer(connect));
    };
    Redirect::to(&format!(
        "/candidate/{token}/{}",
        next_step(&o.draft).slug()
    ))
    .into_response()
}

async fn show(
    State(s): State<CandidateState>,
    Path((token, step)): Path<(String, String)>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    let (Some(o), Some(step)) = (open(&s, &token).await, Step::parse(&step)) else {
        return closed(&s, &peer(connect));
    };
    // A step is shown only once the ones before it are done.
    let first_open = next_step(&o.draft);
    if step.number() > first_open.number() {
        return Redirect::to(&format!("/candidate/{token}/{}", first_open.slug())).into_response();
    }
    render(
        &s,
        &o,
        &token,
        step,
        None,
        Errors::default(),
        StatusCode::OK,
    )
}

/// The page of `step`, with what was entered (`posted`) or what is known.
fn render(
    s: &CandidateState,
    o: &Open,
    token: &str,
    step: Step,
    posted: Option<Posted>,
    errors: Errors,
    status: StatusCode,
) -> Response {
    let key = &o.request.tenant;
    let t = &o.tenant;
    let company = company(t, key);
    let job = text(&o.snapshot["job"]["title"]);
    let csrf =
        crate::sync::candidate::token_hash(&format!("{}{}", now_ms(), rand::random::<u64>()));
    let action = format!("/candidate/{token}/{}", step.slug());
    let c = Common {
        company: &company,
        job_title: (!job.is_empty()).then_some(job.as_str()),
        action: &action,
        csrf: &csrf,
    };
    let today = today();
    let ctx =
        match (step, posted) {
            (Step::Personal, Some(Posted::Personal(f))) => page::personal_context(&c, &f, &errors),
            (Step::Personal, _) => {
                let saved = pairs_of(&o.draft, Step::Personal).and_then(|p| {
                    match form::personal_step(&p, today, None) {
                        Outcome::Valid(v) => Some(PersonalForm::from_personal(&v)),
                        _ => None,
                    }
                });
                let f = saved.unwrap_or_else(|| {
                    PersonalForm::prefill(
                        &text(&o.snapshot["candidate"]["firstName"]),
                        &text(&o.snapshot["candidate"]["middleName"]),
                        &text(&o.snapshot["candidate"]["lastName"]),
                    )
                });
                page::personal_context(&c, &f, &errors)
            }
            (Step::Addresses, Some(Posted::Addresses(f))) => {
                page::addresses_context(&c, &f, &errors)
            }
            (Step::Addresses, _) => {
                let r = rules(t);
                let saved = pairs_of(&o.draft, Step::Addresses).and_then(|p| {
                    match form::addresses_step(&p, today, &r) {
                        Outcome::Valid(v) => Some(AddressForm::from_addresses(&v, &r)),
                        _ => None,
                    }
                });
                page::addresses_context(
                    &c,
                    &saved.unwrap_or_else(|| AddressForm::blank(&r)),
                    &errors,
                )
            }
            (Step::History, Some(Posted::History(f))) => page::history_context(&c, &f, &errors),
            (Step::History, _) => page::history_context(&c, &prefill_history(&o.snapshot), &errors),
            (Step::Disclosure, _) => page::disclosure_context(&c, &texts(t, key), &errors),
            (Step::Authorization, posted) => {
                let personal = pairs_of(&o.draft, Step::Personal).and_then(|p| {
                    match form::personal_step(&p, today, None) {
                        Outcome::Valid(v) => Some(v),
                        _ => None,
                    }
                });
                let state = pairs_of(&o.draft, Step::Addresses).and_then(|p| {
                    match form::addresses_step(&p, today, &rules(t)) {
                        Outcome::Valid(v) => Some(v.current.state),
                        _ => None,
                    }
                });
                let Some(personal) = personal else {
                    return Redirect::to(&format!("/candidate/{token}/personal")).into_response();
                };
                let f = match posted {
                    Some(Posted::Authorization(f)) => f,
                    _ => AuthorizationForm::default(),
                };
                page::authorization_context(
                    &c,
                    &texts(t, key),
                    state,
                    &personal.name,
                    &f,
                    &errors,
                    today,
                )
            }
        };
    let mut r = no_store(page::render(&s.pages, step, ctx));
    *r.status_mut() = status;
    if let Ok(v) = s.cookies.set(CSRF_COOKIE, &csrf, 3600).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn prefill_history(snapshot: &Value) -> HistoryForm {
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let employment: Vec<EmploymentRow> = list(&snapshot["employmentHistory"])
        .iter()
        .map(|e| EmploymentRow {
            employer: text(&e["employerName"]),
            position: text(&e["position"]),
            city: text(&e["location"]),
            start: form::month_of(&text(&e["startDate"])),
            end: form::month_of(&text(&e["endDate"])),
            current: e["endDate"].is_null() && !text(&e["startDate"]).is_empty(),
            ..EmploymentRow::default()
        })
        .collect();
    let education: Vec<EducationRow> = list(&snapshot["educationHistory"])
        .iter()
        .map(|e| EducationRow {
            school: text(&e["institutionName"]),
            degree: text(&e["qualification"]),
            major: text(&e["fieldOfStudy"]),
            end: form::month_of(&text(&e["graduationDate"])),
            ..EducationRow::default()
        })
        .collect();
    HistoryForm::prefill(&employment, &education)
}

/// The page a step shows again: the form as posted, its errors, and the status (422 for
/// errors, 200 for a row added or removed).
type Again = Box<(Option<Posted>, Errors, StatusCode)>;

/// A step's outcome: its checked answers, or the page to show again.
fn again<T, F>(
    outcome: Outcome<T, F>,
    posted: impl FnOnce(F) -> Option<Posted>,
) -> Result<T, Again> {
    match outcome {
        Outcome::Valid(v) => Ok(v),
        Outcome::Invalid { form, errors } => Err(Box::new((
            posted(form),
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        ))),
        Outcome::Edit(form) => Err(Box::new((posted(form), Errors::default(), StatusCode::OK))),
    }
}

/// A form as posted back, for showing it again.
enum Posted {
    Personal(PersonalForm),
    Addresses(AddressForm),
    History(HistoryForm),
    Authorization(AuthorizationForm),
}

fn decode(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn submit(
    State(s): State<CandidateState>,
    Path((token, step)): Path<(String, String)>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let address = peer(connect);
    let (Some(mut o), Some(step)) = (open(&s, &token).await, Step::parse(&step)) else {
        // Posted twice, or after expiry: the same page as any unusable link.
        return closed(&s, &address);
    };
    if body.len() > form::MAX_POST_BYTES {
        let mut e = Errors::default();
        e.add(
            "form",
            "The form is too large. Please shorten what you entered.",
        );
        return render(&s, &o, &token, step, None, e, StatusCode::PAYLOAD_TOO_LARGE);
    }
    let pairs = Zeroizing::new(decode(&body));
    let sent = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let expected = super::session::cookie_value(&headers, CSRF_COOKIE).unwrap_or("");
    if sent.is_empty()
        || !bool::from(subtle::ConstantTimeEq::ct_eq(
            sent.as_bytes(),
            expected.as_bytes(),
        ))
    {
        let mut e = Errors::default();
        e.add(
            "form",
            "This page expired. Please enter your answers again and continue.",
        );
        return render(&s, &o, &token, step, None, e, StatusCode::FORBIDDEN);
    }
    let today = today();
    let t = o.tenant.clone();
    let key = o.request.tenant.clone();
    let shown = match step {
        Step::Personal => again(form::personal_step(&pairs, today, None), |f| {
            Some(Posted::Personal(f))
        })
        .map(drop),
        Step::Addresses => again(form::addresses_step(&pairs, today, &rules(&t)), |f| {
            Some(Posted::Addresses(f))
        })
        .map(drop),
        Step::History => again(
            form::history_step(&pairs, today, &history_rules(&o.snapshot, &t)),
            |f| Some(Posted::History(f)),
        )
        .map(drop),
        Step::Disclosure => again(
            form::disclosure_step(&pairs, texts(&t, &key).disclosure()),
            |()| None,
        )
        .map(drop),
        Step::Authorization => {
            return finish(&s, &o, &token, &pairs, &headers, &address).await;
        }
    };
    if let Err(page) = shown {
        let (posted, errors, status) = *page;
        return render(&s, &o, &token, step, posted, errors, status);
    }
    // The pairs are kept as posted (the SSN among them, sealed), so a step is checked
    // again, by the same rules, when the order is built.
    let kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "csrf" && k != "action")
        .cloned()
        .collect();
    o.draft
        .insert(step.slug().to_owned(), serde_json::json!(kept));
    let draft = Zeroizing::new(Value::Object(o.draft.clone()).to_string());
    let sealed = match s
        .keyring
        .seal(
            Place::candidate(&key, &o.request.check_id, "draft"),
            draft.as_bytes(),
        )
        .await
    {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %crate::error::error_chain(&e), "a candidate's answers could not be sealed");
            return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
        }
    };
    match s
        .store
        .save_candidate_draft(&o.request.check_id, &sealed, now_ms())
        .await
    {
        Ok(true) => {}
        Ok(false) => return closed(&s, &address),
        Err(e) => {
            tracing::error!(error = %crate::error::error_chain(&e), "a candidate's answers could not be kept");
            return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
        }
    }
    let next = next_step(&o.draft);
    Redirect::to(&format!("/candidate/{token}/{}", next.slug())).into_response()
}

/// The last step: sign, write the release, build the order and hand it over.
async fn finish(
    s: &CandidateState,
    o: &Open,
    token: &str,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    address: &str,
) -> Response {
    let today = today();
    let t = &o.tenant;
    let key = &o.request.tenant;
    let id = &o.request.check_id;
    let step_valid = |step: Step| pairs_of(&o.draft, step);
    let (Some(p), Some(a), Some(h), Some(_)) = (
        step_valid(Step::Personal),
        step_valid(Step::Addresses),
        step_valid(Step::History),
        step_valid(Step::Disclosure),
    ) else {
        return Redirect::to(&format!(
            "/candidate/{token}/{}",
            next_step(&o.draft).slug()
        ))
        .into_response();
    };
    let (Outcome::Valid(personal), Outcome::Valid(addresses), Outcome::Valid(history)) = (
        form::personal_step(&p, today, None),
        form::addresses_step(&a, today, &rules(t)),
        form::history_step(&h, today, &history_rules(&o.snapshot, t)),
    ) else {
        return Redirect::to(&format!("/candidate/{token}/personal")).into_response();
    };
    let signature = match again(
        form::authorization_step(pairs, &personal.name, today),
        |f| Some(Posted::Authorization(f)),
    ) {
        Ok(sig) => sig,
        Err(page) => {
            let (posted, errors, status) = *page;
            return render(s, o, token, Step::Authorization, posted, errors, status);
        }
    };
    let texts = texts(t, key);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect::<String>();
    let state = Some(addresses.current.state);
    let (typed, ip, signed_at) = (signature.typed_name.clone(), address.to_owned(), now_ms());
    let release = tokio::task::spawn_blocking(move || {
        signed_release(
            &texts,
            state,
            &Signer {
                typed_name: &typed,
                signed_at_ms: signed_at,
                ip: &ip,
                user_agent: &user_agent,
            },
        )
    })
    .await;
    let release = match release {
        Ok(Ok(r)) => r,
        _ => {
            tracing::error!(tenant = %key, check = %id, "the signed release could not be written");
            return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
        }
    };
    let order = match order_for(s, o, &personal, &addresses, &history, &release.pdf).await {
        Ok(order) => order,
        Err(why) => {
            tracing::error!(tenant = %key, check = %id, reason = %why, "the candidate's answers did not make an order");
            let mut e = Errors::default();
            e.add("form", "Your answers could not be sent. Please check them and try again, or contact the company that invited you.");
            return render(
                s,
                o,
                token,
                Step::Authorization,
                None,
                e,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    match s.store.submit_candidate(id, &order, now_ms()).await {
        Ok(Submitted::Now) => {
            s.metrics.candidate("submitted", key.as_str());
            s.metrics.candidate_submitted(
                key.as_str(),
                std::time::Duration::from_millis(
                    u64::try_from(now_ms() - o.request.invited_at).unwrap_or(0),
                ),
            );
            s.wake_orderer.notify_one();
            tracing::info!(tenant = %key, check = %id, "the candidate submitted the candidate form");
            no_store(page::render_done(
                &s.pages,
                page::done_context(&company(t, key)),
            ))
        }
        Ok(Submitted::Closed) => closed(s, address),
        Err(e) => {
            tracing::error!(error = %crate::error::error_chain(&e), "a candidate's submission could not be recorded");
            (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response()
        }
    }
}

/// The order, sealed, from the invitation and the candidate's answers.
async fn order_for(
    s: &CandidateState,
    o: &Open,
    personal: &form::Personal,
    addresses: &form::Addresses,
    history: &form::History,
    release_pdf: &[u8],
) -> Result<String, String> {
    let key = &o.request.tenant;
    let id = &o.request.check_id;
    let record = s
        .store
        .check_record(key, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the check is gone")?;
    let sealed_secret = s
        .store
        .candidate_webhook_secret(key, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the check is gone")?;
    let secret = s
        .keyring
        .open_text(Place::webhook_secret(key, id), &sealed_secret)
        .await
        .map_err(|e| e.to_string())?;
    let inv = answered(
        &o.snapshot,
        &Answers {
            personal,
            addresses,
            history,
            release_pdf,
        },
    )?;
    // Built in a block of its own: the context's closure is not held across an await.
    let json = {
        let search_key = |ty: &theary::wire::SearchType| {
            record
                .searches
                .iter()
                .find(|s| &s.search_type == ty)
                .map(|s| s.id.as_str().to_owned())
                .unwrap_or_default()
        };
        let today = crate::time::rfc3339(now_ms());
        let ctx = OrderContext {
            tenant_key: key,
            public_base_url: &s.public_base_url,
            webhook_secret: &secret,
            search_key: &search_key,
            today: today.get(..10).unwrap_or_default(),
        };
        let order = build_order(&inv, &o.tenant, &ctx).map_err(|e| e.reason_for_fail())?;
        Zeroizing::new(serde_json::to_string(&order).map_err(|e| e.to_string())?)
    };
    s.keyring
        .seal(Place::order(key, id), json.as_bytes())
        .await
        .map_err(|e| e.to_string())
}
