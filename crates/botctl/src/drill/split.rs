//! `botctl split-drill`: concurrent turns on ONE conversation, half sent to
//! region A and half to region B directly (the router bypassed), on shared
//! storage. Every acknowledged message must be one turn in the state: the
//! final turn counter equals the acknowledged messages and no turn number
//! is handed out twice. Only the eTag-guarded save keeps that true across
//! processes; the per-process conversation lock does not reach the other
//! region.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use serde_json::{json, Value};

use super::traffic::turn_of;

#[derive(Args, Debug, Clone)]
pub struct SplitArgs {
    /// Region A's own URL (not the router's).
    #[arg(long)]
    pub region_a: String,
    /// Region B's own URL.
    #[arg(long)]
    pub region_b: String,
    /// Messages in the conversation; even ones go to A, odd ones to B.
    #[arg(long, default_value_t = 200)]
    pub messages: usize,
    /// Messages in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Per-request timeout in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub request_timeout_ms: u64,
    /// How long a message is redelivered (same id, same region) until
    /// acknowledged, in seconds.
    #[arg(long, default_value_t = 60)]
    pub deliver_for_secs: u64,
    /// JSON report path.
    #[arg(long, default_value = "split-report.json")]
    pub report: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitReport {
    pub conversation: String,
    pub messages: usize,
    pub concurrency: usize,
    pub acknowledged: u64,
    pub unacknowledged: u64,
    pub acknowledged_per_region: BTreeMap<String, u64>,
    /// Answers that were not a turn (e.g. 503 after too many eTag
    /// conflicts); the message was sent again.
    pub failed_attempts: u64,
    pub errors: BTreeMap<String, u64>,
    /// Turns the state holds after the run (the next message's turn - 1).
    pub final_turn_counter: Option<u64>,
    /// Acknowledged messages the state does not count.
    pub lost_updates: u64,
    /// Turn numbers given to more than one acknowledged message.
    pub repeated_turns: u64,
    /// Turns counted beyond the messages sent (a message run twice).
    pub extra_turns: u64,
    pub elapsed_secs: f64,
    pub turns_per_sec: f64,
    pub violations: Vec<String>,
}

struct Target {
    url: String,
}

async fn post(
    client: &reqwest::Client,
    target: &Target,
    conversation: &str,
    id: &str,
) -> Result<(u64, Option<String>), String> {
    let body = json!({
        "type": "message", "id": id, "channelId": "drill",
        "serviceUrl": "http://127.0.0.1:9/", "deliveryMode": "expectReplies",
        "conversation": {"id": conversation},
        "from": {"id": "split-user"}, "recipient": {"id": "bot"},
        "text": "Hello",
    });
    let resp = client
        .post(&target.url)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string().chars().take(160).collect::<String>())?;
    let status = resp.status();
    let region = resp
        .headers()
        .get("x-bot-region")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    turn_of(&body)
        .map(|t| (t, region))
        .ok_or_else(|| "200 without a turn".to_string())
}

pub async fn run(args: SplitArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.messages > 0, "--messages must be at least 1");
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let client = bot_http::builder()
        .timeout(Duration::from_millis(args.request_timeout_ms))
        .build()
        .context("building the HTTP client")?;
    let targets = Arc::new([
        Target {
            url: format!("{}/api/messages", args.region_a.trim_end_matches('/')),
        },
        Target {
            url: format!("{}/api/messages", args.region_b.trim_end_matches('/')),
        },
    ]);
    let conversation = format!("split-{:08x}", fastrand::u32(..));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.deliver_for_secs);
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (client, targets, next, conversation) = (
                client.clone(),
                targets.clone(),
                next.clone(),
                conversation.clone(),
            );
            let messages = args.messages;
            tokio::spawn(async move {
                // (message, turn, region) per acknowledgement; errors seen.
                let mut acks = Vec::new();
                let mut unacked = 0u64;
                let mut errors: Vec<String> = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= messages {
                        break;
                    }
                    let id = format!("m-{i}");
                    let target = &targets[i % 2];
                    loop {
                        match post(&client, target, &conversation, &id).await {
                            Ok((turn, region)) => {
                                acks.push((i, turn, region));
                                break;
                            }
                            Err(e) => errors.push(e),
                        }
                        if Instant::now() >= deadline {
                            unacked += 1;
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(20 + fastrand::u64(0..30))).await;
                    }
                }
                (acks, unacked, errors)
            })
        })
        .collect();
    let mut acks = Vec::new();
    let mut unacked = 0;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for w in workers {
        let (a, u, e) = w.await?;
        acks.extend(a);
        unacked += u;
        for e in e {
            *errors.entry(e).or_default() += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // One more message: its turn number tells what the state holds.
    let final_id = "m-final";
    let mut final_turn = None;
    while Instant::now() < deadline + Duration::from_secs(10) {
        match post(&client, &targets[0], &conversation, final_id).await {
            Ok((t, _)) => {
                final_turn = Some(t);
                break;
            }
            Err(e) => *errors.entry(e).or_default() += 1,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = build(
        &args,
        conversation,
        &acks,
        unacked,
        errors,
        final_turn,
        elapsed,
    );
    std::fs::write(&args.report, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", args.report.display()))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if report.violations.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for v in &report.violations {
            eprintln!("split drill threshold broken: {v}");
        }
        Ok(ExitCode::from(3))
    }
}

fn build(
    args: &SplitArgs,
    conversation: String,
    acks: &[(usize, u64, Option<String>)],
    unacked: u64,
    errors: BTreeMap<String, u64>,
    final_turn: Option<u64>,
    elapsed: f64,
) -> SplitReport {
    let acknowledged = acks.len() as u64;
    let mut per_region = BTreeMap::new();
    let mut by_turn: HashMap<u64, u64> = HashMap::new();
    for (_, turn, region) in acks {
        *per_region
            .entry(region.clone().unwrap_or_else(|| "unknown".into()))
            .or_default() += 1;
        *by_turn.entry(*turn).or_default() += 1;
    }
    let repeated_turns = by_turn.values().map(|n| n - 1).sum::<u64>();
    let counter = final_turn.map(|t| t.saturating_sub(1));
    let lost_updates = match counter {
        Some(c) => acknowledged.saturating_sub(c),
        None => acknowledged,
    };
    let extra_turns = counter
        .map(|c| c.saturating_sub(acknowledged + unacked))
        .unwrap_or(0);
    let mut violations = Vec::new();
    if lost_updates > 0 {
        violations.push(format!("{lost_updates} lost updates"));
    }
    if repeated_turns > 0 {
        violations.push(format!("{repeated_turns} repeated turn numbers"));
    }
    if extra_turns > 0 {
        violations.push(format!("{extra_turns} turns ran twice"));
    }
    if unacked > 0 {
        violations.push(format!("{unacked} messages never acknowledged"));
    }
    if final_turn.is_none() {
        violations.push("the final message was never answered".into());
    }
    if per_region.len() < 2 {
        violations.push(format!(
            "replies came from {} region(s), not both",
            per_region.len()
        ));
    }
    SplitReport {
        conversation,
        messages: args.messages,
        concurrency: args.concurrency,
        acknowledged,
        unacknowledged: unacked,
        acknowledged_per_region: per_region,
        failed_attempts: errors.values().sum(),
        errors,
        final_turn_counter: counter,
        lost_updates,
        repeated_turns,
        extra_turns,
        elapsed_secs: elapsed,
        turns_per_sec: if elapsed > 0.0 {
            acknowledged as f64 / elapsed
        } else {
            0.0
        },
        violations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> SplitArgs {
        SplitArgs {
            region_a: "http://a".into(),
            region_b: "http://b".into(),
            messages: 4,
            concurrency: 2,
            request_timeout_ms: 1000,
            deliver_for_secs: 1,
            report: "r.json".into(),
        }
    }

    fn ack(i: usize, turn: u64) -> (usize, u64, Option<String>) {
        let region = if i.is_multiple_of(2) {
            "local-a"
        } else {
            "local-b"
        };
        (i, turn, Some(region.into()))
    }

    #[test]
    fn a_clean_run_has_no_violations() {
        let acks: Vec<_> = (0..4).map(|i| ack(i, i as u64 + 1)).collect();
        let r = build(&args(), "c".into(), &acks, 0, BTreeMap::new(), Some(5), 1.0);
        assert_eq!(r.final_turn_counter, Some(4));
        assert_eq!((r.lost_updates, r.repeated_turns, r.extra_turns), (0, 0, 0));
        assert!(r.violations.is_empty(), "{:?}", r.violations);
    }

    #[test]
    fn a_lost_update_shows_as_a_repeated_turn_and_a_short_counter() {
        // Two regions both wrote turn 2 over the same state: one update lost.
        let acks = vec![ack(0, 1), ack(1, 2), ack(2, 2), ack(3, 3)];
        let r = build(&args(), "c".into(), &acks, 0, BTreeMap::new(), Some(4), 1.0);
        assert_eq!(r.lost_updates, 1);
        assert_eq!(r.repeated_turns, 1);
        assert_eq!(r.violations.len(), 2, "{:?}", r.violations);
    }

    #[test]
    fn a_turn_run_twice_is_counted() {
        let acks: Vec<_> = (0..4).map(|i| ack(i, i as u64 + 1)).collect();
        let r = build(&args(), "c".into(), &acks, 0, BTreeMap::new(), Some(7), 1.0);
        assert_eq!(r.extra_turns, 2);
        assert!(!r.violations.is_empty());
    }
}
