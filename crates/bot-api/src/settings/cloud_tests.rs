//! `[auth]` as botbuilder users write it: the cloud from `ChannelService`,
//! `"*"` callers, the Teams tenant list; `[bot] typing_after_ms`.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut v: Vec<(String, String)> = vec![
        ("BOT_CONFIG_DIR".into(), format!("{root}/config")),
        ("BOT__QNA__KB_PATH".into(), format!("{root}/kb/sample.tsv")),
    ];
    v.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    v
}

#[test]
fn channel_service_picks_the_clouds_endpoints() {
    let public = Settings::load_from(&env(&[])).unwrap();
    assert_eq!(public.auth.cloud, Cloud::Public);
    assert_eq!(public.auth.channel_issuer, "https://api.botframework.com");
    assert_eq!(public.auth.caller_id, "urn:botframework:azure");
    for value in [
        "https://botframework.azure.us",
        "https://BotFramework.azure.us/",
    ] {
        let gov = Settings::load_from(&env(&[("ChannelService", value)])).unwrap();
        let a = &gov.auth;
        assert_eq!(a.cloud, Cloud::UsGovernment, "{value}");
        assert_eq!(
            a.channel_openid_metadata_url,
            "https://login.botframework.azure.us/v1/.well-known/openidconfiguration"
        );
        assert_eq!(a.channel_issuer, "https://api.botframework.us");
        assert_eq!(a.login_authority, "https://login.microsoftonline.us");
        assert_eq!(a.channel_auth_tenant, "MicrosoftServices.onmicrosoft.us");
        assert_eq!(a.token_scope, "https://api.botframework.us/.default");
        assert_eq!(a.caller_id, "urn:botframework:azureusgov");
        assert_eq!(gov.redacted()["auth"]["cloud"], "usGovernment");
    }
    // Its endpoints are checked under their own names.
    let e = Settings::load_from(&env(&[
        ("ChannelService", "https://botframework.azure.us"),
        ("BOT__AUTH__US_GOVERNMENT__TOKEN_ENDPOINT", "not a url"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(e.contains("auth.us_government.token_endpoint"), "{e}");
    let e = Settings::load_from(&env(&[("ChannelService", "https://botframework.example")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ChannelService") && e.contains("botframework.azure.us"),
        "{e}"
    );
}

#[test]
fn callers_tenants_and_typing() {
    let s = Settings::load_from(&env(&[
        ("BOT__AUTH__ALLOWED_CALLERS", "*"),
        ("BOT__AUTH__ALLOWED_TEAMS_TENANTS", "tenant-a,tenant-b"),
        ("BOT__BOT__TYPING_AFTER_MS", "0"),
    ]))
    .unwrap();
    assert_eq!(s.auth.allowed_callers, ["*"]);
    assert_eq!(s.auth.allowed_teams_tenants, ["tenant-a", "tenant-b"]);
    assert_eq!(s.bot.typing_after(), None);
    let defaults = Settings::load_from(&env(&[])).unwrap();
    assert!(defaults.auth.allowed_teams_tenants.is_empty());
    assert_eq!(
        defaults.bot.typing_after(),
        Some(std::time::Duration::from_millis(500))
    );
    let e = Settings::load_from(&env(&[("BOT__AUTH__ALLOWED_TEAMS_TENANTS", "a b")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("auth.allowed_teams_tenants"), "{e}");
}
