//! Sandbox integration tests over real HTTP.

mod common;
