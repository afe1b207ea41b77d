//! The rules of a check's life, without I/O: the ids a check is known by ([`ids`]), its
//! stored state ([`check`]), how a PageUp invitation becomes a Theary order ([`mapping`]),
//! how Theary's events move a search ([`events`]), and what everyone sees of a check at any
//! moment: PageUp's document, each search's result, the overall result ([`view`]). Pure
//! functions and plain types, so every rule is tested directly, the sync loops and pages
//! stay thin, and nothing here knows the store, HTTP or the loops.

pub mod candidate;
pub mod check;
pub mod events;
pub mod fields;
pub mod ids;
pub mod mapping;
pub mod view;

#[cfg(test)]
mod test_support;
