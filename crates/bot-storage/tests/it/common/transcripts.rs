//! The transcript-store suite shared by every transcript backend.

use std::collections::HashSet;

use bot_schema::Activity;
use bot_storage::transcript::PAGE_SIZE;
use bot_storage::TranscriptStore;
use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use serde_json::json;

pub fn activity(channel: &str, conv: &str, id: &str, at: DateTime<Utc>, text: &str) -> Activity {
    serde_json::from_value(json!({
        "type": "message", "id": id, "channelId": channel,
        "conversation": {"id": conv}, "from": {"id": "user-1"},
        "recipient": {"id": "bot"}, "text": text,
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
    }))
    .unwrap()
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

pub async fn run_all(s: &dyn TranscriptStore, channel: &str) {
    paging_and_start_date(s, channel).await;
    conversations_page_without_repeats(s, channel).await;
    delete_removes_only_that_conversation(s, channel).await;
    invalid_input_is_a_clear_error(s, channel).await;
}

/// 45 activities come back in time order in pages of 20, 20 and 5, and
/// the start date cuts by the activity's own time.
pub async fn paging_and_start_date(s: &dyn TranscriptStore, channel: &str) {
    let conv = "paging/conv:1";
    // Logged out of order: the store orders by time.
    for i in (0..45).rev() {
        let a = activity(
            channel,
            conv,
            &format!("a{i:02}"),
            base() + Duration::seconds(i),
            &format!("m{i}"),
        );
        s.log(&a).await.unwrap();
    }
    // A conversation whose id starts with the same text stays separate.
    s.log(&activity(channel, "paging/conv:10", "other", base(), "x"))
        .await
        .unwrap();
    let mut token = None;
    let mut got = Vec::new();
    let mut pages = 0;
    loop {
        let page = s
            .activities(channel, conv, token.as_deref(), None)
            .await
            .unwrap();
        assert!(page.items.len() <= PAGE_SIZE);
        got.extend(page.items);
        pages += 1;
        token = page.continuation_token;
        if token.is_none() {
            break;
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    let ids: Vec<_> = got.iter().map(|a| a.id.clone().unwrap()).collect();
    let want: Vec<_> = (0..45).map(|i| format!("a{i:02}")).collect();
    assert_eq!(ids, want);
    let from = s
        .activities(channel, conv, None, Some(base() + Duration::seconds(40)))
        .await
        .unwrap();
    let ids: Vec<_> = from.items.iter().map(|a| a.id.clone().unwrap()).collect();
    assert_eq!(ids, ["a40", "a41", "a42", "a43", "a44"]);
    assert!(from.continuation_token.is_none());
    assert!(s
        .activities(channel, "never-logged", None, None)
        .await
        .unwrap()
        .items
        .is_empty());
}

/// 25 conversations with several activities each list as 20 + 5, each once.
pub async fn conversations_page_without_repeats(s: &dyn TranscriptStore, _channel: &str) {
    let channel = "listing-channel";
    for c in 0..25 {
        for i in 0..3 {
            let a = activity(
                channel,
                &format!("conv-{c:02}"),
                &format!("a{i}"),
                base() + Duration::minutes(c) + Duration::seconds(i),
                "hi",
            );
            s.log(&a).await.unwrap();
        }
    }
    let first = s.conversations(channel, None).await.unwrap();
    assert_eq!(first.items.len(), PAGE_SIZE);
    let token = first.continuation_token.clone().expect("a second page");
    let second = s.conversations(channel, Some(&token)).await.unwrap();
    assert!(second.continuation_token.is_none());
    let ids: Vec<_> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|t| t.id.clone())
        .collect();
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), 25, "{ids:?}");
    assert_eq!(unique.len(), 25);
    let c3 = first.items.iter().find(|t| t.id == "conv-03").unwrap();
    assert_eq!(c3.created, Some(base() + Duration::minutes(3)));
    assert_eq!(c3.channel_id, channel);
}

pub async fn delete_removes_only_that_conversation(s: &dyn TranscriptStore, channel: &str) {
    s.log(&activity(channel, "del-a", "1", base(), "a"))
        .await
        .unwrap();
    s.log(&activity(channel, "del-b", "1", base(), "b"))
        .await
        .unwrap();
    s.delete(channel, "del-a").await.unwrap();
    s.delete(channel, "del-a").await.unwrap();
    assert!(s
        .activities(channel, "del-a", None, None)
        .await
        .unwrap()
        .items
        .is_empty());
    assert_eq!(
        s.activities(channel, "del-b", None, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

pub async fn invalid_input_is_a_clear_error(s: &dyn TranscriptStore, channel: &str) {
    let mut a = activity(channel, "bad", "1", base(), "x");
    a.timestamp = None;
    let e = s.log(&a).await.unwrap_err().to_string();
    assert!(e.contains("timestamp"), "{e}");
    let e = s
        .activities(channel, "bad", Some("not-a-token!"), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("continuation token"), "{e}");
}
