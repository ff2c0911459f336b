//! Calling an ordered list of regional endpoints: this region's first, the
//! paired region's second (or a Traffic Manager name).
//!
//! The crate knows nothing of HTTP or of what is being asked: the caller
//! passes a closure that makes one try against one endpoint and says how it
//! went ([`TryError`]). The crate adds what every regional client needs: a
//! per-try timeout, retries with jitter on throttling and server errors
//! (honouring `Retry-After`), a circuit breaker per endpoint, and a record
//! of which endpoint served ([`Served`]).

mod breaker;
mod error;
mod policy;

use std::future::Future;

pub use breaker::{BreakerState, EndpointStatus};
pub use error::{AttemptRecord, FailoverError, TryError};
pub use policy::{parse_retry_after, Policy};

use breaker::Breaker;

/// The answer of one endpoint, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Served<T> {
    pub value: T,
    /// The endpoint that answered, as configured.
    pub endpoint: String,
    /// Its position in the list: 0 is this region's own.
    pub index: usize,
    /// Tries made in total, over all endpoints, this one included.
    pub tries: u32,
}

/// An ordered list of endpoints with a breaker each.
pub struct Failover {
    endpoints: Vec<(String, Breaker)>,
    policy: Policy,
}

impl Failover {
    /// `endpoints` in order of preference. An empty list is an error, since
    /// every call would fail.
    pub fn new(endpoints: Vec<String>, policy: Policy) -> Result<Self, FailoverError> {
        if endpoints.is_empty() {
            return Err(FailoverError::NoEndpoints);
        }
        Ok(Self {
            endpoints: endpoints
                .into_iter()
                .map(|e| (e, Breaker::default()))
                .collect(),
            policy,
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn endpoints(&self) -> impl Iterator<Item = &str> {
        self.endpoints.iter().map(|(e, _)| e.as_str())
    }

    /// Each endpoint's breaker, for readiness and operators.
    pub fn status(&self) -> Vec<EndpointStatus> {
        self.endpoints
            .iter()
            .map(|(e, b)| b.status(e, &self.policy))
            .collect()
    }

    /// Whether some endpoint's breaker lets calls through (readiness).
    pub fn any_available(&self) -> bool {
        self.status().iter().any(|s| s.state != BreakerState::Open)
    }

    /// Calls `try_once(endpoint)` until one endpoint answers.
    ///
    /// Endpoints are taken in order; one whose breaker is open is skipped
    /// until its cool-down has passed, then probed again. On an endpoint,
    /// timeouts and retryable errors are retried up to `policy.retries`
    /// times with jittered back-off (or the server's `Retry-After`, when it
    /// is short enough); an unreachable endpoint is left at once. A fatal
    /// error (e.g. a 400 or 401: the next region would say the same) ends
    /// the call.
    pub async fn call<T, E, F, Fut>(&self, try_once: F) -> Result<Served<T>, FailoverError<E>>
    where
        F: Fn(&str) -> Fut,
        Fut: Future<Output = Result<T, TryError<E>>>,
        E: std::fmt::Display,
    {
        let mut attempts: Vec<AttemptRecord> = Vec::new();
        let mut tries = 0u32;
        for (index, (endpoint, breaker)) in self.endpoints.iter().enumerate() {
            if !breaker.admit(&self.policy) {
                tracing::debug!(%endpoint, "circuit open: skipping endpoint");
                attempts.push(AttemptRecord {
                    endpoint: endpoint.clone(),
                    outcome: "skipped: circuit open".into(),
                });
                continue;
            }
            let mut retry = 0u32;
            loop {
                tries += 1;
                let outcome =
                    tokio::time::timeout(self.policy.per_try_timeout, try_once(endpoint)).await;
                let wait = match outcome {
                    Ok(Ok(value)) => {
                        breaker.on_success();
                        return Ok(Served {
                            value,
                            endpoint: endpoint.clone(),
                            index,
                            tries,
                        });
                    }
                    Ok(Err(TryError::Fatal(e))) => {
                        // The caller's fault, not the endpoint's: no breaker count.
                        return Err(FailoverError::Fatal {
                            endpoint: endpoint.clone(),
                            source: e,
                        });
                    }
                    Ok(Err(TryError::Unreachable(e))) => {
                        breaker.on_failure(&self.policy);
                        tracing::warn!(%endpoint, error = %e, "endpoint unreachable; trying the next");
                        attempts.push(AttemptRecord {
                            endpoint: endpoint.clone(),
                            outcome: format!("unreachable: {e}"),
                        });
                        break;
                    }
                    Ok(Err(TryError::Retryable { error, retry_after })) => {
                        breaker.on_failure(&self.policy);
                        tracing::warn!(%endpoint, error = %error, "endpoint failed");
                        attempts.push(AttemptRecord {
                            endpoint: endpoint.clone(),
                            outcome: error.to_string(),
                        });
                        retry_after
                    }
                    Err(_) => {
                        breaker.on_failure(&self.policy);
                        tracing::warn!(%endpoint, timeout_ms = self.policy.per_try_timeout.as_millis() as u64, "endpoint timed out");
                        attempts.push(AttemptRecord {
                            endpoint: endpoint.clone(),
                            outcome: format!(
                                "timed out after {} ms",
                                self.policy.per_try_timeout.as_millis()
                            ),
                        });
                        None
                    }
                };
                if retry >= self.policy.retries || breaker.is_open() {
                    break;
                }
                let delay = match wait {
                    // A server asking for a longer pause than we may wait:
                    // the next region is the better bet.
                    Some(d) if d > self.policy.max_retry_after => break,
                    Some(d) => d,
                    None => self.policy.backoff(retry),
                };
                retry += 1;
                tokio::time::sleep(delay).await;
            }
        }
        Err(FailoverError::AllFailed { attempts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    fn policy() -> Policy {
        Policy {
            per_try_timeout: Duration::from_millis(50),
            retries: 1,
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            max_retry_after: Duration::from_millis(20),
            breaker_failures: 2,
            breaker_cooldown: Duration::from_millis(100),
        }
    }

    fn two() -> Failover {
        Failover::new(vec!["a".into(), "b".into()], policy()).unwrap()
    }

    #[tokio::test]
    async fn first_endpoint_answers() {
        let f = two();
        let s = f
            .call(|e: &str| {
                let e = e.to_string();
                async move { Ok::<_, TryError<String>>(e) }
            })
            .await
            .unwrap();
        assert_eq!((s.value.as_str(), s.index, s.tries), ("a", 0, 1));
    }

    #[tokio::test]
    async fn retryable_is_retried_then_fails_over() {
        let f = two();
        let calls = AtomicU32::new(0);
        let s = f
            .call(|e: &str| {
                calls.fetch_add(1, Ordering::SeqCst);
                let e = e.to_string();
                async move {
                    if e == "a" {
                        Err(TryError::Retryable {
                            error: "503".to_string(),
                            retry_after: None,
                        })
                    } else {
                        Ok(e)
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(s.endpoint, "b");
        // a: first try + one retry, then b.
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(s.tries, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_fails_over_and_fatal_stops() {
        let f = two();
        let s = f
            .call(|e: &str| {
                let e = e.to_string();
                async move {
                    if e == "a" {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    Ok::<_, TryError<String>>(e)
                }
            })
            .await
            .unwrap();
        assert_eq!(s.endpoint, "b");
        let f = two();
        let r = f
            .call(|_e: &str| async { Err::<(), _>(TryError::Fatal("401".to_string())) })
            .await;
        assert!(matches!(r, Err(FailoverError::Fatal { ref endpoint, .. }) if endpoint == "a"));
    }

    // A paused clock: the cool-down passes when the test says so, not when
    // a loaded machine happens to get there.
    #[tokio::test(start_paused = true)]
    async fn breaker_opens_skips_and_recovers() {
        let f = two();
        let a_down = std::sync::atomic::AtomicBool::new(true);
        let a_calls = AtomicU32::new(0);
        let call = || {
            f.call(|e: &str| {
                let e = e.to_string();
                if e == "a" {
                    a_calls.fetch_add(1, Ordering::SeqCst);
                }
                let down = a_down.load(Ordering::SeqCst);
                async move {
                    if e == "a" && down {
                        Err(TryError::Unreachable("refused".to_string()))
                    } else {
                        Ok(e)
                    }
                }
            })
        };
        assert_eq!(call().await.unwrap().endpoint, "b");
        assert_eq!(call().await.unwrap().endpoint, "b");
        assert_eq!(f.status()[0].state, BreakerState::Open);
        // Open: a is not even tried.
        assert_eq!(call().await.unwrap().endpoint, "b");
        assert_eq!(a_calls.load(Ordering::SeqCst), 2);
        // After the cool-down a is probed; it is back, so it serves again.
        a_down.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(f.status()[0].state, BreakerState::HalfOpen);
        assert_eq!(call().await.unwrap().endpoint, "a");
        assert_eq!(f.status()[0].state, BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_or_fails_over_when_too_long() {
        let f = two();
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let s = f
            .call(|e: &str| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                let e = e.to_string();
                async move {
                    if n == 0 {
                        Err(TryError::Retryable {
                            error: "429".to_string(),
                            retry_after: Some(Duration::from_millis(15)),
                        })
                    } else {
                        Ok(e)
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(
            s.endpoint, "a",
            "a short Retry-After is waited out on the same endpoint"
        );
        assert!(start.elapsed() >= Duration::from_millis(15));
        let f = two();
        let s = f
            .call(|e: &str| {
                let e = e.to_string();
                async move {
                    if e == "a" {
                        Err(TryError::Retryable {
                            error: "429".to_string(),
                            retry_after: Some(Duration::from_secs(60)),
                        })
                    } else {
                        Ok(e)
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!((s.endpoint.as_str(), s.tries), ("b", 2));
    }

    #[tokio::test]
    async fn all_down_lists_every_attempt() {
        let f = two();
        let r = f
            .call(|_e: &str| async { Err::<(), _>(TryError::Unreachable("refused".to_string())) })
            .await;
        match r {
            Err(FailoverError::AllFailed { attempts }) => {
                assert_eq!(attempts.len(), 2);
                assert!(attempts[1].outcome.contains("refused"));
            }
            other => panic!("{other:?}"),
        }
        assert!(Failover::new(vec![], policy()).is_err());
    }
}
