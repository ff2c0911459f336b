//! `[webchat]`: the local Direct Line 3.0 service and the Web Chat page at
//! `/` (local mode only). Every key has a default so a config without the
//! section still loads.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::settings::SettingsError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
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

impl Default for WebchatSettings {
    fn default() -> Self {
        Self {
            script_url: "https://cdn.botframework.com/botframework-webchat/4.18.0/webchat.js"
                .into(),
            script_file: String::new(),
            db_path: "data/directline.db".into(),
            max_conversations: 1000,
            max_activities: 1000,
        }
    }
}

/// Checks the section; `invalid(key, value, reason)` builds the error that
/// names the key and where its value came from.
pub fn validate(
    raw: WebchatSettings,
    invalid: &dyn Fn(&str, &str, &str) -> SettingsError,
) -> Result<WebchatSettings, SettingsError> {
    if raw.max_conversations == 0 {
        return Err(invalid(
            "webchat.max_conversations",
            "0",
            "must be at least 1",
        ));
    }
    if raw.max_activities == 0 {
        return Err(invalid("webchat.max_activities", "0", "must be at least 1"));
    }
    if raw.script_file.is_empty() && raw.script_url.trim().is_empty() {
        return Err(invalid(
            "webchat.script_url",
            "",
            "set it, or webchat.script_file to a local copy of webchat.js",
        ));
    }
    if !raw.script_file.is_empty() && !Path::new(&raw.script_file).is_file() {
        return Err(invalid(
            "webchat.script_file",
            &raw.script_file,
            "no such file (a copy of botframework-webchat's dist/webchat.js)",
        ));
    }
    Ok(raw)
}
