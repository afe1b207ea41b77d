//! Candidate requests: a check waiting on the candidate (`phase = 'candidate'`), its form
//! token, the mail it owes (the invitation, then each reminder), the candidate's answers
//! while the form is filled, and how the request ends: submitted (the check owes its order),
//! expired (PageUp is told `expired`, the request's candidate data purged) or refused (the
//! mail server refused the address for good: the check fails, saying so).

use sqlx::Row;

use super::retention::{append_access, append_access_detail};
use super::writer::WriteQuery as _;
use super::{Store, StoreError};
use crate::domain::check::AccessAction;
use crate::domain::ids::{CheckId, TenantKey};

/// A request as the form and the mailer read it (sealed columns as stored).
#[derive(Clone, PartialEq, Eq)]
pub struct CandidateRequest {
    pub check_id: CheckId,
    pub tenant: TenantKey,
    /// `invited`, `submitted`, `expired` or `refused`.
    pub state: String,
    /// JSON list of what the candidate is asked for.
    pub needs: String,
    pub token_sealed: Option<String>,
    pub invitation_sealed: Option<String>,
    /// What the candidate entered so far (sealed JSON), between the form's steps.
    pub draft_sealed: Option<String>,
    pub invited_at: i64,
    pub expires_at: i64,
    pub mails_sent: i64,
    pub mail_attempts: i64,
    pub mail_error: Option<String>,
    pub submitted_at: Option<i64>,
}

impl std::fmt::Debug for CandidateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CandidateRequest")
            .field("check_id", &self.check_id)
            .field("tenant", &self.tenant)
            .field("state", &self.state)
            .field("mails_sent", &self.mails_sent)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str =
    "check_id, tenant, state, needs, token_sealed, invitation, draft, invited_at, \
                       expires_at, mails_sent, mail_attempts, mail_error, submitted_at";

fn read(r: &sqlx::any::AnyRow) -> Result<CandidateRequest, StoreError> {
    Ok(CandidateRequest {
        check_id: super::row::text(r, "check_id")?,
        tenant: super::row::text(r, "tenant")?,
        state: r.try_get("state")?,
        needs: r.try_get("needs")?,
        token_sealed: r.try_get("token_sealed")?,
        invitation_sealed: r.try_get("invitation")?,
        draft_sealed: r.try_get("draft")?,
        invited_at: r.try_get("invited_at")?,
        expires_at: r.try_get("expires_at")?,
        mails_sent: r.try_get("mails_sent")?,
        mail_attempts: r.try_get("mail_attempts")?,
        mail_error: r.try_get("mail_error")?,
        submitted_at: r.try_get("submitted_at")?,
    })
}

/// How the form's submission ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Taken: the check owes its order now.
    Now,
    /// The request was no longer open (submitted before, expired): nothing changed.
    Closed,
}

impl Store {
    /// The request whose form token hashes to `token_hash`, if any.
    pub async fn candidate_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<CandidateRequest>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM candidate_requests WHERE token_hash = $1");
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(read).transpose()
    }

    /// The request of check `id` within `tenant`, if any.
    pub async fn candidate_request(
        &self,
        tenant: &TenantKey,
        id: &CheckId,
    ) -> Result<Option<CandidateRequest>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM candidate_requests WHERE tenant = $1 AND check_id = $2");
        let row = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(read).transpose()
    }

    /// Leases up to `limit` open requests whose mail is due, for `lease_ms`.
    pub async fn lease_candidate_mail(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<CandidateRequest>, StoreError> {
        let mut tx = self.write().await?;
        let ids: Vec<String> = sqlx::query(
            "SELECT check_id FROM candidate_requests WHERE mail_due_at IS NOT NULL AND mail_due_at <= $1 \
             AND state = 'invited' AND expires_at > $1 \
             AND (mail_lease_until IS NULL OR mail_lease_until < $1) ORDER BY mail_due_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("check_id"))
        .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for id in ids {
            let n = sqlx::query(
                "UPDATE candidate_requests SET mail_lease_owner = $1, mail_lease_until = $2 \
                 WHERE check_id = $3 AND (mail_lease_until IS NULL OR mail_lease_until < $4)",
            )
            .bind(owner)
            .bind(now + lease_ms)
            .bind(&id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                let sql = format!("SELECT {COLUMNS} FROM candidate_requests WHERE check_id = $1");
                let r = sqlx::query(&sql).bind(&id).fetch_one(&mut *tx).await?;
                out.push(read(&r)?);
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The mail numbered `mails_sent` (0: the invitation) was accepted by the mail server;
    /// the next is due at `next_due` (None: no more). Recorded in the access record.
    pub async fn candidate_mail_sent(
        &self,
        r: &CandidateRequest,
        owner: &str,
        now: i64,
        next_due: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query(
            "UPDATE candidate_requests SET mails_sent = mails_sent + 1, mail_attempts = 0, mail_error = NULL, \
             mail_due_at = $1, mail_lease_until = NULL, mail_lease_owner = NULL, updated_at = $2 \
             WHERE check_id = $3 AND mail_lease_owner = $4 AND mails_sent = $5",
        )
        .bind(next_due)
        .bind(now)
        .bind(r.check_id.as_str())
        .bind(owner)
        .bind(r.mails_sent)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            let what = if r.mails_sent == 0 {
                "invitation".to_owned()
            } else {
                format!("reminder {}", r.mails_sent)
            };
            append_access_detail(
                &mut tx,
                &r.tenant,
                r.check_id.as_str(),
                "service:mailer",
                AccessAction::CandidateInvited,
                Some(&what),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The mail could not be sent now; try again at `due_at`, remembering why (no address,
    /// no content: the error as the mail server or the network said it).
    pub async fn candidate_mail_retry(
        &self,
        id: &CheckId,
        owner: &str,
        due_at: i64,
        error: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE candidate_requests SET mail_attempts = mail_attempts + 1, mail_error = $1, mail_due_at = $2, \
             mail_lease_until = NULL, mail_lease_owner = NULL, updated_at = $3 \
             WHERE check_id = $4 AND mail_lease_owner = $5",
        )
        .bind(error)
        .bind(due_at)
        .bind(now)
        .bind(id.as_str())
        .bind(owner)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// The mail server refused the candidate's address for good: the request ends, its
    /// candidate data is purged, and the check fails with `reason` for the recruiter.
    pub async fn candidate_mail_refused(
        &self,
        r: &CandidateRequest,
        owner: &str,
        error: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query(
            "UPDATE candidate_requests SET state = 'refused', mail_error = $1, mail_due_at = NULL, \
             token_sealed = NULL, invitation = NULL, draft = NULL, mail_lease_until = NULL, mail_lease_owner = NULL, \
             updated_at = $2 WHERE check_id = $3 AND mail_lease_owner = $4 AND state = 'invited'",
        )
        .bind(error)
        .bind(now)
        .bind(r.check_id.as_str())
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            sqlx::query(
                "UPDATE checks SET phase = 'failed', reason = $1, desired_version = desired_version + 1, \
                 push_due_at = $2, updated_at = $2 WHERE id = $3 AND phase = 'candidate'",
            )
            .bind(reason)
            .bind(now)
            .bind(r.check_id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends every open request past its expiry (at most `limit`): the check becomes
    /// `expired` (PageUp is owed it), and what the request held is purged. Returns the
    /// checks expired.
    pub async fn expire_candidates(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(TenantKey, CheckId)>, StoreError> {
        let mut tx = self.write().await?;
        let rows = sqlx::query(
            "SELECT check_id, tenant FROM candidate_requests WHERE state = 'invited' AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let id: CheckId = super::row::text(r, "check_id")?;
            let tenant: TenantKey = super::row::text(r, "tenant")?;
            sqlx::query(
                "UPDATE candidate_requests SET state = 'expired', mail_due_at = NULL, token_sealed = NULL, \
                 invitation = NULL, draft = NULL, updated_at = $1 WHERE check_id = $2 AND state = 'invited'",
            )
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE checks SET phase = 'expired', desired_version = desired_version + 1, push_due_at = $1, \
                 updated_at = $1 WHERE id = $2 AND phase = 'candidate'",
            )
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            append_access(
                &mut tx,
                &tenant,
                id.as_str(),
                "service:mailer",
                AccessAction::CandidateExpired,
                now,
            )
            .await?;
            out.push((tenant, id));
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Keeps what the candidate entered so far (sealed), while the request is open.
    pub async fn save_candidate_draft(
        &self,
        id: &CheckId,
        draft_sealed: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE candidate_requests SET draft = $1, updated_at = $2 WHERE check_id = $3 \
             AND state = 'invited' AND expires_at > $2",
        )
        .bind(draft_sealed)
        .bind(now)
        .bind(id.as_str())
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The candidate submitted: in one transaction the request ends (its token, invitation
    /// and draft purged) and the check owes `order_sealed`, its order built from what the
    /// candidate entered. A second submission, or one after expiry, changes nothing.
    pub async fn submit_candidate(
        &self,
        id: &CheckId,
        order_sealed: &str,
        now: i64,
    ) -> Result<Submitted, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query(
            "UPDATE candidate_requests SET state = 'submitted', submitted_at = $1, mail_due_at = NULL, \
             token_sealed = NULL, invitation = NULL, draft = NULL, updated_at = $1 \
             WHERE check_id = $2 AND state = 'invited' AND expires_at > $1",
        )
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            tx.commit().await?;
            return Ok(Submitted::Closed);
        }
        // Version not bumped: PageUp keeps `new` until the order's reference replaces ours.
        let row: (String,) = sqlx::query_as(
            "UPDATE checks SET phase = 'submitted', order_due_at = $1, updated_at = $1 \
             WHERE id = $2 AND phase = 'candidate' RETURNING tenant",
        )
        .bind(now)
        .bind(id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        // The order in its own table (schema_v10.sql).
        sqlx::query(
            "INSERT INTO check_orders (check_id, tenant, order_json) VALUES ($1, $2, $3) \
             ON CONFLICT (check_id) DO UPDATE SET order_json = excluded.order_json",
        )
        .bind(id.as_str())
        .bind(row.0.as_str())
        .bind(order_sealed)
        .execute(&mut *tx)
        .await?;
        append_access(
            &mut tx,
            &TenantKey::from(row.0.as_str()),
            id.as_str(),
            "candidate",
            AccessAction::CandidateSubmitted,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Submitted::Now)
    }

    /// The check's sealed per-order webhook secret (the order built after the candidate
    /// answered carries it, as one built at the claim does).
    pub async fn candidate_webhook_secret(
        &self,
        tenant: &TenantKey,
        id: &CheckId,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT webhook_secret FROM checks WHERE tenant = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("webhook_secret")?),
            None => None,
        })
    }

    /// Makes an open request's next mail due now: the invitation if it has not gone out,
    /// else a reminder with the same link (and a `Message-ID` of its own, so the
    /// candidate's mail client shows it as new); false when the check has no open request.
    pub async fn resend_candidate_invitation(
        &self,
        tenant: &TenantKey,
        id: &CheckId,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE candidate_requests SET mail_due_at = $1, mail_attempts = 0, mail_error = NULL, updated_at = $1 \
             WHERE tenant = $2 AND check_id = $3 AND state = 'invited' AND expires_at > $1",
        )
        .bind(now)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
