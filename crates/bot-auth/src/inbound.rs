//! Inbound validation of the tokens channels, the Emulator and skill callers
//! send, following botbuilder's ChannelValidation and EmulatorValidation.

use std::collections::HashSet;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::Validation;
use serde_json::Value;

use crate::constants;
use crate::error::AuthError;
use crate::header;
use crate::openid::OpenIdKeys;

#[derive(Debug, Clone)]
pub struct InboundConfig {
    /// The bot's MicrosoftAppId: every token's audience.
    pub app_id: String,
    pub channel_metadata_url: String,
    pub emulator_metadata_url: String,
    pub channel_issuer: String,
    /// The bot's own tenant when it is SingleTenant: its v1/v2 issuers are
    /// accepted beside the Bot Framework tenants'.
    pub tenant_id: Option<String>,
    /// The Entra authority of the cloud's v2 Emulator and skill tokens.
    pub emulator_authority: String,
    /// The Bot Framework tenants whose Emulator and skill tokens are accepted.
    pub emulator_tenants: Vec<String>,
    /// App ids of skill callers accepted besides the bot itself; `*`: any.
    pub allowed_callers: Vec<String>,
    /// The `callerId` of activities from channels (and the Emulator):
    /// `urn:botframework:azure` in the public cloud.
    pub channel_caller_id: String,
    pub clock_skew: Duration,
    pub key_max_age: Duration,
    pub key_min_refresh: Duration,
}

impl InboundConfig {
    /// The public Bot Framework endpoints for this app id.
    pub fn new(app_id: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            channel_metadata_url: constants::CHANNEL_OPENID_METADATA_URL.into(),
            emulator_metadata_url: constants::EMULATOR_OPENID_METADATA_URL.into(),
            channel_issuer: constants::CHANNEL_ISSUER.into(),
            tenant_id: None,
            emulator_authority: constants::LOGIN_AUTHORITY.into(),
            emulator_tenants: constants::BOT_FRAMEWORK_TENANTS.map(String::from).to_vec(),
            allowed_callers: Vec::new(),
            channel_caller_id: constants::CALLER_ID_PUBLIC_CLOUD.into(),
            clock_skew: Duration::from_secs(300),
            key_max_age: Duration::from_secs(24 * 3600),
            key_min_refresh: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// From a Bot Framework channel (issuer api.botframework.com).
    Channel,
    /// From the Emulator or a skill caller (Entra v1/v2 issuers).
    EmulatorOrSkill,
}

/// Who a request was authenticated as.
#[derive(Debug, Clone)]
pub struct Identity {
    pub kind: TokenKind,
    pub issuer: String,
    /// For Emulator/skill tokens, the calling app (`appid` or `azp`).
    pub caller_app_id: Option<String>,
    /// The activity's `callerId`, as botbuilder sets it from the token:
    /// the cloud's channel caller id, or `urn:botframework:aadappid:<id>`
    /// for another bot (a skill caller).
    pub caller_id: String,
}

pub struct ChannelValidator {
    cfg: InboundConfig,
    channel_keys: OpenIdKeys,
    emulator_keys: OpenIdKeys,
    emulator_issuers: HashSet<String>,
}

impl ChannelValidator {
    pub fn new(cfg: InboundConfig, http: reqwest::Client) -> Result<Self, AuthError> {
        if cfg.app_id.trim().is_empty() {
            return Err(AuthError::Config(
                "token validation needs the MicrosoftAppId".into(),
            ));
        }
        let keys =
            |url: &str| OpenIdKeys::new(url, http.clone(), cfg.key_max_age, cfg.key_min_refresh);
        let mut emulator_issuers = HashSet::new();
        let authority = cfg.emulator_authority.trim_end_matches('/');
        let tenants = cfg
            .emulator_tenants
            .iter()
            .cloned()
            .chain(cfg.tenant_id.clone().filter(|t| !t.is_empty()));
        for t in tenants {
            emulator_issuers.insert(format!("https://sts.windows.net/{t}/"));
            emulator_issuers.insert(format!("{authority}/{t}/v2.0"));
            // botbuilder accepts the US Government cloud's v1 issuers in
            // this form too.
            if authority != constants::LOGIN_AUTHORITY {
                emulator_issuers.insert(format!("{authority}/{t}/"));
            }
        }
        Ok(Self {
            channel_keys: keys(&cfg.channel_metadata_url),
            emulator_keys: keys(&cfg.emulator_metadata_url),
            emulator_issuers,
            cfg,
        })
    }

    /// Checks the `Authorization` header of an activity from `channel_id`
    /// whose replies go to `service_url`.
    ///
    /// Everything that can be judged without keys is judged first, so a
    /// malformed or foreign token never causes a fetch.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        channel_id: &str,
        service_url: Option<&str>,
    ) -> Result<Identity, AuthError> {
        let token = header::bearer_token(authorization)?;
        let t = header::inspect(token)?;
        let kind = if t.issuer == self.cfg.channel_issuer {
            TokenKind::Channel
        } else if self.emulator_issuers.contains(&t.issuer) {
            TokenKind::EmulatorOrSkill
        } else {
            return Err(AuthError::InvalidToken(format!(
                "issuer {:?} is not trusted",
                t.issuer.chars().take(128).collect::<String>()
            )));
        };
        let source = match kind {
            TokenKind::Channel => &self.channel_keys,
            TokenKind::EmulatorOrSkill => &self.emulator_keys,
        };
        let key = source.key(&t.kid).await?.ok_or_else(|| {
            AuthError::InvalidToken(format!("signing key {:?} is not published", t.kid))
        })?;

        let mut v = Validation::new(t.alg);
        v.algorithms = vec![t.alg];
        v.leeway = self.cfg.clock_skew.as_secs();
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp", "aud", "iss"]);
        v.set_issuer(&[t.issuer.as_str()]);
        v.set_audience(&[self.cfg.app_id.as_str()]);
        let claims = jsonwebtoken::decode::<Value>(t.raw, &key.key, &v)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidAudience => {
                    AuthError::Forbidden("token audience is not this bot's app id".into())
                }
                ErrorKind::ExpiredSignature => AuthError::InvalidToken("token expired".into()),
                ErrorKind::ImmatureSignature => {
                    AuthError::InvalidToken("token not valid yet (nbf)".into())
                }
                ErrorKind::InvalidSignature => {
                    AuthError::InvalidToken("signature does not verify".into())
                }
                _ => AuthError::InvalidToken(e.to_string()),
            })?
            .claims;

        // A key that lists endorsements may only sign for those channels.
        if !key.endorsements.is_empty() && !key.endorsements.iter().any(|e| e == channel_id) {
            return Err(AuthError::Forbidden(format!(
                "signing key is not endorsed for channel {channel_id:?}"
            )));
        }
        let str_claim = |name: &str| claims.get(name).and_then(Value::as_str);
        match kind {
            TokenKind::Channel => {
                let claimed = str_claim("serviceurl").ok_or_else(|| {
                    AuthError::Forbidden("channel token has no serviceurl claim".into())
                })?;
                if Some(claimed) != service_url {
                    return Err(AuthError::Forbidden(format!(
                        "serviceurl claim {claimed:?} does not match activity.serviceUrl {:?}",
                        service_url.unwrap_or("")
                    )));
                }
                Ok(Identity {
                    kind,
                    issuer: t.issuer,
                    caller_app_id: None,
                    caller_id: self.cfg.channel_caller_id.clone(),
                })
            }
            TokenKind::EmulatorOrSkill => {
                // v1 tokens name the caller in appid, v2 tokens in azp.
                let caller = match str_claim("ver") {
                    Some("1.0") | None => str_claim("appid"),
                    Some("2.0") => str_claim("azp"),
                    Some(other) => {
                        return Err(AuthError::Forbidden(format!(
                            "unknown token version {other:?}"
                        )))
                    }
                }
                .ok_or_else(|| AuthError::Forbidden("token names no calling app id".into()))?;
                if caller != self.cfg.app_id
                    && !self
                        .cfg
                        .allowed_callers
                        .iter()
                        .any(|c| c == "*" || c == caller)
                {
                    return Err(AuthError::Forbidden(format!(
                        "calling app {caller:?} is not allowed"
                    )));
                }
                // The Emulator calls with the bot's own app id: not a skill.
                let caller_id = if caller == self.cfg.app_id {
                    self.cfg.channel_caller_id.clone()
                } else {
                    format!("{}{caller}", constants::CALLER_ID_BOT_PREFIX)
                };
                Ok(Identity {
                    kind,
                    issuer: t.issuer,
                    caller_app_id: Some(caller.to_string()),
                    caller_id,
                })
            }
        }
    }

    /// For readiness: are both key sets loaded (fetching when due)?
    pub async fn ready(&self) -> Result<(), AuthError> {
        self.channel_keys.ensure_fresh().await?;
        self.emulator_keys.ensure_fresh().await?;
        Ok(())
    }
}
