//! Starting a bot under test and reading its resource use from /proc.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::process::{Child, Command};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Ours,
    BotbuilderJs,
}

impl Target {
    pub fn name(&self) -> &'static str {
        match self {
            Target::Ours => "bot-api",
            Target::BotbuilderJs => "botbuilder-js",
        }
    }
}

pub struct StartConfig {
    pub bot_api: PathBuf,
    pub kb: PathBuf,
    pub storage: String,
    pub state_dir: PathBuf,
    pub reference_dir: PathBuf,
    /// Extra environment for the bot (the stand-in store's settings).
    pub env: Vec<(String, String)>,
}

pub struct BotUnderTest {
    child: Child,
    pid: u32,
    pub base: String,
    pub start_to_ready: Duration,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub async fn start(target: Target, cfg: &StartConfig) -> anyhow::Result<BotUnderTest> {
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    std::fs::create_dir_all(&cfg.state_dir)?;
    let mut cmd = match target {
        Target::Ours => {
            let mut c = Command::new(&cfg.bot_api);
            c.env("BOT__SERVER__LISTEN", format!("127.0.0.1:{port}"))
                .env("BOT__QNA__KB_PATH", &cfg.kb)
                .env("BOT__STORAGE__KIND", &cfg.storage)
                .env("BOT__STORAGE__PATH", cfg.state_dir.join("state.db"))
                .env("BOT__LOG__LEVEL", "warn");
            c
        }
        Target::BotbuilderJs => {
            let script = cfg.reference_dir.join("index.js");
            anyhow::ensure!(
                cfg.reference_dir.join("node_modules").is_dir(),
                "{} has no node_modules: run `npm ci --prefix {}` (scripts/bench does)",
                cfg.reference_dir.display(),
                cfg.reference_dir.display()
            );
            let mut c = Command::new("node");
            c.arg(script).env("PORT", port.to_string());
            c
        }
    };
    cmd.envs(cfg.env.iter().map(|(k, v)| (k, v)));
    cmd.stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", target.name()))?;
    let pid = child.id().context("child has no pid")?;
    // Ready = the first HTTP answer: /readyz 200 for ours; any response for
    // the reference, which has no health endpoint.
    let probe = match target {
        Target::Ours => format!("{base}/readyz"),
        Target::BotbuilderJs => format!("{base}/"),
    };
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("{} exited during start-up: {status}", target.name());
        }
        if let Ok(code) = crate::load::get_status(&probe).await {
            if target == Target::BotbuilderJs || code == 200 {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            anyhow::bail!("{} not ready after 60 s", target.name());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(BotUnderTest {
        start_to_ready: started.elapsed(),
        child,
        pid,
        base,
    })
}

impl BotUnderTest {
    /// Peak resident set (VmHWM) of the bot process.
    pub fn peak_rss_bytes(&self) -> u64 {
        status_bytes(self.pid, "VmHWM:")
    }

    /// Sets the peak resident set back to what is resident now, so the
    /// next `peak_rss_bytes` is the peak of what runs from here (the load)
    /// and not of the start (which may train the KB, and maps the
    /// program's start code). False where the kernel does not allow it.
    pub fn reset_peak_rss(&self) -> bool {
        // "5" resets the high-water mark (proc(5), /proc/pid/clear_refs).
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// User + system CPU seconds used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(&self.pid.to_string())
    }
}

/// A size field of `/proc/{pid}/status` (kB there), in bytes; 0 if absent.
pub fn status_bytes(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// CPU seconds this load generator used so far.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds_of("self")
}

fn cpu_seconds_of(pid: &str) -> f64 {
    let ticks = clock_ticks();
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime, stime are 14, 15.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ut: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((ut + st) / ticks)
        })
        .unwrap_or(0.0)
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

impl Drop for BotUnderTest {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
