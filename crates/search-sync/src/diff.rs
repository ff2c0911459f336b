//! Comparing two indexes by key and content hash: a merge-join of both key
//! orders, one page of each side in memory at a time.

use std::collections::VecDeque;

use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::Value;

use crate::client::{strip_annotations, IndexClient};
use crate::error::{Result, SyncError};
use crate::hash::document_hash;
use crate::paging::{Document, KeyPager, MAX_PAGE};
use crate::schema::IndexSchema;

/// How many keys of each kind a report lists (counts are always complete).
pub const SAMPLE_KEYS: usize = 20;

#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffReport {
    pub source: String,
    pub target: String,
    pub source_documents: u64,
    pub target_documents: u64,
    pub identical: u64,
    pub changed: u64,
    pub only_in_source: u64,
    pub only_in_target: u64,
    pub sample_changed: Vec<String>,
    pub sample_only_in_source: Vec<String>,
    pub sample_only_in_target: Vec<String>,
    /// Index definition and synonym map differences.
    pub schema_differences: Vec<String>,
    /// Fields that cannot be compared (not retrievable).
    pub warnings: Vec<String>,
}

impl DiffReport {
    pub fn is_equal(&self) -> bool {
        self.changed == 0
            && self.only_in_source == 0
            && self.only_in_target == 0
            && self.schema_differences.is_empty()
    }

    fn note(&mut self, e: &Entry) {
        let (count, sample, key) = match e {
            Entry::Same(_) => {
                self.identical += 1;
                self.source_documents += 1;
                self.target_documents += 1;
                return;
            }
            Entry::Changed(d) => {
                self.source_documents += 1;
                self.target_documents += 1;
                (&mut self.changed, &mut self.sample_changed, d.0.clone())
            }
            Entry::OnlySource(d) => {
                self.source_documents += 1;
                (
                    &mut self.only_in_source,
                    &mut self.sample_only_in_source,
                    d.0.clone(),
                )
            }
            Entry::OnlyTarget(k) => {
                self.target_documents += 1;
                (
                    &mut self.only_in_target,
                    &mut self.sample_only_in_target,
                    k.clone(),
                )
            }
        };
        *count += 1;
        if sample.len() < SAMPLE_KEYS {
            sample.push(key);
        }
    }
}

/// One step of the merge-join. Documents come with their key.
pub enum Entry {
    Same(String),
    Changed((String, Document)),
    OnlySource((String, Document)),
    OnlyTarget(String),
}

struct Side {
    pager: KeyPager,
    key_field: String,
    buf: VecDeque<(String, [u8; 32], Option<Document>)>,
    keep_docs: bool,
    done: bool,
}

impl Side {
    async fn head(&mut self) -> Result<Option<&(String, [u8; 32], Option<Document>)>> {
        while self.buf.is_empty() && !self.done {
            match self.pager.next_page().await? {
                Some(page) => {
                    for d in page {
                        let key = match d.get(&self.key_field) {
                            Some(Value::String(k)) => k.clone(),
                            _ => continue, // the pager has checked every key
                        };
                        let h = document_hash(&d);
                        self.buf
                            .push_back((key, h, if self.keep_docs { Some(d) } else { None }));
                    }
                }
                None => self.done = true,
            }
        }
        Ok(self.buf.front())
    }
}

pub struct Joiner {
    source: Side,
    target: Option<Side>,
}

impl Joiner {
    /// `target` None: the target index does not exist, everything is new.
    pub fn new(
        source: IndexClient,
        target: Option<IndexClient>,
        key_field: &str,
        fields: &[String],
        page_size: usize,
    ) -> Result<Self> {
        let side = |c: IndexClient, keep_docs: bool| -> Result<Side> {
            Ok(Side {
                pager: KeyPager::new(c, key_field, fields, page_size, None)?,
                key_field: key_field.to_string(),
                buf: VecDeque::new(),
                keep_docs,
                done: false,
            })
        };
        Ok(Self {
            source: side(source, true)?,
            target: target.map(|t| side(t, false)).transpose()?,
        })
    }

    pub async fn next(&mut self) -> Result<Option<Entry>> {
        let s = self.source.head().await?.map(|(k, h, _)| (k.clone(), *h));
        let t = match &mut self.target {
            Some(t) => t.head().await?.map(|(k, h, _)| (k.clone(), *h)),
            None => None,
        };
        let take_source = |s: &mut Side| {
            let (k, _, d) = s.buf.pop_front().expect("head was Some");
            (k, d.unwrap_or_default())
        };
        Ok(match (s, t) {
            (None, None) => None,
            (Some(_), None) => Some(Entry::OnlySource(take_source(&mut self.source))),
            (None, Some((tk, _))) => {
                self.pop_target();
                Some(Entry::OnlyTarget(tk))
            }
            (Some((sk, sh)), Some((tk, th))) => match sk.cmp(&tk) {
                std::cmp::Ordering::Less => Some(Entry::OnlySource(take_source(&mut self.source))),
                std::cmp::Ordering::Greater => {
                    self.pop_target();
                    Some(Entry::OnlyTarget(tk))
                }
                std::cmp::Ordering::Equal => {
                    self.pop_target();
                    let doc = take_source(&mut self.source);
                    if sh == th {
                        Some(Entry::Same(doc.0))
                    } else {
                        Some(Entry::Changed(doc))
                    }
                }
            },
        })
    }

    fn pop_target(&mut self) {
        if let Some(t) = &mut self.target {
            t.buf.pop_front();
        }
    }
}

/// The fields both sides can return, in the source's order.
pub fn common_fields(source: &IndexSchema, target: Option<&IndexSchema>) -> Vec<String> {
    match target {
        None => source.retrievable.clone(),
        Some(t) => source
            .retrievable
            .iter()
            .filter(|f| t.retrievable.contains(f))
            .cloned()
            .collect(),
    }
}

/// Definitions compared without name and OData annotations.
pub fn definitions_equal(a: &Value, b: &Value) -> bool {
    let norm = |v: &Value| {
        let mut v = strip_annotations(v);
        if let Some(o) = v.as_object_mut() {
            o.remove("name");
        }
        v
    };
    norm(a) == norm(b)
}

/// Synonym maps of the source that the target lacks or holds differently.
pub fn synonym_map_differences(source: &[Value], target: &[Value]) -> Vec<(String, Value)> {
    source
        .iter()
        .filter_map(|m| {
            let name = m.get("name")?.as_str()?;
            let same = target.iter().any(|t| {
                t.get("name").and_then(Value::as_str) == Some(name)
                    && strip_annotations(t) == strip_annotations(m)
            });
            (!same).then(|| (name.to_string(), m.clone()))
        })
        .collect()
}

/// Schema-level differences, as sentences, plus the target's schema.
pub(crate) async fn compare_schemas(
    source: &IndexClient,
    target: &IndexClient,
    report: &mut DiffReport,
) -> Result<(IndexSchema, Option<IndexSchema>, Vec<(String, Value)>)> {
    let src_def = source.get_index().await?.ok_or_else(|| SyncError::Schema {
        index: source.label(),
        message: "the source index does not exist".into(),
    })?;
    let src = IndexSchema::from_definition(src_def)?;
    report.warnings.extend(src.warnings());
    let tgt = match target.get_index().await? {
        None => {
            report
                .schema_differences
                .push(format!("index {} does not exist", target.label()));
            None
        }
        Some(def) => {
            if !definitions_equal(&src.definition, &def) {
                report
                    .schema_differences
                    .push(format!("index definition of {} differs", target.label()));
            }
            Some(IndexSchema::from_definition(def)?)
        }
    };
    let maps =
        synonym_map_differences(&source.synonym_maps().await?, &target.synonym_maps().await?);
    for (name, _) in &maps {
        report.schema_differences.push(format!(
            "synonym map {name} is missing or differs on the target"
        ));
    }
    Ok((src, tgt, maps))
}

/// Compare `source` and `target`: schema, synonym maps, every document.
pub async fn diff(
    source: &IndexClient,
    target: &IndexClient,
    page_size: usize,
    progress: &ProgressBar,
) -> Result<DiffReport> {
    let mut report = DiffReport {
        source: source.label(),
        target: target.label(),
        ..Default::default()
    };
    let (src, tgt, _) = compare_schemas(source, target, &mut report).await?;
    progress.set_length(source.count().await?);
    let fields = common_fields(&src, tgt.as_ref());
    let mut j = Joiner::new(
        source.clone(),
        tgt.as_ref().map(|_| target.clone()),
        &src.key_field,
        &fields,
        page_size.min(MAX_PAGE),
    )?;
    while let Some(e) = j.next().await? {
        if !matches!(e, Entry::OnlyTarget(_)) {
            progress.inc(1);
        }
        report.note(&e);
    }
    progress.finish_and_clear();
    Ok(report)
}

pub(crate) fn note(report: &mut DiffReport, e: &Entry) {
    report.note(e)
}
