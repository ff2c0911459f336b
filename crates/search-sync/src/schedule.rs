//! Unattended runs: `--schedule 15m` repeats a run until SIGINT/SIGTERM.

use std::future::Future;
use std::time::Duration;

use crate::error::{Result, SyncError};

/// `30s`, `15m`, `2h`, `1d` (at least 10 seconds).
pub fn parse_interval(s: &str) -> Result<Duration> {
    let s = s.trim();
    let bad = || {
        SyncError::Invalid(format!(
            "interval {s:?}: use a number and a unit, e.g. 30s, 15m, 2h, 1d"
        ))
    };
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if secs < 10 {
        return Err(SyncError::Invalid(format!(
            "interval {s:?} is shorter than 10s"
        )));
    }
    Ok(Duration::from_secs(secs))
}

/// Run `run` now and then every `interval` (measured start to start is not
/// needed here: runs never overlap, the wait starts when a run ends). Returns
/// the last run's exit code when a shutdown signal arrives.
pub async fn run_every<F, Fut>(interval: Duration, mut run: F) -> u8
where
    F: FnMut() -> Fut,
    Fut: Future<Output = u8>,
{
    loop {
        let code = run().await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown() => return code,
        }
    }
}

async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_interval("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_interval("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_interval("1d").unwrap(), Duration::from_secs(86400));
        for bad in ["", "m", "5", "5x", "5s", "-1m", "1.5h"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
