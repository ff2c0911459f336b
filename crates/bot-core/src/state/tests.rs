use super::*;

#[test]
fn keys_match_botbuilder() {
    assert_eq!(
        ConversationState::key("emulator", "c 1"),
        "emulator/conversations/c 1/"
    );
    assert_eq!(user_key("msteams", "29:x"), "msteams/users/29:x/");
}

#[test]
fn processed_window_is_bounded_and_unknown_members_kept() {
    let mut c = ConversationState(StateDoc::default());
    c.0.doc
        .insert("someBotbuilderProperty".into(), "kept".into());
    for i in 0..100 {
        c.record_processed(&format!("a{i}"), Recorded::Nothing);
    }
    assert!(c.processed("a99").is_some());
    assert!(c.processed("a0").is_none());
    let list = |c: &ConversationState| c.0.doc["processedActivities"].as_array().unwrap().clone();
    assert_eq!(list(&c).len(), PROCESSED_WINDOW);
    for i in 0..100 {
        c.record_processed(&format!("r{i}"), Recorded::ExpectedReplies(&[]));
    }
    let with_replies = list(&c)
        .iter()
        .filter(|p| p.get(REPLIES_JSON).is_some())
        .count();
    assert_eq!(with_replies, REPLIES_WINDOW);
    assert!(c.processed("r99").unwrap().replies.is_some());
    assert!(c.processed("r80").unwrap().replies.is_none());
    assert_eq!(c.0.doc["someBotbuilderProperty"], "kept");
}

#[test]
fn replies_round_trip_and_earlier_records_are_read() {
    let mut c = ConversationState(StateDoc::default());
    let reply = Activity {
        kind: Some("message".into()),
        text: Some("an \"answer\"".into()),
        ..Default::default()
    };
    c.record_processed(
        "new",
        Recorded::ExpectedReplies(std::slice::from_ref(&reply)),
    );
    assert_eq!(
        c.processed("new").unwrap().replies,
        Some(vec![reply.clone()])
    );
    // A record as earlier versions wrote it: the replies as a JSON array.
    c.0.doc["processedActivities"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"id": "old", "replies": [{"type": "message", "text": "then"}]}));
    let old = c.processed("old").unwrap().replies.unwrap();
    assert_eq!(old[0].text.as_deref(), Some("then"));
    // A record that lost its replies is still a processed activity.
    for i in 0..REPLIES_WINDOW {
        c.record_processed(&format!("n{i}"), Recorded::Nothing);
    }
    let old = c.processed("old").unwrap();
    assert_eq!((old.id.as_str(), old.replies), ("old", None));
}

fn reply(text: &str) -> Activity {
    Activity {
        kind: Some("message".into()),
        text: Some(text.into()),
        ..Default::default()
    }
}

fn claim() -> Claim {
    Claim {
        owner: "a/1".into(),
        until_ms: 42,
    }
}

#[test]
fn an_outbox_is_kept_until_every_reply_is_done_and_then_shrinks() {
    let mut c = ConversationState(StateDoc::default());
    c.0.doc.insert("botbuilderProperty".into(), "kept".into());
    let replies = [reply("one"), reply("two")];
    c.record_processed("a1", Recorded::Outbox(&replies, claim()));
    assert_eq!(c.pending(), ["a1"]);
    let outbox = c.processed("a1").unwrap().outbox.unwrap();
    assert_eq!(
        (outbox.replies.len(), outbox.sent, outbox.claim),
        (2, 0, Some(claim()))
    );

    let total = 2;
    assert!(c.update_outbox(
        "a1",
        Progress {
            total,
            sent: 1,
            failed: 0
        },
        Some(&claim())
    ));
    assert_eq!(c.processed("a1").unwrap().outbox.unwrap().sent, 1);
    // Progress never goes back.
    c.update_outbox(
        "a1",
        Progress {
            total,
            sent: 0,
            failed: 0,
        },
        None,
    );
    assert_eq!(c.processed("a1").unwrap().outbox.unwrap().sent, 1);

    c.update_outbox(
        "a1",
        Progress {
            total,
            sent: 2,
            failed: 1,
        },
        None,
    );
    assert!(c.pending().is_empty());
    let record = &c.0.doc["processedActivities"][0];
    assert_eq!(record, &serde_json::json!({"id": "a1", "failed": 1}));
    assert!(c.processed("a1").unwrap().outbox.is_none());
    // Nothing left to change.
    assert!(!c.update_outbox(
        "a1",
        Progress {
            total,
            sent: 2,
            failed: 0
        },
        None
    ));
    assert_eq!(c.0.doc["botbuilderProperty"], "kept");
}

#[test]
fn a_done_record_is_its_id_alone_and_object_records_are_still_read() {
    let mut c = ConversationState(StateDoc::default());
    c.record_processed("plain", Recorded::Nothing);
    c.record_processed("out", Recorded::Outbox(&[reply("x")], claim()));
    let list = &c.0.doc["processedActivities"];
    assert_eq!(list[0], serde_json::json!("plain"));
    assert!(list[1].is_object());
    let done = Progress {
        total: 1,
        sent: 1,
        failed: 0,
    };
    assert!(c.update_outbox("out", done, None));
    assert_eq!(
        c.0.doc["processedActivities"],
        serde_json::json!(["plain", "out"])
    );
    assert!(c.processed("plain").is_some() && c.processed("out").is_some());
    assert!(c.pending().is_empty());
    // Records written as objects by earlier versions are found too.
    c.0.doc["processedActivities"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"id": "old"}));
    assert!(c.processed("old").is_some());
}

#[test]
fn a_record_with_pending_replies_is_never_forgotten() {
    let mut c = ConversationState(StateDoc::default());
    c.record_processed("stuck", Recorded::Outbox(&[reply("x")], claim()));
    for i in 0..100 {
        c.record_processed(&format!("a{i}"), Recorded::ExpectedReplies(&[]));
    }
    assert_eq!(c.pending(), ["stuck"]);
    assert_eq!(
        c.processed("stuck").unwrap().outbox.unwrap().replies.len(),
        1
    );
    let list = c.0.doc["processedActivities"].as_array().unwrap();
    assert_eq!(list.len(), PROCESSED_WINDOW);
}

#[test]
fn no_replies_leave_nothing_pending() {
    let mut c = ConversationState(StateDoc::default());
    c.record_processed("a1", Recorded::Outbox(&[], claim()));
    assert!(c.pending().is_empty());
    assert!(c.processed("a1").unwrap().outbox.is_none());
}

#[test]
fn new_state_is_created_only_if_absent() {
    let s = StateDoc::from_item("k".into(), None);
    assert_eq!(s.to_change().precondition, Precondition::IfNotExists);
}
