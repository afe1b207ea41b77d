//! `checkbridge migrate`, run as a deployment would: several at once on a fresh database.

use std::process::{Command, Output, Stdio};

use checkbridge::store::{latest_version, MIGRATIONS};
use checkbridge_lab::testing::TestDb;

fn migrate(url: &str, extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["migrate", "--database-url", url, "--json"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn three_migrations_started_together_apply_each_version_once() {
    for db in TestDb::all().await {
        let children: Vec<_> = (0..3).map(|_| migrate(&db.url, &[])).collect();
        let mut applied = Vec::new();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", text(&out));
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(report["version"], latest_version());
            applied.extend(report["applied"].as_array().unwrap().clone());
        }
        assert_eq!(
            applied.len(),
            MIGRATIONS.len(),
            "each version applied by one of the three"
        );
        let out = migrate(&db.url, &["status"]).wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(status
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "applied"));
        println!(
            "postgres {}: 3 concurrent `migrate` runs all succeeded, {} versions applied once",
            db.is_postgres(),
            applied.len()
        );

        // A newer binary's migration: both commands refuse, naming both versions.
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        sqlx::query(
            "INSERT INTO schema_migrations (version, applied_at, checksum) VALUES ($1, 0, 'x')",
        )
        .bind(latest_version() + 1)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        let out = migrate(&db.url, &[]).wait_with_output().unwrap();
        assert!(!out.status.success());
        let said = text(&out);
        assert!(
            said.contains(&format!(
                "version {}, newer than this binary knows",
                latest_version() + 1
            )),
            "{said}"
        );
        let out = migrate(&db.url, &["status"]).wait_with_output().unwrap();
        assert!(!out.status.success());
        assert!(text(&out).contains("is unknown"), "{}", text(&out));
        db.drop_now().await;
    }
}

#[test]
fn migrate_with_a_database_url_it_cannot_use_says_so_in_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["migrate", "--database-url", "mysql://x/y"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("use sqlite://PATH or postgres://"), "{said}");
    assert_eq!(said.trim().lines().count(), 1, "{said}");
}
