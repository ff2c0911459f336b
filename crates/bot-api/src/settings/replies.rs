//! `[replies]`: how replies reach the channel (see bot-core's `outbox`).

use serde::{Deserialize, Serialize};

use super::problems::{Checked, Problems};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RepliesSettings {
    /// Every try of a turn's replies ends within this, counted from the
    /// activity's arrival: under the channel's own 15 s.
    pub budget_ms: u64,
    /// One POST to the channel at most takes this.
    pub per_try_timeout_ms: u64,
    /// Replies not accepted within the budget are tried again in the
    /// background for this long (0: only on redelivery or the next activity).
    pub background_for_ms: u64,
    /// Conversations retried in the background at once, at most.
    pub max_background: usize,
}

pub fn validate(raw: RepliesSettings, p: &mut Problems<'_>) -> Checked<RepliesSettings> {
    let budget = p.require(
        (100..=14_000).contains(&raw.budget_ms),
        "replies.budget_ms",
        raw.budget_ms,
        "must be 100 to 14000: the channel waits 15 s for its answer",
    );
    // A try never outlasts what is left of the budget, so a per-try
    // timeout above it is harmless and needs no refusal.
    let per_try = p.at_least("replies.per_try_timeout_ms", raw.per_try_timeout_ms, 1);
    budget?;
    per_try?;
    Ok(raw)
}

impl RepliesSettings {
    pub fn policy(&self) -> bot_schema::RetryPolicy {
        bot_schema::RetryPolicy {
            budget: std::time::Duration::from_millis(self.budget_ms),
            per_try_timeout: std::time::Duration::from_millis(self.per_try_timeout_ms),
            ..Default::default()
        }
    }
}
