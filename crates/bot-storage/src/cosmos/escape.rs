//! Cosmos DB item ids in botbuilder's CosmosDbPartitionedStorage form.
//!
//! Each of `\ ? / # \t \n \r *` becomes `*` and its lowercase hex char code
//! (not zero-padded), exactly as botbuilder's `CosmosDbKeyEscape.escapeKey`.
//!
//! Long keys: Cosmos ids are at most 255 characters. botbuilder-js shortens
//! longer escaped keys with a randomly salted hash, so such state can never
//! be read back. Here an escaped key over 255 characters becomes its first
//! 191 characters followed by the 64 hex digits of the SHA-256 of the whole
//! escaped key: deterministic, 255 characters, and still readable by a
//! botbuilder bot that is given the same id (ids are compared, not hashed,
//! on read). Keys up to 255 escaped characters are unchanged, so shorter
//! keys stay fully compatible.

use sha2::{Digest, Sha256};

/// The longest id Cosmos DB accepts.
pub const MAX_ID_CHARS: usize = 255;
const HASH_HEX_CHARS: usize = 64;

/// The item id (and partition key value) for a storage key.
pub fn escape_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        match c {
            '\\' | '?' | '/' | '#' | '\t' | '\n' | '\r' | '*' => {
                out.push('*');
                out.push_str(&format!("{:x}", c as u32));
            }
            c => out.push(c),
        }
    }
    shorten(out)
}

fn shorten(escaped: String) -> String {
    // botbuilder counts UTF-16 code units (JS string length); so do we, so
    // that a key botbuilder leaves alone is left alone here too.
    if escaped.encode_utf16().count() <= MAX_ID_CHARS {
        return escaped;
    }
    let digest = Sha256::digest(escaped.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let mut prefix = String::new();
    let mut units = 0;
    for c in escaped.chars() {
        if units + c.len_utf16() > MAX_ID_CHARS - HASH_HEX_CHARS {
            break;
        }
        units += c.len_utf16();
        prefix.push(c);
    }
    prefix + &hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_botbuilder() {
        assert_eq!(
            escape_key("emulator/conversations/conv 1/"),
            "emulator*2fconversations*2fconv 1*2f"
        );
        assert_eq!(escape_key("a\tb"), "a*9b");
        assert_eq!(escape_key("\\?#*\n\r"), "*5c*3f*23*2a*a*d");
        assert_eq!(escape_key("plain-key_1"), "plain-key_1");
        assert_eq!(escape_key("ünï/日本"), "ünï*2f日本");
    }

    #[test]
    fn long_keys_are_deterministic_and_distinct() {
        let a = "x".repeat(300);
        let b = format!("{}y", "x".repeat(299));
        let ea = escape_key(&a);
        assert_eq!(ea, escape_key(&a));
        assert_eq!(ea.encode_utf16().count(), MAX_ID_CHARS);
        assert!(ea.starts_with(&"x".repeat(191)));
        assert_ne!(ea, escape_key(&b));
        // Exactly at the limit: unchanged.
        let edge = "z".repeat(255);
        assert_eq!(escape_key(&edge), edge);
        // Escaping can push a short key over the limit.
        let slashes = "/".repeat(100);
        assert_eq!(escape_key(&slashes).encode_utf16().count(), MAX_ID_CHARS);
    }
}
