//! The Connector operations a bot needs beyond replies, as the Bot Connector
//! REST API (v3) spells them: updateActivity, deleteActivity,
//! getConversationMembers and createConversation. Each is tried again
//! under the same [`RetryPolicy`] as replies.
//!
//! createConversation is not idempotent: a try whose answer was lost may
//! have created a conversation, and the next try creates another one, as
//! botbuilder's retries do too.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::activity::{Activity, ChannelAccount};
use crate::connector::{encode_uri_component, json_body, Call, ConnectorClient, ResourceResponse};
use crate::error::SchemaError;
use crate::retry::RetryPolicy;

/// What createConversation takes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_group: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<ChannelAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<ChannelAccount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The first message of the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<Activity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What createConversation answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationResourceResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn activity_url(
    service_url: &str,
    conversation_id: &str,
    activity_id: &str,
) -> Result<String, SchemaError> {
    if activity_id.is_empty() {
        return Err(SchemaError::MissingField("activity id"));
    }
    Ok(format!(
        "{}/activities/{}",
        ConnectorClient::conversations_url(service_url, Some(conversation_id))?,
        encode_uri_component(activity_id)
    ))
}

fn decode<T: serde::de::DeserializeOwned>(
    url: &str,
    body: &[u8],
    expected: &'static str,
) -> Result<T, SchemaError> {
    serde_json::from_slice(body).map_err(|e| SchemaError::Decode {
        url: url.to_string(),
        expected,
        reason: e.to_string(),
    })
}

impl ConnectorClient {
    /// updateActivity: `PUT /v3/conversations/{conversationId}/activities/{activityId}`.
    /// The activity names the conversation and serviceUrl; its `id` is the
    /// activity it replaces.
    pub async fn update_activity(
        &self,
        activity: &Activity,
        policy: &RetryPolicy,
        deadline: Instant,
    ) -> Result<ResourceResponse, SchemaError> {
        let service_url = activity
            .service_url
            .as_deref()
            .ok_or(SchemaError::MissingField("serviceUrl"))?;
        let conversation_id = activity
            .conversation_id()
            .ok_or(SchemaError::MissingField("conversation.id"))?;
        let id = activity.id.as_deref().unwrap_or_default();
        let call = Call {
            method: reqwest::Method::PUT,
            url: activity_url(service_url, conversation_id, id)?,
            service_url,
            conversation_id: Some(conversation_id),
            body: Some(json_body(activity)?),
        };
        let body = self.call(&call, policy, deadline).await?;
        // Some channels answer an update with no body.
        Ok(serde_json::from_slice(&body).unwrap_or_default())
    }

    /// deleteActivity: `DELETE /v3/conversations/{conversationId}/activities/{activityId}`.
    pub async fn delete_activity(
        &self,
        service_url: &str,
        conversation_id: &str,
        activity_id: &str,
        policy: &RetryPolicy,
        deadline: Instant,
    ) -> Result<(), SchemaError> {
        let call = Call {
            method: reqwest::Method::DELETE,
            url: activity_url(service_url, conversation_id, activity_id)?,
            service_url,
            conversation_id: Some(conversation_id),
            body: None,
        };
        self.call(&call, policy, deadline).await.map(drop)
    }

    /// getConversationMembers: `GET /v3/conversations/{conversationId}/members`.
    pub async fn get_conversation_members(
        &self,
        service_url: &str,
        conversation_id: &str,
        policy: &RetryPolicy,
        deadline: Instant,
    ) -> Result<Vec<ChannelAccount>, SchemaError> {
        let url = format!(
            "{}/members",
            Self::conversations_url(service_url, Some(conversation_id))?
        );
        let call = Call {
            method: reqwest::Method::GET,
            url,
            service_url,
            conversation_id: Some(conversation_id),
            body: None,
        };
        let body = self.call(&call, policy, deadline).await?;
        decode(&call.url, &body, "a list of ChannelAccount")
    }

    /// createConversation: `POST /v3/conversations`.
    pub async fn create_conversation(
        &self,
        service_url: &str,
        parameters: &ConversationParameters,
        policy: &RetryPolicy,
        deadline: Instant,
    ) -> Result<ConversationResourceResponse, SchemaError> {
        let call = Call {
            method: reqwest::Method::POST,
            url: Self::conversations_url(service_url, None)?,
            service_url,
            conversation_id: None,
            body: Some(json_body(parameters)?),
        };
        let body = self.call(&call, policy, deadline).await?;
        decode(&call.url, &body, "a ConversationResourceResponse")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_urls_encode_their_segments_and_need_an_id() {
        assert_eq!(
            activity_url("https://smba.trafficmanager.net/emea/", "a:1;x", "1|2").unwrap(),
            "https://smba.trafficmanager.net/emea/v3/conversations/a%3A1%3Bx/activities/1%7C2"
        );
        assert!(matches!(
            activity_url("https://x/", "c", ""),
            Err(SchemaError::MissingField(_))
        ));
        assert!(activity_url("ftp://x/", "c", "1").is_err());
    }
}
