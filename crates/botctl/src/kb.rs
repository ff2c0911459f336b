//! `botctl kb import|export|query|compile`: move a knowledge base between QnA
//! Maker's TSV exports and CQA's JSON export, ask the embedded KB questions
//! for evaluation (JSON lines on stdout), and write the trained snapshot the
//! bot loads at start.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use qna::{EmbeddedIndex, KnowledgeBase, QnaQuery};

/// `qna.cache_dir`'s default in config/default.toml.
const DEFAULT_CACHE_DIR: &str = "data/kb-cache";

/// The formats a KB file can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// QnA Maker's full export: Question Answer Source Metadata
    /// SuggestedQuestions IsContextOnly Prompts QnaId.
    QnamakerTsv,
    /// The plain `Question Answer Metadata` TSV (no ids or prompts).
    Tsv,
    /// Azure AI Language custom question answering JSON export.
    CqaJson,
}

impl Format {
    /// `.json` is CQA's export; anything else the full QnA Maker TSV, which
    /// keeps everything the embedded KB uses.
    fn from_path(path: &Path) -> Self {
        if qna::import::is_json_path(path) {
            Format::CqaJson
        } else {
            Format::QnamakerTsv
        }
    }

    fn write(self, kb: &KnowledgeBase) -> String {
        match self {
            Format::QnamakerTsv => qna::import::to_tsv(kb),
            Format::Tsv => qna::import::to_plain_tsv(kb),
            Format::CqaJson => qna::cqa_json::to_json(kb),
        }
    }
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The KB to read: a QnA Maker TSV export, a plain `Question Answer
    /// Metadata` TSV, or a CQA JSON export (`.json`).
    input: PathBuf,
    /// Where to write it (replaced atomically).
    #[arg(long)]
    out: PathBuf,
    /// Output format; by default from --out's extension (`.json`: CQA JSON,
    /// otherwise the full QnA Maker TSV).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The KB file to load into the embedded index.
    #[arg(long)]
    kb: PathBuf,
    /// The question; without it, one question per line is read from stdin.
    question: Option<String>,
    /// Answers per question.
    #[arg(long, default_value_t = 1)]
    top: usize,
    /// Answers below this confidence are not printed (the line then has
    /// `"id": null`).
    #[arg(long, default_value_t = 0.0)]
    threshold: f32,
}

#[derive(Args, Debug)]
pub struct CompileArgs {
    /// The KB file the bot loads (`qna.kb_path`).
    kb: PathBuf,
    /// The bot's `qna.cache_dir`; the snapshot is `<kb file name>.kbsnap`
    /// in it (replaced atomically).
    #[arg(long, default_value = DEFAULT_CACHE_DIR)]
    cache_dir: PathBuf,
    /// The bot's `qna.encoder_dir`, when it has one: the snapshot is then
    /// the model that weighs the encoder's vectors (keyed by its files).
    #[arg(long)]
    encoder_dir: Option<PathBuf>,
    /// The bot's `qna.encoder_layers`.
    #[arg(long, default_value_t = qna::DEFAULT_ENCODER_LAYERS)]
    encoder_layers: usize,
}

/// Trains from scratch (an existing snapshot is not trusted here either)
/// and writes the snapshot; prints where and what.
pub fn compile(a: CompileArgs) -> anyhow::Result<ExitCode> {
    let kb = qna::import::load_path(&a.kb)?;
    let encoder = match &a.encoder_dir {
        Some(dir) => Some(std::sync::Arc::new(
            qna::SentenceEncoder::load_layers(dir, a.encoder_layers)
                .with_context(|| format!("loading the sentence encoder in {}", dir.display()))?,
        )),
        None => None,
    };
    let index = EmbeddedIndex::build_encoded(kb, Default::default(), None, encoder)?;
    let path = qna::snapshot::path_for(&a.cache_dir, &a.kb);
    index
        .write_snapshot(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "{} -> {}: {} answers, {} questions, {} features, {:.1} MiB, trained in {} ms",
        a.kb.display(),
        path.display(),
        index.kb().qnas.len(),
        index.kb().question_count(),
        index.feature_count(),
        bytes as f64 / 1048576.0,
        index.build_times().model.as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads, validates and rewrites a KB; prints what it holds.
pub fn convert(a: ConvertArgs) -> anyhow::Result<ExitCode> {
    let kb = qna::import::load_path(&a.input)?;
    let format = a.format.unwrap_or_else(|| Format::from_path(&a.out));
    if format == Format::Tsv && kb.qnas.iter().any(|q| !q.prompts.is_empty()) {
        eprintln!(
            "botctl: warning: the plain TSV has no prompts column; follow-up prompts are dropped"
        );
    }
    let text = format.write(&kb);
    let tmp = a.out.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "{} -> {} ({format:?}): {} answers, {} questions",
        a.input.display(),
        a.out.display(),
        kb.qnas.len(),
        kb.question_count()
    );
    Ok(ExitCode::SUCCESS)
}

/// One JSON line per question: id, answer and confidence of each answer.
pub fn query(a: QueryArgs) -> anyhow::Result<ExitCode> {
    let kb = qna::import::load_path(&a.kb)?;
    let index = EmbeddedIndex::build(kb)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let ask = |question: &str, out: &mut dyn Write| -> anyhow::Result<()> {
        let mut q = QnaQuery::new(question);
        q.top = a.top.max(1);
        q.score_threshold = a.threshold;
        let answers = index.answer(&q)?;
        let line = if a.top <= 1 {
            match answers.first() {
                Some(b) => serde_json::json!({
                    "question": question, "id": b.id, "answer": b.answer,
                    "confidence": b.confidence,
                }),
                None => serde_json::json!({
                    "question": question, "id": null, "answer": null, "confidence": 0.0,
                }),
            }
        } else {
            serde_json::json!({
                "question": question,
                "answers": answers.iter().map(|b| serde_json::json!({
                    "id": b.id, "answer": b.answer, "confidence": b.confidence,
                })).collect::<Vec<_>>(),
            })
        };
        writeln!(out, "{line}")?;
        Ok(())
    };
    match &a.question {
        Some(q) => ask(q, &mut out)?,
        None => {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("reading questions from stdin")?;
                let line = line.trim();
                if !line.is_empty() {
                    ask(line, &mut out)?;
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
