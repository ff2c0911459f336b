use std::process::ExitCode;

use bot_api::{settings::Settings, startup, telemetry};

// glibc's malloc (with its consolidation passes) was about a quarter of a
// turn's CPU in the profile; mimalloc's thread-local free lists are not.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HELP: &str = "\
bot-api: a Bot Framework bot (POST activities to /api/messages).

Usage: bot-api [--help | --version]

It takes no arguments: its settings come, each layer over the one before, from
  1. config/default.toml, built into the binary (every key and its default);
  2. config/regions/$BOT_REGION.toml, when BOT_REGION is set (the directory
     is $BOT_CONFIG_DIR, default ./config);
  3. environment variables BOT__SECTION__KEY, e.g. BOT__SERVER__LISTEN=0.0.0.0:8080;
  4. the Bot Framework names MicrosoftAppId, MicrosoftAppPassword,
     MicrosoftAppType, MicrosoftAppTenantId (none: local mode, auth off).
A bad or unknown key stops the start (exit 2) naming the key and its origin.
`botctl config show` prints the effective settings, secrets redacted.

With no settings it is the local bot: http://127.0.0.1:3978/api/messages,
SQLite state under ./data, the sample knowledge base, auth off.
SIGTERM drains (readiness 503, turns in flight finish); Ctrl-C stops.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help") => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") => {
            println!("bot-api {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("bot-api: unknown argument {other:?}; settings come from files and the environment (see bot-api --help)");
            return ExitCode::from(2);
        }
    }
    heap::no_transparent_huge_pages();
    #[cfg(feature = "mimalloc")]
    heap::purge_freed_memory_at_once();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run()),
        Err(e) => {
            eprintln!("bot-api: cannot start the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run() -> ExitCode {
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            // Logging is configured by the settings that failed to load.
            eprintln!("bot-api: {e}");
            return ExitCode::from(2);
        }
    };
    let telemetry = telemetry::init(&settings);
    let code = match startup::serve(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("bot-api: {e:#}");
            eprintln!("bot-api: {e:#}");
            ExitCode::from(1)
        }
    };
    telemetry.shutdown().await;
    code
}
