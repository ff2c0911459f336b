//! `botctl kb sync`: copy the knowledge base to the secondary region and
//! verify it answers like the primary.
//!
//! The `kb` subcommand's enum lives here too; import, export, query and
//! compile are in kb.rs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use search_sync::kb_sync::{sync_cqa, sync_embedded, CqaProject, KbSyncReport, LanguageClient};
use search_sync::{exit, SyncError};

use crate::unattended::{self, fail, key_from_env, print, RunArgs};

#[derive(Args)]
pub struct KbArgs {
    #[command(subcommand)]
    command: KbCommand,
}

#[derive(Subcommand)]
enum KbCommand {
    /// Read a KB in any supported format (QnA Maker TSV, plain TSV, CQA
    /// JSON), check it, and write the embedded KB file.
    Import(crate::kb::ConvertArgs),
    /// Write a KB in another format (e.g. `--format cqa-json` for CQA's
    /// import, `--format tsv` for the plain form).
    Export(crate::kb::ConvertArgs),
    /// Ask the embedded KB: one question, or one per line on stdin; prints
    /// JSON lines with id, answer and confidence.
    Query(crate::kb::QueryArgs),
    /// Train the embedded KB's re-ranker and write its snapshot to the
    /// cache directory (`qna.cache_dir`), so the bot starts without
    /// training (e.g. build it into an image).
    Compile(crate::kb::CompileArgs),
    /// Copy the KB to the secondary and verify both answer alike; exits 1
    /// when a sampled question gets different answer ids.
    Sync(KbSyncArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Kind {
    /// Custom question answering projects on two Language resources.
    Cqa,
    /// The embedded KB file of each region.
    Embedded,
}

#[derive(Args, Clone, Debug)]
pub struct KbSyncArgs {
    #[arg(long, value_enum, default_value = "cqa")]
    kind: Kind,
    /// Primary Language resource, e.g. https://<name>.cognitiveservices.azure.com
    #[arg(long, env = "LANGUAGE_PRIMARY_ENDPOINT", required_if_eq("kind", "cqa"))]
    primary_endpoint: Option<String>,
    /// Environment variable holding the primary resource key.
    #[arg(long, default_value = "LANGUAGE_PRIMARY_KEY", value_name = "VAR")]
    primary_key_env: String,
    #[arg(
        long,
        env = "LANGUAGE_SECONDARY_ENDPOINT",
        required_if_eq("kind", "cqa")
    )]
    secondary_endpoint: Option<String>,
    /// Environment variable holding the secondary resource key.
    #[arg(long, default_value = "LANGUAGE_SECONDARY_KEY", value_name = "VAR")]
    secondary_key_env: String,
    /// The CQA project (the same name in both regions unless --secondary-project).
    #[arg(long, env = "LANGUAGE_PROJECT", required_if_eq("kind", "cqa"))]
    project: Option<String>,
    #[arg(long)]
    secondary_project: Option<String>,
    #[arg(long, default_value = "production")]
    deployment: String,
    /// Embedded: the primary's KB file.
    #[arg(long, required_if_eq("kind", "embedded"))]
    from: Option<PathBuf>,
    /// Embedded: the secondary's KB file (replaced atomically).
    #[arg(long, required_if_eq("kind", "embedded"))]
    to: Option<PathBuf>,
    /// How many questions to ask both sides.
    #[arg(long, default_value_t = 20)]
    sample: usize,
    #[command(flatten)]
    run: RunArgs,
}

pub async fn run(args: KbArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        KbCommand::Import(a) | KbCommand::Export(a) => crate::kb::convert(a),
        KbCommand::Query(a) => crate::kb::query(a),
        KbCommand::Compile(a) => crate::kb::compile(a),
        KbCommand::Sync(a) => sync(a).await,
    }
}

/// `kb sync`.
pub async fn sync(a: KbSyncArgs) -> anyhow::Result<ExitCode> {
    let run_args = a.run.clone();
    Ok(unattended::run(&run_args, || once(&a)).await)
}

async fn once(a: &KbSyncArgs) -> u8 {
    match attempt(a).await {
        Ok(r) => {
            let code = if r.verify.is_equal() {
                exit::OK
            } else {
                exit::DIFFERENT
            };
            print(a.run.json, code, &r, || {
                let mut l = vec![format!("kb sync ({}) {} -> {}", r.kind, r.source, r.target)];
                l.extend(r.steps.iter().map(|s| format!("  {s}")));
                for m in r.verify.mismatches.iter().take(20) {
                    l.push(format!(
                        "  MISMATCH {:?}: primary answers {:?}, secondary {:?}",
                        m.question, m.primary, m.secondary
                    ));
                }
                l.push(format!("  took {:.1}s", r.elapsed_secs));
                l
            });
            code
        }
        Err(e) => fail(a.run.json, &e),
    }
}

async fn attempt(a: &KbSyncArgs) -> Result<KbSyncReport, SyncError> {
    let need = |v: &Option<String>, flag: &str| {
        v.clone()
            .ok_or_else(|| SyncError::Invalid(format!("--{flag} is required")))
    };
    match a.kind {
        Kind::Embedded => {
            let (Some(from), Some(to)) = (&a.from, &a.to) else {
                return Err(SyncError::Invalid("--from and --to are required".into()));
            };
            sync_embedded(from, to, a.sample).await
        }
        Kind::Cqa => {
            let primary = LanguageClient::new(
                &need(&a.primary_endpoint, "primary-endpoint")?,
                key_from_env(&a.primary_key_env)?,
            )?;
            let secondary = LanguageClient::new(
                &need(&a.secondary_endpoint, "secondary-endpoint")?,
                key_from_env(&a.secondary_key_env)?,
            )?;
            let project = need(&a.project, "project")?;
            let from = CqaProject {
                project: project.clone(),
                deployment: a.deployment.clone(),
            };
            let to = CqaProject {
                project: a.secondary_project.clone().unwrap_or(project),
                deployment: a.deployment.clone(),
            };
            sync_cqa(&primary, &secondary, &from, &to, a.sample).await
        }
    }
}
