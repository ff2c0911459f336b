//! LUIS and CLU app exports to the embedded recogniser's intents file.
//!
//! LUIS (`luis_schema_version`, `intents`, `utterances`, `regex_entities`)
//! and CLU conversation projects (`assets.intents`, `assets.utterances`,
//! `assets.entities[].regex.expressions`). Regex entities carry over;
//! machine-learned and list entities have no embedded equivalent and are
//! counted in the report instead.

use serde::Deserialize;
use serde_json::Value;

use crate::error::LuError;
use crate::intents::{IntentDef, IntentsFile, RegexEntity};

/// What an import kept and what it had to leave behind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    pub format: &'static str,
    pub intents: usize,
    pub examples: usize,
    pub regex_entities: usize,
    /// Entities without a regex (machine-learned, list, prebuilt).
    pub skipped_entities: Vec<String>,
    /// Intents dropped because no utterance was labelled with them.
    pub empty_intents: Vec<String>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct LuisUtterance {
    text: String,
    intent: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LuisRegex {
    name: String,
    regex_pattern: String,
}

#[derive(Deserialize)]
struct LuisApp {
    #[serde(default)]
    culture: Option<String>,
    intents: Vec<Named>,
    utterances: Vec<LuisUtterance>,
    #[serde(default)]
    entities: Vec<Named>,
    #[serde(default)]
    regex_entities: Vec<LuisRegex>,
}

#[derive(Deserialize)]
struct CluCategory {
    category: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CluExpression {
    regex_pattern: String,
}

#[derive(Deserialize)]
struct CluRegex {
    #[serde(default)]
    expressions: Vec<CluExpression>,
}

#[derive(Deserialize)]
struct CluEntity {
    category: String,
    #[serde(default)]
    regex: Option<CluRegex>,
}

#[derive(Deserialize)]
struct CluUtterance {
    text: String,
    intent: String,
}

#[derive(Deserialize)]
struct CluAssets {
    intents: Vec<CluCategory>,
    #[serde(default)]
    entities: Vec<CluEntity>,
    utterances: Vec<CluUtterance>,
}

#[derive(Deserialize)]
struct CluMetadata {
    #[serde(default)]
    language: Option<String>,
}

#[derive(Deserialize)]
struct CluProject {
    #[serde(default)]
    metadata: Option<CluMetadata>,
    assets: CluAssets,
}

/// Converts an export; `path` only names the input in errors.
pub fn import_app(json: &str, path: &str) -> Result<(IntentsFile, ImportReport), LuError> {
    let err = |message: String| LuError::Format {
        path: path.to_string(),
        message,
    };
    let value: Value = serde_json::from_str(json).map_err(|e| err(format!("not JSON: {e}")))?;
    let (locale, intents, utterances, regexes, mut report) = if value.get("assets").is_some() {
        let p: CluProject = serde_json::from_value(value)
            .map_err(|e| err(format!("not a CLU project export: {e}")))?;
        let mut report = ImportReport {
            format: "CLU",
            ..Default::default()
        };
        let mut regexes = Vec::new();
        for e in p.assets.entities {
            match e.regex.filter(|r| !r.expressions.is_empty()) {
                // One entity, several patterns: alternatives of one regex.
                Some(r) => regexes.push(RegexEntity {
                    name: e.category,
                    regex: r
                        .expressions
                        .iter()
                        .map(|x| format!("(?:{})", x.regex_pattern))
                        .collect::<Vec<_>>()
                        .join("|"),
                }),
                None => report.skipped_entities.push(e.category),
            }
        }
        (
            p.metadata.and_then(|m| m.language),
            p.assets
                .intents
                .into_iter()
                .map(|i| i.category)
                .collect::<Vec<_>>(),
            p.assets
                .utterances
                .into_iter()
                .map(|u| (u.text, u.intent))
                .collect::<Vec<_>>(),
            regexes,
            report,
        )
    } else if value.get("utterances").is_some() || value.get("luis_schema_version").is_some() {
        let a: LuisApp = serde_json::from_value(value)
            .map_err(|e| err(format!("not a LUIS app export: {e}")))?;
        let report = ImportReport {
            format: "LUIS",
            skipped_entities: a.entities.into_iter().map(|e| e.name).collect(),
            ..Default::default()
        };
        (
            a.culture,
            a.intents.into_iter().map(|i| i.name).collect(),
            a.utterances
                .into_iter()
                .map(|u| (u.text, u.intent))
                .collect(),
            a.regex_entities
                .into_iter()
                .map(|r| RegexEntity {
                    name: r.name,
                    regex: r.regex_pattern,
                })
                .collect(),
            report,
        )
    } else {
        return Err(err(
            "neither a LUIS app export (utterances) nor a CLU project export (assets)".into(),
        ));
    };

    let mut defs: Vec<IntentDef> = intents
        .into_iter()
        .map(|name| IntentDef {
            name,
            examples: Vec::new(),
        })
        .collect();
    for (n, (text, intent)) in utterances.into_iter().enumerate() {
        let def = defs.iter_mut().find(|d| d.name == intent).ok_or_else(|| {
            err(format!(
                "utterances[{n}]: intent {intent:?} is not declared"
            ))
        })?;
        let text = text.trim().to_string();
        if !text.is_empty() && !def.examples.contains(&text) {
            def.examples.push(text);
        }
    }
    let (kept, empty): (Vec<_>, Vec<_>) = defs.into_iter().partition(|d| !d.examples.is_empty());
    report.empty_intents = empty.into_iter().map(|d| d.name).collect();
    let file = IntentsFile {
        locale: locale
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "en-us".into())
            .to_lowercase(),
        intents: kept,
        entities: regexes,
    };
    file.validate(path)?;
    report.intents = file.intents.len();
    report.examples = file.example_count();
    report.regex_entities = file.entities.len();
    Ok((file, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luis_export() {
        let json = r#"{
          "luis_schema_version": "7.0.0", "culture": "en-US",
          "intents": [{"name": "Cancel"}, {"name": "Help"}, {"name": "None"}],
          "entities": [{"name": "product", "roles": []}],
          "regex_entities": [{"name": "ticket", "regexPattern": "INC\\d+", "roles": []}],
          "utterances": [
            {"text": "cancel it", "intent": "Cancel", "entities": []},
            {"text": "help", "intent": "Help", "entities": []},
            {"text": "help", "intent": "Help", "entities": []}
          ]
        }"#;
        let (f, r) = import_app(json, "app.json").unwrap();
        assert_eq!(f.locale, "en-us");
        assert_eq!(f.intents.len(), 2);
        assert_eq!(f.intents[1].examples, ["help"], "duplicates dropped");
        assert_eq!(f.entities[0].regex, r"INC\d+");
        assert_eq!(r.empty_intents, ["None"]);
        assert_eq!(r.skipped_entities, ["product"]);
        assert_eq!(r.format, "LUIS");
    }

    #[test]
    fn clu_export() {
        let json = r#"{
          "projectFileVersion": "2023-04-01", "stringIndexType": "Utf16CodeUnit",
          "metadata": {"projectKind": "Conversation", "projectName": "p", "language": "en-us"},
          "assets": {
            "projectKind": "Conversation",
            "intents": [{"category": "Escalate"}, {"category": "None"}],
            "entities": [
              {"category": "ticket", "regex": {"expressions": [
                {"regexKey": "a", "language": "en-us", "regexPattern": "INC\\d+"},
                {"regexKey": "b", "language": "en-us", "regexPattern": "REQ\\d+"}]}},
              {"category": "person"}
            ],
            "utterances": [
              {"text": "talk to a human", "intent": "Escalate", "language": "en-us",
               "dataset": "Train", "entities": []}
            ]
          }
        }"#;
        let (f, r) = import_app(json, "p.json").unwrap();
        assert_eq!(f.intents[0].name, "Escalate");
        assert_eq!(f.entities[0].regex, r"(?:INC\d+)|(?:REQ\d+)");
        assert_eq!(
            (r.format, r.skipped_entities.as_slice()),
            ("CLU", ["person".to_string()].as_slice())
        );
    }

    #[test]
    fn malformed_exports_are_clear_errors() {
        for (json, needle) in [
            ("not json", "not JSON"),
            ("[1, 2]", "neither a LUIS"),
            (r#"{"utterances": 3}"#, "not a LUIS app export"),
            (r#"{"assets": {"intents": []}}"#, "not a CLU project export"),
            (
                r#"{"intents": [{"name": "A"}], "utterances": [{"text": "x", "intent": "B"}]}"#,
                "\"B\" is not declared",
            ),
            (
                r#"{"intents": [{"name": "A"}], "utterances": []}"#,
                "no intents",
            ),
            (
                r#"{"intents": [{"name": "A"}], "utterances": [{"text": "x", "intent": "A"}],
                   "regex_entities": [{"name": "r", "regexPattern": "(["}]}"#,
                "bad regex",
            ),
        ] {
            let e = import_app(json, "in.json").unwrap_err().to_string();
            assert!(e.contains("in.json") && e.contains(needle), "{json}: {e}");
        }
    }
}
