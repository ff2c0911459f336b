//! `[log]`: the format and level of the service's own log.

use serde::{Deserialize, Serialize};

use super::problems::{Checked, Problems};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RawLogSettings {
    pub format: String,
    pub level: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter (`info`, `bot_api=debug,info`); RUST_LOG wins.
    pub level: String,
}

pub fn validate(raw: RawLogSettings, p: &mut Problems<'_>) -> Checked<LogSettings> {
    let format = p.choice(
        "log.format",
        &raw.format,
        &[("text", LogFormat::Text), ("json", LogFormat::Json)],
    )?;
    Ok(LogSettings {
        format,
        level: raw.level,
    })
}
