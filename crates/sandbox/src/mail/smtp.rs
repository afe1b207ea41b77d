//! The SMTP side: [`mailin`]'s session state machine fed line by line from tokio sockets.
//!
//! Each connection gets a [`mailin::Session`] whose handler ([`Recorder`]) collects the
//! envelope and the data and hands the finished message to [`MailState::receive`]. After
//! `STARTTLS` the same session continues over a rustls stream. Lines are bounded (64 KiB)
//! and so is a message ([`MailState::max_message_bytes`]); an idle connection is closed
//! after five minutes, and every connection ends when the server stops.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mailin::{response, Action, AuthMechanism, Handler, Response, Session, SessionBuilder};
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncReadExt as _, AsyncWrite};
use tokio::io::{AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use super::MailState;

/// Longest command or data line read (RFC 5321 allows 1000 octets; this is generous).
const MAX_LINE: usize = 64 * 1024;
/// A connection that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(300);
/// The name the server greets with.
const NAME: &str = "mail-sandbox.localhost";

/// What a client said about a message besides its text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Envelope {
    pub from: String,
    pub to: Vec<String>,
    pub authenticated_as: Option<String>,
    pub tls: bool,
}

/// A running SMTP server. Dropping it stops it (and closes its connections).
#[derive(Debug)]
pub struct SmtpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl SmtpServer {
    /// Stops accepting, closes open connections, and waits for the accept loop.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
    }
}

/// Serves SMTP on `listener` until the returned server is stopped or dropped.
pub(crate) fn serve(
    listener: TcpListener,
    state: MailState,
    tls: Option<TlsAcceptor>,
) -> std::io::Result<SmtpServer> {
    let addr = listener.local_addr()?;
    let (tx, mut rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let (state, tls, mut stop) = (state.clone(), tls.clone(), rx.clone());
                    tokio::spawn(async move {
                        tokio::select! {
                            result = connection(stream, state, tls) => {
                                if let Err(err) = result {
                                    tracing::debug!(error = %err, "mail sandbox: SMTP connection ended with an error");
                                }
                            }
                            _ = stop.changed() => {}
                        }
                    });
                }
                _ = rx.changed() => break,
            }
        }
    });
    Ok(SmtpServer {
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// A TLS acceptor with a certificate for `localhost` and `127.0.0.1` made now, and the
/// certificate's PEM.
pub(crate) fn self_signed_acceptor() -> Result<(TlsAcceptor, String), String> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(|e| format!("making the sandbox's certificate: {e}"))?;
    let pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS versions: {e}"))?
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .map_err(|e| format!("TLS certificate: {e}"))?;
    Ok((TlsAcceptor::from(Arc::new(config)), pem))
}

/// What the line exchange stopped for.
enum Next {
    Done,
    StartTls,
}

async fn connection(
    stream: TcpStream,
    state: MailState,
    tls: Option<TlsAcceptor>,
) -> std::io::Result<()> {
    let peer = stream
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let mut builder = SessionBuilder::new(NAME);
    if tls.is_some() {
        builder.enable_start_tls();
    }
    if !state.config.users.is_empty() {
        builder
            .enable_auth(AuthMechanism::Plain)
            .enable_auth(AuthMechanism::Login);
        if tls.is_none() {
            // Without TLS on offer, AUTH in clear is the only way in (on this machine only).
            builder.insecure_enable_plaintext_auth();
        }
    }
    let secure = Arc::new(AtomicBool::new(false));
    let mut session = builder.build(peer, Recorder::new(state, secure.clone()));

    let mut plain = BufReader::new(stream);
    reply(&mut plain, &session.greeting()).await?;
    if let Next::Done = exchange(&mut session, &mut plain).await? {
        return Ok(());
    }
    let Some(acceptor) = tls else {
        return Ok(());
    };
    if !plain.buffer().is_empty() {
        // Commands pipelined behind STARTTLS would be read as if sent over TLS.
        return Ok(());
    }
    let tls_stream = acceptor.accept(plain.into_inner()).await?;
    secure.store(true, Ordering::Relaxed);
    session.tls_active();
    let mut tls_stream = BufReader::new(tls_stream);
    exchange(&mut session, &mut tls_stream).await?;
    Ok(())
}

/// Feeds lines to the session and writes its replies, until it closes or asks for TLS.
async fn exchange<S>(session: &mut Session<Recorder>, stream: &mut S) -> std::io::Result<Next>
where
    S: AsyncBufRead + AsyncWrite + Unpin,
{
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let read = tokio::time::timeout(
            IDLE,
            (&mut *stream)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line),
        )
        .await;
        let n = match read {
            Ok(result) => result?,
            Err(_) => {
                reply(stream, &response::NO_SERVICE).await?;
                return Ok(Next::Done);
            }
        };
        if n == 0 {
            return Ok(Next::Done);
        }
        if !line.ends_with(b"\n") {
            reply(stream, &Response::custom(500, "Line too long".to_owned())).await?;
            return Ok(Next::Done);
        }
        let res = session.process(&line);
        if res.is_error && line == b".\r\n" {
            // mailin keeps a session whose end of data was refused in its data state, where
            // the client's next command would be read as message text: the reply is given
            // and the connection closed, which clients take as the end of that transaction.
            reply(stream, &res).await?;
            return Ok(Next::Done);
        }
        match res.action {
            Action::Reply => reply(stream, &res).await?,
            Action::Close => {
                reply(stream, &res).await?;
                return Ok(Next::Done);
            }
            Action::UpgradeTls => {
                reply(stream, &res).await?;
                return Ok(Next::StartTls);
            }
            Action::NoReply => {}
        }
    }
}

async fn reply<S: AsyncWrite + Unpin>(stream: &mut S, res: &Response) -> std::io::Result<()> {
    stream.write_all(&res.buffer()?).await?;
    stream.flush().await
}

/// The session's handler: checks credentials, collects one message at a time.
struct Recorder {
    state: MailState,
    secure: Arc<AtomicBool>,
    envelope: Envelope,
    data: Vec<u8>,
    too_big: bool,
}

impl Recorder {
    fn new(state: MailState, secure: Arc<AtomicBool>) -> Recorder {
        Recorder {
            state,
            secure,
            envelope: Envelope::default(),
            data: Vec::new(),
            too_big: false,
        }
    }

    fn authenticate(&mut self, user: &str, password: &str) -> Response {
        if self.state.accepts(user, password) {
            self.envelope.authenticated_as = Some(user.to_owned());
            response::AUTH_OK
        } else {
            response::INVALID_CREDENTIALS
        }
    }
}

impl Handler for Recorder {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.envelope.from = from.to_owned();
        self.envelope.to = to.to_vec();
        self.data.clear();
        self.too_big = false;
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.data.len() + buf.len() > self.state.max_message_bytes() {
            self.too_big = true;
        } else {
            self.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let data = std::mem::take(&mut self.data);
        if std::mem::take(&mut self.too_big) {
            return response::NO_STORAGE;
        }
        let mut envelope = self.envelope.clone();
        envelope.tls = self.secure.load(Ordering::Relaxed);
        match self.state.receive(envelope, &data) {
            Ok(()) => response::OK,
            Err(reject) => Response::custom(
                reject.code,
                reject
                    .message
                    .unwrap_or_else(|| "Rejected by the sandbox on request".to_owned()),
            ),
        }
    }

    fn auth_plain(
        &mut self,
        _authorization_id: &str,
        authentication_id: &str,
        password: &str,
    ) -> Response {
        self.authenticate(authentication_id, password)
    }

    fn auth_login(&mut self, username: &str, password: &str) -> Response {
        self.authenticate(username, password)
    }
}
