//! Which layer each key came from, and which keys no section reads.

use config::{Config, Value, ValueKind};
use serde::de::DeserializeOwned;

use super::problems::{Problems, SettingsError};

pub const DEFAULTS_ORIGIN: &str = "built-in config/default.toml";

/// The layer a key's value came from: a file, the environment or the
/// built-in defaults.
pub fn origin(cfg: &Config, key: &str) -> String {
    lookup(cfg, key)
        .and_then(leaf_origin)
        .unwrap_or_else(|| DEFAULTS_ORIGIN.to_string())
}

/// A table the environment made (`BOT__STORAGE__SQLITE__PATH` makes
/// `storage.sqlite`) has no origin of its own; its values do.
fn leaf_origin(v: Value) -> Option<String> {
    if let Some(o) = v.origin() {
        return Some(o.to_string());
    }
    match v.kind {
        ValueKind::Table(t) => t.into_values().find_map(leaf_origin),
        ValueKind::Array(a) => a.into_iter().find_map(leaf_origin),
        _ => None,
    }
}

/// The value at a dotted key, with its origin. `get::<Value>` deserializes
/// and loses the origin; a table keeps it. A whole section (a top-level
/// key) stands for its first value.
fn lookup(cfg: &Config, key: &str) -> Option<Value> {
    match key.rsplit_once('.') {
        Some((section, name)) => cfg.get_table(section).ok()?.get(name).cloned(),
        None => cfg.get_table(key).ok()?.into_values().next(),
    }
}

/// Reads the sections, and refuses every key that none of them reads: a
/// mistyped key would otherwise start the bot as if it were absent.
pub fn read<T: DeserializeOwned>(cfg: &Config, p: &mut Problems<'_>) -> Result<T, SettingsError> {
    let mut unknown = Vec::new();
    let raw = serde_ignored::deserialize(cfg.clone(), |path| unknown.push(dotted(&path)))
        .map_err(|e| SettingsError::Load(e.to_string()))?;
    for key in unknown {
        let section = key.split('.').next().unwrap_or_default().to_string();
        // Its value is not shown: a mistyped secret's name would echo it.
        p.invalid(
            &key,
            super::parse::REDACTED,
            format!(
                "unknown key: no setting of [{section}] has this name (see config/default.toml)"
            ),
        );
    }
    Ok(raw)
}

fn dotted(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Map { parent, key } => {
            let parent = dotted(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Seq { parent, index } => format!("{}[{index}]", dotted(parent)),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => dotted(parent),
    }
}
