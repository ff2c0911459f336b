//! What the drill measured, and whether it met its thresholds.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::json;

use super::traffic::Log;
use super::DrillArgs;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Second {
    pub second: u64,
    pub ok_by_region: BTreeMap<String, u64>,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub fault: String,
    pub fault_at_secs: Option<f64>,
    pub fault_command_status: Option<String>,
    pub restore_at_secs: Option<f64>,
    pub restore_command_status: Option<String>,
    /// The watched region's /readyz (polled every 50 ms): fault -> 503 and
    /// restore -> 200, in seconds from the start of the fault or restore
    /// command (an upper bound; minus the command's own time, below, it is a
    /// lower bound).
    pub readiness_flip_down_secs: Option<f64>,
    pub readiness_flip_up_secs: Option<f64>,
    pub fault_command_secs: Option<f64>,
    pub restore_command_secs: Option<f64>,
    pub conversations: usize,
    pub rate: f64,
    pub duration_secs: u64,
    pub requests_ok: u64,
    pub requests_failed: u64,
    /// Fault -> first success served by the failover region.
    pub rto_first_success_secs: Option<f64>,
    /// Fault -> the first second back at 90% of the steady rate.
    pub rto_steady_rate_secs: Option<f64>,
    pub acknowledged_turns: u64,
    pub unacknowledged_messages: u64,
    pub lost_turns: u64,
    pub duplicate_replies: u64,
    pub redeliveries_checked: u64,
    pub replies_per_region: BTreeMap<String, u64>,
    /// `--delivery channel`: activities sent, activities with no reply the
    /// channel accepted, and replies it accepted more than once.
    pub channel_activities: Option<u64>,
    pub channel_lost_replies: Option<u64>,
    pub channel_duplicate_replies: Option<u64>,
    /// Replies accepted again because the kill fell between the channel's
    /// acceptance and the progress record (see --max-crash-repeats).
    pub channel_crash_repeats: Option<u64>,
    /// Every POST the channel saw, refused ones included.
    pub channel_posts: Option<u64>,
    pub errors: BTreeMap<String, u64>,
    pub timeline: Vec<Second>,
    pub violations: Vec<String>,
}

impl Report {
    /// The report without the timeline, for the terminal.
    pub fn summary(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(json!({}));
        if let Some(m) = v.as_object_mut() {
            m.remove("timeline");
        }
        v
    }
}

pub fn build(args: &DrillArgs, log: &Log) -> Report {
    let mut timeline: BTreeMap<u64, Second> = BTreeMap::new();
    let mut replies_per_region = BTreeMap::new();
    let mut errors = BTreeMap::new();
    let (mut ok, mut failed) = (0, 0);
    for a in &log.attempts {
        let s = a.at.floor() as u64;
        let sec = timeline.entry(s).or_insert_with(|| Second {
            second: s,
            ok_by_region: BTreeMap::new(),
            failed: 0,
        });
        if a.ok {
            ok += 1;
            let region = a.region.clone().unwrap_or_else(|| "unknown".into());
            *sec.ok_by_region.entry(region.clone()).or_default() += 1;
            *replies_per_region.entry(region).or_default() += 1;
        } else {
            failed += 1;
            sec.failed += 1;
            *errors
                .entry(a.error.clone().unwrap_or_default())
                .or_default() += 1;
        }
    }
    // Fill empty seconds so the picture shows outages as zeros.
    let last = timeline.keys().last().copied().unwrap_or(0);
    for s in 0..=last {
        timeline.entry(s).or_insert_with(|| Second {
            second: s,
            ok_by_region: BTreeMap::new(),
            failed: 0,
        });
    }
    let timeline: Vec<Second> = timeline.into_values().collect();

    let fault_at = log.fault_ran_at;
    let rto_first_success_secs = fault_at.and_then(|t| {
        log.attempts
            .iter()
            .filter(|a| a.ok && a.at >= t)
            .filter(|a| match &args.failover_region {
                Some(r) => a.region.as_deref() == Some(r.as_str()),
                None => true,
            })
            .map(|a| a.at - t)
            .reduce(f64::min)
    });
    let rto_steady_rate_secs = fault_at.and_then(|t| {
        let total = |s: &Second| s.ok_by_region.values().sum::<u64>();
        let before: Vec<u64> = timeline
            .iter()
            .filter(|s| s.second >= 1 && (s.second as f64) + 1.0 <= t)
            .map(total)
            .collect();
        if before.is_empty() {
            return None;
        }
        let steady = before.iter().sum::<u64>() as f64 / before.len() as f64;
        timeline
            .iter()
            .filter(|s| s.second as f64 >= t.floor() && s.second < args.duration)
            .find(|s| total(s) as f64 >= 0.9 * steady && s.failed == 0)
            .map(|s| (s.second as f64 + 1.0 - t).max(0.0))
    });

    // Turn accounting per conversation. With correct behaviour the
    // acknowledged turns of a conversation are exactly 1..=n, and one more
    // message is turn n+1.
    let (mut acked, mut unacked, mut lost, mut dups, mut redeliveries) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for c in &log.conversations {
        acked += c.acks.len() as u64;
        unacked += c.unacked.len() as u64;
        // Two acknowledged messages with one turn number: an update was lost.
        let mut by_turn: HashMap<u64, u64> = HashMap::new();
        for (_, t) in &c.acks {
            *by_turn.entry(*t).or_default() += 1;
        }
        lost += by_turn.values().map(|n| n - 1).sum::<u64>();
        for (_, first, again) in &c.redeliveries {
            redeliveries += 1;
            if first != again {
                dups += 1;
            }
        }
        if let Some(final_turn) = c.final_turn {
            let executed = final_turn.saturating_sub(1);
            let n = c.acks.len() as u64;
            // The state holds fewer turns than were acknowledged: lost.
            lost += n.saturating_sub(executed);
            // More turns ran than messages could explain: some ran twice.
            dups += executed.saturating_sub(n + c.unacked.len() as u64);
        } else {
            lost += c.acks.len() as u64;
        }
    }

    let mut violations = Vec::new();
    if lost > args.max_lost {
        violations.push(format!("{lost} lost turns > {}", args.max_lost));
    }
    if dups > args.max_duplicates {
        violations.push(format!(
            "{dups} duplicate replies > {}",
            args.max_duplicates
        ));
    }
    if let Some(m) = args.max_failed {
        if failed > m {
            violations.push(format!("{failed} failed requests > {m}"));
        }
    }
    // Outcomes are always checked; time bounds only when asked for (an
    // operator's drill), since a shared machine's timings are not the
    // code's. The figures are in the report either way.
    if fault_at.is_some() && rto_first_success_secs.is_none() {
        violations.push("no success after the fault".to_string());
    }
    if let (Some(m), Some(r)) = (args.max_rto_secs, rto_first_success_secs) {
        if r > m {
            violations.push(format!("RTO {r:.2} s > {m} s"));
        }
    }
    if args.watch_ready.is_some() {
        let mut flips = vec![("fault", log.ready_down_after)];
        if args.restore_cmd.is_some() {
            flips.push(("restore", log.ready_up_after));
        }
        for (what, flip) in flips {
            match (flip, args.max_flip_secs) {
                (None, _) => violations.push(format!("readiness did not flip after the {what}")),
                (Some(f), Some(m)) if f > m => {
                    violations.push(format!("readiness flip after the {what} {f:.2} s > {m} s"))
                }
                _ => {}
            }
        }
    }
    if let Some(c) = &log.channel {
        if c.lost > args.max_lost {
            violations.push(format!(
                "{} activities without an accepted reply > {}",
                c.lost, args.max_lost
            ));
        }
        if c.duplicated > args.max_duplicates {
            violations.push(format!(
                "{} replies accepted more than once > {}",
                c.duplicated, args.max_duplicates
            ));
        }
        if c.crash_repeats > args.max_crash_repeats {
            violations.push(format!(
                "{} replies repeated after the crash > {}",
                c.crash_repeats, args.max_crash_repeats
            ));
        }
        if c.crash_repeats_beyond_one_turn > 0 {
            violations.push(format!(
                "{} conversations had replies of more than one turn repeated after the crash",
                c.crash_repeats_beyond_one_turn
            ));
        }
    }
    if let (Some(region), Some(_)) = (&args.failover_region, fault_at) {
        // A drill where the other region served nothing proves no failover.
        if replies_per_region.get(region).copied().unwrap_or(0) == 0 {
            violations.push(format!("the failover region {region} served nothing"));
        }
    }
    if log.conversations.iter().any(|c| c.final_turn.is_none()) {
        violations.push("a conversation's final message was never answered".to_string());
    }
    Report {
        fault: args.fault.clone(),
        fault_at_secs: fault_at,
        fault_command_status: log.fault_status.clone(),
        restore_at_secs: log.restore_ran_at,
        restore_command_status: log.restore_status.clone(),
        readiness_flip_down_secs: log.ready_down_after,
        readiness_flip_up_secs: log.ready_up_after,
        fault_command_secs: log.fault_command_secs,
        restore_command_secs: log.restore_command_secs,
        conversations: args.conversations,
        rate: args.rate,
        duration_secs: args.duration,
        requests_ok: ok,
        requests_failed: failed,
        rto_first_success_secs,
        rto_steady_rate_secs,
        acknowledged_turns: acked,
        unacknowledged_messages: unacked,
        lost_turns: lost,
        duplicate_replies: dups,
        redeliveries_checked: redeliveries,
        replies_per_region,
        channel_activities: log.channel.map(|c| c.activities),
        channel_lost_replies: log.channel.map(|c| c.lost),
        channel_duplicate_replies: log.channel.map(|c| c.duplicated),
        channel_crash_repeats: log.channel.map(|c| c.crash_repeats),
        channel_posts: log.channel.map(|c| c.posts),
        errors,
        timeline,
        violations,
    }
}
