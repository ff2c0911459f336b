//! `botctl proxy`: a TCP proxy with a fault switch, for the local
//! two-region stack. Each region reaches the shared Cosmos stand-in through
//! its own proxy, so cutting one proxy fails only that region's storage, as
//! a regional endpoint outage does.
//!
//! Modes, switched on the control port with one line (`pass`, `refuse`,
//! `blackhole`, `status`; the answer is `mode=<mode>`):
//! - `pass`: forward bytes both ways;
//! - `refuse`: close the listening socket (connections are refused) and
//!   drop every open connection;
//! - `blackhole`: accept connections but never answer, and stop forwarding
//!   on open ones (a client only notices through its own timeout).

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
}

impl Mode {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "pass" => Some(Mode::Pass),
            "refuse" => Some(Mode::Refuse),
            "blackhole" => Some(Mode::Blackhole),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Mode::Pass => "pass",
            Mode::Refuse => "refuse",
            Mode::Blackhole => "blackhole",
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
    tokio::spawn(serve_control(control, mode_tx));
    serve_traffic(listener, listen, args.upstream, mode_rx).await
}

async fn serve_control(control: TcpListener, mode: watch::Sender<Mode>) {
    loop {
        let Ok((sock, _)) = control.accept().await else {
            continue;
        };
        let mode = mode.clone();
        tokio::spawn(async move {
            let (read, mut write) = sock.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let cmd = line.trim();
                let answer = if cmd == "status" {
                    format!("mode={}\n", mode.borrow().name())
                } else if let Some(m) = Mode::parse(cmd) {
                    mode.send_replace(m);
                    eprintln!("proxy: mode {}", m.name());
                    format!("mode={}\n", m.name())
                } else {
                    format!("error: unknown command {cmd:?}; expected pass, refuse, blackhole or status\n")
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
                mode.changed().await?;
                continue;
            }
            (None, _) => {
                listener = Some(rebind(addr).await);
                continue;
            }
            (Some(l), _) => {
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
        if *mode.borrow() == Mode::Refuse {
            return;
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
