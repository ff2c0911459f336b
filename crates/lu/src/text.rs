//! Normalisation shared by indexing and recognition: lower case, words of
//! letters and digits, a few contractions expanded and plural/verb endings
//! stripped, so "talking" meets "talk" and "don't" meets "do not".

const EXPANSIONS: &[(&str, &str)] = &[
    ("don't", "do not"),
    ("dont", "do not"),
    ("can't", "can not"),
    ("cant", "can not"),
    ("cannot", "can not"),
    ("won't", "will not"),
    ("i'm", "i am"),
    ("im", "i am"),
    ("i'd", "i would"),
    ("what's", "what is"),
    ("whats", "what is"),
    ("let's", "let us"),
    ("wanna", "want to"),
    ("gotta", "got to"),
    ("u", "you"),
    ("pls", "please"),
    ("plz", "please"),
];

fn stem(w: &str) -> &str {
    for suffix in ["ling", "ing", "ed", "es", "s"] {
        if w.len() > suffix.len() + 2 && w.ends_with(suffix) {
            let cut = w.len() - suffix.len();
            if w.is_char_boundary(cut) {
                // "cancelling" -> "cancel", not "cancell".
                return if suffix == "ling" {
                    &w[..cut + 1]
                } else {
                    &w[..cut]
                };
            }
        }
    }
    w
}

/// The normalised tokens of a text.
pub fn tokens(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
    let mut out = Vec::new();
    for raw in lower.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let w = raw.trim_matches('\'');
        if w.is_empty() {
            continue;
        }
        match EXPANSIONS.iter().find(|(k, _)| *k == w) {
            Some((_, e)) => out.extend(e.split(' ').map(str::to_string)),
            None => {
                let w: String = w.chars().filter(|c| *c != '\'').collect();
                out.push(stem(&w).to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_contractions_and_endings() {
        assert_eq!(tokens("Don't STOP!"), ["do", "not", "stop"]);
        assert_eq!(tokens("cancel orders"), ["cancel", "order"]);
        assert_eq!(tokens("cancelling"), tokens("cancelled"));
        assert_eq!(tokens("talked to agents"), ["talk", "to", "agent"]);
        assert!(tokens(" ?! ").is_empty());
    }
}
