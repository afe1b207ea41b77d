//! JSON writer with PageUp's "fuzzy serializer" treatment: every object's properties in random
//! order plus one extra property whose name and value are fresh GUIDs. Arrays keep their order.
//!
//! The writer produces a list of chunks instead of one string so that large generated
//! documents can be streamed as base64 without ever being held whole.

use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::Value;

/// A piece of a response body.
#[derive(Debug, Clone)]
pub enum Chunk {
    /// Literal JSON text.
    Text(String),
    /// A generated document of this many bytes, written as a base64 JSON string.
    Document(usize),
}

/// Strings of this form are replaced by a streamed generated document of N bytes.
pub const DOCUMENT_MARKER: &str = "\u{1}sandbox-generated-document:";

/// Writes `value` as JSON chunks, fuzzed when `fuzz` is set.
pub fn write(value: &Value, fuzz: bool) -> Vec<Chunk> {
    let mut w = Writer {
        chunks: Vec::new(),
        text: String::new(),
        fuzz,
        rng: rand::thread_rng(),
    };
    w.value(value);
    w.flush();
    w.chunks
}

/// Writes `value` as one JSON string (no generated documents expected).
pub fn to_string(value: &Value, fuzz: bool) -> String {
    write(value, fuzz)
        .into_iter()
        .map(|c| match c {
            Chunk::Text(t) => t,
            Chunk::Document(_) => String::from("\"\""),
        })
        .collect()
}

struct Writer {
    chunks: Vec<Chunk>,
    text: String,
    fuzz: bool,
    rng: rand::rngs::ThreadRng,
}

impl Writer {
    fn flush(&mut self) {
        if !self.text.is_empty() {
            self.chunks
                .push(Chunk::Text(std::mem::take(&mut self.text)));
        }
    }

    fn scalar(&mut self, v: &Value) {
        // Serialising a scalar Value cannot fail.
        self.text
            .push_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned()));
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::String(s) => {
                if let Some(size) = s.strip_prefix(DOCUMENT_MARKER).and_then(|n| n.parse().ok()) {
                    self.flush();
                    self.chunks.push(Chunk::Document(size));
                } else {
                    self.scalar(v);
                }
            }
            Value::Array(items) => {
                self.text.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.text.push(',');
                    }
                    self.value(item);
                }
                self.text.push(']');
            }
            Value::Object(map) => {
                let mut entries: Vec<(String, Value)> =
                    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                if self.fuzz {
                    let at = self.rng.gen_range(0..=entries.len());
                    let guid = uuid::Uuid::new_v4().to_string();
                    entries.insert(at, (guid, Value::String(uuid::Uuid::new_v4().to_string())));
                    entries.shuffle(&mut self.rng);
                }
                self.text.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.text.push(',');
                    }
                    self.scalar(&Value::String(k.clone()));
                    self.text.push(':');
                    self.value(v);
                }
                self.text.push('}');
            }
            _ => self.scalar(v),
        }
    }
}

/// Deterministic bytes of a generated PDF-looking document of `size` bytes.
pub fn document_bytes(offset: usize, len: usize) -> Vec<u8> {
    const HEAD: &[u8] = b"%PDF-1.4\n% checkbridge sandbox resume\n";
    const FILL: &[u8] = b"Experienced professional with a record of verified employment. ";
    (offset..offset + len)
        .map(|i| {
            if i < HEAD.len() {
                HEAD[i]
            } else {
                FILL[(i - HEAD.len()) % FILL.len()]
            }
        })
        .collect()
}

/// Raw bytes per streamed base64 piece (a multiple of 3, so pieces concatenate cleanly).
pub const DOCUMENT_PIECE: usize = 48 * 1024;
