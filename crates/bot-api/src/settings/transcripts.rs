//! `[transcripts]`: where every activity of a conversation is logged.

use std::path::PathBuf;

use bot_storage::BlobConfig;
use serde::Deserialize;

use super::blob::BlobSettings;
use super::parse::optional_path;
use super::problems::{Checked, Problems};

#[derive(Debug, Clone, Deserialize)]
pub struct RawTranscriptSettings {
    pub kind: String,
    #[serde(default)]
    pub path: Option<String>,
    pub blob: BlobSettings,
}

#[derive(Debug, Clone)]
pub enum TranscriptKind {
    Off,
    Sqlite { path: PathBuf },
    Blob(BlobConfig),
}

#[derive(Clone, Copy)]
enum Kind {
    Off,
    Sqlite,
    Blob,
}

pub fn validate(raw: &RawTranscriptSettings, p: &mut Problems<'_>) -> Checked<TranscriptKind> {
    let kind = p.choice(
        "transcripts.kind",
        &raw.kind,
        &[
            ("off", Kind::Off),
            ("sqlite", Kind::Sqlite),
            ("blob", Kind::Blob),
        ],
    )?;
    Ok(match kind {
        Kind::Off => TranscriptKind::Off,
        Kind::Sqlite => TranscriptKind::Sqlite {
            path: optional_path(&raw.path)
                .ok_or_else(|| p.invalid("transcripts.path", "", "sqlite needs a file path"))?,
        },
        Kind::Blob => {
            TranscriptKind::Blob(super::blob::validate(&raw.blob, "transcripts.blob", p)?)
        }
    })
}
