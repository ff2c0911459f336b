//! The re-ranker: a multinomial logistic regression over TF-IDF word and
//! character n-grams, trained on the KB's own phrasings when the KB is
//! loaded. Its softmax is the confidence: near 1 when the phrasing clearly
//! belongs to one answer, spread out when it fits several or none.
//!
//! Training keeps dense f32 weights (features × classes); the model that
//! serves keeps them as i8 with one scale per feature, a quarter of the
//! memory, and the training buffers are dropped.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::features::{features, Features};

/// The character block's say next to the words'. 1.5 and the learning
/// rate were chosen on out-of-fold phrasings of the chit-chat KB's training
/// part (top-1 89.9% -> 90.4%), never on its held-out phrasings.
const CHAR_WEIGHT: f32 = 1.5;
const EPOCHS: usize = 14;
const LEARNING_RATE: f32 = 1.2;
/// Share of each phrasing's target spread over all answers. Many answers
/// of a chit-chat KB overlap ("Ok." and "Okay.", "Good, thanks." and
/// "Great, thanks."), so a fully sure target overfits them; smoothing keeps
/// the softmax from saturating and the calibration separates right from
/// wrong better. Chosen on out-of-fold phrasings of the chit-chat KB's
/// training part (0.05, 0.1, 0.15, 0.3 tried): right at 0.5 84.7% -> 85.1%,
/// top-1 90.5% -> 90.8%.
const LABEL_SMOOTHING: f32 = 0.1;
/// The sentence encoder's block (when the KB has one) next to the words',
/// its vector being of unit length like theirs. Chosen on out-of-fold
/// phrasings of the chit-chat KB's training part (right at <= 3% wrong:
/// 1.0 91.7%, 1.5 92.3%, 2.0 92.4%, 3.0 91.7%), never on its held-out
/// phrasings.
const DENSE_WEIGHT: f32 = 2.0;
/// Feature keys of the dense block: `DENSE_KEY + i` for dimension `i`.
/// Word and character keys are FNV hashes; one landing in these few
/// thousand values is not a practical risk, and `from_parts` checks.
const DENSE_KEY: u64 = 0xd3a5_e000_0000_0000;
const MAX_DENSE: usize = 4096;

/// Everything above that decides what training produces, for the snapshot
/// key: a change of these constants invalidates stored models.
pub(crate) fn training_constants() -> [u64; 5] {
    [
        u64::from(CHAR_WEIGHT.to_bits()),
        EPOCHS as u64,
        u64::from(LEARNING_RATE.to_bits()),
        u64::from(LABEL_SMOOTHING.to_bits()),
        u64::from(DENSE_WEIGHT.to_bits()),
    ]
}

/// One training phrasing: its tokens, its answer and, when the KB has a
/// sentence encoder, its vector.
#[derive(Clone, Copy)]
pub(crate) struct Example<'a> {
    pub tokens: &'a [String],
    pub class: usize,
    pub dense: Option<&'a [f32]>,
}

/// Feature keys are already FNV hashes: hashing them again is wasted work.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; this fallback keeps other keys correct.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

pub struct Classifier {
    vocab: IdMap<u32>,
    idf: Vec<f32>,
    classes: usize,
    /// Row-major: feature × class, each row scaled into -127..=127.
    weights: Vec<i8>,
    /// Per feature: what one step of its i8 weights is worth.
    scales: Vec<f32>,
    bias: Vec<f32>,
    /// The dense block's first feature id and its width (0: none). Its
    /// ids come after every word and character feature's.
    dense_start: u32,
    dense_dims: usize,
    /// Per answer, the mean of its phrasings' sentence vectors, of unit
    /// length (`classes × dense_dims`; empty without a dense block): how
    /// near a question's meaning is to anything the answer was asked as.
    centroids: Vec<f32>,
    /// The mean of every phrasing's sentence vector, taken off each vector
    /// before it is used (then of unit length again). A shallow encoder's
    /// vectors share a large common part (any two sentences' cosine is
    /// high); without it, what is left is what tells sentences apart.
    mean: Vec<f32>,
}

impl std::fmt::Debug for Classifier {
    /// The shape only: the tables are megabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("features", &self.idf.len())
            .field("classes", &self.classes)
            .field("dense", &self.dense_dims)
            .finish()
    }
}

/// A sparse, normalised feature vector.
type Vector = Vec<(u32, f32)>;

/// Per-query buffers, reused by one thread (see `predict`).
#[derive(Default)]
pub(crate) struct Scratch {
    features: Features,
    ids: Vec<u32>,
    vector: Vector,
    /// The question's sentence vector, centred (see `Classifier::mean`);
    /// empty without one.
    centred: Vec<f32>,
}

/// The model's parts, as stored in a snapshot.
pub(crate) struct Parts {
    /// Feature hash by feature id.
    pub keys: Vec<u64>,
    pub idf: Vec<f32>,
    pub classes: usize,
    pub weights: Vec<i8>,
    pub scales: Vec<f32>,
    pub bias: Vec<f32>,
    pub centroids: Vec<f32>,
    pub mean: Vec<f32>,
}

impl Classifier {
    /// Trains on the examples. Deterministic: same KB, same model. The
    /// dense block is as wide as the first example's vector; an example
    /// without one (or of another width) has none.
    pub(crate) fn train(examples: &[Example], classes: usize) -> Self {
        let mut vocab: IdMap<u32> = IdMap::default();
        let mut df: Vec<u32> = Vec::new();
        let hashed: Vec<Features> = examples.iter().map(|e| features(e.tokens)).collect();
        let mut seen: Vec<u32> = Vec::new();
        for f in &hashed {
            seen.clear();
            for h in f.words.iter().chain(f.chars.iter()) {
                let next = vocab.len() as u32;
                let id = *vocab.entry(*h).or_insert(next);
                if id as usize == df.len() {
                    df.push(0);
                }
                seen.push(id);
            }
            seen.sort_unstable();
            seen.dedup();
            for &id in &seen {
                df[id as usize] += 1;
            }
        }
        let n = examples.len() as f32;
        // sklearn's smoothed idf.
        let mut idf: Vec<f32> = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        let dense_start = idf.len() as u32;
        let dense_dims = examples
            .first()
            .and_then(|e| e.dense)
            .map_or(0, <[f32]>::len)
            .min(MAX_DENSE);
        for i in 0..dense_dims {
            vocab.insert(DENSE_KEY + i as u64, dense_start + i as u32);
            // Unused: the dense block is not weighted by rarity.
            idf.push(1.0);
        }
        let dense = Dense {
            start: dense_start,
            dims: dense_dims,
        };
        let mean = mean_vector(examples, dense_dims);
        // Each answer's centred vectors summed as the examples are built,
        // so no second copy of every vector is kept.
        let mut centroids = vec![0.0f32; classes * dense_dims];
        let mut centred = Vec::new();
        let features_n = idf.len();
        let mut ids = Vec::new();
        let vectors: Vec<Vector> = hashed
            .iter()
            .zip(examples)
            .map(|(f, e)| {
                let mut v = Vec::new();
                vector(&vocab, &idf, f, &mut ids, &mut v);
                centre(e.dense, &mean, &mut centred);
                dense.append(&centred, &mut v);
                if let Some(sum) = centroids
                    .get_mut(e.class * dense_dims..(e.class + 1) * dense_dims)
                    .filter(|_| !centred.is_empty())
                {
                    for (s, c) in sum.iter_mut().zip(&centred) {
                        *s += c;
                    }
                }
                v
            })
            .collect();
        drop(hashed);
        let mut weights = vec![0.0f32; features_n * classes];
        let mut bias = vec![0.0f32; classes];
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let mut logits = vec![0.0f32; classes];
        for epoch in 0..EPOCHS {
            rng.shuffle(&mut order);
            let lr = LEARNING_RATE / (1.0 + epoch as f32 * 0.3);
            for &i in &order {
                let x = &vectors[i];
                logits.copy_from_slice(&bias);
                for &(f, v) in x {
                    let row = &weights[f as usize * classes..(f as usize + 1) * classes];
                    for (o, w) in logits.iter_mut().zip(row) {
                        *o += w * v;
                    }
                }
                softmax(&mut logits);
                // Gradient of the cross-entropy against the smoothed
                // target y: (p - y) x.
                let spread = LABEL_SMOOTHING / classes as f32;
                for g in logits.iter_mut() {
                    *g -= spread;
                }
                logits[examples[i].class] -= 1.0 - LABEL_SMOOTHING;
                for (b, g) in bias.iter_mut().zip(logits.iter()) {
                    *b -= lr * g * 0.1;
                }
                for &(f, v) in x {
                    let row = &mut weights[f as usize * classes..(f as usize + 1) * classes];
                    for (w, g) in row.iter_mut().zip(logits.iter()) {
                        *w -= lr * g * v;
                    }
                }
            }
        }
        let (weights, scales) = quantize(&weights, classes);
        unit_rows(&mut centroids, dense_dims);
        Self {
            vocab,
            idf,
            classes,
            weights,
            scales,
            bias,
            dense_start,
            dense_dims,
            centroids,
            mean,
        }
    }

    /// The cosine of the last question's (`predict`'s, in `scratch`)
    /// centred sentence vector to the mean of answer `class`'s phrasings'
    /// (0 without a vector or a dense block). A question about something
    /// the KB never covers ("how do I request a new laptop") is far from
    /// every answer's, however the linear model extrapolates its softmax;
    /// the calibration weighs it.
    pub(crate) fn similarity(&self, class: usize, scratch: &Scratch) -> f32 {
        let d = self.dense_dims;
        match self.centroids.get(class * d..(class + 1) * d) {
            Some(c) if d > 0 && scratch.centred.len() == d => {
                c.iter().zip(&scratch.centred).map(|(a, b)| a * b).sum()
            }
            _ => 0.0,
        }
    }

    /// The width of the sentence vectors this model was trained with (0:
    /// none; it then needs none to predict).
    pub(crate) fn dense_dims(&self) -> usize {
        self.dense_dims
    }

    /// Class probabilities (written to `probs`) for a tokenised question
    /// and its sentence vector, and how many of its word and character
    /// features the model knows (0: it has never seen anything like it).
    pub(crate) fn predict(
        &self,
        tokens: &[String],
        dense: Option<&[f32]>,
        scratch: &mut Scratch,
        probs: &mut Vec<f32>,
    ) -> usize {
        crate::features::features_into(tokens, &mut scratch.features);
        vector(
            &self.vocab,
            &self.idf,
            &scratch.features,
            &mut scratch.ids,
            &mut scratch.vector,
        );
        let known = scratch.vector.len();
        centre(dense, &self.mean, &mut scratch.centred);
        Dense {
            start: self.dense_start,
            dims: self.dense_dims,
        }
        .append(&scratch.centred, &mut scratch.vector);
        probs.clear();
        probs.extend_from_slice(&self.bias);
        for &(f, v) in &scratch.vector {
            let f = f as usize;
            let v = v * self.scales[f];
            let row = &self.weights[f * self.classes..(f + 1) * self.classes];
            for (o, w) in probs.iter_mut().zip(row) {
                *o += f32::from(*w) * v;
            }
        }
        softmax(probs);
        known
    }

    /// How many of `tokens` the model has seen as words: a question made
    /// mostly of unknown words is judged on the few it knows, and its
    /// softmax is overconfident.
    pub(crate) fn known_words(&self, tokens: &[String]) -> usize {
        tokens
            .iter()
            .filter(|t| self.vocab.contains_key(&crate::features::word_key(t)))
            .count()
    }

    pub fn feature_count(&self) -> usize {
        self.idf.len()
    }

    /// Bytes held by the model's tables (not counting hash-map overhead).
    pub fn weight_bytes(&self) -> usize {
        self.weights.len() + 4 * (self.scales.len() + self.idf.len() + self.bias.len())
    }

    pub(crate) fn to_parts(&self) -> Parts {
        let mut keys = vec![0u64; self.idf.len()];
        for (&k, &id) in &self.vocab {
            keys[id as usize] = k;
        }
        Parts {
            keys,
            idf: self.idf.clone(),
            classes: self.classes,
            weights: self.weights.clone(),
            scales: self.scales.clone(),
            bias: self.bias.clone(),
            centroids: self.centroids.clone(),
            mean: self.mean.clone(),
        }
    }

    /// A model from stored parts, checked for consistency (a snapshot is
    /// never trusted blindly).
    pub(crate) fn from_parts(p: Parts) -> Result<Self, String> {
        let n = p.keys.len();
        if p.classes == 0 {
            return Err("no classes".into());
        }
        if p.idf.len() != n || p.scales.len() != n {
            return Err("feature tables of different lengths".into());
        }
        if p.weights.len() != n.checked_mul(p.classes).ok_or("weights too large")? {
            return Err("weights do not match features × classes".into());
        }
        if p.bias.len() != p.classes {
            return Err("bias does not match the classes".into());
        }
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if !finite(&p.idf) || !finite(&p.scales) || !finite(&p.bias) {
            return Err("a non-finite number".into());
        }
        // The dense block, if any, is the last ids, in order.
        let dense_dims = p
            .keys
            .iter()
            .rev()
            .take_while(|&&k| (DENSE_KEY..DENSE_KEY + MAX_DENSE as u64).contains(&k))
            .count();
        let dense_start = n - dense_dims;
        for (i, &k) in p.keys.iter().enumerate() {
            let is_dense = (DENSE_KEY..DENSE_KEY + MAX_DENSE as u64).contains(&k);
            if is_dense != (i >= dense_start)
                || (is_dense && k != DENSE_KEY + (i - dense_start) as u64)
            {
                return Err("the sentence-vector features are out of place".into());
            }
        }
        if p.centroids.len() != p.classes * dense_dims
            || p.mean.len() != dense_dims
            || !finite(&p.centroids)
            || !finite(&p.mean)
        {
            return Err("the answers' mean vectors do not match the sentence vectors".into());
        }
        let mut vocab = IdMap::with_capacity_and_hasher(n, Default::default());
        for (id, k) in p.keys.into_iter().enumerate() {
            if vocab.insert(k, id as u32).is_some() {
                return Err("a feature appears twice".into());
            }
        }
        Ok(Self {
            vocab,
            idf: p.idf,
            classes: p.classes,
            weights: p.weights,
            scales: p.scales,
            bias: p.bias,
            dense_start: dense_start as u32,
            dense_dims,
            centroids: p.centroids,
            mean: p.mean,
        })
    }
}

/// The mean of the examples' sentence vectors (empty without a block).
fn mean_vector(examples: &[Example], dims: usize) -> Vec<f32> {
    if dims == 0 {
        return Vec::new();
    }
    let mut sum = vec![0.0f32; dims];
    let mut n = 0;
    for d in examples
        .iter()
        .filter_map(|e| e.dense.filter(|d| d.len() == dims))
    {
        for (s, v) in sum.iter_mut().zip(d) {
            *s += v;
        }
        n += 1;
    }
    for s in &mut sum {
        *s /= n.max(1) as f32;
    }
    sum
}

/// `dense` less `mean`, of unit length, into `out` (emptied when there is
/// no vector or it is of another width).
fn centre(dense: Option<&[f32]>, mean: &[f32], out: &mut Vec<f32>) {
    out.clear();
    let Some(d) = dense.filter(|d| !mean.is_empty() && d.len() == mean.len()) else {
        return;
    };
    out.extend(d.iter().zip(mean).map(|(v, m)| v - m));
    let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for v in out.iter_mut() {
            *v /= norm;
        }
    }
}

/// Each row of `rows` (`dims` wide) scaled to unit length: the answers'
/// summed vectors become their mean directions (see `similarity`).
fn unit_rows(rows: &mut [f32], dims: usize) {
    if dims == 0 {
        return;
    }
    for c in rows.chunks_exact_mut(dims) {
        let norm = c.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for v in c {
                *v /= norm;
            }
        }
    }
}

/// Per row (feature): the largest weight maps to ±127. The rounding error
/// per weight is at most half a step, small next to the softmax's spread.
fn quantize(weights: &[f32], classes: usize) -> (Vec<i8>, Vec<f32>) {
    let mut out = Vec::with_capacity(weights.len());
    let mut scales = Vec::with_capacity(weights.len() / classes.max(1));
    for row in weights.chunks_exact(classes.max(1)) {
        let max = row.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 0.0 };
        scales.push(scale);
        out.extend(row.iter().map(|w| {
            if scale > 0.0 {
                (w / scale).round().clamp(-127.0, 127.0) as i8
            } else {
                0
            }
        }));
    }
    (out, scales)
}

/// TF-IDF vector of the known features, each block normalised to its own
/// weight. Counting by sorting the ids: no map per query.
fn vector(vocab: &IdMap<u32>, idf: &[f32], f: &Features, ids: &mut Vec<u32>, out: &mut Vector) {
    out.clear();
    for (block, weight) in [(&f.words, 1.0), (&f.chars, CHAR_WEIGHT)] {
        ids.clear();
        ids.extend(block.iter().filter_map(|h| vocab.get(h).copied()));
        ids.sort_unstable();
        let start = out.len();
        let mut i = 0;
        while i < ids.len() {
            let id = ids[i];
            let mut j = i + 1;
            while j < ids.len() && ids[j] == id {
                j += 1;
            }
            let tf = (j - i) as f32;
            out.push((id, (1.0 + tf.ln()) * idf[id as usize]));
            i = j;
        }
        let norm = out[start..].iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, v) in &mut out[start..] {
                *v *= weight / norm;
            }
        }
    }
}

/// Where the dense block's features go in a vector.
struct Dense {
    start: u32,
    dims: usize,
}

impl Dense {
    /// Appends the (centred) sentence vector, scaled to the block's weight.
    /// A vector of another width than the model's (or none: empty) adds
    /// nothing.
    fn append(&self, d: &[f32], out: &mut Vector) {
        if self.dims == 0 || d.len() != self.dims {
            return;
        }
        out.extend(
            d.iter()
                .enumerate()
                .map(|(i, &v)| (self.start + i as u32, v * DENSE_WEIGHT)),
        );
    }
}

fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    if sum > 0.0 {
        for x in v.iter_mut() {
            *x /= sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use text::tokens;

    fn examples<'a>(
        ex: &'a [(Vec<String>, usize)],
        dense: Option<&'a [Vec<f32>]>,
    ) -> Vec<Example<'a>> {
        ex.iter()
            .enumerate()
            .map(|(i, (t, c))| Example {
                tokens: t,
                class: *c,
                dense: dense.map(|d| d[i].as_slice()),
            })
            .collect()
    }

    fn predict(m: &Classifier, q: &str) -> (Vec<f32>, usize) {
        let mut p = Vec::new();
        let known = m.predict(&tokens(q), None, &mut Scratch::default(), &mut p);
        (p, known)
    }

    #[test]
    fn learns_to_separate_two_answers() {
        let ex: Vec<(Vec<String>, usize)> = [
            ("how old are you", 0),
            ("what is your age", 0),
            ("when were you born", 0),
            ("who made you", 1),
            ("who built you", 1),
            ("who is your creator", 1),
        ]
        .iter()
        .map(|(q, c)| (tokens(q), *c))
        .collect();
        let m = Classifier::train(&examples(&ex, None), 2);
        let (p, known) = predict(&m, "how old r u");
        assert!(known > 0);
        assert!(p[0] > 0.5 && p[0] > p[1], "{p:?}");
        let (p, _) = predict(&m, "who created you");
        assert!(p[1] > p[0], "{p:?}");
        let (_, known) = predict(&m, "zzzz qqqq");
        assert_eq!(known, 0);
        let again = Classifier::from_parts(m.to_parts()).unwrap();
        assert_eq!(
            predict(&again, "who created you"),
            predict(&m, "who created you")
        );
    }

    /// Phrasings whose words say nothing (the same words for both
    /// answers) are told apart by their sentence vectors alone, and the
    /// dense block survives the snapshot's parts.
    #[test]
    fn the_sentence_vector_separates_what_the_words_do_not() {
        let ex: Vec<(Vec<String>, usize)> = (0..8)
            .map(|i| (tokens("tell me about it"), i % 2))
            .collect();
        let dense: Vec<Vec<f32>> = (0..8)
            .map(|i| {
                if i % 2 == 0 {
                    vec![1.0, 0.0]
                } else {
                    vec![0.0, 1.0]
                }
            })
            .collect();
        let m = Classifier::train(&examples(&ex, Some(&dense)), 2);
        assert_eq!(m.dense_dims(), 2);
        let q = tokens("tell me about it");
        let ask = |m: &Classifier, d: &[f32]| {
            let mut p = Vec::new();
            m.predict(&q, Some(d), &mut Scratch::default(), &mut p);
            p
        };
        let p = ask(&m, &[0.9, 0.1]);
        assert!(p[0] > 0.6, "{p:?}");
        let p = ask(&m, &[0.1, 0.9]);
        assert!(p[1] > 0.6, "{p:?}");
        let again = Classifier::from_parts(m.to_parts()).unwrap();
        assert_eq!(again.dense_dims(), 2);
        assert_eq!(ask(&again, &[0.1, 0.9]), ask(&m, &[0.1, 0.9]));
        // A dense key that is not at the end is refused.
        let mut parts = m.to_parts();
        let last = parts.keys.len() - 1;
        parts.keys.swap(0, last);
        assert!(Classifier::from_parts(parts).is_err());
    }

    #[test]
    fn quantised_rows_keep_their_largest_weight() {
        let (q, s) = quantize(&[0.5, -1.0, 0.0, 0.0, 0.0, 0.0], 3);
        assert_eq!(q[..3], [64, -127, 0]);
        assert_eq!(q[3..], [0, 0, 0]);
        assert!((s[0] - 1.0 / 127.0).abs() < 1e-9);
        assert_eq!(s[1], 0.0);
    }

    #[test]
    fn inconsistent_parts_are_refused() {
        let ok = || Parts {
            keys: vec![1, 2],
            idf: vec![1.0, 1.0],
            classes: 2,
            weights: vec![0; 4],
            scales: vec![0.1, 0.1],
            bias: vec![0.0, 0.0],
            centroids: Vec::new(),
            mean: Vec::new(),
        };
        assert!(Classifier::from_parts(ok()).is_ok());
        let mut p = ok();
        p.weights.pop();
        assert!(Classifier::from_parts(p).is_err());
        let mut p = ok();
        p.keys[1] = 1;
        assert!(Classifier::from_parts(p).is_err());
        let mut p = ok();
        p.idf[0] = f32::NAN;
        assert!(Classifier::from_parts(p).is_err());
        let mut p = ok();
        p.classes = 0;
        assert!(Classifier::from_parts(p).is_err());
    }
}
