//! The re-ranker: a multinomial logistic regression over TF-IDF word and
//! character n-grams, trained on the KB's own phrasings when the KB is
//! loaded. Its softmax is the confidence: near 1 when the phrasing clearly
//! belongs to one answer, spread out when it fits several or none.

use std::collections::HashMap;

use crate::text::features;

/// Character n-grams outnumber words; this keeps each block's say balanced.
const CHAR_WEIGHT: f32 = 1.0;
const EPOCHS: usize = 14;
const LEARNING_RATE: f32 = 0.6;

pub struct Classifier {
    vocab: HashMap<u64, u32>,
    idf: Vec<f32>,
    classes: usize,
    /// Row-major: feature × class.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// A sparse, normalised feature vector.
type Vector = Vec<(u32, f32)>;

impl Classifier {
    /// Trains on `(tokens, class)` examples. Deterministic: same KB, same model.
    pub fn train(examples: &[(Vec<String>, usize)], classes: usize) -> Self {
        let mut vocab: HashMap<u64, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        let hashed: Vec<(Vec<u64>, Vec<u64>)> = examples.iter().map(|(t, _)| features(t)).collect();
        for (w, c) in &hashed {
            let mut seen: Vec<u32> = Vec::with_capacity(w.len() + c.len());
            for h in w.iter().chain(c.iter()) {
                let next = vocab.len() as u32;
                let id = *vocab.entry(*h).or_insert(next);
                if id as usize == df.len() {
                    df.push(0);
                }
                seen.push(id);
            }
            seen.sort_unstable();
            seen.dedup();
            for id in seen {
                df[id as usize] += 1;
            }
        }
        let n = examples.len() as f32;
        // sklearn's smoothed idf.
        let idf = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        let mut model = Self {
            vocab,
            idf,
            classes,
            weights: vec![0.0; df.len() * classes],
            bias: vec![0.0; classes],
        };
        let vectors: Vec<Vector> = hashed.iter().map(|(w, c)| model.vector(w, c)).collect();
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let mut logits = vec![0.0f32; classes];
        for epoch in 0..EPOCHS {
            rng.shuffle(&mut order);
            let lr = LEARNING_RATE / (1.0 + epoch as f32 * 0.3);
            for &i in &order {
                let x = &vectors[i];
                model.logits_of(x, &mut logits);
                softmax(&mut logits);
                logits[examples[i].1] -= 1.0;
                // Gradient of the cross-entropy: (p - y) x.
                for (c, g) in logits.iter().enumerate() {
                    model.bias[c] -= lr * g * 0.1;
                }
                for &(f, v) in x {
                    let row = &mut model.weights[f as usize * classes..(f as usize + 1) * classes];
                    for (w, g) in row.iter_mut().zip(logits.iter()) {
                        *w -= lr * g * v;
                    }
                }
            }
        }
        model
    }

    fn vector(&self, words: &[u64], chars: &[u64]) -> Vector {
        let mut out = Vec::with_capacity(words.len() + chars.len());
        for (block, weight) in [(words, 1.0), (chars, CHAR_WEIGHT)] {
            let mut counts: HashMap<u32, f32> = HashMap::with_capacity(block.len());
            for h in block {
                if let Some(&id) = self.vocab.get(h) {
                    *counts.entry(id).or_insert(0.0) += 1.0;
                }
            }
            let start = out.len();
            out.extend(
                counts
                    .into_iter()
                    .map(|(id, tf)| (id, (1.0 + tf.ln()) * self.idf[id as usize])),
            );
            let norm = out[start..].iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                for (_, v) in &mut out[start..] {
                    *v *= weight / norm;
                }
            }
        }
        out
    }

    fn logits_of(&self, x: &Vector, out: &mut [f32]) {
        out.copy_from_slice(&self.bias);
        for &(f, v) in x {
            let row = &self.weights[f as usize * self.classes..(f as usize + 1) * self.classes];
            for (o, w) in out.iter_mut().zip(row) {
                *o += w * v;
            }
        }
    }

    /// Class probabilities for a tokenised question, and how many of its
    /// features the model knows (0: it has never seen anything like it).
    pub fn predict(&self, tokens: &[String]) -> (Vec<f32>, usize) {
        let (w, c) = features(tokens);
        let x = self.vector(&w, &c);
        let mut p = vec![0.0; self.classes];
        self.logits_of(&x, &mut p);
        softmax(&mut p);
        (p, x.len())
    }

    pub fn feature_count(&self) -> usize {
        self.idf.len()
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
    use crate::text::tokens;

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
        let m = Classifier::train(&ex, 2);
        let (p, known) = m.predict(&tokens("how old r u"));
        assert!(known > 0);
        assert!(p[0] > 0.5 && p[0] > p[1], "{p:?}");
        let (p, _) = m.predict(&tokens("who created you"));
        assert!(p[1] > p[0], "{p:?}");
        let (_, known) = m.predict(&tokens("zzzz qqqq"));
        assert_eq!(known, 0);
    }
}
