//! The login server (OAuth client credentials, as PageUp's IdentityServer answers) and the
//! bearer-token check every API route makes: signature, expiry, scope, partner claim and
//! tenant, each refused with the status and message PageUp gives.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::error;
use super::state::{now_ms, ClientLookup, PageUpState};

#[derive(Debug, Deserialize)]
pub(super) struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Claims {
    client_id: String,
    instanceid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    partnerid: Option<String>,
    scope: Vec<String>,
    iat: u64,
    exp: u64,
    /// Token generation at issue; `expire_tokens` starts a new one.
    generation: u64,
    /// Expiry in milliseconds, so short test lifetimes are exact.
    exp_ms: u64,
    jti: String,
}

fn oauth_error(code: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": code, "error_description": description })),
    )
        .into_response()
}

pub(super) async fn token(
    State(state): State<PageUpState>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    };
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                "unsupported_grant_type",
                "only client_credentials is supported",
            )
        }
        None => return oauth_error("invalid_request", "grant_type is missing"),
    }
    let (Some(client_id), Some(secret)) = (form.client_id, form.client_secret) else {
        return oauth_error("invalid_client", "client_id and client_secret are required");
    };
    let ClientLookup {
        spec,
        lifetime,
        generation,
    } = state.client(&client_id);
    let Some(spec) = spec.filter(|s| s.client_secret == secret) else {
        return oauth_error("invalid_client", "unknown client or wrong secret");
    };
    let requested: Vec<String> = form
        .scope
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let scopes = if requested.is_empty() {
        spec.scopes.clone()
    } else {
        requested
    };
    if let Some(bad) = scopes.iter().find(|s| !spec.scopes.contains(s)) {
        return oauth_error(
            "invalid_scope",
            &format!("scope {bad} is not allowed for this client"),
        );
    }
    let now = now_ms();
    let exp_ms = now + lifetime.as_millis() as u64;
    let claims = Claims {
        client_id,
        instanceid: spec.tenant.clone(),
        partnerid: spec.partner_id.clone(),
        scope: scopes.clone(),
        iat: now / 1000,
        exp: exp_ms.div_ceil(1000),
        generation,
        exp_ms,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    match jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(state.key()),
    ) {
        Ok(jwt) => Json(json!({
            "access_token": jwt,
            "expires_in": lifetime.as_secs(),
            "token_type": "Bearer",
            "scope": scopes.join(" "),
        }))
        .into_response(),
        Err(_) => oauth_error("server_error", "could not sign the token"),
    }
}

/// Why a request was refused: status and PageUp-style message.
pub(super) struct Denied(StatusCode, String);

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

/// Checks the bearer token for `tenant` and `scope`; the error is the response to send.
pub(super) fn authorize(
    state: &PageUpState,
    headers: &HeaderMap,
    tenant: &str,
    scope: &str,
) -> Result<Claims, Denied> {
    let unauthorized = |m: &str| Denied(StatusCode::UNAUTHORIZED, m.to_owned());
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            unauthorized("Authorization has been denied for this request: no bearer token.")
        })?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| {
            unauthorized("Authorization has been denied for this request: no bearer token.")
        })?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(
        token.trim(),
        &jsonwebtoken::DecodingKey::from_secret(state.key()),
        &validation,
    )
    .map_err(|_| {
        unauthorized("Your API key is invalid or expired: the access token is not valid.")
    })?
    .claims;
    let now = now_ms();
    if now >= claims.exp_ms || claims.generation < state.token_generation() {
        return Err(unauthorized(
            "Your API key is invalid or expired: the access token has expired.",
        ));
    }
    if !claims.scope.iter().any(|s| s == scope) {
        return Err(Denied(
            StatusCode::FORBIDDEN,
            format!(
                "You do not have permission to access the resource: the token lacks scope {scope}."
            ),
        ));
    }
    if claims.partnerid.as_deref().is_none_or(str::is_empty) {
        return Err(Denied(
            StatusCode::FORBIDDEN,
            "You do not have permission to access the resource: the token has no partner id claim."
                .to_owned(),
        ));
    }
    if claims.instanceid != tenant {
        return Err(Denied(
            StatusCode::FORBIDDEN,
            format!("You do not have permission to access the resource: the token is not for tenant {tenant}."),
        ));
    }
    Ok(claims)
}
