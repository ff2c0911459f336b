use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::*;

/// botbuilder-js loses updates here (it writes with eTag `*`); we must not.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_turns_on_one_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let bot = std::sync::Arc::new(BotProcess::start(dir.path(), &[]));
    let client = client();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (bot, client) = (bot.clone(), client.clone());
            tokio::spawn(async move {
                let a = expect_replies(message(
                    &format!("m{i}"),
                    "conv-hot",
                    &format!("u{}", i % 7),
                    "Hello",
                ));
                let resp = client
                    .post(bot.url("/api/messages"))
                    .json(&a)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let body: Value = resp.json().await.unwrap();
                turn_of(&body["activities"][0]).expect("reply carries its turn number")
            })
        })
        .collect();
    let mut turns = BTreeSet::new();
    for t in tasks {
        assert!(turns.insert(t.await.unwrap()), "a turn number was repeated");
    }
    assert_eq!(turns, (1..=200).collect::<BTreeSet<u64>>());
    let state = read_state(dir.path(), "test/conversations/conv-hot/")
        .await
        .unwrap();
    assert_eq!(state["turnCount"], 200);
}

/// Two processes on one SQLite file: no in-process lock can help, only eTags.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_turns_across_two_processes_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = std::sync::Arc::new(BotProcess::start(
        dir.path(),
        &[("BOT__BOT__MAX_TURN_ATTEMPTS", "200")],
    ));
    let b = std::sync::Arc::new(BotProcess::start(
        dir.path(),
        &[("BOT__BOT__MAX_TURN_ATTEMPTS", "200")],
    ));
    let client = client();
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let bot = if i % 2 == 0 { a.clone() } else { b.clone() };
            let client = client.clone();
            tokio::spawn(async move {
                let act = expect_replies(message(&format!("x{i}"), "conv-split", "u", "Hello"));
                let resp = client
                    .post(bot.url("/api/messages"))
                    .json(&act)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let body: Value = resp.json().await.unwrap();
                turn_of(&body["activities"][0]).unwrap()
            })
        })
        .collect();
    let mut turns = BTreeSet::new();
    for t in tasks {
        assert!(turns.insert(t.await.unwrap()));
    }
    assert_eq!(turns, (1..=60).collect::<BTreeSet<u64>>());
    let state = read_state(dir.path(), "test/conversations/conv-split/")
        .await
        .unwrap();
    assert_eq!(state["turnCount"], 60);
}

/// The same activity delivered twice runs one turn; expectReplies gets the
/// original replies back.
#[tokio::test]
async fn redelivered_activity_is_not_answered_twice() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[]);
    let a = expect_replies(message("dup-1", "conv-dup", "u", "Hello"));
    let first: Value = post(&bot, &a).await.json().await.unwrap();
    let second: Value = post(&bot, &a).await.json().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(turn_of(&first["activities"][0]), Some(1));
    let state = read_state(dir.path(), "test/conversations/conv-dup/")
        .await
        .unwrap();
    assert_eq!(state["turnCount"], 1);
}

/// A region died mid-turn and the channel delivers the activity again, now
/// to the other region on shared storage: it is not answered twice.
#[tokio::test]
async fn redelivery_to_the_other_region_is_not_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let a = BotProcess::start(dir.path(), &[]);
    let b = BotProcess::start(dir.path(), &[]);
    let act = expect_replies(message("x-region-1", "conv-xr", "u", "Who made you?"));
    let first: Value = post(&a, &act).await.json().await.unwrap();
    a.kill();
    let again: Value = post(&b, &act).await.json().await.unwrap();
    assert_eq!(first, again);
    // Without expectReplies the redelivery is acknowledged, and sends nothing.
    let channel = ChannelServer::start().await;
    let mut plain = message("x-region-1", "conv-xr", "u", "Who made you?");
    plain["serviceUrl"] = serde_json::json!(channel.url);
    assert_eq!(post(&b, &plain).await.status(), 200);
    assert!(channel.take().is_empty());
    let state = read_state(dir.path(), "test/conversations/conv-xr/")
        .await
        .unwrap();
    assert_eq!(state["turnCount"], 1);
}
