//! Runs the real `bot-api` binary on a random port, and a capturing channel
//! server for replies. Each test cleans up what it starts (on drop).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Router;
use serde_json::{json, Value};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A port the OS hands out now; free again once this listener closes, and
/// not handed out again at once.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

pub struct BotProcess {
    child: Child,
    pub base: String,
    logs: Arc<Mutex<Vec<String>>>,
}

impl BotProcess {
    /// Starts the binary with SQLite state in `state_dir` and waits until it
    /// listens. `env` adds or overrides settings.
    pub fn start(state_dir: &Path, env: &[(&str, &str)]) -> Self {
        let root = repo_root();
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bot-api"));
        cmd.current_dir(&root)
            .env("BOT__SERVER__LISTEN", addr.to_string())
            .env("BOT__STORAGE__PATH", state_dir.join("state.db"))
            .env("BOT__LOG__FORMAT", "text")
            .env("RUST_LOG", "info")
            .env_remove("BOT_REGION")
            .env_remove("MicrosoftAppId")
            .env_remove("MicrosoftAppPassword")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start bot-api");
        let logs = Arc::new(Mutex::new(Vec::new()));
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            });
        }
        // Listening once a connection is accepted; a process that exited
        // first failed to start, and its log says why.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(addr).is_err() {
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "bot-api did not start ({exited:?}): {:#?}",
                    logs.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Self {
            child,
            base: format!("http://{addr}"),
            logs,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Sends SIGTERM, as App Service does before stopping an instance.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGKILL: nothing gets a chance to flush.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    bot_http::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A message Activity from user `from` in conversation `conv`.
pub fn message(id: &str, conv: &str, from: &str, text: &str) -> Value {
    json!({
        "type": "message", "id": id, "channelId": "test",
        "serviceUrl": "http://127.0.0.1:9/",
        "conversation": {"id": conv}, "from": {"id": from, "name": "User"},
        "recipient": {"id": "bot-1", "name": "Bot"},
        "text": text, "locale": "en-US",
    })
}

pub fn expect_replies(mut activity: Value) -> Value {
    activity["deliveryMode"] = json!("expectReplies");
    activity
}

pub async fn post(bot: &BotProcess, activity: &Value) -> reqwest::Response {
    client()
        .post(bot.url("/api/messages"))
        .json(activity)
        .send()
        .await
        .unwrap()
}

/// The `botTurn` entity's turn number on a reply.
pub fn turn_of(reply: &Value) -> Option<u64> {
    reply["entities"]
        .as_array()?
        .iter()
        .find(|e| e["type"] == "botTurn")?["turn"]
        .as_u64()
}

#[derive(Debug, Clone)]
pub struct Captured {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

/// A channel's Connector endpoint that records what the bot POSTs to it.
pub struct ChannelServer {
    pub url: String,
    pub captured: Arc<Mutex<Vec<Captured>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ChannelServer {
    pub async fn start() -> Self {
        let captured = Arc::new(Mutex::new(Vec::new()));
        async fn record(
            State(c): State<Arc<Mutex<Vec<Captured>>>>,
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> (StatusCode, axum::Json<Value>) {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            c.lock().unwrap().push(Captured {
                path: uri.path().to_string(),
                headers,
                body,
            });
            (StatusCode::OK, axum::Json(json!({"id": "reply-1"})))
        }
        let app = Router::new()
            .fallback(axum::routing::post(record))
            .with_state(captured.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/channel-prefix/"),
            captured,
            task,
        }
    }

    pub fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.captured.lock().unwrap())
    }
}

impl Drop for ChannelServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A config directory with one extra region file, so the test can name a
/// region of its own that still runs in local mode.
pub fn config_with_region(dir: &Path, region: &str) -> String {
    let config = dir.join("config");
    std::fs::create_dir_all(config.join("regions")).unwrap();
    std::fs::write(
        config.join("regions").join(format!("{region}.toml")),
        "[bot]\nmode = \"local\"\n",
    )
    .unwrap();
    config.display().to_string()
}

/// Reads state documents straight from the bot's SQLite file.
pub async fn read_state(state_dir: &Path, key: &str) -> Option<Value> {
    use bot_storage::Storage;
    let s = bot_storage::SqliteStorage::open(state_dir.join("state.db")).unwrap();
    s.read(&[key.to_string()])
        .await
        .unwrap()
        .remove(key)
        .map(|i| i.document)
}
