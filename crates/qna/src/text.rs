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
    let mut lower = text.to_lowercase();
    if lower.contains(['\u{2019}', '\u{2018}']) {
        lower = lower.replace(['\u{2019}', '\u{2018}'], "'");
    }
    let mut out = Vec::new();
    for raw in lower.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let w = raw.trim_matches('\'');
        if w.is_empty() {
            continue;
        }
        if let Some((_, e)) = EXPANSIONS.iter().find(|(k, _)| *k == w) {
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

/// Tokens joined by single spaces: the text tantivy indexes and the key for
/// exact matches.
pub fn normalize(text: &str) -> String {
    tokens(text).join(" ")
}

/// FNV-1a: stable across runs and platforms, so a feature's id never
/// depends on the process.
fn fnv<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The key of a phrasing for exact matches: a hash of its tokens, so the
/// index keeps 8 bytes per phrasing instead of the string (a 64-bit
/// collision among a KB's phrasings is not a practical risk).
pub fn phrase_key(tokens: &[String]) -> u64 {
    fnv(tokens.iter().map(|t| t.as_bytes()))
}

/// The feature of one word on its own (a unigram).
pub fn word_key(token: &str) -> u64 {
    fnv([b"w".as_slice(), token.as_bytes()])
}

/// Hashed features of a tokenised text, in two blocks: words (unigrams and
/// bigrams) and characters (2- to 4-grams inside each padded word). Each
/// block gets its own weight and norm later.
#[derive(Debug, Default)]
pub struct Features {
    pub words: Vec<u64>,
    pub chars: Vec<u64>,
    /// Buffers reused between texts.
    padded: String,
    bounds: Vec<usize>,
}

pub fn features(tokens: &[String]) -> Features {
    let mut f = Features::default();
    features_into(tokens, &mut f);
    f.padded = String::new();
    f.bounds = Vec::new();
    f
}

/// `features`, reusing `f`'s buffers: no allocation once they are grown.
pub fn features_into(tokens: &[String], f: &mut Features) {
    f.words.clear();
    f.chars.clear();
    for (i, t) in tokens.iter().enumerate() {
        f.words.push(word_key(t));
        if let Some(next) = tokens.get(i + 1) {
            f.words
                .push(fnv([b"b".as_slice(), t.as_bytes(), next.as_bytes()]));
        }
    }
    for t in tokens {
        f.padded.clear();
        f.padded.push(' ');
        f.padded.push_str(t);
        f.padded.push(' ');
        f.bounds.clear();
        f.bounds.extend(f.padded.char_indices().map(|(i, _)| i));
        f.bounds.push(f.padded.len());
        let chars = f.bounds.len() - 1;
        for n in 2..=4usize {
            for s in 0..(chars + 1).saturating_sub(n) {
                let gram = &f.padded.as_bytes()[f.bounds[s]..f.bounds[s + n]];
                f.chars.push(fnv([b"c".as_slice(), gram]));
            }
        }
    }
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
        let f = features(&tokens("hi there"));
        assert_eq!(f.words.len(), 3);
        // " hi " has 3 + 2 + 1 grams, " there " 6 + 5 + 4.
        assert_eq!(f.chars.len(), 21);
        assert_eq!(features(&tokens("hi there")).words, f.words, "stable");
        let mut reused = features(&tokens("a much longer text than that"));
        features_into(&tokens("hi there"), &mut reused);
        assert_eq!((reused.words, reused.chars), (f.words, f.chars));
        // Multi-byte letters are whole characters in a gram.
        assert_eq!(features(&tokens("été")).chars.len(), 4 + 3 + 2);
    }
}
