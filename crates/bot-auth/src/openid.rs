//! Signing keys from OpenID metadata: `metadata URL -> jwks_uri -> keys`.
//!
//! The key set is cached. It is refreshed when older than `max_age` (24 h by
//! default), and at once when a token names a key id we do not hold, but at
//! most once per `min_refresh` (1 min) so that tokens with made-up key ids
//! cannot make us hammer the metadata endpoint. One fetch at a time: callers
//! that arrive during a fetch wait for its result.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::error::AuthError;

/// One signing key and the channels it may sign for.
#[derive(Clone)]
pub struct SigningKey {
    pub key: DecodingKey,
    /// Channel ids this key is endorsed for; empty when the key lists none.
    pub endorsements: Vec<String>,
}

#[derive(Deserialize)]
struct Metadata {
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    #[serde(default)]
    kty: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    endorsements: Option<Vec<String>>,
}

struct KeySet {
    keys: HashMap<String, Arc<SigningKey>>,
    fetched_at: Instant,
}

#[derive(Default)]
struct State {
    set: Option<KeySet>,
    last_attempt: Option<Instant>,
    last_error: Option<AuthError>,
}

pub struct OpenIdKeys {
    metadata_url: String,
    http: reqwest::Client,
    max_age: Duration,
    min_refresh: Duration,
    state: Mutex<State>,
}

impl OpenIdKeys {
    pub fn new(
        metadata_url: impl Into<String>,
        http: reqwest::Client,
        max_age: Duration,
        min_refresh: Duration,
    ) -> Self {
        Self {
            metadata_url: metadata_url.into(),
            http,
            max_age,
            min_refresh,
            state: Mutex::new(State::default()),
        }
    }

    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// The key with this id. `Ok(None)` means the key set was fetched (or is
    /// fresh) and does not hold it: the token is not ours to accept.
    pub async fn key(&self, kid: &str) -> Result<Option<Arc<SigningKey>>, AuthError> {
        let mut state = self.state.lock().await;
        self.ensure_loaded(&mut state).await?;
        if let Some(k) = state.set.as_ref().and_then(|s| s.keys.get(kid)) {
            return Ok(Some(k.clone()));
        }
        if self.may_refetch(&state) {
            tracing::info!(
                kid,
                url = %self.metadata_url,
                "unknown signing key id; refreshing keys"
            );
            // A failure here keeps the old keys; the token still names a key
            // we do not have, which is an answer, not an outage.
            if let Err(e) = self.refresh(&mut state).await {
                tracing::warn!(error = %e, "key refresh for unknown kid failed");
            }
        }
        Ok(state.set.as_ref().and_then(|s| s.keys.get(kid)).cloned())
    }

    /// Loads the keys when none are held or they are older than `max_age`;
    /// for readiness. Never fetches more often than `min_refresh` after a
    /// failure.
    pub async fn ensure_fresh(&self) -> Result<usize, AuthError> {
        let mut state = self.state.lock().await;
        self.ensure_loaded(&mut state).await?;
        Ok(state.set.as_ref().map(|s| s.keys.len()).unwrap_or(0))
    }

    fn may_refetch(&self, state: &State) -> bool {
        state
            .last_attempt
            .is_none_or(|t| t.elapsed() >= self.min_refresh)
    }

    async fn ensure_loaded(&self, state: &mut State) -> Result<(), AuthError> {
        let stale = match &state.set {
            None => true,
            Some(s) => s.fetched_at.elapsed() >= self.max_age,
        };
        if !stale {
            return Ok(());
        }
        if !self.may_refetch(state) {
            // Tried recently: answer from what we have, or the last error.
            return match (&state.set, &state.last_error) {
                (Some(_), _) => Ok(()),
                (None, Some(e)) => Err(e.clone()),
                (None, None) => Err(self.unavailable("no keys loaded")),
            };
        }
        match self.refresh(state).await {
            Ok(()) => Ok(()),
            // Stale keys still verify tokens signed before a rotation; better
            // than refusing every channel while the metadata is down.
            Err(e) if state.set.is_some() => {
                tracing::warn!(error = %e, "key refresh failed; keeping the keys we have");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn refresh(&self, state: &mut State) -> Result<(), AuthError> {
        let fetched = self.fetch().await;
        // Counted once it has an outcome: a fetch cancelled half-way (a
        // readiness check's timeout) must not hold off the next one for
        // min_refresh with no keys and no error to show.
        state.last_attempt = Some(Instant::now());
        match fetched {
            Ok(keys) => {
                tracing::info!(url = %self.metadata_url, keys = keys.len(), "signing keys loaded");
                state.set = Some(KeySet {
                    keys,
                    fetched_at: Instant::now(),
                });
                state.last_error = None;
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "could not fetch Bot Framework signing keys");
                state.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn unavailable(&self, reason: impl Into<String>) -> AuthError {
        AuthError::KeysUnavailable {
            url: self.metadata_url.clone(),
            reason: reason.into(),
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, AuthError> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| self.unavailable(format!("GET {url}: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(self.unavailable(format!("GET {url} answered {status}")));
        }
        resp.json()
            .await
            .map_err(|e| self.unavailable(format!("GET {url}: unexpected body: {e}")))
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<SigningKey>>, AuthError> {
        let meta: Metadata = self.get_json(&self.metadata_url).await?;
        let jwks: Jwks = self.get_json(&meta.jwks_uri).await?;
        let mut keys = HashMap::new();
        for jwk in jwks.keys {
            let (Some(kid), Some(n), Some(e)) = (jwk.kid, jwk.n, jwk.e) else {
                continue;
            };
            if jwk.kty.as_deref().is_some_and(|k| k != "RSA") {
                continue;
            }
            match DecodingKey::from_rsa_components(&n, &e) {
                Ok(key) => {
                    keys.insert(
                        kid,
                        Arc::new(SigningKey {
                            key,
                            endorsements: jwk.endorsements.unwrap_or_default(),
                        }),
                    );
                }
                Err(err) => tracing::warn!(kid, error = %err, "skipping unusable signing key"),
            }
        }
        if keys.is_empty() {
            return Err(self.unavailable(format!("{} holds no usable RSA keys", meta.jwks_uri)));
        }
        Ok(keys)
    }
}
