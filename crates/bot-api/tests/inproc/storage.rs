//! bot-api on the Azure backends, configured by settings alone, against
//! the real stand-ins; and what a storage outage does to a turn: a 503 the
//! channel retries (never a reply with lost state), /readyz down, and
//! recovery without a restart once the stand-in is back.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bot_api::startup::{app, build_state};
use bot_api::{AppState, Settings};
use bot_storage::standins::{StandIn, COSMOS_EMULATOR_KEY, COSMOS_STANDIN_REGION};
use bot_storage::BlobAuth;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::harness::{call, env, post_activity};

/// The local defaults, listening on any port; each test names its store.
fn base_env() -> Vec<(String, String)> {
    env(&[("BOT__SERVER__LISTEN", "127.0.0.1:0")])
}

/// `env` with `pairs` replacing or adding settings.
fn with(mut env: Vec<(String, String)>, pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in pairs {
        env.retain(|(n, _)| n != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

fn cosmos_env(server: &StandIn) -> Vec<(String, String)> {
    with(
        base_env(),
        &[
            ("BOT__STORAGE__KIND", "cosmos"),
            ("BOT__STORAGE__COSMOS__ENDPOINT", &server.endpoint),
            ("BOT__STORAGE__COSMOS__DATABASE", "bot"),
            ("BOT__STORAGE__COSMOS__CONTAINER", "state"),
            ("BOT__STORAGE__COSMOS__AUTH", "key"),
            ("BOT__STORAGE__COSMOS__KEY", COSMOS_EMULATOR_KEY),
            (
                "BOT__STORAGE__COSMOS__PREFERRED_REGIONS",
                COSMOS_STANDIN_REGION,
            ),
        ],
    )
}

fn blob_env(azurite: &StandIn) -> Vec<(String, String)> {
    let cfg = azurite.blob_config("bot-state");
    let BlobAuth::Sas(sas) = cfg.auth else {
        unreachable!()
    };
    with(
        base_env(),
        &[
            ("BOT__STORAGE__KIND", "blob"),
            ("BOT__STORAGE__BLOB__ACCOUNT_URL", &cfg.account_url),
            ("BOT__STORAGE__BLOB__CONTAINER", "bot-state"),
            ("BOT__STORAGE__BLOB__AUTH", "sas"),
            ("BOT__STORAGE__BLOB__SAS", sas.expose_secret()),
        ],
    )
}

fn message(id: &str, text: &str) -> Value {
    json!({
        "type": "message", "id": id, "channelId": "emulator",
        "deliveryMode": "expectReplies", "serviceUrl": "http://127.0.0.1:9/",
        "conversation": {"id": "fault-conv"}, "from": {"id": "user-1"},
        "recipient": {"id": "bot"}, "text": text
    })
}

async fn post(state: &AppState, activity: &Value) -> (StatusCode, Value) {
    post_activity(&app(state.clone()), None, activity).await
}

async fn ready(state: &AppState) -> (StatusCode, Value) {
    state.readiness.refresh().await;
    call(
        &app(state.clone()),
        Request::get("/readyz").body(Body::empty()).unwrap(),
    )
    .await
}

fn storage_check(report: &Value) -> &Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "storage")
        .unwrap()
}

async fn turn_count(state: &AppState) -> u64 {
    let key = "emulator/conversations/fault-conv/".to_string();
    let got = state
        .storage()
        .read(std::slice::from_ref(&key))
        .await
        .unwrap();
    got[&key].document["turnCount"].as_u64().unwrap_or(0)
}

async fn outage_drill(state: AppState, standin: &mut StandIn, after_restart: impl AsyncFnOnce()) {
    let (status, body) = post(&state, &message("a1", "hello")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body["activities"].as_array().unwrap().is_empty(), "{body}");
    let turns = turn_count(&state).await;
    assert!(turns >= 1);
    assert_eq!(ready(&state).await.0, StatusCode::OK);

    standin.stop().await;
    let (status, body) = post(&state, &message("a2", "What can you do?")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "StorageError", "{body}");
    assert!(
        body.get("activities").is_none(),
        "no replies for an unsaved turn"
    );
    // The cause (the endpoint, the SDK's text) is for the log, not the caller.
    let port = standin.port().to_string();
    assert!(!body.to_string().contains(&port), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unavailable"),
        "{body}"
    );
    let (status, report) = ready(&state).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{report}");
    assert_eq!(storage_check(&report)["status"], "down", "{report}");

    standin.restart().await;
    after_restart().await;
    // The same process, same clients: the retried activity now runs.
    let mut last = (StatusCode::IM_A_TEAPOT, Value::Null);
    for _ in 0..100 {
        last = post(&state, &message("a2", "What can you do?")).await;
        if last.0 == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last.0, StatusCode::OK, "{}", last.1);
    assert!(!last.1["activities"].as_array().unwrap().is_empty());
    let (status, report) = ready(&state).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(storage_check(&report)["status"], "up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosmos_outage_fails_turns_with_503_and_recovers_without_restart() {
    // Deployed as infra deploys it: the container made first, creates
    // refused (local mode still tries one, and its 403 is not fatal).
    let mut server = StandIn::cosmos_entra_only(&["bot/state"]).await;
    let env = cosmos_env(&server);
    let settings = Settings::load_from(&env).unwrap();
    let state = build_state(settings).await.unwrap();
    assert_eq!(state.storage().kind(), "cosmos");
    outage_drill(state, &mut server, async || {
        // The stand-in keeps data in memory and comes back empty; its
        // launcher makes the container again, as a redeploy of infra would.
        let settings = Settings::load_from(&env).unwrap();
        bot_api::startup::open_storage(&settings.storage)
            .await
            .unwrap();
    })
    .await;
}

/// Production mode never creates: a container infra did not make stops the
/// start with its name and the settings that name it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_names_a_missing_cosmos_container_and_the_setting() {
    let server = StandIn::cosmos_entra_only(&["bot/state"]).await;
    let env = with(
        cosmos_env(&server),
        &[
            ("BOT__BOT__MODE", "production"),
            ("BOT__STORAGE__COSMOS__CONTAINER", "conversations"),
        ],
    );
    let settings = Settings::load_from(&env).unwrap();
    let err = bot_api::startup::open_storage(&settings.storage)
        .await
        .err()
        .expect("a missing container opened");
    let msg = format!("{err:#}");
    assert!(msg.contains("container \"conversations\""), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
    assert!(msg.contains("BOT__STORAGE__COSMOS__CONTAINER"), "{msg}");
    // The one infra made opens, with no create tried.
    let env = with(cosmos_env(&server), &[("BOT__BOT__MODE", "production")]);
    let settings = Settings::load_from(&env).unwrap();
    bot_api::startup::open_storage(&settings.storage)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_outage_fails_turns_with_503_and_recovers_without_restart() {
    let mut azurite = StandIn::azurite().await;
    let env = blob_env(&azurite);
    let settings = Settings::load_from(&env).unwrap();
    let state = build_state(settings).await.unwrap();
    assert_eq!(state.storage().kind(), "blob");
    outage_drill(state, &mut azurite, async || {
        let settings = Settings::load_from(&env).unwrap();
        bot_api::startup::open_storage(&settings.storage)
            .await
            .unwrap();
    })
    .await;
}

/// A store that is down for a moment while an instance starts is waited for
/// (a bounded time) instead of the instance exiting to be restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_waits_for_a_store_that_blinks() {
    let mut azurite = StandIn::azurite().await;
    let env = blob_env(&azurite);
    azurite.stop().await;
    let settings = Settings::load_from(&env).unwrap();
    let opening = tokio::spawn(async move {
        bot_api::startup::open_storage(&settings.storage)
            .await
            .map(|_| ())
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !opening.is_finished(),
        "the start gave up on a store that was down: {:?}",
        opening.await
    );
    azurite.restart().await;
    opening
        .await
        .unwrap()
        .expect("the store opened once it was back");
}

/// With `[transcripts]` on, every incoming activity of a turn and every
/// reply is in the transcript, readable through the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_are_logged_to_the_configured_transcript_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("transcripts.db");
    let env = with(
        base_env(),
        &[
            ("BOT__STORAGE__KIND", "memory"),
            ("BOT__TRANSCRIPTS__KIND", "sqlite"),
            ("BOT__TRANSCRIPTS__PATH", db.to_str().unwrap()),
        ],
    );
    let state = build_state(Settings::load_from(&env).unwrap())
        .await
        .unwrap();
    let (status, first) = post(&state, &message("t1", "hello")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, second) = post(&state, &message("t2", "What can you do?")).await;
    assert_eq!(status, StatusCode::OK);
    // A redelivery runs no turn and logs nothing again.
    assert_eq!(
        post(&state, &message("t2", "What can you do?")).await.0,
        StatusCode::OK
    );
    let logger = state.transcripts.clone().expect("transcripts on");
    assert!(logger.flush(Duration::from_secs(30)).await);
    let replies = first["activities"].as_array().unwrap().len()
        + second["activities"].as_array().unwrap().len();
    let page = logger
        .store()
        .activities("emulator", "fault-conv", None, None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2 + replies);
    assert_eq!(page.items[0].id.as_deref(), Some("t1"));
    assert_eq!(page.items[0].text.as_deref(), Some("hello"));
    assert!(page.items.iter().any(|a| a.id.as_deref() == Some("t2")));
    assert!(page
        .items
        .iter()
        .all(|a| a.timestamp.is_some() && a.id.is_some()));
    assert_eq!(logger.counts().logged as usize, 2 + replies);
    assert_eq!(logger.counts().failed, 0);
}

/// The app on memory state, with transcripts in this Azurite's `transcripts`
/// container.
async fn with_blob_transcripts(azurite: &StandIn) -> AppState {
    let cfg = azurite.blob_config("transcripts");
    let BlobAuth::Sas(sas) = cfg.auth else {
        unreachable!()
    };
    let env = with(
        base_env(),
        &[
            ("BOT__STORAGE__KIND", "memory"),
            ("BOT__TRANSCRIPTS__KIND", "blob"),
            ("BOT__TRANSCRIPTS__BLOB__ACCOUNT_URL", &cfg.account_url),
            ("BOT__TRANSCRIPTS__BLOB__CONTAINER", "transcripts"),
            ("BOT__TRANSCRIPTS__BLOB__AUTH", "sas"),
            ("BOT__TRANSCRIPTS__BLOB__SAS", sas.expose_secret()),
        ],
    );
    build_state(Settings::load_from(&env).unwrap())
        .await
        .unwrap()
}

/// A transcript store that stalls (connections accepted, nothing answered, as
/// Azurite did on a loaded machine) does not hold up the answer: the turn is
/// answered while its transcript writes are still waiting, and once the store
/// answers again every entry is accounted for, none dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_transcript_store_does_not_hold_up_the_answer() {
    let azurite = StandIn::azurite().await;
    let state = with_blob_transcripts(&azurite).await;
    let logger = state.transcripts.clone().unwrap();
    let (status, first) = post(&state, &message("s1", "hello")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(logger.flush(Duration::from_secs(30)).await);
    let before = logger.counts();
    assert_eq!(before.failed, 0, "{before:?}");

    azurite.pause();
    let (status, body) = post(&state, &message("s2", "hello again")).await;
    let answered = logger.counts();
    azurite.resume();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        answered, before,
        "the answer came before any write of its transcript finished"
    );
    assert!(logger.flush(Duration::from_secs(30)).await);
    let after = logger.counts();
    let entries = 1 + body["activities"].as_array().unwrap().len() as u64;
    assert_eq!(after.dropped, 0);
    assert_eq!(
        (after.logged + after.failed) - (before.logged + before.failed),
        entries,
        "{after:?}"
    );
}

/// Blob transcripts that do not answer when an instance starts do not keep
/// it down (in a turn they are best-effort): it starts and answers, and once
/// the account answers, the background check creates the container and the
/// transcript writes go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_goes_on_while_blob_transcripts_do_not_answer() {
    let mut azurite = StandIn::azurite().await;
    azurite.stop().await;
    let state = with_blob_transcripts(&azurite).await;
    let logger = state.transcripts.clone().unwrap();
    let (status, body) = post(&state, &message("d0", "hello")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(logger.flush(Duration::from_secs(30)).await);
    let down = logger.counts();
    assert!(down.failed >= 2 && down.logged == 0, "{down:?}");

    azurite.restart().await;
    // A deadline, not a timing goal: the check backs off to 8 s at most.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for n in 1.. {
        let (status, body) = post(&state, &message(&format!("d{n}"), "hello")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(logger.flush(Duration::from_secs(30)).await);
        if logger.counts().logged > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no transcript written after Blob came back: {:?}",
            logger.counts()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let page = logger
        .store()
        .activities("emulator", "fault-conv", None, None)
        .await
        .unwrap();
    assert!(!page.items.is_empty());
    assert!(
        page.items.iter().all(|a| a.id.as_deref() != Some("d0")),
        "the turn from while Blob was down was counted as failed, not written"
    );
}

/// A transcript store that is down neither fails the turn nor goes
/// unnoticed: the failure is counted (and logged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_transcript_store_is_counted_not_silent() {
    let mut azurite = StandIn::azurite().await;
    let state = with_blob_transcripts(&azurite).await;
    assert_eq!(
        post(&state, &message("b1", "hello")).await.0,
        StatusCode::OK
    );
    let logger = state.transcripts.clone().unwrap();
    assert!(logger.flush(Duration::from_secs(30)).await);
    let before = logger.counts();
    assert!(before.logged >= 2 && before.failed == 0, "{before:?}");
    azurite.stop().await;
    let (status, body) = post(&state, &message("b2", "hello again")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the saved turn still answers: {body}"
    );
    assert!(logger.flush(Duration::from_secs(30)).await);
    let after = logger.counts();
    assert_eq!(after.logged, before.logged);
    assert!(after.failed >= 2, "{after:?}");
}
