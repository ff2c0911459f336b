//! The bot's own tokens, sent with every reply to a channel's serviceUrl.
//!
//! Tokens are cached until 5 minutes before they expire. The cache sits
//! behind an async mutex held across the refresh, so however many turns need
//! a token at once, one request goes to the token endpoint and the others
//! wait for its answer (single flight).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bot_schema::{CredentialProvider, SchemaError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::error::AuthError;
use crate::service_url::ServiceUrlPolicy;

/// Refresh this long before a token expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// How the bot proves who it is to the token endpoint.
pub enum AppIdentity {
    /// MultiTenant and SingleTenant: OAuth client credentials with the app
    /// password against `{authority}/{tenant}/oauth2/v2.0/token`.
    ClientSecret {
        client_id: String,
        secret: SecretString,
        token_endpoint: String,
    },
    /// UserAssignedMSI: App Service's managed identity endpoint
    /// (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`) with the identity's client id.
    ManagedIdentity {
        client_id: String,
        endpoint: String,
        header: SecretString,
    },
}

impl AppIdentity {
    fn endpoint(&self) -> &str {
        match self {
            AppIdentity::ClientSecret { token_endpoint, .. } => token_endpoint,
            AppIdentity::ManagedIdentity { endpoint, .. } => endpoint,
        }
    }
}

struct Cached {
    token: SecretString,
    /// Seconds since the Unix epoch.
    expires_at: u64,
}

pub struct AppCredentials {
    identity: AppIdentity,
    scope: String,
    http: reqwest::Client,
    /// Tokens are only handed out for allowed serviceUrls.
    policy: Option<Arc<ServiceUrlPolicy>>,
    cache: Mutex<Option<Cached>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Client credentials: seconds from now.
    #[serde(default)]
    expires_in: Option<NumberOrString>,
    /// Managed identity: seconds since the epoch, as a string.
    #[serde(default)]
    expires_on: Option<NumberOrString>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    N(u64),
    S(String),
}

impl NumberOrString {
    fn get(&self) -> Option<u64> {
        match self {
            NumberOrString::N(n) => Some(*n),
            NumberOrString::S(s) => s.trim().parse().ok(),
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl AppCredentials {
    /// `scope` is `https://api.botframework.com/.default` for the public
    /// cloud; the managed identity endpoint takes it as a resource (without
    /// `/.default`).
    pub fn new(
        identity: AppIdentity,
        scope: impl Into<String>,
        http: reqwest::Client,
        policy: Option<Arc<ServiceUrlPolicy>>,
    ) -> Self {
        Self {
            identity,
            scope: scope.into(),
            http,
            policy,
            cache: Mutex::new(None),
        }
    }

    /// A token valid for at least [`REFRESH_MARGIN`], from the cache or fresh.
    pub async fn access_token(&self) -> Result<SecretString, AuthError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            if c.expires_at > now_secs() + REFRESH_MARGIN.as_secs() {
                return Ok(c.token.clone());
            }
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    fn failed(&self, reason: impl Into<String>) -> AuthError {
        AuthError::TokenEndpoint {
            url: self.identity.endpoint().to_string(),
            reason: reason.into(),
        }
    }

    async fn fetch(&self) -> Result<Cached, AuthError> {
        let req = match &self.identity {
            AppIdentity::ClientSecret {
                client_id,
                secret,
                token_endpoint,
            } => self.http.post(token_endpoint).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", secret.expose_secret()),
                ("scope", self.scope.as_str()),
            ]),
            AppIdentity::ManagedIdentity {
                client_id,
                endpoint,
                header,
            } => {
                let resource = self.scope.trim_end_matches("/.default");
                self.http
                    .get(endpoint)
                    .query(&[
                        ("api-version", "2019-08-01"),
                        ("resource", resource),
                        ("client_id", client_id.as_str()),
                    ])
                    .header("X-IDENTITY-HEADER", header.expose_secret())
            }
        };
        let resp = req.send().await.map_err(|e| self.failed(e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            // Entra's error bodies name the problem (AADSTS codes) and never
            // echo the secret.
            let body = resp.text().await.unwrap_or_default();
            return Err(self.failed(format!(
                "answered {status}: {}",
                body.chars().take(300).collect::<String>()
            )));
        }
        let body: TokenResponse = resp
            .json()
            .await
            .map_err(|e| self.failed(format!("unexpected token response: {e}")))?;
        let now = now_secs();
        let expires_at = body
            .expires_on
            .as_ref()
            .and_then(NumberOrString::get)
            .or_else(|| {
                body.expires_in
                    .as_ref()
                    .and_then(NumberOrString::get)
                    .map(|s| now + s)
            })
            .ok_or_else(|| self.failed("token response has no expires_in or expires_on"))?;
        if body.access_token.is_empty() {
            return Err(self.failed("token response has an empty access_token"));
        }
        tracing::debug!(
            expires_in_s = expires_at.saturating_sub(now),
            "got a Bot Framework token"
        );
        Ok(Cached {
            token: SecretString::from(body.access_token),
            expires_at,
        })
    }
}

#[async_trait]
impl CredentialProvider for AppCredentials {
    async fn token(&self, service_url: &str) -> Result<Option<SecretString>, SchemaError> {
        if let Some(policy) = &self.policy {
            policy
                .check(service_url)
                .map_err(|e| SchemaError::InvalidServiceUrl {
                    url: service_url.to_string(),
                    reason: e.to_string(),
                })?;
        }
        self.access_token()
            .await
            .map(Some)
            .map_err(|e| SchemaError::Credentials(e.to_string()))
    }

    async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }
}
