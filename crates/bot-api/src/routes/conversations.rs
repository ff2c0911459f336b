//! Admin routes for conversations (under `/admin`, behind its key):
//!
//! - `POST /admin/conversations/{channelId}/{conversationId}/activities`:
//!   an operator's message into the conversation, with the bot's token
//!   (sendToConversation, retried like replies). 200 with the channel's
//!   ResourceResponse; 404 for a conversation the bot never saw; 400 for a
//!   body that is not a message; 502 when the channel does not accept it.
//! - `GET /admin/handoffs`: the open hand-offs with what their users said.
//! - `POST /admin/handoffs/{channelId}/{conversationId}/close`: back to the
//!   bot; answers the closed hand-off, 404 when none is open.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use bot_core::handoff::OpenHandoff;
use bot_schema::ResourceResponse;
use serde_json::{json, Value};

use crate::app_state::AppState;
use crate::error::ApiError;
use crate::routes::messages::{check_content_type, parse};

pub async fn send(
    State(app): State<AppState>,
    Path((channel_id, conversation_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ResourceResponse>, ApiError> {
    check_content_type(&headers)?;
    let activity = parse(&body)?;
    Ok(Json(
        app.proactive
            .send(&channel_id, &conversation_id, activity)
            .await?,
    ))
}

pub async fn handoffs(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"handoffs": app.proactive.handoffs().await?})))
}

pub async fn close_handoff(
    State(app): State<AppState>,
    Path((channel_id, conversation_id)): Path<(String, String)>,
) -> Result<Json<OpenHandoff>, ApiError> {
    Ok(Json(
        app.proactive
            .close_handoff(&channel_id, &conversation_id)
            .await?,
    ))
}
