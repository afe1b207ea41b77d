//! The candidate mailer: sends each candidate request's owed mail (the invitation, then the
//! tenant's reminders), and expires requests nobody answered (PageUp is told `expired`,
//! what the request held is purged). Owed mail is a column leased like all owed work, so a
//! crash resends at most the mail in flight, with the same link and `Message-ID`.

use std::time::Duration;

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::{backoff, error_chain, ms, Engine, SyncError, TenantRt};
use crate::crypto::Place;
use crate::mail::{invitation_mail, InvitationContent, InvitationKind, MessageId, OutgoingMail};
use crate::store::CandidateRequest;
use crate::time::now_ms;

/// The mailer looks for due mail at least this often.
const TICK: Duration = Duration::from_secs(1);
/// Requests leased per pass.
const BATCH: i64 = 20;

/// A new form token: 256 random bits, URL-safe.
pub(crate) fn new_token() -> String {
    let mut b = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// How a token is stored and looked up: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CandidateReport {
    pub sent: usize,
    pub retried: usize,
    pub refused: usize,
    pub expired: usize,
}

impl Engine {
    pub(crate) async fn candidate_mailer(&self, shutdown: CancellationToken) {
        let wake = self.inner.wake_mailer.clone();
        let mut failures = 0;
        loop {
            let pause = match self.candidate_step().await {
                Ok(_) => {
                    failures = 0;
                    TICK
                }
                Err(e) => {
                    failures += 1;
                    self.store_error("mailer", &e);
                    tracing::error!(error = %error_chain(&e), "candidate mail pass failed; retrying");
                    backoff(
                        failures,
                        Duration::from_millis(500),
                        Duration::from_secs(30),
                    )
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One pass: expire what is past its deadline, then send the mail that is due.
    pub async fn candidate_step(&self) -> Result<CandidateReport, SyncError> {
        let mut report = CandidateReport::default();
        let store = &self.inner.store;
        let expired = store.expire_candidates(now_ms(), 100).await?;
        for (tenant, id) in &expired {
            tracing::info!(%tenant, check = %id, "the candidate did not answer in time; PageUp is told expired");
            self.inner.metrics.candidate("expired", tenant.as_str());
        }
        if !expired.is_empty() {
            report.expired = expired.len();
            self.inner.wake_pusher.notify_one();
        }
        if self.inner.mailer.is_none() {
            return Ok(report);
        }
        let owner = &self.inner.owner;
        let work = store
            .lease_candidate_mail(owner, now_ms(), ms(self.lease()), BATCH)
            .await?;
        for r in work {
            self.send_owed(&r, &mut report).await?;
        }
        Ok(report)
    }

    async fn send_owed(
        &self,
        r: &CandidateRequest,
        report: &mut CandidateReport,
    ) -> Result<(), SyncError> {
        let store = &self.inner.store;
        let owner = &self.inner.owner;
        let Some(t) = self.tenant(&r.tenant).cloned() else {
            // Not this replica's tenant (removed from its configuration): later.
            store
                .candidate_mail_retry(
                    &r.check_id,
                    owner,
                    now_ms() + 60_000,
                    "the tenant is not configured",
                    now_ms(),
                )
                .await?;
            return Ok(());
        };
        let mail = match self.owed_mail(&t, r).await {
            Ok(m) => m,
            Err(why) => {
                // A request this mail cannot be written for (no address): for the recruiter.
                let reason = format!(
                    "The candidate could not be invited to the candidate form ({why}). Please check the candidate's email address and order again."
                );
                store
                    .candidate_mail_refused(r, owner, &why, &reason, now_ms())
                    .await?;
                self.inner.metrics.candidate("refused", t.key.as_str());
                self.inner.wake_pusher.notify_one();
                report.refused += 1;
                return Ok(());
            }
        };
        let Some(mailer) = self.inner.mailer.as_ref() else {
            return Ok(());
        };
        match mailer.send(&mail).await {
            Ok(()) => {
                let next = next_mail_at(&t, r);
                store.candidate_mail_sent(r, owner, now_ms(), next).await?;
                let what = if r.mails_sent == 0 {
                    "mailed"
                } else {
                    "reminded"
                };
                self.inner.metrics.candidate(what, t.key.as_str());
                tracing::info!(tenant = %t.key, check = %r.check_id, message_id = %mail.message_id, "candidate mail sent");
                report.sent += 1;
            }
            Err(e) if e.is_permanent() => {
                tracing::warn!(tenant = %t.key, check = %r.check_id, error = %e, "the mail server refused the candidate's address");
                let reason = "The candidate could not be invited to the candidate form: the mail server refused the candidate's email address. Please correct it and order again.";
                store
                    .candidate_mail_refused(r, owner, &e.to_string(), reason, now_ms())
                    .await?;
                self.inner.metrics.candidate("refused", t.key.as_str());
                self.inner.wake_pusher.notify_one();
                report.refused += 1;
            }
            Err(e) => {
                let attempt = u32::try_from(r.mail_attempts)
                    .unwrap_or(u32::MAX)
                    .saturating_add(1);
                let wait = backoff(attempt, Duration::from_secs(30), Duration::from_secs(3600));
                tracing::warn!(tenant = %t.key, check = %r.check_id, error = %e, "candidate mail not sent; will retry");
                store
                    .candidate_mail_retry(
                        &r.check_id,
                        owner,
                        now_ms() + ms(wait),
                        &e.to_string(),
                        now_ms(),
                    )
                    .await?;
                report.retried += 1;
            }
        }
        Ok(())
    }

    /// The mail owed for `r`: its link, the names it may carry, its `Message-ID`.
    async fn owed_mail(&self, t: &TenantRt, r: &CandidateRequest) -> Result<OutgoingMail, String> {
        let keyring = &self.inner.keyring;
        let (Some(token), Some(invitation)) = (&r.token_sealed, &r.invitation_sealed) else {
            return Err("the request holds no link".into());
        };
        let token = keyring
            .open_text(Place::candidate(&t.key, &r.check_id, "token_sealed"), token)
            .await
            .map_err(|e| format!("the link could not be read: {e}"))?;
        let snapshot = keyring
            .open_text(
                Place::candidate(&t.key, &r.check_id, "invitation"),
                invitation,
            )
            .await
            .map_err(|e| format!("the invitation could not be read: {e}"))?;
        let snapshot: serde_json::Value = serde_json::from_str(&snapshot)
            .map_err(|_| "the invitation could not be read".to_owned())?;
        let text = |v: &serde_json::Value| v.as_str().map(str::trim).unwrap_or("").to_owned();
        let email = text(&snapshot["candidate"]["email"]);
        let first_name = text(&snapshot["candidate"]["firstName"]);
        let job_title = text(&snapshot["job"]["title"]);
        let link = url::Url::parse(&format!(
            "{}/candidate/{}",
            self.inner.public_base_url,
            token.as_str()
        ))
        .map_err(|_| "service.public_base_url does not make a link".to_owned())?;
        let tenant_name = t.cfg.name.clone().unwrap_or_else(|| t.key.to_string());
        let kind = match r.mails_sent {
            0 => InvitationKind::Invitation,
            n => InvitationKind::Reminder(u32::try_from(n).unwrap_or(u32::MAX)),
        };
        let rendered = invitation_mail(
            &InvitationContent {
                tenant_name: &tenant_name,
                job_title: if job_title.is_empty() {
                    "the role"
                } else {
                    &job_title
                },
                first_name: &first_name,
                link: &link,
            },
            kind,
        )
        .map_err(|e| e.to_string())?;
        let host = link.host_str().unwrap_or("checkbridge.invalid");
        let message_id = MessageId::parse(&format!("cb.{}.{}@{host}", r.check_id, r.mails_sent))
            .map_err(|e| e.to_string())?;
        OutgoingMail::new(&email, rendered, message_id)
            .map_err(|_| "the candidate's email address is not valid".to_owned())
    }
}

/// When the mail after the one being sent is due: the next reminder of the tenant's days
/// (counted from the invitation), unless it would come after the request expires.
fn next_mail_at(t: &TenantRt, r: &CandidateRequest) -> Option<i64> {
    let index = usize::try_from(r.mails_sent).ok()?;
    let day = *t.cfg.candidate.reminder_days.get(index)?;
    let at = r.invited_at + i64::try_from(day).ok()?.saturating_mul(86_400_000);
    (at < r.expires_at).then_some(at)
}
