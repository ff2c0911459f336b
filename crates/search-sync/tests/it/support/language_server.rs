//! A local stand-in for an Azure AI Language resource's custom question
//! answering API. No emulator exists, so this implements the documented
//! REST subset (api-version 2021-10-01) from the reference's payloads:
//! POST .../projects/{p}/:export and :import (202 + Operation-Location,
//! job states notStarted/running/succeeded/failed, `resultUrl` for
//! exports), PUT .../projects/{p}/deployments/{d} (202 + job), and
//! POST /language/:query-knowledgebases (answers with id and
//! confidenceScore; id -1 when nothing matches). Jobs report "running" on
//! their first poll, so the client must really follow them.

#![allow(dead_code)]
// Handlers return `Result<_, Response>` the axum way; size does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

pub const API_VERSION: &str = "2021-10-01";
pub const KEY: &str = "test-language-key";

pub struct Job {
    polls: usize,
    outcome: Result<Option<Value>, String>,
}

#[derive(Default)]
pub struct Inner {
    pub base: String,
    /// Project name -> the project as exported (metadata + assets).
    pub projects: HashMap<String, Value>,
    /// (project, deployment) -> the QnAs it serves.
    pub deployments: HashMap<(String, String), Vec<Value>>,
    pub jobs: HashMap<String, Job>,
    pub next_job: usize,
    /// Requests seen, as "METHOD path".
    pub log: Vec<String>,
    /// When set, the next import job fails with this message.
    pub fail_import: Option<String>,
}

#[derive(Clone, Default)]
pub struct FakeLanguage(pub Arc<Mutex<Inner>>);

impl FakeLanguage {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap()
    }

    pub async fn start(&self) -> String {
        let app = Router::new()
            .route(
                "/language/query-knowledgebases/projects/{p}/{action}",
                post(project_action),
            )
            .route(
                "/language/query-knowledgebases/projects/{p}/deployments/{d}",
                put(deploy),
            )
            .route(
                "/language/query-knowledgebases/projects/{p}/{kind}/jobs/{id}",
                get(job),
            )
            .route(
                "/language/query-knowledgebases/projects/{p}/deployments/{d}/jobs/{id}",
                get(deploy_job),
            )
            .route(
                "/language/query-knowledgebases/projects/{p}/export/jobs/{id}/result",
                get(export_result),
            )
            .route("/language/{op}", post(query))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        self.lock().base = base.clone();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        base
    }

    /// A project with one QnA per (id, question, answer).
    pub fn add_project(&self, name: &str, qnas: &[(i64, &str, &str)]) {
        let qnas: Vec<Value> = qnas
            .iter()
            .map(|(id, q, a)| {
                json!({"id": id, "answer": a, "source": "Editorial", "questions": [q],
                       "metadata": {}, "dialog": {"isContextOnly": false, "prompts": []}})
            })
            .collect();
        let project = json!({
            "metadata": {"description": "test", "language": "en", "multilingualResource": false,
                          "settings": {"defaultAnswer": "No answer found"}},
            "assets": {"synonyms": [], "qnas": qnas}
        });
        self.lock().projects.insert(name.to_string(), project);
    }

    /// Deploy a project directly (not through HTTP).
    pub fn deploy_now(&self, project: &str, deployment: &str) {
        let mut g = self.lock();
        let qnas = g.projects[project]["assets"]["qnas"]
            .as_array()
            .unwrap()
            .clone();
        g.deployments
            .insert((project.to_string(), deployment.to_string()), qnas);
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn gate(headers: &HeaderMap, q: &HashMap<String, String>) -> Result<(), Response> {
    if headers
        .get("ocp-apim-subscription-key")
        .and_then(|v| v.to_str().ok())
        != Some(KEY)
    {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "401",
            "Access denied due to invalid subscription key",
        ));
    }
    if q.get("api-version").map(String::as_str) != Some(API_VERSION) {
        return Err(error(StatusCode::NOT_FOUND, "404", "Resource not found"));
    }
    Ok(())
}

fn new_job(g: &mut Inner, outcome: Result<Option<Value>, String>) -> String {
    g.next_job += 1;
    let id = format!("job-{}", g.next_job);
    g.jobs.insert(id.clone(), Job { polls: 0, outcome });
    id
}

fn accepted(location: String) -> Response {
    let mut r = StatusCode::ACCEPTED.into_response();
    r.headers_mut()
        .insert("operation-location", location.parse().unwrap());
    r
}

async fn project_action(
    State(s): State<FakeLanguage>,
    Path((p, action)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    if let Err(r) = gate(&headers, &q) {
        return r;
    }
    let mut g = s.lock();
    g.log.push(format!("POST {p}/{action}"));
    if q.get("format").map(String::as_str) != Some("json") {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "this server speaks format=json",
        );
    }
    match action.as_str() {
        ":export" => {
            if !g.projects.contains_key(&p) {
                return error(StatusCode::NOT_FOUND, "ProjectNotFound", "no such project");
            }
            let id = new_job(&mut g, Ok(None));
            let loc = format!(
                "{}/language/query-knowledgebases/projects/{p}/export/jobs/{id}?api-version={API_VERSION}",
                g.base
            );
            accepted(loc)
        }
        ":import" => {
            let Some(Json(project)) = body else {
                return error(StatusCode::BAD_REQUEST, "InvalidArgument", "no body");
            };
            if !project["assets"]["qnas"].is_array() {
                return error(StatusCode::BAD_REQUEST, "InvalidArgument", "no assets.qnas");
            }
            let outcome = match g.fail_import.take() {
                Some(m) => Err(m),
                None => {
                    g.projects.insert(p.clone(), project);
                    Ok(None)
                }
            };
            let id = new_job(&mut g, outcome);
            let loc = format!(
                "{}/language/query-knowledgebases/projects/{p}/import/jobs/{id}?api-version={API_VERSION}",
                g.base
            );
            accepted(loc)
        }
        _ => error(StatusCode::NOT_FOUND, "404", "unknown action"),
    }
}

async fn deploy(
    State(s): State<FakeLanguage>,
    Path((p, d)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&headers, &q) {
        return r;
    }
    let mut g = s.lock();
    g.log.push(format!("PUT {p}/deployments/{d}"));
    let Some(project) = g.projects.get(&p) else {
        return error(StatusCode::NOT_FOUND, "ProjectNotFound", "no such project");
    };
    let qnas = project["assets"]["qnas"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    g.deployments.insert((p.clone(), d.clone()), qnas);
    let id = new_job(&mut g, Ok(None));
    let loc = format!(
        "{}/language/query-knowledgebases/projects/{p}/deployments/{d}/jobs/{id}?api-version={API_VERSION}",
        g.base
    );
    accepted(loc)
}

fn job_state(g: &mut Inner, p: &str, kind: &str, id: &str) -> Response {
    let base = g.base.clone();
    let Some(job) = g.jobs.get_mut(id) else {
        return error(StatusCode::NOT_FOUND, "NotFound", "no such job");
    };
    job.polls += 1;
    let mut state = json!({
        "jobId": id, "createdDateTime": "2021-05-01T17:21:14Z",
        "lastUpdatedDateTime": "2021-05-01T17:21:14Z",
        "expirationDateTime": "2021-05-02T17:21:14Z", "errors": []
    });
    if job.polls == 1 {
        state["status"] = json!("running");
    } else {
        match &job.outcome {
            Ok(_) => {
                state["status"] = json!("succeeded");
                if kind == "export" {
                    state["resultUrl"] = json!(format!(
                        "{base}/language/query-knowledgebases/projects/{p}/export/jobs/{id}/result?api-version={API_VERSION}"
                    ));
                }
            }
            Err(m) => {
                state["status"] = json!("failed");
                state["errors"] = json!([{"code": "InvalidRequest", "message": m}]);
            }
        }
    }
    let mut r = Json(state).into_response();
    r.headers_mut().insert("retry-after", "0".parse().unwrap());
    r
}

async fn job(
    State(s): State<FakeLanguage>,
    Path((p, kind, id)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&headers, &q) {
        return r;
    }
    let mut g = s.lock();
    g.log.push(format!("GET {p}/{kind}/jobs/{id}"));
    job_state(&mut g, &p, &kind, &id)
}

async fn deploy_job(
    State(s): State<FakeLanguage>,
    Path((p, _d, id)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&headers, &q) {
        return r;
    }
    let mut g = s.lock();
    job_state(&mut g, &p, "deploy", &id)
}

async fn export_result(
    State(s): State<FakeLanguage>,
    Path((p, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&headers, &q) {
        return r;
    }
    let g = s.lock();
    if !g.jobs.contains_key(&id) {
        return error(StatusCode::NOT_FOUND, "NotFound", "no such job");
    }
    match g.projects.get(&p) {
        Some(project) => Json(project.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "ProjectNotFound", "no such project"),
    }
}

async fn query(
    State(s): State<FakeLanguage>,
    Path(op): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = gate(&headers, &q) {
        return r;
    }
    if op != ":query-knowledgebases" {
        return error(StatusCode::NOT_FOUND, "404", "unknown operation");
    }
    let (Some(p), Some(d)) = (q.get("projectName"), q.get("deploymentName")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "projectName and deploymentName are required",
        );
    };
    let Some(question) = body.get("question").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "question is required",
        );
    };
    let g = s.lock();
    let Some(qnas) = g.deployments.get(&(p.clone(), d.clone())) else {
        return error(
            StatusCode::NOT_FOUND,
            "DeploymentNotFound",
            "no such deployment",
        );
    };
    let hit = qnas.iter().find(|qna| {
        qna["questions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(question)))
    });
    let answer = match hit {
        Some(qna) => json!({"questions": qna["questions"], "answer": qna["answer"],
                            "confidenceScore": 1.0, "id": qna["id"], "source": qna["source"],
                            "metadata": qna["metadata"], "dialog": qna["dialog"]}),
        None => json!({"questions": [], "answer": "No answer found", "confidenceScore": 0.0,
                       "id": -1, "metadata": {}}),
    };
    Json(json!({"answers": [answer]})).into_response()
}
