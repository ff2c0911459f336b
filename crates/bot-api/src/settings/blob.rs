//! A Blob Storage account section: `[storage.blob]`, `[transcripts.blob]`
//! and `[telemetry.export_blob]` take the same keys.

use bot_storage::{BlobAuth, BlobConfig};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::parse::{http_url, redact, secret, text};
use super::problems::{Checked, Problems};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BlobSettings {
    #[serde(default)]
    pub account_url: String,
    /// The RA-GRS read endpoint, tried when the primary fails a read.
    #[serde(default)]
    pub secondary_url: Option<String>,
    #[serde(default)]
    pub container: String,
    /// `sas` or `managed_identity`.
    #[serde(default)]
    pub auth: String,
    #[serde(default, serialize_with = "redact")]
    pub sas: Option<SecretString>,
    #[serde(default)]
    pub managed_identity_client_id: Option<String>,
    /// The deadline of one Blob call, retries included; a read past it on
    /// the primary tries the secondary.
    pub request_timeout_ms: u64,
}

#[derive(Clone, Copy)]
enum Auth {
    Sas,
    ManagedIdentity,
}

/// Validates the section named `section` (e.g. `storage.blob`).
pub fn validate(raw: &BlobSettings, section: &str, p: &mut Problems<'_>) -> Checked<BlobConfig> {
    let key = |name: &str| format!("{section}.{name}");
    if raw.account_url.is_empty() {
        return Err(p.invalid(
            &key("account_url"),
            "",
            format!("kind = \"blob\" needs [{section}] with account_url, container and auth"),
        ));
    }
    let account_url = http_url(
        p,
        &key("account_url"),
        &raw.account_url,
        "https://myaccount.blob.core.windows.net",
    )
    .and_then(|u| {
        let no_slash = !u.ends_with('/');
        p.require(no_slash, &key("account_url"), &u, "no trailing /")
            .map(|_| u)
    });
    let secondary_url = match text(&raw.secondary_url) {
        None => Ok(None),
        Some(s) => http_url(
            p,
            &key("secondary_url"),
            &s,
            "https://myaccount-secondary.blob.core.windows.net",
        )
        .and_then(|u| {
            let no_slash = !u.ends_with('/');
            p.require(no_slash, &key("secondary_url"), &u, "no trailing /")
                .map(|_| Some(u))
        }),
    };
    // Container naming rules: 3-63 of lowercase letters, digits and '-'.
    let c = &raw.container;
    let container = p.require(
        (3..=63).contains(&c.len())
            && c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
            && !c.starts_with('-')
            && !c.ends_with('-')
            && !c.contains("--"),
        &key("container"),
        c,
        "3-63 lowercase letters, digits and single hyphens",
    );
    let auth = p
        .choice(
            &key("auth"),
            &raw.auth,
            &[
                ("sas", Auth::Sas),
                ("managed_identity", Auth::ManagedIdentity),
            ],
        )
        .and_then(|a| match a {
            Auth::Sas => secret(&raw.sas).map(BlobAuth::Sas).ok_or_else(|| {
                p.invalid(
                    &key("sas"),
                    "",
                    format!(
                        "auth = \"sas\" needs a SAS token (set BOT__{}__SAS)",
                        section.to_uppercase().replace('.', "__")
                    ),
                )
            }),
            Auth::ManagedIdentity => {
                p.require(
                    !raw.account_url.starts_with("http://"),
                    &key("account_url"),
                    &raw.account_url,
                    "managed identity needs an https:// account URL",
                )?;
                Ok(BlobAuth::ManagedIdentity {
                    client_id: text(&raw.managed_identity_client_id),
                })
            }
        });
    let timeout = p.millis(&key("request_timeout_ms"), raw.request_timeout_ms, 50);
    let (account_url, secondary_url) = (account_url?, secondary_url?);
    container?;
    Ok(BlobConfig {
        account_url,
        secondary_url,
        container: raw.container.clone(),
        auth: auth?,
        request_timeout: timeout?,
    })
}
