//! An OpenID Connect identity provider, small enough to read: what a tenant's IdP (Entra ID,
//! Okta, Google Workspace) does for checkbridge's single sign-on, and the ways it goes wrong.
//!
//! - `GET /.well-known/openid-configuration`: the discovery document.
//! - `GET /jwks`: the public half of an RSA key generated at start (RS256, one `kid`).
//! - `GET /authorize`: the authorization-code flow's sign-in page (a form: user name and
//!   password of a configured user); `POST /authorize` checks them and sends the browser back
//!   to the client's `redirect_uri` with a one-time `code` and the client's `state`.
//! - `POST /token`: the code for an ID token. Checks the client's secret (Basic or form), the
//!   `redirect_uri`, that the code was issued to that client and not used before, and the PKCE
//!   verifier against the S256 challenge the code was issued for.
//!
//! Users (name, password, email, groups) and clients (id, secret, redirect URIs) are
//! configured; [`IdpFault`] makes the next ID tokens wrong in one way (another audience,
//! already expired, a bad signature) or the whole provider hang (down). `/__admin` sets
//! faults and users, and shows the journal, as the other sandboxes do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::traits::PublicKeyParts as _;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::common::{self, Instrumentation, Server};

mod api;

/// A person who can sign in at the sandbox.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdpUser {
    /// What they type in the form.
    pub username: String,
    pub password: String,
    /// The `sub` claim: stable, never reassigned.
    pub subject: String,
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

impl std::fmt::Debug for IdpUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpUser")
            .field("username", &self.username)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl IdpUser {
    /// A user whose name is their email, with a subject derived from it.
    pub fn new(email: &str, password: &str, groups: &[&str]) -> IdpUser {
        IdpUser {
            username: email.to_owned(),
            password: password.to_owned(),
            subject: format!("sub-{}", hex::encode(&sha2_256(email.as_bytes())[..8])),
            email: email.to_owned(),
            name: None,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }
}

/// A relying party registered at the sandbox.
#[derive(Clone, Serialize, Deserialize)]
pub struct IdpClient {
    pub client_id: String,
    pub client_secret: String,
    /// Exact redirect URIs the client may use.
    pub redirect_uris: Vec<String>,
}

impl std::fmt::Debug for IdpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpClient")
            .field("client_id", &self.client_id)
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
    }
}

/// What goes wrong, until cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdpFault {
    /// ID tokens name another client as their audience.
    WrongAudience,
    /// ID tokens expired ten minutes before they were issued.
    Expired,
    /// ID tokens carry a signature that does not verify.
    BadSignature,
    /// Every request hangs (until the fault is cleared, or 60 s): the provider is down.
    Down,
}

/// The signing key: generated at start, the public half published at `/jwks`.
struct SigningKey {
    kid: String,
    encoding: jsonwebtoken::EncodingKey,
    jwk: serde_json::Value,
}

impl SigningKey {
    fn generate() -> Result<SigningKey, String> {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
            .map_err(|e| format!("generating the RSA key: {e}"))?;
        let der = key
            .to_pkcs1_der()
            .map_err(|e| format!("encoding the RSA key: {e}"))?;
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        let kid = hex::encode(&sha2_256(n.as_bytes())[..8]);
        Ok(SigningKey {
            encoding: jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
            jwk: serde_json::json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e,
            }),
            kid,
        })
    }
}

fn sha2_256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).to_vec()
}

/// A code issued and not yet exchanged.
struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    /// The S256 challenge (None: the client sent no PKCE challenge).
    challenge: Option<String>,
    user: IdpUser,
    expires_at: std::time::Instant,
}

#[derive(Default)]
struct Inner {
    users: Vec<IdpUser>,
    clients: Vec<IdpClient>,
    codes: HashMap<String, Grant>,
    fault: Option<IdpFault>,
    /// Codes exchanged for tokens, and tokens issued.
    exchanged: u64,
}

/// The sandbox's state, shared by its handlers and the test or program that runs it.
#[derive(Clone)]
pub struct IdpState {
    inner: Arc<Mutex<Inner>>,
    key: Arc<Mutex<Arc<SigningKey>>>,
    /// Woken when the fault changes (hung requests look again).
    fault_changed: Arc<Notify>,
    issuer: String,
    pub inst: Instrumentation,
}

impl std::fmt::Debug for IdpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpState")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl IdpState {
    fn new(issuer: String) -> Result<IdpState, String> {
        Ok(IdpState {
            inner: Arc::default(),
            key: Arc::new(Mutex::new(Arc::new(SigningKey::generate()?))),
            fault_changed: Arc::default(),
            issuer,
            inst: Instrumentation::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn signing_key(&self) -> Arc<SigningKey> {
        self.key.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The issuer (`iss`), which is also the base URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Adds a user (or replaces the one with the same user name).
    pub fn add_user(&self, user: IdpUser) {
        let mut inner = self.lock();
        inner.users.retain(|u| u.username != user.username);
        inner.users.push(user);
    }

    /// Registers a client (or replaces the one with the same id).
    pub fn add_client(&self, client: IdpClient) {
        let mut inner = self.lock();
        inner.clients.retain(|c| c.client_id != client.client_id);
        inner.clients.push(client);
    }

    /// Sets (or with `None` clears) the fault.
    pub fn set_fault(&self, fault: Option<IdpFault>) {
        self.lock().fault = fault;
        self.fault_changed.notify_waiters();
    }

    pub fn fault(&self) -> Option<IdpFault> {
        self.lock().fault
    }

    /// Replaces the signing key with a new one (a new `kid`): key rotation at the provider.
    pub fn rotate_key(&self) -> Result<(), String> {
        let key = Arc::new(SigningKey::generate()?);
        *self.key.lock().unwrap_or_else(|p| p.into_inner()) = key;
        Ok(())
    }

    /// The `kid` tokens are signed with now.
    pub fn kid(&self) -> String {
        self.signing_key().kid.clone()
    }

    /// How many codes were exchanged for tokens.
    pub fn tokens_issued(&self) -> u64 {
        self.lock().exchanged
    }
}

/// A running identity-provider sandbox.
#[derive(Debug)]
pub struct IdpSandbox {
    pub server: Server,
    pub state: IdpState,
}

impl IdpSandbox {
    /// `http://127.0.0.1:PORT`, also the issuer.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// What an integrator needs to point a relying party at the sandbox.
    pub fn quickstart(&self) -> String {
        let base = self.base_url();
        let inner = self.state.lock();
        let mut out = format!(
            "Identity-provider sandbox (OpenID Connect)\n\
             ==========================================\n\
             Issuer:         {base}\n\
             Discovery:      {base}/.well-known/openid-configuration\n\
             JWKS:           {base}/jwks (RS256, kid {kid})\n\
             Authorize:      {base}/authorize (a sign-in form)\n\
             Token:          POST {base}/token (code + PKCE S256 verifier + client secret)\n\
             Admin API:      {base}/__admin (PUT /fault {{\"fault\":\"expired\"}}, POST /users, journal)\n",
            kid = self.state.kid(),
        );
        for c in &inner.clients {
            out.push_str(&format!(
                "Client:         {} / secret {} (redirect URIs: {})\n",
                c.client_id,
                c.client_secret,
                c.redirect_uris.join(", ")
            ));
        }
        for u in &inner.users {
            out.push_str(&format!(
                "User:           {} / password {} (email {}, groups [{}])\n",
                u.username,
                u.password,
                u.email,
                u.groups.join(", ")
            ));
        }
        out
    }
}

/// How long a code may wait to be exchanged.
const CODE_LIFETIME: Duration = Duration::from_secs(120);

/// Starts the sandbox on a free port.
pub async fn spawn() -> std::io::Result<IdpSandbox> {
    spawn_on(common::bind_local(0).await?).await
}

/// Starts the sandbox on an already-bound listener.
pub async fn spawn_on(listener: tokio::net::TcpListener) -> std::io::Result<IdpSandbox> {
    let issuer = format!("http://{}", listener.local_addr()?);
    // Key generation is CPU work: off the async workers.
    let state = tokio::task::spawn_blocking(move || IdpState::new(issuer))
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
    let server = common::serve(listener, router(state.clone()))?;
    Ok(IdpSandbox { server, state })
}

/// The sandbox's routes: the provider (faulted and journalled) and `/__admin`.
pub fn router(state: IdpState) -> Router {
    api::routes(&state).nest("/__admin", api::admin(&state))
}

#[cfg(test)]
mod tests;
