//! Backup to a directory and restore from it.
//!
//! Layout: `index.json` (definition), `synonym-maps.json`,
//! `documents.ndjson` (one JSON document a line, in key order) and
//! `checkpoint.json` (last key written and the byte length that covers it).
//! An interrupted backup resumes from the checkpoint: the file is cut back to
//! the checkpointed length and paging continues after the last key.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{strip_annotations, IndexClient};
use crate::error::{Result, SyncError};
use crate::paging::{Document, KeyPager, MAX_PAGE};
use crate::schema::IndexSchema;
use crate::upload::{UploadStats, Uploader};

pub const INDEX_FILE: &str = "index.json";
pub const SYNONYMS_FILE: &str = "synonym-maps.json";
pub const DOCUMENTS_FILE: &str = "documents.ndjson";
pub const CHECKPOINT_FILE: &str = "checkpoint.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub index: String,
    pub key_field: String,
    pub last_key: Option<String>,
    pub documents: u64,
    /// Length of documents.ndjson that holds exactly `documents` lines.
    pub bytes: u64,
    pub complete: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub index: String,
    pub directory: String,
    pub documents: u64,
    /// Key the run continued after, when it resumed an earlier one.
    pub resumed_after: Option<String>,
    pub resumed_documents: u64,
    pub synonym_maps: usize,
    pub warnings: Vec<String>,
    pub elapsed_secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub index: String,
    pub directory: String,
    pub documents: u64,
    pub synonym_maps: usize,
    pub upload: UploadStats,
    pub elapsed_secs: f64,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| SyncError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| SyncError::BackupFormat {
        path: path.display().to_string(),
        line: e.line(),
        message: e.to_string(),
    })
}

/// Write via a temporary file and rename, so a crash leaves the old or the
/// new file, never half of one.
fn write_json_atomic<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| SyncError::Invalid(e.to_string()))?;
    std::fs::write(&tmp, bytes).map_err(|e| SyncError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| SyncError::io(path, e))
}

pub async fn backup(
    source: &IndexClient,
    dir: &Path,
    overwrite: bool,
    page_size: usize,
    progress: &ProgressBar,
) -> Result<BackupReport> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).map_err(|e| SyncError::io(dir, e))?;
    let def = source.get_index().await?.ok_or_else(|| SyncError::Schema {
        index: source.label(),
        message: "the index does not exist".into(),
    })?;
    let schema = IndexSchema::from_definition(strip_annotations(&def))?;
    let cp_path = dir.join(CHECKPOINT_FILE);
    let docs_path = dir.join(DOCUMENTS_FILE);

    let previous: Option<Checkpoint> = if cp_path.exists() {
        Some(read_json(&cp_path)?)
    } else {
        None
    };
    let mut cp = match previous {
        Some(cp) if !cp.complete && !overwrite => {
            if cp.key_field != schema.key_field {
                return Err(SyncError::Invalid(format!(
                    "{}: the unfinished backup pages by {}, the index now has key {}; \
                     use a new directory or --overwrite",
                    dir.display(),
                    cp.key_field,
                    schema.key_field
                )));
            }
            cp
        }
        Some(_) if !overwrite => {
            return Err(SyncError::Invalid(format!(
                "{} holds a complete backup; use a new directory or --overwrite",
                dir.display()
            )))
        }
        None if docs_path.exists() && !overwrite => {
            return Err(SyncError::Invalid(format!(
                "{} has {DOCUMENTS_FILE} but no checkpoint; use a new directory or --overwrite",
                dir.display()
            )))
        }
        _ => Checkpoint {
            index: schema.name.clone(),
            key_field: schema.key_field.clone(),
            last_key: None,
            documents: 0,
            bytes: 0,
            complete: false,
        },
    };
    let resumed_after = cp.last_key.clone();
    let resumed_documents = cp.documents;

    write_json_atomic(&dir.join(INDEX_FILE), &schema.definition)?;
    let maps = source.synonym_maps().await?;
    let maps: Vec<Value> = maps.iter().map(strip_annotations).collect();
    write_json_atomic(&dir.join(SYNONYMS_FILE), &maps)?;

    // Cut away whatever was written after the last checkpoint.
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&docs_path)
        .map_err(|e| SyncError::io(&docs_path, e))?;
    let len = file
        .metadata()
        .map_err(|e| SyncError::io(&docs_path, e))?
        .len();
    if len < cp.bytes {
        return Err(SyncError::BackupFormat {
            path: docs_path.display().to_string(),
            line: 0,
            message: format!(
                "the file is {len} bytes, shorter than its checkpoint ({}); use --overwrite",
                cp.bytes
            ),
        });
    }
    file.set_len(cp.bytes)
        .map_err(|e| SyncError::io(&docs_path, e))?;
    let mut out = BufWriter::new(file);
    std::io::Seek::seek(&mut out, std::io::SeekFrom::Start(cp.bytes))
        .map_err(|e| SyncError::io(&docs_path, e))?;
    write_json_atomic(&cp_path, &cp)?;

    progress.set_length(source.count().await?.max(cp.documents));
    progress.set_position(cp.documents);
    let mut pager = KeyPager::new(
        source.clone(),
        &schema.key_field,
        &schema.retrievable,
        page_size.min(MAX_PAGE),
        cp.last_key.clone(),
    )?;
    while let Some(page) = pager.next_page().await? {
        for d in &page {
            let line = serde_json::to_vec(d).map_err(|e| SyncError::Invalid(e.to_string()))?;
            out.write_all(&line)
                .and_then(|_| out.write_all(b"\n"))
                .map_err(|e| SyncError::io(&docs_path, e))?;
            cp.bytes += line.len() as u64 + 1;
        }
        out.flush().map_err(|e| SyncError::io(&docs_path, e))?;
        cp.documents += page.len() as u64;
        cp.last_key = pager.last_key().map(str::to_string);
        write_json_atomic(&cp_path, &cp)?;
        progress.inc(page.len() as u64);
    }
    out.get_ref()
        .sync_all()
        .map_err(|e| SyncError::io(&docs_path, e))?;
    cp.complete = true;
    write_json_atomic(&cp_path, &cp)?;
    progress.finish_and_clear();
    Ok(BackupReport {
        index: schema.name.clone(),
        directory: dir.display().to_string(),
        documents: cp.documents,
        resumed_after,
        resumed_documents,
        synonym_maps: maps.len(),
        warnings: schema.warnings(),
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

/// Restore a backup into `target` (created or updated from the saved
/// definition). Documents are upserted: a restore over a live index never
/// empties it first, and running it twice is harmless.
pub async fn restore(
    dir: &Path,
    target: &IndexClient,
    allow_incomplete: bool,
    progress: &ProgressBar,
) -> Result<RestoreReport> {
    let started = Instant::now();
    let cp: Checkpoint = read_json(&dir.join(CHECKPOINT_FILE))?;
    if !cp.complete && !allow_incomplete {
        return Err(SyncError::Invalid(format!(
            "the backup in {} is incomplete ({} documents); finish it with backup, \
             or restore it anyway with --allow-incomplete",
            dir.display(),
            cp.documents
        )));
    }
    let def: Value = read_json(&dir.join(INDEX_FILE))?;
    let schema = IndexSchema::from_definition(def)?;
    let maps: Vec<Value> = read_json(&dir.join(SYNONYMS_FILE))?;
    for m in &maps {
        target.put_synonym_map(m).await?;
    }
    target.put_index(&schema.definition).await?;

    let docs_path: PathBuf = dir.join(DOCUMENTS_FILE);
    let file = File::open(&docs_path).map_err(|e| SyncError::io(&docs_path, e))?;
    // Lines past the checkpoint belong to an interrupted run: not ours.
    let reader = BufReader::new(file.take(cp.bytes));
    progress.set_length(cp.documents);
    let mut up = Uploader::new(target.clone(), &schema.key_field);
    let mut count = 0u64;
    let bad = |line: usize, message: String| SyncError::BackupFormat {
        path: docs_path.display().to_string(),
        line,
        message,
    };
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| bad(i + 1, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let doc: Document = serde_json::from_str(&line)
            .map_err(|e| bad(i + 1, format!("not a JSON object: {e}")))?;
        if !matches!(doc.get(&schema.key_field), Some(Value::String(_))) {
            return Err(bad(
                i + 1,
                format!("no string key field {}", schema.key_field),
            ));
        }
        up.upsert(doc).await?;
        count += 1;
        progress.inc(1);
    }
    if count != cp.documents {
        return Err(bad(
            0,
            format!(
                "{count} documents read, the checkpoint says {}",
                cp.documents
            ),
        ));
    }
    let upload = up.finish().await?;
    progress.finish_and_clear();
    Ok(RestoreReport {
        index: target.label(),
        directory: dir.display().to_string(),
        documents: count,
        synonym_maps: maps.len(),
        upload,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}
