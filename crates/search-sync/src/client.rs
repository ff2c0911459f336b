//! Azure AI Search REST client: the subset this crate needs, at a pinned
//! api-version, authenticated with the `api-key` header.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Result, SyncError};
use crate::http::{self, parse_endpoint, Response};
use crate::retry::RetryPolicy;

/// Pinned so a service upgrade cannot change payloads under us.
pub const API_VERSION: &str = "2024-07-01";

/// Where an index lives and how to reach it.
#[derive(Clone)]
pub struct IndexClient {
    http: reqwest::Client,
    endpoint: Url,
    api_key: SecretString,
    index: String,
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for IndexClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// One result of a documents/index batch (200 or 207 body).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexingResult {
    pub key: String,
    pub status: bool,
    #[serde(default)]
    pub error_message: Option<String>,
    pub status_code: u16,
}

impl IndexClient {
    pub fn new(endpoint: &str, api_key: SecretString, index: &str) -> Result<Self> {
        if index.is_empty()
            || !index
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(SyncError::Invalid(format!(
                "index name {index:?}: use lower-case letters, digits, '-' or '_'"
            )));
        }
        if api_key.expose_secret().trim().is_empty() {
            return Err(SyncError::Invalid(format!(
                "no api-key given for index {index}"
            )));
        }
        Ok(Self {
            http: http::http_client(Duration::from_secs(120))?,
            endpoint: parse_endpoint(endpoint)?,
            api_key,
            index: index.to_string(),
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn index(&self) -> &str {
        &self.index
    }

    /// `host/index`, for messages and reports (never the key).
    pub fn label(&self) -> String {
        format!("{}/{}", self.endpoint.host_str().unwrap_or("?"), self.index)
    }

    fn url(&self, path: &str) -> Url {
        let mut u = self.endpoint.clone();
        let p = format!("{}{}", u.path(), path);
        u.set_path(&p);
        u.query_pairs_mut().append_pair("api-version", API_VERSION);
        u
    }

    fn request(&self, method: Method, url: &Url) -> RequestBuilder {
        self.http
            .request(method, url.clone())
            .header("api-key", self.api_key.expose_secret())
            .header("accept", "application/json")
    }

    async fn send(
        &self,
        what: &str,
        accept: &[u16],
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response> {
        http::send(what, &self.retry, accept, build).await
    }

    /// The index definition, or None when the index does not exist.
    pub async fn get_index(&self) -> Result<Option<Value>> {
        let url = self.url(&format!("indexes/{}", self.index));
        let what = format!("GET index {}", self.label());
        let r = self
            .send(&what, &[404], || self.request(Method::GET, &url))
            .await?;
        if r.status == 404 {
            return Ok(None);
        }
        r.json(&what).map(Some)
    }

    /// Create or update this index from `definition` (another index's
    /// definition: its name and OData annotations are replaced).
    pub async fn put_index(&self, definition: &Value) -> Result<()> {
        let mut def = strip_annotations(definition);
        if let Some(o) = def.as_object_mut() {
            o.insert("name".into(), Value::String(self.index.clone()));
        }
        let url = self.url(&format!("indexes/{}", self.index));
        let what = format!("PUT index {}", self.label());
        self.send(&what, &[], || {
            self.request(Method::PUT, &url)
                .header("prefer", "return=minimal")
                .json(&def)
        })
        .await?;
        Ok(())
    }

    pub async fn synonym_maps(&self) -> Result<Vec<Value>> {
        let url = self.url("synonymmaps");
        let what = format!(
            "GET synonym maps {}",
            self.endpoint.host_str().unwrap_or("?")
        );
        let r = self
            .send(&what, &[], || self.request(Method::GET, &url))
            .await?;
        #[derive(Deserialize)]
        struct List {
            value: Vec<Value>,
        }
        Ok(r.json::<List>(&what)?.value)
    }

    pub async fn put_synonym_map(&self, map: &Value) -> Result<()> {
        let map = strip_annotations(map);
        let name = map
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| SyncError::Invalid("a synonym map without a name".into()))?
            .to_string();
        let url = self.url(&format!("synonymmaps/{name}"));
        let what = format!("PUT synonym map {name}");
        self.send(&what, &[], || {
            self.request(Method::PUT, &url)
                .header("prefer", "return=minimal")
                .json(&map)
        })
        .await?;
        Ok(())
    }

    /// `GET /indexes/{name}/docs/$count`: only used to size progress bars.
    pub async fn count(&self) -> Result<u64> {
        let url = self.url(&format!("indexes/{}/docs/$count", self.index));
        let what = format!("count {}", self.label());
        let r = self
            .send(&what, &[], || self.request(Method::GET, &url))
            .await?;
        let text = r.text();
        text.trim_start_matches('\u{feff}')
            .trim()
            .parse()
            .map_err(|_| SyncError::Protocol {
                what,
                message: format!("$count is not a number: {text:?}"),
            })
    }

    /// `POST /indexes/{name}/docs/search` with a JSON body; returns `value`.
    pub async fn search(&self, body: &Value) -> Result<Vec<Map<String, Value>>> {
        let url = self.url(&format!("indexes/{}/docs/search", self.index));
        let what = format!("search {}", self.label());
        let r = self
            .send(&what, &[], || self.request(Method::POST, &url).json(body))
            .await?;
        #[derive(Deserialize)]
        struct Page {
            value: Vec<Map<String, Value>>,
        }
        Ok(r.json::<Page>(&what)?.value)
    }

    /// `POST /indexes/{name}/docs/index` with a ready body. Whole-request
    /// throttling (429/503) is retried here; per-document results (200/207)
    /// go back to the caller.
    pub async fn index_batch(&self, body: bytes::Bytes) -> Result<Vec<IndexingResult>> {
        let url = self.url(&format!("indexes/{}/docs/index", self.index));
        let what = format!("index documents {}", self.label());
        let r = self
            .send(&what, &[], || {
                self.request(Method::POST, &url)
                    .header("content-type", "application/json")
                    .body(body.clone())
            })
            .await?;
        #[derive(Deserialize)]
        struct Results {
            value: Vec<IndexingResult>,
        }
        Ok(r.json::<Results>(&what)?.value)
    }
}

/// A definition without `@odata.*` annotations (etag, context), which a PUT
/// to another service must not carry.
pub fn strip_annotations(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| !k.starts_with("@odata."))
                .map(|(k, v)| (k.clone(), strip_annotations(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_annotations).collect()),
        other => other.clone(),
    }
}
