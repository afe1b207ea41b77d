//! Sandbox integration tests over real HTTP.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;
mod pageup;
mod theary;
