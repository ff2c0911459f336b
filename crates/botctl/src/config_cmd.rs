//! `botctl config show`: the settings bot-api would run with.

use std::process::ExitCode;

use bot_api::Settings;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective settings; exits 2 when they are invalid.
    Show,
}

pub fn run(args: ConfigArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ConfigCommand::Show => match Settings::load() {
            Ok(s) => {
                // The same dump as GET /admin/settings: secrets only as
                // whether they are set.
                println!("{:#}", s.redacted());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::from(2))
            }
        },
    }
}
