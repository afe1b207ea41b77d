//! The `checkbridge` executable, run as a real process the way users run it: its commands,
//! the operators' tools against a running service, the tiny benchmark, and the crash test
//! (SIGKILLed mid-run on SQLite and, when `CHECKBRIDGE_TEST_POSTGRES_URL` is set,
//! PostgreSQL).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod admin;
mod bench;
mod cli;
mod crash;
mod deploy;
mod inspect;
mod migrate;
mod restore;
