//! Messages the bot starts: an operator's message into a conversation,
//! sent with the Connector's sendToConversation, the bot's own token and
//! the replies' retry policy.
//!
//! Where it goes is the conversation's reference, kept in its state by
//! every turn (botbuilder's `ConversationReference`); never what the
//! request says, so a caller cannot point the bot or its token anywhere else.

use std::time::Instant;

use bot_schema::activity::now_rfc3339;
use bot_schema::{
    activity_types, Activity, ConnectorClient, ConversationReference, ResourceResponse, RetryPolicy,
};
use bot_storage::Storage;

use crate::error::CoreError;
use crate::state::{ConversationState, StateDoc};

/// The reference of a conversation the bot has seen.
pub async fn reference(
    storage: &dyn Storage,
    channel_id: &str,
    conversation_id: &str,
) -> Result<ConversationReference, CoreError> {
    let key = ConversationState::key(channel_id, conversation_id);
    let mut items = storage.read(std::slice::from_ref(&key)).await?;
    ConversationState(StateDoc::from_item(key.clone(), items.remove(&key)))
        .reference()
        .filter(|r| r.service_url.is_some())
        .ok_or_else(|| CoreError::ConversationNotFound {
            channel: channel_id.to_string(),
            conversation: conversation_id.to_string(),
        })
}

/// `activity` addressed by `reference`, as botbuilder's
/// `applyConversationReference` does for an outgoing activity, but as a new
/// message in the conversation (no `replyToId`). Only messages with text or
/// attachments are sent.
pub fn prepare(
    reference: &ConversationReference,
    mut activity: Activity,
) -> Result<Activity, CoreError> {
    let kind = activity
        .kind
        .get_or_insert_with(|| activity_types::MESSAGE.to_string());
    if kind != activity_types::MESSAGE {
        return Err(CoreError::InvalidActivity(format!(
            "activity.type {kind:?}: only message activities are sent into a conversation"
        )));
    }
    let has_text = activity
        .text
        .as_deref()
        .is_some_and(|t| !t.trim().is_empty());
    let has_attachments = activity.attachments.as_ref().is_some_and(|a| !a.is_empty());
    if !has_text && !has_attachments {
        return Err(CoreError::InvalidActivity(
            "a message needs text or attachments".to_string(),
        ));
    }
    activity.id = None;
    activity.reply_to_id = None;
    activity.timestamp = Some(now_rfc3339());
    activity.from = reference.bot.clone();
    activity.recipient = reference.user.clone();
    activity.conversation = reference.conversation.clone();
    activity.channel_id = reference.channel_id.clone();
    activity.service_url = reference.service_url.clone();
    if activity.locale.is_none() {
        activity.locale = reference.locale.clone();
    }
    Ok(activity)
}

/// Sends a prepared activity, tried again within the policy's budget.
pub async fn send(
    connector: &ConnectorClient,
    policy: &RetryPolicy,
    activity: &Activity,
) -> Result<ResourceResponse, CoreError> {
    let deadline = Instant::now() + policy.budget;
    connector
        .send(activity, policy, deadline)
        .await
        .map_err(CoreError::Undelivered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reference() -> ConversationReference {
        serde_json::from_value(json!({
            "activityId": "a9", "user": {"id": "29:u"}, "bot": {"id": "28:bot", "name": "FAQ Bot"},
            "conversation": {"id": "a:1", "tenantId": "t"}, "channelId": "msteams",
            "locale": "en-GB", "serviceUrl": "https://smba.trafficmanager.net/emea/",
        }))
        .unwrap()
    }

    #[test]
    fn routing_comes_from_the_reference_never_the_body() {
        let body: Activity = serde_json::from_value(json!({
            "text": "An operator here.", "serviceUrl": "https://evil.example/",
            "conversation": {"id": "other"}, "replyToId": "x", "id": "y",
        }))
        .unwrap();
        let a = prepare(&reference(), body).unwrap();
        assert_eq!(a.kind(), "message");
        assert_eq!(
            a.service_url.as_deref(),
            Some("https://smba.trafficmanager.net/emea/")
        );
        assert_eq!(a.conversation_id(), Some("a:1"));
        assert_eq!(a.recipient_id(), Some("29:u"));
        assert_eq!(a.from.unwrap().name.as_deref(), Some("FAQ Bot"));
        assert_eq!((a.reply_to_id, a.id), (None, None));
        assert_eq!(a.locale.as_deref(), Some("en-GB"));
        assert_eq!(
            ConnectorClient::activity_url(
                &prepare(
                    &reference(),
                    Activity {
                        text: Some("x".into()),
                        ..Default::default()
                    }
                )
                .unwrap()
            )
            .unwrap(),
            "https://smba.trafficmanager.net/emea/v3/conversations/a%3A1/activities"
        );
    }

    #[test]
    fn empty_messages_and_other_types_are_refused() {
        for body in [
            json!({}),
            json!({"text": "  "}),
            json!({"type": "event", "text": "x"}),
        ] {
            let a: Activity = serde_json::from_value(body.clone()).unwrap();
            assert!(
                matches!(prepare(&reference(), a), Err(CoreError::InvalidActivity(_))),
                "{body}"
            );
        }
    }
}
