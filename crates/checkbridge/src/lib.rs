//! The checkbridge service: connects PageUp background-check requests to Theary verifications.
//!
//! This crate is the service only: [`config`], the candidate form ([`candidate`]), the pure rules of a check's life ([`domain`]),
//! durable state ([`store`]), the background loops ([`sync`]), the HTTP side ([`http`]),
//! encryption at rest ([`crypto`]), PDF documents ([`pdf`]), candidate mail ([`mail`]), health and metrics. [`service`] starts a replica. The
//! executable and its commands live in the `checkbridge-cli` crate, and the demo, test and
//! benchmark world in `checkbridge-lab`; this crate depends on neither the sandboxes nor
//! test helpers.

pub mod admin;
pub mod candidate;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod health;
pub mod http;
pub mod intake;
pub mod mail;
pub mod metrics;
pub mod pdf;
pub mod redact;
pub mod service;
pub mod store;
pub mod sync;
pub mod time;
