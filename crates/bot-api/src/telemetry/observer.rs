//! The turn's reports (bot-core's `TurnObserver`) as this service records
//! them: botbuilder's telemetry events and OpenTelemetry metrics.

use std::sync::Arc;

use bot_core::TurnObserver;
use bot_schema::Activity;
use qna::{QnaAnswer, ServedBy};

use super::metrics::metrics;
use super::BotTelemetry;

pub struct Observer(pub Arc<BotTelemetry>);

impl TurnObserver for Observer {
    fn message_sent(&self, reply: &Activity) {
        self.0.message_sent(reply);
    }

    fn qna_message(&self, activity: &Activity, knowledge_base_id: &str, best: Option<&QnaAnswer>) {
        self.0.qna_message(activity, knowledge_base_id, best);
    }

    fn answered(&self, served_by: &ServedBy) {
        metrics().answered(served_by);
    }

    fn unanswered(&self) {
        metrics().unanswered();
    }

    fn etag_conflict(&self, document: &'static str) {
        metrics().etag_conflict(document);
    }

    fn reply_refused(&self) {
        metrics().reply_refused();
    }

    fn reply_pending(&self) {
        metrics().reply_pending();
    }
}
