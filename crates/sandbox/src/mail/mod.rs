//! A mail sandbox: an SMTP server that keeps every message it receives in memory and lists
//! them over HTTP, so tests and the demo can read the invitations checkbridge sends.
//!
//! - SMTP on `127.0.0.1` (`smtp.rs`): the protocol is [`mailin`]'s session state machine
//!   (commands, replies, `AUTH PLAIN`/`LOGIN`, `STARTTLS`, dot-unstuffing); this module only
//!   moves its lines over tokio sockets. `mailin-embedded`, the same author's runner, serves
//!   on a thread pool that cannot be stopped and binds its own listener, which a test on
//!   port 0 under tokio cannot use. With [`MailConfig::users`] set, mail is accepted only
//!   after `AUTH` with one of them; with [`MailConfig::starttls`], the server offers
//!   `STARTTLS` with a self-signed certificate made at start (for `localhost` and
//!   `127.0.0.1`, its PEM in [`MailSandbox::certificate_pem`]) and then accepts `AUTH` only
//!   over TLS, as a real submission server does; without it, `AUTH` is allowed in clear.
//! - HTTP (axum, like the other sandboxes): `GET /messages` (`?to=` filters by envelope
//!   recipient), `GET /messages/{id}` (with the raw RFC 5322 text), `DELETE /messages`,
//!   `/openapi.json`, and `/__admin` (the shared journal and faults of the HTTP side, and
//!   `POST /__admin/smtp-reject` to answer the next messages' end of data with a chosen
//!   SMTP code, such as 451 (transient) or 554 (permanent)).
//!
//! Messages are parsed with `mail-parser` for the listing (subject, `Message-ID`, headers,
//! the text and HTML parts). Nothing is logged about a message: bodies hold the links and
//! names checkbridge sends.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::common::{self, fault_and_journal, Instrumentation, Server};

mod smtp;

pub use smtp::SmtpServer;

/// How the SMTP side behaves.
#[derive(Clone, Default)]
pub struct MailConfig {
    /// `(user, password)` pairs accepted by `AUTH PLAIN` and `AUTH LOGIN`. Empty: no `AUTH`,
    /// mail is accepted from anyone on this machine.
    pub users: Vec<(String, String)>,
    /// Offer `STARTTLS` with a self-signed certificate (and then allow `AUTH` only over TLS).
    pub starttls: bool,
    /// Largest message accepted, in bytes (0: the default, 10 MiB).
    pub max_message_bytes: usize,
    /// Messages kept (oldest dropped first; 0: the default, 1000).
    pub capacity: usize,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("MailConfig")
            .field("users", &users)
            .field("starttls", &self.starttls)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("capacity", &self.capacity)
            .finish()
    }
}

const DEFAULT_MAX_MESSAGE: usize = 10 * 1024 * 1024;
const DEFAULT_CAPACITY: usize = 1000;

/// One received message as the listing shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    /// Order of arrival, from 1.
    pub id: u64,
    /// RFC 3339, UTC.
    pub received_at: String,
    /// Envelope sender (`MAIL FROM`).
    pub from: String,
    /// Envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The user the client authenticated as, if it did.
    pub authenticated_as: Option<String>,
    /// Whether the message arrived over TLS (after `STARTTLS`).
    pub tls: bool,
    pub subject: Option<String>,
    /// The `Message-ID` header without its angle brackets.
    pub message_id: Option<String>,
    /// Every header, in order, as `(name, value)` with the value unfolded.
    pub headers: Vec<(String, String)>,
    /// The first text/plain part, decoded.
    pub text: Option<String>,
    /// The first text/html part, decoded.
    pub html: Option<String>,
    /// The message as received (RFC 5322), only in `GET /messages/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

impl Message {
    /// Parses `raw` for the listing.
    fn parse(
        id: u64,
        envelope: smtp::Envelope,
        raw: &[u8],
        received_at: String,
    ) -> Result<Message, &'static str> {
        let parsed = mail_parser::MessageParser::default()
            .parse(raw)
            .ok_or("the message has no headers")?;
        let headers = parsed
            .headers_raw()
            .map(|(name, value)| (name.to_owned(), unfold(value)))
            .collect();
        Ok(Message {
            id,
            received_at,
            from: envelope.from,
            to: envelope.to,
            authenticated_as: envelope.authenticated_as,
            tls: envelope.tls,
            subject: parsed.subject().map(str::to_owned),
            message_id: parsed.message_id().map(str::to_owned),
            headers,
            text: parsed.body_text(0).map(|t| t.into_owned()),
            html: parsed.body_html(0).map(|t| t.into_owned()),
            raw: Some(String::from_utf8_lossy(raw).into_owned()),
        })
    }

    fn summary(&self) -> Message {
        Message {
            raw: None,
            ..self.clone()
        }
    }
}

/// A header value on one line, as read (folding removed, encoded words kept).
fn unfold(value: &str) -> String {
    value
        .split("\r\n")
        .flat_map(|l| l.split('\n'))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A reply forced at the end of data, instead of accepting the message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SmtpReject {
    /// The SMTP code: 4xx is transient, 5xx permanent.
    pub code: u16,
    /// How many messages in a row get it (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// The reply text (a generic one when absent).
    #[serde(default)]
    pub message: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Default)]
struct Inner {
    messages: VecDeque<Message>,
    next_id: u64,
    rejects: VecDeque<SmtpReject>,
    /// Messages refused by the parser (none for what lettre writes).
    unparseable: u64,
}

/// The sandbox's state, shared by the SMTP sessions, the HTTP handlers and the test or
/// program that runs it.
#[derive(Clone)]
pub struct MailState {
    inner: Arc<Mutex<Inner>>,
    arrived: Arc<Notify>,
    config: Arc<MailConfig>,
    pub inst: Instrumentation,
}

impl std::fmt::Debug for MailState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MailState {
    fn new(config: MailConfig) -> MailState {
        MailState {
            inner: Arc::default(),
            arrived: Arc::default(),
            config: Arc::new(config),
            inst: Instrumentation::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn capacity(&self) -> usize {
        match self.config.capacity {
            0 => DEFAULT_CAPACITY,
            n => n,
        }
    }

    pub(crate) fn max_message_bytes(&self) -> usize {
        match self.config.max_message_bytes {
            0 => DEFAULT_MAX_MESSAGE,
            n => n,
        }
    }

    /// Whether `user` with `password` may authenticate.
    pub(crate) fn accepts(&self, user: &str, password: &str) -> bool {
        self.config
            .users
            .iter()
            .any(|(u, p)| u == user && p == password)
    }

    /// Keeps a message that arrived, or says which reply to give instead.
    pub(crate) fn receive(&self, envelope: smtp::Envelope, raw: &[u8]) -> Result<(), SmtpReject> {
        let received_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut inner = self.lock();
        if let Some(reject) = inner.rejects.front_mut() {
            let answer = reject.clone();
            reject.count = reject.count.saturating_sub(1);
            if reject.count == 0 {
                inner.rejects.pop_front();
            }
            return Err(answer);
        }
        let id = inner.next_id + 1;
        let message = match Message::parse(id, envelope, raw, received_at) {
            Ok(m) => m,
            Err(why) => {
                inner.unparseable += 1;
                return Err(SmtpReject {
                    code: 554,
                    count: 1,
                    message: Some(format!("message refused: {why}")),
                });
            }
        };
        inner.next_id = id;
        if inner.messages.len() >= self.capacity() {
            inner.messages.pop_front();
        }
        inner.messages.push_back(message);
        drop(inner);
        self.arrived.notify_waiters();
        Ok(())
    }

    /// Every message kept, oldest first, without the raw text.
    pub fn messages(&self) -> Vec<Message> {
        self.lock().messages.iter().map(Message::summary).collect()
    }

    /// Messages with `to` among their envelope recipients (case-insensitive).
    pub fn messages_to(&self, to: &str) -> Vec<Message> {
        self.lock()
            .messages
            .iter()
            .filter(|m| m.to.iter().any(|r| r.eq_ignore_ascii_case(to)))
            .map(Message::summary)
            .collect()
    }

    /// One message with its raw text.
    pub fn message(&self, id: u64) -> Option<Message> {
        self.lock().messages.iter().find(|m| m.id == id).cloned()
    }

    /// Forgets every message.
    pub fn clear(&self) {
        self.lock().messages.clear();
    }

    /// Makes the next `reject.count` messages be answered with `reject.code`.
    pub fn reject_next(&self, reject: SmtpReject) {
        self.lock().rejects.push_back(reject);
    }

    /// Waits until at least `n` messages are kept, or `timeout` passes; returns them.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Message> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.arrived.notified();
            let now = self.messages();
            if now.len() >= n {
                return now;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.messages();
            }
        }
    }
}

/// A running mail sandbox: the SMTP server and the HTTP listing. Dropping it stops both.
#[derive(Debug)]
pub struct MailSandbox {
    pub smtp: SmtpServer,
    pub server: Server,
    pub state: MailState,
    certificate_pem: Option<String>,
}

impl MailSandbox {
    /// The HTTP listing's base URL, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Where SMTP clients connect.
    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp.addr
    }

    /// The self-signed certificate `STARTTLS` presents (PEM), when it is offered: a client
    /// adds it as a trusted root.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }

    /// Stops both servers.
    pub async fn stop(self) {
        self.smtp.stop().await;
        self.server.stop().await;
    }

    /// What an integrator needs to point a mailer at the sandbox.
    pub fn quickstart(&self) -> String {
        let base = self.base_url();
        let smtp = self.smtp_addr();
        let mut out = format!(
            "Mail sandbox (SMTP in, HTTP listing out)\n\
             ========================================\n\
             SMTP:           {smtp} ({tls}{auth})\n\
             Messages:       GET {base}/messages[?to=ADDRESS], GET {base}/messages/ID (with raw), DELETE {base}/messages\n\
             Admin API:      {base}/__admin (POST /smtp-reject {{\"code\":451}}, journal)\n\
             OpenAPI:        {base}/openapi.json\n",
            tls = if self.certificate_pem.is_some() {
                "STARTTLS offered, self-signed certificate"
            } else {
                "plain, no TLS"
            },
            auth = if self.state.config.users.is_empty() {
                ", no AUTH"
            } else {
                ", AUTH PLAIN/LOGIN required"
            },
        );
        for (user, password) in &self.state.config.users {
            out.push_str(&format!("User:           {user} / password {password}\n"));
        }
        out.push_str(&format!(
            "\n# checkbridge's [mail] for it:\n\
             # host = \"127.0.0.1\"\n# port = {port}\n# tls = \"{tls}\"\n\
             # from = \"Checks <checks@checkbridge.example>\"\n",
            port = smtp.port(),
            tls = if self.certificate_pem.is_some() {
                "starttls"
            } else {
                "none"
            },
        ));
        if self.certificate_pem.is_some() {
            out.push_str(
                "# (the certificate is self-signed and [mail] has no key to trust it: for the\n\
                 #  service, run the sandbox without --mail-starttls and use tls = \"none\")\n",
            );
        }
        if let Some((user, password)) = self.state.config.users.first() {
            out.push_str(&format!(
                "# username = \"{user}\"\n# password: CHECKBRIDGE_MAIL__PASSWORD={password}\n"
            ));
        }
        out.push_str(&format!(
            "\n# 1. List what arrived:\ncurl -s {base}/messages\n"
        ));
        out
    }
}

/// Starts the sandbox on free ports.
pub async fn spawn(config: MailConfig) -> std::io::Result<MailSandbox> {
    spawn_on(
        common::bind_local(0).await?,
        common::bind_local(0).await?,
        config,
    )
    .await
}

/// Starts the sandbox on already-bound listeners: SMTP on `smtp`, the HTTP listing on `http`.
pub async fn spawn_on(
    smtp: tokio::net::TcpListener,
    http: tokio::net::TcpListener,
    config: MailConfig,
) -> std::io::Result<MailSandbox> {
    let starttls = config.starttls;
    let state = MailState::new(config);
    let (tls, certificate_pem) = if starttls {
        let (acceptor, pem) = smtp::self_signed_acceptor().map_err(std::io::Error::other)?;
        (Some(acceptor), Some(pem))
    } else {
        (None, None)
    };
    let smtp = smtp::serve(smtp, state.clone(), tls)?;
    let server = common::serve(http, router(state.clone()))?;
    Ok(MailSandbox {
        smtp,
        server,
        state,
        certificate_pem,
    })
}

#[derive(Deserialize)]
struct ListQuery {
    to: Option<String>,
}

async fn list(State(s): State<MailState>, Query(q): Query<ListQuery>) -> Json<Vec<Message>> {
    Json(match q.to {
        Some(to) => s.messages_to(&to),
        None => s.messages(),
    })
}

async fn one_message(State(s): State<MailState>, Path(id): Path<String>) -> Response {
    match id.parse::<u64>().ok().and_then(|id| s.message(id)) {
        Some(m) => Json(m).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "message": "no such message" })),
        )
            .into_response(),
    }
}

async fn clear(State(s): State<MailState>) -> StatusCode {
    s.clear();
    StatusCode::NO_CONTENT
}

/// The sandbox's HTTP routes: the listing (journalled and faulted), `/openapi.json` and
/// `/__admin`.
pub fn router(state: MailState) -> Router {
    let api = Router::new()
        .route("/messages", get(list).delete(clear))
        .route("/messages/{id}", get(one_message))
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(
            state.inst.clone(),
            fault_and_journal,
        ));
    let admin = Router::new()
        .route(
            "/smtp-reject",
            post(
                |State(s): State<MailState>, Json(r): Json<SmtpReject>| async move {
                    if !(400..600).contains(&r.code) {
                        return (
                            StatusCode::UNPROCESSABLE_ENTITY,
                            Json(serde_json::json!({ "message": "code must be 400..=599" })),
                        )
                            .into_response();
                    }
                    s.reject_next(r);
                    StatusCode::NO_CONTENT.into_response()
                },
            ),
        )
        .with_state(state.clone())
        .merge(common::admin_routes(state.inst.clone()));
    api.merge(Router::new().route(
        "/openapi.json",
        get(|| async { crate::openapi::serve(&openapi()) }),
    ))
    .nest("/__admin", admin)
}

/// This sandbox's OpenAPI 3.1 description (served at `/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    use crate::openapi::Route;
    use utoipa::openapi::path::HttpMethod;
    let own = [
        Route {
            method: HttpMethod::Get,
            path: "/messages",
            summary: "The messages received, oldest first (`?to=` filters by envelope recipient)",
            body: false,
            statuses: &[200],
        },
        Route {
            method: HttpMethod::Delete,
            path: "/messages",
            summary: "Forget every message",
            body: false,
            statuses: &[204],
        },
        Route {
            method: HttpMethod::Get,
            path: "/messages/{id}",
            summary: "One message, with its raw RFC 5322 text",
            body: false,
            statuses: &[200, 404],
        },
        Route {
            method: HttpMethod::Post,
            path: "/__admin/smtp-reject",
            summary: "Answer the next messages' end of data with an SMTP code (`{\"code\": 451, \"count\": 1}`)",
            body: true,
            statuses: &[204, 400, 415, 422],
        },
    ];
    crate::openapi::describe(
        "Mail sandbox",
        "An SMTP server that keeps what it receives, listed over HTTP, and its test controls under /__admin.",
        &own,
    )
}
