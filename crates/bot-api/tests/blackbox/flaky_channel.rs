//! A channel's Connector endpoint that fails the ways channels do: 503,
//! 429 with `Retry-After`, a dropped connection, a final 400. Written on
//! plain TCP so that it can drop a connection without answering. It keeps
//! every POST it saw and the replies it accepted, in order.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Unavailable,
    /// 429 with `Retry-After` in seconds.
    Throttle(u64),
    /// Closes the connection without an answer.
    Drop,
    /// 400: a reply the channel will never take.
    Refuse,
}

/// Decides each POST: the reply's `replyToId`, how many POSTs of that
/// `replyToId` came before, and the time since the server started.
pub type Script = dyn Fn(&str, usize, Duration) -> Answer + Send + Sync;

#[derive(Debug, Clone)]
pub struct Post {
    pub reply_to: String,
    pub answer: Answer,
    pub body: Value,
}

pub struct FlakyChannel {
    pub url: String,
    posts: Arc<Mutex<Vec<Post>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FlakyChannel {
    pub async fn start(
        script: impl Fn(&str, usize, Duration) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let posts = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let started = Instant::now();
        let task = {
            let posts = posts.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (posts, script) = (posts.clone(), script.clone());
                    tokio::spawn(serve(stream, posts, script, started));
                }
            })
        };
        Self { url, posts, task }
    }

    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// The `replyToId` of every accepted reply, in the order accepted.
    pub fn accepted(&self) -> Vec<String> {
        self.posts()
            .into_iter()
            .filter(|p| p.answer == Answer::Accept)
            .map(|p| p.reply_to)
            .collect()
    }

    /// How many replies to `reply_to` were accepted.
    pub fn accepted_for(&self, reply_to: &str) -> usize {
        self.accepted().iter().filter(|r| *r == reply_to).count()
    }
}

impl Drop for FlakyChannel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    posts: Arc<Mutex<Vec<Post>>>,
    script: Arc<Script>,
    started: Instant,
) {
    let mut buf = Vec::new();
    loop {
        // One request: headers, then a body of content-length bytes.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Value =
            serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
        buf.drain(..head_end + length);
        let reply_to = body["replyToId"].as_str().unwrap_or("").to_string();
        let answer = {
            let mut posts = posts.lock().unwrap();
            let before = posts.iter().filter(|p| p.reply_to == reply_to).count();
            let answer = script(&reply_to, before, started.elapsed());
            posts.push(Post {
                reply_to,
                answer,
                body,
            });
            answer
        };
        let (status, extra, payload) = match answer {
            Answer::Accept => ("200 OK", String::new(), r#"{"id":"accepted"}"#),
            Answer::Unavailable => ("503 Service Unavailable", String::new(), "{}"),
            Answer::Throttle(s) => (
                "429 Too Many Requests",
                format!("retry-after: {s}\r\n"),
                "{}",
            ),
            Answer::Refuse => (
                "400 Bad Request",
                String::new(),
                r#"{"error":{"code":"BadArgument"}}"#,
            ),
            Answer::Drop => return,
        };
        let resp = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n{payload}",
            payload.len()
        );
        if stream.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}
