//! Sending mail: the candidate invitations and reminders, over SMTP with `lettre`.
//!
//! [`Mailer`] sends one [`OutgoingMail`] per call (text and HTML alternatives, the caller's
//! `Message-ID`) and answers with a [`SendError`] that says whether trying again later can
//! help ([`SendError::is_transient`]): the invitation worker records the outcome and its next
//! activation is the retry, so nothing here retries or loops. The caller chooses the
//! `Message-ID` (one per invitation), so a resend after a crash carries the same id and a
//! reader, or a test, can tell it is the same message.
//!
//! [`content`] writes what an invitation or reminder says; it is pure and tested alone.
//! Nothing here logs an address, a subject or a body: they are personal data.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use secrecy::ExposeSecret as _;

use crate::config::{MailSettings, MailTls};

pub mod content;

pub use content::{invitation_mail, InvitationContent, InvitationKind, RenderedMail};

/// A `Message-ID` without its angle brackets: `left@right`, printable ASCII, no spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageId(String);

impl MessageId {
    /// Checks `raw` (angle brackets optional).
    pub fn parse(raw: &str) -> Result<MessageId, MailError> {
        let bare = raw
            .trim()
            .strip_prefix('<')
            .and_then(|s| s.strip_suffix('>'))
            .unwrap_or(raw.trim());
        let ok = bare.len() <= 250
            && bare
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"<>()[]\\\",;:".contains(&b))
            && bare
                .split_once('@')
                .is_some_and(|(l, r)| !l.is_empty() && !r.is_empty() && !r.contains('@'));
        if ok {
            Ok(MessageId(bare.to_owned()))
        } else {
            Err(MailError::MessageId)
        }
    }

    /// Without angle brackets.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One message to send. Its Debug shows only the `Message-ID`: the rest is personal data.
#[derive(Clone)]
pub struct OutgoingMail {
    pub to: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: MessageId,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("message_id", &self.message_id)
            .finish_non_exhaustive()
    }
}

impl OutgoingMail {
    /// `rendered` to `to` under `message_id`.
    pub fn new(to: &str, rendered: RenderedMail, message_id: MessageId) -> Result<Self, MailError> {
        let to = to
            .trim()
            .parse::<Mailbox>()
            .map_err(|_| MailError::Recipient)?;
        Ok(OutgoingMail {
            to,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            message_id,
        })
    }
}

/// Input the mailer cannot send, whatever the server says.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    #[error("the recipient is not an email address")]
    Recipient,
    #[error("a Message-ID must be left@right in printable ASCII without spaces or brackets")]
    MessageId,
    #[error("the mailer's TLS settings are unusable: {0}")]
    Tls(String),
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused this message or recipient for good (a 5xx reply to it), or the
    /// message cannot be built: sending it again will not help.
    #[error("the mail server refused the message for good (SMTP {code})")]
    Rejected {
        code: u16,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    #[error("the message could not be built")]
    Invalid(#[source] lettre::error::Error),
    /// The server or the network failed for now (a 4xx reply, a refused or broken
    /// connection, a timeout): try again later.
    #[error("the mail server is unavailable for now")]
    Unavailable(#[source] lettre::transport::smtp::Error),
    #[error("the mail server did not finish within {0:?}")]
    Timeout(Duration),
    /// Our side is misconfigured (credentials refused, AUTH or TLS not as configured): not
    /// the message's fault, so it stays owed until an operator fixes `[mail]`.
    #[error("the mail server refused our credentials or connection settings")]
    Setup(#[source] lettre::transport::smtp::Error),
}

impl SendError {
    /// Whether the same message may succeed later (the owed send stays owed). False only for
    /// [`SendError::Rejected`] and [`SendError::Invalid`].
    pub fn is_transient(&self) -> bool {
        !self.is_permanent()
    }

    /// Whether sending this message again cannot succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Rejected { .. } | SendError::Invalid(_))
    }

    /// The SMTP reply code, when the server answered with one.
    pub fn smtp_code(&self) -> Option<u16> {
        match self {
            SendError::Rejected { code, .. } => Some(*code),
            SendError::Unavailable(e) | SendError::Setup(e) => e.status().map(u16::from),
            SendError::Invalid(_) | SendError::Timeout(_) => None,
        }
    }

    fn classify(err: lettre::transport::smtp::Error) -> SendError {
        let code = err.status().map(u16::from);
        match code {
            // Authentication required, too weak, failed, or needs encryption.
            Some(530 | 534 | 535 | 538 | 454) => SendError::Setup(err),
            Some(code) if err.is_permanent() => SendError::Rejected { code, source: err },
            _ if err.is_tls() || err.is_client() => SendError::Setup(err),
            _ => SendError::Unavailable(err),
        }
    }
}

/// Sends mail through the configured SMTP server. Cheap to clone; holds no connection
/// between sends.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    endpoint: String,
    timeout: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `settings`, trusting the usual public roots.
    pub fn new(settings: &MailSettings) -> Result<Mailer, MailError> {
        Self::build(settings, &[])
    }

    /// As [`Mailer::new`], also trusting the PEM certificates in `roots` (a private relay's
    /// CA, or the mail sandbox's self-signed certificate in tests).
    pub fn with_roots(settings: &MailSettings, roots: &[&[u8]]) -> Result<Mailer, MailError> {
        Self::build(settings, roots)
    }

    fn build(settings: &MailSettings, roots: &[&[u8]]) -> Result<Mailer, MailError> {
        let tls_parameters = || -> Result<TlsParameters, MailError> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            for pem in roots {
                let cert = Certificate::from_pem(pem).map_err(|e| MailError::Tls(e.to_string()))?;
                builder = builder.add_root_certificate(cert);
            }
            builder.build().map_err(|e| MailError::Tls(e.to_string()))
        };
        let tls = match settings.tls {
            MailTls::Starttls => Tls::Required(tls_parameters()?),
            MailTls::Tls => Tls::Wrapper(tls_parameters()?),
            MailTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Mailer {
            transport: builder.build(),
            from: settings.from.clone(),
            endpoint: settings.describe(),
            timeout: settings.timeout,
        })
    }

    /// Sends `mail`: one SMTP transaction, no retry. On success the server has accepted it.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), SendError> {
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(mail.to.clone())
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{}>", mail.message_id)))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(mail.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(mail.html.clone()),
                    ),
            )
            .map_err(SendError::Invalid)?;
        // lettre's timeout bounds each step; this bounds the whole transaction.
        let limit = self.timeout.saturating_mul(4);
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(limit, self.transport.send(message)).await;
        let outcome = match result {
            Err(_) => Err(SendError::Timeout(limit)),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(SendError::classify(e)),
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &outcome {
            Ok(()) => tracing::debug!(
                message_id = %mail.message_id,
                server = %self.endpoint,
                duration_ms,
                "mail accepted by the server"
            ),
            Err(e) => tracing::warn!(
                message_id = %mail.message_id,
                server = %self.endpoint,
                duration_ms,
                transient = e.is_transient(),
                smtp_code = e.smtp_code(),
                error = %e,
                "mail not sent"
            ),
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_checked() {
        assert_eq!(
            MessageId::parse("<inv-1.abc@checkbridge.example>")
                .unwrap()
                .as_str(),
            "inv-1.abc@checkbridge.example"
        );
        assert!(MessageId::parse("a@b").is_ok());
        for bad in [
            "",
            "no-at",
            "@right",
            "left@",
            "a b@c",
            "a@b@c",
            "a\r\nBcc: x@y@z",
            "<a@b",
            "a@b>",
            "ü@b",
        ] {
            assert_eq!(MessageId::parse(bad), Err(MailError::MessageId), "{bad:?}");
        }
    }

    #[test]
    fn outgoing_mail_shows_only_its_id_in_debug() {
        let mail = OutgoingMail::new(
            "Ana <ana@example.com>",
            RenderedMail {
                subject: "s".into(),
                text: "secret-text".into(),
                html: "secret-html".into(),
            },
            MessageId::parse("x@y").unwrap(),
        )
        .unwrap();
        let debug = format!("{mail:?}");
        assert!(debug.contains("x@y"), "{debug}");
        for hidden in ["ana@", "secret-text", "secret-html"] {
            assert!(!debug.contains(hidden), "{debug}");
        }
        assert_eq!(
            OutgoingMail::new(
                "not an address",
                RenderedMail {
                    subject: String::new(),
                    text: String::new(),
                    html: String::new()
                },
                MessageId::parse("x@y").unwrap()
            )
            .unwrap_err(),
            MailError::Recipient
        );
    }
}
