//! Driving the conversations: each sends one message at a time (a user
//! waits for the answer) at its share of the rate, and redelivers the same
//! activity until it is acknowledged, as a channel does.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::sink::{Accepted, Sink};
use super::DrillArgs;

/// How long after the traffic window an unacknowledged message is still retried.
const GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct Attempt {
    /// Seconds since the drill started.
    pub at: f64,
    pub ok: bool,
    pub region: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ConversationLog {
    /// (activity id, turn number in the reply) for every acknowledged message,
    /// including every acknowledgement of a redelivery.
    pub acks: Vec<(String, u64)>,
    /// Messages never acknowledged.
    pub unacked: Vec<String>,
    /// The turn number of one more message sent after the drill.
    pub final_turn: Option<u64>,
    /// Acknowledged activities sent again on purpose: (id, first turn, turn
    /// in the answer to the redelivery). They must match.
    pub redeliveries: Vec<(String, u64, u64)>,
}

#[derive(Debug, Default)]
pub struct Log {
    pub attempts: Vec<Attempt>,
    pub conversations: Vec<ConversationLog>,
    /// When the fault command actually ran, in seconds since the start.
    pub fault_ran_at: Option<f64>,
    pub fault_status: Option<String>,
    /// How long the fault command took: the outage began somewhere inside.
    pub fault_command_secs: Option<f64>,
    pub restore_command_secs: Option<f64>,
    /// When the restore command ran, and how it ended.
    pub restore_ran_at: Option<f64>,
    pub restore_status: Option<String>,
    /// Fault command done -> the watched /readyz answers non-200 (seconds).
    pub ready_down_after: Option<f64>,
    /// Restore command done -> the watched /readyz answers 200 again.
    pub ready_up_after: Option<f64>,
    /// `--delivery channel`: what the channel accepted in the end.
    pub channel: Option<ChannelCount>,
}

/// Replies the channel accepted, over every activity the drill sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct ChannelCount {
    pub activities: u64,
    /// Activities with no accepted reply.
    pub lost: u64,
    /// Replies accepted more than once (each extra acceptance counts),
    /// except those the crash window explains (below).
    pub duplicated: u64,
    /// Replies accepted again after the fault because the killed instance
    /// died between the channel's acceptance and its progress record: the
    /// first acceptance at most [`CRASH_WINDOW`] before the fault command
    /// began and before it ended, every repeat after it ended. No protocol
    /// closes that window (the channel has no idempotent send), so the
    /// instance that takes over sends the reply again rather than lose it.
    pub crash_repeats: u64,
    /// Conversations with more than one activity among `crash_repeats`:
    /// a crash interrupts at most one turn of a conversation.
    pub crash_repeats_beyond_one_turn: u64,
    /// Every POST the channel saw, refused ones included.
    pub posts: u64,
}

struct Ctx {
    client: reqwest::Client,
    sink: Option<Arc<Sink>>,
    url: String,
    run: String,
    start: Instant,
    attempts: Mutex<Vec<Attempt>>,
}

enum Answer {
    Turn(u64),
    Failed,
}

impl Ctx {
    async fn post(&self, conv: usize, activity_id: &str) -> Answer {
        let mut body = json!({
            "type": "message", "id": activity_id, "channelId": "drill",
            "serviceUrl": "http://127.0.0.1:9/", "deliveryMode": "expectReplies",
            "conversation": {"id": format!("drill-{}-{conv}", self.run)},
            "from": {"id": format!("drill-user-{conv}")}, "recipient": {"id": "bot"},
            "text": "Hello",
        });
        if let Some(sink) = &self.sink {
            body["serviceUrl"] = json!(sink.url);
            if let Some(m) = body.as_object_mut() {
                m.remove("deliveryMode");
            }
        }
        let result = async {
            let resp = self.client.post(&self.url).json(&body).send().await?;
            let status = resp.status();
            let region = resp
                .headers()
                .get("x-bot-region")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            anyhow::Ok((status, region, body))
        }
        .await;
        let at = self.start.elapsed().as_secs_f64();
        let (attempt, answer) = match result {
            Ok((status, region, body)) if status.is_success() => {
                match self.turn(activity_id, &body) {
                    Some(turn) => (
                        Attempt {
                            at,
                            ok: true,
                            region,
                            error: None,
                        },
                        Answer::Turn(turn),
                    ),
                    None => (
                        Attempt {
                            at,
                            ok: false,
                            region,
                            error: Some("200 without a turn".into()),
                        },
                        Answer::Failed,
                    ),
                }
            }
            Ok((status, region, _)) => (
                Attempt {
                    at,
                    ok: false,
                    region,
                    error: Some(format!("HTTP {}", status.as_u16())),
                },
                Answer::Failed,
            ),
            Err(e) => (
                Attempt {
                    at,
                    ok: false,
                    region: None,
                    error: Some(short(&e.to_string())),
                },
                Answer::Failed,
            ),
        };
        self.attempts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(attempt);
        answer
    }

    /// The turn a 2xx answer stands for: from the replies in its body, or
    /// with normal delivery from the reply the channel accepted (a 2xx
    /// comes only once every reply was accepted).
    fn turn(&self, activity_id: &str, body: &Value) -> Option<u64> {
        match &self.sink {
            Some(sink) => sink.accepted(activity_id).first().and_then(|a| a.turn),
            None => turn_of(body),
        }
    }

    /// Redelivers until acknowledged or `until`.
    async fn deliver(&self, conv: usize, activity_id: &str, until: Instant) -> Option<u64> {
        loop {
            if let Answer::Turn(t) = self.post(conv, activity_id).await {
                return Some(t);
            }
            if Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100 + fastrand::u64(0..100))).await;
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(160).collect()
}

pub(super) fn turn_of(body: &Value) -> Option<u64> {
    body["activities"].as_array()?.iter().find_map(|a| {
        a["entities"]
            .as_array()?
            .iter()
            .find(|e| e["type"] == "botTurn")?["turn"]
            .as_u64()
    })
}

pub async fn drive(
    client: &reqwest::Client,
    args: &DrillArgs,
    sink: Option<Arc<Sink>>,
) -> anyhow::Result<Log> {
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        sink: sink.clone(),
        url: format!("{}/api/messages", args.front.trim_end_matches('/')),
        run: format!("{:08x}", fastrand::u32(..)),
        start: Instant::now(),
        attempts: Mutex::new(Vec::new()),
    });
    let end = ctx.start + Duration::from_secs(args.duration);
    let interval = Duration::from_secs_f64(args.conversations as f64 / args.rate);

    let fault = {
        let (cmd, at, start) = (args.fault_cmd.clone(), args.fault_at, ctx.start);
        let restore = args.restore_cmd.clone().zip(args.restore_at);
        let watch = args
            .watch_ready
            .as_ref()
            .map(|u| format!("{}/readyz", u.trim_end_matches('/')));
        let probe = bot_http::builder()
            .timeout(Duration::from_millis(1000))
            .build()?;
        let watch_until = end;
        tokio::spawn(async move {
            tokio::time::sleep_until((start + Duration::from_secs(at)).into()).await;
            // Flips are timed from the start of the command that injects or
            // ends the fault: an upper bound, as the outage begins somewhere
            // inside it.
            let ran_at = start.elapsed().as_secs_f64();
            let since = Instant::now();
            let status = match cmd {
                Some(cmd) => run_shell(&cmd).await,
                None => "no fault command".to_string(),
            };
            let fault_took = since.elapsed().as_secs_f64();
            let down_after = match &watch {
                Some(url) => until_ready(&probe, url, false, since, watch_until).await,
                None => None,
            };
            let mut restored = None;
            let mut up_after = None;
            if let Some((cmd, at)) = restore {
                tokio::time::sleep_until((start + Duration::from_secs(at)).into()).await;
                let restore_at = start.elapsed().as_secs_f64();
                let since = Instant::now();
                let status = run_shell(&cmd).await;
                let took = since.elapsed().as_secs_f64();
                if let Some(url) = &watch {
                    up_after = until_ready(&probe, url, true, since, watch_until).await;
                }
                restored = Some((restore_at, status, took));
            }
            (ran_at, status, fault_took, down_after, restored, up_after)
        })
    };

    let tasks: Vec<_> = (0..args.conversations)
        .map(|conv| {
            let ctx = ctx.clone();
            let offset = interval.mul_f64(conv as f64 / args.conversations as f64);
            let redeliver = args.redeliver;
            tokio::spawn(async move {
                let mut log = ConversationLog::default();
                let mut due = ctx.start + offset;
                let mut i = 0u64;
                while due < end {
                    tokio::time::sleep_until(due.into()).await;
                    i += 1;
                    let id = format!("{conv}-{i}");
                    match ctx.deliver(conv, &id, end + GRACE).await {
                        Some(turn) => {
                            // A channel may deliver an activity again: some are, on purpose.
                            if fastrand::f64() < redeliver {
                                if let Some(again) = ctx.deliver(conv, &id, end + GRACE).await {
                                    log.redeliveries.push((id.clone(), turn, again));
                                }
                            }
                            log.acks.push((id, turn));
                        }
                        None => log.unacked.push(id),
                    }
                    // Slots missed while redelivering are skipped, not burst.
                    due = (due + interval).max(Instant::now());
                }
                // One more message: its turn number tells what the state holds.
                log.final_turn = ctx
                    .deliver(conv, &format!("{conv}-final"), Instant::now() + GRACE)
                    .await;
                log
            })
        })
        .collect();
    let mut conversations = Vec::with_capacity(tasks.len());
    for t in tasks {
        conversations.push(t.await?);
    }
    let (ran_at, status, fault_took, ready_down_after, restored, ready_up_after) = fault.await?;
    let fault_ran = args.fault_cmd.is_some();
    let attempts = std::mem::take(&mut *ctx.attempts.lock().unwrap_or_else(|p| p.into_inner()));
    let channel = match &sink {
        Some(sink) => {
            // The fault command's span, when it ran: a kill lands inside it.
            let fault_span = fault_ran.then(|| {
                (
                    ctx.start + Duration::from_secs_f64(ran_at),
                    ctx.start + Duration::from_secs_f64(ran_at + fault_took),
                )
            });
            Some(count_replies(sink, &conversations, fault_span).await)
        }
        None => None,
    };
    Ok(Log {
        channel,
        attempts,
        conversations,
        fault_ran_at: args.fault_cmd.as_ref().map(|_| ran_at),
        fault_status: Some(status),
        fault_command_secs: args.fault_cmd.as_ref().map(|_| fault_took),
        restore_ran_at: restored.as_ref().map(|r| r.0),
        restore_status: restored.as_ref().map(|r| r.1.clone()),
        restore_command_secs: restored.as_ref().map(|r| r.2),
        ready_down_after,
        ready_up_after,
    })
}

/// How long replies may still arrive after the traffic ends (a background
/// retry, a late answer) before they are counted.
const SETTLE: Duration = Duration::from_secs(3);

/// How long before the fault a reply's acceptance may be and still have its
/// progress record unwritten when the instance died (the record is written
/// within milliseconds; this is generous for a loaded machine).
const CRASH_WINDOW: Duration = Duration::from_secs(2);

async fn count_replies(
    sink: &Sink,
    conversations: &[ConversationLog],
    fault_span: Option<(Instant, Instant)>,
) -> ChannelCount {
    tokio::time::sleep(SETTLE).await;
    let mut count = ChannelCount {
        posts: sink.posts(),
        ..Default::default()
    };
    for (conv, c) in conversations.iter().enumerate() {
        let finals = c.final_turn.map(|_| format!("{conv}-final"));
        let ids = c
            .acks
            .iter()
            .map(|(id, _)| id.clone())
            .chain(c.unacked.iter().cloned())
            .chain(finals);
        let mut crashed_turns = 0;
        for id in ids {
            count.activities += 1;
            let accepted = sink.accepted(&id);
            let extra = (accepted.len() as u64).saturating_sub(1);
            if accepted.is_empty() {
                count.lost += 1;
            } else if extra > 0 && fault_span.is_some_and(|span| crash_repeat(&accepted, span)) {
                count.crash_repeats += extra;
                crashed_turns += 1;
            } else {
                count.duplicated += extra;
            }
        }
        if crashed_turns > 1 {
            count.crash_repeats_beyond_one_turn += 1;
        }
    }
    count
}

/// Whether a reply's repeats are the crash window's: first accepted just
/// before the fault took hold, every repeat after.
fn crash_repeat(accepted: &[Accepted], (began, ended): (Instant, Instant)) -> bool {
    let first = accepted[0].at;
    first + CRASH_WINDOW >= began && first <= ended && accepted[1..].iter().all(|a| a.at > ended)
}

async fn run_shell(cmd: &str) -> String {
    match tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .await
    {
        Ok(s) => format!("{s}"),
        Err(e) => format!("could not run: {e}"),
    }
}

/// Polls `url` every 50 ms until it answers 200 (`ready`) or anything else
/// (`!ready`); the seconds since `since` that took, or None by `until`.
async fn until_ready(
    client: &reqwest::Client,
    url: &str,
    ready: bool,
    since: Instant,
    until: Instant,
) -> Option<f64> {
    loop {
        let ok = matches!(client.get(url).send().await, Ok(r) if r.status().as_u16() == 200);
        if ok == ready {
            return Some(since.elapsed().as_secs_f64());
        }
        if Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: i64) -> Accepted {
        let at = if ms >= 0 {
            base + Duration::from_millis(ms as u64)
        } else {
            base - Duration::from_millis((-ms) as u64)
        };
        Accepted { turn: Some(1), at }
    }

    #[test]
    fn only_a_repeat_across_the_kill_is_the_crash_window() {
        let began = Instant::now() + Duration::from_secs(10);
        let span = (began, began + Duration::from_millis(20));
        // Accepted just before the kill, again after it: the crash window.
        assert!(crash_repeat(&[at(began, -5), at(began, 3_000)], span));
        // Accepted twice before the kill: a plain duplicate.
        assert!(!crash_repeat(&[at(began, -50), at(began, -10)], span));
        // First accepted long before the kill: its record had time to land.
        assert!(!crash_repeat(&[at(began, -5_000), at(began, 3_000)], span));
        // First accepted after the kill ended: not the dead instance's.
        assert!(!crash_repeat(&[at(began, 500), at(began, 3_000)], span));
    }
}
