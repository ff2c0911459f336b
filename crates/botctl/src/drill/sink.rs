//! The channel the drill's replies go to in `--delivery channel`: a
//! Connector endpoint on loopback that keeps every reply it accepts, keyed
//! by the activity it answers (`replyToId`), with the turn the bot stamped
//! on it (typing indicators are accepted and not kept). With `refuse_first`, it answers the first POST of each
//! reply 503, as a channel under pressure does.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Accepted {
    /// The turn number the bot stamped on the reply.
    pub turn: Option<u64>,
    /// When the channel accepted it.
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    accepted: HashMap<String, Vec<Accepted>>,
    /// Replies refused once already (by replyToId and turn).
    refused: HashSet<(String, Option<u64>)>,
    posts: u64,
}

pub struct Sink {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

fn turn_of(reply: &Value) -> Option<u64> {
    reply["entities"]
        .as_array()?
        .iter()
        .find(|e| e["type"] == "botTurn")?["turn"]
        .as_u64()
}

async fn accept(
    State((inner, refuse_first)): State<(Arc<Mutex<Inner>>, bool)>,
    Json(reply): Json<Value>,
) -> (StatusCode, Json<Value>) {
    // A typing indicator (a slow turn's) is not a reply: not counted.
    if reply["type"] == "typing" {
        return (StatusCode::OK, Json(json!({"id": "typing"})));
    }
    let reply_to = reply["replyToId"].as_str().unwrap_or("").to_string();
    let turn = turn_of(&reply);
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    inner.posts += 1;
    if refuse_first && inner.refused.insert((reply_to.clone(), turn)) {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({})));
    }
    inner.accepted.entry(reply_to).or_default().push(Accepted {
        turn,
        at: Instant::now(),
    });
    (StatusCode::OK, Json(json!({"id": "accepted"})))
}

impl Sink {
    pub async fn start(refuse_first: bool) -> anyhow::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(axum::routing::post(accept))
            .with_state((inner.clone(), refuse_first));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, inner, task })
    }

    /// The replies accepted for one activity.
    pub fn accepted(&self, activity_id: &str) -> Vec<Accepted> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.accepted.get(activity_id).cloned().unwrap_or_default()
    }

    pub fn posts(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).posts
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
