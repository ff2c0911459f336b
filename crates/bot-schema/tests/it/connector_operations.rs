//! updateActivity, deleteActivity, getConversationMembers and
//! createConversation against a local Connector that speaks the Bot
//! Connector REST API's paths and payloads, fails first (503, 429) and then
//! answers: each call carries the bot's token, is tried again under the
//! retry policy, and a 404 is final.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bot_schema::{
    Activity, ChannelAccount, ConnectorClient, ConversationAccount, ConversationParameters,
    CredentialProvider, RetryPolicy, SchemaError, Verdict,
};
use secrecy::SecretString;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    authorization: String,
    body: Value,
}

/// Fails the first `failures` requests with `status` (and `Retry-After: 0`
/// for 429), then answers `answer`.
async fn connector(failures: usize, status: u16, answer: Value) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback({
        let seen = seen.clone();
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| async move {
            seen.lock().unwrap().push(Seen {
                method,
                path: uri.path().to_string(),
                authorization: headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string(),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            });
            if count.fetch_add(1, Ordering::SeqCst) < failures {
                let mut r: Response = StatusCode::from_u16(status).unwrap().into_response();
                if status == 429 {
                    r.headers_mut().insert("retry-after", "0".parse().unwrap());
                }
                return r;
            }
            axum::Json(answer.clone()).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/amer/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

struct Token;

#[async_trait]
impl CredentialProvider for Token {
    async fn token(&self, _: &str) -> Result<Option<SecretString>, SchemaError> {
        Ok(Some(SecretString::from("bot-token")))
    }
}

fn client() -> ConnectorClient {
    ConnectorClient::new(bot_http::client(), Arc::new(Token))
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        budget: Duration::from_secs(5),
        per_try_timeout: Duration::from_millis(500),
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    }
}

fn deadline() -> Instant {
    Instant::now() + policy().budget
}

fn seen(s: &Arc<Mutex<Vec<Seen>>>) -> Vec<Seen> {
    s.lock().unwrap().clone()
}

#[tokio::test]
async fn update_activity_puts_the_activity_under_its_id_and_is_retried() {
    let (url, log) = connector(1, 503, json!({"id": "m-1"})).await;
    let activity = Activity {
        kind: Some("message".into()),
        id: Some("m-1".into()),
        text: Some("corrected".into()),
        service_url: Some(url.clone()),
        conversation: Some(ConversationAccount {
            id: Some("a:conv/1".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let r = client()
        .update_activity(&activity, &policy(), deadline())
        .await
        .unwrap();
    assert_eq!(r.id.as_deref(), Some("m-1"));
    let log = seen(&log);
    assert_eq!(log.len(), 2, "one 503, then the update");
    for s in &log {
        assert_eq!(s.method, Method::PUT);
        assert_eq!(s.path, "/amer/v3/conversations/a%3Aconv%2F1/activities/m-1");
        assert_eq!(s.authorization, "Bearer bot-token");
        assert_eq!(s.body["text"], "corrected");
    }
    // Without the id of the activity to replace there is nothing to update.
    let mut no_id = activity.clone();
    no_id.id = None;
    let err = client()
        .update_activity(&no_id, &policy(), deadline())
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::MissingField(_)), "{err}");
}

#[tokio::test]
async fn delete_activity_deletes_and_a_missing_activity_is_final() {
    let (url, log) = connector(1, 429, json!({})).await;
    client()
        .delete_activity(&url, "19:abc@thread.tacv2", "m 2", &policy(), deadline())
        .await
        .unwrap();
    let log = seen(&log);
    assert_eq!(log.len(), 2, "one 429, then the delete");
    assert_eq!(log[1].method, Method::DELETE);
    assert_eq!(
        log[1].path,
        "/amer/v3/conversations/19%3Aabc%40thread.tacv2/activities/m%202"
    );
    assert_eq!(log[1].authorization, "Bearer bot-token");

    let (url, log) = connector(usize::MAX, 404, json!({})).await;
    let err = client()
        .delete_activity(&url, "c", "gone", &policy(), deadline())
        .await
        .unwrap_err();
    assert_eq!(err.verdict(), Verdict::Final);
    assert_eq!(err.status(), Some(404));
    assert_eq!(seen(&log).len(), 1, "a 404 is not tried again");
}

#[tokio::test]
async fn get_conversation_members_reads_the_accounts() {
    let members = json!([
        {"id": "29:1abc", "name": "Megan Bowen", "aadObjectId": "d5c1", "userPrincipalName": "megan@contoso.com"},
        {"id": "29:2def", "name": "Adele Vance"}
    ]);
    let (url, log) = connector(1, 500, members).await;
    let got = client()
        .get_conversation_members(&url, "a:1", &policy(), deadline())
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].name.as_deref(), Some("Megan Bowen"));
    // Teams' own fields are kept.
    assert_eq!(got[0].extra["userPrincipalName"], "megan@contoso.com");
    let log = seen(&log);
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].method, Method::GET);
    assert_eq!(log[1].path, "/amer/v3/conversations/a%3A1/members");

    // A body that is not a member list is an error that says so.
    let (url, _) = connector(0, 200, json!({"unexpected": true})).await;
    let err = client()
        .get_conversation_members(&url, "a:1", &policy(), deadline())
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::Decode { .. }), "{err}");
}

#[tokio::test]
async fn create_conversation_posts_the_parameters() {
    let (url, log) = connector(
        1,
        503,
        json!({"id": "a:new", "activityId": "1", "serviceUrl": "https://smba.trafficmanager.net/amer/"}),
    )
    .await;
    let parameters = ConversationParameters {
        is_group: Some(false),
        bot: Some(ChannelAccount::new("28:bot")),
        members: Some(vec![ChannelAccount::new("29:1abc")]),
        tenant_id: Some("72f988bf".into()),
        activity: Some(Activity {
            kind: Some("message".into()),
            text: Some("Hello".into()),
            ..Default::default()
        }),
        channel_data: Some(json!({"tenant": {"id": "72f988bf"}})),
        ..Default::default()
    };
    let created = client()
        .create_conversation(&url, &parameters, &policy(), deadline())
        .await
        .unwrap();
    assert_eq!(created.id.as_deref(), Some("a:new"));
    assert_eq!(created.activity_id.as_deref(), Some("1"));
    let log = seen(&log);
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].method, Method::POST);
    assert_eq!(log[1].path, "/amer/v3/conversations");
    assert_eq!(log[1].authorization, "Bearer bot-token");
    assert_eq!(
        log[1].body,
        json!({
            "isGroup": false, "bot": {"id": "28:bot"}, "members": [{"id": "29:1abc"}],
            "tenantId": "72f988bf", "activity": {"type": "message", "text": "Hello"},
            "channelData": {"tenant": {"id": "72f988bf"}},
        })
    );
}
