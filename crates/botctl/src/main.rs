//! `botctl`: the operator's command line. It reads the same configuration as
//! `bot-api` (config/default.toml -> config/regions/$BOT_REGION.toml -> env).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod config_cmd;
mod lu;

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
    /// Show the effective configuration (secrets redacted).
    Config(config_cmd::ConfigArgs),
    /// Language understanding: import LUIS or CLU app exports.
    Lu(lu::LuArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Config(args) => config_cmd::run(args),
        Command::Lu(args) => lu::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("botctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
