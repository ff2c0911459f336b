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
            // What a channel receives is the replies, however slow the
            // machine; the typing tests turn typing indicators on.
            .env("BOT__BOT__TYPING_AFTER_MS", "0")
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
        let (base, task) = serve_stand_in(app).await;
        Self {
            url: format!("{base}/channel-prefix/"),
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

/// The admin key the tests' bots are started with (`admin_env`).
pub const ADMIN_KEY: &str = "admin-key-for-the-black-box-tests";

/// Settings that mount the admin routes with [`ADMIN_KEY`].
pub fn admin_env() -> (&'static str, &'static str) {
    ("BOT__AUTH__ADMIN_KEY", ADMIN_KEY)
}

/// An admin call: status and JSON body (Null when there is none).
pub async fn admin(
    bot: &BotProcess,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = client()
        .request(method, bot.url(path))
        .header("x-admin-key", ADMIN_KEY);
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A knowledge base file in QnA Maker's TSV export format: (question,
/// answer, follow-up prompts, context-only), one QnA id per row from 1.
pub fn kb_file(dir: &Path, rows: &[(&str, &str, &[&str], bool)]) -> String {
    let id_of = |q: &str| rows.iter().position(|r| r.0 == q).map(|i| i + 1);
    let mut tsv = String::from(
        "Question\tAnswer\tSource\tMetadata\tSuggestedQuestions\tIsContextOnly\tPrompts\tQnaId\n",
    );
    for (i, (question, answer, prompts, context_only)) in rows.iter().enumerate() {
        let prompts: Vec<Value> = prompts
            .iter()
            .enumerate()
            .map(|(n, p)| {
                json!({"displayOrder": n + 1, "qnaId": id_of(p).expect("prompt is a question of the KB"), "displayText": p})
            })
            .collect();
        tsv.push_str(&format!(
            "{question}\t{answer}\tEditorial\t\t[]\t{context_only}\t{}\t{}\n",
            Value::from(prompts),
            i + 1
        ));
    }
    let path = dir.join("kb.tsv");
    std::fs::write(&path, tsv).unwrap();
    path.display().to_string()
}

/// The activities of one type the channel received.
pub fn of_type<'a>(got: &'a [Captured], kind: &str) -> Vec<&'a Value> {
    got.iter()
        .map(|c| &c.body)
        .filter(|b| b["type"] == kind)
        .collect()
}

/// One answer in the documented `:query-knowledgebases` response shape.
fn cqa_answer(id: u64, text: &str, score: f64) -> Value {
    json!({
        "questions": ["What is the VPN address?"], "answer": text,
        "confidenceScore": score, "id": id, "source": "Editorial", "metadata": {},
        "dialog": {"isContextOnly": false, "prompts": []},
    })
}

/// Serves a stand-in on a port the OS picks: its base URL and its task.
async fn serve_stand_in(app: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

/// Settings that make the bot ask a CQA stand-in at `url`, once per turn.
fn cqa_env(url: &str, key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("BOT__QNA__KIND", "cqa".into()),
        ("BOT__QNA__ENDPOINTS", url.to_string()),
        ("BOT__QNA__KEY", key.into()),
        ("BOT__QNA__PROJECT_NAME", "faq".into()),
        ("BOT__QNA__TIMEOUT_MS", "10000".into()),
        ("BOT__QNA__RETRIES", "0".into()),
    ]
}

/// A remote knowledge base (Azure AI Language question answering, the
/// documented `POST /language/:query-knowledgebases` API) that holds each
/// answer until `ready()` says so (or 5 s pass): a slow KB whose slowness
/// the test controls without timing anything.
pub struct SlowKb {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl SlowKb {
    pub async fn start(answer: &str, ready: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        let answer = answer.to_string();
        let ready = Arc::new(ready);
        let app = Router::new().without_v07_checks().route(
            "/language/:query-knowledgebases",
            axum::routing::post(move || {
                let (answer, ready) = (answer.clone(), ready.clone());
                async move {
                    let until = std::time::Instant::now() + Duration::from_secs(5);
                    while !ready() && std::time::Instant::now() < until {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    axum::Json(json!({"answers": [cqa_answer(1, &answer, 0.93)]}))
                }
            }),
        );
        let (url, task) = serve_stand_in(app).await;
        Self { url, task }
    }

    /// Settings that make the bot ask this KB.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        cqa_env(&self.url, "slow-kb-key")
    }
}

impl Drop for SlowKb {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A remote knowledge base (the documented `POST
/// /language/:query-knowledgebases` API) that keeps every request body and
/// answers with at most the `top` answers asked for, of two it holds.
pub struct RecordingKb {
    pub url: String,
    pub asked: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingKb {
    pub async fn start() -> Self {
        let asked: Arc<Mutex<Vec<Value>>> = Arc::default();
        let kept = asked.clone();
        let app = Router::new().without_v07_checks().route(
            "/language/:query-knowledgebases",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let kept = kept.clone();
                async move {
                    let top = body["top"].as_u64().unwrap_or(3) as usize;
                    kept.lock().unwrap().push(body);
                    let answers: Vec<Value> = [
                        cqa_answer(1, "Connect to vpn.contoso.com.", 0.93),
                        cqa_answer(2, "Ask the service desk.", 0.41),
                    ]
                    .into_iter()
                    .take(top)
                    .collect();
                    axum::Json(json!({ "answers": answers }))
                }
            }),
        );
        let (url, task) = serve_stand_in(app).await;
        Self { url, asked, task }
    }

    /// Settings that make the bot ask this KB.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        cqa_env(&self.url, "recording-kb-key")
    }
}

impl Drop for RecordingKb {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A bot that must not start: what it said before it exited. A bot that
/// is still running after 30 s fails the test (and is stopped).
pub fn start_refused(state_dir: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bot-api"));
    cmd.current_dir(repo_root())
        .env("BOT__SERVER__LISTEN", "127.0.0.1:0")
        .env("BOT__STORAGE__PATH", state_dir.join("state.db"))
        .env_remove("BOT_REGION")
        .env_remove("MicrosoftAppId")
        .env_remove("MicrosoftAppPassword")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run bot-api");
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > until {
            let _ = child.kill();
            panic!("bot-api started although it should have refused to");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "bot-api exited 0: {out:?}");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub const APP_ID: &str = "3f6bd8a2-0c8e-4a4b-9d0e-6c1f2b7a9e51";

/// A Bot Framework cloud on 127.0.0.1: bot-auth's identity stand-in (OpenID
/// metadata, signing keys, token endpoints and a Connector that records
/// what the bot sends), with one signing key for channels and the Emulator.
pub struct Cloud {
    pub server: bot_auth::testkit::IdentityServer,
    key: bot_auth::testkit::TestKey,
}

impl Cloud {
    pub async fn start() -> Self {
        let server = bot_auth::testkit::IdentityServer::start().await;
        let key = bot_auth::testkit::TestKey::generate("cloud-key");
        server.set_channel_keys(vec![key.jwk(None)]);
        server.set_emulator_keys(vec![key.jwk(None)]);
        Self { server, key }
    }

    /// The bot's app registration (client secret) and this cloud's
    /// endpoints as the settings of `section` ("auth" for the public
    /// cloud, "auth.us_government").
    pub fn env(&self, section: &str) -> Vec<(String, String)> {
        let prefix = format!("BOT__{}", section.to_uppercase().replace('.', "__"));
        vec![
            ("MicrosoftAppId".into(), APP_ID.into()),
            ("MicrosoftAppPassword".into(), "client-secret".into()),
            (
                format!("{prefix}__CHANNEL_OPENID_METADATA_URL"),
                self.server.channel_metadata_url(),
            ),
            (
                format!("{prefix}__EMULATOR_OPENID_METADATA_URL"),
                self.server.emulator_metadata_url(),
            ),
            (
                format!("{prefix}__TOKEN_ENDPOINT"),
                self.server.token_endpoint(),
            ),
        ]
    }

    /// A channel's token, from `issuer`, for replies to this cloud's Connector.
    pub fn channel_token(&self, issuer: &str) -> String {
        let now = bot_auth::testkit::now();
        self.key.sign(&json!({
            "iss": issuer, "aud": APP_ID, "exp": now + 3600, "nbf": now - 10,
            "serviceurl": self.server.base_url(),
        }))
    }

    /// A v1 token of a bot (`caller`), as a skill caller sends it.
    pub fn bot_token(&self, caller: &str) -> String {
        let now = bot_auth::testkit::now();
        self.key.sign(&json!({
            "iss": "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/",
            "aud": APP_ID, "exp": now + 3600, "nbf": now - 10, "ver": "1.0", "appid": caller,
        }))
    }
}

/// Posts with `Authorization: Bearer <token>`.
pub async fn post_with(bot: &BotProcess, token: &str, activity: &Value) -> reqwest::Response {
    client()
        .post(bot.url("/api/messages"))
        .bearer_auth(token)
        .json(activity)
        .send()
        .await
        .unwrap()
}

/// The transcript of a conversation, from the SQLite transcript store, once
/// it holds `at_least` entries: the bot writes transcripts in the background,
/// after it has answered. Panics with what it holds after 30 s.
pub async fn transcript(
    path: &Path,
    channel: &str,
    conversation: &str,
    at_least: usize,
) -> Vec<Value> {
    use bot_storage::transcript::{SqliteTranscriptStore, TranscriptStore};
    let store = SqliteTranscriptStore::open(path).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = store
            .activities(channel, conversation, None, None)
            .await
            .unwrap();
        if page.items.len() >= at_least || std::time::Instant::now() > deadline {
            return page
                .items
                .iter()
                .map(|a| serde_json::to_value(a).unwrap())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
