//! The embedded recogniser's intents file: intents with example utterances,
//! and optional regex entities. JSON, so that an app export converts to it
//! without loss and people can edit it by hand.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::LuError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentDef {
    pub name: String,
    pub examples: Vec<String>,
}

/// An entity found by a regular expression, anywhere in the utterance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegexEntity {
    pub name: String,
    pub regex: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntentsFile {
    /// BCP-47 culture the examples are written in.
    #[serde(default = "default_locale")]
    pub locale: String,
    pub intents: Vec<IntentDef>,
    #[serde(default)]
    pub entities: Vec<RegexEntity>,
}

fn default_locale() -> String {
    "en-us".into()
}

/// Guards against a regex that compiles into something enormous.
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl IntentsFile {
    pub fn from_json(json: &str, path: &str) -> Result<Self, LuError> {
        let file: IntentsFile = serde_json::from_str(json).map_err(|e| LuError::Format {
            path: path.to_string(),
            message: format!("not an intents file: {e}"),
        })?;
        file.validate(path)?;
        Ok(file)
    }

    pub fn load(path: &Path) -> Result<Self, LuError> {
        let shown = path.display().to_string();
        let json = std::fs::read_to_string(path).map_err(|e| LuError::Io {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        Self::from_json(&json, &shown)
    }

    pub fn to_json(&self) -> String {
        // Serialising plain strings and vectors cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn example_count(&self) -> usize {
        self.intents.iter().map(|i| i.examples.len()).sum()
    }

    /// Every problem a recogniser would trip on later, named with its place.
    pub fn validate(&self, path: &str) -> Result<(), LuError> {
        let err = |message: String| LuError::Format {
            path: path.to_string(),
            message,
        };
        if self.intents.is_empty() {
            return Err(err("no intents defined".into()));
        }
        let mut names = HashSet::new();
        for (i, intent) in self.intents.iter().enumerate() {
            if intent.name.trim().is_empty() {
                return Err(err(format!("intents[{i}]: the name is empty")));
            }
            if !names.insert(intent.name.as_str()) {
                return Err(err(format!(
                    "intents[{i}]: intent {:?} is defined twice",
                    intent.name
                )));
            }
            if intent.examples.iter().all(|e| e.trim().is_empty()) {
                return Err(err(format!(
                    "intent {:?} has no example utterances",
                    intent.name
                )));
            }
        }
        for (i, e) in self.entities.iter().enumerate() {
            if e.name.trim().is_empty() {
                return Err(err(format!("entities[{i}]: the name is empty")));
            }
            regex::RegexBuilder::new(&e.regex)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|x| err(format!("entity {:?}: bad regex: {x}", e.name)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_files_are_named_errors() {
        for (json, needle) in [
            ("{", "not an intents file"),
            (r#"{"intents": []}"#, "no intents"),
            (
                r#"{"intents": [{"name": "A", "examples": []}]}"#,
                "no example",
            ),
            (
                r#"{"intents": [{"name": "A", "examples": ["a"]}, {"name": "A", "examples": ["b"]}]}"#,
                "twice",
            ),
            (
                r#"{"intents": [{"name": "A", "examples": ["a"]}], "entities": [{"name": "n", "regex": "("}]}"#,
                "bad regex",
            ),
        ] {
            let e = IntentsFile::from_json(json, "x.json")
                .unwrap_err()
                .to_string();
            assert!(e.contains("x.json") && e.contains(needle), "{json}: {e}");
        }
    }

    #[test]
    fn round_trips_through_json() {
        let f = IntentsFile {
            locale: "en-us".into(),
            intents: vec![IntentDef {
                name: "Help".into(),
                examples: vec!["help".into()],
            }],
            entities: vec![RegexEntity {
                name: "ticket".into(),
                regex: r"\d+".into(),
            }],
        };
        assert_eq!(IntentsFile::from_json(&f.to_json(), "t").unwrap(), f);
    }
}
