//! `[bot]`: the mode, and what the bot says when no intent or answer fits.

use serde::{Deserialize, Serialize};

use super::problems::{Checked, Problems};

/// `local` may run with auth off; `production` never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Local,
    Production,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RawBotSettings {
    pub mode: String,
    pub welcome: String,
    pub welcome_suggestions: Vec<String>,
    pub fallback: String,
    pub score_threshold: f32,
    pub max_turn_attempts: u32,
    pub typing_after_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BotSettings {
    pub mode: Mode,
    pub welcome: String,
    pub welcome_suggestions: Vec<String>,
    pub fallback: String,
    /// Answers under this confidence get the fallback.
    pub score_threshold: f32,
    /// How often a turn is re-run from a fresh read after an eTag conflict.
    pub max_turn_attempts: u32,
    /// A slower answer gets a typing indicator first; 0: never.
    pub typing_after_ms: u64,
}

pub fn validate(raw: RawBotSettings, p: &mut Problems<'_>) -> Checked<BotSettings> {
    let mode = p.choice(
        "bot.mode",
        &raw.mode,
        &[("local", Mode::Local), ("production", Mode::Production)],
    );
    let threshold = p.unit_interval("bot.score_threshold", raw.score_threshold);
    let attempts = p.at_least("bot.max_turn_attempts", raw.max_turn_attempts.into(), 1);
    let (mode, score_threshold) = (mode?, threshold?);
    attempts?;
    Ok(BotSettings {
        mode,
        welcome: raw.welcome,
        welcome_suggestions: raw.welcome_suggestions,
        fallback: raw.fallback,
        score_threshold,
        max_turn_attempts: raw.max_turn_attempts,
        typing_after_ms: raw.typing_after_ms,
    })
}

impl BotSettings {
    /// When a typing indicator goes out (None: never).
    pub fn typing_after(&self) -> Option<std::time::Duration> {
        (self.typing_after_ms > 0).then(|| std::time::Duration::from_millis(self.typing_after_ms))
    }

    /// What the bot itself needs of the section.
    pub fn config(&self, log_personal_information: bool) -> bot_core::BotConfig {
        bot_core::BotConfig {
            log_personal_information,
            welcome: self.welcome.clone(),
            welcome_suggestions: self.welcome_suggestions.clone(),
            fallback: self.fallback.clone(),
            score_threshold: self.score_threshold,
        }
    }
}
