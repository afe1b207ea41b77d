//! Client for Theary's background-check API: wire types for orders, searches and webhook
//! events, an Auth0-style token source, a typed client, and webhook signatures.
//!
//! Sources: Theary's public documentation and official quick start, summarised with what is
//! unknown in this crate's README.

mod client;
mod config;
mod error;
pub mod signature;
mod token;
pub mod wire;

pub use client::{contains_id, ThearyClient};
pub use config::*;
pub use error::Error;
