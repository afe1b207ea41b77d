//! What can go wrong talking to Theary.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// Errors of the Theary client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Theary's auth server rejected the client id and secret ({detail}); ask Theary to confirm the credentials")]
    BadCredentials { detail: String },

    #[error("Theary's auth server does not grant this client the audience {audience} ({detail}); check the configured audience")]
    WrongAudience { audience: String, detail: String },

    #[error("Theary's auth server answered {status}: {detail}")]
    TokenEndpoint { status: u16, detail: String },

    /// A 400: every message kept verbatim, to be shown to a recruiter.
    #[error("Theary refused the request: {}", .messages.join("; "))]
    Invalid { messages: Vec<String> },

    #[error("Theary did not accept the token: {message}")]
    Unauthorized { message: String },

    #[error("Theary has no such {what}: {id}")]
    NotFound { what: String, id: String },

    #[error("Theary answered {status}: {}", .messages.join("; "))]
    Api {
        status: u16,
        messages: Vec<String>,
        retry_after: Option<Duration>,
    },

    /// An order `POST` whose outcome is unknown: Theary may or may not have created the
    /// order. It is never repeated blindly; look the order up by `externalSearchId`.
    #[error("the order request's outcome is unknown ({reason}); look it up by externalSearchId before trying again")]
    Indeterminate { reason: String },

    #[error("could not reach Theary")]
    Transport(#[source] reqwest::Error),

    #[error("Theary's response could not be read: {0}")]
    Decode(String),

    #[error("invalid Theary configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether a later try may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport(_) => true,
            Error::Api { status, .. } | Error::TokenEndpoint { status, .. } => {
                *status == 408 || *status == 429 || *status >= 500
            }
            _ => false,
        }
    }

    /// HTTP status answered, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Invalid { .. } => Some(400),
            Error::Unauthorized { .. } => Some(401),
            Error::NotFound { .. } => Some(404),
            Error::Api { status, .. } | Error::TokenEndpoint { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Reads Theary's error bodies: NestJS `{statusCode, message: string | [string], error}` and
/// the 404 shape `{error, orderId, searchId?}`; anything else as text.
pub(crate) fn messages(body: &[u8]) -> (Vec<String>, Option<Value>) {
    #[derive(Deserialize)]
    struct Shape {
        #[serde(default)]
        message: Option<Value>,
        #[serde(default)]
        error: Option<String>,
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body)
            .trim()
            .chars()
            .take(500)
            .collect::<String>();
        return (
            if text.is_empty() {
                Vec::new()
            } else {
                vec![text]
            },
            None,
        );
    };
    let parsed: Option<Shape> = serde_json::from_value(value.clone()).ok();
    let mut out = Vec::new();
    if let Some(shape) = parsed {
        match shape.message {
            Some(Value::String(s)) => out.push(s),
            Some(Value::Array(items)) => out.extend(items.into_iter().map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            })),
            _ => {}
        }
        if out.is_empty() {
            out.extend(shape.error);
        }
    }
    (out, Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nestjs_and_404_shapes() {
        let (m, _) = messages(br#"{"statusCode":400,"message":["a should not be empty","b must be a number"],"error":"Bad Request"}"#);
        assert_eq!(m, vec!["a should not be empty", "b must be a number"]);
        let (m, _) =
            messages(br#"{"statusCode":400,"message":"Validation failed","error":"Bad Request"}"#);
        assert_eq!(m, vec!["Validation failed"]);
        let (m, v) = messages(br#"{"error":"Order not found","orderId":"ord_1"}"#);
        assert_eq!(m, vec!["Order not found"]);
        assert_eq!(v.unwrap()["orderId"], "ord_1");
        assert_eq!(messages(b"Bad Gateway").0, vec!["Bad Gateway"]);
    }
}
