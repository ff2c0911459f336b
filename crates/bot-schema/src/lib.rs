#![recursion_limit = "256"]
//! Bot Framework protocol: the Activity schema as botframework-schema spells
//! it, what each channel can show, and the Connector REST client (replies,
//! updates, deletes, members, new conversations).

pub mod activity;
pub mod cards;
pub mod channels;
pub mod connector;
pub mod conversations;
pub mod error;
pub mod mention;
pub mod retry;

pub use activity::{
    activity_types, Activity, ChannelAccount, ConversationAccount, ConversationReference,
    DeliveryMode,
};
pub use cards::{Attachment, CardAction, HeroCard, SuggestedActions};
pub use channels::Capabilities;
pub use connector::{ConnectorClient, CredentialProvider, NoCredentials, ResourceResponse};
pub use conversations::{ConversationParameters, ConversationResourceResponse};
pub use error::SchemaError;
pub use retry::{RetryPolicy, Verdict};
