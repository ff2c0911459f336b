//! No reply is lost and none is accepted twice, with replies POSTed to the
//! channel (normal delivery, as production runs): the channel refuses,
//! throttles, drops the connection or redelivers, and every activity still
//! ends with each of its replies accepted exactly once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::flaky_channel::{Answer, FlakyChannel};
use crate::support::{message, post, read_state, turn_of, BotProcess};

/// A channel that refuses every reply (503) until `open` is set.
fn closed_until(open: &Arc<AtomicBool>) -> impl Fn(&str, usize, Duration) -> Answer {
    let open = open.clone();
    move |_, _, _| {
        if open.load(Ordering::SeqCst) {
            Answer::Accept
        } else {
            Answer::Unavailable
        }
    }
}

fn to(channel: &FlakyChannel, mut activity: Value) -> Value {
    activity["serviceUrl"] = json!(channel.url);
    activity
}

/// A short budget, so that a channel that stays down outlasts it.
fn bot(dir: &std::path::Path, background_ms: &str) -> BotProcess {
    BotProcess::start(
        dir,
        &[
            ("BOT__REPLIES__BUDGET_MS", "300"),
            ("BOT__REPLIES__PER_TRY_TIMEOUT_MS", "300"),
            ("BOT__REPLIES__BACKGROUND_FOR_MS", background_ms),
        ],
    )
}

async fn eventually(what: &str, cond: impl Fn() -> bool) {
    eventually_async(what, || std::future::ready(cond())).await
}

async fn eventually_async<F: std::future::Future<Output = bool>>(what: &str, cond: impl Fn() -> F) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !cond().await {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn refused_throttled_and_dropped_replies_are_tried_again_and_accepted_once() {
    let channel = FlakyChannel::start(|reply_to, before, _| match (reply_to, before) {
        (r, 0) if r.starts_with("unavailable") => Answer::Unavailable,
        (r, 0) if r.starts_with("throttled") => Answer::Throttle(1),
        (r, 0) if r.starts_with("dropped") => Answer::Drop,
        _ => Answer::Accept,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[]);
    let ids: Vec<String> = ["unavailable", "throttled", "dropped"]
        .iter()
        .flat_map(|k| (0..2).map(move |i| format!("{k}-{i}")))
        .collect();
    for id in &ids {
        let a = to(&channel, message(id, &format!("c-{id}"), "u1", "Hello"));
        let resp = post(&bot, &a).await;
        assert_eq!(resp.status(), 200, "{id}: {}", resp.text().await.unwrap());
    }
    for id in &ids {
        assert_eq!(channel.accepted_for(id), 1, "{id}: {:?}", channel.posts());
        let tries = channel.posts().iter().filter(|p| &p.reply_to == id).count();
        assert_eq!(tries, 2, "{id}: one refused try, then one accepted");
    }
}

#[tokio::test]
async fn a_redelivery_sends_only_the_replies_not_yet_accepted_and_never_reruns_the_turn() {
    // Two members join: two welcome replies. The channel takes the first
    // and refuses the second until it is opened.
    let open = Arc::new(AtomicBool::new(false));
    let channel = FlakyChannel::start({
        let open = open.clone();
        move |_, before, _| {
            if before == 0 || open.load(Ordering::SeqCst) {
                Answer::Accept
            } else {
                Answer::Unavailable
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let bot = bot(dir.path(), "0");
    let update = to(
        &channel,
        json!({
            "type": "conversationUpdate", "id": "join-1", "channelId": "test",
            "conversation": {"id": "c-join"}, "recipient": {"id": "bot-1"},
            "membersAdded": [{"id": "u1"}, {"id": "u2"}],
        }),
    );
    let first = post(&bot, &update).await;
    assert_eq!(
        first.status(),
        502,
        "the channel must retry: {:?}",
        first.text().await
    );
    assert_eq!(channel.accepted_for("join-1"), 1);

    open.store(true, Ordering::SeqCst);
    let again = post(&bot, &update).await;
    assert_eq!(again.status(), 200);
    // Three accepted would mean the first reply was sent again.
    assert_eq!(channel.accepted_for("join-1"), 2, "{:?}", channel.posts());
}

#[tokio::test]
async fn a_redelivered_message_gets_its_reply_without_running_the_turn_again() {
    let open = Arc::new(AtomicBool::new(false));
    let channel = FlakyChannel::start(closed_until(&open)).await;
    let dir = tempfile::tempdir().unwrap();
    let bot = bot(dir.path(), "0");
    let m = to(&channel, message("m-1", "c-msg", "u1", "Hello"));
    assert_eq!(post(&bot, &m).await.status(), 502);
    open.store(true, Ordering::SeqCst);
    assert_eq!(post(&bot, &m).await.status(), 200);
    assert_eq!(post(&bot, &m).await.status(), 200);
    assert_eq!(channel.accepted_for("m-1"), 1, "{:?}", channel.posts());
    let reply = channel
        .posts()
        .into_iter()
        .find(|p| p.answer == Answer::Accept)
        .unwrap();
    assert_eq!(turn_of(&reply.body), Some(1));
    let doc = read_state(dir.path(), "test/conversations/c-msg/")
        .await
        .unwrap();
    assert_eq!(doc["turnCount"], 1, "a redelivery ran the turn again");
}

#[tokio::test]
async fn a_channel_that_never_redelivers_gets_its_replies_from_the_background() {
    let open = Arc::new(AtomicBool::new(false));
    let channel = FlakyChannel::start(closed_until(&open)).await;
    let dir = tempfile::tempdir().unwrap();
    let bot = bot(dir.path(), "60000");
    let a = to(&channel, message("bg-1", "c-bg", "u1", "Hello"));
    assert_eq!(post(&bot, &a).await.status(), 502);
    assert_eq!(channel.accepted_for("bg-1"), 0);
    open.store(true, Ordering::SeqCst);
    eventually("the background retry delivered the reply", || {
        channel.accepted_for("bg-1") == 1
    })
    .await;
    // The record says so: a later redelivery sends nothing.
    eventually_async("the outbox was marked delivered", || async {
        read_state(dir.path(), "test/conversations/c-bg/")
            .await
            .is_some_and(|d| d["processedActivities"][0].get("sent").is_none())
    })
    .await;
    assert_eq!(post(&bot, &a).await.status(), 200);
    assert_eq!(channel.accepted_for("bg-1"), 1);
}

#[tokio::test]
async fn the_next_activity_sends_what_an_earlier_turn_left_first() {
    let open = Arc::new(AtomicBool::new(false));
    let channel = FlakyChannel::start(closed_until(&open)).await;
    let dir = tempfile::tempdir().unwrap();
    let bot = bot(dir.path(), "0");
    let first = to(&channel, message("n-1", "c-next", "u1", "Hello"));
    assert_eq!(post(&bot, &first).await.status(), 502);
    open.store(true, Ordering::SeqCst);
    let second = to(&channel, message("n-2", "c-next", "u1", "Who made you?"));
    assert_eq!(post(&bot, &second).await.status(), 200);
    assert_eq!(channel.accepted(), ["n-1", "n-2"], "in order, each once");
}

#[tokio::test]
async fn a_reply_the_channel_refuses_for_good_is_recorded_and_not_sent_again() {
    let channel = FlakyChannel::start(|_, _, _| Answer::Refuse).await;
    let dir = tempfile::tempdir().unwrap();
    let bot = bot(dir.path(), "60000");
    let a = to(&channel, message("bad-1", "c-bad", "u1", "Hello"));
    // Retrying cannot help: the turn is done, and the channel is told so.
    assert_eq!(post(&bot, &a).await.status(), 200);
    assert_eq!(post(&bot, &a).await.status(), 200);
    eventually_async("the refusal was recorded", || async {
        read_state(dir.path(), "test/conversations/c-bad/")
            .await
            .is_some_and(|d| d["processedActivities"][0]["failed"] == 1)
    })
    .await;
    assert_eq!(channel.posts().len(), 1, "{:?}", channel.posts());
}

#[tokio::test]
async fn a_redelivery_racing_the_background_retry_sends_each_reply_once() {
    let open = Arc::new(AtomicBool::new(false));
    let channel = FlakyChannel::start(closed_until(&open)).await;
    let dir = tempfile::tempdir().unwrap();
    let bot = bot(dir.path(), "60000");
    let a = to(&channel, message("race-1", "c-race", "u1", "Hello"));
    assert_eq!(post(&bot, &a).await.status(), 502);
    let redeliveries = {
        let (base, a) = (bot.base.clone(), a.clone());
        tokio::spawn(async move {
            let client = bot_http::client();
            for _ in 0..200 {
                let r = client
                    .post(format!("{base}/api/messages"))
                    .json(&a)
                    .send()
                    .await
                    .unwrap();
                if r.status() == 200 {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            false
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    open.store(true, Ordering::SeqCst);
    assert!(redeliveries.await.unwrap(), "the redelivery never got 200");
    eventually("the reply was accepted", || {
        channel.accepted_for("race-1") >= 1
    })
    .await;
    // Give a duplicate every chance to arrive before counting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(channel.accepted_for("race-1"), 1, "{:?}", channel.posts());
}
