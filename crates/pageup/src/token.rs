//! Client-credentials tokens from PageUp's login server (IdentityServer), cached per tenant and
//! scope set. PageUp's tokens live 300 s; a token is replaced 30 s before it expires, by one
//! caller at a time (see `outbound::TokenCache`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use outbound::{run_with_retries, Attempt, CachedToken, FetchedToken, RetryPolicy, TokenCache};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{Error, PageUpTenant};

/// Cache key: tenant, client, the sorted scope set and a fingerprint of the secret.
pub(crate) type TokenKey = (String, String, String, u64);

pub(crate) fn key(t: &PageUpTenant) -> TokenKey {
    let mut scopes = t.scopes.clone();
    scopes.sort();
    scopes.dedup();
    let fingerprint = outbound::secret_fingerprint(t.client_secret.expose_secret());
    (
        t.tenant_id.clone(),
        t.client_id.clone(),
        scopes.join(" "),
        fingerprint,
    )
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct OAuthError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

pub(crate) async fn get(
    http: &reqwest::Client,
    cache: &TokenCache<TokenKey>,
    policy: &RetryPolicy,
    t: &PageUpTenant,
) -> Result<Arc<CachedToken>, Error> {
    cache.get(&key(t), || fetch(http, policy, t)).await
}

async fn fetch(
    http: &reqwest::Client,
    policy: &RetryPolicy,
    t: &PageUpTenant,
) -> Result<FetchedToken, Error> {
    let url = t.token_url()?;
    let scope = t.scopes.join(" ");
    run_with_retries(policy, |_| async {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", t.client_id.as_str()),
            ("client_secret", t.client_secret.expose_secret()),
            ("scope", scope.as_str()),
        ];
        let response = match http.post(url.clone()).form(&form).send().await {
            Ok(r) => r,
            Err(err) if outbound::classify_error(&err) == outbound::ErrorClass::Permanent => {
                return Attempt::Done(Err(Error::Transport(err)))
            }
            Err(err) => {
                return Attempt::Retry {
                    error: Error::Transport(err),
                    retry_after: None,
                }
            }
        };
        let status = response.status();
        let retry_after = outbound::parse_retry_after(response.headers(), SystemTime::now());
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(err) => {
                return Attempt::Retry {
                    error: Error::Transport(err),
                    retry_after: None,
                }
            }
        };
        if status.is_success() {
            return Attempt::Done(parse_token(&body));
        }
        let err: OAuthError = serde_json::from_slice(&body).unwrap_or_default();
        let detail = err
            .error_description
            .clone()
            .unwrap_or_else(|| err.error.clone());
        let error = match err.error.as_str() {
            "invalid_client" | "unauthorized_client" => Error::BadCredentials {
                tenant: t.tenant_id.clone(),
                detail: err.error,
            },
            "invalid_scope" => Error::MissingScope {
                tenant: t.tenant_id.clone(),
                client_id: t.client_id.clone(),
                scope: denied_scope(&detail, &t.scopes),
            },
            _ => Error::TokenEndpoint {
                status: status.as_u16(),
                detail: if detail.is_empty() {
                    String::from_utf8_lossy(&body).chars().take(300).collect()
                } else {
                    detail
                },
            },
        };
        if outbound::status_is_transient(status) {
            Attempt::Retry { error, retry_after }
        } else {
            Attempt::Done(Err(error))
        }
    })
    .await
}

fn parse_token(body: &[u8]) -> Result<FetchedToken, Error> {
    let parsed: TokenResponse =
        serde_json::from_slice(body).map_err(|e| Error::Decode(format!("token response: {e}")))?;
    let token = parsed
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Decode("token response has no access_token".to_owned()))?;
    let secs = match parsed.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(300);
    Ok(FetchedToken {
        access_token: SecretString::from(token),
        expires_in: Duration::from_secs(secs),
    })
}

/// The scope named in an `invalid_scope` description, or all requested ones.
fn denied_scope(detail: &str, requested: &[String]) -> String {
    requested
        .iter()
        .find(|s| detail.contains(s.as_str()))
        .cloned()
        .unwrap_or_else(|| requested.join(" "))
}

/// Claims read from a token's payload WITHOUT verifying it: used to explain a 403 and to
/// check a tenant's credentials before go-live. `None` where the token does not say (an
/// opaque token, or no `scope` claim).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Claims {
    pub scopes: Option<Vec<String>>,
    pub has_partner: Option<bool>,
}

pub(crate) fn peek_claims(token: &str, partner_claim: &str) -> Claims {
    let Some(payload) = token.split('.').nth(1) else {
        return Claims::default();
    };
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return Claims::default();
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(&bytes)
    else {
        return Claims::default();
    };
    let scopes = map.get("scope").map(|v| match v {
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        serde_json::Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    });
    let has_partner = Some(
        [partner_claim.to_owned(), format!("client_{partner_claim}")]
            .iter()
            .any(|k| {
                map.get(k)
                    .is_some_and(|v| !v.is_null() && v.as_str() != Some(""))
            }),
    );
    Claims {
        scopes,
        has_partner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: serde_json::Value) -> String {
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            enc.encode(b"{\"alg\":\"HS256\"}"),
            enc.encode(payload.to_string())
        )
    }

    #[test]
    fn peeks_scopes_and_partner_claim() {
        let c = peek_claims(
            &jwt(serde_json::json!({"scope": ["A", "B"], "partnerid": "p"})),
            "partnerid",
        );
        assert_eq!(c.scopes, Some(vec!["A".into(), "B".into()]));
        assert_eq!(c.has_partner, Some(true));
        let c = peek_claims(
            &jwt(serde_json::json!({"scope": "A B", "client_partnerid": "p"})),
            "partnerid",
        );
        assert_eq!(
            (c.scopes.map(|s| s.len()), c.has_partner),
            (Some(2), Some(true))
        );
        let c = peek_claims(&jwt(serde_json::json!({"scope": "A"})), "partnerid");
        assert_eq!(c.has_partner, Some(false));
        let c = peek_claims("opaque-token", "partnerid");
        assert!(c.scopes.is_none() && c.has_partner.is_none());
    }
}
