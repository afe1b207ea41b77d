//! `checkbridge recover`: after the database was restored from a backup, bring a tenant's
//! checks back in line with what Theary holds, without ordering anything twice.
//!
//! 1. Every check the backup shows as owing an order, with no attempt recorded, is marked
//!    as possibly sent: the orderer looks it up at Theary before it posts (the service does
//!    this for every such check anyway; marking first makes it hold before any lookup here).
//! 2. Every order Theary lists for the tenant is read with its searches and matched to our
//!    checks by the `externalSearchId` we send (our search id):
//!    - the check records this order: nothing to do;
//!    - the check is claimed and records no order: the order is **attached** (the check
//!      becomes `ordered`) and its searches are read back from Theary at once, as the
//!      reconciler reads them (their webhooks since the backup are lost to us), so the
//!      document PageUp is owed next already carries their results;
//!    - the check records another order: a duplicate, reported (cancel one by hand);
//!    - no check holds any of its searches: the check was claimed after the backup, and
//!      PageUp will not list it again: **unrecoverable**, reported with Theary's order id,
//!      which PageUp shows as the check's reference number.

use crate::domain::ids::{
    CheckId, PageUpCheckId, SearchId, TenantKey, ThearyOrderId, ThearySearchId,
};
use crate::store::ReconcileWork;
use crate::sync::{Engine, SyncError};
use crate::time::now_ms;

/// An order Theary holds that matches no check of ours.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unrecoverable {
    /// Theary's order id: PageUp shows it as the check's reference number.
    pub order_id: String,
    pub created_at: Option<String>,
    pub status: Option<String>,
    /// Our search ids as sent (they name no row of the restored database).
    pub external_search_ids: Vec<String>,
}

/// A check whose order was attached, or that records a different order than one found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Matched {
    pub check: CheckId,
    pub pageup_id: PageUpCheckId,
    pub order_id: String,
}

/// What one run did, also when it stopped early.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RecoverReport {
    pub tenant: String,
    /// Checks marked as possibly ordered (looked up before any order is posted).
    pub marked: u64,
    /// Orders read from Theary.
    pub orders_seen: usize,
    /// Orders the database already recorded.
    pub known: usize,
    pub attached: Vec<Matched>,
    /// Orders for a check that records another order (a double order, made before).
    pub duplicates: Vec<Matched>,
    pub unrecoverable: Vec<Unrecoverable>,
    /// Why the run stopped before reading every order (Theary down, ...); None: complete.
    pub stopped: Option<String>,
}

/// Runs the recovery for one tenant with `engine`'s store, clients and keys (an engine that
/// runs no loops: run this before the service starts). Theary failing stops the run: the
/// report says what was done up to then (running it again is safe).
pub async fn recover(
    engine: &Engine,
    tenant: &TenantKey,
    max_pages: u32,
) -> Result<RecoverReport, SyncError> {
    let mut report = RecoverReport {
        tenant: tenant.to_string(),
        ..RecoverReport::default()
    };
    let Some(t) = engine.tenant(tenant) else {
        report.stopped = Some(format!("tenant {tenant} is not configured"));
        return Ok(report);
    };
    let config = &t.theary;
    let store = engine.store();
    let theary = engine.clients().1;
    report.marked = store.mark_orders_maybe_sent(Some(tenant), now_ms()).await?;
    let owner = format!("operator:recover ({})", uuid::Uuid::new_v4().simple());
    for page in 1..=max_pages.max(1) {
        let list = match theary.list_orders(config, page, 50).await {
            Ok(list) => list,
            Err(e) => {
                report.stopped = Some(format!("listing Theary's orders (page {page}): {e}"));
                return Ok(report);
            }
        };
        for order in &list.data {
            report.orders_seen += 1;
            let searches = match theary.searches(config, &order.id).await {
                Ok(s) => s,
                Err(e) => {
                    report.stopped =
                        Some(format!("reading the searches of order {}: {e}", order.id));
                    return Ok(report);
                }
            };
            let mut owner_check = None;
            let mut theary_ids = Vec::new();
            for s in &searches {
                let Some(ours) = s.external_search_id.as_deref() else {
                    continue;
                };
                if let Some(check) = store.check_of_search(tenant, ours).await? {
                    theary_ids.push((SearchId::from(ours.to_owned()), ThearySearchId::new(&s.id)));
                    owner_check = Some(check);
                }
            }
            let reference = ThearyOrderId::new(order.id.clone());
            match owner_check {
                None => report.unrecoverable.push(Unrecoverable {
                    order_id: order.id.clone(),
                    created_at: order.created_at.clone(),
                    status: order.status.as_ref().map(ToString::to_string),
                    external_search_ids: searches
                        .iter()
                        .filter_map(|s| s.external_search_id.clone())
                        .collect(),
                }),
                Some(check) => match &check.reference {
                    Some(r) if r.is(&order.id) => report.known += 1,
                    Some(_) => report.duplicates.push(Matched {
                        check: check.id.clone(),
                        pageup_id: check.pageup_id.clone(),
                        order_id: order.id.clone(),
                    }),
                    None => {
                        let attached = store
                            .attach_order(
                                tenant,
                                &check.id,
                                &reference,
                                &theary_ids,
                                &owner,
                                now_ms(),
                            )
                            .await?;
                        let matched = Matched {
                            check: check.id.clone(),
                            pageup_id: check.pageup_id.clone(),
                            order_id: order.id.clone(),
                        };
                        if attached {
                            engine
                                .reconcile_one(&ReconcileWork {
                                    check_id: check.id.clone(),
                                    tenant: tenant.clone(),
                                    reference: reference.clone(),
                                })
                                .await?;
                            report.attached.push(matched);
                        } else {
                            // Ordered meanwhile by a running orderer (which looked it up).
                            report.known += 1;
                        }
                    }
                },
            }
        }
        let last = list.data.is_empty()
            || list
                .pagination
                .as_ref()
                .is_none_or(|p| u64::from(page) >= p.total_pages);
        if last {
            return Ok(report);
        }
    }
    report.stopped = Some(format!(
        "read {max_pages} pages of orders; raise --max-pages to read further"
    ));
    Ok(report)
}
