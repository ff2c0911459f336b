//! Embeds each line of standard input and prints its vector's first values
//! and the time it took: a quick check of a model directory.
//!
//! cargo run --release -p encoder --example embed -- MODEL_DIR [LAYERS] < questions.txt
//!
//! The total time of the passes goes to standard error at the end.

use std::io::BufRead;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: embed MODEL_DIR [LAYERS] < lines")?;
    let layers = match std::env::args().nth(2) {
        Some(n) => n.parse()?,
        None => usize::MAX,
    };
    let start = Instant::now();
    let encoder = encoder::SentenceEncoder::load_layers(std::path::Path::new(&dir), layers)?;
    eprintln!("loaded in {:?}: {encoder:?}", start.elapsed());
    let (mut total, mut lines) = (std::time::Duration::ZERO, 0);
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let start = Instant::now();
        let v = encoder.embed(&line)?;
        let took = start.elapsed();
        total += took;
        lines += 1;
        println!("{:?}\t{:.5?}\t{line}", took, &v[..4]);
    }
    if lines > 0 {
        eprintln!("{lines} lines in {total:?}: {:?} each", total / lines);
    }
    Ok(())
}
