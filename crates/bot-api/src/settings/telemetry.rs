//! `[telemetry]`: OpenTelemetry export and the bot telemetry events.

use std::path::PathBuf;

use bot_storage::BlobConfig;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::blob::BlobSettings;
use super::parse::{http_url, redact};
use super::problems::{Checked, Problems};

#[derive(Debug, Clone, Deserialize)]
pub struct RawTelemetrySettings {
    pub otlp_endpoint: String,
    pub export_interval_ms: u64,
    pub log_personal_information: bool,
    pub export_kind: String,
    pub export_dir: String,
    pub export_blob: BlobSettings,
    pub export_flush_ms: u64,
    pub export_batch_max: usize,
    pub export_queue_max: usize,
}

/// Where the bot telemetry events are exported.
#[derive(Debug, Clone, Default)]
pub enum ExportTarget {
    #[default]
    Off,
    Dir(PathBuf),
    Blob(BlobConfig),
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportKind {
    Off,
    Dir,
    Blob,
}

#[derive(Debug, Clone, Serialize)]
pub struct TelemetrySettings {
    /// OTLP/HTTP base URL; empty is off.
    pub otlp_endpoint: String,
    pub export_interval_ms: u64,
    /// botbuilder's `logPersonalInformation`.
    pub log_personal_information: bool,
    pub export_kind: ExportKind,
    pub export_dir: String,
    /// The region's telemetry container, shown when `export_kind` is blob.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_blob: Option<BlobSettings>,
    pub export_flush_ms: u64,
    pub export_batch_max: usize,
    pub export_queue_max: usize,
    /// `APPLICATIONINSIGHTS_CONNECTION_STRING`, from the environment: it
    /// carries the ingestion key, so it is a secret.
    #[serde(serialize_with = "redact")]
    pub app_insights_connection_string: Option<SecretString>,
    /// The export target `export_kind` resolves to.
    #[serde(skip)]
    pub export: ExportTarget,
}

pub fn validate(
    raw: RawTelemetrySettings,
    app_insights: Option<SecretString>,
    p: &mut Problems<'_>,
) -> Checked<TelemetrySettings> {
    let mut ok = true;
    if !raw.otlp_endpoint.is_empty() {
        ok &= http_url(
            p,
            "telemetry.otlp_endpoint",
            &raw.otlp_endpoint,
            "http://127.0.0.1:4318 (an OTLP/HTTP collector)",
        )
        .is_ok();
    }
    for (key, value, min) in [
        ("telemetry.export_interval_ms", raw.export_interval_ms, 10),
        ("telemetry.export_flush_ms", raw.export_flush_ms, 10),
        ("telemetry.export_batch_max", raw.export_batch_max as u64, 1),
        ("telemetry.export_queue_max", raw.export_queue_max as u64, 1),
    ] {
        ok &= p.at_least(key, value, min).is_ok();
    }
    let kind = p.choice(
        "telemetry.export_kind",
        &raw.export_kind,
        &[
            ("off", ExportKind::Off),
            ("dir", ExportKind::Dir),
            ("blob", ExportKind::Blob),
        ],
    )?;
    let export = match kind {
        ExportKind::Off => ExportTarget::Off,
        ExportKind::Dir if raw.export_dir.is_empty() => ExportTarget::Off,
        ExportKind::Dir => ExportTarget::Dir(PathBuf::from(&raw.export_dir)),
        ExportKind::Blob => ExportTarget::Blob(super::blob::validate(
            &raw.export_blob,
            "telemetry.export_blob",
            p,
        )?),
    };
    if !ok {
        return Err(super::problems::Reported);
    }
    Ok(TelemetrySettings {
        otlp_endpoint: raw.otlp_endpoint,
        export_interval_ms: raw.export_interval_ms,
        log_personal_information: raw.log_personal_information,
        export_kind: kind,
        export_dir: raw.export_dir,
        export_blob: matches!(kind, ExportKind::Blob).then_some(raw.export_blob),
        export_flush_ms: raw.export_flush_ms,
        export_batch_max: raw.export_batch_max,
        export_queue_max: raw.export_queue_max,
        app_insights_connection_string: app_insights,
        export,
    })
}
