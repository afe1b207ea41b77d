//! The `GET` response as a whole: a bare array of invitations, or an object wrapping one
//! under whatever name (`items`, `data`, ...). A visitor finds the list without buffering the
//! response, so large pages parse as they stream.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::invitation::Invitation;
use super::lenient::skip_scalars;

/// The `GET` response: invitations from a bare array, or from the first array-valued property
/// of a wrapping object (`items`, `data`, `invitations`, ...). Other properties are ignored.
#[derive(Debug, Default)]
pub struct InvitationList(pub Vec<Invitation>);

impl<'de> Deserialize<'de> for InvitationList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor)
            .map(|v| InvitationList(v.unwrap_or_default()))
    }
}

struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = Option<Vec<Invitation>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of invitations, bare or wrapped in an object")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(inv) = seq.next_element::<Option<Invitation>>()? {
            out.extend(inv);
        }
        Ok(Some(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while map.next_key::<IgnoredAny>()?.is_some() {
            if found.is_none() {
                found = map.next_value::<MaybeList>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Some(found.unwrap_or_default()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A property value that is the list if it is an array, and skipped otherwise.
struct MaybeList(Option<Vec<Invitation>>);

impl<'de> Deserialize<'de> for MaybeList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                ListVisitor.visit_seq(seq).map(MaybeList)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeList(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeList(None))
            }
            skip_scalars!(MaybeList(None));
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeList(None))
            }
        }
        d.deserialize_any(V)
    }
}
