//! `[server]`: where the service listens and what it accepts.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::problems::{Checked, Problems};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ServerSettings {
    pub listen: String,
    /// Activities larger than this are refused with 413.
    pub max_body_bytes: usize,
    /// How long SIGTERM waits for turns in flight.
    pub drain_timeout_ms: u64,
}

/// The section, and the address it names.
pub fn validate(
    raw: ServerSettings,
    p: &mut Problems<'_>,
) -> Checked<(ServerSettings, SocketAddr)> {
    let listen = raw.listen.parse::<SocketAddr>().map_err(|_| {
        p.invalid(
            "server.listen",
            &raw.listen,
            "expected host:port with a numeric IP and a port 0-65535, e.g. 127.0.0.1:3978",
        )
    });
    let body = p.at_least("server.max_body_bytes", raw.max_body_bytes as u64, 1024);
    let listen = listen?;
    body?;
    Ok((raw, listen))
}
