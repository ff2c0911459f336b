//! Storage latency and throughput bench, per backend.
//!
//!   cargo run --release -p bot-storage --example latency -- --backend cosmos
//!
//! Backends: memory, sqlite (temp file), cosmos and blob (the local
//! stand-ins, started here). Measures, one at a time, the read and the
//! conditional write of a conversation-sized document (p50/p99 of each and
//! of the pair), then the throughput of turn-shaped work: N concurrent
//! conversations each reading its conversation and user state and writing
//! the conversation back with If-Match.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bot_storage::standins::StandIn;
use bot_storage::{
    BlobStorage, Change, CosmosStorage, MemoryStorage, Precondition, SqliteStorage, Storage,
};
use serde_json::json;

struct Args {
    backend: String,
    ops: usize,
    concurrency: usize,
    seconds: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        backend: String::new(),
        ops: 500,
        concurrency: 16,
        seconds: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--backend" => args.backend = val()?,
            "--ops" => args.ops = val()?.parse().map_err(|e| format!("--ops: {e}"))?,
            "--concurrency" => {
                args.concurrency = val()?.parse().map_err(|e| format!("--concurrency: {e}"))?
            }
            "--seconds" => args.seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !matches!(
        args.backend.as_str(),
        "memory" | "sqlite" | "cosmos" | "blob"
    ) {
        return Err("--backend memory|sqlite|cosmos|blob is required".into());
    }
    if args.ops == 0 || args.concurrency == 0 || args.seconds == 0 {
        return Err("--ops, --concurrency and --seconds must be at least 1".into());
    }
    Ok(args)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn report(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{name:<12} n={:<6} p50={:>8.3} ms  p99={:>8.3} ms",
        v.len(),
        pct(&v, 0.50),
        pct(&v, 0.99)
    );
}

fn state(turn: u64) -> serde_json::Value {
    // About the size of a conversation document with a processed-activity window.
    json!({
        "turnCount": turn,
        "previousQnaId": 12,
        "previousUserQuery": "how do I reset my password",
        "processedActivities": (0..32).map(|i| json!({"id": format!("activity-{i:08}")})).collect::<Vec<_>>(),
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("latency: {e}");
            std::process::exit(2);
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut _standin = None;
    let storage: Arc<dyn Storage> = match args.backend.as_str() {
        "memory" => Arc::new(MemoryStorage::new()),
        "sqlite" => Arc::new(SqliteStorage::open(dir.path().join("bench.db")).expect("sqlite")),
        "cosmos" => {
            let s = StandIn::cosmos().await;
            let st = CosmosStorage::open(&s.cosmos_config("bench", "state"))
                .await
                .expect("cosmos stand-in");
            _standin = Some(s);
            Arc::new(st)
        }
        _ => {
            let s = StandIn::azurite().await;
            let st = BlobStorage::open(&s.blob_config("bench"))
                .await
                .expect("azurite");
            _standin = Some(s);
            Arc::new(st)
        }
    };
    println!("backend {} (stand-ins on 127.0.0.1)", storage.kind());

    // Sequential latency: read, then conditional write, of one key.
    let key = "emulator/conversations/bench-latency/".to_string();
    let mut etag = storage
        .write(vec![Change {
            key: key.clone(),
            document: state(0),
            precondition: Precondition::None,
        }])
        .await
        .expect("seed write")
        .remove(0);
    let (mut reads, mut writes, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..args.ops as u64 {
        let t0 = Instant::now();
        let got = storage
            .read(std::slice::from_ref(&key))
            .await
            .expect("read");
        let t1 = Instant::now();
        assert_eq!(got[&key].etag, etag, "nobody else writes this key");
        etag = storage
            .write(vec![Change {
                key: key.clone(),
                document: state(i + 1),
                precondition: Precondition::IfMatch(etag.clone()),
            }])
            .await
            .expect("write")
            .remove(0);
        let t2 = Instant::now();
        reads.push(t1 - t0);
        writes.push(t2 - t1);
        pairs.push(t2 - t0);
    }
    report("read", reads);
    report("write", writes);
    report("read+write", pairs);

    // Throughput of turn-shaped work on independent conversations.
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|c| {
            let s = storage.clone();
            tokio::spawn(async move {
                let conv = format!("emulator/conversations/bench-{c}/");
                let user = format!("emulator/users/bench-user-{c}/");
                let mut turns = 0u64;
                while Instant::now() < deadline {
                    let got = s.read(&[conv.clone(), user.clone()]).await.expect("read");
                    let pre = match got.get(&conv) {
                        Some(i) => Precondition::IfMatch(i.etag.clone()),
                        None => Precondition::IfNotExists,
                    };
                    s.write(vec![Change {
                        key: conv.clone(),
                        document: state(turns),
                        precondition: pre,
                    }])
                    .await
                    .expect("write");
                    turns += 1;
                }
                turns
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "turns        {total} in {secs:.1} s with {} conversations: {:.0} turns/s",
        args.concurrency,
        total as f64 / secs
    );
}
