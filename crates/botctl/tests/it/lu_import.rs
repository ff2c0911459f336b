//! `botctl lu import`, run as the real binary on files in a temporary directory.

use std::process::Command;

fn botctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_botctl"))
}

#[test]
fn imports_a_luis_export_into_a_loadable_intents_file() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("app.json");
    let out = dir.path().join("intents.json");
    std::fs::write(
        &export,
        r#"{"luis_schema_version": "7.0.0", "culture": "en-us",
            "intents": [{"name": "Cancel"}, {"name": "Escalate"}, {"name": "None"}],
            "entities": [{"name": "product"}],
            "regex_entities": [{"name": "ticket", "regexPattern": "INC\\d+"}],
            "utterances": [
              {"text": "cancel that", "intent": "Cancel", "entities": []},
              {"text": "stop", "intent": "Cancel", "entities": []},
              {"text": "talk to a human", "intent": "Escalate", "entities": []}
            ]}"#,
    )
    .unwrap();
    let o = botctl()
        .args(["lu", "import"])
        .arg(&export)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("LUIS export: 2 intents, 3 examples, 1 regex entities"),
        "{stdout}"
    );
    assert!(
        stdout.contains("None") && stdout.contains("product"),
        "{stdout}"
    );
    let file = lu::IntentsFile::load(&out).unwrap();
    let r = lu::EmbeddedRecognizer::new(&file, 0.5).unwrap();
    let got = r.recognize_now("please cancel that INC123").unwrap();
    assert_eq!(got.top_intent.name, "Cancel");
    assert_eq!(got.entities[0].text, "INC123");
}

#[test]
fn a_malformed_export_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("intents.json");
    for (name, body, needle) in [
        ("truncated.json", r#"{"intents": [{"name": "A"#, "not JSON"),
        ("other.json", r#"{"hello": 1}"#, "neither a LUIS"),
        (
            "undeclared.json",
            r#"{"intents": [], "utterances": [{"text": "x", "intent": "B"}]}"#,
            "not declared",
        ),
    ] {
        let export = dir.path().join(name);
        std::fs::write(&export, body).unwrap();
        let o = botctl()
            .args(["lu", "import"])
            .arg(&export)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains(name) && stderr.contains(needle),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!out.exists(), "nothing written for a bad export");
    }
}
