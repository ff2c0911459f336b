//! The embedded backend as an `Answerer`: the built index behind an
//! `ArcSwap`, so a reload (file change or admin call) builds the new index
//! on the side and swaps it in; questions in flight finish on the old one.
//! With a cache directory, start and reload load the trained re-ranker from
//! its snapshot when the questions did not change.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use async_trait::async_trait;

use crate::answerer::{Answerer, KbSummary, QnaAnswer, QnaQuery};
use crate::embedded::{EmbeddedIndex, Tuning, BACKEND};
use crate::error::QnaError;
use crate::kb::KnowledgeBase;
use crate::SentenceEncoder;

pub struct EmbeddedAnswerer {
    current: ArcSwap<EmbeddedIndex>,
    path: Option<PathBuf>,
    /// The snapshot file of this KB, when there is a cache directory.
    snapshot: Option<PathBuf>,
    /// The sentence encoder each build (start and reload) trains with.
    encoder: Option<Arc<SentenceEncoder>>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl EmbeddedAnswerer {
    pub fn new(kb: KnowledgeBase) -> Result<Self, QnaError> {
        Ok(Self {
            current: ArcSwap::from_pointee(EmbeddedIndex::build(kb)?),
            path: None,
            snapshot: None,
            encoder: None,
        })
    }

    /// Loads a KB file in any supported format; `reload` reads it again.
    pub fn open(path: &Path) -> Result<Self, QnaError> {
        Self::open_cached(path, None)
    }

    /// `open`, keeping the trained re-ranker in `cache_dir` (created when
    /// needed) so the next start or reload of the same questions skips
    /// training. An unusable snapshot is logged and replaced.
    pub fn open_cached(path: &Path, cache_dir: Option<&Path>) -> Result<Self, QnaError> {
        Self::open_encoded(path, cache_dir, None)
    }

    /// `open_cached`, the re-ranker also weighing `encoder`'s sentence
    /// vectors (see `EmbeddedIndex::build_encoded`).
    pub fn open_encoded(
        path: &Path,
        cache_dir: Option<&Path>,
        encoder: Option<Arc<SentenceEncoder>>,
    ) -> Result<Self, QnaError> {
        let snapshot = cache_dir.map(|d| crate::snapshot::path_for(d, path));
        let kb = crate::import::load_path(path)?;
        let index = EmbeddedIndex::build_encoded(
            kb,
            Tuning::default(),
            snapshot.as_deref(),
            encoder.clone(),
        )?;
        Ok(Self {
            current: ArcSwap::from_pointee(index),
            path: Some(path.to_path_buf()),
            snapshot,
            encoder,
        })
    }

    /// The snapshot file used, if any.
    pub fn snapshot_path(&self) -> Option<&Path> {
        self.snapshot.as_deref()
    }

    /// The index answering now.
    pub fn index(&self) -> Arc<EmbeddedIndex> {
        self.current.load_full()
    }

    /// Swaps in a new KB. Building happens before the swap, so questions
    /// never wait for it, and a bad KB leaves the old one serving.
    pub fn replace(&self, kb: KnowledgeBase) -> Result<(), QnaError> {
        let index = EmbeddedIndex::build_encoded(
            kb,
            Tuning::default(),
            self.snapshot.as_deref(),
            self.encoder.clone(),
        )?;
        tracing::info!(
            answers = index.kb().qnas.len(),
            questions = index.kb().question_count(),
            build_ms = index.build_time().as_millis() as u64,
            model = ?index.build_times().source,
            "knowledge base swapped in"
        );
        self.current.store(Arc::new(index));
        Ok(())
    }

    /// Re-reads the KB file (the admin call).
    pub fn reload(&self) -> Result<(), QnaError> {
        let path = self.path.as_ref().ok_or_else(|| {
            QnaError::NotSupported("this knowledge base has no file to reload".into())
        })?;
        self.replace(crate::import::load_path(path)?)
    }

    fn summary(&self) -> KbSummary {
        let index = self.current.load();
        KbSummary {
            answers: index.kb().qnas.len(),
            questions: index.kb().question_count(),
            build_ms: index.build_time().as_millis() as u64,
        }
    }

    /// Polls the file's modification time and reloads on change. A file
    /// that fails to load is logged and the old KB keeps serving.
    pub fn watch(self: &Arc<Self>, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        let path = self.path.clone()?;
        let this = Arc::downgrade(self);
        Some(tokio::spawn(async move {
            let mut seen = modified(&path);
            loop {
                tokio::time::sleep(every).await;
                let Some(this) = this.upgrade() else { return };
                let now = modified(&path);
                if now.is_some() && now != seen {
                    seen = now;
                    let result = tokio::task::spawn_blocking(move || this.reload()).await;
                    match result {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, "knowledge base reload failed; keeping the old one")
                        }
                        Err(e) => tracing::error!(error = %e, "knowledge base reload task failed"),
                    }
                }
            }
        }))
    }
}

#[async_trait]
impl Answerer for EmbeddedAnswerer {
    async fn answer(&self, query: &QnaQuery) -> Result<Vec<QnaAnswer>, QnaError> {
        self.current.load().answer(query)
    }

    async fn ready(&self) -> Result<(), QnaError> {
        if self.current.load().kb().qnas.is_empty() {
            Err(QnaError::Unavailable("the knowledge base is empty".into()))
        } else {
            Ok(())
        }
    }

    fn kind(&self) -> &'static str {
        BACKEND
    }

    async fn reload(&self) -> Result<KbSummary, QnaError> {
        // Building the index is CPU work (see `off_the_runtime`).
        crate::embedded::off_the_runtime(|| EmbeddedAnswerer::reload(self))?;
        Ok(self.summary())
    }
}
