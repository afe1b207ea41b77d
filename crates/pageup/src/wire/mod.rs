//! PageUp's wire format: the ONE assumed invitation schema, the status document we `PUT`, and
//! the tolerant parsing PageUp's responses need.
//!
//! Tolerance, because PageUp's JSON goes through a "fuzzy serializer" and the schema is not
//! public: properties in any order; unknown properties (including the GUID-named extra on
//! every object) ignored; `null` wherever a value may be missing; ids, phones and postcodes
//! as strings or numbers; salary as a number or a numeric string; status in any case; the list
//! as a bare array or wrapped in an object. Field names are camelCase as assumed in the
//! README, and PascalCase is accepted too (PageUp is a .NET API and its partner samples use
//! it); a payload that differs further is fitted through the service's field mapping.
//!
//! Inline documents (`content`, base64) are decoded while the response streams in, so the
//! encoded text is never held whole next to the decoded bytes.
//!
//! One file per job: `lenient` holds the tolerant field deserialisers every type uses;
//! `status` the workflow status and the `PUT` document; `invitation` the assumed schema;
//! `document` the attachments; `list` the page of invitations.

mod document;
mod invitation;
mod lenient;
mod list;
mod status;

pub use document::{decode_base64, Document, DocumentContent};
pub use invitation::{
    Address, Alias, Candidate, Education, Employment, Invitation, Job, Person, Worksite,
};
pub use list::InvitationList;
pub use status::{CheckStatus, ResultEntry, StatusDocument};

#[cfg(test)]
mod tests;
