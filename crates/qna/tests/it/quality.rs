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

/// The fresh phrasings: those the KB can answer, and the off-topic ones.
/// Refuses the file if any question is a dataset phrasing.
fn fresh(kb: &qna::KnowledgeBase) -> (Vec<Case>, Vec<Case>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/fresh_phrasings.tsv"
    );
    quality::fresh_cases(kb, &std::fs::read_to_string(path).unwrap(), path)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .partition(|c| c.expected.is_some())
}

#[test]
fn held_out_phrasings_at_the_default_threshold() {
    let (train, held) = qna::split::holdout(&dataset());
    let index = EmbeddedIndex::build(train).unwrap();
    let r = quality::measure(&index, &quality::held_out_cases(&held), THRESHOLD).unwrap();
    assert_eq!(r.total(), held.len());
    // Measured 87.2% right, 2.7% wrong, 10.2% below (with the calibration
    // aiming at its target's point rather than its margin: 88.1% right,
    // 3.4% wrong; before label smoothing and grams across words: 87.2%
    // right, 3.1% wrong). The goal, 90% right and at most 3% wrong,
    // needs the sentence encoder (the test below): top-1 here is 91.5%, and
    // the phrasings it gets wrong need words the KB never uses (see the
    // eval's QNA_EVAL_MISSES). The bounds sit just outside the
    // measurement: a regression fails them.
    assert!(r.right_share() >= 0.865, "{r}");
    assert!(r.wrong_share() <= 0.03, "{r}");

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
    let (on, off) = fresh(&kb);
    assert!(on.len() >= 100, "at least 100 answerable phrasings");
    assert!(off.len() >= 20, "and some the KB cannot answer");
    let index = EmbeddedIndex::build(kb).unwrap();
    let r = quality::measure(&index, &on, THRESHOLD).unwrap();
    // Measured 79.9% right, 1.9% wrong (3 of 154; 74.0% right before label
    // smoothing and grams across words); bounds a little outside.
    assert!(r.right_share() >= 0.78, "{r}");
    assert!(r.wrong_share() <= 0.04, "{r}");
    let off = quality::measure(&index, &off, THRESHOLD).unwrap();
    // Measured 8 of 30 answered with confidence: words the KB has ("what",
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

/// The sentence encoder `scripts/fetch-encoder` fetches (all-MiniLM-L6-v2,
/// pinned by hash; `scripts/test` runs it first), to the bot's default
/// depth (`qna.encoder_layers` = 1).
fn encoder() -> std::sync::Arc<qna::SentenceEncoder> {
    let dir = std::env::var_os("ENCODER_MODEL_DIR").map_or_else(
        || {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../.tools/encoder/all-MiniLM-L6-v2")
        },
        std::path::PathBuf::from,
    );
    assert!(
        dir.join("model.safetensors").is_file(),
        "no sentence encoder in {}: run scripts/fetch-encoder (scripts/test does)",
        dir.display()
    );
    std::sync::Arc::new(qna::SentenceEncoder::load_layers(&dir, 1).unwrap())
}

/// With the sentence encoder (`qna.encoder_dir`), the re-ranker weighs each
/// question's meaning next to its words, and the held-out phrasings reach
/// the goal at the default threshold: at least 90% right, at most
/// 3% wrong. The same split, the same calibration, only the vectors added.
#[test]
fn with_the_sentence_encoder_held_out_phrasings_reach_the_goal() {
    let (train, held) = qna::split::holdout(&dataset());
    let cases = quality::held_out_cases(&held);
    let words = EmbeddedIndex::build(train.clone()).unwrap();
    let meaning =
        EmbeddedIndex::build_encoded(train, Default::default(), None, Some(encoder())).unwrap();
    let r = quality::measure(&meaning, &cases, THRESHOLD).unwrap();
    assert!(r.right_share() >= 0.90, "{r}");
    assert!(r.wrong_share() <= 0.03, "{r}");
    // Its first answer is right more often than the words' alone.
    let top1 = |index: &EmbeddedIndex| quality::measure(index, &cases, 0.0).unwrap().right_share();
    let (before, after) = (top1(&words), top1(&meaning));
    assert!(after >= before + 0.015, "top-1 {before} -> {after}");
    // A KB phrasing asked for one answer gets it, certain (its vector is
    // not computed then: it would change nothing returned).
    let phrasing = &meaning.kb().qnas[0].questions[0];
    let mut q = qna::QnaQuery::new(phrasing.clone());
    q.top = 1;
    assert_eq!(meaning.rank(&q).unwrap(), vec![(0, 1.0)], "{phrasing}");
    // A held-out question the words alone answer wrong ("I'm digital. In
    // other words, I'm not human.", at 0.22) is answered right, with
    // confidence.
    let best = |index: &EmbeddedIndex| {
        let mut q = qna::QnaQuery::new("Are you a kid?");
        q.top = 1;
        q.score_threshold = 0.0;
        let ranked = index.rank(&q).unwrap();
        ranked
            .first()
            .map(|&(i, score)| (index.kb().qnas[i].answer.clone(), score))
    };
    let age = "Age doesn't really apply to me.";
    assert!(
        best(&words).is_some_and(|(a, _)| a != age),
        "{:?}",
        best(&words)
    );
    assert!(
        best(&meaning).is_some_and(|(a, score)| a == age && score >= THRESHOLD),
        "{:?}",
        best(&meaning)
    );
}

/// The fresh phrasings (written for the test set, asked of the whole KB)
/// with the sentence encoder: more are answered right than with the words
/// alone (`fresh_phrasings_at_the_default_threshold`).
#[test]
fn with_the_sentence_encoder_fresh_phrasings_are_answered_right() {
    let kb = dataset();
    let (on, off) = fresh(&kb);
    let index =
        EmbeddedIndex::build_encoded(kb, Default::default(), None, Some(encoder())).unwrap();
    let r = quality::measure(&index, &on, THRESHOLD).unwrap();
    // Measured 85.7% right (79.9% with the words alone) and 0.6% wrong
    // (1 of 154, against 3).
    assert!(r.right_share() >= 0.84, "{r}");
    assert!(r.wrong_share() <= 0.02, "{r}");
    let off = quality::measure(&index, &off, THRESHOLD).unwrap();
    // Measured 13 of 30 off-topic questions answered with confidence (8
    // with the words alone; 17 before the calibration saw questions no
    // answer covers, see `calibration::UNCOVERED`): the vector pulls a
    // question toward some answer, mostly "Ok.".
    assert!(off.wrong <= 14, "off-topic answered: {off}");
}
