//! `[auth]`: where token signing keys and app tokens come from, where
//! replies may go, who may call, and the admin key.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::parse::{http_url, redact, text, REDACTED};
use super::problems::{Checked, Problems};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuthSettings {
    pub channel_openid_metadata_url: String,
    pub emulator_openid_metadata_url: String,
    pub channel_issuer: String,
    /// Client-credentials tokens come from `{login_authority}/{tenant}/oauth2/v2.0/token`.
    pub login_authority: String,
    /// Overrides the token endpoint derived from `login_authority`.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    pub token_scope: String,
    pub allowed_service_hosts: Vec<String>,
    /// Skill callers (app ids) accepted besides the bot itself.
    pub allowed_callers: Vec<String>,
    pub key_refresh_min_secs: u64,
    pub key_max_age_secs: u64,
    /// Key for the /admin routes (`X-Admin-Key`); no key, no admin routes.
    #[serde(default, serialize_with = "redact")]
    pub admin_key: Option<SecretString>,
}

pub fn validate(mut auth: AuthSettings, p: &mut Problems<'_>) -> Checked<AuthSettings> {
    let mut ok = true;
    for (key, url, example) in [
        (
            "auth.channel_openid_metadata_url",
            &auth.channel_openid_metadata_url,
            "https://login.botframework.com/v1/.well-known/openidconfiguration",
        ),
        (
            "auth.emulator_openid_metadata_url",
            &auth.emulator_openid_metadata_url,
            "https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration",
        ),
        (
            "auth.login_authority",
            &auth.login_authority,
            "https://login.microsoftonline.com",
        ),
    ] {
        ok &= http_url(p, key, url, example).is_ok();
    }
    auth.token_endpoint = text(&auth.token_endpoint);
    if let Some(t) = &auth.token_endpoint {
        ok &= http_url(
            p,
            "auth.token_endpoint",
            t,
            "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token",
        )
        .is_ok();
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
