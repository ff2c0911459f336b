//! Direct Line 3.0 for local mode, so Web Chat talks to `cargo run -p
//! bot-api` with no Azure: `/v3/directline/...` on the service's own port,
//! and the Web Chat page at `/`. In production mode nothing here is mounted.
//!
//! This module is the *channel*, not a shortcut into the bot: a user's
//! activity is stamped as Azure's Direct Line stamps it and POSTed to this
//! process's `/api/messages` in normal delivery mode, with this server as
//! its `serviceUrl`; the bot's replies come back as Connector calls
//! (`POST /v3/conversations/{id}/activities[/{replyToId}]`), which this
//! module also serves. So the production path (turn, outbox, Connector)
//! is what a local chat exercises. Activities are kept per conversation in
//! order (own SQLite file), numbered by watermark, returned to pollers and
//! pushed to WebSocket subscribers. Any secret or token is accepted.

mod page;
pub mod store;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tower::ServiceExt;

use crate::app_state::AppState;
use crate::error::ApiError;
use crate::routes::messages;
use crate::telemetry;
use store::{Conversation, Store};

/// The bot's account in Direct Line activities.
const BOT_ID: &str = "bot";
const BOT_NAME: &str = "Bot";
/// What clients are told about token lifetime; locally every token is
/// accepted whatever its age.
const EXPIRES_IN: u64 = 3600;
/// The id suffix of the conversationUpdate sent when a conversation starts.
const START_SUFFIX: &str = "|start";

pub struct DirectLine {
    app: AppState,
    /// `/api/messages` as the main router serves it (with its telemetry
    /// layer), called in process.
    bot: Router,
    /// Opened on first use, so a process that never serves Direct Line
    /// never creates the file.
    store: OnceLock<Result<Arc<Store>, String>>,
    /// Conversation ids with new activities, for the WebSocket streams.
    notify: broadcast::Sender<Arc<str>>,
}

type Shared = Arc<DirectLine>;

/// The routes, in local mode only; an empty router otherwise.
pub fn router(app: &AppState) -> Router {
    if !app.settings.is_local_mode() {
        return Router::new();
    }
    let limit = app.settings.server.max_body_bytes;
    // Stamping adds a few hundred bytes to an activity that passed `limit`.
    let bot = Router::new()
        .route(
            "/api/messages",
            post(messages::post)
                .layer(DefaultBodyLimit::max(limit.saturating_add(16 * 1024)))
                .layer(axum::middleware::from_fn(telemetry::turn_layer)),
        )
        .with_state(app.clone());
    let (notify, _) = broadcast::channel(256);
    let dl = Arc::new(DirectLine {
        app: app.clone(),
        bot,
        store: OnceLock::new(),
        notify,
    });
    Router::new()
        .route("/", get(page::index))
        .route("/webchat.js", get(page::script))
        .route("/v3/directline/tokens/generate", post(generate_token))
        .route("/v3/directline/tokens/refresh", post(refresh_token))
        .route("/v3/directline/conversations", post(start_conversation))
        .route("/v3/directline/conversations/{id}", get(reconnect))
        .route(
            "/v3/directline/conversations/{id}/activities",
            post(post_activity)
                .get(get_activities)
                .layer(DefaultBodyLimit::max(limit)),
        )
        .route("/v3/directline/conversations/{id}/stream", get(stream))
        // The Connector API the bot replies to (serviceUrl is this server).
        .route(
            "/v3/conversations/{id}/activities",
            post(bot_sends).layer(DefaultBodyLimit::max(limit)),
        )
        .route(
            "/v3/conversations/{id}/activities/{reply_to}",
            post(bot_replies).layer(DefaultBodyLimit::max(limit)),
        )
        .with_state(dl)
}

impl DirectLine {
    fn store(&self) -> Result<&Store, ApiError> {
        self.store
            .get_or_init(|| {
                let w = &self.app.settings.webchat;
                let store = Store::open(&w.db_path, w.max_conversations, w.max_activities)?;
                tracing::info!(path = %w.db_path, "Direct Line store opened");
                Ok(Arc::new(store))
            })
            .as_deref()
            .map_err(|e| ApiError::DirectLineStore(e.clone()))
    }

    fn conversation(&self, id: &str) -> Result<Conversation, ApiError> {
        self.store()?
            .get(id)
            .map_err(ApiError::DirectLineStore)?
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "conversation {id:?} not found: start one with POST /v3/directline/conversations (old ones are evicted past webchat.max_conversations)"
                ))
            })
    }

    /// Stores an activity (giving it its id) and wakes the streams.
    fn append(&self, id: &str, activity: &mut Value) -> Result<(), ApiError> {
        match self
            .store()?
            .append(id, activity)
            .map_err(ApiError::DirectLineStore)?
        {
            Some(_) => {
                let _ = self.notify.send(Arc::from(id));
                Ok(())
            }
            None => Err(ApiError::NotFound(format!(
                "conversation {id:?} not found (evicted?)"
            ))),
        }
    }

    /// Where the bot's replies go: this server, over loopback. Only the port
    /// is taken from the request (a test may bind a port other than
    /// `server.listen`'s), never the host, so replies cannot be pointed
    /// elsewhere.
    fn service_url(&self, headers: &HeaderMap) -> String {
        let listen = self.app.settings.listen;
        let port = host(headers)
            .and_then(|h| h.rsplit_once(':'))
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
            .unwrap_or(listen.port());
        let ip = if listen.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            listen.ip()
        };
        format!("http://{}/", SocketAddr::new(ip, port))
    }

    /// Delivers an activity to the bot as a channel does, and waits for its
    /// answer (the bot answers once its replies are accepted).
    async fn deliver(&self, activity: &Value) -> Result<(), ApiError> {
        let request = Request::post("/api/messages")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(activity.to_string()))
            .map_err(|e| ApiError::BadRequest(format!("building the delivery: {e}")))?;
        let response = match self.bot.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        let detail = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        Err(ApiError::BotFailed {
            status: status.as_u16(),
            detail,
        })
    }

    /// Direct Line's Conversation object.
    fn conversation_json(
        &self,
        conv: &Conversation,
        headers: &HeaderMap,
        watermark: Option<u64>,
    ) -> Value {
        let host = host(headers)
            .map(str::to_string)
            .unwrap_or_else(|| self.app.settings.listen.to_string());
        let watermark = watermark
            .map(|w| format!("watermark={w}&"))
            .unwrap_or_default();
        json!({
            "conversationId": conv.id,
            "token": conv.token,
            "expires_in": EXPIRES_IN,
            "streamUrl": format!(
                "ws://{host}/v3/directline/conversations/{}/stream?{watermark}t={}",
                conv.id, conv.token
            ),
        })
    }
}

fn host(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn random_id(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(len)
        .collect()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn bot_account() -> Value {
    json!({"id": BOT_ID, "name": BOT_NAME, "role": "bot"})
}

/// An optional JSON body's `user.id` (tokens/generate, conversations).
fn user_id(body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("body is not valid JSON: {e}")))?;
    Ok(v["user"]["id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string))
}

/// A JSON object with a `type`, as activities must be.
fn parse_activity(body: &[u8]) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("body is not a valid Activity: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::BadRequest(
            "body is not a valid Activity: expected a JSON object".into(),
        ));
    }
    if v["type"].as_str().is_none_or(str::is_empty) {
        return Err(ApiError::BadRequest("activity.type is required".into()));
    }
    Ok(v)
}

type QueryMap = Result<Query<HashMap<String, String>>, QueryRejection>;

/// The `watermark` query parameter: absent or empty is the start; anything
/// else must be one this service gave out for the conversation.
fn watermark(query: QueryMap, conv: &Conversation) -> Result<u64, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let raw = query.get("watermark").map(|s| s.trim()).unwrap_or("");
    if raw.is_empty() {
        return Ok(0);
    }
    let w: u64 = raw.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "watermark {raw:?} is not a watermark: send back the watermark of an ActivitySet, or none"
        ))
    })?;
    if w > conv.last_seq {
        return Err(ApiError::BadRequest(format!(
            "watermark {w} is past the end of conversation {:?} (its latest is {})",
            conv.id, conv.last_seq
        )));
    }
    Ok(w)
}

/// `POST /v3/directline/tokens/generate`: reserves a conversation and its
/// token (started by `POST /conversations` with that token).
async fn generate_token(State(dl): State<Shared>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let user = user_id(&body)?;
    let (id, token) = (random_id(22), random_id(48));
    dl.store()?
        .create(&id, &token, user.as_deref())
        .map_err(ApiError::DirectLineStore)?;
    Ok(Json(
        json!({"conversationId": id, "token": token, "expires_in": EXPIRES_IN}),
    ))
}

/// `POST /v3/directline/tokens/refresh`: the same token, "renewed".
async fn refresh_token(
    State(dl): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = bearer(&headers).ok_or_else(|| {
        ApiError::BadRequest("send the token to refresh as Authorization: Bearer <token>".into())
    })?;
    Ok(Json(
        match dl
            .store()?
            .by_token(token)
            .map_err(ApiError::DirectLineStore)?
        {
            Some(c) => json!({"conversationId": c.id, "token": c.token, "expires_in": EXPIRES_IN}),
            None => json!({"token": token, "expires_in": EXPIRES_IN}),
        },
    ))
}

/// `POST /v3/directline/conversations`: starts the token's conversation, or
/// a new one for a secret (or anything else). The bot gets its
/// conversationUpdate once, before this answers, so its welcome is the
/// first activity.
async fn start_conversation(
    State(dl): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let store = dl.store()?;
    let body_user = user_id(&body)?;
    let conv = match bearer(&headers)
        .map(|t| store.by_token(t))
        .transpose()
        .map_err(ApiError::DirectLineStore)?
        .flatten()
    {
        Some(c) => c,
        None => {
            let (id, token) = (random_id(22), random_id(48));
            store
                .create(&id, &token, body_user.as_deref())
                .map_err(ApiError::DirectLineStore)?;
            dl.conversation(&id)?
        }
    };
    let started = store.start(&conv.id).map_err(ApiError::DirectLineStore)?;
    if started {
        let user = conv
            .user_id
            .clone()
            .or(body_user)
            .unwrap_or_else(|| "user".into());
        let update = json!({
            "type": "conversationUpdate",
            "id": format!("{}{START_SUFFIX}", conv.id),
            "channelId": "directline",
            "serviceUrl": dl.service_url(&headers),
            "timestamp": now(),
            "conversation": {"id": conv.id},
            "from": {"id": user, "role": "user"},
            "recipient": bot_account(),
            "membersAdded": [bot_account(), {"id": user}],
        });
        // The conversation works without a welcome; the failure is logged.
        if let Err(e) = dl.deliver(&update).await {
            tracing::warn!(conversation = %conv.id, error = %e, "Direct Line: conversationUpdate not accepted");
        }
    }
    let status = if started {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(dl.conversation_json(&conv, &headers, None))).into_response())
}

/// `GET /v3/directline/conversations/{id}?watermark=`: reconnect, a new
/// streamUrl that resumes after the watermark.
async fn reconnect(
    State(dl): State<Shared>,
    Path(id): Path<String>,
    query: QueryMap,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let conv = dl.conversation(&id)?;
    let w = watermark(query, &conv)?;
    Ok(Json(dl.conversation_json(&conv, &headers, Some(w))))
}

/// `POST /v3/directline/conversations/{id}/activities`: the user's activity,
/// stamped, kept (clients see their own echo), and delivered to the bot.
/// Answers the ResourceResponse once the bot has answered, so its replies
/// are already in the conversation.
async fn post_activity(
    State(dl): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let conv = dl.conversation(&id)?;
    let mut activity = parse_activity(&body)?;
    if activity["from"]["id"].as_str().is_none_or(str::is_empty) {
        let user = conv.user_id.clone().unwrap_or_else(|| "user".into());
        activity["from"] = json!({"id": user, "role": "user"});
    }
    activity["channelId"] = json!("directline");
    activity["conversation"] = json!({"id": conv.id});
    activity["recipient"] = bot_account();
    activity["serviceUrl"] = json!(dl.service_url(&headers));
    activity["timestamp"] = json!(now());
    // The channel chooses how replies travel: always to serviceUrl.
    if let Some(o) = activity.as_object_mut() {
        o.remove("deliveryMode");
    }
    dl.append(&id, &mut activity)?;
    dl.deliver(&activity).await?;
    Ok(Json(json!({"id": activity["id"]})))
}

/// `GET /v3/directline/conversations/{id}/activities?watermark=`: polling.
async fn get_activities(
    State(dl): State<Shared>,
    Path(id): Path<String>,
    query: QueryMap,
) -> Result<Json<Value>, ApiError> {
    let conv = dl.conversation(&id)?;
    let w = watermark(query, &conv)?;
    let batch = dl
        .store()?
        .since(&id, w)
        .map_err(ApiError::DirectLineStore)?;
    // An activity appended since `conv` was read is returned too.
    let last = batch.last().map_or(conv.last_seq, |(n, _)| *n).max(w);
    let activities: Vec<Value> = batch.into_iter().map(|(_, a)| a).collect();
    Ok(Json(
        json!({"activities": activities, "watermark": last.to_string()}),
    ))
}

/// `GET /v3/directline/conversations/{id}/stream`: the WebSocket. Sends
/// ActivitySets: what is stored after the watermark, then each new activity.
async fn stream(
    State(dl): State<Shared>,
    Path(id): Path<String>,
    query: QueryMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let conv = dl.conversation(&id)?;
    let w = watermark(query, &conv)?;
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    // Clients send only empty keep-alives on it; nothing big is read.
    Ok(upgrade
        .max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        .on_upgrade(move |socket| pump(dl, id, w, socket)))
}

async fn pump(dl: Shared, id: String, mut sent: u64, mut socket: WebSocket) {
    // Subscribed before the first read, so nothing falls between the two.
    let mut news = dl.notify.subscribe();
    loop {
        let batch = match dl
            .store()
            .and_then(|s| s.since(&id, sent).map_err(ApiError::DirectLineStore))
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(conversation = %id, error = %e, "Direct Line stream closed");
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        };
        if let Some((last, _)) = batch.last() {
            let last = *last;
            let activities: Vec<Value> = batch.into_iter().map(|(_, a)| a).collect();
            let set = json!({"activities": activities, "watermark": last.to_string()});
            if socket
                .send(Message::Text(set.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
            sent = last;
        }
        // Until this conversation has news, or the client goes away.
        loop {
            tokio::select! {
                n = news.recv() => match n {
                    Ok(c) if *c == *id => break,
                    Ok(_) => {}
                    // Missed some: the store has them all, read it again.
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                m = socket.recv() => match m {
                    // Clients send "" as a keep-alive; axum answers pings.
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
}

/// The Connector's `POST /v3/conversations/{id}/activities` (sendToConversation).
async fn bot_sends(
    State(dl): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    keep_bot_activity(&dl, &id, None, &body)
}

/// The Connector's `POST /v3/conversations/{id}/activities/{replyToId}`.
async fn bot_replies(
    State(dl): State<Shared>,
    Path((id, reply_to)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    keep_bot_activity(&dl, &id, Some(reply_to), &body)
}

fn keep_bot_activity(
    dl: &DirectLine,
    id: &str,
    reply_to: Option<String>,
    body: &[u8],
) -> Result<Json<Value>, ApiError> {
    let mut activity = parse_activity(body)?;
    if activity["timestamp"].as_str().is_none_or(str::is_empty) {
        activity["timestamp"] = json!(now());
    }
    if let Some(r) = reply_to {
        if activity["replyToId"].as_str().is_none_or(str::is_empty) {
            activity["replyToId"] = json!(r);
        }
    }
    // The start's conversationUpdate is not in the stream; Web Chat holds
    // back a reply to an activity it has not seen, so the welcome names none.
    if activity["replyToId"]
        .as_str()
        .is_some_and(|r| r.ends_with(START_SUFFIX))
    {
        if let Some(o) = activity.as_object_mut() {
            o.remove("replyToId");
        }
    }
    activity["conversation"] = json!({"id": id});
    dl.append(id, &mut activity)?;
    // The Connector's ResourceResponse.
    Ok(Json(json!({"id": activity["id"]})))
}
