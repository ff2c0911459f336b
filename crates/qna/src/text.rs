//! Text normalisation shared by indexing and querying: lower case,
//! contractions expanded, light suffix stripping, and the word and character
//! n-gram features the re-ranker uses.

/// Contractions and chat spellings, so "what's" and "what is" meet.
const EXPANSIONS: &[(&str, &str)] = &[
    ("what's", "what is"),
    ("whats", "what is"),
    ("you're", "you are"),
    ("youre", "you are"),
    ("i'm", "i am"),
    ("im", "i am"),
    ("don't", "do not"),
    ("dont", "do not"),
    ("can't", "can not"),
    ("cannot", "can not"),
    ("won't", "will not"),
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
    ("let's", "let us"),
    ("i'll", "i will"),
    ("you'll", "you will"),
    ("wanna", "want to"),
    ("gonna", "going to"),
    ("u", "you"),
    ("ur", "your"),
    ("r", "are"),
];

/// Strips a plural or verb ending from longer words: cheap, and enough for
/// "jokes"/"joke", "asking"/"ask".
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

/// The normalised word tokens of a text.
pub fn tokens(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
    let mut out = Vec::new();
    for raw in lower.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let w = raw.trim_matches('\'');
        if w.is_empty() {
            continue;
        }
        if let Some((_, e)) = EXPANSIONS.iter().find(|(k, _)| *k == w) {
            out.extend(e.split(' ').map(str::to_string));
        } else {
            let w: String = w.chars().filter(|c| *c != '\'').collect();
            out.push(stem(&w).to_string());
        }
    }
    out
}

/// Tokens joined by single spaces: the text tantivy indexes and the key for
/// exact matches.
pub fn normalize(text: &str) -> String {
    tokens(text).join(" ")
}

/// FNV-1a: stable across runs and platforms, so a feature's id never
/// depends on the process.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Hashed features of a tokenised text, in two blocks: words (unigrams and
/// bigrams) and characters (2- to 4-grams inside each padded word). Each
/// block gets its own weight and norm later.
pub fn features(tokens: &[String]) -> (Vec<u64>, Vec<u64>) {
    let mut words = Vec::with_capacity(tokens.len() * 2);
    for (i, t) in tokens.iter().enumerate() {
        words.push(fnv(&[b"w", t.as_bytes()]));
        if let Some(next) = tokens.get(i + 1) {
            words.push(fnv(&[b"b", t.as_bytes(), next.as_bytes()]));
        }
    }
    let mut chars = Vec::new();
    for t in tokens {
        let padded: Vec<char> = std::iter::once(' ')
            .chain(t.chars())
            .chain(std::iter::once(' '))
            .collect();
        for n in 2..=4 {
            for gram in padded.windows(n) {
                let s: String = gram.iter().collect();
                chars.push(fnv(&[b"c", s.as_bytes()]));
            }
        }
    }
    (words, chars)
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
    fn features_have_both_blocks() {
        let (w, c) = features(&tokens("hi there"));
        assert_eq!(w.len(), 3);
        assert!(c.len() > 10);
        assert_eq!(features(&tokens("hi there")).0, w, "stable");
    }
}
