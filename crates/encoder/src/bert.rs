//! The BERT encoder's forward pass for one sequence, in plain Rust over
//! f32 slices. Only what a sentence-transformers model needs: no pooler,
//! no second segment, no dropout (inference).
//!
//! Not candle: for one sentence (a dozen rows) its matrix product repacks
//! each weight matrix per call and hands the pieces to a thread pool, and
//! its quantised product is slower still. Measured on all-MiniLM-L6-v2,
//! per sentence: candle f32 9-12 ms, candle Q8_0 (AVX2 build) 13-21 ms;
//! this module in docs/performance.md. Its product (`kernel`) reads each
//! weight row once per sentence and keeps it in L1 for every token.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use safetensors::tensor::Metadata;
use safetensors::Dtype;
use serde::Deserialize;

use crate::kernel;
use crate::EncoderError;

/// The fields of a Hugging Face BERT `config.json` the forward pass uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Config {
    #[serde(default)]
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    #[serde(default = "default_types")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_types() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

impl Config {
    pub(crate) fn check(&self) -> Result<(), EncoderError> {
        let bad = |why: String| Err(EncoderError::Unsupported(why));
        if !self.model_type.is_empty() && self.model_type != "bert" {
            return bad(format!("model_type {:?}, not \"bert\"", self.model_type));
        }
        if self.hidden_act != "gelu" {
            return bad(format!("hidden_act {:?}, not \"gelu\"", self.hidden_act));
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return bad(format!(
                "hidden_size {} is not a multiple of {} heads",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.num_hidden_layers == 0
            || self.hidden_size == 0
            || self.intermediate_size == 0
            || self.max_position_embeddings == 0
            || self.type_vocab_size == 0
            || self.vocab_size == 0
        {
            return bad("no layers, width, positions, token types or vocabulary".into());
        }
        Ok(())
    }
}

/// The model file's tensors, read by name and checked for shape. Only
/// the header is read up front; each tensor is read from the file when it
/// is loaded, so the start never holds the whole file (90 MB for
/// all-MiniLM-L6-v2) of which a shallow encoder uses a few MB.
pub(crate) struct Weights {
    file: File,
    /// Where the tensors' data starts in the file.
    base: u64,
    meta: Metadata,
    /// "bert." when the export names its tensors that way.
    prefix: &'static str,
    /// FNV-1a of the header and of every tensor read: identifies the model.
    fingerprint: u64,
}

impl Weights {
    pub(crate) fn open(path: &Path) -> Result<Self, EncoderError> {
        let read_err = |source| EncoderError::Read {
            path: path.to_path_buf(),
            source,
        };
        let bad = |why: String| EncoderError::Model(why);
        let file = File::open(path).map_err(read_err)?;
        let len = file.metadata().map_err(read_err)?.len();
        let mut n = [0u8; 8];
        file.read_exact_at(&mut n, 0).map_err(read_err)?;
        let n = u64::from_le_bytes(n);
        if n.saturating_add(8) > len || n > 100 << 20 {
            return Err(bad(format!(
                "a header of {n} bytes in a file of {len}: not a safetensors file"
            )));
        }
        let mut header = vec![0u8; n as usize];
        file.read_exact_at(&mut header, 8).map_err(read_err)?;
        let meta: Metadata = serde_json::from_slice(&header)
            .map_err(|e| bad(format!("the safetensors header: {e}")))?;
        if meta.data_len() as u64 + 8 + n != len {
            return Err(bad(format!(
                "the header describes {} bytes of tensors, the file holds {}",
                meta.data_len(),
                len - 8 - n
            )));
        }
        let prefix = if meta
            .info("bert.embeddings.word_embeddings.weight")
            .is_some()
        {
            "bert."
        } else {
            ""
        };
        Ok(Self {
            file,
            base: 8 + n,
            meta,
            prefix,
            fingerprint: fnv(FNV_START, &header),
        })
    }

    /// Where an F32 tensor of `shape` starts in the file, checked.
    fn locate(&self, name: &str, shape: &[usize]) -> Result<u64, EncoderError> {
        let full = format!("{}{name}", self.prefix);
        let t = self
            .meta
            .info(&full)
            .ok_or_else(|| EncoderError::Model(format!("{full}: no such tensor")))?;
        if t.shape != shape {
            return Err(EncoderError::Model(format!(
                "{full} has shape {:?}, the config says {shape:?}",
                t.shape
            )));
        }
        if t.dtype != Dtype::F32 {
            return Err(EncoderError::Model(format!(
                "{full} is {:?}; this build reads F32 weights",
                t.dtype
            )));
        }
        Ok(self.base + t.data_offsets.0 as u64)
    }

    fn get(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, EncoderError> {
        let at = self.locate(name, shape)?;
        let mut bytes = vec![0u8; shape.iter().product::<usize>() * 4];
        self.file
            .read_exact_at(&mut bytes, at)
            .map_err(|e| EncoderError::Model(format!("{name}: {e}")))?;
        self.fingerprint = fnv(self.fingerprint, &bytes);
        Ok(le_f32s(&bytes).collect())
    }

    pub(crate) fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

/// The token table, left in the model file: a sentence reads its tokens'
/// rows (1.5 KB each) from it, so the 47 MB table costs the process no
/// memory of its own; the rows in use stay in the page cache.
struct TokenRows {
    file: File,
    at: u64,
    rows: usize,
    dims: usize,
}

impl TokenRows {
    /// Row `id`, added to `out` (`dims` long); `bytes` is a buffer.
    fn add_row(&self, id: u32, bytes: &mut Vec<u8>, out: &mut [f32]) -> Result<(), EncoderError> {
        let id = id as usize;
        if id >= self.rows {
            return Err(EncoderError::Model(format!("token id {id} past the table")));
        }
        bytes.resize(self.dims * 4, 0);
        self.file
            .read_exact_at(bytes, self.at + (id * self.dims * 4) as u64)
            .map_err(|e| EncoderError::Model(format!("the token table: {e}")))?;
        for (o, v) in out.iter_mut().zip(le_f32s(bytes)) {
            *o += v;
        }
        Ok(())
    }
}

/// Little-endian f32s, as safetensors stores them.
fn le_f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

pub(crate) const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64-bit, continued from `h`: a fingerprint, not a defence.
pub(crate) fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `x W^T + b` with `W` as stored, `(outputs, inputs)` row-major, in
/// 8 bits (see `kernel`).
struct Linear {
    weight: kernel::Matrix,
    bias: Vec<f32>,
}

impl Linear {
    fn load(
        w: &mut Weights,
        name: &str,
        inputs: usize,
        outputs: usize,
    ) -> Result<Self, EncoderError> {
        Self::stacked(w, &[name], inputs, outputs)
    }

    /// Several `(outputs, inputs)` matrices as one, their outputs one after
    /// the other (query, key and value, for one product).
    fn stacked(
        w: &mut Weights,
        names: &[&str],
        inputs: usize,
        outputs: usize,
    ) -> Result<Self, EncoderError> {
        let mut weight = Vec::with_capacity(names.len() * outputs * inputs);
        let mut bias = Vec::with_capacity(names.len() * outputs);
        for name in names {
            weight.extend(w.get(&format!("{name}.weight"), &[outputs, inputs])?);
            bias.extend(w.get(&format!("{name}.bias"), &[outputs])?);
        }
        Ok(Self {
            weight: kernel::Matrix::quantize(&weight, inputs),
            bias,
        })
    }

    /// `x` is `(rows, inputs)`; `out` becomes `(rows, outputs)`.
    fn forward(&self, x: &[f32], out: &mut Vec<f32>) {
        kernel::linear(x, &self.weight, &self.bias, out);
    }

    fn bytes(&self) -> usize {
        self.weight.bytes() + self.bias.len() * 4
    }
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl Norm {
    fn load(w: &mut Weights, name: &str, dims: usize, eps: f64) -> Result<Self, EncoderError> {
        Ok(Self {
            weight: w.get(&format!("{name}.weight"), &[dims])?,
            bias: w.get(&format!("{name}.bias"), &[dims])?,
            eps: eps as f32,
        })
    }

    /// Each row of `x`, normalised in place.
    fn apply(&self, x: &mut [f32]) {
        let dims = self.weight.len();
        for row in x.chunks_exact_mut(dims) {
            let mean = row.iter().sum::<f32>() / dims as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / dims as f32;
            let inv = 1.0 / (var + self.eps).sqrt();
            for ((v, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
                *v = (*v - mean) * inv * w + b;
            }
        }
    }
}

struct Layer {
    /// Query, key and value in one matrix: `(3 × hidden, hidden)`.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

pub(crate) struct Bert {
    words: TokenRows,
    /// The first `MAX_TOKENS` positions' rows, with token type 0's row
    /// added (a single sentence has no second segment).
    positions: Vec<f32>,
    norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
}

/// Buffers one sentence's pass reuses.
#[derive(Default)]
pub(crate) struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    context: Vec<f32>,
    projected: Vec<f32>,
    wide: Vec<f32>,
    scores: Vec<f32>,
    row_bytes: Vec<u8>,
}

impl Bert {
    /// The model's embeddings and its first `layers` layers (all of them
    /// when `layers` is past the model's count).
    pub(crate) fn load(w: &mut Weights, c: &Config, layers: usize) -> Result<Self, EncoderError> {
        let h = c.hidden_size;
        let words = TokenRows {
            file: w
                .file
                .try_clone()
                .map_err(|e| EncoderError::Model(e.to_string()))?,
            at: w.locate("embeddings.word_embeddings.weight", &[c.vocab_size, h])?,
            rows: c.vocab_size,
            dims: h,
        };
        let mut positions = w.get(
            "embeddings.position_embeddings.weight",
            &[c.max_position_embeddings, h],
        )?;
        // Only the positions a sentence can reach are kept (`truncate`
        // alone would keep all 512 rows' memory).
        positions.truncate(crate::MAX_TOKENS.min(c.max_position_embeddings) * h);
        positions.shrink_to_fit();
        let types = w.get(
            "embeddings.token_type_embeddings.weight",
            &[c.type_vocab_size, h],
        )?;
        for row in positions.chunks_exact_mut(h) {
            for (p, t) in row.iter_mut().zip(&types[..h]) {
                *p += t;
            }
        }
        let eps = c.layer_norm_eps;
        let norm = Norm::load(w, "embeddings.LayerNorm", h, eps)?;
        let count = layers.min(c.num_hidden_layers);
        let mut layers = Vec::with_capacity(count);
        for n in 0..count {
            let l = format!("encoder.layer.{n}");
            let a = format!("{l}.attention");
            let parts = ["query", "key", "value"].map(|p| format!("{a}.self.{p}"));
            layers.push(Layer {
                qkv: Linear::stacked(w, &parts.each_ref().map(String::as_str), h, h)?,
                attention_out: Linear::load(w, &format!("{a}.output.dense"), h, h)?,
                attention_norm: Norm::load(w, &format!("{a}.output.LayerNorm"), h, eps)?,
                intermediate: Linear::load(
                    w,
                    &format!("{l}.intermediate.dense"),
                    h,
                    c.intermediate_size,
                )?,
                output: Linear::load(w, &format!("{l}.output.dense"), c.intermediate_size, h)?,
                output_norm: Norm::load(w, &format!("{l}.output.LayerNorm"), h, eps)?,
            });
        }
        Ok(Self {
            words,
            positions,
            norm,
            layers,
            hidden: h,
            heads: c.num_attention_heads,
        })
    }

    pub(crate) fn layers(&self) -> usize {
        self.layers.len()
    }

    /// Bytes of weights held in memory (the token table stays in the file).
    pub(crate) fn bytes(&self) -> usize {
        let norm = |n: &Norm| (n.weight.len() + n.bias.len()) * 4;
        let layers: usize = self
            .layers
            .iter()
            .map(|l| {
                l.qkv.bytes()
                    + l.attention_out.bytes()
                    + l.intermediate.bytes()
                    + l.output.bytes()
                    + norm(&l.attention_norm)
                    + norm(&l.output_norm)
            })
            .sum();
        layers + self.positions.len() * 4 + norm(&self.norm)
    }

    /// The longest input `forward` takes, in tokens.
    pub(crate) fn max_tokens(&self) -> usize {
        self.positions.len() / self.hidden
    }

    /// Token ids (at most `max_tokens`) to the mean of their outputs.
    pub(crate) fn forward(&self, ids: &[u32], s: &mut Scratch) -> Result<Vec<f32>, EncoderError> {
        let h = self.hidden;
        let len = ids.len().min(self.max_tokens());
        if len == 0 {
            return Ok(vec![0.0; h]);
        }
        s.x.clear();
        s.x.extend_from_slice(&self.positions[..len * h]);
        for (&id, row) in ids[..len].iter().zip(s.x.chunks_exact_mut(h)) {
            self.words.add_row(id, &mut s.row_bytes, row)?;
        }
        self.norm.apply(&mut s.x);
        for l in &self.layers {
            l.qkv.forward(&s.x, &mut s.qkv);
            attention(&s.qkv, len, h, self.heads, &mut s.scores, &mut s.context);
            l.attention_out.forward(&s.context, &mut s.projected);
            add(&mut s.projected, &s.x);
            l.attention_norm.apply(&mut s.projected);
            std::mem::swap(&mut s.x, &mut s.projected);
            l.intermediate.forward(&s.x, &mut s.wide);
            for v in &mut s.wide {
                *v = gelu(*v);
            }
            l.output.forward(&s.wide, &mut s.projected);
            add(&mut s.projected, &s.x);
            l.output_norm.apply(&mut s.projected);
            std::mem::swap(&mut s.x, &mut s.projected);
        }
        let mut mean = vec![0.0f32; h];
        for row in s.x.chunks_exact(h) {
            add(&mut mean, row);
        }
        for v in &mut mean {
            *v /= len as f32;
        }
        Ok(mean)
    }
}

/// Multi-head self-attention over `qkv` (`(len, 3 × hidden)`: each row's
/// query, key and value) into `out` (`(len, hidden)`).
fn attention(
    qkv: &[f32],
    len: usize,
    h: usize,
    heads: usize,
    scores: &mut Vec<f32>,
    out: &mut Vec<f32>,
) {
    let d = h / heads;
    let scale = 1.0 / (d as f32).sqrt();
    out.clear();
    out.resize(len * h, 0.0);
    scores.resize(len, 0.0);
    for head in 0..heads {
        let (q0, k0, v0) = (head * d, h + head * d, 2 * h + head * d);
        for i in 0..len {
            let q = &qkv[i * 3 * h + q0..i * 3 * h + q0 + d];
            for (j, score) in scores.iter_mut().enumerate() {
                let k = &qkv[j * 3 * h + k0..j * 3 * h + k0 + d];
                *score = q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * scale;
            }
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            let o = &mut out[i * h + head * d..i * h + head * d + d];
            for (j, &s) in scores.iter().enumerate() {
                let v = &qkv[j * 3 * h + v0..j * 3 * h + v0 + d];
                let weight = s / sum;
                for (o, v) in o.iter_mut().zip(v) {
                    *o += weight * v;
                }
            }
        }
    }
}

fn add(to: &mut [f32], from: &[f32]) {
    for (a, b) in to.iter_mut().zip(from) {
        *a += b;
    }
}

/// BERT's GELU, with the exact error function.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
}
