//! Question answering: the `Answerer` trait, the knowledge-base model and
//! its importers, and the backends that answer from it.

pub mod answerer;
mod calibration;
mod classifier;
pub mod cqa;
pub mod cqa_json;
pub mod embedded;
pub mod error;
pub mod fallback;
mod features;
pub mod import;
pub mod kb;
pub mod normalized;
pub mod qnamaker;
pub mod quality;
pub mod rank_cache;
pub mod reload;
pub mod remote;
pub mod snapshot;
pub mod split;

pub use answerer::{
    Answerer, KbSummary, MetadataFilter, Phrasings, Prompt, QnaAnswer, QnaContext, QnaQuery,
    ServedBy,
};
pub use cqa::CqaClient;
pub use embedded::{BuildTimes, EmbeddedIndex, ModelSource, Tuning};
pub use encoder::{
    EncoderError, EncoderSpec, SentenceEncoder, DEFAULT_LAYERS as DEFAULT_ENCODER_LAYERS,
    MODEL_FILES as ENCODER_FILES,
};
pub use error::QnaError;
pub use fallback::WithFallback;
pub use kb::{KnowledgeBase, QnaPair};
pub use normalized::NormalizedMatchAnswerer;
pub use qnamaker::QnaMakerClient;
pub use reload::EmbeddedAnswerer;
pub use remote::RemoteSettings;
