//! Retrying a request: which failures are worth another try, and how long to
//! wait (the service's `Retry-After` first, else exponential back-off).

use std::time::Duration;

use reqwest::header::HeaderMap;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before attempt `attempt + 1` (attempt counts from 1).
    pub fn delay(&self, attempt: u32, headers: Option<&HeaderMap>) -> Duration {
        if let Some(d) = headers.and_then(retry_after) {
            // The service knows its own throttling window; cap it so a bogus
            // header cannot park an unattended run for hours.
            return d.min(self.max_delay.max(Duration::from_secs(1)) * 4);
        }
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        exp.min(self.max_delay)
    }
}

/// `retry-after-ms` (milliseconds, sent by some Azure services) or
/// `Retry-After` in seconds. The HTTP-date form is not used by Azure Search.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_millis(ms));
    }
    get("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Statuses that mean "try again later" rather than "your request is wrong".
pub fn is_retriable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn honours_retry_after_then_backs_off() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(p.delay(1, Some(&h)), Duration::from_secs(2));
        h.insert("retry-after-ms", HeaderValue::from_static("15"));
        assert_eq!(p.delay(1, Some(&h)), Duration::from_millis(15));
        assert_eq!(p.delay(1, None), Duration::from_millis(100));
        assert_eq!(p.delay(2, None), Duration::from_millis(200));
        assert_eq!(p.delay(3, None), Duration::from_millis(350));
        h.clear();
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(p.delay(1, Some(&h)), Duration::from_millis(100));
    }
}
