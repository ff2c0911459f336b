//! For the TLS-provider checks, each alone in its own test binary: a
//! listener that reports the first byte of each connection and answers
//! nothing.

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A TLS record of type handshake (a ClientHello) starts with 0x16.
pub const TLS_HANDSHAKE: u8 = 0x16;

/// An `https://` URL on a free port, and the first byte each connection sent.
pub async fn listener() -> (String, mpsc::UnboundedReceiver<u8>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut first = [0u8; 1];
            if tcp.read_exact(&mut first).await.is_ok() {
                let _ = tx.send(first[0]);
            }
        }
    });
    (format!("https://{addr}"), rx)
}
