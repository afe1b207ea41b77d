//! Checks with Prometheus's own `promtool` (Debian's `prometheus` package): the live
//! `/metrics` output and the alert rules shipped in deploy/prometheus. Without the tool a
//! check is skipped with a note, unless `CHECKBRIDGE_REQUIRE_PROMTOOL=1` (CI sets it), which
//! makes a missing tool fail the test.

use std::io::Write as _;
use std::process::{Command, Stdio};

fn promtool() -> Option<&'static str> {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CHECKBRIDGE_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
            "CHECKBRIDGE_REQUIRE_PROMTOOL=1 but promtool is not installed (Debian: prometheus)"
        );
        eprintln!("promtool is not installed: check skipped");
        return None;
    }
    Some("promtool")
}

/// `promtool check metrics` on an exposition: it must parse and follow the naming
/// conventions (promtool prints each problem; any output fails the test).
pub fn promtool_check_metrics(text: &str) {
    let Some(tool) = promtool() else { return };
    let mut child = Command::new(tool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics:\n{said}"
    );
}

/// `promtool check rules FILE` and, when given, `promtool test rules TESTS`.
pub fn promtool_check_rules(rules: &std::path::Path, tests: Option<&std::path::Path>) {
    let Some(tool) = promtool() else { return };
    let out = Command::new(tool)
        .args(["check", "rules"])
        .arg(rules)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(tests) = tests {
        let out = Command::new(tool)
            .args(["test", "rules"])
            .arg(tests)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool test rules:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
