//! The typed client. Reads and cancels are retried on transient failures; an order `POST`
//! is retried only when it certainly never reached Theary (the connection could not be made).
//! Any other failure of a `POST` leaves its outcome unknown and is reported as
//! [`Error::Indeterminate`], so the caller looks the order up instead of creating a second one.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use outbound::{run_with_retries, Attempt, ErrorClass, HttpSettings, RetryPolicy, TokenCache};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::messages;
use crate::token::{self, TokenKey};
use crate::wire::{
    same_id, CancelResponse, CreateOrderResponse, Order, OrderList, OrderRequest,
    ReleaseFormUpload, Search, SearchList,
};
use crate::{Error, ThearyConfig};

/// Theary API client. Cheap to clone: clones share one pool and token cache.
#[derive(Clone, Debug)]
pub struct ThearyClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    tokens: TokenCache<TokenKey>,
    policy: RetryPolicy,
    /// Tries repeated inside calls (after a transient failure), for metrics.
    retries: std::sync::atomic::AtomicU64,
}

/// Whether a request may be sent again after a failure whose effect is unknown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Idempotent {
    Yes,
    No,
}

impl ThearyClient {
    pub fn new(policy: RetryPolicy) -> Result<Self, Error> {
        let http = outbound::http_client(&HttpSettings::default())
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Self::with_http(http, policy))
    }

    /// A client sharing an existing `reqwest::Client`.
    pub fn with_http(http: reqwest::Client, policy: RetryPolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                tokens: TokenCache::new(Duration::from_secs(60)),
                policy,
                retries: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// Gets a token now (to test credentials).
    pub async fn check_credentials(&self, c: &ThearyConfig) -> Result<(), Error> {
        token::get(&self.inner.http, &self.inner.tokens, &self.inner.policy, c)
            .await
            .map(|_| ())
    }

    /// Creates an order (any 2xx). Never repeated when its outcome is unknown.
    pub async fn create_order(
        &self,
        c: &ThearyConfig,
        order: &OrderRequest,
    ) -> Result<CreateOrderResponse, Error> {
        let body = serde_json::to_vec(order).map_err(|e| Error::Decode(format!("order: {e}")))?;
        self.create_order_json(c, body).await
    }

    /// Creates an order from its JSON as built earlier (so every attempt sends the same
    /// bytes). Never repeated when its outcome is unknown.
    pub async fn create_order_json(
        &self,
        c: &ThearyConfig,
        body: Vec<u8>,
    ) -> Result<CreateOrderResponse, Error> {
        self.request(
            c,
            Method::POST,
            &c.api("/orders"),
            Some(body),
            Idempotent::No,
            "order",
        )
        .await
    }

    pub async fn get_order(&self, c: &ThearyConfig, order_id: &str) -> Result<Order, Error> {
        self.request(
            c,
            Method::GET,
            &c.api(&format!("/orders/{}", seg(order_id))),
            None,
            Idempotent::Yes,
            "order",
        )
        .await
    }

    /// One page of orders (1-based).
    pub async fn list_orders(
        &self,
        c: &ThearyConfig,
        page: u32,
        limit: u32,
    ) -> Result<OrderList, Error> {
        let url = format!("{}?page={page}&limit={limit}", c.api("/orders"));
        self.request(c, Method::GET, &url, None, Idempotent::Yes, "order list")
            .await
    }

    pub async fn searches(&self, c: &ThearyConfig, order_id: &str) -> Result<Vec<Search>, Error> {
        let url = c.api(&format!("/orders/{}/searches", seg(order_id)));
        self.request::<SearchList>(c, Method::GET, &url, None, Idempotent::Yes, "order")
            .await
            .map(|l| l.0)
    }

    pub async fn search(
        &self,
        c: &ThearyConfig,
        order_id: &str,
        search_id: &str,
    ) -> Result<Search, Error> {
        let url = c.api(&format!(
            "/orders/{}/searches/{}",
            seg(order_id),
            seg(search_id)
        ));
        self.request(c, Method::GET, &url, None, Idempotent::Yes, "search")
            .await
    }

    /// Cancels an order and its open searches (`DELETE`, safe to repeat).
    pub async fn cancel_order(
        &self,
        c: &ThearyConfig,
        order_id: &str,
    ) -> Result<CancelResponse, Error> {
        let url = c.api(&format!("/orders/{}", seg(order_id)));
        self.request(c, Method::DELETE, &url, None, Idempotent::Yes, "order")
            .await
    }

    /// Asks for a signed URL to upload a release form PDF to (valid 15 minutes), and the
    /// `gs://` URI the file then has.
    pub async fn release_form_upload_url(
        &self,
        c: &ThearyConfig,
    ) -> Result<ReleaseFormUpload, Error> {
        let upload: ReleaseFormUpload = self
            .request(
                c,
                Method::GET,
                &c.files("/release-form/generate-upload-url"),
                None,
                Idempotent::Yes,
                "upload URL",
            )
            .await?;
        if upload.signed_url.is_empty() || upload.file_uri.is_empty() {
            return Err(Error::Decode(
                "upload URL: signedUrl or fileUri is missing".to_owned(),
            ));
        }
        Ok(upload)
    }

    /// Uploads a release form PDF (at most 10 MB) to a signed URL from
    /// [`release_form_upload_url`](Self::release_form_upload_url): a `PUT` with
    /// `Content-Type: application/pdf`, no bearer token (the URL carries its own signature).
    /// Repeated on transient failures (the same object is written again). An expired URL is
    /// an [`Error::Api`] with status 400; ask for a new one.
    pub async fn upload_release_form(&self, signed_url: &str, pdf: Vec<u8>) -> Result<(), Error> {
        if !pdf.starts_with(b"%PDF") {
            return Err(Error::Config(
                "release form: the document is not a PDF".to_owned(),
            ));
        }
        let inner = &*self.inner;
        let mut tried = 1;
        run_with_retries(&inner.policy, |attempt| {
            if attempt > tried {
                tried = attempt;
                inner
                    .retries
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let pdf = pdf.clone();
            async move {
                let sent = inner
                    .http
                    .put(signed_url)
                    .header(reqwest::header::CONTENT_TYPE, "application/pdf")
                    .body(pdf)
                    .send()
                    .await;
                let response = match sent {
                    Ok(r) => r,
                    Err(e) => {
                        let class = outbound::classify_error(&e);
                        // The signed URL is a write credential while it lasts: keep it out
                        // of the error, which is logged.
                        let error = Error::Transport(e.without_url());
                        return match class {
                            ErrorClass::Permanent => Attempt::Done(Err(error)),
                            _ => Attempt::Retry {
                                error,
                                retry_after: None,
                            },
                        };
                    }
                };
                let status = response.status();
                if status.is_success() {
                    return Attempt::Done(Ok(()));
                }
                let retry_after =
                    outbound::parse_retry_after(response.headers(), SystemTime::now());
                let text = response.text().await.unwrap_or_default();
                let error = Error::Api {
                    status: status.as_u16(),
                    messages: vec![storage_message(&text)],
                    retry_after,
                };
                if outbound::status_is_transient(status) {
                    Attempt::Retry { error, retry_after }
                } else {
                    Attempt::Done(Err(error))
                }
            }
        })
        .await
    }

    /// Finds the order holding a search with this `externalSearchId`, to resolve an
    /// indeterminate create. Theary has no lookup endpoint, so this pages through the orders
    /// (newest pages first is not promised, so up to `max_pages` pages of 50) and reads the
    /// searches of each. Returns the order id and its search ids.
    pub async fn find_by_external_search_id(
        &self,
        c: &ThearyConfig,
        external_search_id: &str,
        max_pages: u32,
    ) -> Result<Option<CreateOrderResponse>, Error> {
        for page in 1..=max_pages.max(1) {
            let list = self.list_orders(c, page, 50).await?;
            for order in &list.data {
                let searches = self.searches(c, &order.id).await?;
                if searches
                    .iter()
                    .any(|s| s.external_search_id.as_deref() == Some(external_search_id))
                {
                    return Ok(Some(CreateOrderResponse {
                        verification_order_id: order.id.clone(),
                        search_ids: searches.into_iter().map(|s| s.id).collect(),
                    }));
                }
            }
            let last = list
                .pagination
                .as_ref()
                .is_none_or(|p| u64::from(page) >= p.total_pages)
                || list.data.is_empty();
            if last {
                break;
            }
        }
        Ok(None)
    }

    async fn request<T: DeserializeOwned>(
        &self,
        c: &ThearyConfig,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
        idempotent: Idempotent,
        what: &str,
    ) -> Result<T, Error> {
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
            let (method, body) = (method.clone(), body.clone());
            let refreshed_before = refreshed;
            refreshed = true;
            async move {
                let token = match token::get(&inner.http, &inner.tokens, &inner.policy, c).await {
                    Ok(t) => t,
                    Err(e) => return Attempt::Done(Err(e)),
                };
                let mut req = inner.http.request(method, url).bearer_auth(token.secret());
                if let Some(body) = body {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body);
                }
                let response = match req.send().await {
                    Ok(r) => r,
                    Err(e) => {
                        return match (outbound::classify_error(&e), idempotent) {
                            (ErrorClass::Permanent, _) => Attempt::Done(Err(Error::Transport(e))),
                            (ErrorClass::NotSent, _) | (ErrorClass::MaybeSent, Idempotent::Yes) => {
                                Attempt::Retry {
                                    error: Error::Transport(e),
                                    retry_after: None,
                                }
                            }
                            (ErrorClass::MaybeSent, Idempotent::No) => {
                                Attempt::Done(Err(Error::Indeterminate {
                                    reason: e.to_string(),
                                }))
                            }
                        }
                    }
                };
                let status = response.status();
                if status == StatusCode::UNAUTHORIZED && !refreshed_before {
                    inner.tokens.invalidate(&token::key(c), &token).await;
                    return Attempt::Again;
                }
                let retry_after =
                    outbound::parse_retry_after(response.headers(), SystemTime::now());
                let bytes = match response.bytes().await {
                    Ok(b) => b,
                    Err(e) if idempotent == Idempotent::Yes => {
                        return Attempt::Retry {
                            error: Error::Transport(e),
                            retry_after: None,
                        }
                    }
                    Err(e) => {
                        return Attempt::Done(Err(Error::Indeterminate {
                            reason: e.to_string(),
                        }))
                    }
                };
                if status.is_success() {
                    return Attempt::Done(
                        serde_json::from_slice(&bytes)
                            .map_err(|e| Error::Decode(format!("{what}: {e}"))),
                    );
                }
                let (msgs, _) = messages(&bytes);
                let error = match status.as_u16() {
                    400 | 422 => Error::Invalid { messages: msgs },
                    401 => Error::Unauthorized {
                        message: msgs.join("; "),
                    },
                    404 => Error::NotFound {
                        what: what.to_owned(),
                        id: url.rsplit('/').next().unwrap_or_default().to_owned(),
                    },
                    code => Error::Api {
                        status: code,
                        messages: msgs,
                        retry_after,
                    },
                };
                if !outbound::status_is_transient(status) {
                    return Attempt::Done(Err(error));
                }
                match idempotent {
                    Idempotent::Yes => Attempt::Retry { error, retry_after },
                    // A 5xx to a POST may come after the order was written: unknown outcome.
                    Idempotent::No if status == StatusCode::TOO_MANY_REQUESTS => {
                        Attempt::Retry { error, retry_after }
                    }
                    Idempotent::No => Attempt::Done(Err(Error::Indeterminate {
                        reason: error.to_string(),
                    })),
                }
            }
        })
        .await
    }
}

/// The code and message of a Cloud Storage XML error (or the start of any other body).
fn storage_message(body: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].to_owned())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        (None, Some(message)) => message,
        (None, None) => body.chars().take(200).collect(),
    }
}

/// One URL path segment, encoded.
fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Whether `search_ids` contains `id` (prefix-insensitive).
pub fn contains_id(search_ids: &[String], id: &str) -> bool {
    search_ids.iter().any(|s| same_id(s, id))
}

impl ThearyClient {
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
