//! `bot-bench`: starts the bot (ours, the botbuilder-js reference, or both,
//! alternating), drives it with message Activities over a mix of
//! conversations, and reports throughput, latency, peak RSS, CPU and
//! start-to-ready time, as a table and as JSON.
//!
//! The machine is shared and noisy, so compare targets measured in the same
//! run, as ratios.

mod backends;
mod load;
mod process;
mod report;
mod sink;
mod soak;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::load::{LoadConfig, Mode};
use crate::process::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Ours,
    BotbuilderJs,
    Both,
}

#[derive(Parser, Debug)]
#[command(
    name = "bot-bench",
    about = "Benchmark bot-api (and the botbuilder-js reference) under load"
)]
struct Args {
    /// Which bots to run; `both` alternates them and prints ratios.
    #[arg(long, value_enum, default_value = "ours")]
    target: Which,
    /// Delivery modes to run.
    #[arg(long, value_enum, num_args = 1.., default_values = ["expect-replies"])]
    mode: Vec<Mode>,
    /// Seconds of load per measurement.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Concurrent connections (closed loop).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Distinct conversations the requests cycle through.
    #[arg(long, default_value_t = 1000)]
    conversations: usize,
    /// Open loop at this many requests/s instead of as fast as possible
    /// (latency is then measured from each request's scheduled time).
    #[arg(long)]
    rate: Option<u64>,
    /// How many times each target is measured (alternating).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// The bot's intents file: questions it routes to an intent (not to
    /// the KB) are left out.
    #[arg(long, default_value = "lu/intents.json")]
    intents: PathBuf,
    /// `lu.threshold` of the bot under test (config/default.toml's); 0
    /// keeps every question.
    #[arg(long, default_value_t = 0.5)]
    lu_threshold: f32,
    /// Make every question unique (a number appended), so that no answer
    /// cache serves any of them; the figure to give beside a cached run.
    #[arg(long)]
    unique_questions: bool,
    /// Our binary.
    #[arg(long, default_value = "target/dist/bot-api")]
    bot_api: PathBuf,
    /// Knowledge base our bot loads; its questions are what the load asks.
    #[arg(long, default_value = "kb/qna_chitchat_professional.tsv")]
    kb: PathBuf,
    /// State backend: sqlite | memory | blob (Azurite, for both bots) |
    /// cosmos (the Cosmos DB stand-in; the reference keeps memory). The
    /// stand-ins are started by the bench.
    #[arg(long, default_value = "sqlite")]
    storage: String,
    /// The reference bot's directory (npm project).
    #[arg(long, default_value = "bench/botbuilder-js")]
    reference_dir: PathBuf,
    /// Soak: every this many seconds of the load, print req/s, p50/p99,
    /// errors, the bot's RSS and the state database and WAL sizes; at the
    /// end, the RSS growth from the first minute on.
    #[arg(long)]
    soak_every: Option<u64>,
    /// Seconds to wait after the load before the bot is stopped, printing
    /// the database and WAL sizes at the end (what an idle store gives back).
    #[arg(long, default_value_t = 0)]
    idle: u64,
    /// Write the results as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let questions = load::questions_from_kb(&args.kb)?;
    let questions = if args.lu_threshold > 0.0 {
        let (kept, dropped) = load::kb_bound(&questions, &args.intents, args.lu_threshold)?;
        eprintln!(
            "asking {} questions; {} go to the bot's own intents, not the KB, and are left out (e.g. {:?})",
            kept.len(),
            dropped.len(),
            dropped.iter().take(3).collect::<Vec<_>>()
        );
        std::sync::Arc::new(kept)
    } else {
        questions
    };
    let targets: Vec<Target> = match args.target {
        Which::Ours => vec![Target::Ours],
        Which::BotbuilderJs => vec![Target::BotbuilderJs],
        Which::Both => vec![Target::Ours, Target::BotbuilderJs],
    };
    let backend = backends::Backend::start(&args.storage).await?;
    if !backend.shared_with_reference() && targets.contains(&Target::BotbuilderJs) {
        eprintln!(
            "note: the reference bot has no {} storage; it keeps MemoryStorage",
            args.storage
        );
    }
    let mut results = Vec::new();
    for round in 0..args.rounds {
        for mode in &args.mode {
            for target in &targets {
                let sink = sink::Sink::start().await?;
                let dir = std::env::temp_dir().join(format!(
                    "bot-bench-{}-{round}-{}",
                    std::process::id(),
                    target.name()
                ));
                let proc = process::start(
                    *target,
                    &process::StartConfig {
                        bot_api: args.bot_api.clone(),
                        kb: args.kb.clone(),
                        storage: args.storage.clone(),
                        state_dir: dir.clone(),
                        reference_dir: args.reference_dir.clone(),
                        env: backend.env(&format!("bench-{round}-{}", target.name())),
                    },
                )
                .await?;
                eprintln!(
                    "round {round}: {} {:?}: ready in {:.0} ms, loading...",
                    target.name(),
                    mode,
                    proc.start_to_ready.as_secs_f64() * 1e3
                );
                let cfg = LoadConfig {
                    base: proc.base.clone(),
                    mode: *mode,
                    service_url: sink.url.clone(),
                    connections: args.connections,
                    conversations: args.conversations,
                    rate: args.rate,
                    warmup: Duration::from_secs(args.warmup),
                    duration: Duration::from_secs(args.duration),
                    questions: questions.clone(),
                    unique_questions: args.unique_questions,
                    run_id: format!("{}{round}", target.name().chars().next().unwrap_or('x')),
                    window: None,
                };
                let mut cfg = cfg;
                let soak = match args.soak_every {
                    Some(every) => {
                        let window =
                            std::sync::Arc::new(std::sync::Mutex::new(load::Window::new()?));
                        cfg.window = Some(window.clone());
                        Some(soak::spawn(
                            window,
                            proc.pid(),
                            dir.clone(),
                            every,
                            args.warmup,
                        ))
                    }
                    None => None,
                };
                let proc_ready_ms = proc.start_to_ready.as_secs_f64() * 1e3;
                // The start's peak, then the load's alone: a start that
                // trains the KB peaks higher than the load, and a shipped
                // snapshot does away with that.
                let start_rss = proc.peak_rss_bytes();
                if !proc.reset_peak_rss() {
                    eprintln!("cannot reset the bot's peak RSS: RSS MB includes its start");
                }
                // CPU is read over the measured window only, for the bot and
                // for this load generator (which shares the machine's cores).
                let load = tokio::spawn(async move { load::run(&cfg).await });
                tokio::time::sleep(Duration::from_secs(args.warmup)).await;
                let (cpu_before, client_before) = (proc.cpu_seconds(), process::own_cpu_seconds());
                let outcome = load.await??;
                if let Some(s) = soak {
                    s.finish().await;
                }
                if args.idle > 0 {
                    tokio::time::sleep(Duration::from_secs(args.idle)).await;
                    eprintln!("after {} s idle: {}", args.idle, soak::store_sizes(&dir));
                }
                let cpu = proc.cpu_seconds() - cpu_before;
                let client_cpu = process::own_cpu_seconds() - client_before;
                let peak_rss = proc.peak_rss_bytes();
                let sunk = sink.count();
                drop(proc);
                let _ = std::fs::remove_dir_all(&dir);
                let mut row =
                    report::Row::new(target.name(), *mode, round, &outcome, peak_rss, cpu, sunk);
                row.start_to_ready_ms = proc_ready_ms;
                row.start_peak_rss_mb = start_rss as f64 / (1024.0 * 1024.0);
                row.client_cpu_cores = client_cpu / args.duration.max(1) as f64;
                results.push(row);
            }
        }
    }
    report::print(&results);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report::json(&results))?)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
