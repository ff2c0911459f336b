//! Account SAS tokens signed with a shared key (HMAC-SHA256), for Azurite
//! and for operators who hold an account key. The token is a secret: it is
//! returned as a `SecretString` and never logged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::naming::encode_uri_component;
use crate::error::StorageError;

/// Azurite's well-known development account (public, documented constants).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The service version the signature is computed for. Before 2020-12-06 the
/// string to sign has no encryption-scope line, which every service
/// (including Azurite) accepts.
const SAS_VERSION: &str = "2020-08-04";

/// An account SAS for the blob service: all object permissions on
/// containers and blobs, http and https, until `expiry`. Returns the query
/// string without a leading `?`.
pub fn account_sas(
    account: &str,
    key: &SecretString,
    expiry: DateTime<Utc>,
) -> Result<SecretString, StorageError> {
    let key = STANDARD
        .decode(key.expose_secret().trim())
        .map_err(|e| StorageError::Backend {
            backend: "blob",
            message: format!("the account key is not base64: {e}"),
        })?;
    let (sp, ss, srt, spr) = ("racwdlup", "b", "sco", "https,http");
    let se = expiry.to_rfc3339_opts(SecondsFormat::Secs, true);
    let to_sign = format!("{account}\n{sp}\n{ss}\n{srt}\n\n{se}\n\n{spr}\n{SAS_VERSION}\n");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| StorageError::Backend {
        backend: "blob",
        message: format!("bad account key: {e}"),
    })?;
    mac.update(to_sign.as_bytes());
    let sig = STANDARD.encode(mac.finalize().into_bytes());
    Ok(SecretString::from(format!(
        "sv={SAS_VERSION}&ss={ss}&srt={srt}&sp={sp}&se={}&spr={}&sig={}",
        encode_uri_component(&se),
        encode_uri_component(spr),
        encode_uri_component(&sig)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn signature_is_deterministic_and_covers_the_expiry() {
        let key = SecretString::from(AZURITE_KEY);
        let t = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        let a = account_sas(AZURITE_ACCOUNT, &key, t).unwrap();
        let b = account_sas(AZURITE_ACCOUNT, &key, t).unwrap();
        assert_eq!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().contains("se=2030-01-01T00%3A00%3A00Z"));
        let later = account_sas(AZURITE_ACCOUNT, &key, t + chrono::Duration::seconds(1)).unwrap();
        assert_ne!(a.expose_secret(), later.expose_secret());
        assert!(account_sas("a", &SecretString::from("not base64!"), t).is_err());
    }
}
