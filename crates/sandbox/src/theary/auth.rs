//! The Auth0-style token endpoint (client credentials with an audience) and the bearer check
//! every order route makes, as the [`Tenant`] extractor: a valid token names the tenant
//! whose orders the request may see; anything else is the documented 401, before the rest
//! of the request is read.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::state::ThearyState;

pub(super) async fn token(
    State(state): State<ThearyState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let auth_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response()
    };
    let Ok(Json(body)) = body else {
        return auth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be JSON",
        );
    };
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let grant = field("grant_type");
    if grant.is_empty() || field("client_id").is_empty() || field("client_secret").is_empty() {
        return auth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: grant_type, client_id or client_secret",
        );
    }
    if grant != "client_credentials" {
        return auth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        );
    }
    let (spec, lifetime, generation) = {
        let data = state.lock();
        (
            data.clients.get(&field("client_id")).cloned(),
            data.token_lifetime,
            data.token_generation,
        )
    };
    let Some(spec) = spec.filter(|s| s.client_secret == field("client_secret")) else {
        return auth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    };
    let audience = field("audience");
    if audience != spec.audience {
        return auth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            &format!("Service not enabled within domain: {audience}"),
        );
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let exp_ms = now + lifetime.as_millis() as u64;
    let claims = Claims {
        tenant: spec.tenant,
        aud: audience,
        sub: spec.client_id,
        iat: now_secs(),
        exp: exp_ms.div_ceil(1000),
        exp_ms,
        generation,
    };
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    match jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(&state.key[..])) {
        Ok(jwt) => Json(json!({ "access_token": jwt, "expires_in": lifetime.as_secs(), "token_type": "Bearer" })).into_response(),
        Err(_) => auth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "could not sign the token"),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    tenant: String,
    aud: String,
    sub: String,
    iat: u64,
    exp: u64,
    exp_ms: u64,
    generation: u64,
}

/// The tenant of the request's bearer token. As an extractor, it answers the documented 401
/// before any other part of the request is read.
pub(super) struct Tenant(pub String);

impl axum::extract::FromRequestParts<ThearyState> for Tenant {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &ThearyState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(state, &parts.headers)
            .map(Tenant)
            .map_err(|r| *r)
    }
}

/// The tenant of a valid bearer token, or the documented 401.
fn authenticate(state: &ThearyState, headers: &HeaderMap) -> Result<String, Box<Response>> {
    let unauthorized = |m: &str| {
        Box::new(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "statusCode": 401, "message": m })),
            )
                .into_response(),
        )
    };
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("Unauthorized"))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&state.key[..]),
        &validation,
    )
    .map_err(|_| unauthorized("Invalid or expired token"))?
    .claims;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if now_ms >= claims.exp_ms
        || claims.generation < state.lock().token_generation
        || claims.tenant.is_empty()
    {
        return Err(unauthorized("Invalid or expired token"));
    }
    Ok(claims.tenant)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
