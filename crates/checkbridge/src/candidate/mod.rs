//! The candidate's part of a check: the hosted form that collects what PageUp does not send
//! (SSN, date of birth, address history, the history to verify) and the FCRA disclosure and
//! signed authorization, before the order goes to Theary.
//!
//! This module is the form's own logic, with no I/O: [`form`] turns posted fields into
//! checked values or errors by field, [`texts`] holds a tenant's legal texts, [`page`]
//! renders each step through the service's templates, and [`release`] writes the signed
//! release as a PDF. Tokens, storage, the order of the steps and the routes live elsewhere
//! and call in here.

pub mod form;
pub mod page;
pub mod release;
pub mod texts;
