//! Pushes: leasing checks whose PageUp document is behind, recording PageUp's
//! acknowledgement, backing off after a failure, and giving a lease back unused.

use std::time::Duration;

use sqlx::Row;

use super::acks::{write_acks, Ack};
use super::leases::ms;
use super::row;
use super::writer::WriteQuery as _;
use super::{PushWork, Store, StoreError};
use crate::domain::ids::CheckId;

impl Store {
    /// Leases up to `limit` checks whose PageUp document is behind and due.
    pub async fn lease_push_work(
        &self,
        owner: &str,
        now: i64,
        lease_for: Duration,
        limit: i64,
    ) -> Result<Vec<PushWork>, StoreError> {
        self.lease_push_work_except(owner, now, lease_for, limit, &[])
            .await
    }

    /// [`Store::lease_push_work`], leaving out the checks of the tenants in `except`.
    pub async fn lease_push_work_except(
        &self,
        owner: &str,
        now: i64,
        lease_for: Duration,
        limit: i64,
        except: &[crate::domain::ids::TenantKey],
    ) -> Result<Vec<PushWork>, StoreError> {
        let rows = self
            .lease_rows(
                (
                    "push_lease_until = $1, push_lease_owner = $2",
                    "SELECT id FROM checks WHERE desired_version > acked_version \
                     AND (push_due_at IS NULL OR push_due_at <= $3) \
                     AND (push_lease_until IS NULL OR push_lease_until < $3) ORDER BY push_due_at LIMIT $4",
                    "id, tenant, push_attempts",
                ),
                owner,
                now,
                lease_for,
                limit,
                except,
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PushWork {
                    id: row::text(r, "id")?,
                    tenant: row::text(r, "tenant")?,
                    attempts: r.try_get("push_attempts")?,
                })
            })
            .collect()
    }

    /// Leases one check for pushing now (the poller's immediate claim), if it owes a push
    /// and no one else holds it.
    pub async fn lease_push(
        &self,
        id: &CheckId,
        owner: &str,
        now: i64,
        lease_for: Duration,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE checks SET push_lease_until = $1, push_lease_owner = $2 WHERE id = $3 \
             AND desired_version > acked_version AND (push_lease_until IS NULL OR push_lease_until < $4)",
        )
        .bind(now + ms(lease_for))
        .bind(owner)
        .bind(id.as_str())
        .bind(now)
        .execute_w(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// PageUp acknowledged `version` (or an older document, the claim, when `version` is 1).
    /// Only the lease holder records it, and the acknowledged version never goes down.
    /// Returns once it is durable; the acknowledgements arriving together are written as one
    /// statement (`store/acks.rs`).
    pub async fn ack_push(
        &self,
        id: &CheckId,
        owner: &str,
        version: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let ack = Ack {
            id: id.clone(),
            owner: owner.to_owned(),
            version,
            at: now,
        };
        match &self.acks {
            Some(batcher) => batcher.record(ack).await,
            None => write_acks(self, &[&ack]).await,
        }
    }

    /// The push failed: try again at `due_at`, remembering why.
    pub async fn push_retry_later(
        &self,
        id: &CheckId,
        owner: &str,
        error: &str,
        due_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE checks SET push_attempts = push_attempts + 1, push_error = $1, push_due_at = $2, \
             push_lease_until = NULL, push_lease_owner = NULL WHERE id = $3 AND push_lease_owner = $4",
        )
        .bind(error)
        .bind(due_at)
        .bind(id.as_str())
        .bind(owner)
        .execute_w(self)
        .await?;
        Ok(())
    }

    /// Gives a push lease back without trying (the work was not this worker's to do).
    pub async fn release_push(&self, id: &CheckId, owner: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE checks SET push_lease_until = NULL, push_lease_owner = NULL WHERE id = $1 AND push_lease_owner = $2",
        )
        .bind(id.as_str())
        .bind(owner)
        .execute_w(self)
        .await?;
        Ok(())
    }
}
