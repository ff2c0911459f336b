//! `botctl send` and `botctl handoff list|close`: an operator's side of a
//! conversation, on whichever storage the configuration names and with the
//! bot's own credentials (the same settings bot-api runs with), through the
//! same path as bot-api's `/admin/conversations` and `/admin/handoffs`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bot_api::proactive::Proactive;
use bot_api::{ApiError, Settings};
use bot_schema::Activity;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct SendArgs {
    /// The conversation's channel id, e.g. msteams.
    channel_id: String,
    conversation_id: String,
    /// The message's text.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    text: Option<String>,
    /// A JSON activity to send instead (text, attachments, ...); where it
    /// goes always comes from the conversation's stored reference.
    #[arg(long)]
    file: Option<PathBuf>,
}

#[derive(Args)]
pub struct HandoffArgs {
    #[command(subcommand)]
    command: HandoffCommand,
}

#[derive(Subcommand)]
enum HandoffCommand {
    /// Print the open hand-offs (JSON), with what each user said since.
    List,
    /// Give a conversation back to the bot; prints what its hand-off recorded.
    Close {
        channel_id: String,
        conversation_id: String,
    },
}

/// Exit codes beyond 0/1, for scripts (as `botctl state`).
const BAD_CONFIG: u8 = 2;
const NOT_FOUND: u8 = 3;

async fn open() -> anyhow::Result<Result<Proactive, ExitCode>> {
    match Settings::load() {
        Ok(s) => Ok(Ok(Proactive::open(&s).await?)),
        Err(e) => {
            eprintln!("{e}");
            Ok(Err(ExitCode::from(BAD_CONFIG)))
        }
    }
}

/// The error as bot-api would answer it, as an exit code.
fn failed(e: ApiError) -> anyhow::Result<ExitCode> {
    eprintln!("botctl: {e}");
    Ok(match e.status().as_u16() {
        404 => ExitCode::from(NOT_FOUND),
        _ => ExitCode::FAILURE,
    })
}

pub async fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    let activity: Activity = match (&args.text, &args.file) {
        (Some(text), _) => Activity {
            text: Some(text.clone()),
            ..Default::default()
        },
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a JSON activity", path.display()))?
        }
        (None, None) => anyhow::bail!("give the message's text or --file"),
    };
    let proactive = match open().await? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    match proactive
        .send(&args.channel_id, &args.conversation_id, activity)
        .await
    {
        Ok(sent) => {
            println!("{}", serde_json::to_string(&sent)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => failed(e),
    }
}

pub async fn handoff(args: HandoffArgs) -> anyhow::Result<ExitCode> {
    let proactive = match open().await? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let out = match args.command {
        HandoffCommand::List => proactive
            .handoffs()
            .await
            .map(|h| serde_json::to_string_pretty(&h)),
        HandoffCommand::Close {
            channel_id,
            conversation_id,
        } => proactive
            .close_handoff(&channel_id, &conversation_id)
            .await
            .map(|h| serde_json::to_string_pretty(&h)),
    };
    match out {
        Ok(json) => {
            println!("{}", json?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => failed(e),
    }
}
