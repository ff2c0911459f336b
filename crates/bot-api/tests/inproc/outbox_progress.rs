//! The progress of a turn's replies (sent, or pending) is written after the
//! channel took them, starting from the document the turn's commit wrote
//! instead of reading it back. These tests hold both halves of that: the
//! read is saved, and a document another writer changed meanwhile (the
//! other region, say) is never written over: the stale copy fails its eTag
//! and the progress goes onto a fresh read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use axum::routing::post;
use bot_api::startup;
use bot_core::state::ConversationState;
use bot_storage::{Change, MemoryStorage, Precondition, Storage, StorageError, StoreItem};
use serde_json::{json, Value};

use crate::harness::{post_activity, settings};

const CONV: &str = "progress-1";

fn conv_key() -> String {
    ConversationState::key("webchat", CONV)
}

/// Memory storage that counts reads of the conversation and can play
/// another writer: right after the turn's commit (the write that records
/// the activity with its outbox), it writes the conversation once more.
#[derive(Default)]
struct Meddling {
    inner: MemoryStorage,
    conversation_reads: AtomicUsize,
    conflicts: AtomicUsize,
    meddle: AtomicBool,
    meddled: AtomicBool,
}

fn has_outbox(document: &Value) -> bool {
    document["processedActivities"]
        .as_array()
        .is_some_and(|records| records.iter().any(|r| r.get("sent").is_some()))
}

#[async_trait]
impl Storage for Meddling {
    async fn read(&self, keys: &[String]) -> Result<HashMap<String, StoreItem>, StorageError> {
        if keys.contains(&conv_key()) {
            self.conversation_reads.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.read(keys).await
    }

    async fn write(&self, changes: Vec<Change>) -> Result<Vec<String>, StorageError> {
        let commit = changes
            .iter()
            .any(|c| c.key == conv_key() && has_outbox(&c.document));
        let written = self.inner.write(changes).await;
        if matches!(written, Err(StorageError::Conflict { .. })) {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
        }
        if commit
            && written.is_ok()
            && self.meddle.load(Ordering::SeqCst)
            && !self.meddled.swap(true, Ordering::SeqCst)
        {
            let mut current = self.inner.read(&[conv_key()]).await?;
            let item = current.remove(&conv_key()).expect("just written");
            let mut document = item.document;
            document["writtenElsewhere"] = json!(true);
            self.inner
                .write(vec![Change {
                    key: conv_key(),
                    document,
                    precondition: Precondition::IfMatch(item.etag),
                }])
                .await?;
        }
        written
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StorageError> {
        self.inner.delete(keys).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "meddling"
    }
}

/// A channel that accepts every reply and keeps its text.
async fn channel() -> (String, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/v3/conversations/{conv}/activities/{reply_to}",
        post(move |axum::Json(reply): axum::Json<Value>| {
            let keep = keep.clone();
            async move {
                let text = reply["text"].as_str().unwrap_or_default().to_string();
                keep.lock().unwrap().push(text);
                axum::Json(json!({"id": "r"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got)
}

fn message(id: &str, service_url: &str) -> Value {
    json!({
        "type": "message", "id": id, "channelId": "webchat",
        "serviceUrl": service_url,
        "conversation": {"id": CONV}, "from": {"id": "u1", "name": "User"},
        "recipient": {"id": "bot-1", "name": "Bot"},
        "text": "hello", "locale": "en-US",
    })
}

async fn conversation(storage: &Meddling) -> Value {
    let mut items = storage.inner.read(&[conv_key()]).await.unwrap();
    items
        .remove(&conv_key())
        .expect("the conversation")
        .document
}

/// Waits until no record of the conversation has replies pending: the
/// progress write runs after the answer to the channel.
async fn settled(storage: &Meddling) -> Value {
    for _ in 0..200 {
        let doc = conversation(storage).await;
        if !has_outbox(&doc) {
            return doc;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the replies' progress was never written");
}

async fn app(storage: Arc<Meddling>) -> axum::Router {
    let s = settings::<&str>(&[]);
    let answerer = startup::open_answerer(&s.qna).unwrap();
    let state = startup::build_state_with(s, storage, answerer, None)
        .await
        .unwrap();
    startup::app(state)
}

#[tokio::test]
async fn the_progress_write_starts_from_the_committed_document() {
    let storage = Arc::new(Meddling::default());
    let app = app(storage.clone()).await;
    let (url, got) = channel().await;
    for id in ["m1", "m2", "m3"] {
        let (status, _) = post_activity(&app, None, &message(id, &url)).await;
        assert_eq!(status, StatusCode::OK, "{id}");
        settled(&storage).await;
    }
    assert_eq!(got.lock().unwrap().len(), 3, "one reply per message");
    // One read of the conversation per turn (the turn's own); the progress
    // write used to read it a second time.
    assert_eq!(storage.conversation_reads.load(Ordering::SeqCst), 3);
    assert_eq!(storage.conflicts.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_document_changed_meanwhile_gets_the_progress_on_a_fresh_read() {
    let storage = Arc::new(Meddling::default());
    storage.meddle.store(true, Ordering::SeqCst);
    let app = app(storage.clone()).await;
    let (url, got) = channel().await;
    let (status, _) = post_activity(&app, None, &message("m1", &url)).await;
    assert_eq!(status, StatusCode::OK);
    let doc = settled(&storage).await;
    assert!(
        storage.meddled.load(Ordering::SeqCst),
        "the other writer ran"
    );
    // The stale copy failed its eTag, and the progress went onto a read of
    // what the other writer left: its change is kept.
    assert_eq!(storage.conflicts.load(Ordering::SeqCst), 1);
    assert_eq!(doc["writtenElsewhere"], json!(true), "{doc}");
    assert!(
        doc["processedActivities"]
            .as_array()
            .unwrap()
            .contains(&json!("m1")),
        "the record is complete: {doc}"
    );
    assert_eq!(got.lock().unwrap().len(), 1, "the reply went out once");
}
