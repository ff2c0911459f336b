//! Everything a turn needs, shared by the request path and the tasks that
//! outlive a request (reply retries), so it lives behind an `Arc`.

use std::sync::Arc;
use std::time::Duration;

use bot_schema::ConnectorClient;
use bot_storage::Storage;

use crate::bot::Bot;
use crate::conversation_lock::ConversationLocks;
use crate::observer::TurnObserver;
use crate::outbox::Outbox;

pub struct Engine {
    pub storage: Arc<dyn Storage>,
    pub bot: Arc<Bot>,
    /// Sends replies to the channel's serviceUrl.
    pub connector: ConnectorClient,
    /// How replies are retried, and this instance's name in claims.
    pub outbox: Outbox,
    pub locks: Arc<ConversationLocks>,
    /// How often a turn is re-run from a fresh read after an eTag conflict.
    pub max_turn_attempts: u32,
    pub observer: Arc<dyn TurnObserver>,
    /// A message whose answer takes longer than this gets a typing
    /// indicator meanwhile (None: never).
    pub typing_after: Option<Duration>,
}
