//! Text normalisation shared by the QnA knowledge base and language
//! understanding, for indexing and querying alike: lower case, typographic
//! apostrophes folded, words of letters and digits, contractions and chat
//! spellings expanded, light suffix stripping. One tokeniser and one stemmer
//! for both; only the expansion tables differ (see [`Rules`]).

/// Contractions and chat spellings whose expansion carries meaning of its
/// own (negations, requests, "i"): both rule sets.
const CORE: &[(&str, &str)] = &[
    ("can't", "can not"),
    ("cannot", "can not"),
    ("cant", "can not"),
    ("don't", "do not"),
    ("dont", "do not"),
    ("gotta", "got to"),
    ("i'd", "i would"),
    ("i'm", "i am"),
    ("im", "i am"),
    ("let's", "let us"),
    ("pls", "please"),
    ("plz", "please"),
    ("u", "you"),
    ("wanna", "want to"),
    ("what's", "what is"),
    ("whats", "what is"),
    ("won't", "will not"),
];

/// Contractions that expand to function words ("it is", "you are") and
/// chat spellings of them: only [`Rules::ALL`].
const FUNCTION_WORDS: &[(&str, &str)] = &[
    ("aren't", "are not"),
    ("didn't", "did not"),
    ("doesn't", "does not"),
    ("gonna", "going to"),
    ("how's", "how is"),
    ("i'll", "i will"),
    ("i've", "i have"),
    ("isn't", "is not"),
    ("it's", "it is"),
    ("r", "are"),
    ("that's", "that is"),
    ("ur", "your"),
    ("where's", "where is"),
    ("who's", "who is"),
    ("you'll", "you will"),
    ("you're", "you are"),
    ("you've", "you have"),
    ("youre", "you are"),
];

/// Chat shorthand and British spellings, written out as the KB's phrasings
/// mostly write them ("idk", "wdym", "gn", "favourite"): only [`Rules::ALL`],
/// for the same reason as [`FUNCTION_WORDS`]. A common list, not one fitted
/// to a KB.
const CHAT: &[(&str, &str)] = &[
    ("2day", "today"),
    ("2morrow", "tomorrow"),
    ("abt", "about"),
    ("apologise", "apologize"),
    ("b4", "before"),
    ("bday", "birthday"),
    ("bf", "boyfriend"),
    ("brb", "be right back"),
    ("btw", "by the way"),
    ("centre", "center"),
    ("colour", "color"),
    ("convo", "conversation"),
    ("coz", "because"),
    ("cuz", "because"),
    ("cya", "see you"),
    ("dunno", "do not know"),
    ("fav", "favorite"),
    ("fave", "favorite"),
    ("favourite", "favorite"),
    ("g2g", "got to go"),
    ("gf", "girlfriend"),
    ("gimme", "give me"),
    ("gm", "good morning"),
    ("gn", "good night"),
    ("gr8", "great"),
    ("gtg", "got to go"),
    ("gud", "good"),
    ("hbu", "how about you"),
    ("hru", "how are you"),
    ("humour", "humor"),
    ("idc", "i do not care"),
    ("idk", "i do not know"),
    ("ily", "i love you"),
    ("imo", "in my opinion"),
    ("k", "ok"),
    ("kinda", "kind of"),
    ("kk", "ok"),
    ("l8r", "later"),
    ("lemme", "let me"),
    ("lmk", "let me know"),
    ("luv", "love"),
    ("msg", "message"),
    ("mum", "mom"),
    ("nite", "night"),
    ("np", "no problem"),
    ("nvm", "never mind"),
    ("omg", "oh my god"),
    ("organise", "organize"),
    ("pic", "picture"),
    ("ppl", "people"),
    ("realise", "realize"),
    ("recognise", "recognize"),
    ("rn", "right now"),
    ("sorta", "sort of"),
    ("srry", "sorry"),
    ("sry", "sorry"),
    ("sup", "what is up"),
    ("tbh", "to be honest"),
    ("thanx", "thanks"),
    ("thnx", "thanks"),
    ("thx", "thanks"),
    ("tmr", "tomorrow"),
    ("tmrw", "tomorrow"),
    ("ttyl", "talk to you later"),
    ("ty", "thank you"),
    ("wassup", "what is up"),
    ("wbu", "what about you"),
    ("wdym", "what do you mean"),
    ("whatcha", "what are you"),
    ("whatsup", "what is up"),
    ("wyd", "what are you doing"),
    ("y", "why"),
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
        tables: &[CORE, FUNCTION_WORDS, CHAT],
    };
    /// Only the expansions that carry meaning: language understanding.
    pub const CORE: Rules = Rules { tables: &[CORE] };

    /// Each table is sorted by its key (a test checks): a binary search.
    fn expansion(&self, w: &str) -> Option<&'static str> {
        self.tables.iter().find_map(|t| {
            t.binary_search_by(|(k, _)| (*k).cmp(w))
                .ok()
                .map(|i| t[i].1)
        })
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
    fn tables_are_sorted_and_their_keys_unique() {
        let mut all: Vec<&str> = Vec::new();
        for table in [CORE, FUNCTION_WORDS, CHAT] {
            assert!(
                table.windows(2).all(|w| w[0].0 < w[1].0),
                "a table out of order: the binary search would miss words"
            );
            all.extend(table.iter().map(|(k, _)| *k));
        }
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a word expanded by two tables");
    }

    #[test]
    fn chat_shorthand_is_written_out_for_the_kb_only() {
        assert_eq!(tokens("idk"), ["i", "do", "not", "know"]);
        assert_eq!(normalize("gn!"), "good night");
        assert_eq!(normalize("ur favourite colour"), "your favorite color");
        assert_eq!(normalize("wdym"), normalize("what do you mean"));
        // Every expansion of every table is found.
        for (w, e) in CORE.iter().chain(FUNCTION_WORDS).chain(CHAT) {
            assert_eq!(Rules::ALL.normalize(w), *e, "{w}");
        }
        assert_eq!(Rules::CORE.tokens("idk"), ["idk"]);
    }

    #[test]
    fn plain_keeps_words_as_written() {
        assert_eq!(plain("  What's YOUR name?! "), "what s your name");
        assert_eq!(plain("?!"), "");
    }
}
