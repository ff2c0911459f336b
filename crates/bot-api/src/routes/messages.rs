//! `POST /api/messages`: where channels deliver Activities.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bot_schema::{activity_types, Activity, ConnectorClient, DeliveryMode};
use serde::Serialize;
use tracing::Instrument;

use bot_core::outbox;
use bot_core::state::Progress;
use bot_core::turn::{self, TurnOutcome};
use bot_core::{Bot, CoreError};

use crate::app_state::AppState;
use crate::error::ApiError;
use crate::telemetry;

pub async fn post(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    // The `auth` span covers what runs before the turn: inbound checks,
    // parsing and validation. Authentication and the serviceUrl allow-list
    // both come before any turn runs or any state is read or written.
    let activity = async {
        if app.auth.is_some() {
            // Judged before the body is even parsed, and without any key fetch.
            bot_auth::header::inspect(bot_auth::header::bearer_token(authorization)?)?;
        }
        check_content_type(&headers)?;
        let mut activity = parse(&body)?;
        telemetry::note_activity_type(activity.kind.as_deref().unwrap_or(""));
        validate(&activity)?;
        // callerId says who sent the activity: only the token may say it.
        activity.caller_id = None;
        if let Some(auth) = &app.auth {
            let identity = auth
                .authenticate(
                    authorization,
                    activity.channel_id(),
                    activity.service_url.as_deref(),
                )
                .await?;
            tracing::debug!(kind = ?identity.kind, issuer = %identity.issuer, "authenticated");
            activity.caller_id = Some(identity.caller_id);
        }
        // A tenant the bot does not serve is refused before any state is read.
        bot_auth::tenants::check_teams_tenant(&app.settings.auth.allowed_teams_tenants, &activity)?;
        // Nothing is posted to serviceUrl for expectReplies (the replies are
        // in the answer), so only other activities need it allowed.
        if activity.delivery_mode() != DeliveryMode::ExpectReplies {
            if let Some(url) = activity.service_url.as_deref() {
                app.service_urls.check(url)?;
            }
        }
        Ok::<_, ApiError>(activity)
    }
    .instrument(tracing::info_span!("auth"))
    .await?;

    if activity.is_type(activity_types::INVOKE) {
        return Err(ApiError::NotImplemented(format!(
            "no handler for invoke activity {:?}",
            activity.name.as_deref().unwrap_or("")
        )));
    }
    let expect_replies = activity.delivery_mode() == DeliveryMode::ExpectReplies;
    if !Bot::handles(&activity) {
        // typing, event, endOfConversation, unknown types...: acknowledged,
        // with the (empty) ExpectedReplies body a caller that expects
        // replies reads, as botbuilder answers it.
        return Ok(if expect_replies {
            expected_replies(&[])
        } else {
            StatusCode::OK.into_response()
        });
    }

    app.telemetry.message_received(&activity);
    let received = chrono::Utc::now();
    // The channel waits 15 s for its answer; sending replies stays within
    // the budget counted from here.
    let engine = &app.engine;
    let deadline = Instant::now() + engine.outbox.policy.budget;
    let turn::Turn {
        outcome,
        conv_key,
        guard,
    } = turn::run(engine, &activity, deadline).await?;
    let activity_id = activity.id.clone().unwrap_or_default();
    let (replies, claim, committed) = match outcome {
        TurnOutcome::Ran {
            replies,
            claim,
            committed,
        } => (replies, claim, committed),
        TurnOutcome::Redelivered(record) if expect_replies => {
            drop(guard);
            return Ok(expected_replies(
                record.replies.as_deref().unwrap_or_default(),
            ));
        }
        TurnOutcome::Redelivered(record) => {
            // Only what the channel has not accepted yet goes out again.
            if record.outbox.is_some() {
                let pending = outbox::resend(engine, &conv_key, &activity_id, deadline)
                    .instrument(tracing::info_span!("replies", redelivery = true))
                    .await?;
                drop(guard);
                if let Some(e) = pending {
                    outbox::spawn_retry(engine, &conv_key, &activity_id);
                    return Err(CoreError::RepliesPending(e).into());
                }
            }
            return Ok(StatusCode::OK.into_response());
        }
    };
    // The turn is saved: its transcript is queued for the background writer
    // (a failure there is logged and counted, never fails or delays the turn).
    if let Some(t) = &app.transcripts {
        t.log_turn(&activity, received, &replies);
    }
    if expect_replies {
        drop(guard);
        replies.iter().for_each(|r| app.telemetry.message_sent(r));
        return Ok(expected_replies(&replies));
    }
    let progress = Progress {
        total: replies.len(),
        sent: 0,
        failed: 0,
    };
    let sending = outbox::send(engine, &replies, progress, deadline)
        .instrument(tracing::info_span!("replies", count = replies.len()))
        .await;
    match claim {
        Some(claim) if !replies.is_empty() && !activity_id.is_empty() => outbox::finish(
            engine,
            guard,
            conv_key,
            activity_id,
            &sending,
            claim,
            committed,
        ),
        _ => drop(guard),
    }
    match sending.pending {
        Some(e) => Err(CoreError::RepliesPending(e).into()),
        None => Ok(StatusCode::OK.into_response()),
    }
}

/// botbuilder's ExpectedReplies body. Serialised straight from the replies:
/// going through a `serde_json::Value` first copied every reply.
#[derive(Serialize)]
struct ExpectedReplies<'a> {
    activities: &'a [Activity],
}

fn expected_replies(activities: &[Activity]) -> Response {
    Json(ExpectedReplies { activities }).into_response()
}

pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
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

pub(crate) fn parse(body: &[u8]) -> Result<Activity, ApiError> {
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
