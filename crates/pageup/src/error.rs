//! What can go wrong talking to PageUp, in terms an operator can act on.

use std::time::Duration;

use serde::Deserialize;

/// One entry of PageUp's error array (`[{"field"?, "message"}]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiMessage {
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub message: String,
}

impl std::fmt::Display for ApiMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Errors of the PageUp client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "PageUp rejected the client id and secret of tenant {tenant} ({detail}); ask PageUp to \
         confirm the client credentials for this tenant and environment (UAT and LIVE differ)"
    )]
    BadCredentials { tenant: String, detail: String },

    #[error(
        "PageUp does not grant scope {scope} to client {client_id} of tenant {tenant}; ask PageUp \
         to add the scope to this client"
    )]
    MissingScope {
        tenant: String,
        client_id: String,
        scope: String,
    },

    #[error(
        "PageUp's token for client {client_id} of tenant {tenant} carries no partner id claim \
         ({claim}); ask PageUp to set up the partner id for this client"
    )]
    MissingPartnerClaim {
        tenant: String,
        client_id: String,
        claim: String,
    },

    #[error("PageUp refused access for tenant {tenant}: {message}")]
    Forbidden { tenant: String, message: String },

    #[error("PageUp's token endpoint answered {status}: {detail}")]
    TokenEndpoint { status: u16, detail: String },

    #[error("PageUp answered {status}: {}", join(.messages))]
    Api {
        status: u16,
        messages: Vec<ApiMessage>,
        retry_after: Option<Duration>,
    },

    #[error("could not reach PageUp")]
    Transport(#[source] reqwest::Error),

    #[error("PageUp's response was cut off while it was being read")]
    Interrupted(#[source] std::io::Error),

    #[error("PageUp's response could not be read: {0}")]
    Decode(String),

    #[error("PageUp's response is larger than the {limit} bytes allowed")]
    TooLarge { limit: u64 },

    #[error("invalid PageUp configuration: {0}")]
    Config(String),
}

fn join(messages: &[ApiMessage]) -> String {
    if messages.is_empty() {
        return "(no message)".to_owned();
    }
    messages
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// Whether trying again later may succeed (network trouble, 408/429/5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport(_) | Error::Interrupted(_) => true,
            Error::Api { status, .. } | Error::TokenEndpoint { status, .. } => {
                outbound::status_is_transient(
                    http::StatusCode::from_u16(*status)
                        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                )
            }
            _ => false,
        }
    }

    /// Whether the credentials or their grants are the problem (an operator must act).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Error::BadCredentials { .. }
                | Error::MissingScope { .. }
                | Error::MissingPartnerClaim { .. }
                | Error::Forbidden { .. }
        )
    }

    /// HTTP status PageUp answered, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::TokenEndpoint { status, .. } => Some(*status),
            Error::MissingScope { .. }
            | Error::MissingPartnerClaim { .. }
            | Error::Forbidden { .. } => Some(403),
            _ => None,
        }
    }

    /// How long PageUp asked us to wait (429/503 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Parses an error body tolerantly: PageUp's array, a single object, or plain text.
pub(crate) fn parse_messages(body: &[u8]) -> Vec<ApiMessage> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        Many(Vec<ApiMessage>),
        One(ApiMessage),
    }
    match serde_json::from_slice::<Shape>(body) {
        Ok(Shape::Many(v)) => v,
        Ok(Shape::One(m)) if !m.message.is_empty() => vec![m],
        _ => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                Vec::new()
            } else {
                vec![ApiMessage {
                    field: None,
                    message: text.chars().take(500).collect(),
                }]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_in_every_shape() {
        let arr = br#"[{"message":"You are not allowed"},{"field":"name","message":"Name is required","6f1c3a0e-8d7b-4c8e-9a51-2b0f4e7c9d11":"x"}]"#;
        let m = parse_messages(arr);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].to_string(), "name: Name is required");
        assert_eq!(parse_messages(br#"{"message":"boom"}"#)[0].message, "boom");
        assert_eq!(
            parse_messages(b"Service Unavailable")[0].message,
            "Service Unavailable"
        );
        assert!(parse_messages(b"").is_empty());
        let e = Error::Api {
            status: 400,
            messages: m,
            retry_after: None,
        };
        assert_eq!(
            e.to_string(),
            "PageUp answered 400: You are not allowed; name: Name is required"
        );
    }
}
