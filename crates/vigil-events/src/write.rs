//! A JSON object written straight as text, field by field: the decoders of plain-text logs
//! build one per line, and building a map instead (its keys hashed) was most of the cost of
//! reading syslog.

use serde::Serialize;

/// An object being written. Keys are the decoders' own names, written as they are (none needs
/// escaping); values are escaped by serde_json.
pub(crate) struct ObjectWriter {
    out: Vec<u8>,
}

impl ObjectWriter {
    /// An empty object with room for about `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        ObjectWriter {
            out: Vec::with_capacity(capacity),
        }
    }

    fn key(&mut self, name: &str) {
        self.out
            .extend_from_slice(if self.out.is_empty() { b"{\"" } else { b",\"" });
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// Writes `"name": "text"`.
    pub fn string(&mut self, name: &str, text: &str) {
        self.value(name, text);
    }

    /// Writes `"name": n`.
    pub fn number(&mut self, name: &str, n: u64) {
        self.key(name);
        self.out.extend_from_slice(n.to_string().as_bytes());
    }

    /// Writes `"name": value`, any serialisable value.
    pub fn value(&mut self, name: &str, value: &(impl Serialize + ?Sized)) {
        self.key(name);
        // Writing JSON into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.out, value);
    }

    /// The object's text.
    pub fn finish(mut self) -> String {
        if self.out.is_empty() {
            self.out.push(b'{');
        }
        self.out.push(b'}');
        // Only JSON was written: UTF-8 text with every string escaped.
        String::from_utf8(self.out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_an_object_field_by_field() {
        assert_eq!(ObjectWriter::with_capacity(0).finish(), "{}");
        let mut w = ObjectWriter::with_capacity(8);
        w.string("a", "x\"y");
        w.number("n", 7);
        w.value("o", &serde_json::json!({"k": [1]}));
        assert_eq!(w.finish(), r#"{"a":"x\"y","n":7,"o":{"k":[1]}}"#);
    }
}
