//! `[health]`: how readiness checks its dependencies.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::parse::{redact, secret};
use super::problems::{Checked, Problems};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct HealthSettings {
    pub interval_ms: u64,
    pub check_timeout_ms: u64,
    /// When set, `/readyz` answers only requests carrying it in `x-probe-key`.
    #[serde(default, serialize_with = "redact")]
    pub probe_key: Option<SecretString>,
}

pub fn validate(mut raw: HealthSettings, p: &mut Problems<'_>) -> Checked<HealthSettings> {
    let interval = p.at_least("health.interval_ms", raw.interval_ms, 10);
    let timeout = p.at_least("health.check_timeout_ms", raw.check_timeout_ms, 10);
    interval?;
    timeout?;
    raw.probe_key = secret(&raw.probe_key);
    Ok(raw)
}
