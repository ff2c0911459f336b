//! Language understanding: the `Recognizer` trait and its backends — Azure
//! AI Language conversational language understanding (CLU, the successor of
//! LUIS) with regional failover, and an embedded recogniser for local mode
//! and as CLU's fallback — plus the import of LUIS and CLU app exports.

pub mod clu;
pub mod embedded;
pub mod error;
pub mod fallback;
pub mod import;
pub mod intents;
pub mod recognizer;

pub use clu::{CluConfig, CluEndpoint, CluRecognizer};
pub use embedded::EmbeddedRecognizer;
pub use error::LuError;
pub use fallback::FallbackRecognizer;
pub use import::{import_app, ImportReport};
pub use intents::{IntentDef, IntentsFile, RegexEntity};
pub use recognizer::{
    check_utterance, Entity, IntentScore, Recognition, Recognizer, MAX_UTTERANCE_CHARS, NONE_INTENT,
};
