//! Auth0-style client-credentials tokens (`POST {auth}/oauth/token` with a JSON body and an
//! audience). Cached until 60 s before expiry, refreshed by one caller at a time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use outbound::{run_with_retries, Attempt, CachedToken, FetchedToken, RetryPolicy, TokenCache};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{Error, ThearyConfig};

/// Auth server, client id, audience and a fingerprint of the secret.
pub(crate) type TokenKey = (String, String, String, u64);

pub(crate) fn key(c: &ThearyConfig) -> TokenKey {
    let fingerprint = outbound::secret_fingerprint(c.client_secret.expose_secret());
    (
        c.auth_url.clone(),
        c.client_id.clone(),
        c.audience.clone(),
        fingerprint,
    )
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Deserialize, Default)]
struct AuthError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

pub(crate) async fn get(
    http: &reqwest::Client,
    cache: &TokenCache<TokenKey>,
    policy: &RetryPolicy,
    config: &ThearyConfig,
) -> Result<Arc<CachedToken>, Error> {
    cache
        .get(&key(config), || fetch(http, policy, config))
        .await
}

async fn fetch(
    http: &reqwest::Client,
    policy: &RetryPolicy,
    c: &ThearyConfig,
) -> Result<FetchedToken, Error> {
    let url = c.token_url();
    let body = serde_json::json!({
        "client_id": c.client_id,
        "client_secret": c.client_secret.expose_secret(),
        "audience": c.audience,
        "grant_type": "client_credentials",
    });
    run_with_retries(policy, |_| async {
        let response = match http.post(&url).json(&body).send().await {
            Ok(r) => r,
            Err(e) if outbound::classify_error(&e) == outbound::ErrorClass::Permanent => {
                return Attempt::Done(Err(Error::Transport(e)))
            }
            Err(e) => {
                return Attempt::Retry {
                    error: Error::Transport(e),
                    retry_after: None,
                }
            }
        };
        let status = response.status();
        let retry_after = outbound::parse_retry_after(response.headers(), SystemTime::now());
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Retry {
                    error: Error::Transport(e),
                    retry_after: None,
                }
            }
        };
        if status.is_success() {
            let parsed = serde_json::from_slice::<TokenResponse>(&bytes)
                .map_err(|e| Error::Decode(format!("token response: {e}")))
                .and_then(|t| match t.access_token.filter(|s| !s.is_empty()) {
                    Some(token) => Ok(FetchedToken {
                        access_token: SecretString::from(token),
                        // Theary's quick start assumes an hour when expires_in is absent.
                        expires_in: Duration::from_secs(t.expires_in.unwrap_or(3600)),
                    }),
                    None => Err(Error::Decode(
                        "token response has no access_token".to_owned(),
                    )),
                });
            return Attempt::Done(parsed);
        }
        let err: AuthError = serde_json::from_slice(&bytes).unwrap_or_default();
        let detail = if err.error_description.is_empty() {
            err.error.clone()
        } else {
            err.error_description.clone()
        };
        let error = if detail.to_ascii_lowercase().contains("not enabled")
            || detail.contains(&c.audience)
        {
            Error::WrongAudience {
                audience: c.audience.clone(),
                detail,
            }
        } else if matches!(status.as_u16(), 401 | 403)
            || matches!(
                err.error.as_str(),
                "access_denied" | "invalid_client" | "unauthorized"
            )
        {
            Error::BadCredentials { detail }
        } else {
            Error::TokenEndpoint {
                status: status.as_u16(),
                detail,
            }
        };
        if outbound::status_is_transient(status) {
            Attempt::Retry { error, retry_after }
        } else {
            Attempt::Done(Err(error))
        }
    })
    .await
}
