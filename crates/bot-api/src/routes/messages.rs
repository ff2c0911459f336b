//! `POST /api/messages`: where channels deliver Activities.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bot_schema::{activity_types, Activity, ConnectorClient, DeliveryMode};
use serde_json::json;

use crate::app_state::AppState;
use crate::bot::Bot;
use crate::error::ApiError;
use crate::turn::{self, TurnOutcome};

pub async fn post(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let activity = parse(&body)?;
    validate(&activity)?;

    if activity.is_type(activity_types::INVOKE) {
        return Err(ApiError::NotImplemented(format!(
            "no handler for invoke activity {:?}",
            activity.name.as_deref().unwrap_or("")
        )));
    }
    if !Bot::handles(&activity) {
        // typing, event, endOfConversation, unknown types...: acknowledged.
        return Ok(StatusCode::OK.into_response());
    }

    let expect_replies = activity.delivery_mode() == DeliveryMode::ExpectReplies;
    let replies = match turn::run(&app, &activity).await? {
        TurnOutcome::Ran(replies) => replies,
        TurnOutcome::Redelivered(stored) => {
            return Ok(if expect_replies {
                Json(json!({"activities": stored.unwrap_or_default()})).into_response()
            } else {
                StatusCode::OK.into_response()
            });
        }
    };
    // Trace activities are for the Emulator only.
    // The turn is saved: its transcript is written now (a failure there is
    // logged and counted inside, never lost silently, never fails the turn).
    if let Some(t) = &app.transcripts {
        t.log_turn(&activity, &replies).await;
    }
    let replies: Vec<Activity> = if activity.channel_id() == "emulator" {
        replies
    } else {
        replies
            .into_iter()
            .filter(|r| !r.is_type(activity_types::TRACE))
            .collect()
    };
    if expect_replies {
        return Ok(Json(json!({"activities": replies})).into_response());
    }
    for reply in &replies {
        app.connector.send(reply).await?;
    }
    Ok(StatusCode::OK.into_response())
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(ct.to_string()))
    }
}

fn parse(body: &[u8]) -> Result<Activity, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::BadRequest(format!("body is not a valid Activity: {e}"))
        } else {
            ApiError::BadRequest(format!("body is not valid JSON: {e}"))
        }
    })
}

fn validate(a: &Activity) -> Result<(), ApiError> {
    let missing = |what: &str| ApiError::BadRequest(format!("activity.{what} is required"));
    if a.kind.as_deref().unwrap_or("").is_empty() {
        return Err(missing("type"));
    }
    if !Bot::handles(a) {
        return Ok(());
    }
    if a.conversation_id().unwrap_or("").is_empty() {
        return Err(missing("conversation.id"));
    }
    if a.channel_id().is_empty() {
        return Err(missing("channelId"));
    }
    if a.is_type(activity_types::MESSAGE) && a.from_id().unwrap_or("").is_empty() {
        return Err(missing("from.id"));
    }
    if a.delivery_mode() != DeliveryMode::ExpectReplies {
        // Replies go to serviceUrl: refuse before running a turn we could not answer.
        ConnectorClient::activity_url(a).map_err(|e| {
            ApiError::BadRequest(format!(
                "{e} (replies are POSTed to serviceUrl unless deliveryMode is expectReplies)"
            ))
        })?;
    }
    Ok(())
}
