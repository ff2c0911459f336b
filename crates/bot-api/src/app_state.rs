//! What every request handler shares.

use std::sync::Arc;

use bot_auth::{ChannelValidator, ServiceUrlPolicy};
use bot_core::{Bot, Engine};
use bot_storage::Storage;

use crate::drain::Drain;
use crate::proactive::Proactive;
use crate::readiness::Readiness;
use crate::settings::Settings;
use crate::telemetry::BotTelemetry;
use crate::transcripts::TranscriptLogger;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// The bot and its turn pipeline (state, replies, the outbox).
    pub engine: Arc<Engine>,
    /// Operators' messages and hand-offs, on the storage without the read
    /// cache (they must see what the other region wrote).
    pub proactive: Arc<Proactive>,
    pub readiness: Arc<Readiness>,
    pub drain: Arc<Drain>,
    /// Inbound token validation; `None` only in local mode with no app id.
    pub auth: Option<Arc<ChannelValidator>>,
    /// Hosts replies may be sent to.
    pub service_urls: Arc<ServiceUrlPolicy>,
    pub telemetry: Arc<BotTelemetry>,
    /// Set when `[transcripts]` is on.
    pub transcripts: Option<Arc<TranscriptLogger>>,
}

impl AppState {
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.engine.storage
    }

    pub fn bot(&self) -> &Arc<Bot> {
        &self.engine.bot
    }
}
