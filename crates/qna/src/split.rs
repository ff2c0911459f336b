//! The deterministic evaluation split: of each answer's phrasings, in file
//! order, every fifth is held out (20% of each answer), the rest indexed.

use crate::kb::KnowledgeBase;

/// `(the KB to index, held-out (question, position of its answer))`.
pub fn holdout(kb: &KnowledgeBase) -> (KnowledgeBase, Vec<(String, usize)>) {
    fold(kb, 4, 5)
}

/// Fold `k` of `folds`: of each answer's phrasings, in file order, those at
/// position `k` of every `folds` are set aside, the rest kept to index.
/// `holdout` is fold 4 of 5; cross-validation inside its training part
/// takes the folds of that.
pub fn fold(kb: &KnowledgeBase, k: usize, folds: usize) -> (KnowledgeBase, Vec<(String, usize)>) {
    let mut train = kb.clone();
    let mut held = Vec::new();
    for (i, q) in train.qnas.iter_mut().enumerate() {
        let mut keep = Vec::with_capacity(q.questions.len());
        for (n, phrasing) in q.questions.drain(..).enumerate() {
            if n % folds == k {
                held.push((phrasing, i));
            } else {
                keep.push(phrasing);
            }
        }
        q.questions = keep;
    }
    (train, held)
}
