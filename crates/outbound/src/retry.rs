//! When and how long to wait before trying an outbound call again.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};
use rand::Rng;

/// Bounded exponential backoff with full jitter.
///
/// Attempt `n` (1 = the first retry) waits a random time in `[0, min(max_delay, base * 2^(n-1))]`,
/// unless the server said how long to wait (`Retry-After`), in which case that is used, capped
/// at `max_retry_after`. A server asking for longer than that cap is not retried in-call: the
/// caller gets the error (with the server's figure) and its next scheduled run tries again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries including the first; 1 disables retries.
    pub max_attempts: u32,
    /// Upper bound of the first retry's wait.
    pub base_delay: Duration,
    /// Upper bound of any backoff wait.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured inside one call.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (for tests and for calls that must not repeat).
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Whether another try is allowed after `attempts_made` tries.
    pub fn may_retry(&self, attempts_made: u32) -> bool {
        attempts_made < self.max_attempts
    }

    /// The wait before retry number `retry` (1-based). `None` when the server's `Retry-After`
    /// exceeds what one call may wait.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if let Some(wait) = retry_after {
            return (wait <= self.max_retry_after).then_some(wait);
        }
        let exp = retry.saturating_sub(1).min(20);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let jittered = rand::thread_rng().gen_range(0..=ceiling.as_millis() as u64);
        Some(Duration::from_millis(jittered))
    }
}

/// What one try of an operation came to.
#[derive(Debug)]
pub enum Attempt<T, E> {
    /// Finished (successfully or not); no further try.
    Done(Result<T, E>),
    /// Failed in a way worth trying again, after the server's `Retry-After` if it sent one.
    Retry {
        error: E,
        retry_after: Option<Duration>,
    },
    /// Try again at once without counting an attempt (for example with a fresh token after a
    /// 401). The operation must bound how often it asks for this.
    Again,
}

/// Runs `op` until it is done or the policy's attempts run out; `op` gets the 1-based
/// attempt number. Waits between tries as [`RetryPolicy::delay`] says.
pub async fn run_with_retries<T, E, F, Fut>(policy: &RetryPolicy, mut op: F) -> Result<T, E>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Attempt<T, E>>,
    E: std::fmt::Display,
{
    let mut attempt = 1;
    loop {
        match op(attempt).await {
            Attempt::Done(result) => return result,
            Attempt::Again => continue,
            Attempt::Retry { error, retry_after } => {
                if !policy.may_retry(attempt) {
                    return Err(error);
                }
                let Some(wait) = policy.delay(attempt, retry_after) else {
                    return Err(error);
                };
                tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %error, "retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}

/// Whether an HTTP status is worth retrying: 408, 429 and every 5xx.
pub fn status_is_transient(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// What a transport error means for a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request certainly did not reach the server (could not connect): safe to repeat.
    NotSent,
    /// The request may have reached the server (timeout, connection closed or reset while
    /// waiting for the answer): safe to repeat only if the call is idempotent.
    MaybeSent,
    /// Not a network failure (a bad URL, a body that could not be built): do not retry.
    Permanent,
}

/// Classifies a `reqwest` error for the retry decision.
pub fn classify_error(err: &reqwest::Error) -> ErrorClass {
    if err.is_builder() || err.is_redirect() {
        ErrorClass::Permanent
    } else if err.is_connect() {
        ErrorClass::NotSent
    } else {
        // Timeouts, connections closed or reset while waiting, broken bodies: the server may
        // have acted on the request.
        ErrorClass::MaybeSent
    }
}

/// Parses `Retry-After` as delta-seconds or an HTTP-date relative to `now`.
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    #[test]
    fn retry_after_seconds_and_date() {
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("7"));
        let now = SystemTime::now();
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(7)));

        let later = now + Duration::from_secs(120);
        let date = httpdate::fmt_http_date(later);
        h.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from_str(&date).unwrap(),
        );
        let got = parse_retry_after(&h, now).unwrap();
        assert!(
            got <= Duration::from_secs(120) && got >= Duration::from_secs(118),
            "{got:?}"
        );

        h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h, now), None);
    }

    #[test]
    fn transient_statuses() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(
                status_is_transient(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        for code in [200, 400, 401, 403, 404, 409, 422] {
            assert!(
                !status_is_transient(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
    }

    #[test]
    fn retry_after_beyond_cap_is_not_waited_in_call() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(p.delay(1, Some(Duration::from_secs(3600))), None);
    }

    proptest! {
        #[test]
        fn backoff_is_bounded(retry in 1u32..100, base_ms in 1u64..2000, max_ms in 1u64..60_000) {
            let p = RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_millis(base_ms),
                max_delay: Duration::from_millis(max_ms),
                max_retry_after: Duration::from_secs(30),
            };
            let d = p.delay(retry, None).unwrap();
            prop_assert!(d <= Duration::from_millis(max_ms));
            let ceiling = base_ms.saturating_mul(1u64 << (retry - 1).min(20));
            prop_assert!(d.as_millis() as u64 <= ceiling);
        }
    }
}
