//! `botctl index backup|restore|sync|diff`: keep the secondary region's
//! Azure AI Search index equal to the primary's (see the search-sync crate).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use search_sync::backup::{backup, restore};
use search_sync::diff::{diff, DiffReport};
use search_sync::progress;
use search_sync::sync::{sync_index, SyncOptions};
use search_sync::{exit, IndexClient, SyncError};

use crate::unattended::{self, fail, key_from_env, print, RunArgs};

#[derive(Args)]
pub struct IndexArgs {
    #[command(subcommand)]
    command: IndexCommand,
}

#[derive(Args, Clone, Debug)]
struct SourceArgs {
    /// Source search service, e.g. https://<name>.search.windows.net
    #[arg(long, env = "SEARCH_SOURCE_ENDPOINT")]
    source_endpoint: String,
    #[arg(long, env = "SEARCH_SOURCE_INDEX")]
    source_index: String,
    /// Environment variable holding the source admin api-key.
    #[arg(long, default_value = "SEARCH_SOURCE_API_KEY", value_name = "VAR")]
    source_key_env: String,
}

#[derive(Args, Clone, Debug)]
struct TargetArgs {
    /// Target search service, e.g. https://<name>.search.windows.net
    #[arg(long, env = "SEARCH_TARGET_ENDPOINT")]
    target_endpoint: String,
    #[arg(long, env = "SEARCH_TARGET_INDEX")]
    target_index: String,
    /// Environment variable holding the target admin api-key.
    #[arg(long, default_value = "SEARCH_TARGET_API_KEY", value_name = "VAR")]
    target_key_env: String,
}

#[derive(Subcommand, Clone, Debug)]
enum IndexCommand {
    /// Save schema, synonym maps and documents to a directory; an
    /// interrupted backup resumes from its last key when run again.
    Backup {
        #[command(flatten)]
        source: SourceArgs,
        #[arg(long)]
        dir: PathBuf,
        /// Replace a complete backup already in DIR.
        #[arg(long)]
        overwrite: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Create or update the target index from a backup and upsert its
    /// documents (the target is never emptied first).
    Restore {
        #[command(flatten)]
        target: TargetArgs,
        #[arg(long)]
        dir: PathBuf,
        /// Restore a backup that did not finish.
        #[arg(long)]
        allow_incomplete: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Make the target equal to the source: schema, synonym maps, changed
    /// and missing documents. Exits 4 when some documents failed, and with
    /// --dry-run 1 when something would change.
    Sync {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        target: TargetArgs,
        /// Show the differences and what would be written; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also delete target documents that the source does not have.
        #[arg(long)]
        delete_extra: bool,
        /// Leave the target's index definition and synonym maps alone.
        #[arg(long)]
        no_schema: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Compare schema, synonym maps and every document's content hash;
    /// exits 1 when they differ.
    Diff {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        run: RunArgs,
    },
}

impl SourceArgs {
    fn client(&self) -> Result<IndexClient, SyncError> {
        IndexClient::new(
            &self.source_endpoint,
            key_from_env(&self.source_key_env)?,
            &self.source_index,
        )
    }
}

impl TargetArgs {
    fn client(&self) -> Result<IndexClient, SyncError> {
        IndexClient::new(
            &self.target_endpoint,
            key_from_env(&self.target_key_env)?,
            &self.target_index,
        )
    }
}

pub async fn run(args: IndexArgs) -> anyhow::Result<ExitCode> {
    let cmd = args.command;
    let run_args = match &cmd {
        IndexCommand::Backup { run, .. }
        | IndexCommand::Restore { run, .. }
        | IndexCommand::Sync { run, .. }
        | IndexCommand::Diff { run, .. } => run.clone(),
    };
    Ok(unattended::run(&run_args, || once(&cmd)).await)
}

async fn once(cmd: &IndexCommand) -> u8 {
    let json = match cmd {
        IndexCommand::Backup { run, .. }
        | IndexCommand::Restore { run, .. }
        | IndexCommand::Sync { run, .. }
        | IndexCommand::Diff { run, .. } => run.json,
    };
    match attempt(cmd, json).await {
        Ok(code) => code,
        Err(e) => fail(json, &e),
    }
}

async fn attempt(cmd: &IndexCommand, json: bool) -> Result<u8, SyncError> {
    let bar = |what: &str| progress::bar(progress::wanted(json), what);
    match cmd {
        IndexCommand::Backup {
            source,
            dir,
            overwrite,
            ..
        } => {
            let c = source.client()?;
            let r = backup(&c, dir, *overwrite, 1000, &bar("backup")).await?;
            print(json, exit::OK, &r, || {
                let mut l = vec![format!(
                    "backed up {} documents of {} to {}",
                    r.documents,
                    c.label(),
                    r.directory
                )];
                if let Some(k) = &r.resumed_after {
                    l.push(format!(
                        "  resumed after key {k:?} ({} documents were already saved)",
                        r.resumed_documents
                    ));
                }
                l.push(format!("  {} synonym map(s)", r.synonym_maps));
                l.extend(r.warnings.iter().map(|w| format!("  warning: {w}")));
                l.push(format!("  took {:.1}s", r.elapsed_secs));
                l
            });
            Ok(exit::OK)
        }
        IndexCommand::Restore {
            target,
            dir,
            allow_incomplete,
            ..
        } => {
            let c = target.client()?;
            let r = restore(dir, &c, *allow_incomplete, &bar("restore")).await?;
            let code = if r.upload.failed.is_empty() {
                exit::OK
            } else {
                exit::PARTIAL
            };
            print(json, code, &r, || {
                let mut l = vec![format!(
                    "restored {} documents from {} into {}",
                    r.upload.upserted, r.directory, r.index
                )];
                l.extend(failed_lines(&r.upload));
                l.push(format!("  took {:.1}s", r.elapsed_secs));
                l
            });
            Ok(code)
        }
        IndexCommand::Sync {
            source,
            target,
            dry_run,
            delete_extra,
            no_schema,
            ..
        } => {
            let (s, t) = (source.client()?, target.client()?);
            let opts = SyncOptions {
                dry_run: *dry_run,
                delete_extra: *delete_extra,
                schema: !*no_schema,
                ..Default::default()
            };
            let r = sync_index(&s, &t, &opts, &bar("sync")).await?;
            let would_change = !r.schema_actions.is_empty()
                || r.diff.changed + r.diff.only_in_source > 0
                || (*delete_extra && r.diff.only_in_target > 0);
            let code = if !r.complete() {
                exit::PARTIAL
            } else if r.dry_run && would_change {
                exit::DIFFERENT
            } else {
                exit::OK
            };
            print(json, code, &r, || {
                let mut l = vec![format!(
                    "sync {} -> {}{}",
                    r.diff.source,
                    r.diff.target,
                    if r.dry_run {
                        " (dry run: nothing written)"
                    } else {
                        ""
                    }
                )];
                l.extend(r.schema_actions.iter().map(|a| format!("  schema: {a}")));
                l.extend(diff_lines(&r.diff));
                if !r.dry_run {
                    l.push(format!(
                        "  written: {} upserted, {} deleted in {} batches ({} retried)",
                        r.upload.upserted,
                        r.upload.deleted,
                        r.upload.batches,
                        r.upload.retried_documents
                    ));
                    l.extend(failed_lines(&r.upload));
                }
                if r.diff.only_in_target > 0 && !*delete_extra {
                    l.push(
                        "  extra target documents kept (use --delete-extra to remove them)".into(),
                    );
                }
                l.push(format!(
                    "  took {:.1}s ({:.0} source docs/s)",
                    r.elapsed_secs, r.source_documents_per_sec
                ));
                l
            });
            Ok(code)
        }
        IndexCommand::Diff { source, target, .. } => {
            let (s, t) = (source.client()?, target.client()?);
            let r = diff(&s, &t, 1000, &bar("diff")).await?;
            let code = if r.is_equal() {
                exit::OK
            } else {
                exit::DIFFERENT
            };
            print(json, code, &r, || {
                let mut l = vec![format!(
                    "diff {} -> {}: {}",
                    r.source,
                    r.target,
                    if r.is_equal() { "equal" } else { "DIFFERENT" }
                )];
                l.extend(diff_lines(&r));
                l
            });
            Ok(code)
        }
    }
}

fn diff_lines(d: &DiffReport) -> Vec<String> {
    let mut l = vec![format!(
        "  documents: source {}, target {}; identical {}, changed {}, missing on target {}, extra on target {}",
        d.source_documents, d.target_documents, d.identical, d.changed, d.only_in_source, d.only_in_target
    )];
    let keys = |name: &str, keys: &[String], total: u64| {
        (!keys.is_empty()).then(|| {
            format!(
                "  {name}: {}{}",
                keys.join(", "),
                if total as usize > keys.len() {
                    ", ..."
                } else {
                    ""
                }
            )
        })
    };
    l.extend(keys("changed", &d.sample_changed, d.changed));
    l.extend(keys(
        "missing on target",
        &d.sample_only_in_source,
        d.only_in_source,
    ));
    l.extend(keys(
        "extra on target",
        &d.sample_only_in_target,
        d.only_in_target,
    ));
    l.extend(
        d.schema_differences
            .iter()
            .map(|s| format!("  schema: {s}")),
    );
    l.extend(d.warnings.iter().map(|w| format!("  warning: {w}")));
    l
}

fn failed_lines(u: &search_sync::upload::UploadStats) -> Vec<String> {
    u.failed
        .iter()
        .take(20)
        .map(|f| format!("  FAILED {} (HTTP {}): {}", f.key, f.status_code, f.message))
        .collect()
}
