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
