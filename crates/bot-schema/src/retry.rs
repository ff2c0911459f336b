//! When and how long a reply to a channel is tried again.
//!
//! botbuilder retries a Connector call 3 times; a channel gives the bot
//! 15 s for the whole activity. So retries here are bounded by a time
//! budget rather than a count: 429, 5xx, 408, refused connections and
//! timeouts are tried again with jittered, growing pauses (or the channel's
//! `Retry-After`) until the budget would be passed. Any other 4xx is final.

use std::time::Duration;

use crate::error::SchemaError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// All tries of one reply, pauses included, end within this.
    pub budget: Duration,
    /// One try at most takes this (less when the budget has less left).
    pub per_try_timeout: Duration,
    /// The first pause; each later one may be twice as long, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(10),
            per_try_timeout: Duration::from_secs(5),
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The pause before try `attempt + 1` (0-based): full jitter over a
    /// doubling cap, so that many replies failing together spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let ms = cap.as_millis() as u64;
        Duration::from_millis(ms / 2 + fastrand::u64(0..=ms / 2))
    }
}

/// What a failed try means for the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again, after the channel's `Retry-After` if it gave one.
    Retry(Option<Duration>),
    /// The app token was refused: fetch a new one and try again, once.
    RefreshToken,
    /// The channel refused this reply for good (or it cannot be built).
    Final,
}

impl SchemaError {
    pub fn verdict(&self) -> Verdict {
        match self {
            SchemaError::Status {
                status,
                retry_after,
                ..
            } => match *status {
                401 => Verdict::RefreshToken,
                408 | 429 | 500..=599 => Verdict::Retry(*retry_after),
                _ => Verdict::Final,
            },
            SchemaError::Transport { .. } | SchemaError::Credentials(_) => Verdict::Retry(None),
            SchemaError::MissingField(_)
            | SchemaError::InvalidServiceUrl { .. }
            | SchemaError::Encode(_)
            | SchemaError::Decode { .. } => Verdict::Final,
        }
    }
}

/// `Retry-After` as delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let ms = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
    Some(Duration::from_millis(ms.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, retry_after: Option<Duration>) -> SchemaError {
        SchemaError::Status {
            url: "u".into(),
            status,
            body: String::new(),
            retry_after,
        }
    }

    #[test]
    fn what_is_retried() {
        let ra = Some(Duration::from_secs(2));
        assert_eq!(status(429, ra).verdict(), Verdict::Retry(ra));
        assert_eq!(status(503, None).verdict(), Verdict::Retry(None));
        assert_eq!(status(408, None).verdict(), Verdict::Retry(None));
        assert_eq!(status(401, None).verdict(), Verdict::RefreshToken);
        for s in [400, 403, 404, 413] {
            assert_eq!(status(s, None).verdict(), Verdict::Final, "{s}");
        }
        assert_eq!(
            SchemaError::MissingField("serviceUrl").verdict(),
            Verdict::Final
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let d = parse_retry_after(&later).unwrap();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 0..20 {
            let d = p.backoff(attempt);
            assert!(d <= p.max_delay, "{d:?}");
        }
        assert!(p.backoff(0) <= p.base_delay);
    }
}
