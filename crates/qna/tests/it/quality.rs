//! Answer quality of the embedded KB on the chit-chat dataset, at the bot's
//! default threshold (0.5): the held-out split (every fifth phrasing of each
//! answer, never trained or calibrated on) and the fresh phrasings of
//! `tests/data/fresh_phrasings.tsv` (new wording, asked of the whole KB).
//! Rates, not timing; the eval example prints the same figures with timing.

use qna::quality::{self, Case};
use qna::EmbeddedIndex;

const THRESHOLD: f32 = 0.5;

fn dataset() -> qna::KnowledgeBase {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../kb/qna_chitchat_professional.tsv"
    );
    qna::import::load_path(std::path::Path::new(path)).unwrap()
}

#[test]
fn held_out_phrasings_at_the_default_threshold() {
    let (train, held) = qna::split::holdout(&dataset());
    let index = EmbeddedIndex::build(train).unwrap();
    let r = quality::measure(&index, &quality::held_out_cases(&held), THRESHOLD).unwrap();
    assert_eq!(r.total(), held.len());
    // Measured 88.1% right, 3.3% wrong, 8.6% below (before label smoothing
    // and grams across words: 87.2% right, 3.1% wrong; before the
    // calibration: 86.8% right, 4.3% wrong). The goal, 90% right and
    // at most 3% wrong, is not reached: top-1 is 91.6%, and the phrasings it
    // gets wrong need words the KB never uses (see the eval's
    // QNA_EVAL_MISSES). The bounds sit just outside the measurement: a
    // regression fails them.
    assert!(r.right_share() >= 0.875, "{r}");
    assert!(r.wrong_share() <= 0.035, "{r}");

    // A ranking asks BM25 only when it could change the order of the
    // answers returned; asked always, every ranking is the same. At 0.0
    // every answer passes the threshold (what the bot asks: top 1 for a
    // channel, top 3 for the Emulator's trace), and BM25 orders the close
    // ones. The first answer of the top 1 is the first of the top 3.
    let mut skipped = [0usize; 2];
    for threshold in [THRESHOLD, 0.3, 0.0] {
        for (question, _) in &held {
            let mut firsts = Vec::new();
            for (n, top) in [1, 3].into_iter().enumerate() {
                let mut q = qna::QnaQuery::new(question.clone());
                q.top = top;
                q.score_threshold = threshold;
                let asked = index.bm25_queries();
                let ranked = index.rank_uncached(&q).unwrap();
                if threshold == 0.0 && index.bm25_queries() == asked {
                    skipped[n] += 1;
                }
                assert_eq!(
                    ranked,
                    index.rank_uncached_with_bm25(&q).unwrap(),
                    "{question}, top {top}"
                );
                firsts.push(ranked.first().copied());
            }
            assert_eq!(firsts[0], firsts[1], "{question}");
        }
    }
    // Asking for one answer is what lets BM25 be skipped for most new
    // questions at 0.0; asking for three, the close runners-up keep it in.
    assert!(skipped[0] > skipped[1] * 2, "{skipped:?}");
}

#[test]
fn fresh_phrasings_at_the_default_threshold() {
    let kb = dataset();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/fresh_phrasings.tsv"
    );
    // Refuses the file if any question is a dataset phrasing.
    let cases = quality::fresh_cases(&kb, &std::fs::read_to_string(path).unwrap(), path)
        .unwrap_or_else(|e| panic!("{e}"));
    let (on, off): (Vec<Case>, Vec<Case>) = cases.into_iter().partition(|c| c.expected.is_some());
    assert!(on.len() >= 100, "at least 100 answerable phrasings");
    assert!(off.len() >= 20, "and some the KB cannot answer");
    let index = EmbeddedIndex::build(kb).unwrap();
    let r = quality::measure(&index, &on, THRESHOLD).unwrap();
    // Measured 79.9% right, 2.6% wrong (4 of 154; 74.0% right before label
    // smoothing and grams across words); bounds a little outside.
    assert!(r.right_share() >= 0.78, "{r}");
    assert!(r.wrong_share() <= 0.04, "{r}");
    let off = quality::measure(&index, &off, THRESHOLD).unwrap();
    // Measured 9 of 30 answered with confidence: words the KB has ("what",
    // "the", "new") in a question about something else.
    assert!(off.wrong <= 10, "off-topic answered: {off}");
}

/// A KB too small to calibrate (the sample KB) keeps the confidences it had
/// before the calibration: near misses stay under the threshold, close
/// paraphrases above it.
#[test]
fn a_kb_too_small_to_calibrate_keeps_its_threshold() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../kb/sample.tsv");
    let index =
        EmbeddedIndex::build(qna::import::load_path(std::path::Path::new(path)).unwrap()).unwrap();
    let confidence = |q: &str| {
        let mut query = qna::QnaQuery::new(q);
        query.top = 1;
        index.rank(&query).unwrap().first().map_or(0.0, |r| r.1)
    };
    for q in ["talk to a human", "cancel that", "stop"] {
        assert!(confidence(q) < THRESHOLD, "{q}: {}", confidence(q));
    }
    for q in [
        "reset my password",
        "thanks a lot",
        "are you a robot",
        "bye now",
    ] {
        assert!(confidence(q) >= THRESHOLD, "{q}: {}", confidence(q));
    }
}
