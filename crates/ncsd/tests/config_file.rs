//! The configuration file as users meet it: `ncsd check-config` (valid, redacted, or the line
//! and the reason), `serve` refusing a bad file, the shipped example configuration and the
//! systemd unit.

const KEY_B64: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[test]
fn check_config_validates_and_redacts() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        format!(
            "listen = \"127.0.0.1:8080\"\nsecret = [\"${{NCSD_TEST_CHECK_SECRET}}\"]\n\n[[destination]]\nname = \"app\"\nkind = \"webhook\"\nurl = \"https://app.example.com/hook\"\nsecret = \"whsec_{KEY_B64}\"\n"
        ),
    )
    .unwrap();
    let run = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ncsd"))
            .args(["check-config", file.to_str().unwrap()])
            .env("NCSD_TEST_CHECK_SECRET", "ncs-secret-value")
            .env_remove("NCSD_SECRET")
            .output()
            .unwrap()
    };
    let out = run(&good);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("valid") && text.contains("app.example.com"),
        "{text}"
    );
    assert!(
        !text.contains("ncs-secret-value") && !text.contains(KEY_B64),
        "{text}"
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "secret = [\"s\"]\n\n[[destination]]\nname = \"Bad Name\"\nkind = \"webhook\"\nurl = \"https://x\"\nsecret = \"whsec_x\"\n",
    )
    .unwrap();
    let out = run(&bad);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(":4:") && err.contains("[a-z0-9-]+"), "{err}");
    // serve refuses a bad file the same way.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args(["serve", "--config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[a-z0-9-]+"));
}

/// The example configuration shipped with ncsd is valid, every key known.
#[test]
fn the_example_configuration_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ncsd.example.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args(["check-config", example])
        .env("NCSD_NCS_SECRET", "example-ncs-secret")
        .env("NCSD_API_TOKEN", "example-token-0123456789")
        .env("APP_WEBHOOK_SECRET", format!("whsec_{KEY_B64}"))
        .env_remove("NCSD_SECRET")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("valid") && !text.contains("example-ncs-secret"),
        "{text}"
    );
}

/// The systemd unit keeps the hardening the README promises.
#[test]
fn the_systemd_unit_is_hardened() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/ncsd.service"
    ))
    .unwrap();
    for line in [
        "DynamicUser=yes",
        "StateDirectory=ncsd",
        "ProtectSystem=strict",
        "AmbientCapabilities=CAP_SYS_NICE",
        "CapabilityBoundingSet=CAP_SYS_NICE",
        "NoNewPrivileges=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.lines().any(|l| l.trim() == line), "missing {line}");
    }
}
