//! BERT's tokenizer: its normaliser (clean, Chinese characters apart,
//! accents stripped, lower case), its pre-tokeniser (whitespace, then each
//! punctuation mark a word of its own) and WordPiece (the longest
//! vocabulary piece first, "##" before a word's later pieces), as a
//! `tokenizer.json` of that shape describes them.
//!
//! Not the `tokenizers` crate: its tokenizer held 9 MB for a 30k
//! vocabulary (maps of strings both ways, and the whole pipeline's
//! machinery). This one keeps a sorted table of the pieces' hashes, 0.5 MB,
//! and gives the same ids (`tests/tokenizer.rs` holds it to the crate's).
//! What it leaves out: the added tokens' matching ("[CLS]" typed in a
//! question is text here, not the special token).

use std::collections::HashMap;

use serde::Deserialize;
use unicode_categories::UnicodeCategories;
use unicode_normalization::UnicodeNormalization;

use crate::bert::{fnv, FNV_START};
use crate::EncoderError;

/// The parts of `tokenizer.json` this reads.
#[derive(Deserialize)]
struct File {
    normalizer: Option<Normalizer>,
    pre_tokenizer: Option<Kind>,
    model: Model,
}

#[derive(Deserialize)]
struct Kind {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Normalizer {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default = "yes")]
    clean_text: bool,
    #[serde(default = "yes")]
    handle_chinese_chars: bool,
    strip_accents: Option<bool>,
    #[serde(default = "yes")]
    lowercase: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct Model {
    #[serde(rename = "type")]
    kind: String,
    vocab: HashMap<String, u32>,
    unk_token: String,
    #[serde(default = "prefix")]
    continuing_subword_prefix: String,
    #[serde(default = "max_chars")]
    max_input_chars_per_word: usize,
}

fn prefix() -> String {
    "##".into()
}

fn max_chars() -> usize {
    100
}

pub(crate) struct WordPiece {
    /// (hash of the piece, its id), sorted by hash. A piece after a word's
    /// first is hashed with the prefix before it.
    pieces: Vec<(u64, u32)>,
    prefix: String,
    max_chars: usize,
    unk: u32,
    cls: u32,
    sep: u32,
    vocabulary: usize,
    clean_text: bool,
    chinese: bool,
    strip_accents: bool,
    lowercase: bool,
}

impl WordPiece {
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self, EncoderError> {
        let bad = |why: String| EncoderError::Tokenizer(why);
        let file: File = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if file.model.kind != "WordPiece" {
            return Err(bad(format!("a {} model, not WordPiece", file.model.kind)));
        }
        let normalizer = file
            .normalizer
            .ok_or_else(|| bad("no normalizer; BERT's is expected".into()))?;
        if normalizer.kind != "BertNormalizer" {
            return Err(bad(format!("a {} normalizer, not BERT's", normalizer.kind)));
        }
        match file.pre_tokenizer {
            Some(p) if p.kind == "BertPreTokenizer" => {}
            Some(p) => return Err(bad(format!("a {} pre-tokenizer, not BERT's", p.kind))),
            None => return Err(bad("no pre-tokenizer; BERT's is expected".into())),
        }
        let model = file.model;
        let id = |token: &str| {
            model
                .vocab
                .get(token)
                .copied()
                .ok_or_else(|| bad(format!("the vocabulary has no {token}")))
        };
        let (unk, cls, sep) = (id(&model.unk_token)?, id("[CLS]")?, id("[SEP]")?);
        let mut pieces: Vec<(u64, u32)> = model
            .vocab
            .iter()
            .map(|(piece, &id)| (fnv(FNV_START, piece.as_bytes()), id))
            .collect();
        pieces.sort_unstable();
        if pieces.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(bad("two vocabulary pieces share a hash".into()));
        }
        let vocabulary = model.vocab.values().max().map_or(0, |&m| m as usize + 1);
        Ok(Self {
            pieces,
            prefix: model.continuing_subword_prefix,
            max_chars: model.max_input_chars_per_word,
            unk,
            cls,
            sep,
            vocabulary,
            clean_text: normalizer.clean_text,
            chinese: normalizer.handle_chinese_chars,
            strip_accents: normalizer.strip_accents.unwrap_or(normalizer.lowercase),
            lowercase: normalizer.lowercase,
        })
    }

    /// One past the largest id.
    pub(crate) fn vocabulary(&self) -> usize {
        self.vocabulary
    }

    /// The ids of `text` between the classifier and separator tokens, at
    /// most `max` in all (the rest of a long text is cut, as the model's
    /// own truncation does).
    pub(crate) fn encode(&self, text: &str, max: usize) -> Vec<u32> {
        let normal = self.normalise(text);
        let mut ids = vec![self.cls];
        let room = max.saturating_sub(2);
        'words: for word in normal.split(char::is_whitespace) {
            let mut start = 0;
            for (i, c) in word.char_indices() {
                if is_punctuation(c) {
                    for part in [&word[start..i], &word[i..i + c.len_utf8()]] {
                        self.pieces_of(part, &mut ids);
                    }
                    start = i + c.len_utf8();
                }
                if ids.len() > room {
                    break 'words;
                }
            }
            self.pieces_of(&word[start..], &mut ids);
            if ids.len() > room {
                break;
            }
        }
        ids.truncate(room + 1);
        ids.push(self.sep);
        ids
    }

    fn normalise(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if self.clean_text && (c == '\0' || c == '\u{fffd}' || is_control(c)) {
                continue;
            }
            let c = if self.clean_text && is_whitespace(c) {
                ' '
            } else {
                c
            };
            if self.chinese && is_chinese(c) {
                out.push(' ');
                out.push(c);
                out.push(' ');
            } else {
                out.push(c);
            }
        }
        if self.strip_accents {
            out = out.nfd().filter(|c| !c.is_mark_nonspacing()).collect();
        }
        if self.lowercase {
            out = out.chars().flat_map(char::to_lowercase).collect();
        }
        out
    }

    /// WordPiece: the longest piece of the vocabulary that starts the rest
    /// of the word, again and again; a word with no such piece somewhere
    /// (or too long) is one unknown token.
    fn pieces_of(&self, word: &str, ids: &mut Vec<u32>) {
        if word.is_empty() {
            return;
        }
        if word.chars().count() > self.max_chars {
            ids.push(self.unk);
            return;
        }
        let first = ids.len();
        let mut start = 0;
        while start < word.len() {
            let mut end = word.len();
            let found = loop {
                let piece = &word[start..end];
                let h = if start > 0 {
                    fnv(fnv(FNV_START, self.prefix.as_bytes()), piece.as_bytes())
                } else {
                    fnv(FNV_START, piece.as_bytes())
                };
                if let Ok(i) = self.pieces.binary_search_by_key(&h, |p| p.0) {
                    break Some(self.pieces[i].1);
                }
                match piece.char_indices().last() {
                    Some((i, _)) if i > 0 => end = start + i,
                    _ => break None,
                }
            };
            match found {
                Some(id) => {
                    ids.push(id);
                    start = end;
                }
                None => {
                    ids.truncate(first);
                    ids.push(self.unk);
                    return;
                }
            }
        }
    }
}

fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

fn is_chinese(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer() -> WordPiece {
        let vocab: HashMap<&str, u32> = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "how", "old", "are", "you", "?", "snooze", "##s",
            "un", "##want", "##ed", ",", "cafe", "中",
        ]
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, i as u32))
        .collect();
        let json = serde_json::json!({
            "normalizer": {"type": "BertNormalizer", "clean_text": true,
                "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": vocab},
        });
        WordPiece::from_json(json.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn words_punctuation_and_pieces() {
        let t = tokenizer();
        assert_eq!(t.encode("How old are you?", 128), [2, 4, 5, 6, 7, 8, 3]);
        assert_eq!(t.encode("unwanted snoozes", 128), [2, 11, 12, 13, 9, 10, 3]);
        // Accents go, Chinese characters stand apart, a control character
        // is dropped, an unknown word is one unknown token.
        assert_eq!(t.encode("Café,中\u{7}x", 128), [2, 15, 14, 16, 1, 3]);
        assert_eq!(t.encode("snoozex", 128), [2, 1, 3]);
        assert_eq!(t.encode("", 128), [2, 3]);
        // Cut to the limit, the separator kept.
        assert_eq!(t.encode("how old are you", 4), [2, 4, 5, 3]);
    }

    #[test]
    fn another_kind_of_tokenizer_is_refused() {
        let json = serde_json::json!({
            "normalizer": null, "pre_tokenizer": null,
            "model": {"type": "BPE", "unk_token": "[UNK]", "vocab": {}},
        });
        assert!(matches!(
            WordPiece::from_json(json.to_string().as_bytes()),
            Err(EncoderError::Tokenizer(_))
        ));
    }
}
