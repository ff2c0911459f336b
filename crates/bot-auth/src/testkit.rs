//! Local stand-ins for the identity services, for tests: no Entra or Bot
//! Framework token service emulator exists, so this serves the documented
//! payloads on 127.0.0.1:
//!
//! - OpenID metadata (`{"issuer", "jwks_uri"}`) and a JWKS of generated RSA
//!   keys (with optional `endorsements`), once for channels and once for the
//!   Emulator/skill issuers;
//! - a client-credentials token endpoint (`POST`, form body, answers
//!   `{"token_type","expires_in","access_token"}`) and an App Service managed
//!   identity endpoint (`GET`, `X-IDENTITY-HEADER`, answers `expires_on`),
//!   both counting requests;
//! - a Connector (`POST /v3/conversations/{id}/activities[/{replyToId}]`)
//!   that records what the bot sends and with which Authorization header.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::{EncodingKey, Header};
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use serde_json::{json, Value};

/// An RSA key pair made for the test run.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    encoding: EncodingKey,
    /// PKCS#1 DER of the public key: what an attacker would use as an HMAC
    /// secret in the alg-confusion attack.
    pub public_der: Vec<u8>,
    n: String,
    e: String,
}

impl TestKey {
    /// 2048 bits, the size Bot Framework uses.
    pub fn generate(kid: &str) -> Self {
        let mut rng = getrandom::SysRng;
        let key = rsa::PrivateKey::new(&mut rng, 2048).expect("generating an RSA test key");
        let der = key.to_pkcs1_der().expect("encoding the RSA test key");
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        let public_der = key
            .to_public_key()
            .to_pkcs1_der()
            .expect("encoding the RSA public key")
            .as_bytes()
            .to_vec();
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, Algorithm::RS256)
            .expect("JWK of the test key");
        let jwk = serde_json::to_value(jwk).expect("JWK to JSON");
        Self {
            kid: kid.to_string(),
            encoding,
            public_der,
            n: jwk["n"].as_str().unwrap_or_default().to_string(),
            e: jwk["e"].as_str().unwrap_or_default().to_string(),
        }
    }

    /// This key as a JWKS entry, with `endorsements` when given.
    pub fn jwk(&self, endorsements: Option<&[&str]>) -> Value {
        let mut v = json!({
            "kty": "RSA", "use": "sig", "kid": self.kid, "n": self.n, "e": self.e,
        });
        if let Some(e) = endorsements {
            v["endorsements"] = json!(e);
        }
        v
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(claims, Algorithm::RS256, &self.kid)
    }

    /// Signs with this key but any algorithm and key id.
    pub fn sign_with(&self, claims: &Value, alg: Algorithm, kid: &str) -> String {
        let mut h = Header::new(alg);
        h.kid = Some(kid.to_string());
        jsonwebtoken::encode(&h, claims, &self.encoding).expect("signing a test token")
    }
}

/// An unsigned token (`alg: none`).
pub fn unsigned_token(claims: &Value, kid: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    )
}

/// A token signed HS256 with `secret` (e.g. a public key).
pub fn hmac_token(claims: &Value, secret: &[u8], kid: &str) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(kid.to_string());
    jsonwebtoken::encode(
        &h,
        claims,
        &EncodingKey::from_secret(secret).expect("HMAC key"),
    )
    .expect("signing an HMAC token")
}

pub fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// One activity the bot POSTed to the local Connector.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub authorization: Option<String>,
    pub activity: Value,
}

#[derive(Default)]
struct Inner {
    base: String,
    channel_keys: Mutex<Vec<Value>>,
    emulator_keys: Mutex<Vec<Value>>,
    metadata_fetches: AtomicUsize,
    token_requests: AtomicUsize,
    msi_requests: AtomicUsize,
    token_lifetime_s: AtomicU64,
    token_delay_ms: AtomicU64,
    received: Mutex<Vec<Received>>,
    last_token_form: Mutex<Vec<(String, String)>>,
}

/// The local identity + Connector server. Stops when dropped.
pub struct IdentityServer {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for IdentityServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The managed identity header the MSI endpoint expects.
pub const MSI_HEADER: &str = "test-identity-header";

impl IdentityServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the identity stand-in");
        let addr = listener.local_addr().expect("local addr");
        let inner = Arc::new(Inner {
            base: format!("http://{addr}"),
            token_lifetime_s: AtomicU64::new(3600),
            ..Default::default()
        });
        let app = Router::new()
            .route("/{which}/.well-known/openid-configuration", get(metadata))
            .route("/{which}/keys", get(jwks))
            .route("/token", post(token))
            .route("/msi/token", get(msi_token))
            .route("/v3/conversations/{conv}/activities", post(new_activity))
            .route("/v3/conversations/{conv}/activities/{id}", post(reply))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner, task }
    }

    pub fn base_url(&self) -> String {
        self.inner.base.clone()
    }
    pub fn channel_metadata_url(&self) -> String {
        format!(
            "{}/channel/.well-known/openid-configuration",
            self.inner.base
        )
    }
    pub fn emulator_metadata_url(&self) -> String {
        format!(
            "{}/emulator/.well-known/openid-configuration",
            self.inner.base
        )
    }
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.inner.base)
    }
    pub fn msi_endpoint(&self) -> String {
        format!("{}/msi/token", self.inner.base)
    }
    pub fn set_channel_keys(&self, keys: Vec<Value>) {
        *lock(&self.inner.channel_keys) = keys;
    }
    pub fn set_emulator_keys(&self, keys: Vec<Value>) {
        *lock(&self.inner.emulator_keys) = keys;
    }
    /// Metadata documents served (each key refresh fetches one).
    pub fn metadata_fetches(&self) -> usize {
        self.inner.metadata_fetches.load(Ordering::SeqCst)
    }
    pub fn token_requests(&self) -> usize {
        self.inner.token_requests.load(Ordering::SeqCst)
    }
    pub fn msi_requests(&self) -> usize {
        self.inner.msi_requests.load(Ordering::SeqCst)
    }
    /// Lifetime of the tokens handed out from now on.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.inner.token_lifetime_s.store(secs, Ordering::SeqCst);
    }
    /// Makes the token endpoint slow, so that concurrent callers overlap.
    pub fn set_token_delay(&self, d: Duration) {
        self.inner
            .token_delay_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }
    pub fn received(&self) -> Vec<Received> {
        lock(&self.inner.received).clone()
    }
    pub fn last_token_form(&self) -> Vec<(String, String)> {
        lock(&self.inner.last_token_form).clone()
    }
}

async fn metadata(State(s): State<Arc<Inner>>, Path(which): Path<String>) -> Response {
    s.metadata_fetches.fetch_add(1, Ordering::SeqCst);
    if which != "channel" && which != "emulator" {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(json!({
        "issuer": "https://api.botframework.com",
        "jwks_uri": format!("{}/{which}/keys", s.base),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn jwks(State(s): State<Arc<Inner>>, Path(which): Path<String>) -> Response {
    let keys = match which.as_str() {
        "channel" => lock(&s.channel_keys).clone(),
        "emulator" => lock(&s.emulator_keys).clone(),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    Json(json!({ "keys": keys })).into_response()
}

async fn token(State(s): State<Arc<Inner>>, body: String) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let n = s.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
    *lock(&s.last_token_form) = form;
    let delay = s.token_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let lifetime = s.token_lifetime_s.load(Ordering::SeqCst);
    Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": format!("app-token-{n}"),
    }))
    .into_response()
}

async fn msi_token(
    State(s): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let n = s.msi_requests.fetch_add(1, Ordering::SeqCst) + 1;
    if headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        != Some(MSI_HEADER)
    {
        return (StatusCode::UNAUTHORIZED, "missing X-IDENTITY-HEADER").into_response();
    }
    let param = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let expires_on = now() as u64 + s.token_lifetime_s.load(Ordering::SeqCst);
    Json(json!({
        "access_token": format!("msi-token-{n}"),
        "expires_on": expires_on.to_string(),
        "resource": param("resource"),
        "client_id": param("client_id"),
        "token_type": "Bearer",
    }))
    .into_response()
}

async fn new_activity(
    State(s): State<Arc<Inner>>,
    Path(conv): Path<String>,
    headers: HeaderMap,
    Json(activity): Json<Value>,
) -> Response {
    record(
        &s,
        format!("/v3/conversations/{conv}/activities"),
        &headers,
        activity,
    )
}

async fn reply(
    State(s): State<Arc<Inner>>,
    Path((conv, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(activity): Json<Value>,
) -> Response {
    record(
        &s,
        format!("/v3/conversations/{conv}/activities/{id}"),
        &headers,
        activity,
    )
}

fn record(s: &Inner, path: String, headers: &HeaderMap, activity: Value) -> Response {
    lock(&s.received).push(Received {
        path,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        activity,
    });
    Json(json!({"id": "sent-1"})).into_response()
}
