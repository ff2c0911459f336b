use std::time::Duration;

/// Timeouts, retries and breaker settings shared by every endpoint of a
/// [`crate::Failover`].
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// One try's budget, connection included.
    pub per_try_timeout: Duration,
    /// Extra tries on the same endpoint after a timeout or a retryable error.
    pub retries: u32,
    /// First back-off; doubled per retry, with full jitter, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this sends the call to the next endpoint
    /// instead of waiting.
    pub max_retry_after: Duration,
    /// Consecutive failures that open an endpoint's breaker.
    pub breaker_failures: u32,
    /// How long an open breaker skips its endpoint before one probe.
    pub breaker_cooldown: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            per_try_timeout: Duration::from_secs(3),
            retries: 1,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(2),
            breaker_failures: 3,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

impl Policy {
    /// Full jitter: uniform in [0, min(max, base * 2^retry)], so clients
    /// that failed together do not retry together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let cap = self
            .base_backoff
            .saturating_mul(1u32 << retry.min(16))
            .min(self.max_backoff);
        let ms = cap.as_millis().min(u64::MAX as u128) as u64;
        Duration::from_millis(fastrand::u64(0..=ms))
    }
}

/// `Retry-After` in delta-seconds (what Azure services send), or the
/// `retry-after-ms` / `x-ms-retry-after-ms` millisecond variants. HTTP dates
/// are not used by these services and read as `None`.
pub fn parse_retry_after(header_name: &str, value: &str) -> Option<Duration> {
    let v = value.trim();
    let name = header_name.to_ascii_lowercase();
    if name.ends_with("retry-after-ms") {
        v.parse::<u64>().ok().map(Duration::from_millis)
    } else {
        v.parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
            .map(Duration::from_secs_f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_and_capped() {
        let p = Policy {
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(30),
            ..Policy::default()
        };
        for retry in 0..40 {
            assert!(p.backoff(retry) <= Duration::from_millis(30));
        }
        let distinct: std::collections::HashSet<_> = (0..50).map(|_| p.backoff(3)).collect();
        assert!(distinct.len() > 1, "jitter varies the delay");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            parse_retry_after("Retry-After", "2"),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after("retry-after-ms", "250"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_retry_after("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),
            None
        );
        assert_eq!(parse_retry_after("Retry-After", "-1"), None);
    }
}
