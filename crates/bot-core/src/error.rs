//! What can go wrong in a turn. The service maps these to HTTP statuses in
//! its one error module; causes are kept as sources.

use std::time::Duration;

use bot_schema::SchemaError;
use bot_storage::StorageError;
use qna::QnaError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("state storage: {0}")]
    Storage(#[from] StorageError),
    #[error("question answering: {0}")]
    Qna(#[from] QnaError),
    #[error("turn for conversation {conversation:?} still conflicted after {attempts} attempts")]
    TooManyConflicts { conversation: String, attempts: u32 },
    /// The channel did not accept every reply in time. They are kept with
    /// the turn, so the channel's retry of the activity gets them (and the
    /// turn does not run again).
    #[error("the channel did not accept the replies in time; they are kept and sent again when the activity is redelivered")]
    RepliesPending(#[source] SchemaError),
    /// Another instance holds the claim on sending this conversation's
    /// replies, for this long still.
    #[error(
        "another instance is sending this conversation's replies; retry after {retry_after:?}"
    )]
    RepliesClaimed { retry_after: Duration },
}
