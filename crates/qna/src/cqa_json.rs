//! CQA's JSON export: `{"assets": {"qnas": [...]}}` as the Language
//! service's import/export API writes it (camelCase), the PascalCase form of
//! Language Studio's download, or a bare list of QnAs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::answerer::Prompt;
use crate::error::QnaError;
use crate::kb::{KnowledgeBase, QnaPair};

#[derive(Deserialize)]
#[serde(untagged)]
enum Metadata {
    Map(BTreeMap<String, String>),
    List(Vec<KeyValue>),
}

#[derive(Deserialize)]
struct KeyValue {
    #[serde(alias = "Key", alias = "name", alias = "Name")]
    key: String,
    #[serde(alias = "Value")]
    value: String,
}

#[derive(Deserialize, Default)]
struct Dialog {
    #[serde(default, alias = "IsContextOnly", alias = "isContextOnly")]
    is_context_only: bool,
    #[serde(default, alias = "Prompts")]
    prompts: Vec<RawPrompt>,
}

#[derive(Deserialize)]
struct RawPrompt {
    #[serde(default, alias = "DisplayOrder", alias = "displayOrder")]
    display_order: i32,
    #[serde(alias = "QnaId", alias = "qnaId", alias = "qnaid")]
    qna_id: u64,
    #[serde(alias = "DisplayText", alias = "displayText")]
    display_text: String,
}

#[derive(Deserialize)]
struct RawQna {
    #[serde(alias = "Id")]
    id: u64,
    #[serde(alias = "Answer")]
    answer: String,
    #[serde(default, alias = "Source")]
    source: Option<String>,
    #[serde(default, alias = "Questions")]
    questions: Vec<String>,
    #[serde(default, alias = "Metadata")]
    metadata: Option<Metadata>,
    #[serde(default, alias = "Dialog")]
    dialog: Option<Dialog>,
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

pub fn parse(text: &str, path: &str) -> Result<KnowledgeBase, QnaError> {
    let err = |line: usize, message: String| QnaError::Parse {
        path: path.to_string(),
        line,
        message,
    };
    let root: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| err(e.line(), format!("not valid JSON: {e}")))?;
    let qnas = field(&root, "assets")
        .and_then(|a| field(a, "qnas"))
        .or_else(|| field(&root, "qnas"))
        .or(if root.is_array() { Some(&root) } else { None })
        .and_then(Value::as_array)
        .ok_or_else(|| {
            err(
                1,
                "expected {\"assets\": {\"qnas\": [...]}} or a list of QnAs".into(),
            )
        })?;
    // Values carry no positions; the line of each QnA is found by its id in
    // the text, so errors still point somewhere useful.
    let line_of = |item: &Value| -> usize {
        field(item, "id")
            .and_then(Value::as_u64)
            .and_then(|id| {
                text.lines().position(|l| {
                    let l = l.to_ascii_lowercase();
                    l.contains("\"id\"") && l.contains(&format!(": {id}"))
                        || l.contains(&format!("\"id\":{id}"))
                })
            })
            .map(|p| p + 1)
            .unwrap_or(1)
    };
    let mut out = Vec::with_capacity(qnas.len());
    let mut seen = std::collections::HashSet::new();
    for (n, item) in qnas.iter().enumerate() {
        let raw: RawQna = serde_json::from_value(item.clone())
            .map_err(|e| err(line_of(item), format!("QnA #{} of the list: {e}", n + 1)))?;
        if raw.answer.trim().is_empty() {
            return Err(err(
                line_of(item),
                format!("QnA id {}: empty answer", raw.id),
            ));
        }
        if !seen.insert(raw.id) {
            return Err(err(
                line_of(item),
                format!("QnA id {} appears twice", raw.id),
            ));
        }
        let metadata = match raw.metadata {
            None => BTreeMap::new(),
            Some(Metadata::Map(m)) => m.into_iter().map(|(k, v)| (k.to_lowercase(), v)).collect(),
            Some(Metadata::List(l)) => l
                .into_iter()
                .map(|kv| (kv.key.to_lowercase(), kv.value))
                .collect(),
        };
        let dialog = raw.dialog.unwrap_or_default();
        out.push(QnaPair {
            id: raw.id,
            answer: raw.answer,
            questions: raw
                .questions
                .into_iter()
                .filter(|q| !q.trim().is_empty())
                .collect(),
            metadata,
            source: raw.source.unwrap_or_default(),
            prompts: dialog
                .prompts
                .into_iter()
                .map(|p| Prompt {
                    display_order: p.display_order,
                    qna_id: p.qna_id,
                    display_text: p.display_text,
                })
                .collect(),
            is_context_only: dialog.is_context_only,
        });
    }
    Ok(KnowledgeBase { qnas: out })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutDialog<'a> {
    is_context_only: bool,
    prompts: &'a [Prompt],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutQna<'a> {
    id: u64,
    answer: &'a str,
    source: &'a str,
    questions: &'a [String],
    metadata: &'a BTreeMap<String, String>,
    dialog: OutDialog<'a>,
}

/// The import/export API's camelCase form.
pub fn to_json(kb: &KnowledgeBase) -> String {
    let qnas: Vec<OutQna> = kb
        .qnas
        .iter()
        .map(|q| OutQna {
            id: q.id,
            answer: &q.answer,
            source: &q.source,
            questions: &q.questions,
            metadata: &q.metadata,
            dialog: OutDialog {
                is_context_only: q.is_context_only,
                prompts: &q.prompts,
            },
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({"assets": {"qnas": qnas}}))
        .unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_casings_and_round_trip() {
        let camel = r#"{"assets":{"qnas":[
          {"id":1,"answer":"Which account?","source":"Editorial","questions":["reset password"],
           "metadata":{"Topic":"account"},"dialog":{"isContextOnly":false,"prompts":[{"displayOrder":1,"qnaId":2,"displayText":"Work"}]}},
          {"id":2,"answer":"Use the portal.","questions":["work"],"dialog":{"isContextOnly":true,"prompts":[]}}]}}"#;
        let kb = parse(camel, "kb.json").unwrap();
        assert_eq!(kb.qnas[0].metadata["topic"], "account");
        assert_eq!(kb.qnas[0].prompts[0].display_text, "Work");
        assert!(kb.qnas[1].is_context_only);
        let pascal = r#"{"Assets":{"Qnas":[{"Id":7,"Answer":"Hi.","Source":"s","Questions":["hello"],
           "Metadata":[{"Key":"Editorial","Value":"chitchat"}],"Dialog":{"IsContextOnly":false,"Prompts":[]}}]}}"#;
        let kb2 = parse(pascal, "kb.json").unwrap();
        assert_eq!(kb2.qnas[0].id, 7);
        assert_eq!(kb2.qnas[0].metadata["editorial"], "chitchat");
        assert_eq!(parse(&to_json(&kb), "rt.json").unwrap(), kb);
    }

    #[test]
    fn bad_json_names_the_line() {
        match parse(
            "{\n \"assets\": {\n  \"qnas\": [ {\"id\": 1,, } ]\n}}",
            "b.json",
        ) {
            Err(QnaError::Parse { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
        let missing = "{\"assets\": {\"qnas\": [\n {\"id\": 1, \"answer\": \"a\"},\n {\"id\": 2, \"questions\": [\"q\"]}\n]}}";
        match parse(missing, "b.json") {
            Err(QnaError::Parse { line, message, .. }) => {
                assert_eq!(line, 3);
                assert!(message.contains("answer"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(parse("[1, 2]", "b.json").is_err());
        assert!(parse("{\"nothing\": true}", "b.json").is_err());
    }
}
