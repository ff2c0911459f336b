//! Bot Framework channel security.
//!
//! - [`inbound`]: validating the `Authorization: Bearer <JWT>` a channel (or
//!   the Emulator, or a skill caller) sends with every activity.
//! - [`openid`]: the signing keys behind those tokens, from OpenID metadata,
//!   cached and rotated.
//! - [`credentials`]: the bot's own tokens for replies, as a
//!   [`bot_schema::CredentialProvider`].
//! - [`service_url`]: the allow-list of hosts replies may be sent to.
//! - [`tenants`]: the Teams tenants a bot serves.

pub mod credentials;
pub mod error;
pub mod header;
pub mod inbound;
pub mod openid;
pub mod service_url;
pub mod tenants;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use credentials::{AppCredentials, AppIdentity};
pub use error::AuthError;
pub use inbound::{ChannelValidator, Identity, InboundConfig, TokenKind};
pub use service_url::ServiceUrlPolicy;

/// Bot Framework's public constants, the defaults of the settings that
/// sovereign clouds and tests override.
pub mod constants {
    /// Issuer of the tokens channels send.
    pub const CHANNEL_ISSUER: &str = "https://api.botframework.com";
    pub const CHANNEL_OPENID_METADATA_URL: &str =
        "https://login.botframework.com/v1/.well-known/openidconfiguration";
    pub const EMULATOR_OPENID_METADATA_URL: &str =
        "https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration";
    /// The two Bot Framework tenants whose tokens the Emulator and skills use.
    pub const BOT_FRAMEWORK_TENANTS: [&str; 2] = [
        "d6d49420-f39b-4df7-a1dc-d59a935871db",
        "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
    ];
    pub const LOGIN_AUTHORITY: &str = "https://login.microsoftonline.com";
    /// The US Government cloud's Bot Framework tenants, as botbuilder's
    /// `ToBotFromBotOrEmulatorTokenValidationParameters` lists them.
    pub const US_GOVERNMENT_TENANTS: [&str; 2] = [
        "cab8a31a-1906-4287-a0d8-4eef66b95f6e",
        "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
    ];
    /// The tenant a MultiTenant bot gets its reply tokens from.
    pub const MULTI_TENANT: &str = "botframework.com";
    pub const TOKEN_SCOPE: &str = "https://api.botframework.com/.default";
    /// botbuilder's `CallerIdConstants`: the callerId of activities from
    /// the public cloud's channels, and the prefix of another bot's.
    pub const CALLER_ID_PUBLIC_CLOUD: &str = "urn:botframework:azure";
    pub const CALLER_ID_BOT_PREFIX: &str = "urn:botframework:aadappid:";
    /// Hosts replies may go to by default: every Bot Framework channel
    /// (`*.botframework.com`), Teams (public, GCC, GCC High, DoD) and the US
    /// Government Bot Framework cloud.
    pub const DEFAULT_SERVICE_HOSTS: [&str; 6] = [
        "*.botframework.com",
        "smba.trafficmanager.net",
        "smba.infra.gcc.teams.microsoft.com",
        "smba.infra.gov.teams.microsoft.us",
        "smba.infra.dod.teams.microsoft.us",
        "*.botframework.azure.us",
    ];
}
