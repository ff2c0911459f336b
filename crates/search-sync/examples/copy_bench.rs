//! Throughput and memory of a full index copy, against the local Azure AI
//! Search stand-in of the tests (no emulator of the service exists).
//!
//! ```sh
//! cargo run --release -p search-sync --example copy_bench            # 250,000 docs
//! cargo run --release -p search-sync --example copy_bench -- 50000
//! ```
//!
//! The stand-in runs in a child process, so the peak RSS reported for the
//! copy is the client's alone. Prints one JSON object.

#[path = "../tests/it/support/search_fixtures.rs"]
mod search_fixtures;
#[path = "../tests/it/support/search_server.rs"]
mod search_server;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use indicatif::ProgressBar;
use search_sync::diff::diff;
use search_sync::sync::{sync_index, SyncOptions};
use search_sync::IndexClient;
use serde_json::json;

use search_fixtures::{definition, doc};
use search_server::{FakeSearch, KEY};

fn peak_rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// User + system CPU seconds of a process (Linux, 100 ticks a second).
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(|a| a.parse().expect("the document count must be a number"))
        .unwrap_or(250_000);
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    if args.iter().any(|a| a == "--serve") {
        rt.block_on(serve(n));
    } else {
        rt.block_on(bench(n));
    }
}

async fn serve(n: usize) {
    let s = FakeSearch::default();
    s.create_index(definition(
        "docs",
        &[
            ("title", "Edm.String", true),
            ("rating", "Edm.Int32", true),
            ("tags", "Collection(Edm.String)", true),
        ],
    ));
    s.insert_docs("docs", (0..n).map(doc));
    let url = s.start().await;
    println!("READY {url}");
    std::io::stdout().flush().expect("stdout");
    // Serve until the parent closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin()
            .read_line(&mut sink)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    })
    .await
    .expect("stdin watcher");
}

async fn bench(n: usize) {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["--serve", &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the stand-in");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("child stdout"))
        .read_line(&mut line)
        .expect("the stand-in's address");
    let url = line
        .trim()
        .strip_prefix("READY ")
        .expect("READY line")
        .to_string();
    let client =
        |index: &str| IndexClient::new(&url, KEY.to_string().into(), index).expect("client");
    let (source, target) = (client("docs"), client("copy"));

    let rss_before = peak_rss_kib("self");
    let t = Instant::now();
    let r = sync_index(
        &source,
        &target,
        &SyncOptions::default(),
        &ProgressBar::hidden(),
    )
    .await
    .expect("copy");
    let copy_secs = t.elapsed().as_secs_f64();
    let rss_after_copy = peak_rss_kib("self");
    let t = Instant::now();
    let d = diff(&source, &target, 1000, &ProgressBar::hidden())
        .await
        .expect("diff");
    let diff_secs = t.elapsed().as_secs_f64();
    assert!(d.is_equal(), "the copy differs from its source: {d:?}");
    assert_eq!(r.upload.upserted, n as u64);
    let server_rss = peak_rss_kib(&child.id().to_string());
    let server_cpu = cpu_secs(&child.id().to_string());
    drop(child.stdin.take());
    let _ = child.wait();

    let out = json!({
        "documents": n,
        "copy_secs": copy_secs,
        "copy_docs_per_sec": n as f64 / copy_secs,
        "diff_secs": diff_secs,
        "diff_docs_per_sec": n as f64 / diff_secs,
        "client_peak_rss_kib_before_copy": rss_before,
        "client_peak_rss_kib": rss_after_copy,
        "client_peak_rss_kib_after_diff": peak_rss_kib("self"),
        "stand_in_server_peak_rss_kib": server_rss,
        "client_cpu_secs": cpu_secs("self"),
        "stand_in_server_cpu_secs": server_cpu,
        "batches": r.upload.batches,
    });
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}
