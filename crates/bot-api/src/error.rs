//! The service's one error type and its mapping to HTTP statuses. Every
//! error a request can meet is turned into a status here and nowhere else.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bot_auth::AuthError;
use bot_core::CoreError;
use bot_storage::StorageError;
use qna::QnaError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("unsupported content type {0:?}: send application/json")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("state storage: {0}")]
    Storage(#[from] StorageError),
    #[error("question answering: {0}")]
    Qna(#[from] QnaError),
    #[error("the service is shutting down")]
    ShuttingDown,
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("admin routes need a valid X-Admin-Key header")]
    AdminUnauthorized,
    /// A turn's failure, causes kept. Storage and KB failures become their
    /// own variants on the way in; the rest are the turn's own outcomes
    /// (conflicts, replies pending).
    #[error(transparent)]
    Core(CoreError),
    /// Local Direct Line: an unknown (or evicted) conversation, or a route
    /// that needs a setting that is not set.
    #[error("{0}")]
    NotFound(String),
    /// Local Direct Line: the bot did not accept the activity it delivered.
    #[error("the bot answered the activity with {status}: {detail}")]
    BotFailed { status: u16, detail: String },
    /// Local Direct Line: its own SQLite file could not be used.
    #[error("{0}")]
    DirectLineStore(String),
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Storage(s) => ApiError::Storage(s),
            CoreError::Qna(q) => ApiError::Qna(q),
            other => ApiError::Core(other),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Storage(StorageError::Unavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Storage(StorageError::Conflict { .. }) => StatusCode::CONFLICT,
            ApiError::Storage(StorageError::InvalidKey { .. } | StorageError::TooLarge { .. }) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Storage(_) => StatusCode::BAD_GATEWAY,
            ApiError::Qna(QnaError::InvalidQuery(_)) => StatusCode::BAD_REQUEST,
            ApiError::Qna(QnaError::NotSupported(_)) => StatusCode::CONFLICT,
            // A KB file that does not parse (admin reload): the old KB serves on.
            ApiError::Qna(QnaError::Parse { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
            // The remote service refused a request we built: our fault, not the caller's.
            ApiError::Qna(QnaError::Rejected { .. }) => StatusCode::BAD_GATEWAY,
            ApiError::Qna(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Auth(
                AuthError::MissingHeader
                | AuthError::MalformedHeader(_)
                | AuthError::InvalidToken(_),
            ) => StatusCode::UNAUTHORIZED,
            ApiError::Auth(AuthError::Forbidden(_) | AuthError::ServiceUrlNotAllowed { .. }) => {
                StatusCode::FORBIDDEN
            }
            ApiError::Auth(AuthError::KeysUnavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Auth(AuthError::TokenEndpoint { .. }) => StatusCode::BAD_GATEWAY,
            ApiError::Auth(AuthError::Config(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::AdminUnauthorized => StatusCode::UNAUTHORIZED,
            // The channel retries 5xx; a retry after the contention passes
            // will succeed, so this is "try again", not a server fault.
            ApiError::Core(CoreError::TooManyConflicts { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Core(CoreError::RepliesPending(_)) => StatusCode::BAD_GATEWAY,
            ApiError::Core(CoreError::RepliesClaimed { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Core(
                CoreError::ConversationNotFound { .. } | CoreError::NotHandedOff { .. },
            ) => StatusCode::NOT_FOUND,
            ApiError::Core(CoreError::InvalidActivity(_)) => StatusCode::BAD_REQUEST,
            // The channel refused an operator's message, or never answered.
            ApiError::Core(CoreError::Undelivered(_)) => StatusCode::BAD_GATEWAY,
            // Converted to their own variants on the way in.
            ApiError::Core(CoreError::Storage(_) | CoreError::Qna(_)) => StatusCode::BAD_GATEWAY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            // As Azure's Direct Line answers when the bot fails.
            ApiError::BotFailed { .. } => StatusCode::BAD_GATEWAY,
            ApiError::DirectLineStore(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BadArgument",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::NotImplemented(_) => "NotImplemented",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::Core(CoreError::TooManyConflicts { .. }) => "TooManyConflicts",
            ApiError::Storage(_) => "StorageError",
            ApiError::Qna(_) => "QnaError",
            ApiError::ShuttingDown => "ShuttingDown",
            ApiError::Core(CoreError::RepliesPending(_) | CoreError::RepliesClaimed { .. }) => {
                "RepliesPending"
            }
            ApiError::Core(CoreError::Storage(_)) => "StorageError",
            ApiError::Core(CoreError::ConversationNotFound { .. }) => "ConversationNotFound",
            ApiError::Core(CoreError::NotHandedOff { .. }) => "NotHandedOff",
            ApiError::Core(CoreError::InvalidActivity(_)) => "BadArgument",
            ApiError::Core(CoreError::Undelivered(_)) => "ChannelError",
            ApiError::Core(CoreError::Qna(_)) => "QnaError",
            ApiError::NotFound(_) => "NotFound",
            ApiError::BotFailed { .. } => "BotError",
            ApiError::DirectLineStore(_) => "StoreError",
            ApiError::Auth(AuthError::ServiceUrlNotAllowed { .. }) => "ServiceUrlNotAllowed",
            ApiError::Auth(AuthError::KeysUnavailable { .. }) => "AuthUnavailable",
            ApiError::Auth(_) | ApiError::AdminUnauthorized => match self.status() {
                StatusCode::FORBIDDEN => "Forbidden",
                StatusCode::UNAUTHORIZED => "Unauthorized",
                _ => "AuthError",
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Core(CoreError::RepliesPending(cause)) = &self {
            tracing::warn!(error = %cause, status = status.as_u16(), "replies kept for a redelivery");
        } else if let ApiError::Core(CoreError::Undelivered(cause)) = &self {
            // The answer names no address; the log does.
            tracing::error!(error = %cause, status = status.as_u16(), "an operator's message was not delivered");
        } else if status.is_server_error() {
            tracing::error!(error = %self, status = status.as_u16(), "request failed");
        } else if matches!(self, ApiError::Auth(_) | ApiError::AdminUnauthorized) {
            // Refused callers are what an operator investigates: always logged.
            tracing::warn!(error = %self, status = status.as_u16(), "request refused");
        } else {
            tracing::debug!(error = %self, status = status.as_u16(), "request rejected");
        }
        let mut resp = (
            status,
            Json(json!({"error": {"code": self.code(), "message": self.public_message()}})),
        )
            .into_response();
        if let ApiError::Core(CoreError::RepliesClaimed { retry_after }) = &self {
            let secs = retry_after.as_secs() + 1;
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if status == StatusCode::UNAUTHORIZED && matches!(self, ApiError::Auth(_)) {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl ApiError {
    /// What the caller reads. A 4xx says what to fix, so it is the error
    /// itself; a dependency's 5xx says which dependency and what to do, and
    /// keeps the cause (endpoints, account and container names, the SDK's
    /// text) for the log above, where an operator finds it by request.
    fn public_message(&self) -> String {
        if !self.status().is_server_error() {
            return self.to_string();
        }
        let fixed = match self {
            ApiError::Storage(StorageError::Unavailable { .. }) => {
                "state storage is unavailable; the turn was not run, send it again"
            }
            ApiError::Storage(_) | ApiError::Core(CoreError::Storage(_)) => {
                "state storage failed; the turn was not run"
            }
            ApiError::Qna(_) | ApiError::Core(CoreError::Qna(_)) => {
                "question answering is unavailable; the turn was not run, send it again"
            }
            ApiError::Core(CoreError::RepliesPending(_)) => {
                "the channel did not accept every reply; the rest are kept and sent on redelivery"
            }
            ApiError::Auth(AuthError::KeysUnavailable { .. }) => {
                "the channel's signing keys could not be fetched; send it again"
            }
            ApiError::Auth(AuthError::TokenEndpoint { .. }) => {
                "the bot could not obtain its own token to answer the channel"
            }
            ApiError::Auth(_) => "the bot's authentication settings are not usable",
            ApiError::DirectLineStore(_) => "the local Direct Line store failed",
            // Their own text names no internal address.
            _ => return self.to_string(),
        };
        fixed.to_string()
    }
}
