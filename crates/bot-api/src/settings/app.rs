//! The Bot Framework app registration, read from the environment by the
//! names botbuilder users know: `MicrosoftAppId`, `MicrosoftAppPassword`,
//! `MicrosoftAppType`, `MicrosoftAppTenantId`, and App Service's
//! `IDENTITY_ENDPOINT`/`IDENTITY_HEADER` for a managed identity.

use secrecy::SecretString;
use serde::Serialize;

use super::parse::redact;
use super::problems::{Checked, Problems};

/// `MicrosoftAppType`, compared without regard to case as botbuilder does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum AppType {
    /// Tokens from the botframework.com tenant (botbuilder's default).
    #[default]
    MultiTenant,
    /// Tokens from the bot's own tenant, `MicrosoftAppTenantId`.
    SingleTenant,
    /// Tokens from App Service's managed identity endpoint.
    #[serde(rename = "UserAssignedMSI")]
    UserAssignedMsi,
}

impl AppType {
    /// botbuilder's spelling.
    pub fn name(self) -> &'static str {
        match self {
            AppType::MultiTenant => "MultiTenant",
            AppType::SingleTenant => "SingleTenant",
            AppType::UserAssignedMsi => "UserAssignedMSI",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AppCredentials {
    #[serde(rename = "MicrosoftAppId")]
    pub app_id: Option<String>,
    #[serde(rename = "MicrosoftAppPassword", serialize_with = "redact")]
    pub app_password: Option<SecretString>,
    #[serde(rename = "MicrosoftAppType")]
    pub app_type: AppType,
    #[serde(rename = "MicrosoftAppTenantId")]
    pub tenant_id: Option<String>,
    /// App Service's managed identity endpoint (`IDENTITY_ENDPOINT`).
    #[serde(rename = "IDENTITY_ENDPOINT")]
    pub identity_endpoint: Option<String>,
    #[serde(rename = "IDENTITY_HEADER", serialize_with = "redact")]
    pub identity_header: Option<SecretString>,
}

/// Reads and checks the registration; `var` reads one environment value
/// (unset and empty are the same).
pub fn validate(
    var: &dyn Fn(&str) -> Option<String>,
    p: &mut Problems<'_>,
) -> Checked<AppCredentials> {
    let app_type = match var("MicrosoftAppType") {
        None => AppType::MultiTenant,
        Some(t) => match t.to_ascii_lowercase().as_str() {
            "multitenant" => AppType::MultiTenant,
            "singletenant" => AppType::SingleTenant,
            "userassignedmsi" => AppType::UserAssignedMsi,
            _ => {
                return Err(p.invalid_env(
                    "MicrosoftAppType",
                    &t,
                    "expected MultiTenant, SingleTenant or UserAssignedMSI (any case)",
                ))
            }
        },
    };
    let app = AppCredentials {
        app_id: var("MicrosoftAppId"),
        app_password: var("MicrosoftAppPassword").map(SecretString::from),
        app_type,
        tenant_id: var("MicrosoftAppTenantId"),
        identity_endpoint: var("IDENTITY_ENDPOINT"),
        identity_header: var("IDENTITY_HEADER").map(SecretString::from),
    };
    if app.app_id.is_none() {
        return Ok(app);
    }
    // Replies need the bot's own token: say what is missing now, not at the
    // first reply.
    let mut missing = |key: &str, reason: &str| {
        p.invalid_env(
            key,
            "",
            format!(
                "MicrosoftAppType {} needs it: {reason}",
                app.app_type.name()
            ),
        )
    };
    match app.app_type {
        AppType::UserAssignedMsi => {
            if app.identity_endpoint.is_none() || app.identity_header.is_none() {
                return Err(missing(
                    "IDENTITY_ENDPOINT/IDENTITY_HEADER",
                    "App Service sets them when a managed identity is assigned",
                ));
            }
        }
        t => {
            if app.app_password.is_none() {
                return Err(missing("MicrosoftAppPassword", "the client secret"));
            }
            if t == AppType::SingleTenant && app.tenant_id.is_none() {
                return Err(missing("MicrosoftAppTenantId", "the bot's tenant"));
            }
        }
    }
    Ok(app)
}
