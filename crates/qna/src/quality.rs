//! Measuring answer quality, shared by the eval example and the quality
//! test: the three rates at a threshold (right and confident, wrong and
//! confident, below it), and the fresh phrasings written for the chit-chat
//! KB, checked to be new.
//!
//! Fresh phrasings file: UTF-8 lines `question<TAB>expected`, where expected
//! is an answer's text (compared by its words, so spacing and punctuation
//! do not matter) or `-` for a question the KB cannot answer. `#` lines,
//! blank lines and a `question<TAB>expected` header are skipped.

use std::collections::HashMap;

use crate::answerer::QnaQuery;
use crate::embedded::EmbeddedIndex;
use crate::error::QnaError;
use crate::features;
use crate::kb::KnowledgeBase;

/// One question and the answer it should get (a position in `kb.qnas`), or
/// `None` when the right outcome is the fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub question: String,
    pub expected: Option<usize>,
}

/// Counts of questions by outcome at one threshold. A question whose top
/// answer is under the threshold is `below`, right or wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    pub right: usize,
    pub wrong: usize,
    pub below: usize,
}

impl Rates {
    pub fn total(&self) -> usize {
        self.right + self.wrong + self.below
    }

    fn share(&self, n: usize) -> f64 {
        n as f64 / self.total().max(1) as f64
    }

    /// Right answers at or above the threshold, as a share of questions.
    pub fn right_share(&self) -> f64 {
        self.share(self.right)
    }

    pub fn wrong_share(&self) -> f64 {
        self.share(self.wrong)
    }

    pub fn below_share(&self) -> f64 {
        self.share(self.below)
    }
}

impl std::fmt::Display for Rates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "right {:5.2}%  wrong {:5.2}%  below {:5.2}%  (of {})",
            100.0 * self.right_share(),
            100.0 * self.wrong_share(),
            100.0 * self.below_share(),
            self.total()
        )
    }
}

/// The lowest threshold at which at most `max_wrong` of `cases` get a
/// confident wrong answer, and the rates there: how well the confidence
/// separates right from wrong, whatever its scale.
pub fn best_threshold(
    index: &EmbeddedIndex,
    cases: &[Case],
    max_wrong: f64,
) -> Result<(f32, Rates), QnaError> {
    let mut outcomes = Vec::with_capacity(cases.len());
    for case in cases {
        let mut q = QnaQuery::new(case.question.clone());
        q.top = 1;
        if let Some(&(i, c)) = index.rank(&q)?.first() {
            outcomes.push((c, Some(i) == case.expected));
        }
    }
    Ok(separation(outcomes, cases.len(), max_wrong))
}

/// `best_threshold` over (confidence, right) of the questions that got an
/// answer, out of `total` questions.
fn separation(mut outcomes: Vec<(f32, bool)>, total: usize, max_wrong: f64) -> (f32, Rates) {
    outcomes.sort_by(|a, b| b.0.total_cmp(&a.0));
    let allowed = (max_wrong * total as f64).floor() as usize;
    let (mut best, mut rates) = (
        1.0,
        Rates {
            below: total,
            ..Rates::default()
        },
    );
    let mut wrong = 0;
    for (n, &(c, ok)) in outcomes.iter().enumerate() {
        wrong += usize::from(!ok);
        if wrong > allowed {
            break;
        }
        // A threshold takes every answer of equal confidence, or none.
        if outcomes.get(n + 1).is_some_and(|next| next.0 == c) {
            continue;
        }
        best = c;
        rates = Rates {
            right: n + 1 - wrong,
            wrong,
            below: total - n - 1,
        };
    }
    (best, rates)
}

/// Asks every case and counts the outcomes at `threshold`. An off-topic
/// case (no expected answer) answered at or above it counts as wrong.
pub fn measure(index: &EmbeddedIndex, cases: &[Case], threshold: f32) -> Result<Rates, QnaError> {
    let mut rates = Rates::default();
    for case in cases {
        let mut q = QnaQuery::new(case.question.clone());
        q.top = 1;
        match index.rank(&q)?.first() {
            Some(&(i, c)) if c >= threshold => {
                if Some(i) == case.expected {
                    rates.right += 1
                } else {
                    rates.wrong += 1
                }
            }
            _ => rates.below += 1,
        }
    }
    Ok(rates)
}

/// The held-out phrasings of `split::holdout` as cases.
pub fn held_out_cases(held: &[(String, usize)]) -> Vec<Case> {
    held.iter()
        .map(|(q, i)| Case {
            question: q.clone(),
            expected: Some(*i),
        })
        .collect()
}

/// An answer text by its words only.
fn answer_key(s: &str) -> String {
    text::plain(s)
}

/// Parses a fresh phrasings file for `kb` (the whole dataset, held-out
/// phrasings included). Refuses an unknown answer, a malformed line, and
/// any question that is a dataset phrasing once normalised the way the
/// ranker normalises (case, punctuation, contractions, chat spellings and
/// suffixes), since such a question measures nothing new.
pub fn fresh_cases(kb: &KnowledgeBase, text: &str, path: &str) -> Result<Vec<Case>, QnaError> {
    let err = |line: usize, message: String| QnaError::Parse {
        path: path.to_string(),
        line,
        message,
    };
    let mut answers: HashMap<String, Option<usize>> = HashMap::new();
    for (i, q) in kb.qnas.iter().enumerate() {
        answers
            .entry(answer_key(&q.answer))
            .and_modify(|e| *e = None)
            .or_insert(Some(i));
    }
    let mut known: HashMap<u64, &str> = HashMap::new();
    for q in &kb.qnas {
        for p in &q.questions {
            known.insert(features::phrase_key(&text::tokens(p)), p);
        }
    }
    let mut cases = Vec::new();
    // Every repeat is listed at once, so one run shows all there are.
    let mut repeats: Vec<(usize, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') || line == "question\texpected" {
            continue;
        }
        let (question, expected) = line
            .split_once('\t')
            .ok_or_else(|| err(line_no, "expected `question<TAB>expected`".into()))?;
        let tokens = text::tokens(question);
        if tokens.is_empty() {
            return Err(err(line_no, "a question without words".into()));
        }
        if let Some(p) = known.get(&features::phrase_key(&tokens)) {
            repeats.push((line_no, format!("line {line_no}: {question:?} is {p:?}")));
        }
        let expected = match expected.trim() {
            "-" => None,
            answer => match answers.get(&answer_key(answer)) {
                Some(Some(i)) => Some(*i),
                Some(None) => return Err(err(line_no, format!("{answer:?} names two answers"))),
                None => return Err(err(line_no, format!("no answer {answer:?} in the KB"))),
            },
        };
        cases.push(Case {
            question: question.to_string(),
            expected,
        });
    }
    if let Some((line, _)) = repeats.first() {
        let list: Vec<String> = repeats.iter().map(|(_, r)| r.clone()).collect();
        return Err(err(
            *line,
            format!("dataset phrasings, not fresh ones: {}", list.join("; ")),
        ));
    }
    Ok(cases)
}

/// The sentence encoder in `QNA_ENCODER_DIR`, if set, with
/// `QNA_ENCODER_LAYERS` of its layers (the bot's default, 1, when unset):
/// what the `eval` and `cv` examples rank with besides the words.
pub fn encoder_from_env(
) -> Result<Option<std::sync::Arc<crate::SentenceEncoder>>, crate::EncoderError> {
    let layers = match std::env::var("QNA_ENCODER_LAYERS") {
        Ok(v) => v.parse().map_err(|_| {
            crate::EncoderError::Unsupported(format!("QNA_ENCODER_LAYERS={v:?} is not a number"))
        })?,
        Err(_) => crate::DEFAULT_ENCODER_LAYERS,
    };
    std::env::var_os("QNA_ENCODER_DIR")
        .map(|dir| {
            crate::SentenceEncoder::load_layers(std::path::Path::new(&dir), layers)
                .map(std::sync::Arc::new)
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kb() -> KnowledgeBase {
        crate::import::parse_tsv(
            "Question\tAnswer\nWhat's your name?\tI don't have a name.\nHow old are you?\tAge doesn't\u{a0}apply.\n",
            "t.tsv",
        )
        .unwrap()
    }

    #[test]
    fn separation_stops_before_too_many_wrong() {
        let outcomes = vec![
            (0.9, true),
            (0.8, false),
            (0.7, true),
            (0.6, true),
            (0.6, false),
            (0.5, true),
        ];
        // One wrong allowed in 10 questions: down to 0.7, not into the tie
        // at 0.6 that holds the second wrong.
        let (t, r) = separation(outcomes.clone(), 10, 0.1);
        assert_eq!(
            (t, r),
            (
                0.7,
                Rates {
                    right: 2,
                    wrong: 1,
                    below: 7
                }
            )
        );
        let (t, r) = separation(outcomes, 10, 0.0);
        assert_eq!(
            (t, r),
            (
                0.9,
                Rates {
                    right: 1,
                    wrong: 0,
                    below: 9
                }
            )
        );
        let (_, r) = separation(vec![(0.9, false)], 4, 0.0);
        assert_eq!(
            r,
            Rates {
                right: 0,
                wrong: 0,
                below: 4
            }
        );
    }

    #[test]
    fn fresh_phrasings_are_parsed_and_checked() {
        let cases = fresh_cases(
            &kb(),
            "# comment\nquestion\texpected\n\nhow old r u now\tAge doesn't apply.\nwhere is the vpn\t-\n",
            "f.tsv",
        )
        .unwrap();
        assert_eq!(
            cases,
            vec![
                Case {
                    question: "how old r u now".into(),
                    expected: Some(1)
                },
                Case {
                    question: "where is the vpn".into(),
                    expected: None
                }
            ]
        );
        // The dataset's phrasing under another spelling is refused.
        let e = fresh_cases(&kb(), "WHATS UR NAME!!\tI don't have a name.\n", "f.tsv");
        assert!(matches!(e, Err(QnaError::Parse { line: 1, .. })), "{e:?}");
        assert!(fresh_cases(&kb(), "hi there\tNo such answer.\n", "f.tsv").is_err());
        assert!(fresh_cases(&kb(), "no tab here\n", "f.tsv").is_err());
    }
}
