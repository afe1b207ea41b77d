//! The deployment files in deploy/: the systemd unit passes `systemd-analyze verify` without
//! a warning, and the container build uses the toolchain and the lock file CI uses.

use std::process::Command;

fn repo_file(path: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
    std::fs::read_to_string(format!("{root}{path}")).unwrap()
}

#[test]
fn the_systemd_unit_verifies_without_a_warning() {
    let Ok(found) = Command::new("systemd-analyze").arg("--version").output() else {
        assert!(
            std::env::var("CHECKBRIDGE_REQUIRE_SYSTEMD_ANALYZE").as_deref() != Ok("1"),
            "CHECKBRIDGE_REQUIRE_SYSTEMD_ANALYZE=1 but systemd-analyze is not installed"
        );
        eprintln!("systemd-analyze is not installed: unit not verified");
        return;
    };
    assert!(found.status.success());
    // verify wants every executable the unit names to exist: point it at the built binary.
    let unit = repo_file("deploy/systemd/checkbridge.service").replace(
        "/usr/local/bin/checkbridge",
        env!("CARGO_BIN_EXE_checkbridge"),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkbridge.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    // systemd ignores (with a warning) what it cannot parse: any output is a defect.
    let warnings: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("checkbridge.service"))
        .collect();
    assert!(warnings.is_empty(), "{said}");
}

#[test]
fn the_container_build_uses_the_declared_toolchain_and_the_lock_file() {
    let manifest = repo_file("Cargo.toml");
    let rust_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"'))
        .unwrap();
    let containerfile = repo_file("deploy/Containerfile");
    assert!(
        containerfile.contains(&format!("rust:{rust_version}-")),
        "the build stage uses Rust {rust_version}, the workspace's rust-version"
    );
    for line in containerfile.lines().filter(|l| l.contains("cargo build")) {
        assert!(line.contains("--locked"), "{line}");
    }
    assert!(
        containerfile.contains("USER 10001"),
        "runs as a non-root user"
    );
}

#[test]
fn the_alert_rules_check_and_pass_their_tests_with_promtool() {
    let root = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/prometheus"
    ));
    checkbridge_lab::testing::promtool_check_rules(
        &root.join("alerts.yml"),
        Some(&root.join("alerts_test.yml")),
    );
}

#[test]
fn the_rules_and_the_dashboard_name_only_metrics_the_service_exports() {
    let exported = checkbridge::metrics::Metrics::default().render_classic();
    let known = |name: &str| {
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        exported.lines().any(|l| {
            l.starts_with(&format!("# TYPE {base} ")) || l.starts_with(&format!("# TYPE {name} "))
        })
    };
    for file in [
        "deploy/prometheus/alerts.yml",
        "deploy/grafana/checkbridge.json",
    ] {
        let text = repo_file(file);
        let mut names: Vec<&str> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("checkbridge_") || w.starts_with("process_"))
            .collect();
        names.sort_unstable();
        names.dedup();
        assert!(!names.is_empty(), "{file}");
        for name in names {
            assert!(
                known(name),
                "{file} names {name}, which /metrics does not export"
            );
        }
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&repo_file("deploy/grafana/checkbridge.json")).unwrap();
    assert!(dashboard["panels"]
        .as_array()
        .is_some_and(|p| p.len() >= 10));
}
