//! Question answering: the `Answerer` trait, the knowledge-base model and
//! its importers, and the backends that answer from it.

pub mod answerer;
pub mod error;
pub mod import;
pub mod kb;
pub mod normalized;

pub use answerer::{Answerer, MetadataFilter, Prompt, QnaAnswer, QnaContext, QnaQuery, ServedBy};
pub use error::QnaError;
pub use kb::{KnowledgeBase, QnaPair};
pub use normalized::NormalizedMatchAnswerer;
