//! Importers: QnA Maker's TSV export into a `KnowledgeBase`.
//!
//! The full export has the columns
//! `Question Answer Source Metadata SuggestedQuestions IsContextOnly Prompts QnaId`;
//! older exports stop after `Metadata`. Rows that share a QnaId (or, without
//! one, the same answer) become one QnA with alternate questions.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::answerer::Prompt;
use crate::error::QnaError;
use crate::kb::{KnowledgeBase, QnaPair};

/// Reads a KB file: `.json` is a CQA export, anything else a TSV (the QnA
/// Maker export or the plain `Question Answer Metadata` form; the header
/// says which columns there are).
pub fn load_path(path: &Path) -> Result<KnowledgeBase, QnaError> {
    let text = std::fs::read_to_string(path).map_err(|e| QnaError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let name = path.display().to_string();
    if is_json_path(path) {
        crate::cqa_json::parse(&text, &name)
    } else {
        parse_tsv(&text, &name)
    }
}

pub fn is_json_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// `key:value|key:value`, or a JSON object, keys lower-cased as QnA Maker
/// does.
pub fn parse_metadata(s: &str) -> Result<BTreeMap<String, String>, String> {
    let s = s.trim();
    if s.starts_with('{') {
        let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(s)
            .map_err(|e| format!("metadata is not a JSON object of strings: {e}"))?;
        return Ok(map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k.to_lowercase(), v)
            })
            .collect());
    }
    let mut out = BTreeMap::new();
    for part in s.split('|').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once(':')
            .ok_or_else(|| format!("metadata {part:?} is not key:value"))?;
        out.insert(k.trim().to_lowercase(), v.trim().to_string());
    }
    Ok(out)
}

pub fn parse_tsv(text: &str, path: &str) -> Result<KnowledgeBase, QnaError> {
    let err = |line: usize, message: String| QnaError::Parse {
        path: path.to_string(),
        line,
        message,
    };
    let mut lines = text.lines().enumerate();
    let (_, header) = lines.next().ok_or_else(|| err(1, "empty file".into()))?;
    let header = header.trim_start_matches('\u{feff}');
    let cols: Vec<String> = header
        .split('\t')
        .map(|c| c.trim().to_lowercase())
        .collect();
    let col = |name: &str| cols.iter().position(|c| c == name);
    let (q_col, a_col) = match (col("question"), col("answer")) {
        (Some(q), Some(a)) => (q, a),
        _ => {
            return Err(err(
                1,
                "header must name the Question and Answer columns".into(),
            ))
        }
    };
    let (src_col, md_col, ctx_col, prompts_col, id_col) = (
        col("source"),
        col("metadata"),
        col("iscontextonly"),
        col("prompts"),
        col("qnaid"),
    );

    let mut qnas: Vec<QnaPair> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (i, line) in lines {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let get = |c: Option<usize>| {
            c.and_then(|c| fields.get(c))
                .map(|s| s.trim())
                .unwrap_or("")
        };
        let question = get(Some(q_col));
        let answer = get(Some(a_col));
        if fields.len() <= a_col {
            return Err(err(
                line_no,
                format!(
                    "expected at least {} tab-separated columns, found {}",
                    a_col + 1,
                    fields.len()
                ),
            ));
        }
        if answer.is_empty() {
            return Err(err(line_no, "empty answer".into()));
        }
        let metadata = parse_metadata(get(md_col)).map_err(|m| err(line_no, m))?;
        let qna_id = match get(id_col) {
            "" => None,
            s => Some(
                s.parse::<u64>()
                    .map_err(|_| err(line_no, format!("QnaId {s:?} is not a number")))?,
            ),
        };
        let is_context_only = match get(ctx_col).to_lowercase().as_str() {
            "" | "false" => false,
            "true" => true,
            other => {
                return Err(err(
                    line_no,
                    format!("IsContextOnly {other:?} is not true/false"),
                ))
            }
        };
        let prompts = match get(prompts_col) {
            "" | "[]" => Vec::new(),
            s => parse_prompts(s).map_err(|m| err(line_no, m))?,
        };
        let key = qna_id
            .map(|id| format!("#{id}"))
            .unwrap_or_else(|| answer.to_string());
        let idx = *by_key.entry(key).or_insert_with(|| {
            qnas.push(QnaPair {
                id: qna_id.unwrap_or(0),
                answer: answer.to_string(),
                questions: Vec::new(),
                metadata: metadata.clone(),
                source: get(src_col).to_string(),
                prompts: prompts.clone(),
                is_context_only,
            });
            qnas.len() - 1
        });
        if !question.is_empty() && !qnas[idx].questions.iter().any(|q| q == question) {
            qnas[idx].questions.push(question.to_string());
        }
    }
    // Ids for rows that had none: after the largest id given, in file order.
    let first_free = qnas.iter().map(|q| q.id).max().unwrap_or(0) + 1;
    for (id, q) in (first_free..).zip(qnas.iter_mut().filter(|q| q.id == 0)) {
        q.id = id;
    }
    Ok(KnowledgeBase { qnas })
}

/// Writes the QnA Maker full TSV export (one row per phrasing).
pub fn to_tsv(kb: &KnowledgeBase) -> String {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut out = String::from(
        "Question\tAnswer\tSource\tMetadata\tSuggestedQuestions\tIsContextOnly\tPrompts\tQnaId\n",
    );
    for q in &kb.qnas {
        let metadata = q
            .metadata
            .iter()
            .map(|(k, v)| format!("{}:{}", clean(k), clean(v).replace('|', " ")))
            .collect::<Vec<_>>()
            .join("|");
        let prompts = serde_json::to_string(&q.prompts).unwrap_or_else(|_| "[]".into());
        // A QnA with no phrasing still needs a row to carry its answer.
        let questions: Vec<&str> = if q.questions.is_empty() {
            vec![""]
        } else {
            q.questions.iter().map(String::as_str).collect()
        };
        for question in questions {
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t[]\t{}\t{}\t{}\n",
                clean(question),
                clean(&q.answer),
                clean(&q.source),
                metadata,
                q.is_context_only,
                prompts,
                q.id
            ));
        }
    }
    out
}

/// Writes the plain `Question Answer Metadata` TSV. It has no ids, prompts
/// or context-only flags, so a multi-turn KB loses its follow-ups here.
pub fn to_plain_tsv(kb: &KnowledgeBase) -> String {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut out = String::from("Question\tAnswer\tMetadata\n");
    for q in &kb.qnas {
        let metadata = q
            .metadata
            .iter()
            .map(|(k, v)| format!("{}:{}", clean(k), clean(v).replace('|', " ")))
            .collect::<Vec<_>>()
            .join("|");
        for question in &q.questions {
            out.push_str(&format!(
                "{}\t{}\t{}\n",
                clean(question),
                clean(&q.answer),
                metadata
            ));
        }
    }
    out
}

fn parse_prompts(s: &str) -> Result<Vec<Prompt>, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Raw {
        #[serde(default)]
        display_order: i32,
        #[serde(alias = "qnaId")]
        qna_id: u64,
        display_text: String,
    }
    let raw: Vec<Raw> = serde_json::from_str(s)
        .map_err(|e| format!("Prompts is not a JSON list of prompts: {e}"))?;
    Ok(raw
        .into_iter()
        .map(|r| Prompt {
            display_order: r.display_order,
            qna_id: r.qna_id,
            display_text: r.display_text,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_phrasings_by_answer() {
        let kb = parse_tsv(
            "Question\tAnswer\tSource\tMetadata\nhi\tHello!\ts\teditorial:chitchat\nhello\tHello!\ts\teditorial:chitchat\nbye\tBye.\ts\t\n",
            "t.tsv",
        )
        .unwrap();
        assert_eq!(kb.qnas.len(), 2);
        assert_eq!(kb.qnas[0].questions, vec!["hi", "hello"]);
        assert_eq!(kb.qnas[0].metadata["editorial"], "chitchat");
        assert_ne!(kb.qnas[0].id, kb.qnas[1].id);
    }

    #[test]
    fn full_export_with_ids_prompts_and_context_only() {
        let kb = parse_tsv(
            "Question\tAnswer\tSource\tMetadata\tSuggestedQuestions\tIsContextOnly\tPrompts\tQnaId\n\
             reset password\tWhich account?\tEditorial\t\t[]\tfalse\t[{\"displayOrder\":1,\"qnaId\":2,\"displayText\":\"Work\"}]\t1\n\
             work\tUse the portal.\tEditorial\t\t[]\ttrue\t[]\t2\n",
            "t.tsv",
        )
        .unwrap();
        assert_eq!(kb.qnas[0].prompts[0].qna_id, 2);
        assert!(kb.qnas[1].is_context_only);
        assert_eq!(kb.get(2).unwrap().answer, "Use the portal.");
    }

    #[test]
    fn plain_tsv_round_trips_questions_answers_and_metadata() {
        let kb = parse_tsv(
            "Question\tAnswer\tSource\tMetadata\nhi\tHello!\ts\teditorial:chitchat|tone:warm\nhello\tHello!\ts\teditorial:chitchat|tone:warm\nbye\tBye.\ts\t\n",
            "t.tsv",
        )
        .unwrap();
        let text = to_plain_tsv(&kb);
        assert!(text.starts_with("Question\tAnswer\tMetadata\n"), "{text}");
        let back = parse_tsv(&text, "plain.tsv").unwrap();
        assert_eq!(back.qnas.len(), 2);
        let hello = back.qnas.iter().find(|q| q.answer == "Hello!").unwrap();
        assert_eq!(hello.questions, ["hi", "hello"]);
        assert_eq!(hello.metadata.get("tone").map(String::as_str), Some("warm"));
    }

    #[test]
    fn bad_rows_name_their_line() {
        for (text, line) in [
            ("Question\tAnswer\nq\t\n", 2),
            ("Question\tAnswer\tSource\tMetadata\nq\ta\ts\tnocolon\n", 2),
            ("Question\tAnswer\tSource\tMetadata\tSuggestedQuestions\tIsContextOnly\tPrompts\tQnaId\nq\ta\ts\t\t\tfalse\t[\t1\n", 2),
            ("Question\tAnswer\nok\tfine\nonlyone\n", 3),
        ] {
            match parse_tsv(text, "bad.tsv") {
                Err(QnaError::Parse { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        assert!(parse_tsv("", "e.tsv").is_err());
        assert!(parse_tsv("Foo\tBar\n", "e.tsv").is_err());
    }
}
