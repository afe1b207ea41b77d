//! checkbridge: connects PageUp background-check requests to Theary verifications.
//!
//! The binary is a thin shell over this library: [`cli`] parses and dispatches, each command
//! lives in [`commands`], and [`telemetry`] sets up structured logging.

pub mod cli;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod health;
pub mod http;
pub mod lab;
pub mod metrics;
pub mod redact;
pub mod service;
pub mod store;
pub mod sync;
pub mod telemetry;
