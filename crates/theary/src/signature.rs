//! Webhook signatures: `X-Webhook-Signature: sha256=<hex>`, an HMAC-SHA256 of the raw body
//! bytes keyed with the webhook secret. No timestamp, no other prefix.
//!
//! A body becomes a [`VerifiedBody`] only through [`verify`]; only a `VerifiedBody` can be
//! parsed into an event, so nothing unverified reaches state by mistake.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::wire::{Envelope, WebhookEvent};

type HmacSha256 = Hmac<Sha256>;

/// The header Theary signs with.
pub const HEADER: &str = "X-Webhook-Signature";

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request has no X-Webhook-Signature header")]
    Missing,
    #[error("the X-Webhook-Signature header is not of the form sha256=<64 hex digits>")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// `sha256=<lowercase hex>` for `body` under `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[expect(
    clippy::expect_used,
    reason = "HMAC takes keys of any length; new_from_slice cannot fail for it"
)]
fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length")
}

/// Checks `header` against `body` under `secret`, in constant time for well-formed input.
pub fn verify<'a>(
    secret: &[u8],
    body: &'a [u8],
    header: Option<&str>,
) -> Result<VerifiedBody<'a>, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_part = header
        .strip_prefix("sha256=")
        .or_else(|| header.strip_prefix("SHA256="))
        .ok_or(SignatureError::Malformed)?;
    if hex_part.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let provided = hex::decode(hex_part).map_err(|_| SignatureError::Malformed)?;
    let mut mac = mac(secret);
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&provided)
        .map_err(|_| SignatureError::Mismatch)?;
    Ok(VerifiedBody { body })
}

/// A webhook body whose signature checked out.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedBody<'a> {
    body: &'a [u8],
}

impl<'a> VerifiedBody<'a> {
    /// The raw bytes that were verified.
    pub fn bytes(&self) -> &'a [u8] {
        self.body
    }

    /// Parses the event.
    pub fn parse(&self) -> Result<WebhookEvent, serde_json::Error> {
        let envelope: Envelope = serde_json::from_slice(self.body)?;
        WebhookEvent::from_envelope(envelope)
    }

    /// For bodies that arrive with no signature because no secret was configured: the caller
    /// states that it accepts unsigned events. checkbridge never does.
    pub fn unsigned(body: &'a [u8]) -> Self {
        Self { body }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BODY: &[u8] = br#"{"event":"verification.completed","data":{"searchId":"s1"}}"#;

    #[test]
    fn sign_then_verify() {
        let header = sign(b"order-secret-1", BODY);
        assert!(header.starts_with("sha256=") && header.len() == 71);
        assert!(verify(b"order-secret-1", BODY, Some(&header)).is_ok());
    }

    #[test]
    fn regressions() {
        let good = sign(b"k", BODY);
        let cases: Vec<(Option<String>, SignatureError)> = vec![
            (None, SignatureError::Missing),
            (Some("sha256=".into()), SignatureError::Malformed),
            (
                Some(good[..good.len() - 2].to_owned()),
                SignatureError::Malformed,
            ),
            (Some(format!("{good}00")), SignatureError::Malformed),
            (
                Some(format!("sha256={}", "zz".repeat(32))),
                SignatureError::Malformed,
            ),
            (
                Some(good.trim_start_matches("sha256=").to_owned()),
                SignatureError::Malformed,
            ),
            (
                Some(format!("sha1={}", &good[7..])),
                SignatureError::Malformed,
            ),
            (
                Some(format!("sha256={}", "0".repeat(64))),
                SignatureError::Mismatch,
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(
                verify(b"k", BODY, header.as_deref()).unwrap_err(),
                expected,
                "{header:?}"
            );
        }
    }

    #[test]
    fn upper_case_hex_is_accepted() {
        let good = sign(b"k", BODY);
        let upper = format!("sha256={}", good[7..].to_ascii_uppercase());
        assert!(verify(b"k", BODY, Some(&upper)).is_ok());
    }

    #[test]
    fn a_reserialised_body_fails() {
        let header = sign(b"k", BODY);
        let value: serde_json::Value = serde_json::from_slice(BODY).unwrap();
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        assert_eq!(
            verify(b"k", &pretty, Some(&header)).unwrap_err(),
            SignatureError::Mismatch
        );
    }

    #[test]
    fn another_orders_secret_fails() {
        let header = sign(b"secret-of-order-A", BODY);
        assert_eq!(
            verify(b"secret-of-order-B", BODY, Some(&header)).unwrap_err(),
            SignatureError::Mismatch
        );
    }

    #[test]
    fn only_verified_bodies_parse() {
        let header = sign(b"k", BODY);
        let event = verify(b"k", BODY, Some(&header)).unwrap().parse().unwrap();
        assert_eq!(event.search_id(), Some("s1"));
    }

    proptest! {
        #[test]
        fn round_trip_and_any_flipped_byte_fails(secret in proptest::collection::vec(any::<u8>(), 0..64),
                                                 body in proptest::collection::vec(any::<u8>(), 1..512),
                                                 flip in any::<proptest::sample::Index>()) {
            let header = sign(&secret, &body);
            prop_assert!(verify(&secret, &body, Some(&header)).is_ok());
            let mut tampered = body.clone();
            let i = flip.index(tampered.len());
            tampered[i] ^= 0x01;
            prop_assert_eq!(verify(&secret, &tampered, Some(&header)).unwrap_err(), SignatureError::Mismatch);
        }
    }
}
