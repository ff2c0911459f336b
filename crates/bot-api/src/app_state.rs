//! What every request handler shares.

use std::sync::Arc;

use bot_schema::ConnectorClient;
use bot_storage::Storage;

use crate::bot::Bot;
use crate::readiness::Readiness;
use crate::settings::Settings;
use crate::transcripts::TranscriptLogger;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub storage: Arc<dyn Storage>,
    pub bot: Arc<Bot>,
    pub connector: ConnectorClient,
    pub readiness: Arc<Readiness>,
    /// Set when `[transcripts]` is on.
    pub transcripts: Option<Arc<TranscriptLogger>>,
}
