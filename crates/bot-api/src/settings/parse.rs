//! Typed parsers shared by the sections: URLs, secrets, paths and lists.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Serializer;

use super::problems::{Checked, Problems};

/// What a dump shows for a secret that is set.
pub const REDACTED: &str = "[REDACTED]";

/// An `http(s)://` URL with a host, no whitespace and no query (a query
/// would carry a SAS or a key, which belong in secrets).
pub fn is_http_url(value: &str) -> bool {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && !value.contains(char::is_whitespace)
        && !value.contains('?')
}

/// Checks one URL; `example` shows the user the expected form.
pub fn http_url(p: &mut Problems<'_>, key: &str, value: &str, example: &str) -> Checked<String> {
    p.require(
        is_http_url(value),
        key,
        value,
        &format!("expected an http(s) URL without a query, e.g. {example}"),
    )?;
    Ok(value.to_string())
}

/// Checks every URL of a list, reporting each bad one.
pub fn http_urls(
    p: &mut Problems<'_>,
    key: &str,
    values: &[String],
    example: &str,
) -> Checked<Vec<String>> {
    let mut ok = true;
    for v in values {
        ok &= http_url(p, key, v, example).is_ok();
    }
    if ok {
        Ok(values.to_vec())
    } else {
        Err(super::problems::Reported)
    }
}

/// A secret that is set and not blank.
pub fn secret(s: &Option<SecretString>) -> Option<SecretString> {
    s.as_ref()
        .filter(|v| !v.expose_secret().trim().is_empty())
        .cloned()
}

/// A text value that is set and not blank.
pub fn text(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.trim().to_string())
}

/// A required text value.
pub fn required(p: &mut Problems<'_>, key: &str, s: &Option<String>, why: &str) -> Checked<String> {
    text(s).ok_or_else(|| p.invalid(key, "", why))
}

/// A path, empty meaning none.
pub fn optional_path(s: &Option<String>) -> Option<PathBuf> {
    text(s).map(PathBuf::from)
}

/// A relative path is taken from the working directory, or else from the
/// directory above the config directory (the repository root), so the
/// defaults work wherever the binary or a test starts.
pub fn existing_file(path: &str, config_dir: &Path) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    if p.is_file() {
        return Some(p);
    }
    let alt = config_dir.parent()?.join(&p);
    (p.is_relative() && alt.is_file()).then_some(alt)
}

/// Secrets appear in a dump only as whether they are set.
pub fn redact<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str(REDACTED),
        None => s.serialize_none(),
    }
}

/// A list of secrets appears as how many there are.
pub fn redact_all(keys: &[SecretString]) -> String {
    format!("[{} {}]", keys.len(), &REDACTED[1..REDACTED.len() - 1])
}
