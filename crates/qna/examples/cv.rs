//! Cross-validation inside the training part of the eval split, for
//! choosing the ranker's constants without looking at the held-out
//! phrasings: of the training part's phrasings of each answer, those at
//! position k of every five are set aside in fold k, the rest indexed.
//! Prints, per fold and on average, the rates at 0.5, top-1, and the right
//! answers at the best threshold that keeps 3% wrong.
//!
//! cargo run --release -p qna --example cv
//!
//! With QNA_ENCODER_DIR set to a sentence encoder's directory (see
//! scripts/fetch-encoder), the re-ranker weighs its vectors too.

use qna::quality;
use qna::EmbeddedIndex;

const FOLDS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../kb/qna_chitchat_professional.tsv"
    );
    let kb = qna::import::load_path(std::path::Path::new(path))?;
    let encoder = quality::encoder_from_env()?;
    // The held-out part is dropped here, unseen.
    let (train, _) = qna::split::holdout(&kb);
    let mut sums = [0.0f64; 4];
    for k in 0..FOLDS {
        let (indexed, aside) = qna::split::fold(&train, k, FOLDS);
        let cases = quality::held_out_cases(&aside);
        let index =
            EmbeddedIndex::build_encoded(indexed, Default::default(), None, encoder.clone())?;
        let at_half = quality::measure(&index, &cases, 0.5)?;
        let top1 = quality::measure(&index, &cases, 0.0)?.right_share();
        let (_, best) = quality::best_threshold(&index, &cases, 0.03)?;
        println!(
            "fold {k}: {at_half}  top-1 {:.2}%  right at <= 3% wrong {:.2}%",
            100.0 * top1,
            100.0 * best.right_share()
        );
        for (s, v) in sums.iter_mut().zip([
            at_half.right_share(),
            at_half.wrong_share(),
            top1,
            best.right_share(),
        ]) {
            *s += v / FOLDS as f64;
        }
    }
    println!(
        "mean: right {:.2}%  wrong {:.2}%  top-1 {:.2}%  right at <= 3% wrong {:.2}%",
        100.0 * sums[0],
        100.0 * sums[1],
        100.0 * sums[2],
        100.0 * sums[3]
    );
    Ok(())
}
