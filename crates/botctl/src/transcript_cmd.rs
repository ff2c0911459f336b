//! `botctl transcript list|get|delete`: the transcript store the
//! configuration names (`[transcripts]`, the same settings as bot-api).
//! Output is JSON: one page with its continuation token, or with `--all`
//! every page.

use std::process::ExitCode;

use anyhow::Context;
use bot_api::startup::open_transcripts;
use bot_api::Settings;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Args)]
pub struct TranscriptArgs {
    #[command(subcommand)]
    command: TranscriptCommand,
}

#[derive(Subcommand)]
enum TranscriptCommand {
    /// List a channel's conversations that have a transcript.
    List {
        /// The channel id, e.g. msteams, webchat, emulator.
        channel: String,
        #[arg(long)]
        continuation: Option<String>,
        /// Follow continuation tokens to the end.
        #[arg(long)]
        all: bool,
    },
    /// Print a conversation's activities, oldest first.
    Get {
        channel: String,
        conversation: String,
        /// Only activities at or after this time (RFC 3339, e.g. 2026-01-31T00:00:00Z).
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        continuation: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Delete a conversation's transcript.
    Delete {
        channel: String,
        conversation: String,
    },
}

pub async fn run(args: TranscriptArgs) -> anyhow::Result<ExitCode> {
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let Some(store) = open_transcripts(&settings.transcripts).await? else {
        eprintln!("transcripts are off: set [transcripts] kind (BOT__TRANSCRIPTS__KIND) to sqlite or blob");
        return Ok(ExitCode::from(2));
    };
    match args.command {
        TranscriptCommand::List {
            channel,
            mut continuation,
            all,
        } => {
            let mut items = Vec::new();
            loop {
                let page = store
                    .conversations(&channel, continuation.as_deref())
                    .await?;
                items.extend(page.items);
                continuation = page.continuation_token;
                if !all || continuation.is_none() {
                    break;
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"items": items, "continuationToken": continuation})
                )?
            );
        }
        TranscriptCommand::Get {
            channel,
            conversation,
            from,
            mut continuation,
            all,
        } => {
            let start = from
                .as_deref()
                .map(|f| {
                    DateTime::parse_from_rfc3339(f)
                        .map(|t| t.with_timezone(&Utc))
                        .with_context(|| format!("--from {f:?} is not an RFC 3339 time"))
                })
                .transpose()?;
            let mut items = Vec::new();
            loop {
                let page = store
                    .activities(&channel, &conversation, continuation.as_deref(), start)
                    .await?;
                items.extend(page.items);
                continuation = page.continuation_token;
                if !all || continuation.is_none() {
                    break;
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"items": items, "continuationToken": continuation})
                )?
            );
        }
        TranscriptCommand::Delete {
            channel,
            conversation,
        } => store.delete(&channel, &conversation).await?,
    }
    Ok(ExitCode::SUCCESS)
}
