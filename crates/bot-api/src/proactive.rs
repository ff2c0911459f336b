//! An operator's message into a conversation, and the hand-offs: the one
//! path `POST /admin/conversations/...`, `/admin/handoffs` and `botctl send`
//! / `botctl handoff` all take.
//!
//! It works on the storage without the read cache: an operator must see
//! what either region wrote last.

use std::sync::Arc;

use bot_auth::ServiceUrlPolicy;
use bot_core::handoff::{self, OpenHandoff};
use bot_core::proactive;
use bot_schema::{Activity, ConnectorClient, ResourceResponse, RetryPolicy};
use bot_storage::Storage;

use crate::error::ApiError;
use crate::security;
use crate::settings::Settings;
use crate::startup::open_storage;

pub struct Proactive {
    pub storage: Arc<dyn Storage>,
    /// With the bot's own credentials.
    pub connector: ConnectorClient,
    pub service_urls: Arc<ServiceUrlPolicy>,
    /// The replies' retry policy (`[replies]`).
    pub policy: RetryPolicy,
}

impl Proactive {
    /// From the settings alone, for the command line.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let http = security::http_client()?;
        let service_urls = security::service_urls(settings)?;
        Ok(Self {
            storage: open_storage(&settings.storage).await?,
            connector: security::connector(settings, &http, &service_urls)?,
            service_urls,
            policy: settings.replies.policy(),
        })
    }

    /// Sends `activity` (a message) into a conversation the bot has seen,
    /// with sendToConversation.
    pub async fn send(
        &self,
        channel_id: &str,
        conversation_id: &str,
        activity: Activity,
    ) -> Result<ResourceResponse, ApiError> {
        let reference =
            proactive::reference(self.storage.as_ref(), channel_id, conversation_id).await?;
        let activity = proactive::prepare(&reference, activity)?;
        // The reference may come from an expectReplies activity, whose
        // serviceUrl was never checked: nothing goes where replies may not.
        if let Some(url) = activity.service_url.as_deref() {
            self.service_urls.check(url)?;
        }
        let sent = proactive::send(&self.connector, &self.policy, &activity).await?;
        tracing::info!(
            channel = channel_id,
            conversation = conversation_id,
            id = sent.id.as_deref().unwrap_or_default(),
            "an operator's message was sent into the conversation"
        );
        Ok(sent)
    }

    pub async fn handoffs(&self) -> Result<Vec<OpenHandoff>, ApiError> {
        Ok(handoff::list(self.storage.as_ref()).await?)
    }

    /// Gives a conversation back to the bot: what its hand-off recorded.
    pub async fn close_handoff(
        &self,
        channel_id: &str,
        conversation_id: &str,
    ) -> Result<OpenHandoff, ApiError> {
        let closed = handoff::close(self.storage.as_ref(), channel_id, conversation_id).await?;
        tracing::info!(
            target: "telemetry",
            event = "bot.handoff_closed",
            channel = channel_id,
            conversation = conversation_id,
            recorded = closed.handoff.messages.len(),
            "the conversation is back with the bot"
        );
        Ok(closed)
    }
}
