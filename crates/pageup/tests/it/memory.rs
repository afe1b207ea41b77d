//! Peak memory of one `GET` carrying 5 invitations with a 20 MB resume each.
//!
//! The peak resident set (VmHWM) is the whole process's, so no other test may run in the
//! process that reads it. The test here re-runs this test executable as a child process,
//! filtered to the one measuring test, and passes only if that child ran it and it passed.
//! The measuring test is ignored in normal runs and refuses to run outside such a child.
//! The sandbox streams its generated documents, so its own share of the process's memory is
//! a few hundred kilobytes.

use outbound::RetryPolicy;
use pageup::{Limits, PageUpClient, PageUpTenant, UrlTemplates};
use sandbox::pageup::{self as sb, ClientSpec, GenerateOptions, PageUpConfig};
use secrecy::SecretString;

/// Set in the child's environment: the measuring test runs only where it is set.
const CHILD_ENV: &str = "PAGEUP_MEMORY_TEST_CHILD";
/// The measuring test's full name in this executable.
const MEASURE: &str = "memory::measure_one_page_of_five_20_mb_resumes";

#[test]
fn five_20_mb_resumes_are_not_held_twice() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            MEASURE,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(out.status.success(), "the measuring child process failed");
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "the child process did not run {MEASURE}"
    );
}

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[tokio::test]
#[ignore = "run in a process of its own by five_20_mb_resumes_are_not_held_twice"]
async fn measure_one_page_of_five_20_mb_resumes() {
    assert!(
        std::env::var_os(CHILD_ENV).is_some(),
        "{MEASURE} reads the whole process's peak memory: run it through \
         five_20_mb_resumes_are_not_held_twice, which starts it in a process of its own"
    );
    const DOC: usize = 20 * 1024 * 1024;
    let sandbox = sb::spawn(PageUpConfig::default()).await.unwrap();
    sandbox
        .state
        .add_client(ClientSpec::full("218", "cid", "secret"));
    let mut tenant = PageUpTenant::new(
        "218",
        "uat",
        "dc2",
        "cid",
        SecretString::from("secret".to_owned()),
    );
    tenant.urls = UrlTemplates {
        token: sandbox.token_url(),
        list: sandbox.list_url_template(),
        update: sandbox.update_url_template(),
    };
    let client = PageUpClient::new(RetryPolicy::default(), Limits::default()).unwrap();
    // Warm up: token, connection pool, parser code paths.
    sandbox.state.seed_generated(
        "218",
        1,
        &GenerateOptions {
            document_bytes: 64 * 1024,
            ..Default::default()
        },
    );
    let warm = client.list_pending(&tenant).await.unwrap();
    for inv in warm {
        client
            .update_status(
                &tenant,
                inv.id.as_deref().unwrap(),
                &pageup::StatusDocument::new(pageup::CheckStatus::Queued),
            )
            .await
            .unwrap();
    }
    sandbox.state.seed_generated(
        "218",
        5,
        &GenerateOptions {
            document_bytes: DOC,
            ..Default::default()
        },
    );

    let Some(before) = peak_rss_bytes() else {
        eprintln!("no /proc/self/status here: memory not measured");
        return;
    };
    let page = client.list_pending(&tenant).await.unwrap();
    let after = peak_rss_bytes().unwrap();

    let decoded: usize = page
        .iter()
        .flat_map(|i| &i.documents)
        .filter_map(|d| d.content.as_ref().and_then(|c| c.bytes()).map(|b| b.len()))
        .sum();
    assert!(decoded >= 5 * DOC);
    let wire = (5 * DOC).div_ceil(3) * 4; // the resumes as base64 on the wire
    let growth = after.saturating_sub(before);
    let ratio = growth as f64 / decoded as f64;
    println!(
        "peak RSS growth {:.1} MiB for {:.1} MiB of documents decoded ({:.1} MiB of base64 on the wire): \
         {ratio:.2}x the documents (bound {BOUND})",
        growth as f64 / 1048576.0,
        decoded as f64 / 1048576.0,
        wire as f64 / 1048576.0,
    );
    // The decoded documents must be held (1.0x). A client that streams the response holds
    // little more: one document's base64 text while decoding it (0.27x) and allocator
    // slack. A client that buffers the whole response body holds the body (1.33x, the base64
    // is 4/3 of the documents) and the documents decoded from it (1.0x): at least 2.33x.
    // The bound sits between the two.
    const BOUND: f64 = 1.75;
    assert!(
        ratio < BOUND,
        "the response must be streamed, not buffered: peak growth {ratio:.2}x the decoded \
         documents (bound {BOUND}; a buffered body costs at least 2.33x)"
    );
}
