//! The load generator: HTTP/1.1 keep-alive connections posting message
//! Activities, closed loop (as fast as answers come) or open loop (a fixed
//! rate, latency measured from each request's scheduled time so that a
//! stalled server is not flattered).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::ValueEnum;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// deliveryMode expectReplies: replies come back in the response body.
    ExpectReplies,
    /// Replies are POSTed to a local channel sink at serviceUrl.
    Sink,
    /// GET /healthz, no turn at all: the ceiling of this client and the HTTP
    /// stack on this machine, to tell whether the client is the bottleneck.
    Healthz,
}

pub struct LoadConfig {
    pub base: String,
    pub mode: Mode,
    pub service_url: String,
    pub connections: usize,
    pub conversations: usize,
    pub rate: Option<u64>,
    pub warmup: Duration,
    pub duration: Duration,
    pub questions: Arc<Vec<String>>,
    /// Every question made unique (a number appended), so no answer cache
    /// can serve it: the honest figure for a bot that caches answers.
    pub unique_questions: bool,
    pub run_id: String,
    /// Soak: answers are also counted here, for a report every interval.
    pub window: Option<Arc<std::sync::Mutex<Window>>>,
}

/// What the load saw since the last soak report.
pub struct Window {
    pub latency_us: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
}

impl Window {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            ok: 0,
            errors: 0,
        })
    }
}

pub struct Outcome {
    pub latency_us: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
}

/// Question texts (JSON-escaped) from a QnA Maker TSV: what users would ask.
pub fn questions_from_kb(path: &Path) -> anyhow::Result<Arc<Vec<String>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let all: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|q| !q.trim().is_empty())
        .collect();
    anyhow::ensure!(!all.is_empty(), "{} has no questions", path.display());
    let step = (all.len() / 500).max(1);
    Ok(Arc::new(
        all.iter()
            .step_by(step)
            .map(|q| serde_json::to_string(q).unwrap_or_else(|_| "\"hi\"".into()))
            .collect(),
    ))
}

/// The questions the bot's intent recogniser sends to the knowledge base:
/// the load measures a bot that answers. The others are the bot's own
/// commands, and one of them ("can I talk to someone") hands the
/// conversation to a person, after which the bot only keeps messages for
/// the operator; cycling hundreds of questions through each conversation,
/// every conversation would end up there. Returns the kept and the dropped.
pub fn kb_bound(
    questions: &[String],
    intents: &Path,
    threshold: f32,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let file = lu::intents::IntentsFile::load(intents)
        .with_context(|| format!("reading {}", intents.display()))?;
    let recognizer = lu::embedded::EmbeddedRecognizer::new(&file, threshold)?;
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for q in questions {
        let text: String = serde_json::from_str(q)?;
        match recognizer.recognize_uncached(&text) {
            Ok(r) if r.intent_at(threshold) != lu::NONE_INTENT => dropped.push(text),
            _ => kept.push(q.clone()),
        }
    }
    Ok((kept, dropped))
}

fn activity(cfg: &LoadConfig, k: u64) -> String {
    let c = k as usize % cfg.conversations;
    let q = &cfg.questions[k as usize % cfg.questions.len()];
    // `q` is a JSON string: the number goes inside its closing quote.
    let unique;
    let q = if cfg.unique_questions {
        unique = format!("{} {k}\"", &q[..q.len() - 1]);
        &unique
    } else {
        q
    };
    let delivery = match cfg.mode {
        Mode::ExpectReplies => ",\"deliveryMode\":\"expectReplies\"",
        Mode::Sink | Mode::Healthz => "",
    };
    format!(
        "{{\"type\":\"message\",\"id\":\"{}-{k}\",\"channelId\":\"bench\",\"serviceUrl\":\"{}\",\
         \"conversation\":{{\"id\":\"conv-{c}\"}},\"from\":{{\"id\":\"user-{c}\",\"name\":\"User\"}},\
         \"recipient\":{{\"id\":\"bot\",\"name\":\"Bot\"}},\"locale\":\"en-US\",\"text\":{q}{delivery}}}",
        cfg.run_id, cfg.service_url
    )
}

fn authority(base: &str) -> String {
    base.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

async fn connect(base: &str) -> anyhow::Result<http1::SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(authority(base)).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One GET, for readiness polling.
pub async fn get_status(url: &str) -> anyhow::Result<u16> {
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let stream = TcpStream::connect(host).await?;
    let (mut sender, conn) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = Request::get(format!("/{path}"))
        .header("host", host)
        .body(Empty::new())?;
    let resp = sender.send_request(req).await?;
    Ok(resp.status().as_u16())
}

pub async fn run(cfg: &LoadConfig) -> anyhow::Result<Outcome> {
    let cfg = Arc::new(LoadConfig {
        base: cfg.base.clone(),
        mode: cfg.mode,
        service_url: cfg.service_url.clone(),
        connections: cfg.connections,
        conversations: cfg.conversations,
        rate: cfg.rate,
        warmup: cfg.warmup,
        duration: cfg.duration,
        questions: cfg.questions.clone(),
        unique_questions: cfg.unique_questions,
        run_id: cfg.run_id.clone(),
        window: cfg.window.clone(),
    });
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let end = measure_from + cfg.duration;
    let tasks: Vec<_> = (0..cfg.connections)
        .map(|_| {
            let (cfg, next) = (cfg.clone(), next.clone());
            tokio::spawn(async move { connection_loop(cfg, next, start, measure_from, end).await })
        })
        .collect();
    let mut latency_us = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ok, mut errors) = (0, 0);
    for t in tasks {
        let (h, o, e) = t.await??;
        latency_us.add(&h)?;
        ok += o;
        errors += e;
    }
    Ok(Outcome {
        latency_us,
        ok,
        errors,
        elapsed: cfg.duration,
    })
}

async fn connection_loop(
    cfg: Arc<LoadConfig>,
    next: Arc<AtomicU64>,
    start: Instant,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<(Histogram<u64>, u64, u64)> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ok, mut errors) = (0u64, 0u64);
    let mut sender = connect(&cfg.base).await?;
    let host = authority(&cfg.base);
    loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        // Open loop: request k is due at start + k/rate.
        let due = match cfg.rate {
            Some(r) => start + Duration::from_secs_f64(k as f64 / r as f64),
            None => Instant::now(),
        };
        if due >= end {
            break;
        }
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let req = match cfg.mode {
            Mode::Healthz => Request::get("/healthz")
                .header("host", &host)
                .body(Full::new(Bytes::new()))?,
            _ => Request::post("/api/messages")
                .header("host", &host)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(activity(&cfg, k))))?,
        };
        let result = async {
            let resp = sender.send_request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        }
        .await;
        let done = Instant::now();
        let good = match &result {
            Ok((status, body)) => {
                status.is_success()
                    && (cfg.mode != Mode::ExpectReplies
                        || body.windows(12).any(|w| w == b"\"activities\""))
            }
            Err(_) => false,
        };
        if due >= measure_from {
            let us = done.duration_since(due).as_micros().max(1) as u64;
            if good {
                ok += 1;
                let _ = hist.record(us);
            } else {
                errors += 1;
            }
            if let Some(w) = &cfg.window {
                let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
                if good {
                    w.ok += 1;
                    let _ = w.latency_us.record(us);
                } else {
                    w.errors += 1;
                }
            }
        }
        if result.is_err() {
            // The connection is gone: open a new one.
            sender = connect(&cfg.base).await?;
        }
    }
    Ok((hist, ok, errors))
}
