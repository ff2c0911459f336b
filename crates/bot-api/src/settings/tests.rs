use bot_storage::{BlobAuth, CosmosAuth};

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, val) in [
        ("BOT_CONFIG_DIR", format!("{root}/config")),
        ("BOT__QNA__KB_PATH", format!("{root}/kb/sample.tsv")),
    ] {
        if !v.iter().any(|(n, _)| n == k) {
            v.push((k.to_string(), val));
        }
    }
    v
}

#[test]
fn an_unresolved_key_vault_reference_is_named() {
    let reference =
        "@Microsoft.KeyVault(SecretUri=https://kv-bot.vault.azure.net/secrets/qna-keys/)";
    for (name, shown) in [
        (
            "BOT__QNA__ENDPOINT_KEYS",
            "BOT__QNA__ENDPOINT_KEYS (qna.endpoint_keys)",
        ),
        ("MicrosoftAppPassword", "MicrosoftAppPassword"),
        (
            "BOT__HEALTH__PROBE_KEY",
            "BOT__HEALTH__PROBE_KEY (health.probe_key)",
        ),
    ] {
        let e = Settings::load_from(&env(&[(name, reference)]))
            .err()
            .unwrap_or_else(|| panic!("{name}: an unresolved reference loaded"))
            .to_string();
        assert!(e.contains(shown), "{e}");
        assert!(e.contains("Key Vault reference was not resolved"), "{e}");
        assert!(e.contains("permission"), "{e}");
    }
    // A variable the binary does not read is not its business.
    assert!(Settings::load_from(&env(&[("OTHER_SETTING", reference)])).is_ok());
}

#[test]
fn defaults_are_the_local_bot() {
    let s = Settings::load_from(&env(&[])).unwrap();
    assert_eq!(s.region, "local");
    assert_eq!(s.listen.port(), 3978);
    assert!(s.is_local_mode());
    assert!(matches!(s.storage, StorageKind::Sqlite { .. }));
    assert_eq!(s.server.max_body_bytes, 256 * 1024);
}

#[test]
fn env_overrides_and_bot_framework_names() {
    let s = Settings::load_from(&env(&[
        ("BOT__SERVER__LISTEN", "127.0.0.1:0"),
        ("BOT__STORAGE__KIND", "memory"),
        ("MicrosoftAppId", "app-1"),
        ("MicrosoftAppPassword", "hunter2"),
    ]))
    .unwrap();
    assert_eq!(s.listen.port(), 0);
    assert!(matches!(s.storage, StorageKind::Memory));
    assert_eq!(s.app.app_id.as_deref(), Some("app-1"));
    assert!(!format!("{:?}", s.app).contains("hunter2"));
}

#[test]
fn errors_name_key_and_origin() {
    let e = Settings::load_from(&env(&[("BOT__STORAGE__KIND", "floppy")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("storage.kind") && e.contains("floppy") && e.contains("environment"),
        "{e}"
    );
    let e = Settings::load_from(&env(&[("BOT__SERVER__LISTEN", "127.0.0.1:99999")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("server.listen"), "{e}");
    let e = Settings::load_from(&env(&[("BOT__QNA__KB_PATH", "/nonexistent/kb.tsv")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("qna.kb_path") && e.contains("not found"), "{e}");
    let e = Settings::load_from(&env(&[("BOT_REGION", "atlantis")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("BOT_REGION") && e.contains("atlantis"), "{e}");
}

/// `qna.encoder_dir` is off by default; a directory without the model's
/// files is refused at start with the files named; one with them is taken
/// with its layer count (1 unless set, never 0) and shown in the settings
/// dump.
#[test]
fn the_sentence_encoder_directory_is_checked() {
    let s = Settings::load_from(&env(&[])).unwrap();
    assert!(matches!(s.qna, QnaKind::Embedded { encoder: None, .. }));
    let empty = tempfile::tempdir().unwrap();
    let shown = empty.path().display().to_string();
    let e = Settings::load_from(&env(&[("BOT__QNA__ENCODER_DIR", shown.as_str())]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("qna.encoder_dir"), "{e}");
    assert!(
        e.contains("model.safetensors") && e.contains("fetch-encoder"),
        "{e}"
    );
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::write(empty.path().join(f), b"{}").unwrap();
    }
    let s = Settings::load_from(&env(&[("BOT__QNA__ENCODER_DIR", shown.as_str())])).unwrap();
    assert!(matches!(
        &s.qna,
        QnaKind::Embedded { encoder: Some(e), .. } if e.dir == empty.path() && e.layers == 1
    ));
    assert_eq!(s.qna.summary()["encoderDir"], shown.as_str());
    assert_eq!(s.qna.summary()["encoderLayers"], 1);
    let with = |layers| {
        Settings::load_from(&env(&[
            ("BOT__QNA__ENCODER_DIR", shown.as_str()),
            ("BOT__QNA__ENCODER_LAYERS", layers),
        ]))
    };
    let s = with("6").unwrap();
    assert_eq!(s.qna.summary()["encoderLayers"], 6);
    let e = with("0").unwrap_err().to_string();
    assert!(e.contains("qna.encoder_layers"), "{e}");
}

#[test]
fn auth_settings_and_secrets_stay_out_of_dumps() {
    let s = Settings::load_from(&env(&[
        (
            "BOT__AUTH__ALLOWED_SERVICE_HOSTS",
            "a.example.com,*.b.example.com",
        ),
        ("BOT__AUTH__ADMIN_KEY", "admin-key-0123456789"),
        ("MicrosoftAppId", "app-1"),
        ("MicrosoftAppPassword", "hunter2-password"),
    ]))
    .unwrap();
    assert_eq!(
        s.auth.allowed_service_hosts,
        vec!["a.example.com", "*.b.example.com"]
    );
    assert_eq!(s.auth.key_refresh_min_secs, 60);
    let dump = s.redacted().to_string();
    assert!(
        dump.contains("[REDACTED]") && dump.contains("a.example.com"),
        "{dump}"
    );
    assert!(
        !dump.contains("hunter2") && !dump.contains("admin-key-0123"),
        "{dump}"
    );
    assert!(!format!("{s:?}").contains("admin-key-0123"));

    let e = Settings::load_from(&env(&[("BOT__AUTH__ADMIN_KEY", "short")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("auth.admin_key") && !e.contains("short"), "{e}");
    let e = Settings::load_from(&env(&[("BOT__AUTH__ALLOWED_SERVICE_HOSTS", "a.*.com")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("auth.allowed_service_hosts"), "{e}");
}

#[test]
fn an_app_id_needs_the_credentials_of_its_app_type() {
    let e = Settings::load_from(&env(&[("MicrosoftAppId", "app-1")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("MicrosoftAppPassword"), "{e}");
    let e = Settings::load_from(&env(&[
        ("MicrosoftAppId", "app-1"),
        ("MicrosoftAppPassword", "pw"),
        ("MicrosoftAppType", "SingleTenant"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(e.contains("MicrosoftAppTenantId"), "{e}");
    let e = Settings::load_from(&env(&[
        ("MicrosoftAppId", "app-1"),
        ("MicrosoftAppType", "UserAssignedMSI"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(e.contains("IDENTITY_ENDPOINT"), "{e}");
    Settings::load_from(&env(&[
        ("MicrosoftAppId", "app-1"),
        ("MicrosoftAppType", "UserAssignedMSI"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi"),
        ("IDENTITY_HEADER", "h"),
    ]))
    .unwrap();
}

#[test]
fn cosmos_and_blob_storage_from_config_alone() {
    let s = Settings::load_from(&env(&[
        ("BOT__STORAGE__KIND", "cosmos"),
        ("BOT__STORAGE__COSMOS__ENDPOINT", "http://127.0.0.1:8081/"),
        ("BOT__STORAGE__COSMOS__DATABASE", "bot"),
        ("BOT__STORAGE__COSMOS__CONTAINER", "state"),
        ("BOT__STORAGE__COSMOS__AUTH", "key"),
        ("BOT__STORAGE__COSMOS__KEY", "c2VjcmV0LWtleQ=="),
        (
            "BOT__STORAGE__COSMOS__PREFERRED_REGIONS",
            "East US 2,Central US",
        ),
    ]))
    .unwrap();
    match &s.storage {
        StorageKind::Cosmos(c) => {
            assert_eq!(c.preferred_regions, ["East US 2", "Central US"]);
            assert!(matches!(c.auth, CosmosAuth::Key(_)));
        }
        other => panic!("{other:?}"),
    }
    assert!(!format!("{s:?}").contains("c2VjcmV0LWtleQ"));
    let e = Settings::load_from(&env(&[
        ("BOT__STORAGE__KIND", "cosmos"),
        ("BOT__STORAGE__COSMOS__ENDPOINT", "http://127.0.0.1:8081/"),
        ("BOT__STORAGE__COSMOS__DATABASE", "bot"),
        ("BOT__STORAGE__COSMOS__CONTAINER", "state"),
        ("BOT__STORAGE__COSMOS__AUTH", "key"),
        ("BOT__STORAGE__COSMOS__PREFERRED_REGIONS", "East US 2"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(e.contains("storage.cosmos.key"), "{e}");

    let s = Settings::load_from(&env(&[
        ("BOT__STORAGE__KIND", "blob"),
        (
            "BOT__STORAGE__BLOB__ACCOUNT_URL",
            "https://acct.blob.core.windows.net",
        ),
        (
            "BOT__STORAGE__BLOB__SECONDARY_URL",
            "https://acct-secondary.blob.core.windows.net",
        ),
        ("BOT__STORAGE__BLOB__CONTAINER", "bot-state"),
        ("BOT__STORAGE__BLOB__AUTH", "managed_identity"),
    ]))
    .unwrap();
    assert!(matches!(
        &s.storage,
        StorageKind::Blob(b) if b.secondary_url.is_some()
            && matches!(b.auth, BlobAuth::ManagedIdentity { client_id: None })
    ));
    let e = Settings::load_from(&env(&[
        ("BOT__STORAGE__KIND", "blob"),
        (
            "BOT__STORAGE__BLOB__ACCOUNT_URL",
            "https://acct.blob.core.windows.net/",
        ),
        ("BOT__STORAGE__BLOB__CONTAINER", "bot-state"),
        ("BOT__STORAGE__BLOB__AUTH", "sas"),
        ("BOT__STORAGE__BLOB__SAS", "sv=1&sig=x"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("storage.blob.account_url") && e.contains("environment"),
        "{e}"
    );
}

#[test]
fn region_files_configure_cosmos_with_their_own_region_first() {
    for (region, first) in [("eastus2", "East US 2"), ("centralus", "Central US")] {
        let s = Settings::load_from(&env(&[
            ("BOT_REGION", region),
            ("BOT__QNA__ENDPOINT_KEYS", "key-own,key-pair"),
        ]))
        .unwrap();
        match &s.qna {
            QnaKind::Cqa { remote, .. } => {
                assert!(remote.endpoints[0].contains(region), "{region}: {remote:?}");
                assert_eq!(remote.endpoints.len(), 2);
                assert!(remote.fallback_kb.is_some());
            }
            other => panic!("{region}: {other:?}"),
        }
        match &s.storage {
            StorageKind::Cosmos(c) => {
                assert_eq!(c.preferred_regions[0], first);
                assert!(matches!(c.auth, CosmosAuth::ManagedIdentity { .. }));
            }
            other => panic!("{region}: {other:?}"),
        }
    }
}

#[test]
fn remote_qna_kinds_validate_and_keep_keys_secret() {
    let s = Settings::load_from(&env(&[
        ("BOT__QNA__KIND", "cqa"),
        (
            "BOT__QNA__ENDPOINTS",
            "https://east.example.test,https://west.example.test",
        ),
        ("BOT__QNA__KEY", "sekrit-key"),
        ("BOT__QNA__PROJECT_NAME", "faq"),
        ("BOT__QNA__FALLBACK", "true"),
    ]))
    .unwrap();
    match &s.qna {
        QnaKind::Cqa {
            remote,
            project,
            deployment,
        } => {
            assert_eq!(remote.endpoints.len(), 2);
            assert_eq!(project, "faq");
            assert_eq!(deployment, "production");
            assert!(remote.fallback_kb.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert!(!format!("{s:?}").contains("sekrit-key"));
    let e = Settings::load_from(&env(&[
        ("BOT__QNA__KIND", "qnamaker"),
        ("BOT__QNA__ENDPOINTS", "https://east.example.test"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(e.contains("qna.key"), "{e}");
    let e = Settings::load_from(&env(&[
        ("BOT__QNA__KIND", "cqa"),
        ("BOT__QNA__ENDPOINTS", "ftp://nope"),
        ("BOT__QNA__KEY", "k"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("qna.endpoints") && e.contains("ftp://nope"),
        "{e}"
    );
    let e = Settings::load_from(&env(&[("BOT__QNA__KIND", "oracle")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("qna.kind") && e.contains("environment"), "{e}");
}

#[test]
fn region_file_is_layered_and_named_as_origin() {
    let s = Settings::load_from(&env(&[
        ("BOT_REGION", "eastus2"),
        ("BOT__QNA__ENDPOINT_KEYS", "key-own,key-pair"),
    ]))
    .unwrap();
    assert_eq!(s.region, "eastus2");
    assert_eq!(s.bot.mode, Mode::Production);
    let e = Settings::load_from(&env(&[
        ("BOT_REGION", "eastus2"),
        ("BOT__BOT__MODE", "chaos"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(e.contains("bot.mode"), "{e}");
}

#[test]
fn region_files_send_transcripts_and_telemetry_to_their_own_account() {
    for region in ["eastus2", "centralus"] {
        let s = Settings::load_from(&env(&[
            ("BOT_REGION", region),
            ("BOT__QNA__ENDPOINT_KEYS", "key-own,key-pair"),
        ]))
        .unwrap();
        let TranscriptKind::Blob(t) = &s.transcripts else {
            panic!("{region}: {:?}", s.transcripts)
        };
        let ExportTarget::Blob(e) = &s.telemetry.export else {
            panic!("{region}: {:?}", s.telemetry.export)
        };
        assert!(e.account_url.contains(region), "{region}: {e:?}");
        assert_eq!(e.account_url, t.account_url);
        assert_eq!(
            (t.container.as_str(), e.container.as_str()),
            ("transcripts", "telemetry")
        );
        assert!(matches!(
            e.auth,
            BlobAuth::ManagedIdentity { client_id: None }
        ));
    }
}

#[test]
fn telemetry_export_to_blob_is_validated_and_its_sas_redacted() {
    let blob = |extra: &[(&'static str, &'static str)]| {
        let mut v = vec![
            ("BOT__TELEMETRY__EXPORT_KIND", "blob"),
            (
                "BOT__TELEMETRY__EXPORT_BLOB__ACCOUNT_URL",
                "http://127.0.0.1:10000/devstoreaccount1",
            ),
            ("BOT__TELEMETRY__EXPORT_BLOB__CONTAINER", "telemetry"),
            ("BOT__TELEMETRY__EXPORT_BLOB__AUTH", "sas"),
        ];
        v.extend_from_slice(extra);
        Settings::load_from(&env(&v))
    };
    let s = blob(&[("BOT__TELEMETRY__EXPORT_BLOB__SAS", "sv=1&sig=sekrit-sig")]).unwrap();
    assert!(matches!(
        &s.telemetry.export,
        ExportTarget::Blob(b) if b.container == "telemetry" && matches!(b.auth, BlobAuth::Sas(_))
    ));
    let dump = s.redacted().to_string();
    assert!(
        dump.contains("\"export_kind\":\"blob\"") && dump.contains("[REDACTED]"),
        "{dump}"
    );
    assert!(!dump.contains("sekrit-sig") && !format!("{s:?}").contains("sekrit-sig"));

    let e = blob(&[]).unwrap_err().to_string();
    assert!(
        e.contains("telemetry.export_blob.sas") && e.contains("BOT__TELEMETRY__EXPORT_BLOB__SAS"),
        "{e}"
    );
    let e = blob(&[
        ("BOT__TELEMETRY__EXPORT_BLOB__SAS", "sv=1&sig=x"),
        ("BOT__TELEMETRY__EXPORT_BLOB__CONTAINER", "Telemetry_Export"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("telemetry.export_blob.container") && e.contains("environment"),
        "{e}"
    );
    let e = Settings::load_from(&env(&[("BOT__TELEMETRY__EXPORT_KIND", "blob")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("telemetry.export_blob.account_url") && e.contains("[telemetry.export_blob]"),
        "{e}"
    );
    let e = Settings::load_from(&env(&[("BOT__TELEMETRY__EXPORT_KIND", "s3")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("telemetry.export_kind") && e.contains("environment"),
        "{e}"
    );
    let s = Settings::load_from(&env(&[("BOT__TELEMETRY__EXPORT_DIR", "data/telemetry")])).unwrap();
    assert!(matches!(&s.telemetry.export, ExportTarget::Dir(d) if d.ends_with("telemetry")));
    let s = Settings::load_from(&env(&[
        ("BOT__TELEMETRY__EXPORT_DIR", "data/telemetry"),
        ("BOT__TELEMETRY__EXPORT_KIND", "off"),
    ]))
    .unwrap();
    assert!(matches!(s.telemetry.export, ExportTarget::Off));
}

#[test]
fn telemetry_is_off_by_default_and_validated() {
    let s = Settings::load_from(&env(&[])).unwrap();
    assert!(s.telemetry.otlp_endpoint.is_empty());
    assert!(s.telemetry.export_dir.is_empty());
    assert!(matches!(s.telemetry.export, ExportTarget::Off));
    assert!(!s.telemetry.log_personal_information);
    let e = Settings::load_from(&env(&[("BOT__TELEMETRY__OTLP_ENDPOINT", "collector:4318")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("telemetry.otlp_endpoint") && e.contains("environment"),
        "{e}"
    );
    let s = Settings::load_from(&env(&[(
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "InstrumentationKey=secret-key-1;IngestionEndpoint=https://example.invalid/",
    )]))
    .unwrap();
    assert!(s.telemetry.app_insights_connection_string.is_some());
    assert!(!format!("{s:?}").contains("secret-key-1"));
    assert!(!s.redacted().to_string().contains("secret-key-1"));
}

#[test]
fn a_mistyped_key_is_refused_by_name_and_origin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("regions")).unwrap();
    let region = dir.path().join("regions").join("typo.toml");
    std::fs::write(&region, "[server]\nmax_body_byts = 1000\n").unwrap();
    let config_dir = dir.path().display().to_string();
    let e = Settings::load_from(&env(&[
        ("BOT_CONFIG_DIR", &config_dir),
        ("BOT_REGION", "typo"),
        ("BOT__LU__KIND", "off"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("server.max_body_byts") && e.contains("typo.toml") && e.contains("unknown key"),
        "{e}"
    );

    // The same from the environment, and a whole mistyped section.
    for (var, key) in [
        ("BOT__SERVER__MAX_BODY_BYTS", "server.max_body_byts"),
        ("BOT__SEVER__LISTEN", "sever"),
        ("BOT__STORAGE__COSMOS__ENDPIONT", "storage.cosmos.endpiont"),
        // A section [storage] does not have: the variable, not the defaults.
        ("BOT__STORAGE__SQLITE__PATH", "storage.sqlite"),
    ] {
        let e = Settings::load_from(&env(&[(var, "1000")]))
            .err()
            .unwrap_or_else(|| panic!("{var} loaded"))
            .to_string();
        assert!(e.contains(key) && e.contains("environment"), "{var}: {e}");
    }
    // A mistyped secret's value is not echoed.
    let e = Settings::load_from(&env(&[("BOT__QNA__SERVE_KYE", "sekrit-value")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("qna.serve_kye") && !e.contains("sekrit-value"),
        "{e}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let e = Settings::load_from(&env(&[
        ("BOT__SERVER__LISTEN", "nowhere"),
        ("BOT__BOT__SCORE_THRESHOLD", "2"),
        ("BOT__LOG__FORMAT", "xml"),
        ("BOT__REPLIES__BUDGET_MS", "60000"),
    ]))
    .unwrap_err();
    let SettingsError::Invalid(problems) = &e else {
        panic!("{e}")
    };
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "server.listen",
            "bot.score_threshold",
            "replies.budget_ms",
            "log.format"
        ],
        "{e}"
    );
    assert!(
        problems.iter().all(|p| p.origin == "the environment"),
        "{e}"
    );
    assert!(
        e.to_string().starts_with("configuration: 4 problems"),
        "{e}"
    );
}

#[test]
fn microsoft_app_type_is_read_as_botbuilder_reads_it() {
    for (value, expected) in [
        ("multitenant", AppType::MultiTenant),
        ("SINGLETENANT", AppType::SingleTenant),
        ("UserAssignedMsi", AppType::UserAssignedMsi),
        ("UserAssignedMSI", AppType::UserAssignedMsi),
    ] {
        let s = Settings::load_from(&env(&[
            ("MicrosoftAppId", "app-1"),
            ("MicrosoftAppPassword", "pw"),
            ("MicrosoftAppTenantId", "tenant-1"),
            ("MicrosoftAppType", value),
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi"),
            ("IDENTITY_HEADER", "h"),
        ]))
        .unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(s.app.app_type, expected, "{value}");
    }
    let e = Settings::load_from(&env(&[("MicrosoftAppType", "Federated")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("MicrosoftAppType") && e.contains("Federated"),
        "{e}"
    );
}
