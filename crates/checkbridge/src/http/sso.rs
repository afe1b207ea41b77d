//! Single sign-on through each tenant's OpenID Connect identity provider
//! (`[tenants.KEY.sso]`). A report link opened without a session leads to
//! `/sso/{tenant}/start`, which sends the browser to the tenant's provider with an
//! authorization-code request (PKCE S256, a random `state` and `nonce`); the provider sends it
//! back to `/sso/{tenant}/callback`, where the code is exchanged for an ID token that is
//! checked against the provider's keys (JWKS), our client id as audience, its expiry, and the
//! nonce. The user must have an allowed email domain and/or the required group. Then the
//! reader (one per tenant, issuer and subject) gets a session exactly as a password sign-in
//! does, the sign-in is in the access record with the provider's subject, and the browser
//! returns to the report it asked for.
//!
//! The sign-in in progress (nonce, PKCE verifier, where to return) waits in the database,
//! keyed by a digest of `state`, so any replica can finish it, and it is taken when the
//! browser returns: a replayed callback finds nothing. The browser also holds the `state` in
//! a cookie, so a callback link someone else started does not sign this browser in. The
//! provider's discovery document and keys are cached per tenant for
//! `metadata_refresh_secs`, and fetched again at once for a token signed with a key they do
//! not have. Nothing here logs a code, a token, a nonce or a verifier.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRef, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, TokenResponse as _,
};
use secrecy::ExposeSecret as _;
use serde_json::Value;

use super::pages::{no_store, not_found, sso_start_path as start_path, Pages, Tenants};
use super::session::{cookie_value, digest, safe_next, start_session, Cookies, LoginThrottle};
use crate::config::SsoSection;
use crate::domain::check::AccessAction;
use crate::domain::ids::{CheckId, TenantKey};
use crate::store::{PendingSignIn, SsoReader, Store};
use crate::time::now_ms;

/// The cookie that ties a sign-in in progress to the browser that started it.
const STATE_COOKIE: &str = "cb_sso_state";

/// Every tenant's identity provider, with its cached metadata.
#[derive(Clone)]
pub struct Sso {
    inner: Arc<SsoInner>,
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sso")
            .field("tenants", &self.inner.providers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

struct SsoInner {
    /// `public_base_url` without a trailing slash (the redirect URIs are under it).
    base_url: String,
    providers: HashMap<TenantKey, Provider>,
}

/// One tenant's provider.
struct Provider {
    cfg: SsoSection,
    /// No redirects followed (a provider cannot send our calls elsewhere), the configured
    /// timeout on each call.
    http: reqwest::Client,
    /// The discovery document with its keys, and when it was fetched.
    metadata: tokio::sync::Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

/// Why the provider could not be used.
#[derive(Debug, thiserror::Error)]
enum Unreachable {
    #[error("the issuer URL is not valid")]
    Issuer,
    #[error("discovery failed")]
    Discovery(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Provider {
    /// The provider's metadata: the cached copy while it is fresh (and `refresh` is false),
    /// else fetched again (one fetch at a time per tenant).
    async fn metadata(&self, refresh: bool) -> Result<CoreProviderMetadata, Unreachable> {
        let mut cached = self.metadata.lock().await;
        let max_age = Duration::from_secs(self.cfg.metadata_refresh_secs);
        if let Some((at, m)) = cached.as_ref() {
            if !refresh && at.elapsed() < max_age {
                return Ok(m.clone());
            }
        }
        let issuer = IssuerUrl::new(self.cfg.issuer.clone()).map_err(|_| Unreachable::Issuer)?;
        let m = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| Unreachable::Discovery(Box::new(e)))?;
        *cached = Some((Instant::now(), m.clone()));
        Ok(m)
    }
}

impl Sso {
    /// The providers of the tenants that have `[tenants.KEY.sso]`.
    pub fn new(tenants: &Tenants, public_base_url: &str) -> Sso {
        let mut providers = HashMap::new();
        for key in tenants.keys() {
            let Some(cfg) = tenants.get(key).and_then(|t| t.sso.clone()) else {
                continue;
            };
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(cfg.timeout_secs))
                .connect_timeout(Duration::from_secs(cfg.timeout_secs))
                .build();
            match http {
                Ok(http) => {
                    providers.insert(
                        key.clone(),
                        Provider {
                            cfg,
                            http,
                            metadata: tokio::sync::Mutex::new(None),
                        },
                    );
                }
                Err(e) => {
                    tracing::error!(tenant = %key, error = %crate::error::error_chain(&e), "single sign-on: no HTTP client");
                }
            }
        }
        Sso {
            inner: Arc::new(SsoInner {
                base_url: public_base_url.trim_end_matches('/').to_owned(),
                providers,
            }),
        }
    }

    fn redirect_uri(&self, tenant: &TenantKey) -> String {
        format!("{}/sso/{tenant}/callback", self.inner.base_url)
    }
}

/// Routes of single sign-on.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Store: FromRef<S>,
    Pages: FromRef<S>,
    Cookies: FromRef<S>,
    LoginThrottle: FromRef<S>,
    Sso: FromRef<S>,
{
    Router::new()
        .route("/sso/{tenant}/start", get(start))
        .route("/sso/{tenant}/callback", get(callback))
}

/// A sign-in that did not complete: a page saying why, in words for the reader.
fn failed(
    pages: &Pages,
    status: StatusCode,
    title: &str,
    message: &str,
    retry: Option<&str>,
) -> Response {
    let mut r = no_store(pages.render(
        "sso_error.html",
        serde_json::json!({ "title": title, "message": message, "retry": retry }),
    ));
    *r.status_mut() = status;
    r
}

fn unreachable_page(pages: &Pages, tenant: &TenantKey, e: &Unreachable) -> Response {
    tracing::warn!(tenant = %tenant, error = %crate::error::error_chain(e), "single sign-on: identity provider unreachable");
    let mut r = failed(
        pages,
        StatusCode::SERVICE_UNAVAILABLE,
        "Your company's sign-in service is not answering",
        "We could not reach your company's identity provider. Please try again in a few minutes.",
        None,
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
    r
}

#[derive(serde::Deserialize)]
struct StartQuery {
    next: Option<String>,
}

async fn start(
    State(store): State<Store>,
    State(pages): State<Pages>,
    State(cookies): State<Cookies>,
    State(sso): State<Sso>,
    Path(tenant): Path<TenantKey>,
    Query(q): Query<StartQuery>,
) -> Response {
    let Some(provider) = sso.inner.providers.get(&tenant) else {
        return not_found();
    };
    let next = safe_next(q.next.as_deref());
    let metadata = match provider.metadata(false).await {
        Ok(m) => m,
        Err(e) => return unreachable_page(&pages, &tenant, &e),
    };
    let Ok(redirect) = RedirectUrl::new(sso.redirect_uri(&tenant)) else {
        tracing::error!(tenant = %tenant, "single sign-on: the redirect URI is not a URL");
        return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
    };
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(provider.cfg.client_id.clone()),
        Some(ClientSecret::new(
            provider.cfg.client_secret.expose_secret().to_owned(),
        )),
    )
    .set_redirect_uri(redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in provider.cfg.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    let now = now_ms();
    let ttl_secs = i64::try_from(provider.cfg.sign_in_timeout_secs).unwrap_or(600);
    let pending = PendingSignIn {
        tenant: tenant.clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        return_path: next,
        expires_at: now.saturating_add(ttl_secs.saturating_mul(1000)),
    };
    let cap = i64::try_from(provider.cfg.max_pending).unwrap_or(i64::MAX);
    match store
        .sso_pending_put(&digest(state.secret()), &pending, now, cap)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(tenant = %tenant, "single sign-on: too many sign-ins in progress");
            return failed(
                &pages,
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many sign-ins at once",
                "Too many sign-ins are in progress right now. Please try again in a few minutes.",
                None,
            );
        }
        Err(e) => {
            tracing::error!(tenant = %tenant, error = %crate::error::error_chain(&e), "single sign-on: sign-in not stored");
            return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
        }
    }
    let mut r = (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, url.to_string()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response();
    if let Ok(v) = cookies.set(STATE_COOKIE, state.secret(), ttl_secs).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// What the provider sends the browser back with. (No `Debug`: the code is a secret.)
#[derive(serde::Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Why a returned sign-in is refused (logged; the reader sees a page in plain words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No sign-in in progress has this state (expired, used, or never started here).
    State,
    /// The provider answered the authorization request with an error.
    ProviderError,
    /// The provider refused the code (used already, expired, wrong verifier or secret).
    Code,
    /// The provider's answer was not an OpenID Connect token response.
    Answer,
    /// The ID token did not check out (signature, audience, issuer, expiry, nonce).
    Token,
    /// The user is outside the allowed domains or lacks the required group.
    NotAllowed,
    /// The user's claim naming them is missing.
    NoName,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::State => "unknown_state",
            Refusal::ProviderError => "provider_error",
            Refusal::Code => "code_refused",
            Refusal::Answer => "bad_answer",
            Refusal::Token => "id_token_invalid",
            Refusal::NotAllowed => "not_allowed",
            Refusal::NoName => "no_user_name",
        }
    }

    fn page(self, pages: &Pages, retry: Option<&str>) -> Response {
        let (status, title, message) = match self {
            Refusal::State => (
                StatusCode::BAD_REQUEST,
                "This sign-in has expired",
                "This sign-in link has expired or was already used. Open the report link again to sign in.",
            ),
            Refusal::ProviderError | Refusal::Code => (
                StatusCode::BAD_REQUEST,
                "Your company's sign-in did not complete",
                "Your company's identity provider did not complete the sign-in. Please try again.",
            ),
            Refusal::Answer => (
                StatusCode::BAD_GATEWAY,
                "Your company's sign-in did not complete",
                "Your company's identity provider gave an answer we could not use. Please try again later.",
            ),
            Refusal::Token => (
                StatusCode::UNAUTHORIZED,
                "Your sign-in could not be verified",
                "The identity provider's answer did not pass our checks, so you are not signed in. Please try again; if this persists, tell your administrator.",
            ),
            Refusal::NotAllowed | Refusal::NoName => (
                StatusCode::FORBIDDEN,
                "You do not have access to these reports",
                "You signed in, but your account is not one allowed to read this employer's background check reports. Ask your administrator for access.",
            ),
        };
        failed(pages, status, title, message, retry)
    }
}

/// The check a return path is a report of (for the access record).
fn check_of(path: &str, tenant: &TenantKey) -> CheckId {
    let prefix = format!("/reports/{tenant}/");
    path.strip_prefix(&prefix)
        .and_then(|rest| rest.split(['/', '?']).next())
        .filter(|c| !c.is_empty())
        .map_or_else(|| CheckId::new("*"), CheckId::new)
}

/// The verified ID token's claims as JSON (read only after the signature checked out).
fn payload(id_token: &str) -> Option<Value> {
    let part = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether the user may read this tenant's reports: an allowed, verified email domain and
/// the required group, for each that is configured.
fn allowed(cfg: &SsoSection, claims: &Value) -> bool {
    if !cfg.allowed_domains.is_empty() {
        let Some(email) = claims["email"].as_str() else {
            return false;
        };
        if claims["email_verified"] == Value::Bool(false) {
            return false;
        }
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        if !cfg
            .allowed_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
        {
            return false;
        }
    }
    if let Some(group) = cfg.required_group.as_deref().filter(|g| !g.is_empty()) {
        let has = match &claims[cfg.groups_claim.as_str()] {
            Value::Array(gs) => gs.iter().any(|g| g.as_str() == Some(group)),
            Value::String(g) => g.split([' ', ',']).any(|g| g == group),
            _ => false,
        };
        if !has {
            return false;
        }
    }
    true
}

#[expect(
    clippy::too_many_arguments,
    reason = "axum extractors: one per piece of state the callback needs"
)]
async fn callback(
    State(store): State<Store>,
    State(pages): State<Pages>,
    State(cookies): State<Cookies>,
    State(throttle): State<LoginThrottle>,
    State(sso): State<Sso>,
    Path(tenant): Path<TenantKey>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(provider) = sso.inner.providers.get(&tenant) else {
        return not_found();
    };
    let refuse = |why: Refusal, retry: Option<&str>| {
        tracing::warn!(tenant = %tenant, reason = why.as_str(), "single sign-on refused");
        let mut r = why.page(&pages, retry);
        if let Ok(v) = cookies.set(STATE_COOKIE, "", 0).parse() {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
        r
    };
    let state = q.state.unwrap_or_default();
    let held = cookie_value(&headers, STATE_COOKIE).unwrap_or("");
    if state.is_empty()
        || !bool::from(subtle::ConstantTimeEq::ct_eq(
            state.as_bytes(),
            held.as_bytes(),
        ))
    {
        return refuse(Refusal::State, None);
    }
    let now = now_ms();
    let pending = match store.sso_pending_take(&tenant, &digest(&state), now).await {
        Ok(Some(p)) => p,
        Ok(None) => return refuse(Refusal::State, None),
        Err(e) => {
            tracing::error!(tenant = %tenant, error = %crate::error::error_chain(&e), "single sign-on: sign-in lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
        }
    };
    let retry = start_path(&tenant, &pending.return_path);
    if let Some(error) = &q.error {
        // The provider's error code is a short token from the spec, not user data.
        let code: String = error
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(40)
            .collect();
        tracing::warn!(tenant = %tenant, provider_error = %code, "single sign-on: the provider refused the request");
        return refuse(Refusal::ProviderError, Some(&retry));
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return refuse(Refusal::ProviderError, Some(&retry));
    };
    let metadata = match provider.metadata(false).await {
        Ok(m) => m,
        Err(e) => return unreachable_page(&pages, &tenant, &e),
    };
    let Ok(redirect) = RedirectUrl::new(sso.redirect_uri(&tenant)) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
    };
    let client_id = ClientId::new(provider.cfg.client_id.clone());
    let secret = || ClientSecret::new(provider.cfg.client_secret.expose_secret().to_owned());
    let client = CoreClient::from_provider_metadata(metadata, client_id.clone(), Some(secret()))
        .set_redirect_uri(redirect);
    let exchange = match client.exchange_code(AuthorizationCode::new(code)) {
        Ok(x) => x,
        Err(_) => return refuse(Refusal::Answer, Some(&retry)),
    };
    let token = match exchange
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(&provider.http)
        .await
    {
        Ok(t) => t,
        Err(RequestTokenError::ServerResponse(e)) => {
            tracing::warn!(tenant = %tenant, provider_error = %e.error(), "single sign-on: the provider refused the code");
            return refuse(Refusal::Code, Some(&retry));
        }
        Err(RequestTokenError::Request(e)) => {
            return unreachable_page(&pages, &tenant, &Unreachable::Discovery(Box::new(e)));
        }
        Err(_) => return refuse(Refusal::Answer, Some(&retry)),
    };
    let Some(id_token) = token.id_token() else {
        return refuse(Refusal::Answer, Some(&retry));
    };
    let nonce = Nonce::new(pending.nonce.clone());
    let verified = {
        let verifier = client.id_token_verifier();
        match id_token.claims(&verifier, &nonce) {
            Ok(c) => Ok((c.issuer().to_string(), c.subject().to_string())),
            Err(e) => Err(e),
        }
    };
    // A key the cached JWKS does not have (the provider rotated): fetch them again, once.
    let verified = match verified {
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => match provider.metadata(true).await {
            Ok(fresh) => {
                let client = CoreClient::from_provider_metadata(fresh, client_id, Some(secret()));
                let verifier = client.id_token_verifier();
                id_token
                    .claims(&verifier, &nonce)
                    .map(|c| (c.issuer().to_string(), c.subject().to_string()))
            }
            Err(e) => return unreachable_page(&pages, &tenant, &e),
        },
        other => other,
    };
    let (issuer, subject) = match verified {
        Ok(v) => v,
        Err(e) => {
            // The error names the check that failed (expired, audience...), not the token.
            tracing::warn!(tenant = %tenant, check = %e, "single sign-on: ID token refused");
            return refuse(Refusal::Token, Some(&retry));
        }
    };
    let Some(claims) = payload(&id_token.to_string()) else {
        return refuse(Refusal::Answer, Some(&retry));
    };
    if !allowed(&provider.cfg, &claims) {
        return refuse(Refusal::NotAllowed, None);
    }
    let Some(name) = claims[provider.cfg.username_claim.as_str()]
        .as_str()
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.len() <= 256 && !n.chars().any(char::is_control))
    else {
        return refuse(Refusal::NoName, None);
    };
    let username = format!("{tenant}:{name}");
    let (user_id, username) = match store
        .sso_reader(&tenant, &issuer, &subject, &username, now)
        .await
    {
        Ok(SsoReader::Reader { user_id, username }) => (user_id, username),
        Ok(SsoReader::Disabled) => {
            tracing::warn!(tenant = %tenant, reason = "reader_disabled", "single sign-on refused");
            return failed(
                &pages,
                StatusCode::FORBIDDEN,
                "Your access has been turned off",
                "Your access to these reports has been turned off. Ask your administrator.",
                None,
            );
        }
        Ok(SsoReader::NameTaken) => {
            tracing::warn!(tenant = %tenant, reason = "name_taken", "single sign-on refused");
            return failed(
                &pages,
                StatusCode::CONFLICT,
                "Your account needs an administrator",
                "A reader with your name already exists and is not linked to your company's sign-in. Ask your administrator.",
                None,
            );
        }
        Err(e) => {
            tracing::error!(tenant = %tenant, error = %crate::error::error_chain(&e), "single sign-on: reader not stored");
            return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
        }
    };
    if let Err(e) = store
        .record_access(
            &tenant,
            &check_of(&pending.return_path, &tenant),
            &format!("user:{username} sso_subject:{subject}"),
            AccessAction::SignedIn,
            now,
        )
        .await
    {
        // A sign-in that cannot be recorded does not happen.
        tracing::error!(tenant = %tenant, error = %crate::error::error_chain(&e), "single sign-on: sign-in not recorded");
        return (StatusCode::SERVICE_UNAVAILABLE, "please try again shortly").into_response();
    }
    tracing::info!(tenant = %tenant, "single sign-on: reader signed in");
    let mut r = start_session(
        &store,
        cookies,
        throttle.config(),
        &user_id,
        pending.return_path,
        now,
    )
    .await;
    if let Ok(v) = cookies.set(STATE_COOKIE, "", 0).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(domains: &[&str], group: Option<&str>) -> SsoSection {
        let toml = format!(
            "issuer = \"https://idp.example\"\nclient_id = \"cb\"\nclient_secret = \"s\"\nallowed_domains = {domains:?}\n{}",
            group.map(|g| format!("required_group = \"{g}\"\n")).unwrap_or_default()
        );
        let mut c: SsoSection = toml::from_str(&toml).unwrap();
        c.allowed_domains = c.allowed_domains.iter().map(|d| d.to_lowercase()).collect();
        c
    }

    #[test]
    fn domains_and_groups_both_hold_when_both_are_set() {
        let both = cfg(&["acme.example"], Some("recruiters"));
        let dana = serde_json::json!({ "email": "dana@ACME.example", "groups": ["recruiters"] });
        assert!(allowed(&both, &dana));
        let no_group = serde_json::json!({ "email": "dana@acme.example", "groups": ["sales"] });
        assert!(!allowed(&both, &no_group));
        let other = serde_json::json!({ "email": "eve@evil.example", "groups": ["recruiters"] });
        assert!(!allowed(&both, &other));
        let look_alike =
            serde_json::json!({ "email": "eve@acme.example.evil", "groups": ["recruiters"] });
        assert!(!allowed(&both, &look_alike));
        let unverified = serde_json::json!({ "email": "dana@acme.example", "email_verified": false, "groups": ["recruiters"] });
        assert!(!allowed(&both, &unverified));
        let group_only = cfg(&[], Some("recruiters"));
        assert!(allowed(
            &group_only,
            &serde_json::json!({ "groups": "staff recruiters" })
        ));
        assert!(!allowed(
            &group_only,
            &serde_json::json!({ "email": "dana@acme.example" })
        ));
    }

    #[test]
    fn the_access_record_names_the_report_a_sign_in_was_for() {
        let acme = TenantKey::from("acme");
        assert_eq!(check_of("/reports/acme/c-1", &acme).as_str(), "c-1");
        assert_eq!(
            check_of("/reports/acme/c-1/s-2?format=pdf", &acme).as_str(),
            "c-1"
        );
        assert_eq!(check_of("/reports/globex/c-1", &acme).as_str(), "*");
        assert_eq!(check_of("/", &acme).as_str(), "*");
    }
}
