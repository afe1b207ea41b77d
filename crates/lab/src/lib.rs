//! The world checkbridge runs in when it is not talking to the real PageUp and Theary: both
//! sandboxes, tenants known to both, the configuration that points the service at them, and
//! invitations seeded per scenario with the PageUp status each should end in ([`Lab`]); the
//! helpers tests share ([`testing`]: a database of the test's own, waiting with a deadline,
//! scanning raw storage); and the benchmark scenarios ([`bench`]).
//!
//! The demo, the benchmarks and the end-to-end tests all start this world, so they exercise
//! the same service the same way. The service crate knows nothing of it.

pub mod bench;
pub mod candidate;
pub mod testing;
mod world;

pub use world::*;

/// The bearer token the lab's service requires on `/metrics` (`[http].metrics_token`).
pub const METRICS_TOKEN: &str = "lab-metrics-token-not-a-secret";
