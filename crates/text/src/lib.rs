//! Text normalisation shared by the QnA knowledge base and language
//! understanding, for indexing and querying alike: lower case, typographic
//! apostrophes folded, words of letters and digits, contractions and chat
//! spellings expanded, light suffix stripping. One tokeniser and one stemmer
//! for both; only the expansion tables differ (see [`Rules`]).

/// Contractions and chat spellings whose expansion carries meaning of its
/// own (negations, requests, "i"): both rule sets.
const CORE: &[(&str, &str)] = &[
    ("what's", "what is"),
    ("whats", "what is"),
    ("i'm", "i am"),
    ("im", "i am"),
    ("i'd", "i would"),
    ("don't", "do not"),
    ("dont", "do not"),
    ("can't", "can not"),
    ("cant", "can not"),
    ("cannot", "can not"),
    ("won't", "will not"),
    ("let's", "let us"),
    ("wanna", "want to"),
    ("gotta", "got to"),
    ("u", "you"),
    ("pls", "please"),
    ("plz", "please"),
];

/// Contractions that expand to function words ("it is", "you are") and
/// chat spellings of them: only [`Rules::ALL`].
const FUNCTION_WORDS: &[(&str, &str)] = &[
    ("you're", "you are"),
    ("youre", "you are"),
    ("it's", "it is"),
    ("that's", "that is"),
    ("who's", "who is"),
    ("how's", "how is"),
    ("where's", "where is"),
    ("isn't", "is not"),
    ("aren't", "are not"),
    ("doesn't", "does not"),
    ("didn't", "did not"),
    ("you've", "you have"),
    ("i've", "i have"),
    ("i'll", "i will"),
    ("you'll", "you will"),
    ("gonna", "going to"),
    ("ur", "your"),
    ("r", "are"),
];

/// Which contractions a tokeniser expands.
///
/// The KB wants every one: its ranker weighs words by rarity over thousands
/// of phrasings and a trained re-ranker, so "it is" costs nothing and lets
/// "it's" meet it. The LU recogniser scores a few dozen examples per intent
/// with BM25; there the extra "that", "is", "you", "are" are shared by small
/// talk and intents alike, so fewer KB questions stay `None` and a right
/// intent loses confidence (measured: see the `lu` accuracy test).
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    tables: &'static [&'static [(&'static str, &'static str)]],
}

impl Rules {
    /// Every expansion: the QnA knowledge base, and [`tokens`].
    pub const ALL: Rules = Rules {
        tables: &[CORE, FUNCTION_WORDS],
    };
    /// Only the expansions that carry meaning: language understanding.
    pub const CORE: Rules = Rules { tables: &[CORE] };

    fn expansion(&self, w: &str) -> Option<&'static str> {
        self.tables
            .iter()
            .flat_map(|t| t.iter())
            .find(|(k, _)| *k == w)
            .map(|(_, e)| *e)
    }

    /// The normalised word tokens of a text.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let mut lower = text.to_lowercase();
        // Most text has no typographic apostrophe: skip the second copy.
        if lower.contains(['\u{2019}', '\u{2018}']) {
            lower = lower.replace(['\u{2019}', '\u{2018}'], "'");
        }
        let mut out = Vec::new();
        for raw in lower.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
            let w = raw.trim_matches('\'');
            if w.is_empty() {
                continue;
            }
            if let Some(e) = self.expansion(w) {
                out.extend(e.split(' ').map(str::to_string));
            } else if w.contains('\'') {
                let w: String = w.chars().filter(|c| *c != '\'').collect();
                out.push(stem(&w).to_string());
            } else {
                out.push(stem(w).to_string());
            }
        }
        out
    }

    /// Tokens joined by single spaces: the text an index holds and the key
    /// for exact matches.
    pub fn normalize(&self, text: &str) -> String {
        self.tokens(text).join(" ")
    }
}

/// Strips a plural or verb ending from longer words: cheap, and enough for
/// "jokes"/"joke", "asking"/"ask", "cancelling"/"cancelled". Not "es":
/// that would part "jokes" from "joke" to join the rarer "boxes" and "box".
fn stem(w: &str) -> &str {
    if w.ends_with("ss") {
        return w;
    }
    for suffix in ["ing", "ed", "s"] {
        if w.len() > suffix.len() + 2
            && w.ends_with(suffix)
            && w.is_char_boundary(w.len() - suffix.len())
        {
            return &w[..w.len() - suffix.len()];
        }
    }
    w
}

/// The tokens of a text under [`Rules::ALL`].
pub fn tokens(text: &str) -> Vec<String> {
    Rules::ALL.tokens(text)
}

/// The normalised text under [`Rules::ALL`].
pub fn normalize(text: &str) -> String {
    Rules::ALL.normalize(text)
}

/// Lower case, letters and digits only, single spaces: no expansions and no
/// stems, for comparing texts as written (answers, the plain-match backend).
pub fn plain(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contractions_and_suffixes_meet() {
        assert_eq!(
            normalize("What's your NAME?"),
            normalize("what is your name")
        );
        assert_eq!(normalize("Tell me jokes"), "tell me joke");
        assert_eq!(normalize("I’m asking"), "i am ask");
        assert_eq!(normalize("?!  "), "");
        assert_eq!(normalize("ÉTÉ café"), "été café");
    }

    #[test]
    fn normalises_case_contractions_and_endings() {
        assert_eq!(tokens("Don't STOP!"), ["do", "not", "stop"]);
        assert_eq!(tokens("cancel orders"), ["cancel", "order"]);
        assert_eq!(tokens("cancelling"), tokens("cancelled"));
        assert_eq!(tokens("talked to agents"), ["talk", "to", "agent"]);
        assert_eq!(tokens("pls, I cant"), ["please", "i", "can", "not"]);
        assert_eq!(
            tokens("I’d say it’s ok"),
            ["i", "would", "say", "it", "is", "ok"]
        );
        assert!(tokens(" ?! ").is_empty());
    }

    #[test]
    fn short_words_and_double_s_keep_their_ending() {
        assert_eq!(
            tokens("is the bus address"),
            ["is", "the", "bus", "address"]
        );
        assert_eq!(tokens("o'clock 'hello'"), ["oclock", "hello"]);
    }

    #[test]
    fn core_rules_leave_function_word_contractions_whole() {
        let core = |t| Rules::CORE.tokens(t);
        assert_eq!(core("that's enough, cancel"), ["that", "enough", "cancel"]);
        assert_eq!(core("don't, pls"), ["do", "not", "please"]);
        assert_eq!(core("talking to agents"), tokens("talking to agents"));
        assert_eq!(Rules::CORE.normalize("ur it's"), "ur its");
    }

    #[test]
    fn plain_keeps_words_as_written() {
        assert_eq!(plain("  What's YOUR name?! "), "what s your name");
        assert_eq!(plain("?!"), "");
    }
}
