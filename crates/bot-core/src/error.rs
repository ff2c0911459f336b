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
    /// No activity of this conversation ever reached the bot, so there is
    /// no reference to post into it with.
    #[error("no conversation {conversation:?} on channel {channel:?} is known to this bot: a conversation is known once the bot has received an activity in it")]
    ConversationNotFound {
        channel: String,
        conversation: String,
    },
    #[error("conversation {conversation:?} on channel {channel:?} is not handed off to a person")]
    NotHandedOff {
        channel: String,
        conversation: String,
    },
    /// An activity an operator asked to send that cannot be sent as it is.
    #[error("{0}")]
    InvalidActivity(String),
    /// The channel did not accept an operator's activity (the cause, with
    /// the channel's address, is kept as the source, not shown to callers).
    #[error("the channel did not accept the activity: {}", undelivered(.0))]
    Undelivered(#[source] SchemaError),
}

/// What went wrong with a Connector call, without the channel's address.
fn undelivered(e: &SchemaError) -> String {
    match e {
        SchemaError::Status { status, .. } => format!("it answered {status}"),
        SchemaError::Transport { .. } => "it did not answer within the retry budget".into(),
        SchemaError::Credentials(_) => "no token could be had for the bot".into(),
        SchemaError::InvalidServiceUrl { .. } | SchemaError::MissingField(_) => {
            "its address is not usable".into()
        }
        SchemaError::Encode(_) => "the activity could not be encoded".into(),
        SchemaError::Decode { .. } => "its answer could not be read".into(),
    }
}
