//! The typed client: list pending checks, update a check's status.
//!
//! Both calls are idempotent (`GET`; `PUT` of the whole document), so transient failures,
//! including a connection lost after the request was sent, are retried with backoff. A 401
//! drops the cached token and retries once with a fresh one. A 403 is explained from the
//! token's own claims: a missing scope and a missing partner claim are different requests to
//! make of PageUp.

use std::future::Future;
use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::TryStreamExt as _;
use outbound::{
    run_with_retries, Attempt, CachedToken, ErrorClass, HttpSettings, RetryPolicy, TokenCache,
};
use reqwest::{Response, StatusCode};

use crate::error::parse_messages;
use crate::token::{self, TokenKey};
use crate::wire::{InvitationList, StatusDocument};
use crate::{Error, Invitation, PageUpTenant, SCOPE_READ, SCOPE_WRITE};

/// Size limits for what PageUp sends back.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest `GET` response read (5 invitations with 20 MB resumes are ~140 MB as base64).
    pub max_response_bytes: u64,
    /// Largest decoded inline document accepted.
    pub max_document_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_response_bytes: 192 * 1024 * 1024,
            max_document_bytes: 25 * 1024 * 1024,
        }
    }
}

/// PageUp Background Check API client for any number of tenants. Cheap to clone: clones share
/// one connection pool and one token cache.
#[derive(Clone, Debug)]
pub struct PageUpClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    tokens: TokenCache<TokenKey>,
    policy: RetryPolicy,
    limits: Limits,
    /// Tries repeated inside calls (after a transient failure), for metrics.
    retries: std::sync::atomic::AtomicU64,
}

impl PageUpClient {
    /// A client on its own connection pool.
    pub fn new(policy: RetryPolicy, limits: Limits) -> Result<Self, Error> {
        let http = outbound::http_client(&HttpSettings::default())
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Self::with_http(http, policy, limits))
    }

    /// A client sharing an existing `reqwest::Client` (and so its pools).
    pub fn with_http(http: reqwest::Client, policy: RetryPolicy, limits: Limits) -> Self {
        let tokens = TokenCache::new(std::time::Duration::from_secs(30));
        Self {
            inner: Arc::new(Inner {
                http,
                tokens,
                policy,
                retries: std::sync::atomic::AtomicU64::new(0),
                limits,
            }),
        }
    }

    /// Up to 5 pending invitations of `tenant` (PageUp's page size), oldest first as PageUp
    /// returns them. The response is parsed as it streams in.
    pub async fn list_pending(&self, tenant: &PageUpTenant) -> Result<Vec<Invitation>, Error> {
        let url = tenant.list_url()?;
        let limits = self.inner.limits;
        let list = self
            .call(
                tenant,
                SCOPE_READ,
                |http, token| http.get(url.clone()).bearer_auth(token),
                move |r| parse_streaming(r, limits),
            )
            .await?;
        for inv in &list {
            for doc in &inv.documents {
                let len = doc
                    .content
                    .as_ref()
                    .and_then(|c| c.bytes())
                    .map_or(0, Bytes::len);
                if len > limits.max_document_bytes {
                    return Err(Error::Decode(format!(
                        "document {} of check {} is {len} bytes, over the {} allowed",
                        doc.document_id.as_deref().unwrap_or("?"),
                        inv.id.as_deref().unwrap_or("?"),
                        limits.max_document_bytes
                    )));
                }
            }
        }
        Ok(list)
    }

    /// The raw `GET` response body, for fitting the field mapping to a real payload.
    pub async fn list_pending_raw(&self, tenant: &PageUpTenant) -> Result<Bytes, Error> {
        let url = tenant.list_url()?;
        let limit = self.inner.limits.max_response_bytes;
        self.call(
            tenant,
            SCOPE_READ,
            |http, token| http.get(url.clone()).bearer_auth(token),
            move |r| async move {
                if r.content_length().is_some_and(|n| n > limit) {
                    return Err(Error::TooLarge { limit });
                }
                let body = r
                    .bytes()
                    .await
                    .map_err(|e| Error::Interrupted(std::io::Error::other(e)))?;
                if body.len() as u64 > limit {
                    return Err(Error::TooLarge { limit });
                }
                Ok(body)
            },
        )
        .await
    }

    /// Sets a check's status. `doc` is sent whole: PageUp treats the `PUT` as an override.
    pub async fn update_status(
        &self,
        tenant: &PageUpTenant,
        check_id: &str,
        doc: &StatusDocument,
    ) -> Result<(), Error> {
        let url = tenant.update_url(check_id)?;
        let body =
            serde_json::to_vec(doc).map_err(|e| Error::Decode(format!("status document: {e}")))?;
        self.call(
            tenant,
            SCOPE_WRITE,
            |http, token| {
                http.put(url.clone())
                    .bearer_auth(token)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            },
            |r| async move {
                // The answer's content is not needed; reading it lets the connection be reused.
                let _ = r.bytes().await;
                Ok(())
            },
        )
        .await
    }

    /// Forgets cached tokens of `tenant` (after its credentials change).
    pub fn forget_tokens(&self, tenant: &PageUpTenant) {
        self.inner.tokens.forget(&token::key(tenant));
    }

    /// Gets a token now: for `tenants test`-style checks of credentials.
    pub async fn check_credentials(&self, tenant: &PageUpTenant) -> Result<(), Error> {
        token::get(
            &self.inner.http,
            &self.inner.tokens,
            &self.inner.policy,
            tenant,
        )
        .await
        .map(|_| ())
    }

    /// Gets a fresh token and reads what it carries (scopes, the partner claim), without
    /// verifying it: for checking a tenant's credentials before go-live.
    pub async fn token_claims(&self, tenant: &PageUpTenant) -> Result<token::Claims, Error> {
        self.forget_tokens(tenant);
        let token = token::get(
            &self.inner.http,
            &self.inner.tokens,
            &self.inner.policy,
            tenant,
        )
        .await?;
        Ok(token::peek_claims(token.secret(), &tenant.partner_claim))
    }

    async fn call<T, B, R, F>(
        &self,
        tenant: &PageUpTenant,
        scope: &str,
        build: B,
        read: R,
    ) -> Result<T, Error>
    where
        B: Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
        R: Fn(Response) -> F,
        F: Future<Output = Result<T, Error>>,
    {
        let inner = &*self.inner;
        let mut refreshed = false;
        let mut tried = 1;
        run_with_retries(&inner.policy, |attempt| {
            if attempt > tried {
                tried = attempt;
                inner
                    .retries
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let refreshed_before = refreshed;
            refreshed = true;
            let (build, read) = (&build, &read);
            async move {
                let token = match token::get(&inner.http, &inner.tokens, &inner.policy, tenant).await {
                    Ok(t) => t,
                    Err(e) => return Attempt::Done(Err(e)),
                };
                let response = match build(&inner.http, token.secret()).send().await {
                    Ok(r) => r,
                    Err(err) if outbound::classify_error(&err) == ErrorClass::Permanent => {
                        return Attempt::Done(Err(Error::Transport(err)))
                    }
                    // GET and the full-document PUT are safe to repeat, even if maybe sent.
                    Err(err) => return Attempt::Retry { error: Error::Transport(err), retry_after: None },
                };
                let status = response.status();
                if status == StatusCode::UNAUTHORIZED && !refreshed_before {
                    inner.tokens.invalidate(&token::key(tenant), &token).await;
                    tracing::debug!(tenant = %tenant.tenant_id, "PageUp refused the token; retrying once with a new one");
                    return Attempt::Again;
                }
                if status.is_success() {
                    return match read(response).await {
                        Err(err @ Error::Interrupted(_)) => Attempt::Retry { error: err, retry_after: None },
                        other => Attempt::Done(other),
                    };
                }
                let retry_after = outbound::parse_retry_after(response.headers(), SystemTime::now());
                let body = response.bytes().await.unwrap_or_default();
                let error = self.status_error(tenant, scope, status, &body, retry_after, &token);
                if outbound::status_is_transient(status) {
                    Attempt::Retry { error, retry_after }
                } else {
                    Attempt::Done(Err(error))
                }
            }
        })
        .await
    }

    fn status_error(
        &self,
        tenant: &PageUpTenant,
        scope: &str,
        status: StatusCode,
        body: &[u8],
        retry_after: Option<std::time::Duration>,
        token: &CachedToken,
    ) -> Error {
        let messages = parse_messages(body);
        if status == StatusCode::FORBIDDEN {
            let claims = token::peek_claims(token.secret(), &tenant.partner_claim);
            if claims
                .scopes
                .as_ref()
                .is_some_and(|s| !s.iter().any(|x| x == scope))
            {
                return Error::MissingScope {
                    tenant: tenant.tenant_id.clone(),
                    client_id: tenant.client_id.clone(),
                    scope: scope.to_owned(),
                };
            }
            if claims.has_partner == Some(false) {
                return Error::MissingPartnerClaim {
                    tenant: tenant.tenant_id.clone(),
                    client_id: tenant.client_id.clone(),
                    claim: tenant.partner_claim.clone(),
                };
            }
            let message = messages
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            return Error::Forbidden {
                tenant: tenant.tenant_id.clone(),
                message,
            };
        }
        Error::Api {
            status: status.as_u16(),
            messages,
            retry_after,
        }
    }
}

/// Parses the list while it streams in: the body is never held whole, and inline documents
/// are decoded as they are read.
async fn parse_streaming(response: Response, limits: Limits) -> Result<Vec<Invitation>, Error> {
    if response
        .content_length()
        .is_some_and(|n| n > limits.max_response_bytes)
    {
        return Err(Error::TooLarge {
            limit: limits.max_response_bytes,
        });
    }
    let stream = response.bytes_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(stream);
    let handle = tokio::runtime::Handle::current();
    let limit = limits.max_response_bytes;
    let task = tokio::task::spawn_blocking(move || {
        let exceeded = Arc::new(AtomicBool::new(false));
        let bridge = tokio_util::io::SyncIoBridge::new_with_handle(reader, handle);
        let limited = Limited {
            inner: bridge,
            left: limit,
            exceeded: exceeded.clone(),
        };
        let parsed = serde_json::from_reader::<_, InvitationList>(BufReader::with_capacity(
            256 * 1024,
            limited,
        ));
        match parsed {
            Ok(list) => Ok(list.0),
            Err(_) if exceeded.load(Ordering::Relaxed) => Err(Error::TooLarge { limit }),
            Err(err) if err.is_io() => Err(Error::Interrupted(std::io::Error::other(err))),
            Err(err) => Err(Error::Decode(format!("invitation list: {err}"))),
        }
    });
    task.await
        .map_err(|e| Error::Decode(format!("parser task failed: {e}")))?
}

/// A reader that fails once more than `left` bytes have been read.
struct Limited<R> {
    inner: R,
    left: u64,
    exceeded: Arc<AtomicBool>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("response larger than allowed"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl PageUpClient {
    /// Tokens requested so far (refreshes included, failures too), for metrics.
    pub fn token_fetches(&self) -> u64 {
        self.inner.tokens.fetches()
    }

    /// Tries repeated inside calls after a transient failure, for metrics.
    pub fn retries(&self) -> u64 {
        self.inner
            .retries
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
