//! `deploy/smoke.sh`, the pipelines' post-deploy check, run as a deploy
//! runs it: against the real binary with production settings (bot.mode
//! production, channel auth on, the default serviceUrl allow-list), with a
//! token signed by the tests' local OpenID server as Entra would sign the
//! app's own token.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bot_auth::testkit::{now, IdentityServer, TestKey};
use serde_json::json;

const APP_ID: &str = "11111111-2222-3333-4444-555555555555";
/// The Bot Framework tenant, whose v2 issuer the Emulator's tokens carry.
const BOT_FRAMEWORK_TENANT: &str = "d6d49420-f39b-4df7-a1dc-d59a935871db";

struct Bot(std::process::Child);

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_sh_passes_against_a_production_mode_bot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let jq = Command::new("jq").arg("--version").output();
    assert!(
        jq.is_ok_and(|o| o.status.success()),
        "deploy/smoke.sh needs jq (apt-get install jq)"
    );
    let server = IdentityServer::start().await;
    let key = TestKey::generate("smoke-key");
    server.set_channel_keys(vec![key.jwk(None)]);
    server.set_emulator_keys(vec![key.jwk(None)]);

    let mut child = Command::new(env!("CARGO_BIN_EXE_bot-api"))
        .current_dir(&root)
        .env_remove("BOT_REGION")
        .env("BOT__BOT__MODE", "production")
        .env("BOT__SERVER__LISTEN", "127.0.0.1:0")
        .env("BOT__STORAGE__KIND", "memory")
        .env("BOT__LOG__FORMAT", "text")
        .env("MicrosoftAppId", APP_ID)
        .env("MicrosoftAppPassword", "smoke-app-password")
        .env(
            "BOT__AUTH__CHANNEL_OPENID_METADATA_URL",
            server.channel_metadata_url(),
        )
        .env(
            "BOT__AUTH__EMULATOR_OPENID_METADATA_URL",
            server.emulator_metadata_url(),
        )
        .env("BOT__AUTH__TOKEN_ENDPOINT", server.token_endpoint())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start bot-api");
    let stdout = child.stdout.take().unwrap();
    let bot = Bot(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(a) = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("address="))
            {
                let _ = tx.send(a.to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("bot-api did not start");
    let base = format!("http://{addr}");

    // The app's own token, as the client-credentials grant smoke.sh can
    // make would return it (v2, azp = the app).
    let token = key.sign(&json!({
        "iss": format!("https://login.microsoftonline.com/{BOT_FRAMEWORK_TENANT}/v2.0"),
        "aud": APP_ID, "azp": APP_ID, "ver": "2.0",
        "exp": now() + 600, "nbf": now() - 5,
    }));
    let run = |token: Option<&str>| {
        let mut cmd = Command::new("bash");
        cmd.current_dir(&root)
            .arg("deploy/smoke.sh")
            .args([base.as_str(), "local"])
            .env("SMOKE_TRIES", "3")
            .env_remove("SMOKE_APP_ID")
            .env_remove("SMOKE_SERVICE_URL");
        match token {
            Some(t) => cmd.env("SMOKE_TOKEN", t),
            None => cmd.env_remove("SMOKE_TOKEN"),
        };
        let out = cmd.output().expect("run deploy/smoke.sh");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, output) = run(Some(&token));
    assert!(ok, "smoke.sh failed: {output}");
    assert!(output.contains("smoke: local answered"), "{output}");
    // Without a token the production bot refuses it, and smoke.sh says so.
    let (ok, output) = run(None);
    assert!(!ok, "smoke.sh passed without a token: {output}");
    assert!(output.contains("answered 401"), "{output}");
    drop(bot);
}
