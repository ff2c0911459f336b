//! `botctl`: the operator's command line. It reads the same configuration as
//! `bot-api` (config/default.toml -> config/regions/$BOT_REGION.toml -> env).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod azurite_sas;
mod config_cmd;
mod conversation_cmd;
mod drill;
mod index;
mod kb;
mod kb_sync;
mod lu;
mod proxy;
mod state_cmd;
mod transcript_cmd;
mod unattended;

#[derive(Parser)]
#[command(
    name = "botctl",
    version,
    about = "Operate the dual-region bot backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print an account SAS for Azurite's well-known dev account (local stacks).
    AzuriteSas(azurite_sas::AzuriteSasArgs),
    /// Show the effective configuration (secrets redacted).
    Config(config_cmd::ConfigArgs),
    /// Run a DR drill through the traffic router and report RTO, lost turns
    /// and duplicate replies.
    Drill(Box<drill::DrillArgs>),
    /// Conversations handed to a person: list the open ones, close one.
    Handoff(conversation_cmd::HandoffArgs),
    /// Back up, restore, sync and diff an Azure AI Search index across regions.
    Index(index::IndexArgs),
    /// Knowledge base: import, export, query, and sync to the secondary region.
    Kb(kb_sync::KbArgs),
    /// Language understanding: import LUIS or CLU app exports.
    Lu(lu::LuArgs),
    /// A TCP proxy with a fault switch (pass, refuse, blackhole), for the
    /// local stack's per-region storage outages.
    Proxy(proxy::ProxyArgs),
    /// Post a message into a conversation the bot has seen, with the bot's
    /// own token (the Connector's sendToConversation).
    Send(conversation_cmd::SendArgs),
    /// Concurrent turns on one conversation split across two regions,
    /// bypassing the router: counts lost updates.
    SplitDrill(drill::split::SplitArgs),
    /// Read, write or delete one state document on the configured backend.
    State(state_cmd::StateArgs),
    /// List, read or delete conversation transcripts.
    Transcript(transcript_cmd::TranscriptArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::AzuriteSas(args) => azurite_sas::run(args),
        Command::Config(args) => config_cmd::run(args),
        Command::Drill(args) => drill::run(*args).await,
        Command::Handoff(args) => conversation_cmd::handoff(args).await,
        Command::Index(args) => index::run(args).await,
        Command::Kb(args) => kb_sync::run(args).await,
        Command::Lu(args) => lu::run(args),
        Command::Proxy(args) => proxy::run(args).await,
        Command::Send(args) => conversation_cmd::send(args).await,
        Command::SplitDrill(args) => drill::split::run(args).await,
        Command::State(args) => state_cmd::run(args).await,
        Command::Transcript(args) => transcript_cmd::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("botctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
