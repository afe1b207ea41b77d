//! Emulators of the two partner APIs: PageUp's Background Check API and Theary's
//! background-check API. See each module.

mod changes;
pub mod common;
/// Public so the service's tests can put payloads through the same fuzzy serializer.
pub mod fuzzjson;
pub mod pageup;
pub mod theary;
