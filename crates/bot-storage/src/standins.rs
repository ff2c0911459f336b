//! Local stand-ins for the Azure services, for tests, benchmarks and local
//! stacks: Azurite (Blob) and the Cosmos DB server, both run by the
//! launchers in the repository's `standins/` directory on a free port of
//! 127.0.0.1. A stand-in is killed when its handle is dropped.
//!
//! The launchers need `npm ci --prefix standins` (./scripts/test runs it).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use secrecy::SecretString;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::blob::sas::{account_sas, AZURITE_ACCOUNT, AZURITE_KEY};
use crate::blob::{BlobAuth, BlobConfig};
use crate::cosmos::{CosmosAuth, CosmosConfig};

/// The Cosmos DB emulator's well-known key (public; the stand-in accepts any).
pub const COSMOS_EMULATOR_KEY: &str =
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";
/// The region the stand-in advertises.
pub const COSMOS_STANDIN_REGION: &str = "South Central US";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Azurite,
    Cosmos,
}

impl Kind {
    fn script(self) -> &'static str {
        match self {
            Kind::Azurite => "azurite.js",
            Kind::Cosmos => "cosmos.js",
        }
    }
    fn marker(self) -> &'static str {
        match self {
            Kind::Azurite => "BLOB_ENDPOINT=",
            Kind::Cosmos => "COSMOS_ENDPOINT=",
        }
    }
}

/// A running stand-in.
pub struct StandIn {
    kind: Kind,
    port: u16,
    /// Launcher arguments besides the port, kept for `restart`.
    args: Vec<String>,
    child: Option<Child>,
    /// `http://127.0.0.1:PORT/devstoreaccount1` or `http://127.0.0.1:PORT/`.
    pub endpoint: String,
}

/// The repository's `standins/` directory.
pub fn standins_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../standins")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

impl StandIn {
    /// Starts Azurite's blob service, in memory.
    pub async fn azurite() -> Self {
        Self::start(Kind::Azurite, free_port()).await
    }

    /// Starts the Cosmos DB server.
    pub async fn cosmos() -> Self {
        Self::start(Kind::Cosmos, free_port()).await
    }

    /// Starts the Cosmos DB server as Azure is deployed: these
    /// `database/container` pairs made first (as infra makes them), then
    /// key auth off for the service, so every create, replace or delete of a
    /// database or container is answered 403 and data operations are served.
    pub async fn cosmos_entra_only(containers: &[&str]) -> Self {
        let mut args = vec!["--entra-only".to_string()];
        for c in containers {
            args.extend(["--create".to_string(), c.to_string()]);
        }
        Self::start_with(Kind::Cosmos, free_port(), args).await
    }

    /// Starts a stand-in on `port`. Panics with the fix when the stand-ins
    /// are not installed: a test that cannot run must fail, not skip.
    pub async fn start(kind: Kind, port: u16) -> Self {
        Self::start_with(kind, port, Vec::new()).await
    }

    /// `start`, with more launcher arguments.
    pub async fn start_with(kind: Kind, port: u16, args: Vec<String>) -> Self {
        let dir = standins_dir();
        assert!(
            dir.join("node_modules").is_dir(),
            "the local stand-ins are not installed: run `npm ci --prefix standins` \
             (./scripts/test does this) and make sure `node` is on PATH"
        );
        let mut child = Command::new("node")
            .arg(dir.join(kind.script()))
            .args(["--port", &port.to_string()])
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` for the {kind:?} stand-in: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let marker = kind.marker();
        let endpoint = tokio::time::timeout(Duration::from_secs(120), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(ep) = line.strip_prefix(marker) {
                    return Some(ep.trim().to_string());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("the {kind:?} stand-in did not start on port {port}"));
        // Keep draining its output so a chatty stand-in never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            kind,
            port,
            args,
            child: Some(child),
            endpoint,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the stand-in (as a crash or an outage would) and waits for it.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Stops the stand-in's process without closing its sockets (SIGSTOP), as
    /// a stalled service behaves: connections open, nothing answered.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused stand-in run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self
            .child
            .as_ref()
            .and_then(Child::id)
            .expect("the stand-in is running");
        let status = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill {sig} {pid} failed");
    }

    /// Starts it again on the same port (with empty data for Azurite in memory).
    pub async fn restart(&mut self) {
        self.stop().await;
        let fresh = Self::start_with(self.kind, self.port, self.args.clone()).await;
        *self = fresh;
    }

    /// Blob settings for this Azurite, authenticated with an account SAS
    /// signed with the well-known dev key.
    pub fn blob_config(&self, container: &str) -> BlobConfig {
        let sas = account_sas(
            AZURITE_ACCOUNT,
            &SecretString::from(AZURITE_KEY),
            chrono::Utc::now() + chrono::Duration::days(1),
        )
        .expect("the dev key is valid base64");
        BlobConfig {
            account_url: self.endpoint.trim_end_matches('/').to_string(),
            secondary_url: None,
            container: container.to_string(),
            auth: BlobAuth::Sas(sas),
            request_timeout: crate::blob::DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Cosmos settings for this server, with the emulator key.
    pub fn cosmos_config(&self, database: &str, container: &str) -> CosmosConfig {
        CosmosConfig {
            endpoint: self.endpoint.clone(),
            database: database.to_string(),
            container: container.to_string(),
            auth: CosmosAuth::Key(SecretString::from(COSMOS_EMULATOR_KEY)),
            preferred_regions: vec![COSMOS_STANDIN_REGION.to_string()],
            create_if_missing: true,
        }
    }
}
