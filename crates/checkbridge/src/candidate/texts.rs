//! The legal texts a candidate reads and signs: the standalone FCRA disclosure, the
//! authorization, and notices for candidates living in particular states. They are the
//! customer's words, so each tenant may point at a directory of its own:
//!
//! ```text
//! disclosure.txt      (or disclosure.md)
//! authorization.txt   (or authorization.md)
//! notices/CA.txt      one file per state, named by its two-letter code (.txt or .md)
//! ```
//!
//! A configured directory is the whole set: both main texts must be there, and the notices
//! are exactly the files in `notices/` (none is fine). Without a directory the shipped
//! defaults in `assets/candidate/` are used; each default opens with a notice that the
//! customer's counsel must review it, and they are written for this project (no company's
//! text is copied). `{company}` becomes the tenant's display name and `{provider}` the
//! consumer reporting agency ([`PROVIDER`]), in one pass (a company name containing
//! `{provider}` stays as typed).
//!
//! The texts are plain text: blank lines separate paragraphs, a line starting `# ` is a
//! heading and one starting `- ` a list item ([`blocks`]). No markup is interpreted, so a
//! text cannot inject HTML into the page or anything but characters into the PDF.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::form::UsState;

/// The consumer reporting agency named in the texts.
pub const PROVIDER: &str = "Theary";

/// The largest text file read, in bytes.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Where the Consumer Financial Protection Bureau publishes "A Summary of Your Rights Under
/// the Fair Credit Reporting Act".
pub const FCRA_SUMMARY_URL: &str =
    "https://files.consumerfinance.gov/f/documents/bcfp_consumer-rights-summary_2018-09.pdf";

const DEFAULT_DISCLOSURE: &str = include_str!("../../assets/candidate/disclosure.txt");
const DEFAULT_AUTHORIZATION: &str = include_str!("../../assets/candidate/authorization.txt");
const DEFAULT_NOTICES: &[(&str, &str)] = &[
    ("CA", include_str!("../../assets/candidate/notices/CA.txt")),
    ("MN", include_str!("../../assets/candidate/notices/MN.txt")),
    ("NY", include_str!("../../assets/candidate/notices/NY.txt")),
    ("OK", include_str!("../../assets/candidate/notices/OK.txt")),
    ("WA", include_str!("../../assets/candidate/notices/WA.txt")),
];

/// Why a tenant's texts could not be loaded (each names the file).
#[derive(Debug, thiserror::Error)]
pub enum TextsError {
    #[error("{} could not be read", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is missing: a texts directory needs disclosure.txt (or .md) and authorization.txt (or .md)", dir.display())]
    Missing { dir: PathBuf, name: &'static str },
    #[error("{} is larger than {MAX_TEXT_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf },
    #[error("{} is not UTF-8 text", path.display())]
    NotText { path: PathBuf },
    #[error("{} is empty", path.display())]
    Empty { path: PathBuf },
    #[error("{} is not named for a US state (for example notices/CA.txt)", path.display())]
    NoticeName { path: PathBuf },
}

/// One tenant's legal texts, placeholders filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalTexts {
    disclosure: String,
    authorization: String,
    notices: BTreeMap<UsState, String>,
}

impl LegalTexts {
    /// The shipped defaults for `company`.
    pub fn shipped(company: &str) -> LegalTexts {
        LegalTexts {
            disclosure: fill(DEFAULT_DISCLOSURE, company),
            authorization: fill(DEFAULT_AUTHORIZATION, company),
            notices: DEFAULT_NOTICES
                .iter()
                .filter_map(|(code, text)| Some((UsState::parse(code)?, fill(text, company))))
                .collect(),
        }
    }

    /// The texts in `dir` when one is configured, else the shipped defaults. Meant for
    /// startup: every error names the file and what is wrong with it.
    pub fn load(dir: Option<&Path>, company: &str) -> Result<LegalTexts, TextsError> {
        let Some(dir) = dir else {
            return Ok(LegalTexts::shipped(company));
        };
        let main = |name: &'static str| -> Result<String, TextsError> {
            for ext in ["txt", "md"] {
                let path = dir.join(format!("{name}.{ext}"));
                if path.is_file() {
                    return Ok(fill(&read(&path)?, company));
                }
            }
            Err(TextsError::Missing {
                dir: dir.to_owned(),
                name,
            })
        };
        let disclosure = main("disclosure")?;
        let authorization = main("authorization")?;
        let mut notices = BTreeMap::new();
        let notice_dir = dir.join("notices");
        if notice_dir.is_dir() {
            let entries = std::fs::read_dir(&notice_dir).map_err(|source| TextsError::Read {
                path: notice_dir.clone(),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| TextsError::Read {
                    path: notice_dir.clone(),
                    source,
                })?;
                let path = entry.path();
                if !path.is_file() {
                    continue;
                }
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("");
                let state = UsState::parse(stem)
                    .filter(|_| stem.len() == 2 && matches!(ext, "txt" | "md"))
                    .ok_or_else(|| TextsError::NoticeName { path: path.clone() })?;
                notices.insert(state, fill(&read(&path)?, company));
            }
        }
        Ok(LegalTexts {
            disclosure,
            authorization,
            notices,
        })
    }

    /// The disclosure, shown on a page of its own.
    pub fn disclosure(&self) -> &str {
        &self.disclosure
    }

    /// The authorization the candidate signs.
    pub fn authorization(&self) -> &str {
        &self.authorization
    }

    /// The notice for candidates whose current address is in `state`, if there is one.
    pub fn notice(&self, state: UsState) -> Option<&str> {
        self.notices.get(&state).map(String::as_str)
    }

    /// The states with a notice.
    pub fn notice_states(&self) -> impl Iterator<Item = UsState> + '_ {
        self.notices.keys().copied()
    }
}

fn read(path: &Path) -> Result<String, TextsError> {
    let bytes = std::fs::read(path).map_err(|source| TextsError::Read {
        path: path.to_owned(),
        source,
    })?;
    if bytes.len() > MAX_TEXT_BYTES {
        return Err(TextsError::TooLarge {
            path: path.to_owned(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| TextsError::NotText {
        path: path.to_owned(),
    })?;
    if text.trim().is_empty() {
        return Err(TextsError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(text)
}

/// `text` with `{company}` and `{provider}` replaced, in one pass, and line ends as `\n`.
fn fill(text: &str, company: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text.as_str();
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{company}") {
            out.push_str(company);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{provider}") {
            out.push_str(PROVIDER);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out.trim().to_owned()
}

/// A piece of a legal text as pages and the PDF lay it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "text", rename_all = "lowercase")]
pub enum Block {
    Heading(String),
    Paragraph(String),
    Item(String),
}

/// `text` as headings (`# `), list items (`- `) and paragraphs (lines up to a blank line,
/// joined with spaces).
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut Vec<Block>| {
        if !para.is_empty() {
            out.push(Block::Paragraph(para.join(" ")));
            para.clear();
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            flush(&mut para, &mut out);
        } else if let Some(h) = line.strip_prefix("# ").or_else(|| line.strip_prefix("## ")) {
            flush(&mut para, &mut out);
            out.push(Block::Heading(h.trim().to_owned()));
        } else if let Some(item) = line.strip_prefix("- ") {
            flush(&mut para, &mut out);
            out.push(Block::Item(item.trim().to_owned()));
        } else {
            para.push(line);
        }
    }
    flush(&mut para, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_texts_name_the_company_and_provider_and_ask_for_counsel() {
        let t = LegalTexts::shipped("Acme {provider} Ltd");
        for text in [t.disclosure(), t.authorization()]
            .into_iter()
            .chain(t.notice_states().filter_map(|s| t.notice(s)))
        {
            assert!(text.starts_with("NOTE FOR THE EMPLOYER"), "{}", &text[..40]);
            assert!(text.contains("counsel"));
            let rest = text.replace("Acme {provider} Ltd", "");
            assert!(!rest.contains("{company}") && !rest.contains("{provider}"));
        }
        assert!(t.disclosure().contains("Acme {provider} Ltd"));
        assert!(t.disclosure().contains("Theary"));
        let states: Vec<&str> = t.notice_states().map(|s| s.code()).collect();
        assert_eq!(states, ["CA", "MN", "NY", "OK", "WA"]);
        assert!(t.notice(UsState::parse("TX").unwrap()).is_none());
    }

    #[test]
    fn a_tenant_directory_replaces_the_whole_set() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("disclosure.md"),
            "# D\r\n\r\n{company} uses {provider}. {other}",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("authorization.txt"),
            "I authorize {company}.",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("notices")).unwrap();
        std::fs::write(dir.path().join("notices/NJ.txt"), "New Jersey notice").unwrap();
        let t = LegalTexts::load(Some(dir.path()), "Globex").unwrap();
        assert_eq!(t.disclosure(), "# D\n\nGlobex uses Theary. {other}");
        assert_eq!(t.authorization(), "I authorize Globex.");
        let nj = UsState::parse("NJ").unwrap();
        assert_eq!(t.notice(nj), Some("New Jersey notice"));
        assert!(t.notice(UsState::parse("CA").unwrap()).is_none());

        std::fs::write(dir.path().join("notices/XX.txt"), "?").unwrap();
        let e = LegalTexts::load(Some(dir.path()), "Globex").unwrap_err();
        assert!(e.to_string().contains("XX.txt"), "{e}");
    }

    #[test]
    fn a_directory_without_the_main_texts_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let e = LegalTexts::load(Some(dir.path()), "Globex").unwrap_err();
        assert!(
            matches!(
                e,
                TextsError::Missing {
                    name: "disclosure",
                    ..
                }
            ),
            "{e}"
        );
        std::fs::write(dir.path().join("disclosure.txt"), " \n").unwrap();
        let e = LegalTexts::load(Some(dir.path()), "Globex").unwrap_err();
        assert!(matches!(e, TextsError::Empty { .. }), "{e}");
        assert!(LegalTexts::load(None, "Globex").is_ok());
    }

    #[test]
    fn texts_are_split_into_headings_items_and_paragraphs() {
        let b = blocks("# Title\nline one\nline two\n\n- first\n- second\n\n<b>x</b>");
        assert_eq!(
            b,
            vec![
                Block::Heading("Title".into()),
                Block::Paragraph("line one line two".into()),
                Block::Item("first".into()),
                Block::Item("second".into()),
                Block::Paragraph("<b>x</b>".into()),
            ]
        );
    }
}
