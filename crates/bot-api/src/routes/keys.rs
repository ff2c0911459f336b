//! The one comparison of a key a caller sent with the configured one
//! (admin key, readiness probe key, serve-mode subscription key).

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// Whether `given` is the key. Constant time in the key's bytes, so the key
/// cannot be guessed byte by byte from how long a refusal takes.
pub fn matches(given: &[u8], key: &SecretString) -> bool {
    bool::from(given.ct_eq(key.expose_secret().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_key_itself_matches() {
        let key = SecretString::from("0123456789abcdef");
        assert!(matches(b"0123456789abcdef", &key));
        for wrong in [&b""[..], b"0123456789abcdeF", b"0123456789abcdef0", b"0123"] {
            assert!(!matches(wrong, &key), "{wrong:?}");
        }
    }
}
