//! What `botctl index` and `botctl kb sync` share to run unattended: keys
//! from the environment, one-shot or `--schedule` runs, exit codes, and
//! reports as text or JSON.

use std::future::Future;
use std::process::ExitCode;

use clap::Args;
use search_sync::schedule::{parse_interval, run_every};
use search_sync::{exit, SyncError};
use secrecy::SecretString;
use serde::Serialize;

#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// Print one JSON object per run on stdout (no progress bars).
    #[arg(long)]
    pub json: bool,
    /// Run again every INTERVAL (30s, 15m, 2h, 1d) until SIGINT/SIGTERM;
    /// exits with the last run's code.
    #[arg(long, value_name = "INTERVAL")]
    pub schedule: Option<String>,
}

/// A secret from the environment variable `var`: keys never go on a command
/// line, where `ps` and shell history would show them.
pub fn key_from_env(var: &str) -> Result<SecretString, SyncError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_string())),
        _ => Err(SyncError::Invalid(format!(
            "set the environment variable {var} to the key"
        ))),
    }
}

/// Print a report: JSON, or the text lines `human` makes of it.
pub fn print<T: Serialize>(json: bool, code: u8, report: &T, human: impl FnOnce() -> Vec<String>) {
    if json {
        let mut v = serde_json::to_value(report).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("ok".into(), (code == exit::OK).into());
            o.insert("exit_code".into(), code.into());
        }
        println!("{v}");
    } else {
        for l in human() {
            println!("{l}");
        }
    }
}

/// Report an error the way `print` reports a result; returns its exit code.
pub fn fail(json: bool, e: &SyncError) -> u8 {
    let code = e.exit_code();
    if json {
        println!(
            "{}",
            serde_json::json!({"ok": false, "exit_code": code, "error": e.to_string()})
        );
    } else {
        eprintln!("botctl: {e}");
    }
    code
}

/// Once, or every `--schedule` interval.
pub async fn run<F, Fut>(args: &RunArgs, mut once: F) -> ExitCode
where
    F: FnMut() -> Fut,
    Fut: Future<Output = u8>,
{
    match &args.schedule {
        None => ExitCode::from(once().await),
        Some(s) => match parse_interval(s) {
            Ok(interval) => ExitCode::from(run_every(interval, once).await),
            Err(e) => ExitCode::from(fail(args.json, &e)),
        },
    }
}
