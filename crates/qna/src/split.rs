//! The deterministic evaluation split: of each answer's phrasings, in file
//! order, every fifth is held out (20% of each answer), the rest indexed.

use crate::kb::KnowledgeBase;

/// `(the KB to index, held-out (question, position of its answer))`.
pub fn holdout(kb: &KnowledgeBase) -> (KnowledgeBase, Vec<(String, usize)>) {
    let mut train = kb.clone();
    let mut held = Vec::new();
    for (i, q) in train.qnas.iter_mut().enumerate() {
        let mut keep = Vec::with_capacity(q.questions.len());
        for (n, phrasing) in q.questions.drain(..).enumerate() {
            if n % 5 == 4 {
                held.push((phrasing, i));
            } else {
                keep.push(phrasing);
            }
        }
        q.questions = keep;
    }
    (train, held)
}
