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
