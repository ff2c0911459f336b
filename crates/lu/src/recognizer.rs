//! The `Recognizer` trait: an utterance and its locale in, intents with a
//! 0..1 confidence and entities with their offsets out.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::LuError;

/// The intent every recogniser answers when nothing fits well enough.
pub const NONE_INTENT: &str = "None";

/// CLU's prediction limit; the embedded recogniser keeps the same so that
/// switching backends never changes which inputs are accepted.
pub const MAX_UTTERANCE_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentScore {
    pub name: String,
    /// 0..1.
    pub confidence: f32,
}

/// An entity found in the utterance. Offsets and lengths count Unicode
/// code points (what CLU returns for `stringIndexType: UnicodeCodePoint`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entity {
    pub category: String,
    pub text: String,
    pub offset: usize,
    pub length: usize,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recognition {
    pub text: String,
    /// The best intent, or [`NONE_INTENT`] when it is under the threshold.
    pub top_intent: IntentScore,
    /// Every intent scored, best first.
    pub intents: Vec<IntentScore>,
    pub entities: Vec<Entity>,
    /// Which backend recognised it, and for CLU which endpoint served.
    pub recognizer: String,
    pub endpoint: Option<String>,
}

impl Recognition {
    /// The top intent's name, or `None` when its confidence is under
    /// `threshold`: the bot applies one threshold whatever the backend.
    pub fn intent_at(&self, threshold: f32) -> &str {
        if self.top_intent.confidence >= threshold {
            &self.top_intent.name
        } else {
            NONE_INTENT
        }
    }
}

#[async_trait]
pub trait Recognizer: Send + Sync {
    /// Recognises one utterance. `locale` is BCP-47 (`en-us`); backends
    /// that are single-language ignore it.
    async fn recognize(&self, text: &str, locale: &str) -> Result<Recognition, LuError>;
    fn kind(&self) -> &'static str;
}

/// The checks every backend makes first, so bad input reads the same
/// everywhere. Returns the trimmed text.
pub fn check_utterance(text: &str) -> Result<&str, LuError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(LuError::InvalidUtterance("the utterance is empty".into()));
    }
    let chars = t.chars().count();
    if chars > MAX_UTTERANCE_CHARS {
        return Err(LuError::InvalidUtterance(format!(
            "the utterance is {chars} characters; at most {MAX_UTTERANCE_CHARS} are recognised"
        )));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_huge_utterances_are_refused() {
        assert!(matches!(
            check_utterance("  \n "),
            Err(LuError::InvalidUtterance(m)) if m.contains("empty")
        ));
        let huge = "a".repeat(MAX_UTTERANCE_CHARS + 1);
        let e = check_utterance(&huge).unwrap_err().to_string();
        assert!(e.contains("1001") && e.contains("1000"), "{e}");
        assert_eq!(check_utterance(" help ").unwrap(), "help");
    }

    #[test]
    fn threshold_turns_weak_intents_into_none() {
        let r = Recognition {
            text: "x".into(),
            top_intent: IntentScore {
                name: "Help".into(),
                confidence: 0.4,
            },
            intents: vec![],
            entities: vec![],
            recognizer: "test".into(),
            endpoint: None,
        };
        assert_eq!(r.intent_at(0.3), "Help");
        assert_eq!(r.intent_at(0.5), NONE_INTENT);
    }
}
