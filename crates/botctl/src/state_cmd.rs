//! `botctl state get|put|delete KEY`: one state document, on whichever
//! backend the configuration names (the same settings bot-api runs with).
//!
//! Documents travel in botbuilder's shape: `get` prints the state object
//! with its `eTag` member; `put` reads one from stdin (or --file), and an
//! `eTag` in it makes the write conditional, exactly as botbuilder's
//! `Storage.write` treats it (`*` or none: unconditional).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bot_api::startup::open_storage;
use bot_api::Settings;
use bot_storage::{Change, Precondition, StorageError};
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Args)]
pub struct StateArgs {
    #[command(subcommand)]
    command: StateCommand,
}

#[derive(Subcommand)]
enum StateCommand {
    /// Print the document stored under KEY, with its eTag; exits 3 if there is none.
    Get { key: String },
    /// Write the JSON object on stdin (or in --file) under KEY; prints the new eTag.
    Put {
        key: String,
        /// Read the document from this file instead of stdin.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Only create: fail if KEY exists.
        #[arg(long, conflicts_with = "if_match")]
        if_not_exists: bool,
        /// Only overwrite this version (overrides an eTag in the document).
        #[arg(long)]
        if_match: Option<String>,
    },
    /// Delete KEY (a missing key is not an error).
    Delete { key: String },
}

/// Exit codes beyond 0/1, for scripts.
const NOT_FOUND: u8 = 3;
const CONFLICT: u8 = 4;
const BAD_CONFIG: u8 = 2;

pub async fn run(args: StateArgs) -> anyhow::Result<ExitCode> {
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(BAD_CONFIG));
        }
    };
    let storage = open_storage(&settings.storage).await?;
    match args.command {
        StateCommand::Get { key } => {
            let mut items = storage.read(std::slice::from_ref(&key)).await?;
            let Some(item) = items.remove(&key) else {
                eprintln!("no state under {key:?} in {} storage", storage.kind());
                return Ok(ExitCode::from(NOT_FOUND));
            };
            let mut doc = item.document;
            if let Value::Object(m) = &mut doc {
                m.insert("eTag".into(), Value::String(item.etag));
            }
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Put {
            key,
            file,
            if_not_exists,
            if_match,
        } => {
            let text = match &file {
                Some(p) => std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?,
                None => {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .context("reading the document from stdin")?;
                    s
                }
            };
            let mut doc: Value =
                serde_json::from_str(&text).context("the document is not valid JSON")?;
            let Value::Object(m) = &mut doc else {
                anyhow::bail!("the document must be a JSON object (botbuilder state is one)");
            };
            let etag = m
                .remove("eTag")
                .and_then(|v| v.as_str().map(str::to_string));
            let precondition = if if_not_exists {
                Precondition::IfNotExists
            } else if let Some(e) = if_match {
                Precondition::IfMatch(e)
            } else {
                Precondition::from_etag(etag.as_deref())
            };
            match storage
                .write(vec![Change {
                    key: key.clone(),
                    document: doc,
                    precondition,
                }])
                .await
            {
                Ok(mut etags) => {
                    println!("{}", etags.remove(0));
                    Ok(ExitCode::SUCCESS)
                }
                Err(e @ StorageError::Conflict { .. }) => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(CONFLICT))
                }
                Err(e) => Err(e.into()),
            }
        }
        StateCommand::Delete { key } => {
            storage.delete(std::slice::from_ref(&key)).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
