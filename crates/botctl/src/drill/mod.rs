//! `botctl drill`: a DR drill. Drives conversations through the traffic
//! router at a steady rate, injects a fault at a set time (by running the
//! command it is given: kill region A, drain it, cut its storage), keeps
//! driving, then reports RTO, failed requests, lost turns and duplicate
//! replies, draws the timeline, and exits non-zero when a threshold breaks.

mod report;
mod sink;
pub mod split;
mod timeline;
mod traffic;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    ExpectReplies,
    Channel,
}

#[derive(Args, Debug, Clone)]
pub struct DrillArgs {
    /// The traffic router's URL (HAProxy locally, Traffic Manager in Azure).
    #[arg(long)]
    pub front: String,
    /// Concurrent conversations.
    #[arg(long, default_value_t = 20)]
    pub conversations: usize,
    /// Messages per second, over all conversations.
    #[arg(long, default_value_t = 40.0)]
    pub rate: f64,
    /// Seconds of traffic.
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Seconds after the start when the fault is injected.
    #[arg(long, default_value_t = 10)]
    pub fault_at: u64,
    /// A name for the fault in the report (kill, drain, storage, none).
    #[arg(long, default_value = "none")]
    pub fault: String,
    /// Shell command that injects the fault (run with `sh -c`).
    #[arg(long)]
    pub fault_cmd: Option<String>,
    /// Shell command that ends the fault (run with `sh -c` at --restore-at).
    #[arg(long)]
    pub restore_cmd: Option<String>,
    /// Seconds after the start when --restore-cmd runs.
    #[arg(long)]
    pub restore_at: Option<u64>,
    /// A region's own URL whose /readyz is polled every 50 ms after the
    /// fault (until it answers non-200) and after the restore (until 200):
    /// the readiness flip latencies in the report, timed from the start of
    /// the fault and restore commands.
    #[arg(long)]
    pub watch_ready: Option<String>,
    /// The region that should take over (its x-bot-region value).
    #[arg(long)]
    pub failover_region: Option<String>,
    /// How replies come back: in the HTTP answer (expectReplies), or POSTed
    /// by the bot to a channel endpoint the drill runs (normal delivery, as
    /// production runs), where every accepted reply is counted.
    #[arg(long, value_enum, default_value = "expect-replies")]
    pub delivery: Delivery,
    /// With `--delivery channel`: the channel answers 503 to the first POST
    /// of each reply.
    #[arg(long)]
    pub sink_refuse_first: bool,
    /// Share of acknowledged messages delivered a second time, to check that
    /// a redelivery gets the original answer and runs no turn.
    #[arg(long, default_value_t = 0.1)]
    pub redeliver: f64,
    /// Per-request timeout in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub request_timeout_ms: u64,
    /// JSON report path.
    #[arg(long, default_value = "drill-report.json")]
    pub report: PathBuf,
    /// Timeline picture (SVG).
    #[arg(long, default_value = "drill-timeline.svg")]
    pub timeline: PathBuf,
    /// Thresholds: the drill fails when any is exceeded.
    #[arg(long, default_value_t = 0)]
    pub max_lost: u64,
    #[arg(long, default_value_t = 0)]
    pub max_duplicates: u64,
    /// With `--delivery channel` and a fault that kills an instance: replies
    /// the channel accepted just before the kill, whose progress record the
    /// instance never wrote, and which the region taking over sent again
    /// (at least once, never lost). Counted apart from other duplicates,
    /// which stay bounded by --max-duplicates; a conversation may have such
    /// a repeat for one turn only.
    #[arg(long, default_value_t = 0)]
    pub max_crash_repeats: u64,
    #[arg(long)]
    pub max_failed: Option<u64>,
    /// A time bound on the recovery (first success after the fault). With
    /// or without it, a drill with no success after its fault fails.
    #[arg(long)]
    pub max_rto_secs: Option<f64>,
    /// A time bound on readiness flips (see --watch-ready). With or without
    /// it, a watched readiness that never flips fails the drill.
    #[arg(long)]
    pub max_flip_secs: Option<f64>,
}

pub async fn run(args: DrillArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.conversations > 0, "--conversations must be at least 1");
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    anyhow::ensure!(
        args.fault_at < args.duration,
        "--fault-at must be inside --duration"
    );
    if let Some(at) = args.restore_at {
        anyhow::ensure!(
            args.fault_at < at && at < args.duration,
            "--restore-at must be after --fault-at and inside --duration"
        );
    }
    anyhow::ensure!(
        args.restore_cmd.is_some() == args.restore_at.is_some(),
        "--restore-cmd and --restore-at go together"
    );
    let client = bot_http::builder()
        .timeout(Duration::from_millis(args.request_timeout_ms))
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .context("building the HTTP client")?;
    let sink = match args.delivery {
        Delivery::Channel => Some(std::sync::Arc::new(
            sink::Sink::start(args.sink_refuse_first).await?,
        )),
        Delivery::ExpectReplies => None,
    };
    let log = traffic::drive(&client, &args, sink).await?;
    let report = report::build(&args, &log);
    std::fs::write(&args.report, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", args.report.display()))?;
    timeline::draw(&args.timeline, &report)
        .with_context(|| format!("drawing {}", args.timeline.display()))?;
    println!("{}", serde_json::to_string_pretty(&report.summary())?);
    eprintln!(
        "report: {}  timeline: {}",
        args.report.display(),
        args.timeline.display()
    );
    if report.violations.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for v in &report.violations {
            eprintln!("drill threshold broken: {v}");
        }
        Ok(ExitCode::from(3))
    }
}
