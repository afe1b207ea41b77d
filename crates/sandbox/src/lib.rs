//! Emulators of the two partner APIs: PageUp's Background Check API and Theary's
//! background-check API. See each module.

mod changes;
pub mod common;
mod fuzzjson;
mod openapi;
pub mod pageup;
pub mod theary;
