//! Sandbox integration tests over real HTTP.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;
mod mail;

/// Runs the shell commands of a printed quick start (from its "# 1." line on), exactly as
/// printed, after `edit`; returns their standard output. Fails the test if any fails.
async fn run_quickstart(text: &str, edit: impl Fn(String) -> String) -> String {
    let script: String = text
        .lines()
        .skip_while(|l| !l.starts_with("# 1."))
        .collect::<Vec<_>>()
        .join("\n");
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!("set -e\n{}", edit(script)))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
mod pageup;
mod theary;
