//! Per-check stage times, for `checkbridge bench drain --explain`: when each check was
//! listed, recorded, claimed, ordered and shown `new`, so a benchmark can say where a
//! backlog's time goes. Off unless [`enable`] is called (the benchmark does, in its own
//! process); when off, recording is one atomic load. Only check ids and times are kept,
//! never candidate data.

use std::sync::{Mutex, OnceLock};

use crate::domain::ids::CheckId;

/// A point in a check's way from PageUp's pending list to `new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The GET that listed it was answered.
    Listed,
    /// Its claim was committed to the store.
    Recorded,
    /// The PUT `queued` was sent.
    ClaimSent,
    /// PageUp acknowledged `queued`.
    ClaimAcked,
    /// The orderer took it.
    OrderLeased,
    /// The order POST was sent (its attempt noted).
    OrderSent,
    /// Theary answered the order.
    OrderAnswered,
    /// The order was committed to the store.
    OrderRecorded,
    /// The pusher took it to send `new`.
    NewLeased,
    /// The PUT `new` was sent.
    NewSent,
    /// PageUp acknowledged `new`.
    NewAcked,
}

impl Stage {
    /// Every stage, in the order a check passes them.
    pub const ALL: [Stage; 11] = [
        Stage::Listed,
        Stage::Recorded,
        Stage::ClaimSent,
        Stage::ClaimAcked,
        Stage::OrderLeased,
        Stage::OrderSent,
        Stage::OrderAnswered,
        Stage::OrderRecorded,
        Stage::NewLeased,
        Stage::NewSent,
        Stage::NewAcked,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Listed => "listed",
            Stage::Recorded => "recorded",
            Stage::ClaimSent => "PUT queued sent",
            Stage::ClaimAcked => "queued acknowledged",
            Stage::OrderLeased => "order taken",
            Stage::OrderSent => "order sent",
            Stage::OrderAnswered => "order answered",
            Stage::OrderRecorded => "order recorded",
            Stage::NewLeased => "new taken",
            Stage::NewSent => "PUT new sent",
            Stage::NewAcked => "new acknowledged",
        }
    }
}

/// One stage a check reached, at a wall-clock time in milliseconds.
#[derive(Debug, Clone)]
pub struct StageTime {
    pub check: CheckId,
    pub stage: Stage,
    pub at_ms: i64,
}

static LOG: OnceLock<Mutex<Vec<StageTime>>> = OnceLock::new();

/// Starts keeping stage times in this process (for benchmarks; memory grows with every
/// check, so a long-running service never calls it).
pub fn enable() {
    let _ = LOG.set(Mutex::new(Vec::new()));
}

/// Takes every stage time kept so far.
pub fn take() -> Vec<StageTime> {
    LOG.get()
        .and_then(|m| m.lock().ok().map(|mut v| std::mem::take(&mut *v)))
        .unwrap_or_default()
}

/// Notes that `check` reached `stage` at `at_ms`, when enabled.
pub(crate) fn record_at(check: &CheckId, stage: Stage, at_ms: i64) {
    if let Some(log) = LOG.get() {
        if let Ok(mut v) = log.lock() {
            v.push(StageTime {
                check: check.clone(),
                stage,
                at_ms,
            });
        }
    }
}

/// Notes that `check` reached `stage` now, when enabled.
pub(crate) fn record(check: &CheckId, stage: Stage) {
    if LOG.get().is_some() {
        record_at(check, stage, crate::time::now_ms());
    }
}
