//! The change signal both sandboxes offer (`changes()`): a counter bumped whenever a sandbox's
//! data changes, so a test can wait for "something happened" with a deadline instead of
//! sleeping and looking again. Waiters re-check their own condition on every bump; the value
//! itself means nothing beyond "different from before".

use std::sync::Arc;

use tokio::sync::watch;

/// The sending side, shared by every clone of a sandbox's state.
#[derive(Clone, Debug)]
pub(crate) struct Changes(Arc<watch::Sender<u64>>);

impl Default for Changes {
    fn default() -> Self {
        Self(Arc::new(watch::channel(0).0))
    }
}

impl Changes {
    /// Tells every waiter that something changed (also when nobody is waiting yet).
    pub(crate) fn bump(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that has seen every change so far: its `changed()` resolves at the next one.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}
