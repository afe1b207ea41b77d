//! Attached documents (the resume, a signed release): a link, or inline base64 that is
//! decoded while the response streams in, so the encoded text is never held whole next to
//! the decoded bytes. Bad base64 is kept as a fact, not an error.

use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::lenient::{skip_scalars, text};

/// An attached document (the resume, a signed release): inline bytes or a link.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Document {
    #[serde(deserialize_with = "text")]
    #[serde(alias = "DocumentId")]
    pub document_id: Option<String>,
    /// e.g. `resume`, `signedRelease`.
    #[serde(deserialize_with = "text")]
    #[serde(alias = "DocumentType")]
    pub document_type: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "FileName")]
    pub file_name: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "ContentType")]
    pub content_type: Option<String>,
    #[serde(deserialize_with = "text")]
    #[serde(alias = "Url")]
    pub url: Option<String>,
    #[serde(alias = "Content")]
    pub content: Option<DocumentContent>,
}

/// A document's inline content, decoded from base64 as it was read.
#[derive(Clone, PartialEq, Eq)]
pub enum DocumentContent {
    Bytes(Bytes),
    /// The content was not valid base64; kept as a fact, not as an error that would lose
    /// the whole page of invitations.
    Invalid,
}

impl DocumentContent {
    /// Decoded bytes, if the content was valid.
    pub fn bytes(&self) -> Option<&Bytes> {
        match self {
            Self::Bytes(b) => Some(b),
            Self::Invalid => None,
        }
    }
}

impl fmt::Debug for DocumentContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(b) => write!(f, "DocumentContent({} bytes)", b.len()),
            Self::Invalid => f.write_str("DocumentContent(invalid base64)"),
        }
    }
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Decodes base64, tolerating a `data:...;base64,` prefix and line breaks.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = match text.find(";base64,") {
        Some(i) if text.starts_with("data:") => &text[i + 8..],
        _ => text,
    };
    BASE64.decode(text.trim()).ok().or_else(|| {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        BASE64.decode(compact).ok()
    })
}

impl<'de> Deserialize<'de> for DocumentContent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DocumentContent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("base64 text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(decode_base64(v).map_or(DocumentContent::Invalid, |b| {
                    DocumentContent::Bytes(b.into())
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(DocumentContent::Invalid)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(DocumentContent::Invalid)
            }
            skip_scalars!(DocumentContent::Invalid);
        }
        d.deserialize_any(V)
    }
}
