use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// SIGTERM: readiness turns 503 at once so the router moves traffic, turns
/// that still arrive are served, and after the drain timeout the process
/// exits cleanly.
#[tokio::test]
async fn sigterm_drains_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough that the checks below run inside the drain on a loaded
    // machine; nothing here depends on how fast the flip is.
    let mut bot = BotProcess::start(dir.path(), &[("BOT__SERVER__DRAIN_TIMEOUT_MS", "4000")]);
    let c = client();
    assert_eq!(
        c.get(bot.url("/readyz")).send().await.unwrap().status(),
        200
    );
    bot.terminate();
    // Readiness flips once the signal is handled: polled, not timed.
    let r = loop {
        let r = c.get(bot.url("/readyz")).send().await.unwrap();
        if r.status() == 503 {
            break r;
        }
        assert_eq!(r.status(), 200, "readiness before the flip");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["draining"], true);
    // Still serving turns while draining.
    let body: Value = post(
        &bot,
        &expect_replies(message("d1", "conv-drain", "u", "Hello")),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(turn_of(&body["activities"][0]), Some(1));
    let status = bot
        .wait_exit(Duration::from_secs(30))
        .expect("exits after the drain timeout");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn probe_key_hides_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[("BOT__HEALTH__PROBE_KEY", "s3cret-probe")]);
    let c = client();
    assert_eq!(
        c.get(bot.url("/readyz")).send().await.unwrap().status(),
        404
    );
    let r = c
        .get(bot.url("/readyz"))
        .header("x-probe-key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .get(bot.url("/readyz"))
        .header("x-probe-key", "s3cret-probe")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Liveness stays open, and the key never reaches the log.
    assert_eq!(
        c.get(bot.url("/healthz")).send().await.unwrap().status(),
        200
    );
    assert!(!bot.logs().iter().any(|l| l.contains("s3cret-probe")));
}
