//! The provider's endpoints and its admin API.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::RngCore as _;

use super::{Grant, IdpFault, IdpState, IdpUser, CODE_LIFETIME};
use crate::common::{self, fault_and_journal};

pub(super) fn routes(state: &IdpState) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize_page).post(authorize))
        .route("/token", post(token))
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(
            state.inst.clone(),
            fault_and_journal,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), down))
}

pub(super) fn admin(state: &IdpState) -> Router {
    #[derive(serde::Deserialize)]
    struct SetFault {
        fault: Option<IdpFault>,
    }
    Router::new()
        .route(
            "/fault",
            put(
                |State(s): State<IdpState>, Json(f): Json<SetFault>| async move {
                    s.set_fault(f.fault);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/users",
            post(
                |State(s): State<IdpState>, Json(u): Json<IdpUser>| async move {
                    s.add_user(u);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(state.clone())
        .merge(common::admin_routes(state.inst.clone()))
}

/// While the provider is down, a request waits (for the fault to clear, at most 60 s)
/// and then closes without an answer.
async fn down(State(state): State<IdpState>, request: Request, next: Next) -> Response {
    let deadline = Instant::now() + Duration::from_secs(60);
    while state.fault() == Some(IdpFault::Down) {
        let changed = state.fault_changed.notified();
        if state.fault() != Some(IdpFault::Down) {
            break;
        }
        if tokio::time::timeout_at(deadline.into(), changed)
            .await
            .is_err()
        {
            return (StatusCode::GATEWAY_TIMEOUT, "down").into_response();
        }
    }
    next.run(request).await
}

async fn discovery(State(state): State<IdpState>) -> Json<serde_json::Value> {
    let base = state.issuer();
    Json(serde_json::json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "groups"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified", "name", "groups"],
    }))
}

async fn jwks(State(state): State<IdpState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "keys": [state.signing_key().jwk.clone()] }))
}

/// Text for HTML (the sign-in page echoes the request's parameters in hidden fields).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
             <body><h1>{t}</h1>{body}</body></html>",
            t = escape(title)
        )),
    )
        .into_response()
}

/// The authorization request's parameters that the form carries through.
const CARRIED: [&str; 7] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
];

/// The answer to a request that does not name a registered client and one of its redirect
/// URIs, or asks for what the sandbox does not do. An unknown client is answered here, never
/// redirected to.
fn refused(state: &IdpState, p: &HashMap<String, String>) -> Option<Response> {
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let inner = state.lock();
    let known = inner.clients.iter().any(|c| {
        c.client_id == get("client_id") && c.redirect_uris.iter().any(|u| u == get("redirect_uri"))
    });
    if !known {
        return Some(page(
            StatusCode::BAD_REQUEST,
            "Unknown application",
            "<p>The client id or redirect URI is not registered.</p>",
        ));
    }
    if get("response_type") != "code" || !get("scope").split(' ').any(|s| s == "openid") {
        return Some(page(
            StatusCode::BAD_REQUEST,
            "Unsupported request",
            "<p>Only response_type=code with the openid scope.</p>",
        ));
    }
    if p.contains_key("code_challenge") && get("code_challenge_method") != "S256" {
        return Some(page(
            StatusCode::BAD_REQUEST,
            "Unsupported request",
            "<p>PKCE with S256 only.</p>",
        ));
    }
    None
}

fn sign_in_form(p: &HashMap<String, String>, error: Option<&str>) -> String {
    let mut hidden = String::new();
    for k in CARRIED {
        if let Some(v) = p.get(k) {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                escape(v)
            ));
        }
    }
    if p.contains_key("code_challenge") {
        hidden.push_str("<input type=\"hidden\" name=\"code_challenge_method\" value=\"S256\">");
    }
    format!(
        "{err}<form method=\"post\" action=\"/authorize\">{hidden}\
         <label>User name <input id=\"idp-username\" name=\"username\" autocomplete=\"username\"></label>\
         <label>Password <input id=\"idp-password\" name=\"password\" type=\"password\"></label>\
         <button id=\"idp-submit\" type=\"submit\">Sign in</button></form>",
        err = error
            .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
            .unwrap_or_default()
    )
}

async fn authorize_page(
    State(state): State<IdpState>,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = refused(&state, &p) {
        return r;
    }
    page(
        StatusCode::OK,
        "Sign in to the identity-provider sandbox",
        &sign_in_form(&p, None),
    )
}

fn random(bytes: usize) -> String {
    let mut b = vec![0_u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

async fn authorize(
    State(state): State<IdpState>,
    Form(p): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = refused(&state, &p) {
        return r;
    }
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let user = state
        .lock()
        .users
        .iter()
        .find(|u| u.username == get("username") && u.password == get("password"))
        .cloned();
    let Some(user) = user else {
        return page(
            StatusCode::UNAUTHORIZED,
            "Sign in to the identity-provider sandbox",
            &sign_in_form(&p, Some("Wrong user name or password.")),
        );
    };
    let code = random(24);
    {
        let mut inner = state.lock();
        let now = Instant::now();
        inner.codes.retain(|_, g| g.expires_at > now);
        inner.codes.insert(
            code.clone(),
            Grant {
                client_id: get("client_id").to_owned(),
                redirect_uri: get("redirect_uri").to_owned(),
                nonce: p.get("nonce").cloned(),
                challenge: p.get("code_challenge").cloned(),
                user,
                expires_at: now + CODE_LIFETIME,
            },
        );
    }
    let Ok(mut to) = url::Url::parse(get("redirect_uri")) else {
        return page(StatusCode::BAD_REQUEST, "Bad redirect URI", "");
    };
    to.query_pairs_mut().append_pair("code", &code);
    if let Some(s) = p.get("state") {
        to.query_pairs_mut().append_pair("state", s);
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// The client's id and secret: HTTP Basic (form-urlencoded parts) or the form's fields.
fn client_credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> (String, String) {
    if let Some((id, secret)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())))
    {
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        return (decode(&id), decode(&secret));
    }
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    (get("client_id"), get("client_secret"))
}

async fn token(
    State(state): State<IdpState>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let (client_id, secret) = client_credentials(&headers, &f);
    let known = state
        .lock()
        .clients
        .iter()
        .any(|c| c.client_id == client_id && c.client_secret == secret);
    if !known {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    if get("grant_type") != "authorization_code" {
        return token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "authorization_code only",
        );
    }
    // A code is used once: taken out whatever happens next.
    let grant = state.lock().codes.remove(get("code"));
    let Some(grant) = grant.filter(|g| g.expires_at > Instant::now()) else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown, expired or used code",
        );
    };
    if grant.client_id != client_id || grant.redirect_uri != get("redirect_uri") {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code was issued to another client or redirect URI",
        );
    }
    if let Some(challenge) = &grant.challenge {
        let verifier = get("code_verifier");
        let computed = URL_SAFE_NO_PAD.encode(super::sha2_256(verifier.as_bytes()));
        if verifier.is_empty() || computed != *challenge {
            return token_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the PKCE verifier does not match",
            );
        }
    }
    let fault = state.fault();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (iat, exp) = if fault == Some(IdpFault::Expired) {
        (now - 900, now - 600)
    } else {
        (now, now + 300)
    };
    let audience = if fault == Some(IdpFault::WrongAudience) {
        "another-application".to_owned()
    } else {
        client_id.clone()
    };
    let user = &grant.user;
    let mut claims = serde_json::json!({
        "iss": state.issuer(),
        "sub": user.subject,
        "aud": audience,
        "iat": iat,
        "exp": exp,
        "email": user.email,
        "email_verified": true,
        "groups": user.groups,
    });
    if let Some(n) = &grant.nonce {
        claims["nonce"] = serde_json::Value::String(n.clone());
    }
    if let Some(n) = &user.name {
        claims["name"] = serde_json::Value::String(n.clone());
    }
    let key = state.signing_key();
    let mut jwt_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    jwt_header.kid = Some(key.kid.clone());
    let Ok(mut id_token) = jsonwebtoken::encode(&jwt_header, &claims, &key.encoding) else {
        return token_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "signing failed",
        );
    };
    if fault == Some(IdpFault::BadSignature) {
        // Another signature of the right length: it decodes, and does not verify.
        if let Some((signed, sig)) = id_token.rsplit_once('.') {
            let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap_or_default();
            if let Some(b) = bytes.first_mut() {
                *b ^= 0x5a;
            }
            id_token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes));
        }
    }
    state.lock().exchanged += 1;
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({
            "access_token": random(24),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        })),
    )
        .into_response()
}
