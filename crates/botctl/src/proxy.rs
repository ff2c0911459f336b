//! `botctl proxy`: a TCP proxy with a fault switch, for the local
//! two-region stack. Each region reaches the shared Cosmos stand-in through
//! its own proxy, so cutting one proxy fails only that region's storage, as
//! a regional endpoint outage does.
//!
//! Modes, switched on the control port with one line (`pass`, `refuse`,
//! `blackhole`, `write-forbidden`, `status`; the answer is `mode=<mode>`):
//! - `pass`: forward bytes both ways;
//! - `refuse`: close the listening socket (connections are refused) and
//!   drop every open connection;
//! - `blackhole`: accept connections but never answer, and stop forwarding
//!   on open ones (a client only notices through its own timeout);
//! - `write-forbidden`: speak HTTP/1.1 to the Cosmos DB client, forward
//!   reads and queries, and answer every write (POST that is not a query,
//!   PUT, PATCH, DELETE) as Cosmos answers while a region cannot write: 403
//!   with `x-ms-substatus: 3` (WriteForbidden). Open connections are closed
//!   when the mode changes, so the client's next request meets the new one.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Args, Debug, Clone)]
pub struct ProxyArgs {
    /// Address to accept client connections on (port 0: any free port).
    #[arg(long)]
    pub listen: SocketAddr,
    /// Address to forward to.
    #[arg(long)]
    pub upstream: SocketAddr,
    /// Address of the control port (port 0: any free port).
    #[arg(long)]
    pub control: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Refuse,
    Blackhole,
    WriteForbidden,
}

impl Mode {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "pass" => Some(Mode::Pass),
            "refuse" => Some(Mode::Refuse),
            "blackhole" => Some(Mode::Blackhole),
            "write-forbidden" => Some(Mode::WriteForbidden),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Mode::Pass => "pass",
            Mode::Refuse => "refuse",
            Mode::Blackhole => "blackhole",
            Mode::WriteForbidden => "write-forbidden",
        }
    }
}

pub async fn run(args: ProxyArgs) -> anyhow::Result<std::process::ExitCode> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let control = TcpListener::bind(args.control)
        .await
        .with_context(|| format!("binding the control port {}", args.control))?;
    let listen = listener.local_addr()?;
    // The stack script reads these two lines to learn the ports.
    println!("PROXY_LISTEN={listen}");
    println!("PROXY_CONTROL={}", control.local_addr()?);
    let (mode_tx, mode_rx) = watch::channel(Mode::Pass);
    let (applied_tx, applied_rx) = watch::channel(Mode::Pass);
    tokio::spawn(serve_control(control, mode_tx, applied_rx));
    serve_traffic(listener, listen, args.upstream, mode_rx, applied_tx).await
}

/// How long a command waits for the traffic side to take the new mode.
const APPLY_WITHIN: Duration = Duration::from_secs(5);

async fn serve_control(
    control: TcpListener,
    mode: watch::Sender<Mode>,
    applied: watch::Receiver<Mode>,
) {
    loop {
        let Ok((sock, _)) = control.accept().await else {
            continue;
        };
        let mode = mode.clone();
        let mut applied = applied.clone();
        tokio::spawn(async move {
            let (read, mut write) = sock.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let cmd = line.trim();
                let answer = if cmd == "status" {
                    format!("mode={}\n", mode.borrow().name())
                } else if let Some(m) = Mode::parse(cmd) {
                    mode.send_replace(m);
                    // Answered once the traffic side acts on it: a client
                    // that connects after `pass` was answered must not be
                    // taken for one that queued during the black hole.
                    let _ = tokio::time::timeout(APPLY_WITHIN, applied.wait_for(|a| *a == m)).await;
                    eprintln!("proxy: mode {}", m.name());
                    format!("mode={}\n", m.name())
                } else {
                    format!("error: unknown command {cmd:?}; expected pass, refuse, blackhole, write-forbidden or status\n")
                };
                if write.write_all(answer.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}

async fn serve_traffic(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    applied: watch::Sender<Mode>,
) -> anyhow::Result<std::process::ExitCode> {
    let mut listener = Some(listener);
    loop {
        let current = *mode.borrow_and_update();
        match (&listener, current) {
            (Some(_), Mode::Refuse) => {
                // Closing the socket makes new connections fail at once.
                listener = None;
                continue;
            }
            (None, Mode::Refuse) => {
                applied.send_if_modified(|a| std::mem::replace(a, current) != current);
                mode.changed().await?;
                continue;
            }
            (None, _) => {
                listener = Some(rebind(addr).await);
                continue;
            }
            (Some(l), _) => {
                // The previous mode's leftovers are dealt with (below):
                // this one is in force. Waiters are woken on a change
                // only, not at every accepted connection.
                applied.send_if_modified(|a| std::mem::replace(a, current) != current);
                tokio::select! {
                    accepted = l.accept() => {
                        if let Ok((client, _)) = accepted {
                            tokio::spawn(connection(client, upstream, current, mode.clone()));
                        }
                    }
                    changed = mode.changed() => {
                        changed?;
                        if current == Mode::Blackhole {
                            close_waiting(l);
                        }
                    }
                }
            }
        }
    }
}

/// Connections that reached the port during a black hole but were not
/// accepted yet are black-holed too: closed unanswered when it ends. Left
/// in the queue, they were taken by the next mode and, on `pass`, forwarded
/// (a loaded machine accepts late), which a black hole never does.
fn close_waiting(listener: &TcpListener) {
    use futures::FutureExt;
    while let Some(Ok((client, _))) = listener.accept().now_or_never() {
        drop(client);
    }
}

/// Takes the port back after `refuse`. The socket was ours a moment ago
/// (and tokio sets SO_REUSEADDR), so this only waits if someone raced for it.
async fn rebind(addr: SocketAddr) -> TcpListener {
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return l,
            Err(e) => {
                eprintln!("proxy: cannot rebind {addr} yet: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection(
    mut client: TcpStream,
    upstream: SocketAddr,
    accepted_in: Mode,
    mut mode: watch::Receiver<Mode>,
) {
    if accepted_in == Mode::Pass {
        let Ok(mut server) = TcpStream::connect(upstream).await else {
            return;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
            _ = until(&mut mode, |m| m != Mode::Pass) => {}
        }
        // `server` is dropped here: nothing more reaches the upstream.
        // Only a black hole keeps the connection; otherwise the client
        // reconnects and meets the new mode.
        if *mode.borrow() != Mode::Blackhole {
            return;
        }
    }
    if accepted_in == Mode::WriteForbidden {
        let _ = client.set_nodelay(true);
        tokio::select! {
            _ = write_forbidden::serve(client, upstream) => return,
            _ = until(&mut mode, |m| m != Mode::WriteForbidden) => return,
        }
    }
    // Black-holed: hold the client's connection, unanswered, until the mode
    // changes; then close it.
    until(&mut mode, |m| m != Mode::Blackhole).await;
    drop(client);
}

async fn until(mode: &mut watch::Receiver<Mode>, pred: impl Fn(Mode) -> bool) {
    let _ = mode.wait_for(|m| pred(*m)).await;
}

/// The HTTP side of `write-forbidden`.
mod write_forbidden {
    use std::convert::Infallible;
    use std::net::SocketAddr;

    use bytes::Bytes;
    use http_body_util::{combinators::BoxBody, BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::{Method, Request, Response, StatusCode};
    use hyper_util::client::legacy::{connect::HttpConnector, Client};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tokio::net::TcpStream;

    type Body = BoxBody<Bytes, hyper::Error>;

    /// A write in Cosmos DB's REST API: everything but GET, HEAD and the
    /// POSTs that carry a query.
    pub fn is_write(method: &Method, headers: &hyper::HeaderMap) -> bool {
        let query = headers
            .get("x-ms-documentdb-isquery")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        !(method == Method::GET || method == Method::HEAD || method == Method::POST && query)
    }

    /// Cosmos's answer to a write in a region that cannot write.
    fn forbidden() -> Response<Body> {
        let body = serde_json::json!({
            "code": "Forbidden",
            "message": "Message: {\"Errors\":[\"The requested operation cannot be performed at this region\"]}",
        });
        let mut rsp = Response::new(
            Full::new(Bytes::from(body.to_string()))
                .map_err(|never: Infallible| match never {})
                .boxed(),
        );
        *rsp.status_mut() = StatusCode::FORBIDDEN;
        let headers = rsp.headers_mut();
        headers.insert("content-type", "application/json".parse().expect("static"));
        headers.insert("x-ms-substatus", "3".parse().expect("static"));
        rsp
    }

    pub async fn serve(client: TcpStream, upstream: SocketAddr) {
        let forward: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let forward = forward.clone();
            async move {
                if is_write(req.method(), req.headers()) {
                    return Ok::<_, hyper::Error>(forbidden());
                }
                // The Host header stays the client's: the stand-in
                // advertises the address it was reached at (this proxy).
                let path = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/".into());
                *req.uri_mut() = format!("http://{upstream}{path}")
                    .parse()
                    .expect("an http URI from an address and a path");
                Ok(match forward.request(req).await {
                    Ok(rsp) => rsp.map(|b| b.boxed()),
                    Err(e) => {
                        let mut rsp = Response::new(
                            Full::new(Bytes::from(format!("proxy: upstream failed: {e}")))
                                .map_err(|never: Infallible| match never {})
                                .boxed(),
                        );
                        *rsp.status_mut() = StatusCode::BAD_GATEWAY;
                        rsp
                    }
                })
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(client), service)
            .await;
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reads_and_queries_pass_writes_do_not() {
            let none = hyper::HeaderMap::new();
            let mut query = hyper::HeaderMap::new();
            query.insert("x-ms-documentdb-isquery", "True".parse().unwrap());
            assert!(!is_write(&Method::GET, &none));
            assert!(!is_write(&Method::HEAD, &none));
            assert!(!is_write(&Method::POST, &query));
            assert!(is_write(&Method::POST, &none));
            for m in [Method::PUT, Method::PATCH, Method::DELETE] {
                assert!(is_write(&m, &none), "{m}");
            }
        }
    }
}
