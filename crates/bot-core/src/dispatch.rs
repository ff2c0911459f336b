//! Intent dispatch: the recogniser decides whether a message is for the bot
//! itself (Cancel, Help, Escalate) or for the knowledge base (everything
//! else, and `None`).

use std::sync::Arc;

use bot_schema::Activity;
use lu::{LuError, Recognition, Recognizer, NONE_INTENT};
use serde_json::json;

use crate::state::ConversationState;

/// When an intent counts, and what the bot says to the ones it handles.
#[derive(Debug, Clone)]
pub struct IntentConfig {
    /// An intent under this confidence is `None` (the knowledge base's).
    pub threshold: f32,
    /// For messages without a locale.
    pub locale: String,
    pub help_message: String,
    pub cancel_message: String,
    pub escalate_message: String,
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Cancel,
    Help,
    Escalate,
    Knowledge,
}

pub struct Dispatcher {
    recognizer: Arc<dyn Recognizer>,
    settings: IntentConfig,
}

/// The intent decided for one message, with its trace for the Emulator.
pub struct Decision {
    pub route: Route,
    pub intent: String,
    pub confidence: f32,
    /// For the Emulator only (channels never see traces): not built for
    /// other channels, where it cost a JSON document per turn for nothing.
    pub trace: Option<Activity>,
}

impl Dispatcher {
    pub fn new(recognizer: Arc<dyn Recognizer>, settings: IntentConfig) -> Self {
        Self {
            recognizer,
            settings,
        }
    }

    pub fn settings(&self) -> &IntentConfig {
        &self.settings
    }

    /// Recognises `text`. A recogniser failure never fails the turn: the
    /// message goes to the knowledge base, and the trace says why.
    pub async fn decide(&self, activity: &Activity, text: &str) -> Decision {
        let locale = activity
            .locale
            .as_deref()
            .filter(|l| !l.is_empty())
            .unwrap_or(&self.settings.locale);
        let result = self.recognizer.recognize(text, locale).await;
        let (intent, confidence, error) = match &result {
            Ok(r) => (
                r.intent_at(self.settings.threshold).to_string(),
                r.top_intent.confidence,
                None,
            ),
            Err(e) => {
                match e {
                    LuError::InvalidUtterance(_) => tracing::debug!(error = %e, "not recognised"),
                    _ => {
                        tracing::warn!(error = %e, "intent recognition failed; asking the knowledge base")
                    }
                }
                (NONE_INTENT.to_string(), 0.0, Some(e.to_string()))
            }
        };
        let route = match intent.as_str() {
            "Cancel" => Route::Cancel,
            "Help" => Route::Help,
            "Escalate" => Route::Escalate,
            _ => Route::Knowledge,
        };
        let span = tracing::Span::current();
        span.record("intent", intent.as_str());
        span.record("intent_confidence", confidence);
        Decision {
            route,
            trace: (activity.channel_id() == "emulator").then(|| {
                trace(
                    activity,
                    text,
                    &intent,
                    result.as_ref().ok(),
                    error,
                    self.settings.threshold,
                    self.recognizer.kind(),
                )
            }),
            intent,
            confidence,
        }
    }
}

/// A trace in the shape of botbuilder's recogniser traces: the
/// `recognizerResult` (text, intents by name with a score, entities) that
/// the Emulator's inspector shows.
fn trace(
    activity: &Activity,
    text: &str,
    intent: &str,
    result: Option<&Recognition>,
    error: Option<String>,
    threshold: f32,
    kind: &str,
) -> Activity {
    let intents: serde_json::Map<String, serde_json::Value> = result
        .map(|r| {
            r.intents
                .iter()
                .map(|i| (i.name.clone(), json!({"score": i.confidence})))
                .collect()
        })
        .unwrap_or_default();
    activity.create_trace(
        "Recognizer",
        json!({
            "recognizerResult": {
                "text": text,
                "intents": intents,
                "entities": result.map(|r| r.entities.clone()).unwrap_or_default(),
            },
            "topIntent": intent,
            "threshold": threshold,
            "recognizer": result.map(|r| r.recognizer.as_str()).unwrap_or(kind),
            "endpoint": result.and_then(|r| r.endpoint.clone()),
            "error": error,
        }),
        "https://www.luis.ai/schemas/trace",
        "Intent Trace",
    )
}

impl Dispatcher {
    /// The bot's own reply to an intent it handles, or `None` for the
    /// knowledge base.
    pub fn reply(
        &self,
        decision: &Decision,
        activity: &Activity,
        conversation: &mut ConversationState,
        question: &str,
    ) -> Option<Activity> {
        let s = &self.settings;
        match decision.route {
            Route::Knowledge => None,
            Route::Cancel => {
                // Leaves the follow-up context: the next message starts afresh.
                conversation.set_previous(None, question);
                Some(activity.create_reply(s.cancel_message.clone()))
            }
            Route::Help => Some(activity.create_reply(s.help_message.clone())),
            Route::Escalate => {
                // A stable event name: the telemetry work maps it to a
                // custom event; alerts and dashboards key on it.
                tracing::info!(
                    target: "telemetry",
                    event = "bot.escalation_requested",
                    channel = activity.channel_id(),
                    conversation = activity.conversation_id().unwrap_or_default(),
                    confidence = decision.confidence,
                    "user asked for a person"
                );
                conversation.open_handoff(activity);
                Some(activity.create_reply(s.escalate_message.clone()))
            }
        }
    }
}
