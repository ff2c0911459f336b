//! Knowledge-base sync between regions.
//!
//! CQA (Azure AI Language custom question answering, authoring API
//! 2021-10-01): export the primary project as JSON (a long-running job
//! followed through `Operation-Location`), import it into the secondary,
//! deploy it, then ask both deployments a sample of the project's own
//! questions and compare the answer ids.
//!
//! Embedded KB (a TSV file per region): an atomic file copy, then the same
//! verification with the local answerer.

use std::path::Path;
use std::time::{Duration, Instant};

use qna::{Answerer, NormalizedMatchAnswerer, QnaQuery};
use reqwest::{Method, RequestBuilder, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{Result, SyncError};
use crate::hash::hex;
use crate::http::{self, parse_endpoint, same_origin, Response};
use crate::retry::RetryPolicy;

/// The GA authoring and runtime api-version of question answering.
pub const LANGUAGE_API_VERSION: &str = "2021-10-01";

#[derive(Clone)]
pub struct LanguageClient {
    http: reqwest::Client,
    endpoint: Url,
    key: SecretString,
    pub retry: RetryPolicy,
    /// Between two polls of a job, unless the service says otherwise.
    pub poll_interval: Duration,
    /// A job that has not finished by then is an error.
    pub job_timeout: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub question: String,
    pub primary: Option<i64>,
    pub secondary: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub sampled: usize,
    pub matched: usize,
    pub mismatches: Vec<Mismatch>,
}

impl VerifyReport {
    pub fn is_equal(&self) -> bool {
        self.mismatches.is_empty() && self.sampled > 0
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct KbSyncReport {
    pub kind: &'static str,
    pub source: String,
    pub target: String,
    pub qnas: usize,
    pub steps: Vec<String>,
    pub verify: VerifyReport,
    pub elapsed_secs: f64,
}

#[derive(Debug, Clone)]
pub struct CqaProject {
    pub project: String,
    pub deployment: String,
}

fn check_name(what: &str, s: &str) -> Result<()> {
    if s.is_empty() || s.len() > 100 || s.contains(['/', '?', '#', '%']) {
        return Err(SyncError::Invalid(format!(
            "{what} {s:?}: 1 to 100 characters, no '/', '?', '#' or '%'"
        )));
    }
    Ok(())
}

impl LanguageClient {
    pub fn new(endpoint: &str, key: SecretString) -> Result<Self> {
        if key.expose_secret().trim().is_empty() {
            return Err(SyncError::Invalid(
                "no Language resource key given".to_string(),
            ));
        }
        Ok(Self {
            http: http::http_client(Duration::from_secs(120))?,
            endpoint: parse_endpoint(endpoint)?,
            key,
            retry: RetryPolicy::default(),
            poll_interval: Duration::from_secs(2),
            job_timeout: Duration::from_secs(30 * 60),
        })
    }

    pub fn with_polling(mut self, poll_interval: Duration, job_timeout: Duration) -> Self {
        self.poll_interval = poll_interval;
        self.job_timeout = job_timeout;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn host(&self) -> String {
        self.endpoint.host_str().unwrap_or("?").to_string()
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut u = self.endpoint.clone();
        {
            // The endpoint always ends in '/', so pop the empty last segment.
            let mut p = u.path_segments_mut().expect("http(s) URLs have paths");
            p.pop_if_empty();
            p.extend(segments);
        }
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("api-version", LANGUAGE_API_VERSION);
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        u
    }

    fn request(&self, method: Method, url: &Url) -> RequestBuilder {
        self.http
            .request(method, url.clone())
            .header("Ocp-Apim-Subscription-Key", self.key.expose_secret())
    }

    async fn send(&self, what: &str, build: impl Fn() -> RequestBuilder) -> Result<Response> {
        http::send(what, &self.retry, &[], build).await
    }

    /// Follow a job's `Operation-Location` until it ends; the final state.
    async fn follow(&self, what: &str, started: &Response) -> Result<Value> {
        let loc = started
            .headers
            .get("operation-location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| SyncError::Protocol {
                what: what.to_string(),
                message: format!(
                    "HTTP {} without an Operation-Location header",
                    started.status
                ),
            })?;
        let url = self.trusted_url(what, loc)?;
        let deadline = Instant::now() + self.job_timeout;
        loop {
            let r = self.send(what, || self.request(Method::GET, &url)).await?;
            let state: Value = r.json(what)?;
            let status = state
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match status.as_str() {
                "succeeded" => return Ok(state),
                "notStarted" | "running" | "cancelling" => {}
                _ => {
                    let errors: Vec<String> = state
                        .get("errors")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|e| e.get("message").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect();
                    return Err(SyncError::Job {
                        what: what.to_string(),
                        status: if status.is_empty() {
                            "without a status".into()
                        } else {
                            status
                        },
                        message: errors.join("; "),
                    });
                }
            }
            if Instant::now() >= deadline {
                return Err(SyncError::Job {
                    what: what.to_string(),
                    status: "still running".into(),
                    message: format!("not finished after {:?}", self.job_timeout),
                });
            }
            let wait = crate::retry::retry_after(&r.headers).unwrap_or(self.poll_interval);
            tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
        }
    }

    /// A URL the service handed us; the key is only sent to our endpoint.
    fn trusted_url(&self, what: &str, s: &str) -> Result<Url> {
        let url = self.endpoint.join(s).map_err(|e| SyncError::Protocol {
            what: what.to_string(),
            message: format!("bad URL {s:?}: {e}"),
        })?;
        if !same_origin(&self.endpoint, &url) {
            return Err(SyncError::Protocol {
                what: what.to_string(),
                message: format!(
                    "the service pointed at another host ({}); not sending the key there",
                    url.host_str().unwrap_or("?")
                ),
            });
        }
        Ok(url)
    }

    /// `POST .../projects/{p}/:export?format=json`, then the job's resultUrl.
    pub async fn export(&self, project: &str) -> Result<Value> {
        check_name("project", project)?;
        let what = format!("export project {project} from {}", self.host());
        let url = self.url(
            &[
                "language",
                "query-knowledgebases",
                "projects",
                project,
                ":export",
            ],
            &[("format", "json")],
        );
        let started = self
            .send(&what, || self.request(Method::POST, &url))
            .await?;
        let state = self.follow(&what, &started).await?;
        let result = state
            .get("resultUrl")
            .and_then(Value::as_str)
            .ok_or_else(|| SyncError::Protocol {
                what: what.clone(),
                message: "the finished export job has no resultUrl".into(),
            })?;
        let result = self.trusted_url(&what, result)?;
        let r = self
            .send(&what, || self.request(Method::GET, &result))
            .await?;
        r.json(&what)
    }

    /// `POST .../projects/{p}/:import?format=json` with an exported project.
    pub async fn import(&self, project: &str, exported: &Value) -> Result<()> {
        check_name("project", project)?;
        let what = format!("import project {project} into {}", self.host());
        let url = self.url(
            &[
                "language",
                "query-knowledgebases",
                "projects",
                project,
                ":import",
            ],
            &[("format", "json")],
        );
        let started = self
            .send(&what, || self.request(Method::POST, &url).json(exported))
            .await?;
        self.follow(&what, &started).await?;
        Ok(())
    }

    /// `PUT .../projects/{p}/deployments/{d}`.
    pub async fn deploy(&self, project: &str, deployment: &str) -> Result<()> {
        check_name("project", project)?;
        check_name("deployment", deployment)?;
        let what = format!("deploy {project}/{deployment} on {}", self.host());
        let url = self.url(
            &[
                "language",
                "query-knowledgebases",
                "projects",
                project,
                "deployments",
                deployment,
            ],
            &[],
        );
        let started = self
            .send(&what, || self.request(Method::PUT, &url).json(&json!({})))
            .await?;
        self.follow(&what, &started).await?;
        Ok(())
    }

    /// The id of the best answer (`-1` is the service's "no good match").
    pub async fn top_answer_id(&self, p: &CqaProject, question: &str) -> Result<Option<i64>> {
        let what = format!("query {}/{} on {}", p.project, p.deployment, self.host());
        let url = self.url(
            &["language", ":query-knowledgebases"],
            &[
                ("projectName", &p.project),
                ("deploymentName", &p.deployment),
            ],
        );
        let body = json!({"question": question, "top": 1});
        let r = self
            .send(&what, || self.request(Method::POST, &url).json(&body))
            .await?;
        let v: Value = r.json(&what)?;
        let answers =
            v.get("answers")
                .and_then(Value::as_array)
                .ok_or_else(|| SyncError::Protocol {
                    what: what.clone(),
                    message: "no answers list".into(),
                })?;
        Ok(answers
            .first()
            .and_then(|a| a.get("id"))
            .and_then(Value::as_i64))
    }
}

/// Case-insensitive member lookup: exported files have used both casings.
fn member<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The QnAs of an exported project (`assets.qnas`).
pub fn exported_qnas(exported: &Value) -> Result<&Vec<Value>> {
    member(exported, "assets")
        .and_then(|a| member(a, "qnas"))
        .and_then(Value::as_array)
        .ok_or_else(|| SyncError::Protocol {
            what: "exported project".into(),
            message: "no assets.qnas list".into(),
        })
}

/// Up to `n` questions spread evenly over the list (first phrasing of each
/// QnA), so a verify touches the whole KB, not only its start.
pub fn sample_questions(per_qna: &[String], n: usize) -> Vec<String> {
    if n == 0 || per_qna.is_empty() {
        return Vec::new();
    }
    let step = (per_qna.len() as f64 / n as f64).max(1.0);
    let mut out = Vec::new();
    let mut i = 0.0;
    while (i as usize) < per_qna.len() && out.len() < n {
        out.push(per_qna[i as usize].clone());
        i += step;
    }
    out
}

/// Export from `primary`, import into `secondary`, deploy, verify.
pub async fn sync_cqa(
    primary: &LanguageClient,
    secondary: &LanguageClient,
    from: &CqaProject,
    to: &CqaProject,
    sample: usize,
) -> Result<KbSyncReport> {
    let started = Instant::now();
    let mut steps = Vec::new();
    let exported = primary.export(&from.project).await?;
    let qnas = exported_qnas(&exported)?;
    let questions: Vec<String> = qnas
        .iter()
        .filter_map(|q| {
            member(q, "questions")?
                .as_array()?
                .first()?
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let count = qnas.len();
    steps.push(format!(
        "exported {} ({count} QnAs) from {}",
        from.project,
        primary.host()
    ));
    secondary.import(&to.project, &exported).await?;
    steps.push(format!(
        "imported into {} on {}",
        to.project,
        secondary.host()
    ));
    secondary.deploy(&to.project, &to.deployment).await?;
    steps.push(format!("deployed {}/{}", to.project, to.deployment));
    let mut verify = VerifyReport::default();
    for q in sample_questions(&questions, sample) {
        let a = primary.top_answer_id(from, &q).await?;
        let b = secondary.top_answer_id(to, &q).await?;
        verify.sampled += 1;
        if a == b {
            verify.matched += 1;
        } else {
            verify.mismatches.push(Mismatch {
                question: q,
                primary: a,
                secondary: b,
            });
        }
    }
    steps.push(format!(
        "verified {}/{} sampled questions",
        verify.matched, verify.sampled
    ));
    Ok(KbSyncReport {
        kind: "cqa",
        source: format!("{}/{}/{}", primary.host(), from.project, from.deployment),
        target: format!("{}/{}/{}", secondary.host(), to.project, to.deployment),
        qnas: count,
        steps,
        verify,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

fn file_sha256(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| SyncError::io(path, e))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

fn load_kb(path: &Path) -> Result<qna::KnowledgeBase> {
    qna::import::load_path(path).map_err(|e| match e {
        qna::QnaError::Io { path, message } => SyncError::Io { path, message },
        other => SyncError::Invalid(other.to_string()),
    })
}

/// Copy the embedded KB file `from` over `to` (atomically) and verify.
pub async fn sync_embedded(from: &Path, to: &Path, sample: usize) -> Result<KbSyncReport> {
    let started = Instant::now();
    if !from.is_file() {
        return Err(SyncError::Invalid(format!(
            "{} does not exist or is not a file",
            from.display()
        )));
    }
    // Parse first: a broken source must not replace a working target.
    let kb = load_kb(from)?;
    let dir = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.sync-tmp",
        to.file_name().and_then(|n| n.to_str()).unwrap_or("kb")
    ));
    std::fs::copy(from, &tmp).map_err(|e| SyncError::io(&tmp, e))?;
    std::fs::rename(&tmp, to).map_err(|e| SyncError::io(to, e))?;
    let (a, b) = (file_sha256(from)?, file_sha256(to)?);
    let mut steps = vec![format!("copied {} to {}", from.display(), to.display())];
    if a != b {
        return Err(SyncError::Io {
            path: to.display().to_string(),
            message: format!("sha256 {b} after the copy, the source has {a}"),
        });
    }
    steps.push(format!("sha256 {a} on both sides"));
    let questions: Vec<String> = kb
        .qnas
        .iter()
        .filter(|q| !q.is_context_only)
        .filter_map(|q| q.questions.first().cloned())
        .collect();
    let count = kb.qnas.len();
    let source = NormalizedMatchAnswerer::new(kb);
    let target = NormalizedMatchAnswerer::new(load_kb(to)?);
    let mut verify = VerifyReport::default();
    for q in sample_questions(&questions, sample) {
        let query = QnaQuery::new(q.clone());
        let top = |r: std::result::Result<Vec<qna::QnaAnswer>, qna::QnaError>| {
            r.map(|v| v.first().map(|a| a.id as i64))
                .map_err(|e| SyncError::Invalid(e.to_string()))
        };
        let pa = top(source.answer(&query).await)?;
        let pb = top(target.answer(&query).await)?;
        verify.sampled += 1;
        if pa == pb {
            verify.matched += 1;
        } else {
            verify.mismatches.push(Mismatch {
                question: q,
                primary: pa,
                secondary: pb,
            });
        }
    }
    steps.push(format!(
        "verified {}/{} sampled questions",
        verify.matched, verify.sampled
    ));
    Ok(KbSyncReport {
        kind: "embedded",
        source: from.display().to_string(),
        target: to.display().to_string(),
        qnas: count,
        steps,
        verify,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_spread_over_the_list() {
        let qs: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(sample_questions(&qs, 3), vec!["0", "3", "6"]);
        assert_eq!(sample_questions(&qs, 50).len(), 10);
        assert!(sample_questions(&qs, 0).is_empty());
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("project", "faq-en").is_ok());
        assert!(check_name("project", "a/b").is_err());
        assert!(check_name("project", "").is_err());
    }
}
