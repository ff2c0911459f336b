use thiserror::Error;

/// Everything that can go wrong authenticating a request or getting a token.
/// The service maps each variant to an HTTP status in one place.
#[derive(Debug, Clone, Error)]
pub enum AuthError {
    /// No `Authorization` header at all.
    #[error("missing Authorization header: channels must send a Bearer token")]
    MissingHeader,
    /// A header that is not `Bearer <JWT>`, or a token that is not a JWT we
    /// would ever accept (checked before any key is fetched).
    #[error("malformed Authorization header: {0}")]
    MalformedHeader(String),
    /// A well-formed token that is not authentic or not current: unknown
    /// issuer or key, bad signature, expired, not yet valid.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// An authentic token that fails a claim rule (audience, serviceurl,
    /// endorsement, caller).
    #[error("token not accepted: {0}")]
    Forbidden(String),
    /// Replies would go to a host that is not on the allow-list.
    #[error("serviceUrl {url:?} is not allowed: {reason}")]
    ServiceUrlNotAllowed { url: String, reason: String },
    /// The OpenID metadata or the signing keys could not be fetched.
    #[error("signing keys unavailable from {url}: {reason}")]
    KeysUnavailable { url: String, reason: String },
    /// The token endpoint (Entra or the managed identity) failed.
    #[error("token endpoint {url} failed: {reason}")]
    TokenEndpoint { url: String, reason: String },
    #[error("auth configuration: {0}")]
    Config(String),
}
