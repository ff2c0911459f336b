//! The `Authorization` header, checked without any network access: whatever
//! fails here is answered 401 before a key is fetched.

use jsonwebtoken::{Algorithm, Header};
use serde::Deserialize;

use crate::error::AuthError;

/// The only signature algorithms Bot Framework uses; `none` and HMAC (which
/// would let a public key act as a shared secret) are never accepted.
pub const ALLOWED_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];

/// Tokens longer than this are refused unread; real ones are ~1.5 KB.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A token that passed the offline checks: its header and unverified claims.
#[derive(Debug, Clone)]
pub struct UnverifiedToken<'a> {
    pub raw: &'a str,
    pub alg: Algorithm,
    pub kid: String,
    pub issuer: String,
}

#[derive(Deserialize)]
struct IssuerOnly {
    iss: Option<serde_json::Value>,
}

/// Splits `Bearer <token>` (scheme case-insensitive, as RFC 7235 says).
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.ok_or(AuthError::MissingHeader)?.trim();
    if header.is_empty() {
        return Err(AuthError::MissingHeader);
    }
    let (scheme, token) = header
        .split_once(' ')
        .ok_or_else(|| AuthError::MalformedHeader("expected \"Bearer <token>\"".to_string()))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MalformedHeader(format!(
            "unsupported scheme {:?}; expected Bearer",
            truncate(scheme, 32)
        )));
    }
    let token = token.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(AuthError::MalformedHeader(
            "expected exactly one token after Bearer".to_string(),
        ));
    }
    Ok(token)
}

/// Parses the header and the (not yet verified) issuer of a JWT and applies
/// every rule that needs no key: three parts, an allowed algorithm, a key id,
/// an issuer.
pub fn inspect(token: &str) -> Result<UnverifiedToken<'_>, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::MalformedHeader(format!(
            "token is {} bytes; the limit is {MAX_TOKEN_LEN}",
            token.len()
        )));
    }
    if token.split('.').count() != 3 {
        return Err(AuthError::MalformedHeader(
            "not a JWT (expected header.payload.signature)".to_string(),
        ));
    }
    let header: Header = jsonwebtoken::decode_header(token)
        .map_err(|e| AuthError::MalformedHeader(format!("token header: {e}")))?;
    if !ALLOWED_ALGORITHMS.contains(&header.alg) {
        return Err(AuthError::MalformedHeader(format!(
            "algorithm {:?} is not accepted; expected RS256, RS384 or RS512",
            header.alg
        )));
    }
    let kid = header
        .kid
        .filter(|k| !k.is_empty())
        .ok_or_else(|| AuthError::MalformedHeader("token header has no kid".to_string()))?;
    let claims: IssuerOnly = jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|e| AuthError::MalformedHeader(format!("token claims: {e}")))?;
    let issuer = match claims.iss {
        Some(serde_json::Value::String(s)) if !s.is_empty() => s,
        _ => {
            return Err(AuthError::MalformedHeader(
                "token has no iss claim".to_string(),
            ))
        }
    };
    Ok(UnverifiedToken {
        raw: token,
        alg: header.alg,
        kid,
        issuer,
    })
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_required() {
        assert!(matches!(bearer_token(None), Err(AuthError::MissingHeader)));
        assert!(matches!(
            bearer_token(Some("  ")),
            Err(AuthError::MissingHeader)
        ));
        for bad in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer  ",
            "Bearer a b",
            "token",
        ] {
            assert!(
                matches!(bearer_token(Some(bad)), Err(AuthError::MalformedHeader(_))),
                "{bad}"
            );
        }
        assert_eq!(bearer_token(Some("bearer abc")).unwrap(), "abc");
    }

    #[test]
    fn garbage_tokens_are_malformed() {
        for bad in ["", "abc", "a.b", "a.b.c", "a.b.c.d", "....", "eyJ.eyJ.x"] {
            assert!(
                matches!(inspect(bad), Err(AuthError::MalformedHeader(_))),
                "{bad}"
            );
        }
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(inspect(&long), Err(AuthError::MalformedHeader(_))));
    }
}
