//! End to end over real HTTP: both sandboxes and checkbridge on port 0, on SQLite and (when
//! `CHECKBRIDGE_TEST_POSTGRES_URL` is set) PostgreSQL.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod api;
mod browser;
mod candidate;
mod candidate_browser;
mod candidate_flow;
mod certify;
mod criminal;
mod hardening;
mod health;
mod intake;
mod isolation;
mod life;
mod lifecycle;
mod mail;
mod outage;
mod poller;
mod refusal;
mod release;
mod replicas;
mod reports;
mod retention;
mod rotation;
mod sign_in;
mod sso;
mod webdriver;
