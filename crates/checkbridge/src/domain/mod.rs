//! The rules of a check's life, without I/O: how a PageUp invitation becomes a Theary order
//! ([`mapping`]), how Theary's events move a search ([`events`]), and what PageUp should show for a check at any moment ([`status`]). Pure
//! functions, so every rule is tested directly and the sync loops stay thin.

pub mod check;
pub mod events;
pub mod fields;
pub mod ids;
pub mod mapping;
pub mod status;
pub mod view;

#[cfg(test)]
mod test_support;
