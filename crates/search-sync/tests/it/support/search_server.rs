//! A local stand-in for Azure AI Search. No emulator of the service exists,
//! so this implements the documented REST subset the client uses, from the
//! REST reference's request and response payloads (api-version 2024-07-01):
//! GET/PUT /indexes/{name}, GET /synonymmaps, PUT /synonymmaps/{name},
//! GET /indexes/{name}/docs/$count, POST /indexes/{name}/docs/search and
//! POST /indexes/{name}/docs/index.
//!
//! It enforces the real limits the client relies on, so a passing test
//! proves the client stays inside them: `$top` at most 1000, `$skip` at most
//! 100,000, at most 1000 actions and 16 MB per indexing batch, no `$select`
//! of a non-retrievable field, the `api-key` header and the api-version.
//! Faults (503s, per-document 207 failures) are injected on demand.

#![allow(dead_code)]
// Handlers return `Result<_, Response>` the axum way; size does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

pub const API_VERSION: &str = "2024-07-01";
pub const KEY: &str = "test-admin-key";
const MAX_TOP: usize = 1000;
const MAX_SKIP: usize = 100_000;
const MAX_BATCH: usize = 1000;
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

pub type Doc = Map<String, Value>;

pub struct FakeIndex {
    pub definition: Value,
    pub key: String,
    pub hidden: HashSet<String>,
    pub docs: BTreeMap<String, Doc>,
}

/// Which route a fault applies to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Route {
    Search,
    Index,
}

/// After `after` successful requests to `route`, the next `times` requests
/// answer `status` (with `Retry-After: retry_after` when given).
#[derive(Clone, Debug)]
pub struct Fault {
    pub route: Route,
    pub after: usize,
    pub times: usize,
    pub status: u16,
    pub retry_after: Option<&'static str>,
}

#[derive(Default)]
pub struct Inner {
    pub indexes: HashMap<String, FakeIndex>,
    pub synonym_maps: BTreeMap<String, Value>,
    pub faults: Vec<Fault>,
    /// Key -> how many more times its indexing action fails with 503 (207).
    pub flaky_keys: HashMap<String, usize>,
    /// Keys whose indexing action always fails with 400 (bad document).
    pub bad_keys: HashSet<String>,
    pub served: HashMap<&'static str, usize>,
    /// Every search body received, in order.
    pub searches: Vec<Value>,
    /// Per indexing request: the keys it carried.
    pub batches: Vec<Vec<String>>,
    pub largest_batch_bytes: usize,
}

#[derive(Clone, Default)]
pub struct FakeSearch(pub Arc<Mutex<Inner>>);

impl FakeSearch {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap()
    }

    /// Create an index straight in the store (not through HTTP).
    pub fn create_index(&self, definition: Value) {
        let (name, idx) = build_index(definition, None).unwrap();
        self.lock().indexes.insert(name, idx);
    }

    pub fn insert_docs(&self, index: &str, docs: impl IntoIterator<Item = Doc>) {
        let mut g = self.lock();
        let idx = g.indexes.get_mut(index).unwrap();
        for d in docs {
            let k = d[&idx.key].as_str().unwrap().to_string();
            idx.docs.insert(k, d);
        }
    }

    pub fn docs(&self, index: &str) -> BTreeMap<String, Doc> {
        self.lock().indexes[index].docs.clone()
    }

    pub fn doc_count(&self, index: &str) -> usize {
        self.lock().indexes.get(index).map_or(0, |i| i.docs.len())
    }

    pub fn served(&self, route: &'static str) -> usize {
        self.lock().served.get(route).copied().unwrap_or(0)
    }

    pub async fn start(&self) -> String {
        let app = Router::new()
            .route("/indexes/{name}", get(get_index).put(put_index))
            .route("/synonymmaps", get(list_synonyms))
            .route("/synonymmaps/{name}", axum::routing::put(put_synonym))
            .route("/indexes/{name}/docs/$count", get(count))
            .route("/indexes/{name}/docs/search", post(search))
            .route("/indexes/{name}/docs/index", post(index_docs))
            // Our own check below answers 413 past 16 MB, like the service.
            .layer(DefaultBodyLimit::max(MAX_BATCH_BYTES + 1024 * 1024))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        format!("http://{addr}")
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({"error": {"code": "", "message": message.into()}});
    (status, Json(body)).into_response()
}

/// Checks every request makes: key and api-version; then injected faults.
fn gate(
    s: &FakeSearch,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    route: Option<Route>,
) -> Result<(), Response> {
    if headers.get("api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return Err(error(StatusCode::FORBIDDEN, "invalid api-key"));
    }
    if q.get("api-version").map(String::as_str) != Some(API_VERSION) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "missing or unknown api-version",
        ));
    }
    let Some(route) = route else { return Ok(()) };
    let mut g = s.lock();
    let name = match route {
        Route::Search => "search",
        Route::Index => "index",
    };
    let seen = *g.served.get(name).unwrap_or(&0);
    for f in g.faults.iter_mut() {
        if f.route == route && seen >= f.after && f.times > 0 {
            f.times -= 1;
            let mut r = error(
                StatusCode::from_u16(f.status).unwrap(),
                "Service Unavailable (injected)",
            );
            if let Some(ra) = f.retry_after {
                r.headers_mut().insert("retry-after", ra.parse().unwrap());
            }
            return Err(r);
        }
    }
    *g.served.entry(name).or_insert(0) += 1;
    Ok(())
}

fn build_index(mut def: Value, name: Option<&str>) -> Result<(String, FakeIndex), String> {
    if let Some(n) = name {
        if def.get("name").and_then(Value::as_str) != Some(n) {
            return Err("the name in the body must match the URL".into());
        }
    }
    let name = def["name"].as_str().ok_or("no name")?.to_string();
    let fields = def["fields"].as_array().ok_or("no fields")?;
    let keys: Vec<&Value> = fields.iter().filter(|f| f["key"] == true).collect();
    if keys.len() != 1 {
        return Err("exactly one key field is required".into());
    }
    let key = keys[0]["name"]
        .as_str()
        .ok_or("key without name")?
        .to_string();
    let hidden = fields
        .iter()
        .filter(|f| f["retrievable"] == false)
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect();
    if let Some(o) = def.as_object_mut() {
        o.insert("@odata.etag".into(), json!("\"0x1\""));
    }
    Ok((
        name,
        FakeIndex {
            definition: def,
            key,
            hidden,
            docs: BTreeMap::new(),
        },
    ))
}

async fn get_index(
    State(s): State<FakeSearch>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &headers, &q, None) {
        return r;
    }
    match s.lock().indexes.get(&name) {
        Some(i) => Json(i.definition.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("No index with the name '{name}'"),
        ),
    }
}

async fn put_index(
    State(s): State<FakeSearch>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(def): Json<Value>,
) -> Response {
    if let Err(r) = gate(&s, &headers, &q, None) {
        return r;
    }
    if def.get("@odata.etag").is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "unexpected @odata.etag in the body",
        );
    }
    let (name, fresh) = match build_index(def, Some(&name)) {
        Ok(x) => x,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let mut g = s.lock();
    match g.indexes.get_mut(&name) {
        Some(existing) => {
            if existing.key != fresh.key {
                return error(StatusCode::BAD_REQUEST, "the key field cannot change");
            }
            existing.definition = fresh.definition;
            existing.hidden = fresh.hidden;
            StatusCode::NO_CONTENT.into_response()
        }
        None => {
            g.indexes.insert(name, fresh);
            StatusCode::CREATED.into_response()
        }
    }
}

async fn list_synonyms(
    State(s): State<FakeSearch>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &headers, &q, None) {
        return r;
    }
    let value: Vec<Value> = s.lock().synonym_maps.values().cloned().collect();
    Json(json!({"value": value})).into_response()
}

async fn put_synonym(
    State(s): State<FakeSearch>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(map): Json<Value>,
) -> Response {
    if let Err(r) = gate(&s, &headers, &q, None) {
        return r;
    }
    if map.get("name").and_then(Value::as_str) != Some(name.as_str())
        || map.get("format").and_then(Value::as_str) != Some("solr")
        || !map.get("synonyms").is_some_and(Value::is_string)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "a synonym map needs name, format solr, synonyms",
        );
    }
    let created = s.lock().synonym_maps.insert(name, map).is_none();
    if created {
        StatusCode::CREATED.into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

async fn count(
    State(s): State<FakeSearch>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &headers, &q, None) {
        return r;
    }
    match s.lock().indexes.get(&name) {
        // The service answers text/plain, with a byte-order mark.
        Some(i) => format!("\u{feff}{}", i.docs.len()).into_response(),
        None => error(StatusCode::NOT_FOUND, "no such index"),
    }
}

/// `key gt 'literal'` is the only filter form this stand-in understands.
fn parse_filter(f: &str, key: &str) -> Result<String, String> {
    let rest = f
        .strip_prefix(key)
        .and_then(|r| r.strip_prefix(" gt '"))
        .and_then(|r| r.strip_suffix('\''))
        .ok_or_else(|| format!("unsupported filter in this local server: {f}"))?;
    // Inside the literal, quotes come doubled.
    if rest.replace("''", "").contains('\'') {
        return Err("bad string literal".into());
    }
    Ok(rest.replace("''", "'"))
}

async fn search(
    State(s): State<FakeSearch>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = gate(&s, &headers, &q, Some(Route::Search)) {
        return r;
    }
    let mut g = s.lock();
    g.searches.push(body.clone());
    let Some(idx) = g.indexes.get(&name) else {
        return error(StatusCode::NOT_FOUND, "no such index");
    };
    let top = body.get("top").and_then(Value::as_u64).unwrap_or(50) as usize;
    let skip = body.get("skip").and_then(Value::as_u64).unwrap_or(0) as usize;
    if top > MAX_TOP {
        return error(
            StatusCode::BAD_REQUEST,
            format!("$top must be at most {MAX_TOP}"),
        );
    }
    if skip > MAX_SKIP {
        return error(
            StatusCode::BAD_REQUEST,
            format!("$skip must be between 0 and {MAX_SKIP}"),
        );
    }
    match body.get("search").and_then(Value::as_str) {
        None | Some("*") => {}
        Some(_) => return error(StatusCode::BAD_REQUEST, "only search=* is supported here"),
    }
    let select: Option<Vec<String>> = body
        .get("select")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "*")
        .map(|s| s.split(',').map(|f| f.trim().to_string()).collect());
    if let Some(sel) = &select {
        let known: HashSet<&str> = idx.definition["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["name"].as_str())
            .collect();
        for f in sel {
            if !known.contains(f.as_str()) {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("unknown field '{f}' in $select"),
                );
            }
            if idx.hidden.contains(f) {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("field '{f}' is not retrievable and cannot be in $select"),
                );
            }
        }
    }
    let after = match body.get("filter").and_then(Value::as_str) {
        None => None,
        Some(f) => match parse_filter(f, &idx.key) {
            Ok(k) => Some(k),
            Err(m) => return error(StatusCode::BAD_REQUEST, m),
        },
    };
    let ordered = match body.get("orderby").and_then(Value::as_str) {
        None => false,
        Some(o) if o == format!("{} asc", idx.key) || o == idx.key => true,
        Some(o) => return error(StatusCode::BAD_REQUEST, format!("unsupported orderby {o}")),
    };
    let range: Box<dyn Iterator<Item = (&String, &Doc)>> = match &after {
        Some(k) => Box::new(
            idx.docs
                .range::<String, _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded)),
        ),
        None => Box::new(idx.docs.iter()),
    };
    // Without $orderby the service ranks by score, which for search=* is
    // arbitrary: here, reverse key order, so a client relying on it breaks.
    let docs: Vec<&Doc> = if ordered {
        range.skip(skip).take(top).map(|(_, d)| d).collect()
    } else {
        let all: Vec<&Doc> = range.map(|(_, d)| d).collect();
        all.into_iter().rev().skip(skip).take(top).collect()
    };
    let page = Page {
        value: docs
            .into_iter()
            .map(|doc| View {
                doc,
                hidden: &idx.hidden,
                select: select.as_ref(),
            })
            .collect(),
    };
    // Serialised straight from the store: cloning 250,000 documents per
    // copy would make the stand-in, not the client, the slow part.
    match serde_json::to_vec(&page) {
        Ok(body) => ([("content-type", "application/json")], body).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(serde::Serialize)]
struct Page<'a> {
    value: Vec<View<'a>>,
}

/// A stored document as a search returns it: hidden fields never, only the
/// selected ones, plus its score.
struct View<'a> {
    doc: &'a Doc,
    hidden: &'a HashSet<String>,
    select: Option<&'a Vec<String>>,
}

impl serde::Serialize for View<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.doc {
            if !self.hidden.contains(k) && self.select.is_none_or(|sel| sel.contains(k)) {
                m.serialize_entry(k, v)?;
            }
        }
        m.serialize_entry("@search.score", &1.0)?;
        m.end()
    }
}

async fn index_docs(
    State(s): State<FakeSearch>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&s, &headers, &q, Some(Route::Index)) {
        return r;
    }
    if body.len() > MAX_BATCH_BYTES {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request is larger than 16 MB",
        );
    }
    #[derive(serde::Deserialize)]
    struct Batch {
        value: Vec<Doc>,
    }
    let actions = match serde_json::from_slice::<Batch>(&body) {
        Ok(b) => b.value,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body needs a value array of objects: {e}"),
            )
        }
    };
    if actions.len() > MAX_BATCH {
        return error(
            StatusCode::BAD_REQUEST,
            format!("a batch may hold at most {MAX_BATCH} actions"),
        );
    }
    let mut g = s.lock();
    g.largest_batch_bytes = g.largest_batch_bytes.max(body.len());
    let Inner {
        indexes,
        flaky_keys,
        bad_keys,
        batches,
        ..
    } = &mut *g;
    let Some(idx) = indexes.get_mut(&name) else {
        return error(StatusCode::NOT_FOUND, "no such index");
    };
    let mut results = Vec::new();
    let mut keys = Vec::new();
    let mut all_ok = true;
    for mut obj in actions {
        let Some(key) = obj
            .get(&idx.key)
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return error(StatusCode::BAD_REQUEST, "an action without its key");
        };
        keys.push(key.clone());
        let action = match obj.remove("@search.action") {
            Some(Value::String(a)) => a,
            _ => "upload".to_string(),
        };
        let fail = if bad_keys.contains(&key) {
            Some((400, "The document is malformed (injected)"))
        } else if let Some(n) = flaky_keys.get_mut(&key).filter(|n| **n > 0) {
            *n -= 1;
            Some((503, "Throttled (injected)"))
        } else {
            None
        };
        if let Some((code, msg)) = fail {
            all_ok = false;
            results.push(
                json!({"key": key, "status": false, "errorMessage": msg, "statusCode": code}),
            );
            continue;
        }
        obj.retain(|k, _| !k.starts_with('@'));
        let mut doc = obj;
        let code = match action.as_str() {
            "upload" => {
                idx.docs.insert(key.clone(), doc);
                201
            }
            "mergeOrUpload" => match idx.docs.get_mut(&key) {
                Some(existing) => {
                    existing.append(&mut doc);
                    200
                }
                None => {
                    idx.docs.insert(key.clone(), doc);
                    201
                }
            },
            "delete" => {
                idx.docs.remove(&key);
                200
            }
            other => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("unsupported action {other}"),
                )
            }
        };
        results.push(json!({"key": key, "status": true, "errorMessage": null, "statusCode": code}));
    }
    batches.push(keys);
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    (status, Json(json!({"value": results}))).into_response()
}
