//! Sync: make the target index equal to the source without ever emptying it
//! first. Schema and synonym maps are created or updated, changed and
//! missing documents upserted, extra ones deleted only when asked.

use std::time::Instant;

use indicatif::ProgressBar;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::client::IndexClient;
use crate::diff::{common_fields, compare_schemas, note, DiffReport, Entry, Joiner};
use crate::error::{Result, SyncError};
use crate::paging::{Document, MAX_PAGE};
use crate::upload::{UploadStats, Uploader};

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Only report what would change.
    pub dry_run: bool,
    /// Delete target documents the source does not have.
    pub delete_extra: bool,
    /// Create/update the index definition and synonym maps (default on).
    pub schema: bool,
    pub page_size: usize,
    /// Upload batch limits (at most the service's 1000 docs / 16 MB).
    pub batch_docs: usize,
    pub batch_bytes: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            delete_extra: false,
            schema: true,
            page_size: MAX_PAGE,
            batch_docs: crate::upload::MAX_BATCH_DOCS,
            batch_bytes: crate::upload::MAX_BATCH_BYTES,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub dry_run: bool,
    /// What was (or, dry run, would be) done to the schema.
    pub schema_actions: Vec<String>,
    /// The state found before writing.
    pub diff: DiffReport,
    pub upload: UploadStats,
    pub elapsed_secs: f64,
    pub source_documents_per_sec: f64,
}

impl SyncReport {
    /// Whether every change was written (a dry run writes nothing).
    pub fn complete(&self) -> bool {
        self.upload.failed.is_empty()
    }
}

enum Action {
    Upsert(Document),
    Delete(String),
}

pub async fn sync_index(
    source: &IndexClient,
    target: &IndexClient,
    opts: &SyncOptions,
    progress: &ProgressBar,
) -> Result<SyncReport> {
    let started = Instant::now();
    let mut diff = DiffReport {
        source: source.label(),
        target: target.label(),
        ..Default::default()
    };
    let (src, mut tgt, maps) = compare_schemas(source, target, &mut diff).await?;
    let mut schema_actions = Vec::new();
    if opts.schema {
        for (name, map) in &maps {
            schema_actions.push(format!("create or update synonym map {name}"));
            if !opts.dry_run {
                target.put_synonym_map(map).await?;
            }
        }
        let differs = diff
            .schema_differences
            .iter()
            .any(|d| d.starts_with("index "));
        if differs {
            schema_actions.push(format!(
                "{} index {}",
                if tgt.is_none() { "create" } else { "update" },
                target.label()
            ));
            if !opts.dry_run {
                target.put_index(&src.definition).await?;
                let def = target.get_index().await?.ok_or_else(|| SyncError::Schema {
                    index: target.label(),
                    message: "the index is gone right after it was written".into(),
                })?;
                tgt = Some(crate::schema::IndexSchema::from_definition(def)?);
            }
        }
    } else if tgt.is_none() {
        return Err(SyncError::Invalid(format!(
            "index {} does not exist and schema copy is off",
            target.label()
        )));
    }

    progress.set_length(source.count().await?);
    let fields = common_fields(&src, tgt.as_ref());
    let mut joiner = Joiner::new(
        source.clone(),
        tgt.as_ref().map(|_| target.clone()),
        &src.key_field,
        &fields,
        opts.page_size.min(MAX_PAGE),
    )?;

    // Reading and writing overlap: the uploader runs in its own task, fed
    // through a bounded channel so memory stays at about two batches.
    let (tx, uploader) = if opts.dry_run {
        (None, None)
    } else {
        let (tx, mut rx) = mpsc::channel::<Action>(2 * crate::upload::MAX_BATCH_DOCS);
        let mut up = Uploader::new(target.clone(), &src.key_field)
            .with_limits(opts.batch_docs, opts.batch_bytes);
        let task = tokio::spawn(async move {
            while let Some(a) = rx.recv().await {
                match a {
                    Action::Upsert(d) => up.upsert(d).await?,
                    Action::Delete(k) => up.delete(&k).await?,
                }
            }
            up.finish().await
        });
        (Some(tx), Some(task))
    };

    let mut read_error = None;
    loop {
        let e = match joiner.next().await {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        note(&mut diff, &e);
        if !matches!(e, Entry::OnlyTarget(_)) {
            progress.inc(1);
        }
        let action = match e {
            Entry::Same(_) => None,
            Entry::Changed((_, d)) | Entry::OnlySource((_, d)) => Some(Action::Upsert(d)),
            Entry::OnlyTarget(k) => opts.delete_extra.then_some(Action::Delete(k)),
        };
        if let (Some(tx), Some(a)) = (&tx, action) {
            if tx.send(a).await.is_err() {
                break; // the uploader stopped; its error is collected below
            }
        }
    }
    drop(tx);
    let upload = match uploader {
        Some(task) => task.await.map_err(|e| SyncError::Protocol {
            what: "uploader".into(),
            message: e.to_string(),
        })??,
        None => UploadStats::default(),
    };
    if let Some(e) = read_error {
        return Err(e);
    }
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    Ok(SyncReport {
        dry_run: opts.dry_run,
        schema_actions,
        source_documents_per_sec: diff.source_documents as f64 / elapsed.max(1e-9),
        diff,
        upload,
        elapsed_secs: elapsed,
    })
}
