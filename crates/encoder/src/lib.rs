//! A sentence encoder: a BERT-family model (the all-MiniLM-L6-v2 shape:
//! 6 layers, 384 wide) whose token outputs are mean-pooled and normalised,
//! as sentence-transformers does. The KB's re-ranker adds its vector to the
//! words it counts, so a question worded unlike any phrasing ("you're a
//! real snooze") can still land on the answer its meaning belongs to.
//!
//! The model is read from a directory holding the files a
//! sentence-transformers export has: `config.json`, `tokenizer.json` and
//! `model.safetensors`.

mod bert;
mod error;
mod kernel;

use std::cell::RefCell;
use std::path::Path;

pub use error::EncoderError;

/// Longest input, in tokens (the model's own limit is 512). A chat question
/// is a few dozen; the rest of a pasted page says nothing more about which
/// answer it wants, and attention's cost grows with its square.
pub const MAX_TOKENS: usize = 128;

/// The files `SentenceEncoder::load` reads from a model directory.
pub const MODEL_FILES: [&str; 3] = [CONFIG, TOKENIZER, WEIGHTS];
const CONFIG: &str = "config.json";
const TOKENIZER: &str = "tokenizer.json";
const WEIGHTS: &str = "model.safetensors";

pub struct SentenceEncoder {
    tokenizer: tokenizers::Tokenizer,
    model: bert::Bert,
    dims: usize,
    /// Identifies the model's files, for the KB snapshot's key: other
    /// weights, other vectors, another model.
    fingerprint: u64,
}

impl std::fmt::Debug for SentenceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEncoder")
            .field("dims", &self.dims)
            .field("fingerprint", &format_args!("{:016x}", self.fingerprint))
            .finish()
    }
}

impl SentenceEncoder {
    /// Loads the model in `dir`. Every way it can be wrong (a missing file,
    /// another architecture, a tensor of the wrong shape) is an error here,
    /// at start-up, not at the first question.
    pub fn load(dir: &Path) -> Result<Self, EncoderError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| EncoderError::Read { path, source })
        };
        let config_bytes = read(CONFIG)?;
        let config: bert::Config =
            serde_json::from_slice(&config_bytes).map_err(EncoderError::Config)?;
        config.check()?;
        let tokenizer_bytes = read(TOKENIZER)?;
        let mut tokenizer = tokenizers::Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: MAX_TOKENS.min(config.max_position_embeddings),
                ..Default::default()
            }))
            .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        let weights = read(WEIGHTS)?;
        let mut fingerprint = Fnv::default();
        for part in [&config_bytes, &tokenizer_bytes] {
            fingerprint.write(&(part.len() as u64).to_le_bytes());
            fingerprint.write(part);
        }
        // The weights in a stride: every tensor differs in most of its
        // bytes between two trainings, and a full pass over 90 MB would
        // cost each start a noticeable moment.
        fingerprint.write(&(weights.len() as u64).to_le_bytes());
        for b in weights.iter().step_by(251) {
            fingerprint.write(&[*b]);
        }
        let model = bert::Bert::load(&weights, &config)?;
        drop(weights);
        Ok(Self {
            tokenizer,
            model,
            dims: config.hidden_size,
            fingerprint: fingerprint.0,
        })
    }

    /// The length of the vectors `embed` returns.
    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The text's unit-length vector: similar meanings, nearby vectors.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, EncoderError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        let mut v = SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.model.forward(encoding.get_ids(), &mut s),
            Err(_) => self
                .model
                .forward(encoding.get_ids(), &mut Default::default()),
        })?;
        // Unit length: cosine is then a dot product.
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            for x in &mut v {
                *x /= norm;
            }
        }
        Ok(v)
    }
}

thread_local! {
    /// Each thread's buffers for a pass (a few hundred KB for a sentence).
    static SCRATCH: RefCell<bert::Scratch> = RefCell::default();
}

/// FNV-1a, 64-bit: a fingerprint, not a defence.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
