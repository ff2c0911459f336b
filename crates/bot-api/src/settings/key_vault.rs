//! App Service passes a `@Microsoft.KeyVault(...)` app setting through as
//! literal text when it cannot resolve it. Caught first, by name, so the
//! start does not fail later with a message about something else.

use super::problems::SettingsError;

const REFERENCE: &str = "@microsoft.keyvault(";

pub fn check_resolved(env: &[(String, String)]) -> Result<(), SettingsError> {
    let read_by_us = |name: &str| {
        name.starts_with("BOT_")
            || name.starts_with("MicrosoftApp")
            || matches!(
                name,
                "APPLICATIONINSIGHTS_CONNECTION_STRING" | "IDENTITY_ENDPOINT" | "IDENTITY_HEADER"
            )
    };
    let found = env.iter().find(|(name, value)| {
        read_by_us(name)
            && value
                .trim_start()
                .get(..REFERENCE.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(REFERENCE))
    });
    let Some((name, value)) = found else {
        return Ok(());
    };
    let key = match name.strip_prefix("BOT__") {
        Some(rest) => format!(
            "{name} ({})",
            rest.split("__")
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(".")
        ),
        None => name.clone(),
    };
    // The reference names a vault and a secret, not the secret itself.
    let shown: String = value.trim().chars().take(200).collect();
    Err(SettingsError::from_env(
        &key,
        &shown,
        "this Key Vault reference was not resolved: the secret is missing \
         from the vault, or the app's managed identity lacks permission to \
         get it (see the app setting's Key Vault reference status)",
    ))
}
