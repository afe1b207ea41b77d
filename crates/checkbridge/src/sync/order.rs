//! The orderer: claimed checks become Theary orders. The order was built at claim time and
//! is sent the same on every attempt, except that a signed release larger than the tenant's
//! `release_upload_above_bytes` is first uploaded through Theary's release-form upload URL
//! and the order names the uploaded file instead of carrying it inline. An attempt is
//! counted when its order is leased, before any POST, so after a crash or a timeout (an
//! unknown outcome) the order is first looked up by its `externalSearchId`, and posted again
//! only if Theary has no such order. The lease is held (and renewed by the keeper) until the
//! outcome is recorded, and the POST runs only while it certainly is (`within_lease`).

use std::time::Duration;

use theary::Error as ThearyError;

use zeroize::Zeroizing;

use super::stages::{self, Stage};
use super::{backoff, error_chain, Engine, Held, SyncError, TenantRt};
use crate::crypto::Place;
use crate::domain::ids::{SearchId, ThearyOrderId, ThearySearchId};
use crate::domain::mapping::theary_rejection_reason;
use crate::store::{OrderWork, PlacedOrder};
use crate::time::now_ms;

/// What happened to one check in the orderer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ordered {
    /// Theary holds the order under this reference.
    Placed(ThearyOrderId),
    /// Theary refused it; PageUp will show `failed`.
    Refused,
    /// Not now; tried again later.
    Deferred,
}

/// How an order's PageUp `new` document is sent when the orderer may send it itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ThenPush {
    /// Before the order step returns (steps driven one by one, as tests do).
    Inline,
    /// As a task of its own, so the orderer moves on (up to `service.concurrency` at once;
    /// past that, inline).
    Spawned,
}

impl Engine {
    /// Places every due order (up to a batch). Returns how many were tried.
    pub async fn order_step(&self) -> Result<usize, SyncError> {
        let work = self
            .inner
            .store
            .lease_order_work(&self.inner.owner, now_ms(), self.lease(), super::BATCH)
            .await?;
        self.each(
            work,
            |w| Held::Order(w.id.clone()),
            |w| async move { self.order_leased(&w, ThenPush::Inline).await },
        )
        .await
    }

    /// Orders one check whose order lease this replica holds.
    pub(super) async fn order_leased(
        &self,
        w: &OrderWork,
        then: ThenPush,
    ) -> Result<Ordered, SyncError> {
        stages::record(&w.id, Stage::OrderLeased);
        let result = self.order_one_inner(w, then).await;
        if let Ok(outcome) = &result {
            let label = match outcome {
                Ordered::Placed(_) => "placed",
                Ordered::Refused => "refused",
                Ordered::Deferred => "deferred",
            };
            self.inner.metrics.order(w.tenant.as_str(), label);
        }
        result
    }

    async fn order_one_inner(&self, w: &OrderWork, then: ThenPush) -> Result<Ordered, SyncError> {
        let store = &self.inner.store;
        let owner = &self.inner.owner;
        let Some(t) = self.tenant(&w.tenant).cloned() else {
            store
                .order_retry_later(
                    &w.id,
                    owner,
                    "tenant not configured",
                    now_ms() + 3_600_000,
                    now_ms(),
                )
                .await?;
            return Ok(Ordered::Deferred);
        };
        let Some(sealed) = w.order_json.as_deref() else {
            // Cannot happen through `record_claimed`; say so rather than loop.
            store
                .record_order_failed(
                    &w.id,
                    owner,
                    "The order could not be prepared. Please contact support.",
                    now_ms(),
                )
                .await?;
            return Ok(Ordered::Refused);
        };
        let attempt = u32::try_from(w.attempts)
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        let place = Place::order(&w.tenant, &w.id);
        let order_json = match self.inner.keyring.open(place, sealed).await {
            Ok(json) => json,
            Err(e) => {
                tracing::error!(tenant = %w.tenant, check = %w.id, error = %error_chain(&e), "the stored order cannot be opened");
                store
                    .order_retry_later(&w.id, owner, &e.to_string(), now_ms() + 3_600_000, now_ms())
                    .await?;
                return Ok(Ordered::Deferred);
            }
        };
        let retry = |error: String, wait: Duration| async move {
            store
                .order_retry_later(&w.id, owner, &error, now_ms() + super::ms(wait), now_ms())
                .await
                .map(|()| Ordered::Deferred)
                .map_err(SyncError::from)
        };

        // A POST may have reached Theary before: find it rather than order twice.
        if w.attempts > 0 {
            let started = std::time::Instant::now();
            let found = self
                .within_lease(self.find_existing(&t.theary, &w.search_ids))
                .await?;
            self.observe_theary(&w.tenant, "theary.lookup", started, &found);
            match found {
                Ok(Some(found)) => {
                    tracing::info!(tenant = %w.tenant, check = %w.id, "an earlier order request had reached Theary; using its order");
                    return self.record_placed(w, &found, then).await;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(tenant = %w.tenant, check = %w.id, error = %error_chain(&e), "could not look up an earlier order request; will retry");
                    return retry(
                        e.to_string(),
                        backoff(attempt, Duration::from_secs(2), Duration::from_secs(600)),
                    )
                    .await;
                }
            }
        }
        let started = std::time::Instant::now();
        let uploaded = self
            .within_lease(self.upload_large_release(&t, &order_json))
            .await?;
        if !matches!(uploaded, Ok(None)) {
            self.observe_theary(&w.tenant, "theary.release_upload", started, &uploaded);
        }
        let order_json = match uploaded {
            Ok(Some(json)) => json,
            Ok(None) => order_json,
            Err(e) => {
                tracing::warn!(tenant = %w.tenant, check = %w.id, error = %error_chain(&e), "uploading the signed release to Theary failed; will retry");
                self.log_failure(
                    &w.tenant,
                    "theary.release_upload",
                    e.status(),
                    e.to_string(),
                    Some(&w.id),
                )
                .await;
                let wait = e.retry_after().unwrap_or_else(|| {
                    backoff(attempt, Duration::from_secs(2), Duration::from_secs(600))
                });
                return retry(e.to_string(), wait).await;
            }
        };
        stages::record(&w.id, Stage::OrderSent);
        let started = std::time::Instant::now();
        let posted = self
            .within_lease(
                self.inner
                    .theary
                    .create_order_json(&t.theary, order_json.to_vec()),
            )
            .await?;
        self.observe_theary(&w.tenant, "theary.order", started, &posted);
        stages::record(&w.id, Stage::OrderAnswered);
        match posted {
            Ok(created) => self.record_placed(w, &created, then).await,
            Err(ThearyError::Invalid { messages }) => {
                self.log_failure(
                    &w.tenant,
                    "theary.order",
                    Some(400),
                    messages.join("; "),
                    Some(&w.id),
                )
                .await;
                let reason = theary_rejection_reason(&messages);
                tracing::info!(tenant = %w.tenant, check = %w.id, problems = messages.len(), "Theary refused the order; PageUp will show why");
                store
                    .record_order_failed(&w.id, owner, &reason, now_ms())
                    .await?;
                self.inner.wake_pusher.notify_one();
                Ok(Ordered::Refused)
            }
            Err(e) => {
                let wait = if let Some(after) = e.retry_after() {
                    // Theary asked this tenant to wait: none of its orders go before then.
                    self.inner.slow_downs.slow_down(
                        "theary",
                        &w.tenant,
                        now_ms() + super::ms(after),
                    );
                    after
                } else if matches!(
                    e,
                    ThearyError::BadCredentials { .. } | ThearyError::WrongAudience { .. }
                ) {
                    tracing::error!(tenant = %w.tenant, error = %e, "Theary refused this tenant's credentials; an operator must act");
                    backoff(attempt, Duration::from_secs(60), Duration::from_secs(1800))
                } else {
                    tracing::warn!(tenant = %w.tenant, check = %w.id, error = %error_chain(&e), "ordering from Theary failed; will retry");
                    backoff(attempt, Duration::from_secs(2), Duration::from_secs(600))
                };
                self.log_failure(
                    &w.tenant,
                    "theary.order",
                    e.status(),
                    e.to_string(),
                    Some(&w.id),
                )
                .await;
                retry(e.to_string(), wait).await
            }
        }
    }

    /// When the order carries its signed release inline and the PDF is larger than the
    /// tenant's threshold: uploads the PDF through Theary's release-form upload URL and
    /// returns the order with `applicant.signedReleaseFileUrl` naming the uploaded file (as
    /// `release_upload_reference` says). `None`: nothing to upload, send the order as built.
    async fn upload_large_release(
        &self,
        t: &TenantRt,
        order_json: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, ThearyError> {
        use base64::Engine as _;
        let section = &t.cfg.theary;
        let Ok(mut order) = serde_json::from_slice::<serde_json::Value>(order_json) else {
            return Ok(None);
        };
        let Some(inline) = order
            .pointer("/applicant/signedReleaseFileUrl")
            .and_then(serde_json::Value::as_str)
            .and_then(|u| u.strip_prefix("data:application/pdf;base64,"))
        else {
            return Ok(None);
        };
        // Base64 is a third larger than what it encodes: decode only what may be over.
        if (inline.len() as u64).saturating_mul(3) / 4 <= section.release_upload_above_bytes {
            return Ok(None);
        }
        let pdf = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(inline)
                .map_err(|e| ThearyError::Decode(format!("the inline signed release: {e}")))?,
        );
        if pdf.len() as u64 <= section.release_upload_above_bytes {
            return Ok(None);
        }
        let theary = &self.inner.theary;
        let upload = theary.release_form_upload_url(&t.theary).await?;
        theary
            .upload_release_form(&upload.signed_url, pdf.to_vec())
            .await?;
        tracing::info!(tenant = %t.key, bytes = pdf.len(), "the signed release was uploaded to Theary; the order names the file");
        order["applicant"]["signedReleaseFileUrl"] =
            serde_json::Value::String(section.release_upload_reference.name(&upload.file_uri));
        serde_json::to_vec(&order)
            .map(|json| Some(Zeroizing::new(json)))
            .map_err(|e| ThearyError::Decode(format!("order: {e}")))
    }

    async fn find_existing(
        &self,
        theary: &theary::ThearyConfig,
        search_ids: &[SearchId],
    ) -> Result<Option<theary::wire::CreateOrderResponse>, ThearyError> {
        let Some(first) = search_ids.first() else {
            return Ok(None);
        };
        self.inner
            .theary
            .find_by_external_search_id(theary, first.as_str(), self.inner.lookup_pages)
            .await
    }

    async fn record_placed(
        &self,
        w: &OrderWork,
        created: &theary::wire::CreateOrderResponse,
        then: ThenPush,
    ) -> Result<Ordered, SyncError> {
        let reference = ThearyOrderId::new(created.verification_order_id.clone());
        // Which Theary search is which is only certain with one search; the others are
        // learned from their events or from the reconciler's read.
        let theary_ids: Vec<(SearchId, ThearySearchId)> =
            match (w.search_ids.as_slice(), created.search_ids.as_slice()) {
                ([ours], [theirs]) => vec![(ours.clone(), ThearySearchId::new(theirs))],
                _ => Vec::new(),
            };
        let now = now_ms();
        let recorded = self
            .inner
            .store
            .record_order_leasing_push(
                &PlacedOrder {
                    tenant: &w.tenant,
                    check_id: &w.id,
                    owner: &self.inner.owner,
                    reference: &reference,
                    theary_ids: &theary_ids,
                    reconcile_at: now + super::ms(self.inner.reconcile_after),
                },
                now,
                self.lease(),
            )
            .await?;
        if let Some(push_leased) = recorded {
            stages::record(&w.id, Stage::OrderRecorded);
            tracing::info!(tenant = %w.tenant, check = %w.id, reference = %reference, "order placed");
            let push = Held::Push(w.id.clone());
            if push_leased && !self.inner.leases.is_live(&push) {
                // PageUp's `new` goes at once, from here: no wait for the pusher's next
                // lease. A failure to send is the pusher's to retry, as always.
                let hold = self.inner.leases.hold(push);
                let (e, tenant, id) = (self.clone(), w.tenant.clone(), w.id.clone());
                let send = async move {
                    match e.push_leased(&tenant, &id, 0, None).await {
                        Ok(_) => hold.done(),
                        Err(err) => {
                            // The order stands; the hold is given back and the pusher retries.
                            tracing::warn!(%tenant, check = %id, error = %error_chain(&err), "PageUp's new document could not be sent yet; the pusher will");
                            drop(hold);
                            e.inner.wake_pusher.notify_one();
                        }
                    }
                };
                let permit = match then {
                    ThenPush::Inline => None,
                    ThenPush::Spawned => {
                        self.inner.followup_permits.clone().try_acquire_owned().ok()
                    }
                };
                match permit {
                    // The orderer's place goes to the next order while the PUT travels.
                    Some(permit) => {
                        self.inner.followups.spawn(async move {
                            send.await;
                            drop(permit);
                        });
                    }
                    None => send.await,
                }
            } else {
                if push_leased {
                    // The statement took the push lease, but the claim's own `queued` task
                    // (acknowledged, about to end) still holds the check here. The lease is
                    // given back for the pusher rather than left to lapse: lapsing would
                    // hold PageUp's `new` back for a whole lease period.
                    self.inner
                        .store
                        .release_push(&w.id, &self.inner.owner)
                        .await?;
                }
                self.inner.wake_pusher.notify_one();
            }
        }
        Ok(Ordered::Placed(reference))
    }
}
