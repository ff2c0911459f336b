//! `botctl lu import FILE --out FILE`: a LUIS or CLU app export to the
//! embedded recogniser's intents file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct LuArgs {
    #[command(subcommand)]
    command: LuCommand,
}

#[derive(Subcommand)]
enum LuCommand {
    /// Convert a LUIS app export or a CLU project export (JSON) into an
    /// intents file for the embedded recogniser.
    Import {
        /// The exported app (JSON).
        file: PathBuf,
        /// Where to write the intents file (e.g. lu/intents.json).
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: LuArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        LuCommand::Import { file, out } => {
            let json = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let (intents, report) = ::lu::import_app(&json, &file.display().to_string())?;
            // Proves the result loads before anything is written.
            ::lu::EmbeddedRecognizer::new(&intents, 0.5)?;
            std::fs::write(&out, intents.to_json() + "\n")
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "{} export: {} intents, {} examples, {} regex entities -> {}",
                report.format,
                report.intents,
                report.examples,
                report.regex_entities,
                out.display()
            );
            if !report.empty_intents.is_empty() {
                println!(
                    "skipped intents without utterances: {}",
                    report.empty_intents.join(", ")
                );
            }
            if !report.skipped_entities.is_empty() {
                println!(
                    "skipped entities with no regex (no embedded equivalent): {}",
                    report.skipped_entities.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
