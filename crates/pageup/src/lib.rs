//! Client for PageUp's Background Check API (the partner API a background-check provider
//! polls): the assumed wire schema, a client-credentials token source and a typed client.
//!
//! What is known and what is assumed about the API is in this crate's README; the assumed
//! invitation schema lives in one place, [`wire`].

mod client;
mod config;
mod error;
mod token;
pub mod wire;

pub use client::{Limits, PageUpClient};
pub use config::{PageUpTenant, UrlTemplates, DEFAULT_SCOPES, SCOPE_READ, SCOPE_WRITE};
pub use error::{ApiMessage, Error};
pub use token::Claims as TokenClaims;
pub use wire::{CheckStatus, Invitation, ResultEntry, StatusDocument};
