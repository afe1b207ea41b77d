//! The text of a PDF as a reader's tool extracts it: `pdftotext` (Debian's poppler-utils).
//! Without it a test says so and passes, unless `CHECKBRIDGE_REQUIRE_PDFTOTEXT` is set
//! (CI sets it), when its absence fails the test.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// The text `pdftotext` extracts from `pdf` (layout kept, UTF-8), or `None` when
/// `pdftotext` is not installed and not required.
pub fn pdf_text(pdf: &[u8]) -> Option<String> {
    let tool = std::env::var("CHECKBRIDGE_PDFTOTEXT").unwrap_or_else(|_| "pdftotext".to_owned());
    let child = Command::new(&tool)
        .args(["-enc", "UTF-8", "-layout", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("CHECKBRIDGE_REQUIRE_PDFTOTEXT").is_none(),
                "pdftotext is required ({tool}: {e}; apt-get install poppler-utils)"
            );
            eprintln!("no pdftotext here ({e}): the PDF's text is not checked");
            return None;
        }
    };
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let bytes = pdf.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().expect("pdftotext runs");
    writer
        .join()
        .expect("writer thread")
        .expect("pdf written to pdftotext");
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).expect("pdftotext writes UTF-8"))
}
