//! Waiting for something to happen, with a deadline. A wait re-checks its condition
//! whenever a sandbox reports a change (`PageUpState::changes`, `ThearyState::changes`) and
//! otherwise at short, growing intervals (for conditions no sandbox sees, such as a row the
//! service writes after PageUp answered); it never sleeps a fixed time hoping the work is
//! done, and it fails with what it waited for once the deadline passes.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Re-checks `probe` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    until_changed(timeout, what, &mut [], probe).await
}

/// As [`eventually`], also re-checking as soon as any of `signals` reports a change.
pub async fn until_changed<T, F, Fut>(
    timeout: Duration,
    what: &str,
    signals: &mut [watch::Receiver<u64>],
    mut probe: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        for s in signals.iter_mut() {
            s.mark_unchanged();
        }
        if let Some(v) = probe().await {
            return v;
        }
        let now = Instant::now();
        assert!(
            now < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        let wait = pause.min(deadline - now);
        if signals.is_empty() {
            tokio::time::sleep(wait).await;
        } else {
            // A change wakes the wait at once; a quiet sandbox only delays the next look.
            let changed = futures::future::select_all(
                signals
                    .iter_mut()
                    .map(|s| Box::pin(async move { s.changed().await.is_ok() })),
            );
            let _ = tokio::time::timeout(wait, changed).await;
        }
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}
