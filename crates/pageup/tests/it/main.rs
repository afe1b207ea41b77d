//! The PageUp client against the PageUp sandbox, over real HTTP.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod client;
mod memory;
