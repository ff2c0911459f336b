//! Bot telemetry events, named and shaped as botbuilder's
//! TelemetryLoggerMiddleware and QnAMaker telemetry log them
//! (BotMessageReceived, BotMessageSend, QnaMessage), so existing Application
//! Insights queries and reports read them. Personal data (text, speak, user
//! names, the question) only with `telemetry.log_personal_information`, as
//! botbuilder's `logPersonalInformation`.

use std::sync::Arc;

use bot_schema::Activity;
use serde_json::{Map, Value};

pub use super::event::TelemetryEvent;
use super::export::Exporter;

pub const BOT_MSG_RECEIVE_EVENT: &str = "BotMessageReceived";
pub const BOT_MSG_SEND_EVENT: &str = "BotMessageSend";
pub const QNA_MSG_EVENT: &str = "QnaMessage";

/// Where the bot's events go. Recording never blocks: the export queue is
/// bounded and drops (counted) when full.
pub struct BotTelemetry {
    log_personal_information: bool,
    region: String,
    instance: String,
    export: Option<Arc<Exporter>>,
}

impl BotTelemetry {
    pub fn new(
        log_personal_information: bool,
        region: String,
        instance: String,
        export: Option<Arc<Exporter>>,
    ) -> Self {
        Self {
            log_personal_information,
            region,
            instance,
            export,
        }
    }

    /// Events go nowhere (tests, and no export configured).
    pub fn disabled() -> Self {
        Self::new(false, String::new(), String::new(), None)
    }

    /// botbuilder's `logPersonalInformation`: whether user text may be
    /// recorded (events, and the unanswered-question log).
    pub fn log_personal_information(&self) -> bool {
        self.log_personal_information
    }

    pub fn export(&self) -> Option<&Arc<Exporter>> {
        self.export.as_ref()
    }

    fn emit(
        &self,
        name: &'static str,
        activity: &Activity,
        properties: Map<String, Value>,
        metrics: Map<String, Value>,
    ) {
        let Some(export) = &self.export else { return };
        export.offer(TelemetryEvent {
            time: chrono::Utc::now(),
            name,
            region: self.region.clone(),
            instance: self.instance.clone(),
            channel_id: activity.channel_id().to_string(),
            conversation_id: activity.conversation_id().unwrap_or_default().to_string(),
            activity_id: activity.id.clone(),
            properties,
            metrics,
        });
    }

    /// `BotMessageReceived`, for an activity from the channel.
    pub fn message_received(&self, activity: &Activity) {
        if self.export.is_none() {
            return;
        }
        let mut p = Map::new();
        put(
            &mut p,
            "fromId",
            activity.from.as_ref().and_then(|f| f.id.clone()),
        );
        put(&mut p, "conversationName", conversation_name(activity));
        put(&mut p, "locale", activity.locale.clone());
        put(
            &mut p,
            "recipientId",
            activity.recipient.as_ref().and_then(|r| r.id.clone()),
        );
        put(
            &mut p,
            "recipientName",
            activity.recipient.as_ref().and_then(|r| r.name.clone()),
        );
        if self.log_personal_information {
            put_nonblank(
                &mut p,
                "fromName",
                activity.from.as_ref().and_then(|f| f.name.clone()),
            );
            put_nonblank(&mut p, "text", activity.text.clone());
            put_nonblank(&mut p, "speak", speak(activity));
        }
        self.emit(BOT_MSG_RECEIVE_EVENT, activity, p, Map::new());
    }

    /// `BotMessageSend`, for a reply handed to the channel.
    pub fn message_sent(&self, reply: &Activity) {
        if self.export.is_none() {
            return;
        }
        let mut p = Map::new();
        put(&mut p, "replyActivityId", reply.reply_to_id.clone());
        put(
            &mut p,
            "recipientId",
            reply.recipient.as_ref().and_then(|r| r.id.clone()),
        );
        put(&mut p, "conversationName", conversation_name(reply));
        put(&mut p, "locale", reply.locale.clone());
        if self.log_personal_information {
            put_nonblank(
                &mut p,
                "recipientName",
                reply.recipient.as_ref().and_then(|r| r.name.clone()),
            );
            put_nonblank(&mut p, "text", reply.text.clone());
            put_nonblank(&mut p, "speak", speak(reply));
            if let Some(a) = reply.attachments.as_ref().filter(|a| !a.is_empty()) {
                p.insert(
                    "attachments".into(),
                    Value::String(serde_json::to_string(a).unwrap_or_default()),
                );
            }
        }
        self.emit(BOT_MSG_SEND_EVENT, reply, p, Map::new());
    }

    /// `QnaMessage`: the knowledge-base query and its best answer, as
    /// botbuilder's QnAMaker logs it when it queries (so a turn re-run after
    /// an eTag conflict logs its query again, as botbuilder would).
    pub fn qna_message(
        &self,
        activity: &Activity,
        knowledge_base_id: &str,
        best: Option<&qna::QnaAnswer>,
    ) {
        if self.export.is_none() {
            return;
        }
        let mut p = Map::new();
        p.insert("knowledgeBaseId".into(), knowledge_base_id.into());
        if self.log_personal_information {
            put_nonblank(&mut p, "question", activity.text.clone());
            put_nonblank(
                &mut p,
                "username",
                activity.from.as_ref().and_then(|f| f.name.clone()),
            );
        }
        let mut m = Map::new();
        match best {
            Some(a) => {
                p.insert(
                    "matchedQuestion".into(),
                    serde_json::to_string(&a.questions)
                        .unwrap_or_default()
                        .into(),
                );
                p.insert("questionId".into(), a.id.to_string().into());
                p.insert("answer".into(), a.answer.clone().into());
                p.insert("articleFound".into(), "true".into());
                m.insert("score".into(), f64::from(a.confidence).into());
            }
            None => {
                p.insert("matchedQuestion".into(), "No Qna Question matched".into());
                p.insert("questionId".into(), "No Qna Question Id matched".into());
                p.insert("answer".into(), "No Qna Answer matched".into());
                p.insert("articleFound".into(), "false".into());
            }
        }
        self.emit(QNA_MSG_EVENT, activity, p, m);
    }
}

fn put(p: &mut Map<String, Value>, key: &str, value: Option<String>) {
    p.insert(key.into(), Value::String(value.unwrap_or_default()));
}

fn put_nonblank(p: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
        p.insert(key.into(), Value::String(v));
    }
}

fn conversation_name(a: &Activity) -> Option<String> {
    a.conversation.as_ref().and_then(|c| c.name.clone())
}

fn speak(a: &Activity) -> Option<String> {
    a.speak.clone()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;
    use bot_storage::StorageError;
    use bytes::Bytes;
    use serde_json::json;

    use super::*;
    use crate::telemetry::export::{ExportLimits, Sink};

    #[derive(Default)]
    struct Capture(std::sync::Mutex<Vec<Value>>);

    #[async_trait]
    impl Sink for Capture {
        async fn put(&self, _name: &str, bytes: Bytes) -> Result<(), StorageError> {
            let text = std::str::from_utf8(&bytes).expect("UTF-8");
            let mut out = self.0.lock().unwrap();
            for line in text.lines() {
                out.push(serde_json::from_str(line).expect("one JSON value a line"));
            }
            Ok(())
        }
    }

    async fn run(personal: bool, f: impl FnOnce(&BotTelemetry)) -> Vec<Value> {
        let sink = Arc::new(Capture::default());
        let limits = ExportLimits {
            queue_max: 16,
            batch_max: 16,
            flush_every: Duration::from_secs(3600),
        };
        let export = Arc::new(Exporter::start(
            sink.clone(),
            "r".into(),
            "i".into(),
            limits,
        ));
        let t = BotTelemetry::new(personal, "r".into(), "i".into(), Some(export.clone()));
        f(&t);
        export.shutdown().await;
        let lines = sink.0.lock().unwrap().clone();
        lines
    }

    fn activity() -> Activity {
        serde_json::from_value(json!({
            "type": "message", "id": "a1", "channelId": "test",
            "conversation": {"id": "c1", "name": "Room"},
            "from": {"id": "u1", "name": "Alice"}, "recipient": {"id": "b1", "name": "Bot"},
            "text": "my secret question", "speak": "spoken", "locale": "en-GB"
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn unanswered_qna_message_has_botbuilder_placeholders_and_no_question() {
        let lines = run(false, |t| t.qna_message(&activity(), "kb1", None)).await;
        assert_eq!(lines.len(), 1);
        let p = &lines[0]["properties"];
        assert_eq!(lines[0]["name"], "QnaMessage");
        assert_eq!(p["knowledgeBaseId"], "kb1");
        assert_eq!(p["articleFound"], "false");
        assert_eq!(p["answer"], "No Qna Answer matched");
        assert!(p.get("question").is_none() && p.get("username").is_none());
        assert!(
            lines[0].get("metrics").is_none(),
            "no score without an answer"
        );
    }

    #[tokio::test]
    async fn received_properties_follow_log_personal_information() {
        let off = run(false, |t| t.message_received(&activity())).await;
        let p = &off[0]["properties"];
        assert_eq!(p["conversationName"], "Room");
        assert_eq!(p["locale"], "en-GB");
        assert_eq!(p["recipientName"], "Bot");
        for k in ["text", "speak", "fromName"] {
            assert!(p.get(k).is_none(), "{k} logged with personal data off");
        }
        let on = run(true, |t| t.message_received(&activity())).await;
        let p = &on[0]["properties"];
        assert_eq!(p["text"], "my secret question");
        assert_eq!(p["speak"], "spoken");
        assert_eq!(p["fromName"], "Alice");
    }
}
