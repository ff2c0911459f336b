use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error("cannot read the sentence encoder's {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the sentence encoder's config.json is not a BERT config: {0}")]
    Config(serde_json::Error),
    #[error("the sentence encoder is not a model this build runs: {0}")]
    Unsupported(String),
    #[error("the sentence encoder's tokenizer.json: {0}")]
    Tokenizer(String),
    #[error("the sentence encoder's weights: {0}")]
    Model(String),
}
