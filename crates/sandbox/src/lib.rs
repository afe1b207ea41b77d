//! Emulators of the two partner APIs (PageUp's Background Check API and Theary's
//! background-check API) and of a tenant's OpenID Connect identity provider (`idp`, for
//! single sign-on), and a mail sandbox (`mail`: SMTP in, an HTTP listing out). See each
//! module.

mod changes;
pub mod common;
/// Public so the service's tests can put payloads through the same fuzzy serializer.
pub mod fuzzjson;
pub mod idp;
pub mod mail;
mod openapi;
pub mod pageup;
pub mod theary;
