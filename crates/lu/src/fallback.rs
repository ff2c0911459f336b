//! CLU first, the embedded recogniser when every CLU region fails: intents
//! keep working through a double-region outage of the Language service.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::LuError;
use crate::recognizer::{Recognition, Recognizer};

pub struct FallbackRecognizer {
    primary: Arc<dyn Recognizer>,
    fallback: Arc<dyn Recognizer>,
}

impl FallbackRecognizer {
    pub fn new(primary: Arc<dyn Recognizer>, fallback: Arc<dyn Recognizer>) -> Self {
        Self { primary, fallback }
    }
}

#[async_trait]
impl Recognizer for FallbackRecognizer {
    async fn recognize(&self, text: &str, locale: &str) -> Result<Recognition, LuError> {
        match self.primary.recognize(text, locale).await {
            Ok(r) => Ok(r),
            // The input itself is wrong: the fallback would say the same.
            Err(e @ LuError::InvalidUtterance(_)) => Err(e),
            Err(e) => {
                tracing::warn!(
                    event = "lu.fallback",
                    primary = self.primary.kind(),
                    fallback = self.fallback.kind(),
                    error = %e,
                    "recogniser failed; using the fallback"
                );
                self.fallback.recognize(text, locale).await
            }
        }
    }

    fn kind(&self) -> &'static str {
        self.primary.kind()
    }
}
