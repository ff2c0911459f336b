//! `[auth]`: where token signing keys and app tokens come from (per
//! cloud: `ChannelService` picks the public or the US Government cloud),
//! where replies may go, who may call, and the admin key.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::parse::{http_url, redact, text, REDACTED};
use super::problems::{Checked, Problems};

/// botbuilder's `GovernmentConstants.ChannelService`.
pub const US_GOVERNMENT_CHANNEL_SERVICE: &str = "https://botframework.azure.us";

/// The Bot Framework cloud the bot lives in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Cloud {
    #[default]
    Public,
    /// `ChannelService=https://botframework.azure.us`.
    UsGovernment,
}

/// One cloud's endpoints: `[auth]` itself holds the public cloud's,
/// `[auth.us_government]` the US Government cloud's.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CloudSettings {
    pub channel_openid_metadata_url: String,
    pub emulator_openid_metadata_url: String,
    pub channel_issuer: String,
    /// Client-credentials tokens come from `{login_authority}/{tenant}/oauth2/v2.0/token`.
    pub login_authority: String,
    /// The tenant of a MultiTenant bot's tokens.
    pub channel_auth_tenant: String,
    /// Overrides the token endpoint derived from `login_authority`.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    pub token_scope: String,
    /// The `callerId` of activities from this cloud's channels.
    pub caller_id: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuthSettings {
    /// Which cloud's endpoints these are (from `ChannelService`).
    #[serde(skip_deserializing)]
    pub cloud: Cloud,
    pub channel_openid_metadata_url: String,
    pub emulator_openid_metadata_url: String,
    pub channel_issuer: String,
    /// Client-credentials tokens come from `{login_authority}/{tenant}/oauth2/v2.0/token`.
    pub login_authority: String,
    /// The tenant of a MultiTenant bot's tokens.
    pub channel_auth_tenant: String,
    /// Overrides the token endpoint derived from `login_authority`.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    pub token_scope: String,
    /// The `callerId` of activities from the cloud's channels.
    pub caller_id: String,
    /// The US Government cloud's endpoints; in effect above once validated
    /// with its `ChannelService`.
    #[serde(skip_serializing)]
    pub us_government: CloudSettings,
    pub allowed_service_hosts: Vec<String>,
    /// Skill callers (app ids) accepted besides the bot itself; `*`: any.
    pub allowed_callers: Vec<String>,
    /// Teams tenants (`channelData.tenant.id`) the bot serves; empty: any.
    pub allowed_teams_tenants: Vec<String>,
    pub key_refresh_min_secs: u64,
    pub key_max_age_secs: u64,
    /// Key for the /admin routes (`X-Admin-Key`); no key, no admin routes.
    #[serde(default, serialize_with = "redact")]
    pub admin_key: Option<SecretString>,
}

/// `ChannelService` as botbuilder reads it: unset, the public cloud; the
/// US Government cloud's URL; nothing else.
fn cloud(channel_service: Option<&str>, p: &mut Problems<'_>) -> Checked<Cloud> {
    match channel_service.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Cloud::Public),
        Some(s)
            if s.trim_end_matches('/')
                .eq_ignore_ascii_case(US_GOVERNMENT_CHANNEL_SERVICE) =>
        {
            Ok(Cloud::UsGovernment)
        }
        Some(s) => Err(p.invalid_env(
            "ChannelService",
            s,
            format!(
                "expected {US_GOVERNMENT_CHANNEL_SERVICE} (the US Government cloud), or unset for the public cloud"
            ),
        )),
    }
}

/// Checks the cloud's endpoints; `section` names their keys.
fn check_cloud(c: &mut CloudSettings, section: &str, p: &mut Problems<'_>) -> bool {
    let mut ok = true;
    for (name, url) in [
        (
            "channel_openid_metadata_url",
            &c.channel_openid_metadata_url,
        ),
        (
            "emulator_openid_metadata_url",
            &c.emulator_openid_metadata_url,
        ),
        ("login_authority", &c.login_authority),
    ] {
        let example = "https://login.botframework.com/v1/.well-known/openidconfiguration";
        ok &= http_url(p, &format!("{section}.{name}"), url, example).is_ok();
    }
    c.token_endpoint = text(&c.token_endpoint);
    if let Some(t) = &c.token_endpoint {
        ok &= http_url(
            p,
            &format!("{section}.token_endpoint"),
            t,
            "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token",
        )
        .is_ok();
    }
    for (name, value) in [
        ("channel_issuer", &c.channel_issuer),
        ("channel_auth_tenant", &c.channel_auth_tenant),
        ("token_scope", &c.token_scope),
        ("caller_id", &c.caller_id),
    ] {
        ok &= p
            .require(
                !value.trim().is_empty(),
                &format!("{section}.{name}"),
                value,
                "must not be empty",
            )
            .is_ok();
    }
    ok
}

pub fn validate(
    mut auth: AuthSettings,
    channel_service: Option<&str>,
    p: &mut Problems<'_>,
) -> Checked<AuthSettings> {
    let mut ok = true;
    let cloud = cloud(channel_service, p);
    ok &= cloud.is_ok();
    let mut effective = match cloud {
        Ok(Cloud::UsGovernment) => auth.us_government.clone(),
        _ => CloudSettings {
            channel_openid_metadata_url: auth.channel_openid_metadata_url.clone(),
            emulator_openid_metadata_url: auth.emulator_openid_metadata_url.clone(),
            channel_issuer: auth.channel_issuer.clone(),
            login_authority: auth.login_authority.clone(),
            channel_auth_tenant: auth.channel_auth_tenant.clone(),
            token_endpoint: auth.token_endpoint.clone(),
            token_scope: auth.token_scope.clone(),
            caller_id: auth.caller_id.clone(),
        },
    };
    let section = match cloud {
        Ok(Cloud::UsGovernment) => "auth.us_government",
        _ => "auth",
    };
    ok &= check_cloud(&mut effective, section, p);
    auth.cloud = cloud.unwrap_or_default();
    auth.channel_openid_metadata_url = effective.channel_openid_metadata_url;
    auth.emulator_openid_metadata_url = effective.emulator_openid_metadata_url;
    auth.channel_issuer = effective.channel_issuer;
    auth.login_authority = effective.login_authority;
    auth.channel_auth_tenant = effective.channel_auth_tenant;
    auth.token_endpoint = effective.token_endpoint;
    auth.token_scope = effective.token_scope;
    auth.caller_id = effective.caller_id;
    for (key, list) in [
        ("auth.allowed_callers", &auth.allowed_callers),
        ("auth.allowed_teams_tenants", &auth.allowed_teams_tenants),
    ] {
        for v in list {
            ok &= p
                .require(
                    !v.trim().is_empty() && !v.contains(char::is_whitespace),
                    key,
                    v,
                    "expected ids without spaces (\"*\" in allowed_callers: any caller)",
                )
                .is_ok();
        }
    }
    if let Err(e) = bot_auth::ServiceUrlPolicy::new(&auth.allowed_service_hosts, true) {
        p.invalid(
            "auth.allowed_service_hosts",
            auth.allowed_service_hosts.join(","),
            e.to_string(),
        );
        ok = false;
    }
    ok &= p
        .at_least("auth.key_max_age_secs", auth.key_max_age_secs, 1)
        .is_ok();
    let admin_len = auth
        .admin_key
        .as_ref()
        .map_or(0, |k| k.expose_secret().len());
    if admin_len == 0 {
        auth.admin_key = None;
    }
    ok &= p
        .require(
            admin_len == 0 || admin_len >= 16,
            "auth.admin_key",
            REDACTED,
            "an admin key needs at least 16 characters",
        )
        .is_ok();
    if ok {
        Ok(auth)
    } else {
        Err(super::problems::Reported)
    }
}
