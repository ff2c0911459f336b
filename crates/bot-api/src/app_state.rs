//! What every request handler shares.

use std::sync::Arc;

use bot_auth::{ChannelValidator, ServiceUrlPolicy};
use bot_schema::ConnectorClient;
use bot_storage::Storage;

use crate::bot::Bot;
use crate::conversation_lock::ConversationLocks;
use crate::drain::Drain;
use crate::outbox::Outbox;
use crate::readiness::Readiness;
use crate::settings::Settings;
use crate::telemetry::BotTelemetry;
use crate::transcripts::TranscriptLogger;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub storage: Arc<dyn Storage>,
    pub bot: Arc<Bot>,
    pub connector: ConnectorClient,
    /// How replies reach the channel, and this instance's name in claims.
    pub outbox: Arc<Outbox>,
    pub readiness: Arc<Readiness>,
    pub drain: Arc<Drain>,
    pub conversation_locks: Arc<ConversationLocks>,
    /// Inbound token validation; `None` only in local mode with no app id.
    pub auth: Option<Arc<ChannelValidator>>,
    /// Hosts replies may be sent to.
    pub service_urls: Arc<ServiceUrlPolicy>,
    pub telemetry: Arc<BotTelemetry>,
    /// Set when `[transcripts]` is on.
    pub transcripts: Option<Arc<TranscriptLogger>>,
}
