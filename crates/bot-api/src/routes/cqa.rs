//! Serve mode: the Azure AI Language question-answering runtime API,
//! `POST /language/:query-knowledgebases?projectName=&deploymentName=&api-version=2021-10-01`,
//! answered from this service's answerer (the embedded KB by default), so
//! a region can host its own answer service and CQA clients (ours, or
//! botbuilder-ai's CustomQuestionAnswering) work against it unchanged.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use bytes::Bytes;
use qna::cqa::wire::{Answer, QueryRequest, QueryResponse};

use crate::app_state::AppState;
use crate::error::ApiError;

pub async fn query_knowledgebases(
    State(app): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<QueryResponse>, ApiError> {
    if let Some(expected) = &app.settings.qna_serve_key {
        let given = headers
            .get("ocp-apim-subscription-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !super::keys::matches(given.as_bytes(), expected) {
            return Err(ApiError::Unauthorized(
                "Access denied due to invalid subscription key: send Ocp-Apim-Subscription-Key"
                    .into(),
            ));
        }
    }
    for name in ["projectName", "api-version"] {
        if params.get(name).is_none_or(|v| v.is_empty()) {
            return Err(ApiError::BadRequest(format!(
                "the query parameter {name} is required"
            )));
        }
    }
    let request: QueryRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the request body is not a valid query: {e}")))?;
    let query = request.to_query().map_err(ApiError::BadRequest)?;
    let answers = app.bot().answerer().answer(&query).await?;
    Ok(Json(QueryResponse {
        answers: answers.iter().map(Answer::from_answer).collect(),
    }))
}
