//! The Teams tenants a bot serves. A Teams bot registered as multi-tenant
//! can be installed by any organisation; an enterprise bot answers its own
//! only. Teams names the tenant in `channelData.tenant.id`.

use bot_schema::channels::ids::MSTEAMS;
use bot_schema::Activity;

use crate::error::AuthError;

/// Refuses a Teams activity whose tenant is not in `allowed` (an empty list
/// allows every tenant). Other channels carry no Teams tenant.
pub fn check_teams_tenant(allowed: &[String], activity: &Activity) -> Result<(), AuthError> {
    if allowed.is_empty() || activity.channel_id() != MSTEAMS {
        return Ok(());
    }
    let tenant = activity
        .channel_data
        .as_ref()
        .and_then(|d| d["tenant"]["id"].as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            AuthError::Forbidden(
                "this bot serves only some Teams tenants, and the activity names none in channelData.tenant.id".into(),
            )
        })?;
    // Tenant ids are GUIDs: compared without regard to case.
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(tenant)) {
        Ok(())
    } else {
        Err(AuthError::Forbidden(format!(
            "Teams tenant {:?} is not one this bot serves (auth.allowed_teams_tenants)",
            tenant.chars().take(64).collect::<String>()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn teams(channel_data: serde_json::Value) -> Activity {
        serde_json::from_value(
            json!({"type": "message", "channelId": "msteams", "channelData": channel_data}),
        )
        .unwrap()
    }

    #[test]
    fn only_listed_tenants_pass_and_other_channels_are_not_judged() {
        let allowed = vec!["72F988BF-86F1-41AF-91AB-2D7CD011DB47".to_string()];
        let ours = teams(json!({"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}}));
        assert!(check_teams_tenant(&allowed, &ours).is_ok());
        for other in [
            teams(json!({"tenant": {"id": "b1ab5f0e-0000-0000-0000-000000000000"}})),
            teams(json!({})),
            teams(json!({"tenant": {"id": 5}})),
        ] {
            assert!(matches!(
                check_teams_tenant(&allowed, &other),
                Err(AuthError::Forbidden(_))
            ));
        }
        assert!(check_teams_tenant(&[], &teams(json!({}))).is_ok());
        let mut webchat = teams(json!({}));
        webchat.channel_id = Some("webchat".into());
        assert!(check_teams_tenant(&allowed, &webchat).is_ok());
    }
}
