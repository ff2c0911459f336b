//! The bot telemetry event as exported: the one type the events module
//! (which builds them) and the export (which writes them) share, so neither
//! imports the other.

use serde::Serialize;
use serde_json::{Map, Value};

/// One event as written to the continuous export (one NDJSON line).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryEvent {
    pub time: chrono::DateTime<chrono::Utc>,
    pub name: &'static str,
    pub region: String,
    pub instance: String,
    /// Not personal data by botbuilder's rules; what App Insights keeps as
    /// the event's context.
    pub channel_id: String,
    pub conversation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    pub properties: Map<String, Value>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metrics: Map<String, Value>,
}
