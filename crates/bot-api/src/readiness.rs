//! Readiness as its own module: dependency checks run in the background at a
//! fixed interval and `/readyz` answers from their cached results, so a
//! probe never reaches storage or the knowledge base itself.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bot_auth::ChannelValidator;
use bot_storage::Storage;
use qna::Answerer;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckStatus {
    pub name: &'static str,
    pub healthy: bool,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip)]
    pub checked_at: Option<Instant>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessReport {
    pub ready: bool,
    pub region: String,
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub name: &'static str,
    pub status: &'static str,
    pub latency_ms: f64,
    pub age_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

pub struct Readiness {
    region: String,
    storage: Arc<dyn Storage>,
    answerer: Arc<dyn Answerer>,
    auth: Option<Arc<ChannelValidator>>,
    results: RwLock<Vec<CheckStatus>>,
}

impl Readiness {
    pub fn new(region: String, storage: Arc<dyn Storage>, answerer: Arc<dyn Answerer>) -> Self {
        Self {
            region,
            storage,
            answerer,
            auth: None,
            results: RwLock::new(Vec::new()),
        }
    }

    /// Adds the channel-auth check: are the token signing keys loaded? The
    /// validator fetches only when its keys are due, so this adds no traffic.
    pub fn with_channel_auth(mut self, auth: Arc<ChannelValidator>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Runs every check once and caches the results.
    pub async fn refresh(&self) {
        let started = Instant::now();
        let storage = self.storage.ping().await.map_err(|e| e.to_string());
        let storage_ms = started.elapsed();
        let started = Instant::now();
        let kb = self.answerer.ready().await.map_err(|e| e.to_string());
        let kb_ms = started.elapsed();
        let started = Instant::now();
        let auth = match &self.auth {
            Some(a) => Some(a.ready().await.map_err(|e| e.to_string())),
            None => None,
        };
        let auth_ms = started.elapsed();
        let now = Instant::now();
        let status = |name, r: Result<(), String>, d: Duration| CheckStatus {
            name,
            healthy: r.is_ok(),
            latency_ms: d.as_secs_f64() * 1e3,
            last_error: r.err(),
            checked_at: Some(now),
        };
        let mut results = vec![
            status("storage", storage, storage_ms),
            status("knowledgeBase", kb, kb_ms),
        ];
        if let Some(auth) = auth {
            results.push(status("channelAuthKeys", auth, auth_ms));
        }
        for r in results.iter().filter(|r| !r.healthy) {
            tracing::warn!(
                check = r.name,
                error = r.last_error.as_deref(),
                "readiness check failing"
            );
        }
        *self.results.write().unwrap_or_else(|p| p.into_inner()) = results;
    }

    /// Refreshes forever at `interval`.
    pub fn spawn(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                me.refresh().await;
            }
        })
    }

    /// The cached report: no I/O.
    pub fn report(&self) -> ReadinessReport {
        let results = self.results.read().unwrap_or_else(|p| p.into_inner());
        let checks: Vec<CheckReport> = results
            .iter()
            .map(|c| CheckReport {
                name: c.name,
                status: if c.healthy { "up" } else { "down" },
                latency_ms: (c.latency_ms * 1000.0).round() / 1000.0,
                age_ms: c.checked_at.map(|t| t.elapsed().as_millis() as u64),
                last_error: c.last_error.clone(),
            })
            .collect();
        ReadinessReport {
            ready: !checks.is_empty() && checks.iter().all(|c| c.status == "up"),
            region: self.region.clone(),
            checks,
        }
    }
}
