use std::sync::Mutex;
// tokio's clock, so tests can run the cool-down on a paused clock.
use tokio::time::Instant;

use crate::policy::Policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Skipped until the cool-down ends.
    Open,
    /// Cool-down over: the next call probes the endpoint.
    HalfOpen,
}

/// One endpoint's breaker as operators see it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointStatus {
    pub endpoint: String,
    pub state: BreakerState,
    pub consecutive_failures: u32,
}

#[derive(Debug, Default)]
struct Inner {
    failures: u32,
    open_until: Option<Instant>,
}

/// Consecutive-failure breaker. A plain mutex: it is held for a few
/// instructions, never across an await.
#[derive(Debug, Default)]
pub(crate) struct Breaker {
    inner: Mutex<Inner>,
}

impl Breaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned breaker still holds valid counters.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn state_of(inner: &Inner) -> BreakerState {
        match inner.open_until {
            None => BreakerState::Closed,
            Some(t) if Instant::now() < t => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// Whether a call may try this endpoint now. A half-open breaker admits
    /// one probe and re-arms its cool-down, so concurrent calls do not all
    /// pile onto an endpoint that may still be down.
    pub(crate) fn admit(&self, policy: &Policy) -> bool {
        let mut inner = self.lock();
        match Self::state_of(&inner) {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen => {
                inner.open_until = Some(Instant::now() + policy.breaker_cooldown);
                true
            }
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.lock().open_until.is_some()
    }

    pub(crate) fn on_success(&self) {
        let mut inner = self.lock();
        inner.failures = 0;
        inner.open_until = None;
    }

    pub(crate) fn on_failure(&self, policy: &Policy) {
        let mut inner = self.lock();
        inner.failures = inner.failures.saturating_add(1);
        if inner.failures >= policy.breaker_failures.max(1) {
            inner.open_until = Some(Instant::now() + policy.breaker_cooldown);
        }
    }

    pub(crate) fn status(&self, endpoint: &str, _policy: &Policy) -> EndpointStatus {
        let inner = self.lock();
        EndpointStatus {
            endpoint: endpoint.to_string(),
            state: Self::state_of(&inner),
            consecutive_failures: inner.failures,
        }
    }
}
