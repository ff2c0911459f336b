//! Content hash of a document: SHA-256 over a canonical JSON form (object
//! keys sorted at every level), so field order on the wire does not matter.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::paging::Document;

pub fn document_hash(doc: &Document) -> [u8; 32] {
    let mut h = Sha256::new();
    write_object(&mut h, doc.iter());
    h.finalize().into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_object<'a>(h: &mut Sha256, entries: impl Iterator<Item = (&'a String, &'a Value)>) {
    let mut sorted: Vec<_> = entries.collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    h.update(b"{");
    for (k, v) in sorted {
        write_str(h, k);
        h.update(b":");
        write_value(h, v);
        h.update(b",");
    }
    h.update(b"}");
}

fn write_str(h: &mut Sha256, s: &str) {
    // Length-prefixed, so no string content can fake a separator.
    h.update((s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

fn write_value(h: &mut Sha256, v: &Value) {
    match v {
        Value::Null => h.update(b"n"),
        Value::Bool(b) => h.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            h.update(b"#");
            // 3 and 3.0 are the same Edm.Double value.
            match n.as_f64() {
                Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    write_str(h, &(f as i64).to_string())
                }
                _ => write_str(h, &n.to_string()),
            }
        }
        Value::String(s) => {
            h.update(b"s");
            write_str(h, s);
        }
        Value::Array(a) => {
            h.update(b"[");
            for x in a {
                write_value(h, x);
                h.update(b",");
            }
            h.update(b"]");
        }
        Value::Object(o) => write_object(h, o.iter()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Document {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn order_independent_value_sensitive() {
        let a = doc(json!({"id": "1", "n": 3, "t": {"x": 1, "y": [1, 2]}}));
        let b = doc(json!({"t": {"y": [1, 2], "x": 1}, "n": 3.0, "id": "1"}));
        assert_eq!(document_hash(&a), document_hash(&b));
        let c = doc(json!({"id": "1", "n": 3, "t": {"x": 1, "y": [2, 1]}}));
        assert_ne!(document_hash(&a), document_hash(&c));
        let d = doc(json!({"id": "1", "n": "3", "t": {"x": 1, "y": [1, 2]}}));
        assert_ne!(document_hash(&a), document_hash(&d));
        assert_ne!(
            document_hash(&doc(json!({"a": null}))),
            document_hash(&doc(json!({})))
        );
        assert_eq!(hex(&[0, 255]), "00ff");
    }
}
