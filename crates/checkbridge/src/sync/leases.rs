//! The leases this replica holds, kept short and alive while their work runs.
//!
//! Every piece of leased work (a tenant's poll, a check's order or PageUp update, a
//! search's look from the reconciler, an alert) is held through a [`Hold`] while a step
//! works on it. The keeper (`Engine::lease_keeper`) renews the live holds every third of
//! the lease, so a replica that dies loses its leases within one lease length (seconds,
//! not minutes), and a live replica never loses work it is doing. A hold dropped without
//! [`Hold::done`] (the step returned early on a store error, timed out, or panicked) leaves
//! an *orphan*: the keeper gives that lease back, and makes the work due again, as soon as
//! the store answers, so a database restart costs the tenant one retry, not a lease length.
//!
//! A lease the store may have granted without saying so (the connection dropped after the
//! leasing statement committed) is in no hold: it is not renewed, and lapses after one lease
//! length. Outbound calls run [`Leases::within`] the time the lease is certainly still ours,
//! so a step that cannot renew (the store is down) stops before another replica could take
//! the same work over.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::domain::ids::{CheckId, TenantKey};
use crate::time::now_ms;

/// A leased piece of work.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Held {
    /// A tenant's poll lease.
    Poll(TenantKey),
    /// A check's order lease.
    Order(CheckId),
    /// A check's push lease (its PageUp document).
    Push(CheckId),
    /// A check's quiet searches, taken by the reconciler until their next look.
    Reconcile(CheckId),
    /// A health issue's alert lease.
    Alert(String),
}

/// What is held now, by kind, for the keeper to renew.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Live {
    pub polls: Vec<TenantKey>,
    pub orders: Vec<CheckId>,
    pub pushes: Vec<CheckId>,
    pub alerts: Vec<String>,
}

/// This replica's leases: the live holds, the orphans to give back, and when the store last
/// renewed them.
#[derive(Debug)]
pub(crate) struct Leases {
    /// How long a lease lasts from its last renewal.
    pub lease: Duration,
    live: Mutex<HashMap<Held, usize>>,
    orphans: Mutex<Vec<Held>>,
    /// When the store last confirmed this replica's leases (ms since the epoch).
    renewed_at: AtomicI64,
    /// When the store started failing (0: it answers).
    failing_since: AtomicI64,
    /// The keeper runs (a pipeline driven step by step, as tests do, renews nothing, and
    /// its calls are not limited by a renewal that never comes).
    kept: std::sync::atomic::AtomicBool,
    /// Wakes the keeper (an orphan to give back).
    pub wake: Notify,
}

impl Leases {
    pub(crate) fn new(lease: Duration) -> Leases {
        Leases {
            lease,
            live: Mutex::new(HashMap::new()),
            orphans: Mutex::new(Vec::new()),
            renewed_at: AtomicI64::new(now_ms()),
            failing_since: AtomicI64::new(0),
            kept: std::sync::atomic::AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Holds `held` until [`Hold::done`]; dropped otherwise, it becomes an orphan.
    pub(crate) fn hold(self: &Arc<Self>, held: Held) -> Hold {
        if let Ok(mut live) = self.live.lock() {
            *live.entry(held.clone()).or_default() += 1;
        }
        Hold {
            leases: self.clone(),
            held: Some(held),
        }
    }

    fn release_live(&self, held: &Held) {
        if let Ok(mut live) = self.live.lock() {
            if let Some(n) = live.get_mut(held) {
                *n -= 1;
                if *n == 0 {
                    live.remove(held);
                }
            }
        }
    }

    /// Everything held now, by kind (reconciler holds are not leases and need no renewal).
    pub(crate) fn live(&self) -> Live {
        let mut out = Live::default();
        if let Ok(live) = self.live.lock() {
            for held in live.keys() {
                match held {
                    Held::Poll(t) => out.polls.push(t.clone()),
                    Held::Order(c) => out.orders.push(c.clone()),
                    Held::Push(c) => out.pushes.push(c.clone()),
                    Held::Alert(a) => out.alerts.push(a.clone()),
                    Held::Reconcile(_) => {}
                }
            }
        }
        out
    }

    /// Whether `held` is being worked on now.
    pub(crate) fn is_live(&self, held: &Held) -> bool {
        self.live.lock().is_ok_and(|l| l.contains_key(held))
    }

    /// The orphans to give back (taken: the keeper puts back those it could not give).
    pub(crate) fn take_orphans(&self) -> Vec<Held> {
        self.orphans
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default()
    }

    /// Puts orphans back for the next try.
    pub(crate) fn keep_orphans(&self, held: impl IntoIterator<Item = Held>) {
        if let Ok(mut o) = self.orphans.lock() {
            o.extend(held);
        }
    }

    /// The store renewed every live lease at `at`.
    pub(crate) fn renewed(&self, at: i64) {
        self.renewed_at.store(at, Ordering::Relaxed);
    }

    /// The keeper started: from now on calls run only within a renewal.
    pub(crate) fn kept_from(&self, at: i64) {
        self.renewed_at.store(at, Ordering::Relaxed);
        self.kept.store(true, Ordering::Relaxed);
    }

    /// Until when (ms) every lease this replica holds is certainly still its own: the last
    /// renewal plus the lease, less a sixth of it for clocks and the renewal in flight.
    pub(crate) fn certain_until(&self) -> i64 {
        if !self.kept.load(Ordering::Relaxed) {
            return i64::MAX;
        }
        let lease = super::ms(self.lease);
        self.renewed_at.load(Ordering::Relaxed) + lease - lease / 6
    }

    /// Runs `fut` (an outbound call) only while this replica's leases are certainly its
    /// own. None when they may have lapsed first (the store could not renew them): the
    /// caller gives the step up; the work is done again once the store answers.
    pub(crate) async fn within<F: Future>(&self, fut: F) -> Option<F::Output> {
        tokio::pin!(fut);
        loop {
            let now = now_ms();
            let until = self.certain_until();
            if now >= until {
                return None;
            }
            let wait = Duration::from_millis(u64::try_from(until - now).unwrap_or(0));
            tokio::select! {
                r = &mut fut => return Some(r),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// The store failed (the first failure of a run of them starts the outage).
    pub(crate) fn store_failed(&self, at: i64) {
        let _ = self
            .failing_since
            .compare_exchange(0, at, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The store answered; returns when it had started failing, if it was.
    pub(crate) fn store_answered(&self) -> Option<i64> {
        let since = self.failing_since.swap(0, Ordering::Relaxed);
        (since != 0).then_some(since)
    }

    /// Since when the store has been failing, if it is.
    pub(crate) fn failing_since(&self) -> Option<i64> {
        let since = self.failing_since.load(Ordering::Relaxed);
        (since != 0).then_some(since)
    }
}

/// A piece of leased work being done; see the module docs.
#[derive(Debug)]
pub(crate) struct Hold {
    leases: Arc<Leases>,
    held: Option<Held>,
}

impl Hold {
    /// The step recorded its outcome (or gave the lease back itself): nothing to undo.
    pub(crate) fn done(mut self) {
        if let Some(h) = self.held.take() {
            self.leases.release_live(&h);
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(h) = self.held.take() {
            self.leases.release_live(&h);
            self.leases.keep_orphans([h]);
            self.leases.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_given_up_without_its_outcome_becomes_an_orphan() {
        let leases = Arc::new(Leases::new(Duration::from_secs(30)));
        let order = Held::Order(CheckId::from("c-1"));
        let done = leases.hold(order.clone());
        let dropped = leases.hold(Held::Poll(TenantKey::from("acme")));
        assert!(leases.is_live(&order));
        assert_eq!(leases.live().orders, vec![CheckId::from("c-1")]);
        done.done();
        drop(dropped);
        assert!(!leases.is_live(&order));
        assert_eq!(leases.live(), Live::default());
        assert_eq!(
            leases.take_orphans(),
            vec![Held::Poll(TenantKey::from("acme"))],
            "only the hold dropped without its outcome"
        );
        assert!(leases.take_orphans().is_empty(), "taken once");
    }

    #[test]
    fn the_same_work_held_twice_stays_live_until_both_end() {
        let leases = Arc::new(Leases::new(Duration::from_secs(30)));
        let push = Held::Push(CheckId::from("c-2"));
        let a = leases.hold(push.clone());
        let b = leases.hold(push.clone());
        a.done();
        assert!(leases.is_live(&push));
        b.done();
        assert!(!leases.is_live(&push));
    }

    #[tokio::test]
    async fn calls_run_only_while_the_leases_are_certainly_ours() {
        let leases = Leases::new(Duration::from_millis(600));
        leases.renewed(now_ms() - 600);
        assert_eq!(
            leases.within(async { 7 }).await,
            Some(7),
            "without a keeper, nothing lapses"
        );
        leases.kept_from(now_ms());
        assert_eq!(leases.within(async { 7 }).await, Some(7));
        // Not renewed for longer than the lease less its margin: the call is given up.
        leases.renewed(now_ms() - 600);
        assert_eq!(leases.within(async { 7 }).await, None);
    }

    #[test]
    fn an_outage_starts_at_its_first_failure() {
        let leases = Leases::new(Duration::from_secs(30));
        assert_eq!(leases.failing_since(), None);
        leases.store_failed(1_000);
        leases.store_failed(2_000);
        assert_eq!(leases.failing_since(), Some(1_000));
        assert_eq!(leases.store_answered(), Some(1_000));
        assert_eq!(leases.store_answered(), None);
    }
}
