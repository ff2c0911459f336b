//! Build time and per-utterance latency of the embedded recogniser on the
//! shipped intents file, asked every chit-chat KB question and every
//! example (what each turn does before the KB).
//!
//! cargo run --release -p lu --example recognize
//!
//! Also prints how the answers split over the intents and a digest of the
//! top intents and confidences, so a change that should not move results
//! can be checked against the one before.

use std::time::{Duration, Instant};

use lu::{EmbeddedRecognizer, IntentsFile};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let file = IntentsFile::load(&root.join("lu/intents.json"))?;
    let mut builds = Vec::new();
    let mut recognizer = None;
    for _ in 0..15 {
        let start = Instant::now();
        recognizer = Some(EmbeddedRecognizer::new(&file, 0.5)?);
        builds.push(start.elapsed());
    }
    let r = recognizer.ok_or("no build")?;
    builds.sort();
    let kb = std::fs::read_to_string(root.join("kb/qna_chitchat_professional.tsv"))?;
    let mut utterances: Vec<String> = kb
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|q| !q.trim().is_empty())
        .map(str::to_string)
        .collect();
    utterances.extend(file.intents.iter().flat_map(|i| i.examples.iter().cloned()));
    // One warm-up pass, then the measured one.
    for u in utterances.iter().take(200) {
        r.recognize_uncached(u)?;
    }
    let mut times = Vec::with_capacity(utterances.len());
    let mut digest: u64 = 0;
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for u in &utterances {
        // Uncached: what a new utterance costs.
        let start = Instant::now();
        let rec = r.recognize_uncached(u)?;
        times.push(start.elapsed());
        *counts.entry(rec.top_intent.name.clone()).or_default() += 1;
        for b in rec
            .top_intent
            .name
            .bytes()
            .chain(((rec.top_intent.confidence * 1e4).round() as i64).to_le_bytes())
        {
            digest = (digest ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "intents: {}, examples: {}",
        file.intents.len(),
        file.example_count()
    );
    println!(
        "build time median / max:      {:.2} / {:.2} ms",
        builds[builds.len() / 2].as_secs_f64() * 1e3,
        builds[builds.len() - 1].as_secs_f64() * 1e3
    );
    println!(
        "latency p50 / p99 / max:      {:.1} / {:.1} / {:.1} µs ({} utterances)",
        us(pct(0.5)),
        us(pct(0.99)),
        us(pct(1.0)),
        times.len()
    );
    println!("top intents: {counts:?}");
    println!("digest: {digest:016x}");
    Ok(())
}
