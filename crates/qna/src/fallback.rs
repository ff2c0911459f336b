//! A remote backend with the embedded KB behind it: when every endpoint is
//! down the bot still answers, and the answer says it came from the
//! fallback.

use std::sync::Arc;

use async_trait::async_trait;

use crate::answerer::{Answerer, KbSummary, QnaAnswer, QnaQuery};
use crate::error::QnaError;

pub struct WithFallback {
    primary: Arc<dyn Answerer>,
    fallback: Arc<dyn Answerer>,
}

impl WithFallback {
    pub fn new(primary: Arc<dyn Answerer>, fallback: Arc<dyn Answerer>) -> Self {
        Self { primary, fallback }
    }
}

#[async_trait]
impl Answerer for WithFallback {
    async fn answer(&self, query: &QnaQuery) -> Result<Vec<QnaAnswer>, QnaError> {
        match self.primary.answer(query).await {
            Err(QnaError::Unavailable(reason)) => {
                tracing::warn!(primary = self.primary.kind(), %reason, "question answering service down; answering from the embedded KB");
                self.fallback.answer(query).await
            }
            other => other,
        }
    }

    async fn ready(&self) -> Result<(), QnaError> {
        // Either one answering is enough for traffic.
        match self.primary.ready().await {
            Ok(()) => Ok(()),
            Err(_) => self.fallback.ready().await,
        }
    }

    fn kind(&self) -> &'static str {
        self.primary.kind()
    }

    /// The remote KB is managed where it runs; the local fallback reloads.
    async fn reload(&self) -> Result<KbSummary, QnaError> {
        self.fallback.reload().await
    }
}
