//! Channel security from the settings: the validator of inbound tokens and
//! the bot's own credentials for what it sends. `botctl send` builds its
//! Connector client here too, so an operator's message carries the bot's
//! token exactly as a reply does.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bot_auth::{AppCredentials, AppIdentity, ChannelValidator, InboundConfig, ServiceUrlPolicy};
use bot_schema::{ConnectorClient, CredentialProvider, NoCredentials};
use secrecy::SecretString;

use crate::settings::{AppType, Cloud, Settings};

/// The HTTP client for Connector calls, token and key endpoints.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    bot_http::builder()
        .timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .context("building the HTTP client")
}

/// Where replies (and the bot's token) may go.
pub fn service_urls(settings: &Settings) -> anyhow::Result<Arc<ServiceUrlPolicy>> {
    Ok(Arc::new(
        ServiceUrlPolicy::new(
            &settings.auth.allowed_service_hosts,
            settings.is_local_mode(),
        )
        .context("auth.allowed_service_hosts")?,
    ))
}

/// Inbound token validation for a configured app id.
pub fn validator(
    settings: &Settings,
    app_id: &str,
    http: &reqwest::Client,
) -> anyhow::Result<Arc<ChannelValidator>> {
    let auth = &settings.auth;
    let app = &settings.app;
    let inbound = InboundConfig {
        channel_metadata_url: auth.channel_openid_metadata_url.clone(),
        emulator_metadata_url: auth.emulator_openid_metadata_url.clone(),
        channel_issuer: auth.channel_issuer.clone(),
        tenant_id: (app.app_type == AppType::SingleTenant)
            .then(|| app.tenant_id.clone())
            .flatten(),
        emulator_authority: auth.login_authority.clone(),
        emulator_tenants: match auth.cloud {
            Cloud::Public => bot_auth::constants::BOT_FRAMEWORK_TENANTS,
            Cloud::UsGovernment => bot_auth::constants::US_GOVERNMENT_TENANTS,
        }
        .map(String::from)
        .to_vec(),
        allowed_callers: auth.allowed_callers.clone(),
        channel_caller_id: auth.caller_id.clone(),
        key_max_age: Duration::from_secs(auth.key_max_age_secs),
        key_min_refresh: Duration::from_secs(auth.key_refresh_min_secs),
        ..InboundConfig::new(app_id)
    };
    Ok(Arc::new(ChannelValidator::new(inbound, http.clone())?))
}

/// The bot's credentials: its app registration's tokens, or none in local
/// mode without an app id.
pub fn credentials(
    settings: &Settings,
    http: &reqwest::Client,
    service_urls: &Arc<ServiceUrlPolicy>,
) -> anyhow::Result<Arc<dyn CredentialProvider>> {
    let Some(app_id) = settings.app.app_id.as_deref() else {
        return Ok(Arc::new(NoCredentials));
    };
    let auth = &settings.auth;
    let app = &settings.app;
    // Settings::load checked that each app type has what it needs.
    let missing = |what: &str| {
        anyhow::anyhow!(
            "MicrosoftAppType {}: {what} is not set",
            app.app_type.name()
        )
    };
    let identity = match app.app_type {
        AppType::UserAssignedMsi => AppIdentity::ManagedIdentity {
            client_id: app_id.to_string(),
            endpoint: app
                .identity_endpoint
                .clone()
                .ok_or_else(|| missing("IDENTITY_ENDPOINT"))?,
            header: app
                .identity_header
                .clone()
                .ok_or_else(|| missing("IDENTITY_HEADER"))?,
        },
        t => {
            let tenant = if t == AppType::SingleTenant {
                app.tenant_id
                    .clone()
                    .ok_or_else(|| missing("MicrosoftAppTenantId"))?
            } else {
                auth.channel_auth_tenant.clone()
            };
            AppIdentity::ClientSecret {
                client_id: app_id.to_string(),
                secret: app
                    .app_password
                    .clone()
                    .unwrap_or_else(|| SecretString::from("")),
                token_endpoint: auth.token_endpoint.clone().unwrap_or_else(|| {
                    format!(
                        "{}/{tenant}/oauth2/v2.0/token",
                        auth.login_authority.trim_end_matches('/')
                    )
                }),
            }
        }
    };
    Ok(Arc::new(AppCredentials::new(
        identity,
        auth.token_scope.clone(),
        http.clone(),
        Some(service_urls.clone()),
    )))
}

/// The Connector client with the bot's credentials.
pub fn connector(
    settings: &Settings,
    http: &reqwest::Client,
    service_urls: &Arc<ServiceUrlPolicy>,
) -> anyhow::Result<ConnectorClient> {
    Ok(ConnectorClient::new(
        http.clone(),
        credentials(settings, http, service_urls)?,
    ))
}
