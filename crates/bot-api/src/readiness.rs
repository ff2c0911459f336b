//! Readiness as its own module: dependency checks run in the background at a
//! fixed interval and `/readyz` answers from their cached results, so a
//! probe costs microseconds and never reaches storage or the knowledge base.
//!
//! Only regional checks (this region's storage, its KB) take the region out
//! of rotation; the others are reported but do not fail readiness.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bot_auth::ChannelValidator;
use bot_storage::{Change, Precondition, Storage, StorageError};
use qna::Answerer;
use serde::Serialize;

use crate::drain::Drain;

#[async_trait]
pub trait HealthCheck: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether a failure takes this region out of rotation.
    fn regional(&self) -> bool {
        true
    }
    async fn check(&self) -> Result<(), String>;
}

pub struct StorageCheck(pub Arc<dyn Storage>);

#[async_trait]
impl HealthCheck for StorageCheck {
    fn name(&self) -> &'static str {
        "storage"
    }
    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}

/// Can this region write? Reads alone miss a region whose writes fail (a
/// single write region that is unreachable, before Cosmos fails over, is
/// answered 403 WriteForbidden while reads still work): it must not stay in
/// rotation with turns it cannot save.
///
/// Each instance writes a small document of its own, conditionally (the
/// eTag of its last write), on the readiness interval only: a probe never
/// causes a write.
pub struct StorageWriteCheck {
    storage: Arc<dyn Storage>,
    key: String,
    region: String,
    instance: String,
    etag: tokio::sync::Mutex<Option<String>>,
}

impl StorageWriteCheck {
    pub fn new(storage: Arc<dyn Storage>, region: &str, instance: &str) -> Self {
        Self {
            storage,
            key: format!("health/{region}/{instance}"),
            region: region.to_string(),
            instance: instance.to_string(),
            etag: tokio::sync::Mutex::new(None),
        }
    }

    /// The document's key: `health/{region}/{instance}`.
    pub fn key(&self) -> &str {
        &self.key
    }

    async fn write(&self, precondition: Precondition) -> Result<String, StorageError> {
        let document = serde_json::json!({
            "region": self.region,
            "instance": self.instance,
            "writtenAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        let mut etags = self
            .storage
            .write(vec![Change {
                key: self.key.clone(),
                document,
                precondition,
            }])
            .await?;
        Ok(etags.pop().unwrap_or_default())
    }
}

#[async_trait]
impl HealthCheck for StorageWriteCheck {
    fn name(&self) -> &'static str {
        "storageWrite"
    }
    async fn check(&self) -> Result<(), String> {
        // Checks of one Readiness never overlap; the lock only makes the
        // eTag's update atomic with the write.
        let mut etag = self.etag.lock().await;
        let precondition = match etag.clone() {
            Some(e) => Precondition::IfMatch(e),
            None => Precondition::IfNotExists,
        };
        let written = match self.write(precondition).await {
            // Our document, changed by someone else (or left by a run of
            // the same instance name): take its current eTag and write again.
            Err(StorageError::Conflict { .. }) => {
                let current = self
                    .storage
                    .read(std::slice::from_ref(&self.key))
                    .await
                    .map_err(|e| e.to_string())?;
                let precondition = match current.get(&self.key) {
                    Some(item) => Precondition::IfMatch(item.etag.clone()),
                    None => Precondition::IfNotExists,
                };
                self.write(precondition).await
            }
            other => other,
        };
        match written {
            Ok(e) => {
                *etag = Some(e);
                Ok(())
            }
            Err(e) => Err(format!("writing {}: {e}", self.key)),
        }
    }
}

pub struct KnowledgeBaseCheck(pub Arc<dyn Answerer>);

#[async_trait]
impl HealthCheck for KnowledgeBaseCheck {
    fn name(&self) -> &'static str {
        "knowledgeBase"
    }
    async fn check(&self) -> Result<(), String> {
        self.0.ready().await.map_err(|e| e.to_string())
    }
}

/// Are the Bot Framework token signing keys loaded? The validator fetches
/// only when its keys are due, so this adds no traffic. Not regional: the
/// metadata is global, and taking one region out would not help the other.
pub struct ChannelAuthCheck(pub Arc<ChannelValidator>);

#[async_trait]
impl HealthCheck for ChannelAuthCheck {
    fn name(&self) -> &'static str {
        "channelAuthKeys"
    }
    fn regional(&self) -> bool {
        false
    }
    async fn check(&self) -> Result<(), String> {
        self.0.ready().await.map_err(|e| e.to_string())
    }
}

/// A failing check's `lastError` for callers who may not read its cause.
pub const CAUSE_IN_LOG: &str =
    "failing; the cause is in this region's log (\"readiness check failing\"), and in this report with X-Admin-Key";

#[derive(Debug, Clone)]
struct CheckStatus {
    name: &'static str,
    regional: bool,
    healthy: bool,
    latency: Duration,
    last_error: Option<String>,
    checked_at: Instant,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessReport {
    pub ready: bool,
    pub draining: bool,
    pub region: String,
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub name: &'static str,
    pub status: &'static str,
    pub regional: bool,
    pub latency_ms: f64,
    pub age_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

pub struct Readiness {
    region: String,
    checks: Vec<Arc<dyn HealthCheck>>,
    timeout: Duration,
    drain: Arc<Drain>,
    results: RwLock<Vec<CheckStatus>>,
}

impl Readiness {
    pub fn new(
        region: String,
        checks: Vec<Arc<dyn HealthCheck>>,
        timeout: Duration,
        drain: Arc<Drain>,
    ) -> Self {
        Self {
            region,
            checks,
            timeout,
            drain,
            results: RwLock::new(Vec::new()),
        }
    }

    /// Runs every check once, concurrently, each bounded by the timeout,
    /// and caches the results.
    pub async fn refresh(&self) {
        let runs = self.checks.iter().map(|c| async move {
            let started = Instant::now();
            let result = match tokio::time::timeout(self.timeout, c.check()).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
            };
            CheckStatus {
                name: c.name(),
                regional: c.regional(),
                healthy: result.is_ok(),
                latency: started.elapsed(),
                last_error: result.err(),
                checked_at: Instant::now(),
            }
        });
        let results = futures::future::join_all(runs).await;
        let previous = self
            .results
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for r in &results {
            let was_healthy = previous
                .iter()
                .find(|p| p.name == r.name)
                .map(|p| p.healthy);
            if was_healthy != Some(r.healthy) {
                if r.healthy {
                    tracing::info!(check = r.name, "readiness check passing");
                } else {
                    tracing::warn!(
                        check = r.name,
                        error = r.last_error.as_deref(),
                        "readiness check failing"
                    );
                }
            }
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

    /// The cached report: no I/O. Without `causes`, a failing check's
    /// `lastError` says only that the cause is in the region's log.
    pub fn report(&self, causes: bool) -> ReadinessReport {
        let results = self.results.read().unwrap_or_else(|p| p.into_inner());
        let checks: Vec<CheckReport> = results
            .iter()
            .map(|c| CheckReport {
                name: c.name,
                status: if c.healthy { "up" } else { "down" },
                regional: c.regional,
                latency_ms: (c.latency.as_secs_f64() * 1e6).round() / 1e3,
                age_ms: c.checked_at.elapsed().as_millis() as u64,
                last_error: match (&c.last_error, causes) {
                    (Some(e), true) => Some(e.clone()),
                    (Some(_), false) => Some(CAUSE_IN_LOG.to_string()),
                    (None, _) => None,
                },
            })
            .collect();
        let draining = self.drain.is_draining();
        let regional_ok =
            !checks.is_empty() && checks.iter().all(|c| !c.regional || c.status == "up");
        ReadinessReport {
            ready: regional_ok && !draining,
            draining,
            region: self.region.clone(),
            checks,
        }
    }
}
