//! Embeds each line of standard input and prints its vector's first values
//! and the time it took: a quick check of a model directory.
//!
//! cargo run --release -p encoder --example embed -- MODEL_DIR < questions.txt

use std::io::BufRead;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: embed MODEL_DIR < lines")?;
    let start = Instant::now();
    let encoder = encoder::SentenceEncoder::load(std::path::Path::new(&dir))?;
    eprintln!("loaded in {:?}: {encoder:?}", start.elapsed());
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let start = Instant::now();
        let v = encoder.embed(&line)?;
        let took = start.elapsed();
        println!("{:?}\t{:.5?}\t{line}", took, &v[..4]);
    }
    Ok(())
}
