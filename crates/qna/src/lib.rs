//! Question answering: the `Answerer` trait, the knowledge-base model and
//! its importers, and the backends that answer from it.

pub mod answerer;
mod classifier;
pub mod cqa_json;
pub mod embedded;
pub mod error;
pub mod import;
pub mod kb;
pub mod normalized;
pub mod reload;
pub mod split;
mod text;

pub use answerer::{Answerer, MetadataFilter, Prompt, QnaAnswer, QnaContext, QnaQuery, ServedBy};
pub use embedded::{EmbeddedIndex, Tuning};
pub use error::QnaError;
pub use kb::{KnowledgeBase, QnaPair};
pub use normalized::NormalizedMatchAnswerer;
pub use reload::EmbeddedAnswerer;
