//! The Connector REST client: how a bot sends activities back to a channel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::activity::Activity;
use crate::error::SchemaError;
use crate::retry::{parse_retry_after, RetryPolicy, Verdict};

/// Characters `encodeURIComponent` leaves alone; botbuilder encodes each path
/// segment with it, so we do too.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

pub fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// Supplies the bearer token for calls to a channel's serviceUrl.
/// Local mode has none; the security work plugs real app credentials in here.
#[async_trait]
pub trait CredentialProvider: Send + Sync {
    async fn token(&self, service_url: &str) -> Result<Option<SecretString>, SchemaError>;

    /// Forgets a cached token the channel refused (401), so that the next
    /// `token` fetches a new one.
    async fn invalidate(&self) {}
}

/// No credentials: the Emulator and local channels accept anonymous replies.
pub struct NoCredentials;

#[async_trait]
impl CredentialProvider for NoCredentials {
    async fn token(&self, _service_url: &str) -> Result<Option<SecretString>, SchemaError> {
        Ok(None)
    }
}

/// What the Connector answers to a sent activity.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ResourceResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Clone)]
pub struct ConnectorClient {
    http: reqwest::Client,
    credentials: Arc<dyn CredentialProvider>,
}

impl ConnectorClient {
    pub fn new(http: reqwest::Client, credentials: Arc<dyn CredentialProvider>) -> Self {
        Self { http, credentials }
    }

    /// `{serviceUrl}/v3/conversations[/{conversationId}]`, the conversation
    /// id percent-encoded and any path inside serviceUrl kept.
    pub fn conversations_url(
        service_url: &str,
        conversation_id: Option<&str>,
    ) -> Result<String, SchemaError> {
        let parsed =
            reqwest::Url::parse(service_url).map_err(|e| SchemaError::InvalidServiceUrl {
                url: service_url.to_string(),
                reason: e.to_string(),
            })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(SchemaError::InvalidServiceUrl {
                url: service_url.to_string(),
                reason: "not an http(s) URL with a host".to_string(),
            });
        }
        let mut url = format!("{}/v3/conversations", service_url.trim_end_matches('/'));
        if let Some(id) = conversation_id {
            url.push('/');
            url.push_str(&encode_uri_component(id));
        }
        Ok(url)
    }

    /// The URL an activity is POSTed to:
    /// `{serviceUrl}/v3/conversations/{conversationId}/activities[/{replyToId}]`,
    /// each segment percent-encoded on its own and any path inside serviceUrl kept.
    pub fn activity_url(activity: &Activity) -> Result<String, SchemaError> {
        let service_url = activity
            .service_url
            .as_deref()
            .ok_or(SchemaError::MissingField("serviceUrl"))?;
        let conversation_id = activity
            .conversation_id()
            .ok_or(SchemaError::MissingField("conversation.id"))?;
        let mut url = Self::conversations_url(service_url, Some(conversation_id))?;
        url.push_str("/activities");
        if let Some(reply_to) = activity.reply_to_id.as_deref().filter(|s| !s.is_empty()) {
            url.push('/');
            url.push_str(&encode_uri_component(reply_to));
        }
        Ok(url)
    }

    /// One try of a Connector request, of at most `timeout`: the body of
    /// a 2xx answer, or the error.
    pub(crate) async fn call_once(
        &self,
        call: &Call<'_>,
        timeout: Duration,
    ) -> Result<Vec<u8>, SchemaError> {
        let mut req = self
            .http
            .request(call.method.clone(), &call.url)
            .timeout(timeout);
        if let Some(id) = call.conversation_id {
            req = req.header("x-ms-conversation-id", id);
        }
        if let Some(body) = &call.body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        if let Some(token) = self.credentials.token(call.service_url).await? {
            req = req.bearer_auth(token.expose_secret());
        }
        let resp = req.send().await.map_err(|source| SchemaError::Transport {
            url: call.url.clone(),
            source,
        })?;
        let status = resp.status();
        if !status.is_success() {
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let body = resp.text().await.unwrap_or_default();
            return Err(SchemaError::Status {
                url: call.url.clone(),
                status: status.as_u16(),
                body: body.chars().take(512).collect(),
                retry_after,
            });
        }
        Ok(resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default())
    }

    /// [`call_once`](Self::call_once), tried again as `policy` says until
    /// `deadline`: the error returned is the last try's, and its
    /// [`verdict`](SchemaError::verdict) tells whether a later attempt
    /// could still succeed.
    pub(crate) async fn call(
        &self,
        call: &Call<'_>,
        policy: &RetryPolicy,
        deadline: Instant,
    ) -> Result<Vec<u8>, SchemaError> {
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let err = match self.call_once(call, policy.per_try_timeout.min(left)).await {
                Ok(body) => return Ok(body),
                Err(e) => e,
            };
            let pause = match err.verdict() {
                Verdict::Final => return Err(err),
                Verdict::RefreshToken if refreshed => return Err(err),
                Verdict::RefreshToken => {
                    refreshed = true;
                    self.credentials.invalidate().await;
                    Duration::ZERO
                }
                Verdict::Retry(after) => after.unwrap_or_else(|| policy.backoff(attempt)),
            };
            attempt += 1;
            // A pause that would end past the deadline leaves no time for a try.
            if Instant::now() + pause + Duration::from_millis(50) >= deadline {
                return Err(err);
            }
            tracing::debug!(error = %err, attempt, pause_ms = pause.as_millis() as u64, "Connector call not accepted; trying again");
            tokio::time::sleep(pause).await;
        }
    }

    fn post_activity<'a>(activity: &'a Activity) -> Result<Call<'a>, SchemaError> {
        Ok(Call {
            method: reqwest::Method::POST,
            url: Self::activity_url(activity)?,
            service_url: activity.service_url.as_deref().unwrap_or_default(),
            conversation_id: activity.conversation_id(),
            body: Some(json_body(activity)?),
        })
    }

    /// Send one activity: a reply when it has `replyToId`
    /// (replyToActivity), otherwise a new message in the conversation
    /// (sendToConversation). One try, of at most `timeout`.
    pub async fn send_once(
        &self,
        activity: &Activity,
        timeout: Duration,
    ) -> Result<ResourceResponse, SchemaError> {
        let body = self
            .call_once(&Self::post_activity(activity)?, timeout)
            .await?;
        Ok(resource_response(&body))
    }

    /// [`send_once`](Self::send_once), tried again as `policy` says until
    /// `deadline`.
    pub async fn send(
        &self,
        activity: &Activity,
        policy: &RetryPolicy,
        deadline: Instant,
    ) -> Result<ResourceResponse, SchemaError> {
        let body = self
            .call(&Self::post_activity(activity)?, policy, deadline)
            .await?;
        Ok(resource_response(&body))
    }
}

/// One Connector request: what [`ConnectorClient::call`] tries.
pub(crate) struct Call<'a> {
    pub method: reqwest::Method,
    pub url: String,
    /// Where the bot's token goes (the credentials check it is allowed).
    pub service_url: &'a str,
    pub conversation_id: Option<&'a str>,
    /// JSON, serialised once for every try.
    pub body: Option<Vec<u8>>,
}

pub(crate) fn json_body<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, SchemaError> {
    serde_json::to_vec(value).map_err(|e| SchemaError::Encode(e.to_string()))
}

/// Channels answer a ResourceResponse, but some answer nothing at all.
fn resource_response(body: &[u8]) -> ResourceResponse {
    serde_json::from_slice(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::ConversationAccount;

    fn act(service_url: &str, conv: &str, reply_to: Option<&str>) -> Activity {
        Activity {
            service_url: Some(service_url.into()),
            conversation: Some(ConversationAccount {
                id: Some(conv.into()),
                ..Default::default()
            }),
            reply_to_id: reply_to.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn reply_url_encodes_each_segment_and_keeps_service_path() {
        let a = act(
            "https://smba.trafficmanager.net/emea/",
            "a:1/b?c#d e",
            Some("1|2"),
        );
        assert_eq!(
            ConnectorClient::activity_url(&a).unwrap(),
            "https://smba.trafficmanager.net/emea/v3/conversations/a%3A1%2Fb%3Fc%23d%20e/activities/1%7C2"
        );
    }

    #[test]
    fn without_reply_to_it_posts_to_the_conversation() {
        let a = act("http://localhost:1234", "c(1)!", None);
        assert_eq!(
            ConnectorClient::activity_url(&a).unwrap(),
            "http://localhost:1234/v3/conversations/c(1)!/activities"
        );
    }

    #[test]
    fn bad_service_urls_are_errors() {
        for s in ["", "not a url", "ftp://x/", "file:///etc/passwd"] {
            assert!(
                ConnectorClient::activity_url(&act(s, "c", None)).is_err(),
                "{s}"
            );
        }
        let mut a = act("http://x", "c", None);
        a.conversation = None;
        assert!(matches!(
            ConnectorClient::activity_url(&a),
            Err(SchemaError::MissingField("conversation.id"))
        ));
    }
}
