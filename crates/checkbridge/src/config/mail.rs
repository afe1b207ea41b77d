//! `[mail]`: the SMTP server the candidate invitations go out through (see `crate::mail`).
//!
//! The section is optional (without it the service sends no mail). The server is named
//! either by `smtp_url` (`smtp://host:port` for STARTTLS, `smtps://host:port` for TLS from
//! the first byte) or by `host` and `port`; `tls` says how the connection is protected, and
//! `none` is allowed only to this machine (localhost, 127.0.0.0/8, ::1), as plain http is
//! for outbound URLs: the password and the candidates' links travel on it. The password is a
//! secret (`CHECKBRIDGE_MAIL__PASSWORD`), never printed. [`MailConfig::settings`] checks it
//! all once and gives the [`MailSettings`] the mailer is built from.

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::SecretString;
use serde::Deserialize;

use super::load::lenient;
use super::{invalid, ConfigError};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    /// Plain connect, then `STARTTLS` (required: a server that does not offer it fails).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No TLS at all: only to this machine.
    None,
}

impl MailTls {
    /// The usual port for this protection.
    pub fn default_port(self) -> u16 {
        match self {
            MailTls::Starttls => 587,
            MailTls::Tls => 465,
            MailTls::None => 25,
        }
    }

    fn name(self) -> &'static str {
        match self {
            MailTls::Starttls => "starttls",
            MailTls::Tls => "tls",
            MailTls::None => "none",
        }
    }
}

/// `[mail]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// `smtp://host[:port]` or `smtps://host[:port]`; instead of `host` and `port`.
    #[serde(default)]
    pub smtp_url: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    /// Default: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    #[serde(default, deserialize_with = "lenient::opt_unsigned")]
    pub port: Option<u64>,
    /// Default: `starttls` (or `tls` for an `smtps://` URL).
    #[serde(default)]
    pub tls: Option<MailTls>,
    /// SMTP AUTH user; with `password`, or neither.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    /// The `From` of every message: `Name <address>` or a bare address.
    #[serde(default)]
    pub from: Option<String>,
    /// Seconds one SMTP step (connect, a command, the data) may take.
    #[serde(default = "default_timeout", deserialize_with = "lenient::unsigned")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    30
}

/// `[mail]` checked: what the mailer is built from.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub tls: MailTls,
    /// User and password for SMTP AUTH.
    pub credentials: Option<(String, SecretString)>,
    pub from: Mailbox,
    pub timeout: Duration,
}

impl MailSettings {
    /// `host:port (tls)`, for logs and the summary.
    pub fn describe(&self) -> String {
        format!("{}:{} ({})", self.host, self.port, self.tls.name())
    }
}

/// Whether `host` is this machine: `localhost` or a loopback address.
fn is_local(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl MailConfig {
    /// Checks the section and resolves its defaults.
    pub fn settings(&self) -> Result<MailSettings, ConfigError> {
        let (host, url_port, url_tls) =
            match (&self.smtp_url, &self.host) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "mail.host",
                        "give either mail.smtp_url or mail.host (and mail.port), not both",
                    ))
                }
                (None, None) => return Err(invalid(
                    "mail.host",
                    "missing: name the SMTP server with mail.host (and mail.port) or mail.smtp_url",
                )),
                (Some(raw), None) => {
                    let (host, port, tls) = parse_url(raw)?;
                    (host, port, Some(tls))
                }
                (None, Some(host)) => (host.trim().to_owned(), None, None),
            };
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(invalid("mail.host", "must be a host name or an IP address"));
        }
        let tls =
            match (self.tls, url_tls) {
                (Some(MailTls::Tls), Some(MailTls::Starttls)) => return Err(invalid(
                    "mail.tls",
                    "\"tls\" (TLS from the first byte) needs an smtps:// URL; smtp:// is STARTTLS",
                )),
                (Some(t), Some(MailTls::Tls)) if t != MailTls::Tls => return Err(invalid(
                    "mail.tls",
                    "an smtps:// URL is TLS from the first byte: tls must be \"tls\" or left out",
                )),
                (Some(t), _) => t,
                (None, Some(t)) => t,
                (None, None) => MailTls::Starttls,
            };
        if tls == MailTls::None && !is_local(&host) {
            return Err(invalid(
                "mail.tls",
                "\"none\" is allowed only to localhost, 127.0.0.0/8 or ::1: the password and the candidates' links travel on the connection",
            ));
        }
        let port = match (self.port, url_port) {
            (Some(_), Some(_)) => {
                return Err(invalid("mail.port", "the port is already in mail.smtp_url"))
            }
            (Some(p), None) => u16::try_from(p)
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| invalid("mail.port", "must be 1..=65535"))?,
            (None, Some(p)) => p,
            (None, None) => tls.default_port(),
        };
        let credentials = match (&self.username, &self.password) {
            (Some(user), Some(password)) if !user.trim().is_empty() => {
                Some((user.trim().to_owned(), password.clone()))
            }
            (Some(_), Some(_)) => return Err(invalid("mail.username", "must not be empty")),
            (Some(_), None) => return Err(invalid(
                "mail.password",
                "missing: mail.username is set (give the password in CHECKBRIDGE_MAIL__PASSWORD)",
            )),
            (None, Some(_)) => {
                return Err(invalid(
                    "mail.username",
                    "missing: mail.password is set without a user",
                ))
            }
            (None, None) => None,
        };
        let from = match &self.from {
            None => {
                return Err(invalid(
                    "mail.from",
                    "missing: the sender of the invitations, such as \"Acme Checks <checks@acme.example>\"",
                ))
            }
            Some(raw) => raw.trim().parse::<Mailbox>().map_err(|_| {
                invalid(
                    "mail.from",
                    "not an email address (write \"Name <address@host>\" or address@host)",
                )
            })?,
        };
        if !(1..=600).contains(&self.timeout_secs) {
            return Err(invalid("mail.timeout_secs", "must be 1..=600"));
        }
        Ok(MailSettings {
            host,
            port,
            tls,
            credentials,
            from,
            timeout: Duration::from_secs(self.timeout_secs),
        })
    }
}

/// `smtp://host[:port]` or `smtps://host[:port]`, with nothing else.
fn parse_url(raw: &str) -> Result<(String, Option<u16>, MailTls), ConfigError> {
    const KEY: &str = "mail.smtp_url";
    let url = url::Url::parse(raw.trim()).map_err(|_| {
        invalid(
            KEY,
            "not a URL (write smtp://host:port or smtps://host:port)",
        )
    })?;
    let tls = match url.scheme() {
        "smtp" => MailTls::Starttls,
        "smtps" => MailTls::Tls,
        _ => {
            return Err(invalid(
                KEY,
                "the scheme must be smtp:// (STARTTLS) or smtps:// (TLS)",
            ))
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: the URL holds a password.
        return Err(invalid(
            KEY,
            "must not hold credentials: set mail.username, and the password in CHECKBRIDGE_MAIL__PASSWORD",
        ));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(KEY, "must be only smtp[s]://host[:port]"));
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(invalid(KEY, "has no host")),
    };
    Ok((host, url.port(), tls))
}
