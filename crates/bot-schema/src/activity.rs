//! The Activity and the accounts and references it carries.
//!
//! Every field is optional, spelled exactly as botframework-schema spells it,
//! and every struct keeps the fields it does not know in `extra`, so that a
//! channel's own fields survive parse -> serialize unchanged.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cards::{Attachment, SuggestedActions};

/// The activity types of the Bot Framework schema.
pub mod activity_types {
    pub const MESSAGE: &str = "message";
    pub const CONVERSATION_UPDATE: &str = "conversationUpdate";
    pub const CONTACT_RELATION_UPDATE: &str = "contactRelationUpdate";
    pub const TYPING: &str = "typing";
    pub const END_OF_CONVERSATION: &str = "endOfConversation";
    pub const EVENT: &str = "event";
    pub const INVOKE: &str = "invoke";
    pub const INVOKE_RESPONSE: &str = "invokeResponse";
    pub const DELETE_USER_DATA: &str = "deleteUserData";
    pub const MESSAGE_UPDATE: &str = "messageUpdate";
    pub const MESSAGE_DELETE: &str = "messageDelete";
    pub const INSTALLATION_UPDATE: &str = "installationUpdate";
    pub const MESSAGE_REACTION: &str = "messageReaction";
    pub const SUGGESTION: &str = "suggestion";
    pub const TRACE: &str = "trace";
    pub const HANDOFF: &str = "handoff";
    pub const COMMAND: &str = "command";
    pub const COMMAND_RESULT: &str = "commandResult";
}

/// `deliveryMode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryMode {
    Normal,
    Notification,
    ExpectReplies,
    Ephemeral,
}

impl DeliveryMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "normal" => Some(Self::Normal),
            "notification" => Some(Self::Notification),
            "expectReplies" => Some(Self::ExpectReplies),
            "ephemeral" => Some(Self::Ephemeral),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_object_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChannelAccount {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationAccount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_group: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_object_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<ChannelAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<ChannelAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageReaction {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextHighlight {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SemanticAction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Bot Framework Activity. Fields are `Option` because every activity type
/// uses a different subset; the schema itself marks none as required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ChannelAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<ChannelAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speak: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Attachment>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_layout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relates_to: Option<ConversationReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_for: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_highlights: Option<Vec<TextHighlight>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_action: Option<SemanticAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_added: Option<Vec<ChannelAccount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_removed: Option<Vec<ChannelAccount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions_added: Option<Vec<MessageReaction>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions_removed: Option<Vec<MessageReaction>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_disclosed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_actions: Option<SuggestedActions>,
    /// Fields this schema does not name (channel extensions), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Activity {
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("")
    }

    pub fn is_type(&self, t: &str) -> bool {
        self.kind.as_deref() == Some(t)
    }

    pub fn channel_id(&self) -> &str {
        self.channel_id.as_deref().unwrap_or("")
    }

    pub fn conversation_id(&self) -> Option<&str> {
        self.conversation.as_ref()?.id.as_deref()
    }

    pub fn from_id(&self) -> Option<&str> {
        self.from.as_ref()?.id.as_deref()
    }

    pub fn recipient_id(&self) -> Option<&str> {
        self.recipient.as_ref()?.id.as_deref()
    }

    pub fn delivery_mode(&self) -> DeliveryMode {
        self.delivery_mode
            .as_deref()
            .and_then(DeliveryMode::parse)
            .unwrap_or(DeliveryMode::Normal)
    }

    /// The id replies to this activity name as `replyToId`: its own id,
    /// except for a conversationUpdate on Direct Line and Web Chat, as
    /// botbuilder's `getConversationReference` decides.
    pub fn reply_to_id_for_replies(&self) -> Option<String> {
        if self.is_type(activity_types::CONVERSATION_UPDATE)
            && !crate::channels::replies_to_conversation_update(self.channel_id())
        {
            return None;
        }
        self.id.clone()
    }

    /// A message reply to this activity, as botbuilder's `createReply` makes it:
    /// from and recipient swapped; conversation, channelId, serviceUrl and
    /// locale copied; replyToId set to this activity's id (see
    /// [`reply_to_id_for_replies`](Self::reply_to_id_for_replies)).
    pub fn create_reply(&self, text: impl Into<String>) -> Activity {
        Activity {
            kind: Some(activity_types::MESSAGE.to_string()),
            timestamp: Some(now_rfc3339()),
            from: self.recipient.clone(),
            recipient: self.from.clone(),
            reply_to_id: self.reply_to_id_for_replies(),
            service_url: self.service_url.clone(),
            channel_id: self.channel_id.clone(),
            conversation: self.conversation.clone(),
            locale: self.locale.clone(),
            text: Some(text.into()),
            text_format: Some("plain".to_string()),
            input_hint: Some("acceptingInput".to_string()),
            ..Default::default()
        }
    }

    /// A typing indicator in reply to this one, as botbuilder's
    /// `ShowTypingMiddleware` sends while a slow turn runs.
    pub fn create_typing(&self) -> Activity {
        Activity {
            kind: Some(activity_types::TYPING.to_string()),
            from: self.recipient.clone(),
            recipient: self.from.clone(),
            reply_to_id: self.reply_to_id_for_replies(),
            service_url: self.service_url.clone(),
            channel_id: self.channel_id.clone(),
            conversation: self.conversation.clone(),
            relates_to: self.relates_to.clone(),
            ..Default::default()
        }
    }

    /// A trace activity in reply to this one (shown only by the Emulator).
    pub fn create_trace(
        &self,
        name: &str,
        value: Value,
        value_type: &str,
        label: &str,
    ) -> Activity {
        Activity {
            kind: Some(activity_types::TRACE.to_string()),
            timestamp: Some(now_rfc3339()),
            from: self.recipient.clone(),
            recipient: self.from.clone(),
            reply_to_id: self.reply_to_id_for_replies(),
            service_url: self.service_url.clone(),
            channel_id: self.channel_id.clone(),
            conversation: self.conversation.clone(),
            name: Some(name.to_string()),
            label: Some(label.to_string()),
            value_type: Some(value_type.to_string()),
            value: Some(value),
            ..Default::default()
        }
    }

    /// The conversation reference of this activity, as botbuilder's
    /// `TurnContext.getConversationReference` builds it.
    pub fn conversation_reference(&self) -> ConversationReference {
        ConversationReference {
            activity_id: self.reply_to_id_for_replies(),
            user: self.from.clone(),
            bot: self.recipient.clone(),
            conversation: self.conversation.clone(),
            channel_id: self.channel_id.clone(),
            locale: self.locale.clone(),
            service_url: self.service_url.clone(),
            extra: Map::new(),
        }
    }
}

/// Now, as the schema's timestamps spell it (UTC, milliseconds).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn every_field() -> Value {
        json!({
            "type": "message", "id": "a1", "timestamp": "2026-11-29T10:00:00.123Z",
            "localTimestamp": "2026-11-29T11:00:00.123+01:00", "localTimezone": "Europe/Paris",
            "serviceUrl": "https://smba.trafficmanager.net/emea/", "channelId": "msteams",
            "from": {"id": "u1", "name": "User", "aadObjectId": "aad", "role": "user", "properties": {"x": 1}},
            "conversation": {"isGroup": true, "conversationType": "channel", "id": "c1", "name": "n",
                              "aadObjectId": "o", "role": "bot", "tenantId": "t", "teamsExtra": [1, 2]},
            "recipient": {"id": "b1", "name": "Bot"},
            "text": "hi", "textFormat": "markdown", "locale": "en-US", "speak": "<speak/>",
            "inputHint": "expectingInput",
            "attachments": [{"contentType": "application/vnd.microsoft.card.hero",
                             "content": {"title": "t", "buttons": [{"type": "imBack", "title": "a", "value": "a"}]},
                             "name": "card", "thumbnailUrl": "https://x/y.png", "contentUrl": "https://x/z"}],
            "attachmentLayout": "carousel",
            "entities": [{"type": "mention", "text": "<at>Bot</at>", "mentioned": {"id": "b1"}}],
            "channelData": {"tenant": {"id": "t"}, "deep": {"nested": [1, {"a": null}]}},
            "action": "add", "replyToId": "r0", "label": "l", "valueType": "vt",
            "value": {"k": [1, 2.5, "s", false]}, "name": "n",
            "relatesTo": {"activityId": "r", "user": {"id": "u"}, "bot": {"id": "b"},
                          "conversation": {"id": "c"}, "channelId": "ch", "serviceUrl": "s", "locale": "en"},
            "code": "completedSuccessfully", "expiration": "2026-12-01T00:00:00Z", "importance": "high",
            "deliveryMode": "expectReplies", "listenFor": ["yes", "no"],
            "textHighlights": [{"text": "hi", "occurrence": 1}],
            "semanticAction": {"id": "sa", "state": "start", "entities": {"e": {"type": "x"}}},
            "callerId": "urn:botframework:azure",
            "membersAdded": [{"id": "u2"}], "membersRemoved": [{"id": "u3"}],
            "reactionsAdded": [{"type": "like"}], "reactionsRemoved": [{"type": "plusOne"}],
            "topicName": "topic", "historyDisclosed": false, "summary": "sum",
            "suggestedActions": {"to": ["u1"], "actions": [{"type": "imBack", "title": "Yes", "value": "yes"}]},
            "someChannelField": {"unknown": true}, "another": 42
        })
    }

    #[test]
    fn every_field_and_unknown_fields_round_trip() {
        let input = every_field();
        let a: Activity = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(a.kind(), "message");
        assert_eq!(a.conversation_id(), Some("c1"));
        assert_eq!(a.delivery_mode(), DeliveryMode::ExpectReplies);
        assert_eq!(a.extra.get("another"), Some(&json!(42)));
        let out = serde_json::to_value(&a).unwrap();
        assert_eq!(out, input);
    }

    #[test]
    fn all_known_fields_are_typed_not_extra() {
        let a: Activity = serde_json::from_value(every_field()).unwrap();
        let mut extra: Vec<_> = a.extra.keys().cloned().collect();
        extra.sort();
        assert_eq!(extra, vec!["another", "someChannelField"]);
    }

    #[test]
    fn reply_swaps_accounts_and_copies_routing() {
        let a: Activity = serde_json::from_value(every_field()).unwrap();
        let r = a.create_reply("ok");
        assert_eq!(r.from.unwrap().id.as_deref(), Some("b1"));
        assert_eq!(r.recipient.unwrap().id.as_deref(), Some("u1"));
        assert_eq!(r.reply_to_id.as_deref(), Some("a1"));
        assert_eq!(r.conversation.unwrap().id.as_deref(), Some("c1"));
        assert_eq!(r.channel_id.as_deref(), Some("msteams"));
        assert_eq!(r.locale.as_deref(), Some("en-US"));
        assert_eq!(
            r.service_url.as_deref(),
            Some("https://smba.trafficmanager.net/emea/")
        );
    }

    #[test]
    fn a_welcome_on_web_chat_and_direct_line_replies_to_nothing() {
        let mut update: Activity = serde_json::from_value(json!({
            "type": "conversationUpdate", "id": "u1", "channelId": "webchat",
            "conversation": {"id": "c"}, "from": {"id": "user"}, "recipient": {"id": "bot"},
            "serviceUrl": "https://webchat.botframework.com/", "locale": "en-US",
        }))
        .unwrap();
        for channel in ["webchat", "directline"] {
            update.channel_id = Some(channel.into());
            assert_eq!(update.create_reply("hi").reply_to_id, None, "{channel}");
            let r = update.conversation_reference();
            assert_eq!(r.activity_id, None, "{channel}");
            assert_eq!(r.user.unwrap().id.as_deref(), Some("user"));
            assert_eq!(r.bot.unwrap().id.as_deref(), Some("bot"));
        }
        // Other channels, and messages on these ones, keep the id.
        update.channel_id = Some("msteams".into());
        assert_eq!(update.create_reply("hi").reply_to_id.as_deref(), Some("u1"));
        update.channel_id = Some("webchat".into());
        update.kind = Some("message".into());
        assert_eq!(update.create_reply("hi").reply_to_id.as_deref(), Some("u1"));
        assert_eq!(
            update.conversation_reference().activity_id.as_deref(),
            Some("u1")
        );
    }

    #[test]
    fn wrong_types_are_errors_not_panics() {
        for bad in [
            json!({"type": 5}),
            json!({"conversation": "c"}),
            json!([1]),
            json!({"membersAdded": {}}),
        ] {
            assert!(serde_json::from_value::<Activity>(bad).is_err());
        }
    }
}
