//! The embedded KB: multi-turn, filters, top-N, threshold and reload (its
//! answer quality is `tests/quality.rs`).

use qna::{Answerer, EmbeddedAnswerer, MetadataFilter, QnaContext, QnaQuery};

const FULL: &str = "Question\tAnswer\tSource\tMetadata\tSuggestedQuestions\tIsContextOnly\tPrompts\tQnaId\n\
How do I reset my password?\tWhich account: work or personal?\tEditorial\ttopic:account\t[]\tfalse\t[{\"displayOrder\":1,\"qnaId\":2,\"displayText\":\"Work account\"},{\"displayOrder\":2,\"qnaId\":3,\"displayText\":\"Personal account\"}]\t1\n\
Work account\tUse the company self-service portal.\tEditorial\ttopic:account|scope:work\t[]\ttrue\t[]\t2\n\
Personal account\tUse the account recovery page.\tEditorial\ttopic:account|scope:personal\t[]\ttrue\t[]\t3\n\
Where is the office?\tOn the third floor.\tEditorial\ttopic:facilities\t[]\tfalse\t[]\t4\n\
Where do I park?\tIn the basement garage.\tEditorial\ttopic:facilities|scope:work\t[]\tfalse\t[]\t5\n";

fn kb() -> EmbeddedAnswerer {
    EmbeddedAnswerer::new(qna::import::parse_tsv(FULL, "t.tsv").unwrap()).unwrap()
}

#[tokio::test]
async fn multi_turn_prompts_and_context_only() {
    let a = kb();
    let r = a.answer(&QnaQuery::new("reset my password")).await.unwrap();
    assert_eq!(r[0].id, 1);
    assert_eq!(r[0].prompts.len(), 2);
    // Context-only answers are unreachable without their context.
    let r = a.answer(&QnaQuery::new("Work account")).await.unwrap();
    assert!(r.iter().all(|x| x.id != 2), "{r:?}");
    // As a follow-up of answer 1, the prompt text is a certain match.
    let mut q = QnaQuery::new("work account");
    q.context = Some(QnaContext {
        previous_qna_id: Some(1),
        previous_user_query: None,
    });
    let r = a.answer(&q).await.unwrap();
    assert_eq!(r[0].id, 2);
    assert_eq!(r[0].confidence, 1.0);
    assert!(
        r.iter().all(|x| x.id == 2 || x.id == 3),
        "narrowed to the prompts: {r:?}"
    );
}

#[tokio::test]
async fn filters_top_and_threshold() {
    let a = kb();
    let mut q = QnaQuery::new("where");
    q.top = 5;
    q.filter = Some(MetadataFilter {
        pairs: vec![
            ("topic".into(), "facilities".into()),
            ("scope".into(), "work".into()),
        ],
        all: true,
    });
    let r = a.answer(&q).await.unwrap();
    assert_eq!(r.iter().map(|x| x.id).collect::<Vec<_>>(), vec![5]);
    q.filter = Some(MetadataFilter {
        pairs: vec![
            ("topic".into(), "facilities".into()),
            ("scope".into(), "work".into()),
        ],
        all: false,
    });
    let r = a.answer(&q).await.unwrap();
    let mut ids: Vec<u64> = r.iter().map(|x| x.id).collect();
    ids.sort();
    assert_eq!(ids, vec![4, 5]);
    q.filter = None;
    q.top = 1;
    assert_eq!(a.answer(&q).await.unwrap().len(), 1);
    let mut q = QnaQuery::new("quantum chromodynamics");
    q.score_threshold = 0.5;
    assert!(a.answer(&q).await.unwrap().is_empty());
}

#[tokio::test]
async fn replace_swaps_the_kb_in_place() {
    let a = kb();
    let new = qna::import::parse_tsv(
        "Question\tAnswer\nWhere is the office?\tWe moved to the fifth floor.\n",
        "n.tsv",
    )
    .unwrap();
    a.replace(new).unwrap();
    let r = a
        .answer(&QnaQuery::new("where is the office"))
        .await
        .unwrap();
    assert_eq!(r[0].answer, "We moved to the fifth floor.");
}

/// A repeated question is answered from the cache with exactly the ranking
/// it would get afresh; its follow-up context, threshold and top are part of
/// the key; a filtered question is never cached; a reload starts empty.
#[tokio::test]
async fn repeated_questions_are_ranked_once_and_rank_the_same() {
    let a = kb();
    let index = a.index();
    let ask = |text: &str, previous: Option<u64>, threshold: f32| {
        let mut q = QnaQuery::new(text);
        q.score_threshold = threshold;
        q.context = previous.map(|id| QnaContext {
            previous_qna_id: Some(id),
            previous_user_query: None,
        });
        q
    };
    for q in [
        ask("reset my password", None, 0.0),
        ask("work account", Some(1), 0.0),
        ask("work account", None, 0.0),
        ask("where is the office", None, 0.3),
    ] {
        let first = index.rank(&q).unwrap();
        let again = index.rank(&q).unwrap();
        assert_eq!(first, again, "{q:?}");
        assert_eq!(first, index.rank_uncached(&q).unwrap(), "{q:?}");
    }
    // Four distinct keys (the context and the threshold tell them apart),
    // each ranked once and then found.
    let counts = index.cache_counts();
    assert_eq!((counts.misses, counts.hits), (4, 4), "{counts:?}");
    // Case and punctuation normalise away: the same question.
    index.rank(&ask("Reset my PASSWORD?", None, 0.0)).unwrap();
    assert_eq!(index.cache_counts().hits, 5);

    let mut filtered = ask("where", None, 0.0);
    filtered.filter = Some(MetadataFilter {
        pairs: vec![("topic".into(), "facilities".into())],
        all: true,
    });
    index.rank(&filtered).unwrap();
    index.rank(&filtered).unwrap();
    assert_eq!(index.cache_counts().misses, 4, "filtered: not cached");

    a.replace(qna::import::parse_tsv(FULL, "t.tsv").unwrap())
        .unwrap();
    let fresh = a.index().cache_counts();
    assert_eq!((fresh.hits, fresh.misses), (0, 0));
}

/// What the rank cache keeps is what a ranking returns: a ranking must not
/// carry the buffer it was selected from (one slot per answer), or a cache
/// of thousands of rankings holds megabytes of empty slots.
#[test]
fn a_ranking_holds_only_its_answers() {
    let index = qna::EmbeddedIndex::build(qna::import::parse_tsv(FULL, "t.tsv").unwrap()).unwrap();
    let mut q = QnaQuery::new("where is the office");
    q.top = 1;
    q.score_threshold = 0.0;
    let ranked = index.rank_uncached(&q).unwrap();
    assert_eq!(ranked.len(), 1, "{ranked:?}");
    assert_eq!(ranked.capacity(), ranked.len());
}
