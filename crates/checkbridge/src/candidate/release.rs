//! The signed release: the disclosure, the authorization and the state notice the candidate
//! was shown, then a signature block (the typed name, the time in UTC, the IP address and
//! user agent of the submission, and the SHA-256 of the exact text signed), written as a PDF
//! through [`crate::pdf::Document`] with its embedded Unicode font, so every name comes out
//! exactly as typed. Everything is drawn as text; nothing typed is interpreted.
//!
//! The digest is over [`document_text`]: the three texts as shown, joined by blank lines.
//! Whoever holds the texts of a tenant at the time can recompute it and show what was signed.

use super::form::{sha256_hex, UsState};
use super::texts::{blocks, Block, LegalTexts, FCRA_SUMMARY_URL};
use crate::pdf::{Document, PdfError};

/// The largest release written, in bytes (Theary takes up to 10 MB).
pub const MAX_RELEASE_BYTES: usize = 10 * 1024 * 1024;

/// The most characters of the user agent kept in the release.
const MAX_USER_AGENT: usize = 512;

/// Who signed, and how the signature reached us.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    /// The name as typed in the signature field (already matched to the legal name).
    pub typed_name: &'a str,
    /// When the form was submitted, in milliseconds since the epoch (UTC).
    pub signed_at_ms: i64,
    /// The client's IP address as the service saw it.
    pub ip: &'a str,
    /// The `User-Agent` header, as sent.
    pub user_agent: &'a str,
}

impl std::fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([REDACTED])")
    }
}

/// The written release.
pub struct SignedRelease {
    /// The PDF file.
    pub pdf: Vec<u8>,
    /// SHA-256 (lowercase hex) of the document text signed ([`document_text`]).
    pub text_sha256: String,
}

impl std::fmt::Debug for SignedRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SignedRelease({} bytes, {})",
            self.pdf.len(),
            self.text_sha256
        )
    }
}

/// Why a release could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("the release PDF could not be written")]
    Pdf(#[from] PdfError),
    #[error("the release PDF would be {0} bytes, over the 10 MB limit")]
    TooLarge(usize),
}

/// The exact text the candidate signs: the disclosure, the authorization and, when the
/// candidate's state has one, its notice, joined by blank lines.
pub fn document_text(texts: &LegalTexts, state: Option<UsState>) -> String {
    let mut parts = vec![texts.disclosure(), texts.authorization()];
    if let Some(notice) = state.and_then(|s| texts.notice(s)) {
        parts.push(notice);
    }
    parts.join("\n\n")
}

/// The signed release of `texts` (with the notice for `state`) by `signer`. CPU work: call
/// it on a blocking thread from async code.
pub fn signed_release(
    texts: &LegalTexts,
    state: Option<UsState>,
    signer: &Signer<'_>,
) -> Result<SignedRelease, ReleaseError> {
    let text = document_text(texts, state);
    let digest = sha256_hex(&text);
    let mut doc = Document::new("Background check disclosure and authorization");
    doc.title("Background check disclosure and authorization");
    doc.gap(6.0);
    draw(&mut doc, texts.disclosure());
    doc.gap(10.0);
    draw(&mut doc, texts.authorization());
    if let Some(notice) = state.and_then(|s| texts.notice(s)) {
        doc.gap(10.0);
        draw(&mut doc, notice);
    }
    doc.gap(6.0);
    doc.paragraph(&format!(
        "A Summary of Your Rights Under the Fair Credit Reporting Act: {FCRA_SUMMARY_URL}"
    ));

    doc.heading("Electronic signature");
    doc.field("Signed by", signer.typed_name);
    doc.field("Signed at (UTC)", &signed_at(signer.signed_at_ms));
    doc.field("IP address", signer.ip);
    let agent: String = signer.user_agent.chars().take(MAX_USER_AGENT).collect();
    doc.field("User agent", &agent);
    // The digest on a full-width line of its own, so it is never broken.
    doc.field("Document SHA-256", "");
    doc.paragraph(&digest);
    doc.gap(6.0);
    doc.paragraph(
        "The SHA-256 is computed over the text of the disclosure, the authorization and the state notice above, exactly as shown to the signer, joined by blank lines.",
    );

    let pdf = doc.finish()?;
    if pdf.len() > MAX_RELEASE_BYTES {
        return Err(ReleaseError::TooLarge(pdf.len()));
    }
    Ok(SignedRelease {
        pdf,
        text_sha256: digest,
    })
}

fn draw(doc: &mut Document, text: &str) {
    for block in blocks(text) {
        match block {
            Block::Heading(h) => doc.heading(&h),
            Block::Paragraph(p) => {
                doc.paragraph(&p);
                doc.gap(4.0);
            }
            Block::Item(i) => doc.paragraph(&format!("• {i}")),
        }
    }
}

/// `2026-05-15T09:14:03Z`; the milliseconds as given when out of range.
fn signed_at(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms since 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(name: &str, state: Option<&str>) -> (SignedRelease, LegalTexts) {
        let texts = LegalTexts::shipped("Acme <Staffing> & Co");
        let r = signed_release(
            &texts,
            state.and_then(UsState::parse),
            &Signer {
                typed_name: name,
                signed_at_ms: 1_778_836_443_000,
                ip: "203.0.113.7",
                user_agent: "Mozilla/5.0 (X11; Linux x86_64) <script>alert(1)</script>",
            },
        )
        .unwrap();
        (r, texts)
    }

    #[test]
    fn the_release_is_a_small_pdf_with_the_digest_of_the_text_signed() {
        let (r, texts) = release("Nguyễn Thị Minh Khai", Some("CA"));
        assert!(r.pdf.starts_with(b"%PDF"));
        assert!(r.pdf.len() < MAX_RELEASE_BYTES);
        assert!(r.pdf.len() < 300_000, "{} bytes", r.pdf.len());
        let ca = UsState::parse("CA");
        assert_eq!(r.text_sha256, sha256_hex(&document_text(&texts, ca)));
        assert_ne!(r.text_sha256, sha256_hex(&document_text(&texts, None)));
    }

    #[test]
    fn names_come_out_of_the_pdf_exactly() {
        for name in [
            "Nguyễn Thị Minh Khai",
            "Łukasz Żółć",
            "Zoë <b>O'Brien</b> & Sons",
        ] {
            let (r, _) = release(name, Some("NY"));
            let Some(text) = checkbridge_lab::testing::pdf_text(&r.pdf) else {
                return;
            };
            assert!(text.contains(name), "{name} in:\n{text}");
            assert!(text.contains(&r.text_sha256), "the digest is printed");
            assert!(text.contains("203.0.113.7"));
            assert!(text.contains("2026-05-15T09:14:03Z"), "{text}");
            assert!(text.contains("<script>alert(1)</script>"), "drawn as text");
            assert!(text.contains("Acme <Staffing> & Co"));
            assert!(text.contains("Notice for candidates living in New York"));
            assert!(text.contains("Disclosure regarding background checks"));
            assert!(text.contains("Authorization for background checks"));
        }
    }

    #[test]
    fn a_state_without_a_notice_gets_none() {
        let (r, texts) = release("Ann Lee", Some("TX"));
        assert_eq!(r.text_sha256, sha256_hex(&document_text(&texts, None)));
        if let Some(text) = checkbridge_lab::testing::pdf_text(&r.pdf) {
            assert!(!text.contains("Notice for candidates living in"));
        }
    }
}
