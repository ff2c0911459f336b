//! `[webchat]`: the local Direct Line 3.0 service and the Web Chat page at
//! `/` (local mode only).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::problems::{Checked, Problems};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct WebchatSettings {
    /// Where the page loads `webchat.js` from (Microsoft's CDN by default).
    pub script_url: String,
    /// A local copy of `webchat.js`, served at `/webchat.js` and used instead
    /// of `script_url` when set (machines without internet, the tests).
    pub script_file: String,
    /// SQLite file holding the Direct Line conversations and activities, so
    /// a restart keeps them; "" keeps them in memory only.
    pub db_path: String,
    /// Conversations kept; beyond it the least recently used are evicted.
    pub max_conversations: usize,
    /// Activities kept per conversation; beyond it the oldest are dropped
    /// (watermarks keep counting).
    pub max_activities: usize,
}

pub fn validate(raw: WebchatSettings, p: &mut Problems<'_>) -> Checked<WebchatSettings> {
    let conversations = p.at_least("webchat.max_conversations", raw.max_conversations as u64, 1);
    let activities = p.at_least("webchat.max_activities", raw.max_activities as u64, 1);
    let script = p.require(
        !raw.script_file.is_empty() || !raw.script_url.trim().is_empty(),
        "webchat.script_url",
        "",
        "set it, or webchat.script_file to a local copy of webchat.js",
    );
    let file = p.require(
        raw.script_file.is_empty() || Path::new(&raw.script_file).is_file(),
        "webchat.script_file",
        &raw.script_file,
        "no such file (a copy of botframework-webchat's dist/webchat.js)",
    );
    conversations?;
    activities?;
    script?;
    file?;
    Ok(raw)
}
