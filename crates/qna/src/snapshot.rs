//! The trained re-ranker on disk, so a start or a reload of an unchanged KB
//! loads it in milliseconds instead of training for most of a second.
//!
//! One file per KB in the cache directory. Little-endian, hand-written:
//!
//! ```text
//! magic "QNAKBSNP" | version u32 | key u64 | payload length u64 | checksum u64
//! payload: classes u32 | features u32 | keys u64 × features | idf f32 × features
//!          | scales f32 × features | weights i8 × features × classes | bias f32 × classes
//!          | calibration kind u32 | calibration f32 × 7
//!          | centroid values u32 | centroids f32 × values (answers × sentence dims)
//!          | mean values u32 | mean f32 × values (sentence dims)
//! ```
//!
//! The key is a hash of everything training reads (the phrasings of each
//! answer, in order, as written and as the `text` crate tokenises them, and
//! the training and calibration constants), so a KB whose questions changed,
//! or a build that tokenises or trains differently, never uses an old model.
//! Answer texts are not part of it: training does not read them. A snapshot
//! that is missing, stale, truncated, corrupted or of another version is
//! ignored and the model retrained; it is never trusted blindly.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::calibration::Calibration;
use crate::classifier::{training_constants, Classifier, Parts};
use crate::error::QnaError;
use crate::kb::KnowledgeBase;

const MAGIC: &[u8; 8] = b"QNAKBSNP";
/// Bump when the layout, the features or the training change in a way the
/// key does not see (feature hashing, quantisation; tokens are in the key).
/// 2: the confidence calibration follows the bias.
/// 3: tokens from the shared `text` crate (more expansions: "cant", "i'd",
///    "gotta", "pls", "plz").
/// 4: character n-grams across the spaces between words.
/// 5: the answers' mean sentence vectors, and the calibration's weight on
///    a question's cosine to them.
pub const FORMAT_VERSION: u32 = 5;
const HEADER: usize = 8 + 4 + 8 + 8 + 8;

/// Where the snapshot of the KB file `kb_path` lives in `cache_dir`.
pub fn path_for(cache_dir: &Path, kb_path: &Path) -> PathBuf {
    let name = kb_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kb".into());
    cache_dir.join(format!("{name}.kbsnap"))
}

/// A 64-bit hash, eight bytes at a time: fast over megabytes, and enough to
/// tell a damaged or different file (not a defence against forgery; the
/// cache directory is the service's own).
struct Hash(u64);

impl Hash {
    fn new() -> Self {
        Hash(0x9e37_79b9_7f4a_7c15)
    }
    fn word(&mut self, w: u64) {
        self.0 = (self.0 ^ w)
            .wrapping_mul(0x0000_0100_0000_01b3 | 0xff51_afd7_0000_0000)
            .rotate_left(29);
    }
    fn bytes(&mut self, b: &[u8]) {
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        self.word(u64::from_le_bytes(last));
        // The length, so "ab" + "c" and "a" + "bc" differ.
        self.word(b.len() as u64);
    }
}

/// The key of the model a KB trains: its phrasings per answer and their
/// tokens, the number of answers, the training constants and the format
/// version. The tokens are there because a snapshot outlives the build that
/// wrote it (`botctl kb compile` ships one): a build whose tokeniser
/// changed would otherwise load weights of features it no longer makes.
/// With a sentence encoder, its fingerprint too (`SentenceEncoder::fingerprint`).
pub fn key(kb: &KnowledgeBase, encoder: Option<u64>) -> u64 {
    let tokens: Vec<Vec<String>> = kb
        .qnas
        .iter()
        .flat_map(|q| q.questions.iter().map(|p| text::tokens(p)))
        .collect();
    key_of(kb, tokens.iter().map(Vec::as_slice), encoder)
}

/// `key` from the phrasings' tokens, in the KB's order (answer by answer,
/// phrasing by phrasing), for a build that has tokenised them already.
pub(crate) fn key_of<'a>(
    kb: &KnowledgeBase,
    mut tokens: impl Iterator<Item = &'a [String]>,
    encoder: Option<u64>,
) -> u64 {
    let mut h = Hash::new();
    h.word(u64::from(FORMAT_VERSION));
    // The sentence encoder's fingerprint, when the model weighs its vectors.
    if let Some(fingerprint) = encoder {
        h.word(fingerprint);
    }
    for c in training_constants()
        .into_iter()
        .chain(crate::calibration::constants())
    {
        h.word(c);
    }
    h.word(kb.qnas.len() as u64);
    for q in &kb.qnas {
        h.word(q.questions.len() as u64);
        for phrasing in &q.questions {
            h.bytes(phrasing.as_bytes());
            let tokens = tokens.next().unwrap_or_default();
            h.word(tokens.len() as u64);
            for t in tokens {
                h.bytes(t.as_bytes());
            }
        }
    }
    h.0
}

pub(crate) fn encode(model: &Classifier, calibration: Calibration, key: u64) -> Vec<u8> {
    let p = model.to_parts();
    let n = p.keys.len();
    let mut payload = Vec::with_capacity(
        8 + n * (8 + 4 + 4 + p.classes) + 4 * p.classes + 4 * (1 + Calibration::PARTS),
    );
    payload.extend_from_slice(&(p.classes as u32).to_le_bytes());
    payload.extend_from_slice(&(n as u32).to_le_bytes());
    for k in &p.keys {
        payload.extend_from_slice(&k.to_le_bytes());
    }
    for v in p.idf.iter().chain(&p.scales) {
        payload.extend_from_slice(&v.to_le_bytes());
    }
    payload.extend(p.weights.iter().map(|w| *w as u8));
    for v in &p.bias {
        payload.extend_from_slice(&v.to_le_bytes());
    }
    let (kind, numbers) = calibration.to_parts();
    payload.extend_from_slice(&kind.to_le_bytes());
    for v in numbers {
        payload.extend_from_slice(&v.to_le_bytes());
    }
    for part in [&p.centroids, &p.mean] {
        payload.extend_from_slice(&(part.len() as u32).to_le_bytes());
        for v in part {
            payload.extend_from_slice(&v.to_le_bytes());
        }
    }
    let mut sum = Hash::new();
    sum.bytes(&payload);
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&sum.0.to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Reads what `encode` wrote, refusing anything that does not check out.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.rest.len() {
            return Err("truncated".into());
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| "truncated")?,
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| "truncated")?,
        ))
    }
    /// `n` items of `size` bytes, checked against what is left before
    /// anything is allocated (a damaged count must not ask for gigabytes).
    fn items(&mut self, n: usize, size: usize) -> Result<&'a [u8], String> {
        let len = n.checked_mul(size).ok_or("a count out of range")?;
        self.take(len)
    }
    fn u64s(&mut self, n: usize) -> Result<Vec<u64>, String> {
        Ok(self
            .items(n, 8)?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect())
    }
    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, String> {
        Ok(self
            .items(n, 4)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect())
    }
}

/// The model in `bytes`, if it is a sound snapshot for `expected_key` with
/// `classes` answers; otherwise why not.
pub(crate) fn decode(
    bytes: &[u8],
    expected_key: u64,
    classes: usize,
) -> Result<(Classifier, Calibration), String> {
    let mut r = Reader { rest: bytes };
    if r.take(8)? != MAGIC {
        return Err("not a knowledge-base snapshot".into());
    }
    let version = r.u32()?;
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version}, this build reads {FORMAT_VERSION}"
        ));
    }
    if r.u64()? != expected_key {
        return Err("made from other questions or another training".into());
    }
    let len = r.u64()?;
    let sum = r.u64()?;
    if len != r.rest.len() as u64 {
        return Err(format!(
            "payload of {} bytes, header says {len}",
            r.rest.len()
        ));
    }
    let mut check = Hash::new();
    check.bytes(r.rest);
    if check.0 != sum {
        return Err("checksum mismatch".into());
    }
    let stored_classes = r.u32()? as usize;
    if stored_classes != classes {
        return Err(format!("{stored_classes} answers, the KB has {classes}"));
    }
    let n = r.u32()? as usize;
    let keys = r.u64s(n)?;
    let idf = r.f32s(n)?;
    let scales = r.f32s(n)?;
    let weights = r.items(n, classes)?.iter().map(|b| *b as i8).collect();
    let bias = r.f32s(classes)?;
    let kind = r.u32()?;
    let mut numbers = [0.0f32; Calibration::PARTS];
    numbers.copy_from_slice(&r.f32s(Calibration::PARTS)?);
    let centroid_values = r.u32()? as usize;
    let centroids = r.f32s(centroid_values)?;
    let mean_values = r.u32()? as usize;
    let mean = r.f32s(mean_values)?;
    if !r.rest.is_empty() {
        return Err("trailing bytes".into());
    }
    let calibration = Calibration::from_parts(kind, numbers)?;
    let model = Classifier::from_parts(Parts {
        keys,
        idf,
        classes,
        weights,
        scales,
        bias,
        centroids,
        mean,
    })?;
    Ok((model, calibration))
}

/// What a look in the cache found.
pub(crate) enum Lookup {
    Found(Box<Classifier>, Calibration),
    Missing,
    /// Present but unusable, and why.
    Rejected(String),
}

pub(crate) fn load(path: &Path, key: u64, classes: usize) -> Lookup {
    match std::fs::read(path) {
        Ok(bytes) => match decode(&bytes, key, classes) {
            Ok((model, calibration)) => Lookup::Found(Box::new(model), calibration),
            Err(why) => Lookup::Rejected(why),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Lookup::Missing,
        Err(e) => Lookup::Rejected(e.to_string()),
    }
}

/// Writes atomically: a temporary file in the same directory, renamed over
/// the old snapshot, so a reader sees the old file or the new one, whole.
pub(crate) fn store(
    path: &Path,
    model: &Classifier,
    calibration: Calibration,
    key: u64,
) -> Result<(), QnaError> {
    let io = |e: std::io::Error| QnaError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let bytes = encode(model, calibration, key);
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = path.with_extension(format!(
        "kbsnap.{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(&bytes)?;
        f.sync_all()
    });
    let result = written.and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::Example;
    use text::tokens;

    const FITTED: Calibration = Calibration::Fitted {
        weights: [0.5, 1.0, 0.7, 1.2, -1.0, 0.0],
        exponent: 2.5,
    };

    fn model() -> Classifier {
        let ex: Vec<(Vec<String>, usize)> = [("how old are you", 0), ("who made you", 1)]
            .iter()
            .map(|(q, c)| (tokens(q), *c))
            .collect();
        let ex: Vec<Example> = ex
            .iter()
            .map(|(t, c)| Example {
                tokens: t,
                class: *c,
                dense: None,
            })
            .collect();
        Classifier::train(&ex, 2)
    }

    #[test]
    fn every_damage_is_refused() {
        let m = model();
        let bytes = encode(&m, FITTED, 7);
        assert_eq!(decode(&bytes, 7, 2).map(|d| d.1), Ok(FITTED));
        let raw = encode(&m, Calibration::Raw, 7);
        assert_eq!(decode(&raw, 7, 2).map(|d| d.1), Ok(Calibration::Raw));
        assert!(decode(&bytes, 8, 2)
            .unwrap_err()
            .contains("other questions"));
        assert!(decode(&bytes, 7, 3).is_err());
        for cut in [0, 5, HEADER, bytes.len() - 1] {
            assert!(decode(&bytes[..cut], 7, 2).is_err(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x10;
        assert_eq!(decode(&flipped, 7, 2).unwrap_err(), "checksum mismatch");
        let mut other = bytes.clone();
        other[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        assert!(decode(&other, 7, 2).unwrap_err().contains("format version"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, 7, 2).is_err());
        // A count that claims more than the file holds is caught before
        // anything is allocated.
        let mut huge = bytes;
        huge[HEADER + 4..HEADER + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge, 7, 2).is_err());
    }

    #[test]
    fn the_key_follows_the_phrasings_not_the_answers() {
        let kb = crate::import::parse_tsv(
            "Question\tAnswer\tSource\tMetadata\nhi\tHello!\ts\t\nbye\tBye!\ts\t\n",
            "t.tsv",
        )
        .unwrap();
        let k = key(&kb, None);
        let mut answer = kb.clone();
        answer.qnas[0].answer = "Hi there!".into();
        assert_eq!(key(&answer, None), k);
        let mut question = kb.clone();
        question.qnas[0].questions[0] = "hey".into();
        assert_ne!(key(&question, None), k);
        let mut moved = kb;
        let q = moved.qnas[0].questions.pop().unwrap();
        moved.qnas[1].questions.insert(0, q);
        assert_ne!(key(&moved, None), k);
        // Another sentence encoder (or none), another model.
        assert_ne!(key(&kb_again(), Some(1)), k);
        assert_ne!(key(&kb_again(), Some(1)), key(&kb_again(), Some(2)));
    }

    fn kb_again() -> KnowledgeBase {
        crate::import::parse_tsv(
            "Question\tAnswer\tSource\tMetadata\nhi\tHello!\ts\t\nbye\tBye!\ts\t\n",
            "t.tsv",
        )
        .unwrap()
    }

    /// The same phrasings tokenised differently must not share a model: a
    /// build whose tokeniser changed gets another key for an unchanged KB.
    #[test]
    fn the_key_follows_the_tokens() {
        let kb = crate::import::parse_tsv(
            "Question\tAnswer\tSource\tMetadata\nthat's it\tOk.\ts\t\n",
            "t.tsv",
        )
        .unwrap();
        let all = [text::Rules::ALL.tokens("that's it")];
        let core = [text::Rules::CORE.tokens("that's it")];
        assert_ne!(all, core);
        assert_eq!(
            key_of(&kb, all.iter().map(Vec::as_slice), None),
            key(&kb, None)
        );
        assert_ne!(
            key_of(&kb, core.iter().map(Vec::as_slice), None),
            key(&kb, None)
        );
    }
}
