//! Blob names in botbuilder's BlobsStorage / BlobsTranscriptStore form.
//!
//! botbuilder-js `sanitizeBlobKey`, reproduced exactly (it is a `reduce`
//! over `key.split('/')`): empty segments after the first are dropped, a
//! segment at split index 255 or later is run onto the previous one without
//! a `/`, the result is `encodeURIComponent`ed and cut to 1024 characters.
//! A leading `/` survives (the first segment is the reduce's seed, even
//! when empty). The stored name contains `%2F` rather than `/`: the blobs
//! are flat, not virtual directories.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What `encodeURIComponent` leaves alone: `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Split indexes from here on lose their `/`.
const MAX_SEGMENTS: usize = 255;
const MAX_NAME: usize = 1024;

/// `encodeURIComponent`, for names and prefixes.
pub fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// The blob name botbuilder uses for a key. `None` for a key that has no
/// name (empty, or only slashes): botbuilder throws on those too.
pub fn sanitize_blob_key(key: &str) -> Option<String> {
    let mut parts = key.split('/');
    let mut joined = parts.next().unwrap_or("").to_string();
    for (idx, part) in parts.enumerate().map(|(i, p)| (i + 1, p)) {
        if !part.is_empty() {
            if idx < MAX_SEGMENTS {
                joined.push('/');
            }
            joined.push_str(part);
        }
    }
    if joined.is_empty() {
        return None;
    }
    let mut name = encode_uri_component(&joined);
    // Encoded names are ASCII, so a byte cut is a character cut.
    name.truncate(MAX_NAME);
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_botbuilder() {
        assert_eq!(
            sanitize_blob_key("emulator/conversations/conv-1/").as_deref(),
            Some("emulator%2Fconversations%2Fconv-1")
        );
        assert_eq!(sanitize_blob_key("a//b/").as_deref(), Some("a%2Fb"));
        // botbuilder keeps a leading slash.
        assert_eq!(sanitize_blob_key("//a//b/").as_deref(), Some("%2Fa%2Fb"));
        assert_eq!(
            sanitize_blob_key("k?x=1#f *'()!~").as_deref(),
            Some("k%3Fx%3D1%23f%20*'()!~")
        );
        assert_eq!(sanitize_blob_key("ü").as_deref(), Some("%C3%BC"));
        assert_eq!(sanitize_blob_key("///"), None);
        assert_eq!(sanitize_blob_key(""), None);
    }

    #[test]
    fn segments_past_255_run_together_and_names_are_capped() {
        // Split indexes 255.. are run together: 254 separators survive.
        let key = vec!["a"; 260].join("/");
        let name = sanitize_blob_key(&key).unwrap();
        assert_eq!(name.matches("%2F").count(), 254);
        assert!(name.ends_with("%2Faaaaaa"), "{name}");
        let long = "é".repeat(1000);
        assert_eq!(sanitize_blob_key(&long).unwrap().len(), 1024);
    }
}
