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
mod wordpiece;

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

/// How many layers the bot runs unless told otherwise (`qna.encoder_layers`):
/// the first alone reaches the quality goal (docs/performance.md).
pub const DEFAULT_LAYERS: usize = 1;

/// Which encoder to load: the model's directory and how many of its
/// layers to run (`qna.encoder_dir` and `qna.encoder_layers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderSpec {
    pub dir: std::path::PathBuf,
    pub layers: usize,
}

impl EncoderSpec {
    pub fn load(&self) -> Result<SentenceEncoder, EncoderError> {
        SentenceEncoder::load_layers(&self.dir, self.layers)
    }
}

pub struct SentenceEncoder {
    tokenizer: wordpiece::WordPiece,
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
            .field("layers", &self.model.layers())
            .field("fingerprint", &format_args!("{:016x}", self.fingerprint))
            .finish()
    }
}

impl SentenceEncoder {
    /// Loads the model in `dir`, all its layers. Every way it can be
    /// wrong (a missing file, another architecture, a tensor of the wrong
    /// shape) is an error here, at start-up, not at the first question.
    pub fn load(dir: &Path) -> Result<Self, EncoderError> {
        Self::load_layers(dir, usize::MAX)
    }

    /// Loads the model in `dir` with only its first `layers` layers (at
    /// least one): a shallower encoder, its cost per question and its
    /// memory about proportional to its layers. The vectors of the first
    /// layer already tell the chit-chat KB's answers apart better than
    /// words alone (docs/performance.md).
    pub fn load_layers(dir: &Path, layers: usize) -> Result<Self, EncoderError> {
        if layers == 0 {
            return Err(EncoderError::Unsupported("an encoder of 0 layers".into()));
        }
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| EncoderError::Read { path, source })
        };
        let config_bytes = read(CONFIG)?;
        let config: bert::Config =
            serde_json::from_slice(&config_bytes).map_err(EncoderError::Config)?;
        config.check()?;
        let tokenizer_bytes = read(TOKENIZER)?;
        let tokenizer = wordpiece::WordPiece::from_json(&tokenizer_bytes)?;
        if tokenizer.vocabulary() > config.vocab_size {
            return Err(EncoderError::Tokenizer(format!(
                "ids up to {} for a model of {} tokens",
                tokenizer.vocabulary(),
                config.vocab_size
            )));
        }
        let mut weights = bert::Weights::open(&dir.join(WEIGHTS))?;
        let model = bert::Bert::load(&mut weights, &config, layers)?;
        // The file's header (every tensor's name, shape and place), the
        // weights read, the config, the tokenizer, the depth and how this
        // build stores the weights (other numerics, other vectors). The token
        // table is not read at start, so not hashed: a model that differs
        // only there, with the same header, is not a practical case.
        let mut fingerprint = weights.fingerprint();
        for part in [
            &config_bytes[..],
            &tokenizer_bytes[..],
            &(model.layers() as u64).to_le_bytes(),
            kernel::NUMERICS.as_bytes(),
        ] {
            fingerprint = bert::fnv(fingerprint, &(part.len() as u64).to_le_bytes());
            fingerprint = bert::fnv(fingerprint, part);
        }
        Ok(Self {
            tokenizer,
            model,
            dims: config.hidden_size,
            fingerprint,
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
        let ids = self.tokenizer.encode(text, self.model.max_tokens());
        let mut v = SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.model.forward(&ids, &mut s),
            Err(_) => self.model.forward(&ids, &mut Default::default()),
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

    /// The token ids the model reads for `text`, the classifier and
    /// separator tokens around them.
    pub fn token_ids(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text, self.model.max_tokens())
    }

    /// How many of the model's layers this encoder runs.
    pub fn layers(&self) -> usize {
        self.model.layers()
    }

    /// Bytes of weights held in memory: the layers run, the positions'
    /// rows and the norms (the token table is read from the file).
    pub fn weight_bytes(&self) -> usize {
        self.model.bytes()
    }
}

thread_local! {
    /// Each thread's buffers for a pass (a few hundred KB for a sentence).
    static SCRATCH: RefCell<bert::Scratch> = RefCell::default();
}
