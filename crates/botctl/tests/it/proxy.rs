//! `botctl proxy`, the local stack's per-region storage switch: the real
//! binary in front of an echo server on 127.0.0.1, switched between pass,
//! refuse and blackhole on its control port. Waits have generous deadlines;
//! nothing here is timed.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

const DEADLINE: Duration = Duration::from_secs(10);

/// An echo server counting the connections it accepted.
async fn echo() -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

struct Proxy {
    _child: Child,
    listen: SocketAddr,
    control: SocketAddr,
}

async fn proxy(upstream: SocketAddr) -> Proxy {
    let mut child = Command::new(env!("CARGO_BIN_EXE_botctl"))
        .args([
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
        ])
        .args(["--upstream", &upstream.to_string()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut listen, mut control) = (None, None);
    while listen.is_none() || control.is_none() {
        let line = tokio::time::timeout(DEADLINE, lines.next_line())
            .await
            .expect("proxy did not start")
            .unwrap()
            .expect("proxy exited");
        if let Some(a) = line.strip_prefix("PROXY_LISTEN=") {
            listen = Some(a.parse().unwrap());
        }
        if let Some(a) = line.strip_prefix("PROXY_CONTROL=") {
            control = Some(a.parse().unwrap());
        }
    }
    Proxy {
        _child: child,
        listen: listen.unwrap(),
        control: control.unwrap(),
    }
}

async fn ctl(p: &Proxy, cmd: &str) -> String {
    let s = TcpStream::connect(p.control).await.unwrap();
    let (r, mut w) = s.into_split();
    w.write_all(format!("{cmd}\n").as_bytes()).await.unwrap();
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).await.unwrap();
    line.trim().to_string()
}

/// One round trip through the proxy, or the error.
async fn round_trip(addr: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).await?;
    Ok(buf.to_vec())
}

/// Fails the test when `start` is older than the deadline.
fn within_deadline(start: Instant, what: &str) {
    assert!(start.elapsed() < DEADLINE, "{what} did not happen");
}

#[tokio::test]
async fn pass_refuse_blackhole_and_back() {
    let (upstream, accepted) = echo().await;
    let p = proxy(upstream).await;
    assert_eq!(ctl(&p, "status").await, "mode=pass");
    assert_eq!(round_trip(p.listen).await.unwrap(), b"ping");

    // An open connection is dropped by a cut, and new ones are refused.
    let mut open = TcpStream::connect(p.listen).await.unwrap();
    open.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    open.read_exact(&mut buf).await.unwrap();
    assert_eq!(ctl(&p, "refuse").await, "mode=refuse");
    let closed = tokio::time::timeout(DEADLINE, open.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "the open connection was not closed: {closed:?}"
    );
    let start = Instant::now();
    loop {
        match TcpStream::connect(p.listen).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            _ => within_deadline(start, "connections being refused"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Black hole: the connection is accepted but nothing reaches the upstream.
    assert_eq!(ctl(&p, "blackhole").await, "mode=blackhole");
    let before = accepted.load(Ordering::SeqCst);
    let start = Instant::now();
    let mut held = loop {
        if let Ok(s) = TcpStream::connect(p.listen).await {
            break s;
        }
        within_deadline(start, "the port accepting again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    held.write_all(b"ping").await.unwrap();

    // Restored: the held connection is closed unanswered, never forwarded,
    // and new connections pass.
    assert_eq!(ctl(&p, "pass").await, "mode=pass");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(DEADLINE, held.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the black-holed connection was not closed");
    assert!(rest.is_empty(), "a black-holed request was answered");
    assert_eq!(accepted.load(Ordering::SeqCst), before);
    assert_eq!(round_trip(p.listen).await.unwrap(), b"ping");
    assert_eq!(accepted.load(Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn an_unknown_command_is_refused_with_the_list() {
    let (upstream, _) = echo().await;
    let p = proxy(upstream).await;
    let answer = ctl(&p, "explode").await;
    assert!(answer.starts_with("error:"), "{answer}");
    assert!(answer.contains("blackhole"), "{answer}");
    assert_eq!(ctl(&p, "status").await, "mode=pass");
}

/// `write-forbidden` in front of the Cosmos DB stand-in (as infra deploys
/// it: the container made first, creates refused): reads and queries pass,
/// every write is Cosmos's 403 WriteForbidden, which the storage adapter
/// reports as Unavailable; `pass` restores writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_forbidden_passes_reads_and_refuses_writes_as_cosmos_does() {
    use bot_storage::standins::StandIn;
    use bot_storage::{Change, CosmosConfig, CosmosStorage, Precondition, Storage, StorageError};
    use serde_json::json;

    let cosmos = StandIn::cosmos_entra_only(&["bot/state"]).await;
    let p = proxy(format!("127.0.0.1:{}", cosmos.port()).parse().unwrap()).await;
    let config = CosmosConfig {
        endpoint: format!("http://{}/", p.listen),
        create_if_missing: false,
        ..cosmos.cosmos_config("bot", "state")
    };
    let s = CosmosStorage::open(&config).await.unwrap();
    let key = "emulator/conversations/wf/".to_string();
    let put = |n: i64| {
        vec![Change {
            key: key.clone(),
            document: json!({"n": n}),
            precondition: Precondition::None,
        }]
    };
    s.write(put(1)).await.unwrap();

    assert_eq!(ctl(&p, "write-forbidden").await, "mode=write-forbidden");
    // On the wire: Cosmos's status and substatus.
    let rsp = bot_http::client()
        .post(format!("http://{}/dbs/bot/colls/state/docs", p.listen))
        .header("x-ms-documentdb-partitionkey", r#"["x"]"#)
        .json(&json!({"id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 403);
    assert_eq!(rsp.headers()["x-ms-substatus"], "3");
    // Through the SDK: reads served, writes Unavailable. (The first call
    // may meet a pooled connection the mode change closed.)
    let start = Instant::now();
    let read = loop {
        match s.read(std::slice::from_ref(&key)).await {
            Ok(r) => break r,
            Err(e) => {
                within_deadline(start, &format!("a read through write-forbidden ({e})"));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(read[&key].document, json!({"n": 1}));
    s.ping().await.unwrap();
    let err = s.write(put(2)).await.unwrap_err();
    assert!(matches!(err, StorageError::Unavailable { .. }), "{err:?}");
    let read = s.read(std::slice::from_ref(&key)).await.unwrap();
    assert_eq!(
        read[&key].document,
        json!({"n": 1}),
        "a refused write landed"
    );

    assert_eq!(ctl(&p, "pass").await, "mode=pass");
    let start = Instant::now();
    while let Err(e) = s.write(put(3)).await {
        within_deadline(start, &format!("a write after pass ({e})"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let read = s.read(std::slice::from_ref(&key)).await.unwrap();
    assert_eq!(read[&key].document, json!({"n": 3}));
}

/// Blob calls have a deadline: with the primary black-holed by the proxy
/// (connections accepted, never answered), a state read is answered from
/// the secondary, and writes, transcript and telemetry-export puts fail as
/// Unavailable instead of waiting for the HTTP client's read timeout. The
/// secondary is a second Azurite holding a different document, so the
/// answer shows where it came from. Times are printed, not asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_calls_meet_their_deadline_when_the_primary_is_black_holed() {
    use bot_storage::blob::BlobContainers;
    use bot_storage::standins::StandIn;
    use bot_storage::transcript::BlobTranscriptStore;
    use bot_storage::{BlobConfig, BlobStorage, Change, Precondition, Storage, StorageError};
    use serde_json::json;

    let primary = StandIn::azurite().await;
    let secondary = StandIn::azurite().await;
    let key = "emulator/conversations/bh/".to_string();
    for (azurite, from) in [(&primary, "primary"), (&secondary, "secondary")] {
        BlobStorage::open(&azurite.blob_config("state"))
            .await
            .unwrap()
            .write(vec![Change {
                key: key.clone(),
                document: json!({"from": from}),
                precondition: Precondition::None,
            }])
            .await
            .unwrap();
    }
    BlobTranscriptStore::open(&primary.blob_config("transcripts"))
        .await
        .unwrap();
    let p = proxy(format!("127.0.0.1:{}", primary.port()).parse().unwrap()).await;
    let deadline = Duration::from_millis(500);
    let through_proxy = |container: &str| BlobConfig {
        account_url: primary.endpoint.replace(
            &format!(":{}/", primary.port()),
            &format!(":{}/", p.listen.port()),
        ),
        secondary_url: Some(secondary.endpoint.clone()),
        request_timeout: deadline,
        ..primary.blob_config(container)
    };
    let state = BlobStorage::from_config(&through_proxy("state")).unwrap();
    let got = state.read(std::slice::from_ref(&key)).await.unwrap();
    assert_eq!(got[&key].document, json!({"from": "primary"}));

    assert_eq!(ctl(&p, "blackhole").await, "mode=blackhole");
    let t = Instant::now();
    let got = state.read(std::slice::from_ref(&key)).await.unwrap();
    let read_ms = t.elapsed().as_millis();
    assert_eq!(got[&key].document, json!({"from": "secondary"}));

    let t = Instant::now();
    let err = state
        .write(vec![Change {
            key: key.clone(),
            document: json!({"from": "lost"}),
            precondition: Precondition::None,
        }])
        .await
        .unwrap_err();
    let write_ms = t.elapsed().as_millis();
    assert!(matches!(err, StorageError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("deadline"), "{err}");

    let transcripts = BlobTranscriptStore::open(&BlobConfig {
        secondary_url: None,
        ..through_proxy("transcripts")
    })
    .await;
    let err = transcripts.err().expect("opening through a black hole");
    assert!(matches!(err, StorageError::Unavailable { .. }), "{err:?}");
    let t = Instant::now();
    let export = BlobContainers::new(&through_proxy("telemetry")).unwrap();
    let err = export
        .put_block_blob(
            "r/2026/01/01/00/i-1.ndjson",
            b"{}\n".to_vec(),
            "application/x-ndjson",
        )
        .await
        .unwrap_err();
    let export_ms = t.elapsed().as_millis();
    assert!(matches!(err, StorageError::Unavailable { .. }), "{err:?}");
    eprintln!(
        "figures: deadline {} ms; black-holed primary: read from the secondary in {read_ms} ms, \
         write failed in {write_ms} ms, telemetry put failed in {export_ms} ms",
        deadline.as_millis()
    );

    assert_eq!(ctl(&p, "pass").await, "mode=pass");
    let start = Instant::now();
    loop {
        match state.read(std::slice::from_ref(&key)).await {
            Ok(got) if got[&key].document == json!({"from": "primary"}) => break,
            _ => within_deadline(start, "reading from the primary after pass"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
