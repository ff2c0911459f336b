//! TLS through the clients bot-http hands out, against a local rustls
//! server: ring is found as the provider, the handshake completes, the
//! server's certificate is verified, and HTTP/1.1 is what is spoken.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const CA: &[u8] = include_bytes!("fixtures/ca.pem");
const CERT: &[u8] = include_bytes!("fixtures/localhost.pem");
const KEY: &[u8] = include_bytes!("fixtures/localhost.key");

/// What the server saw of one connection.
#[derive(Debug)]
struct Seen {
    handshake: Result<(), String>,
    alpn: Option<Vec<u8>>,
    request_line: Option<String>,
}

/// A one-connection-at-a-time HTTPS server on 127.0.0.1 that answers `ok`.
/// It prefers h2 in ALPN, so a client that offers h2 would get it.
fn server() -> (SocketAddr, mpsc::Receiver<Seen>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(CERT).unwrap()],
            PrivateKeyDer::from_pem_slice(KEY).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { return };
            let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let handshake = conn.complete_io(&mut tcp).map(|_| ());
            let mut seen = Seen {
                handshake: handshake.map_err(|e| e.to_string()),
                alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
                request_line: None,
            };
            if seen.handshake.is_ok() {
                let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
                let mut line = String::new();
                if tls.read_line(&mut line).is_ok() {
                    seen.request_line = Some(line.trim_end().to_string());
                    // The rest of the head, up to the blank line.
                    let mut header = String::new();
                    while tls.read_line(&mut header).is_ok_and(|n| n > 2) {
                        header.clear();
                    }
                    let _ = tls.get_mut().write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    );
                    let _ = tls.get_mut().flush();
                    tls.get_mut().conn.send_close_notify();
                    let _ = tls.get_mut().flush();
                }
            }
            if tx.send(seen).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn a_client_completes_a_verified_tls_handshake_and_speaks_http_1_1() {
    let (addr, seen) = server();
    let client = bot_http::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(CA).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let rsp = client
        .get(format!("https://localhost:{}/hello", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 200);
    assert_eq!(rsp.version(), reqwest::Version::HTTP_11);
    assert_eq!(rsp.text().await.unwrap(), "ok");

    let seen = seen.recv().unwrap();
    assert_eq!(seen.handshake, Ok(()));
    assert_eq!(seen.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(seen.request_line.as_deref(), Some("GET /hello HTTP/1.1"));
}

#[tokio::test]
async fn a_certificate_from_an_unknown_issuer_is_refused() {
    let (addr, seen) = server();
    let err = bot_http::client()
        .get(format!("https://127.0.0.1:{}/", addr.port()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let seen = seen.recv().unwrap();
    assert!(seen.handshake.is_err(), "{seen:?}");
    assert_eq!(seen.request_line, None);
}
