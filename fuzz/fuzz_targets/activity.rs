//! Activity parsing from bytes, as /api/messages does, then everything the
//! service derives from an Activity before a turn runs.
#![no_main]

use bot_schema::{Activity, ConnectorClient};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(activity) = serde_json::from_slice::<Activity>(data) else {
        return;
    };
    let _ = activity.delivery_mode();
    let _ = activity.channel_id();
    let _ = activity.conversation_reference();
    let _ = activity.create_reply("reply");
    let _ = ConnectorClient::activity_url(&activity);
    // Unknown fields are kept, so a parsed Activity must round-trip.
    let bytes = serde_json::to_vec(&activity).expect("a parsed Activity serializes");
    let again: Activity = serde_json::from_slice(&bytes).expect("a serialized Activity parses");
    assert_eq!(
        serde_json::to_value(&again).expect("serializes"),
        serde_json::to_value(&activity).expect("serializes")
    );
});
