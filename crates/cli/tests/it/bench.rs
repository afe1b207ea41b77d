//! `checkbridge bench all --size tiny`: every scenario still runs end to end and reports
//! every figure it promises. Nothing here judges a figure: timings on a shared machine are
//! not a test's business (BENCHMARKS.md holds the full-size figures).

use std::process::Command;

use serde_json::Value;

#[test]
fn every_scenario_runs_at_tiny_size_and_reports_its_figures() {
    let out = Command::new(env!("CARGO_BIN_EXE_checkbridge"))
        .args(["bench", "all", "--size", "tiny", "--json"])
        .output()
        .expect("running checkbridge bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON report per line"))
        .collect();
    let names: Vec<&str> = reports
        .iter()
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    // The drain runs twice: at the default latency and across an ocean (200 ms).
    assert_eq!(
        names,
        ["drain", "drain", "tenants", "webhooks", "resume", "latency"]
    );
    // The figures each scenario's goals are judged on.
    let expected: &[(&str, &[&str])] = &[
        // At 20 ms it is judged against the null integrator, at 200 ms against the bound.
        ("drain", &["new throughput"]),
        ("drain", &["all claimed (queued)", "all ordered (new)"]),
        (
            "tenants",
            &[
                "CPU, share of one core",
                "peak RSS",
                "GETs + token requests",
                "tenants polled in window",
            ],
        ),
        (
            "webhooks",
            &[
                "events verified and committed",
                "over HTTP against straight inserts",
            ],
        ),
        ("resume", &["peak RSS growth"]),
        ("latency", &["pending to queued p99", "pending to new p99"]),
    ];
    for (report, (name, figures)) in reports.iter().zip(expected) {
        assert_eq!(report["size"], "tiny");
        let have = report["figures"].as_array().unwrap();
        for f in *figures {
            let fig = have
                .iter()
                .find(|x| x["name"] == *f)
                .unwrap_or_else(|| panic!("{name}: no figure {f:?} in {report}"));
            let value = fig["value"].as_f64().unwrap();
            assert!(
                value.is_finite() && value > 0.0,
                "{name}: {f} = {value} (a measurement, so positive)"
            );
            // Every judged figure says whether it met its goal.
            assert!(fig["pass"].is_boolean(), "{name}: {f} is not judged");
        }
    }
}
