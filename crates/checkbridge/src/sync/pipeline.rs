//! How the orderer and the pusher run: a pipeline that keeps up to `service.concurrency`
//! pieces of work in flight and leases more as each one finishes, rather than taking a batch
//! and waiting for its slowest piece before the next. At most `service.tenant_concurrency`
//! pieces of one tenant are in flight at a time, and a tenant its partner asked to slow down
//! (a `Retry-After`) is left out of the leases until then, so no tenant queues behind
//! another's latency or limits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{backoff, error_chain, Engine, Held, SyncError, BATCH, IDLE};
use crate::domain::ids::TenantKey;
use crate::store::StoreError;

/// Tenants a partner asked to slow down, per partner, until when (ms).
#[derive(Debug, Default)]
pub(crate) struct SlowDowns {
    until: Mutex<HashMap<(&'static str, TenantKey), i64>>,
}

impl SlowDowns {
    /// `partner` asked `tenant` to wait until `until_ms`.
    pub(crate) fn slow_down(&self, partner: &'static str, tenant: &TenantKey, until_ms: i64) {
        if let Ok(mut m) = self.until.lock() {
            let at = m.entry((partner, tenant.clone())).or_insert(until_ms);
            *at = (*at).max(until_ms);
        }
    }

    /// The tenants `partner` asked to wait past `now` (the rest are forgotten).
    pub(crate) fn waiting(&self, partner: &'static str, now: i64) -> Vec<TenantKey> {
        let Ok(mut m) = self.until.lock() else {
            return Vec::new();
        };
        m.retain(|_, until| *until > now);
        m.keys()
            .filter(|(p, _)| *p == partner)
            .map(|(_, t)| t.clone())
            .collect()
    }
}

/// One loop's kind of work, as the pipeline sees it.
pub(crate) struct Kind<T> {
    pub name: &'static str,
    /// Whose limits apply (`pageup` or `theary`).
    pub partner: &'static str,
    pub tenant: fn(&T) -> &TenantKey,
    pub held: fn(&T) -> Held,
}

/// Runs `work` on what `lease(limit, except)` leases until `shutdown`, as the module says.
/// `wake` cuts an idle wait short. On shutdown, work in flight is finished first.
pub(crate) async fn run<T, R, L, LFut, F, Fut>(
    engine: &Engine,
    kind: Kind<T>,
    shutdown: CancellationToken,
    wake: Arc<Notify>,
    lease: L,
    work: F,
) where
    L: Fn(i64, Vec<TenantKey>) -> LFut,
    LFut: std::future::Future<Output = Result<Vec<T>, StoreError>>,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<R, SyncError>> + Send + 'static,
    R: Send + 'static,
{
    let cap = engine.inner.concurrency;
    let per_tenant = engine.inner.tenant_concurrency;
    // Each piece runs as a task of its own: it must progress (and give back the connection
    // it holds) while this loop waits on the store for the next lease.
    let mut in_flight: JoinSet<Result<(), SyncError>> = JoinSet::new();
    let mut tenant_of: HashMap<tokio::task::Id, TenantKey> = HashMap::new();
    let mut by_tenant: HashMap<TenantKey, usize> = HashMap::new();
    // At most one lease is asked for at a time, while the pieces in flight go on finishing:
    // the places they free meanwhile are all asked for by the next lease, so the leases grow
    // with the load instead of one store round trip per finished piece.
    let mut leasing: Option<(std::pin::Pin<Box<LFut>>, usize)> = None;
    // Nothing more to lease until then (or a wake-up, or a tenant at its limit finishing).
    let mut rest_until: Option<Instant> = None;
    let mut failures: u32 = 0;
    loop {
        let resting = rest_until.is_some_and(|u| Instant::now() < u);
        if leasing.is_none() && !resting && in_flight.len() < cap && !shutdown.is_cancelled() {
            let asked = (cap - in_flight.len()).min(usize::try_from(BATCH).unwrap_or(100));
            let mut except: Vec<TenantKey> = by_tenant
                .iter()
                .filter(|(_, n)| **n >= per_tenant)
                .map(|(t, _)| t.clone())
                .collect();
            except.extend(
                engine
                    .inner
                    .slow_downs
                    .waiting(kind.partner, crate::time::now_ms()),
            );
            leasing = Some((
                Box::pin(lease(i64::try_from(asked).unwrap_or(i64::MAX), except)),
                asked,
            ));
        }
        if shutdown.is_cancelled() {
            // A lease asked for may have been granted: its work is done too, then the rest
            // of what is in flight.
            if let Some((leased, _)) = leasing.take() {
                if let Ok(batch) = leased.await {
                    for w in batch {
                        start(
                            engine,
                            &kind,
                            &work,
                            w,
                            &mut in_flight,
                            &mut tenant_of,
                            &mut by_tenant,
                        );
                    }
                }
            }
            while in_flight.join_next().await.is_some() {}
            return;
        }
        let rest = async {
            match rest_until {
                Some(u) => tokio::time::sleep_until(u).await,
                None => std::future::pending().await,
            }
        };
        let pending_lease = async {
            match leasing.as_mut() {
                Some((leased, _)) => leased.as_mut().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => {}
            leased = pending_lease => {
                let asked = leasing.take().map_or(0, |(_, asked)| asked);
                match leased {
                    Ok(batch) => {
                        failures = 0;
                        rest_until = (batch.len() < asked).then(|| Instant::now() + IDLE);
                        for w in batch {
                            start(engine, &kind, &work, w, &mut in_flight, &mut tenant_of, &mut by_tenant);
                        }
                    }
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        let e = SyncError::Store(e);
                        engine.store_error(kind.name, &e);
                        tracing::error!(loop_name = kind.name, error = %error_chain(&e), "store unavailable; retrying");
                        rest_until = Some(Instant::now() + store_pause(failures));
                    }
                }
            }
            Some(joined) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                // This one, and every other piece that has finished by now.
                let mut next = Some(joined);
                while let Some(joined) = next {
                    let (id, r) = match joined {
                        Ok((id, r)) => (id, r),
                        Err(e) => {
                            // A panicked piece: its hold was dropped undone, so the keeper gives
                            // its lease back and it is tried again.
                            tracing::error!(loop_name = kind.name, "a step panicked");
                            (e.id(), Ok(()))
                        }
                    };
                    let tenant = tenant_of.remove(&id).unwrap_or_else(|| TenantKey::from(""));
                    let at_limit = by_tenant.get(&tenant).is_some_and(|n| *n >= per_tenant);
                    if let Some(n) = by_tenant.get_mut(&tenant) {
                        *n -= 1;
                        if *n == 0 {
                            by_tenant.remove(&tenant);
                        }
                    }
                    match r {
                        Err(e @ (SyncError::Store(_) | SyncError::LeaseLapsed)) => {
                            failures = failures.saturating_add(1);
                            engine.store_error(kind.name, &e);
                            tracing::error!(loop_name = kind.name, error = %error_chain(&e), "store unavailable; retrying");
                            rest_until = Some(Instant::now() + store_pause(failures));
                        }
                        Err(e) => {
                            tracing::error!(loop_name = kind.name, %tenant, error = %error_chain(&e), "a step failed");
                        }
                        Ok(()) => {
                            // The tenant's next piece may have been left out only for its limit.
                            if at_limit && failures == 0 {
                                rest_until = None;
                            }
                        }
                    }
                    next = in_flight.try_join_next_with_id();
                }
            }
            () = wake.notified() => {
                if failures == 0 {
                    rest_until = None;
                }
            }
            () = rest => rest_until = None,
        }
    }
}

/// Starts one leased piece as a task, counted against its tenant.
fn start<T, R, F, Fut>(
    engine: &Engine,
    kind: &Kind<T>,
    work: &F,
    w: T,
    in_flight: &mut JoinSet<Result<(), SyncError>>,
    tenant_of: &mut HashMap<tokio::task::Id, TenantKey>,
    by_tenant: &mut HashMap<TenantKey, usize>,
) where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<R, SyncError>> + Send + 'static,
    R: Send + 'static,
{
    let tenant = (kind.tenant)(&w).clone();
    *by_tenant.entry(tenant.clone()).or_default() += 1;
    let hold = engine.inner.leases.hold((kind.held)(&w));
    let done = work(w);
    let task = in_flight.spawn(async move {
        let r = done.await;
        // Only a failed store (or a lapsed lease) leaves the work to give back; any other
        // outcome stands as recorded.
        if !matches!(r, Err(SyncError::Store(_) | SyncError::LeaseLapsed)) {
            hold.done();
        }
        r.map(|_| ())
    });
    tenant_of.insert(task.id(), tenant);
}

fn store_pause(failures: u32) -> Duration {
    backoff(
        failures,
        Duration::from_millis(500),
        Duration::from_secs(30),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_down_applies_to_its_tenant_and_partner_until_it_ends() {
        let s = SlowDowns::default();
        let (acme, globex) = (TenantKey::from("acme"), TenantKey::from("globex"));
        s.slow_down("theary", &acme, 2_000);
        s.slow_down("theary", &acme, 1_500); // an earlier end never shortens the wait
        s.slow_down("pageup", &globex, 3_000);
        assert_eq!(s.waiting("theary", 1_000), vec![acme.clone()]);
        assert_eq!(s.waiting("pageup", 1_000), vec![globex.clone()]);
        assert_eq!(s.waiting("theary", 1_999), vec![acme]);
        assert!(s.waiting("theary", 2_000).is_empty(), "over at its end");
        assert_eq!(s.waiting("pageup", 2_500), vec![globex]);
        assert!(s.waiting("pageup", 3_000).is_empty());
    }
}
