//! Intent recognition as the settings describe it: the recogniser (CLU,
//! the embedded one, or CLU with the embedded one behind it) wrapped in the
//! bot's dispatcher.

use std::sync::Arc;
use std::time::Duration;

use bot_core::dispatch::{Dispatcher, IntentConfig};
use lu::Recognizer;

use crate::settings::{LuKind, LuSettings};

impl LuSettings {
    /// What the dispatcher needs of the section.
    pub fn intent_config(&self) -> IntentConfig {
        IntentConfig {
            threshold: self.threshold,
            locale: self.locale.clone(),
            help_message: self.help_message.clone(),
            cancel_message: self.cancel_message.clone(),
            escalate_message: self.escalate_message.clone(),
        }
    }
}

/// Builds the dispatcher the settings describe; `None` when `lu.kind = off`.
pub fn open(settings: &LuSettings, http: &reqwest::Client) -> anyhow::Result<Option<Dispatcher>> {
    let embedded = |path: &std::path::Path| -> anyhow::Result<Arc<dyn Recognizer>> {
        let file = lu::IntentsFile::load(path)?;
        let r = lu::EmbeddedRecognizer::new(&file, settings.threshold)?;
        tracing::info!(
            path = %path.display(),
            intents = file.intents.len(),
            examples = file.example_count(),
            "intents loaded"
        );
        Ok(Arc::new(r))
    };
    let recognizer: Arc<dyn Recognizer> = match &settings.kind {
        LuKind::Off => return Ok(None),
        LuKind::Embedded { intents_path } => embedded(intents_path)?,
        LuKind::Clu(c) => {
            let clu = lu::CluRecognizer::new(
                lu::CluConfig {
                    endpoints: c
                        .endpoints
                        .iter()
                        .zip(&c.keys)
                        .map(|(url, key)| lu::CluEndpoint {
                            url: url.clone(),
                            key: key.clone(),
                        })
                        .collect(),
                    project: c.project.clone(),
                    deployment: c.deployment.clone(),
                    policy: failover::Policy {
                        per_try_timeout: Duration::from_millis(c.timeout_ms),
                        ..lu::clu::default_policy()
                    },
                },
                http.clone(),
            )?;
            match &c.fallback_intents {
                Some(p) => Arc::new(lu::FallbackRecognizer::new(Arc::new(clu), embedded(p)?)),
                None => Arc::new(clu),
            }
        }
    };
    Ok(Some(Dispatcher::new(recognizer, settings.intent_config())))
}
