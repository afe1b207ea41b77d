//! What an invitation or a reminder says: subject, text and HTML, from the tenant's display
//! name, the job title, the candidate's first name and the form link, and nothing else
//! personal (no surname, no address, no check details: a mail can be read by whoever shares
//! the mailbox).
//!
//! Pure: the same input gives the same mail. The bodies are minijinja templates
//! (`templates/mail/`); the HTML one is auto-escaped, so a first name of `<script>` arrives
//! as text. Values are trimmed, control characters (a line break in a job title would end a
//! subject header) become spaces, and each is cut to a stated length.

use std::sync::LazyLock;

use serde::Serialize;

/// Longest tenant display name, job title and first name used, in characters; longer ones
/// are cut with an ellipsis.
pub const MAX_TENANT_CHARS: usize = 120;
pub const MAX_JOB_CHARS: usize = 160;
pub const MAX_FIRST_NAME_CHARS: usize = 80;

/// Which mail of the invitation's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationKind {
    /// The first mail.
    Invitation,
    /// The N-th reminder (from 1).
    Reminder(u32),
}

/// What the mail may name.
#[derive(Clone)]
pub struct InvitationContent<'a> {
    pub tenant_name: &'a str,
    pub job_title: &'a str,
    pub first_name: &'a str,
    /// The candidate's form link: https, or http to this machine only.
    pub link: &'a url::Url,
}

impl std::fmt::Debug for InvitationContent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The first name is personal data and the link is a credential.
        f.debug_struct("InvitationContent")
            .field("tenant_name", &self.tenant_name)
            .field("job_title", &self.job_title)
            .finish_non_exhaustive()
    }
}

/// A mail ready to send. Debug shows only the subject's length.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for RenderedMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedMail")
            .field("subject_chars", &self.subject.chars().count())
            .finish_non_exhaustive()
    }
}

/// Why no mail could be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContentError {
    #[error("the {0} is empty")]
    Empty(&'static str),
    #[error("the form link must be https (plain http only to this machine)")]
    Link,
    #[error("the mail template failed: {0}")]
    Template(String),
}

static TEMPLATES: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    for (name, text) in [
        (
            "invitation.txt",
            include_str!("../../templates/mail/invitation.txt"),
        ),
        (
            "invitation.html",
            include_str!("../../templates/mail/invitation.html"),
        ),
    ] {
        // Part of the binary and tested: a broken one fails every test below.
        if let Err(e) = env.add_template(name, text) {
            tracing::error!(template = name, error = %e, "mail template does not parse");
        }
    }
    env
});

/// `value` trimmed, on one line, at most `max` characters.
fn clean(value: &str, max: usize) -> String {
    let one_line: String = value
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one_line = one_line
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

#[derive(Serialize)]
struct Context<'a> {
    subject: &'a str,
    tenant: &'a str,
    job: &'a str,
    first_name: &'a str,
    link: &'a str,
    /// The reminder's number, 0 for the invitation.
    reminder: u32,
}

/// The invitation (or reminder) for `content`.
pub fn invitation_mail(
    content: &InvitationContent<'_>,
    kind: InvitationKind,
) -> Result<RenderedMail, ContentError> {
    let tenant = clean(content.tenant_name, MAX_TENANT_CHARS);
    let job = clean(content.job_title, MAX_JOB_CHARS);
    let first_name = clean(content.first_name, MAX_FIRST_NAME_CHARS);
    if tenant.is_empty() {
        return Err(ContentError::Empty("tenant name"));
    }
    if job.is_empty() {
        return Err(ContentError::Empty("job title"));
    }
    let link = content.link;
    if !(link.scheme() == "https" || (link.scheme() == "http" && crate::config::is_loopback(link)))
    {
        return Err(ContentError::Link);
    }
    let (subject, reminder) = match kind {
        InvitationKind::Invitation => (format!("{tenant}: your background check for {job}"), 0),
        InvitationKind::Reminder(n) => (
            format!("Reminder: {tenant} is waiting for your background check for {job}"),
            n.max(1),
        ),
    };
    let ctx = Context {
        subject: &subject,
        tenant: &tenant,
        job: &job,
        first_name: &first_name,
        link: link.as_str(),
        reminder,
    };
    let render = |name: &str| {
        TEMPLATES
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| ContentError::Template(e.to_string()))
    };
    Ok(RenderedMail {
        text: render("invitation.txt")?,
        html: render("invitation.html")?,
        subject,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> url::Url {
        url::Url::parse("https://cb.example.com/candidate/AbC123_-xyz?x=1&y=2").unwrap()
    }

    fn content<'a>(first: &'a str, link: &'a url::Url) -> InvitationContent<'a> {
        InvitationContent {
            tenant_name: "Acme Corp",
            job_title: "Warehouse Lead",
            first_name: first,
            link,
        }
    }

    #[test]
    fn an_invitation_names_the_tenant_the_job_and_the_candidate_and_links_in_both_parts() {
        let link = link();
        let mail = invitation_mail(&content("Łukasz", &link), InvitationKind::Invitation).unwrap();
        assert_eq!(
            mail.subject,
            "Acme Corp: your background check for Warehouse Lead"
        );
        assert!(mail.text.starts_with("Hello Łukasz,\n"), "{}", mail.text);
        assert!(mail.text.contains(link.as_str()), "{}", mail.text);
        assert!(!mail.text.contains("reminder"), "{}", mail.text);
        // In HTML the link is escaped like every value (`&` must be in an attribute;
        // minijinja also escapes `/`, which a browser reads back as the same link).
        let escaped = link.as_str().replace('&', "&amp;").replace('/', "&#x2f;");
        assert!(
            mail.html.contains(&format!("href=\"{escaped}\"")),
            "{}",
            mail.html
        );
        assert!(mail.html.contains("Hello Łukasz,"), "{}", mail.html);
        assert!(mail.html.contains("<strong>Warehouse Lead</strong>"));
    }

    #[test]
    fn a_reminder_says_so() {
        let link = link();
        let mail = invitation_mail(&content("Ana", &link), InvitationKind::Reminder(2)).unwrap();
        assert_eq!(
            mail.subject,
            "Reminder: Acme Corp is waiting for your background check for Warehouse Lead"
        );
        assert!(mail.text.contains("A reminder: Acme Corp is still waiting"));
        assert!(mail.html.contains("A reminder: Acme Corp is still waiting"));
    }

    #[test]
    fn hostile_values_are_escaped_in_html_and_kept_off_the_subject_line() {
        let link = link();
        let hostile = InvitationContent {
            tenant_name: "Acme & <b>Sons</b>",
            job_title: "Lead\r\nBcc: victim@example.com",
            first_name: "<script>alert(1)</script>",
            link: &link,
        };
        let mail = invitation_mail(&hostile, InvitationKind::Invitation).unwrap();
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(!mail.html.contains("<b>Sons"), "{}", mail.html);
        assert!(
            mail.html
                .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{}",
            mail.html
        );
        assert!(
            mail.html.contains("Acme &amp; &lt;b&gt;Sons"),
            "{}",
            mail.html
        );
        assert!(!mail.subject.contains(['\r', '\n']), "{:?}", mail.subject);
        assert_eq!(
            mail.subject,
            "Acme & <b>Sons</b>: your background check for Lead Bcc: victim@example.com"
        );
        // The text part is text: shown as typed.
        assert!(mail.text.contains("Hello <script>alert(1)</script>,"));
    }

    #[test]
    fn long_values_are_cut_and_empty_ones_refused() {
        let link = link();
        let long = "x".repeat(500);
        let mail = invitation_mail(
            &InvitationContent {
                job_title: &long,
                ..content("Ana", &link)
            },
            InvitationKind::Invitation,
        )
        .unwrap();
        let job = format!("{}…", "x".repeat(MAX_JOB_CHARS - 1));
        assert!(mail.subject.ends_with(&job), "{}", mail.subject);
        assert_eq!(
            invitation_mail(
                &InvitationContent {
                    tenant_name: "  ",
                    ..content("Ana", &link)
                },
                InvitationKind::Invitation
            ),
            Err(ContentError::Empty("tenant name"))
        );
        // No first name: a greeting without one, not an error.
        let mail = invitation_mail(&content("", &link), InvitationKind::Invitation).unwrap();
        assert!(mail.text.starts_with("Hello,\n"), "{}", mail.text);
    }

    #[test]
    fn the_link_must_be_https_unless_it_stays_on_this_machine() {
        for (raw, ok) in [
            ("http://cb.example.com/candidate/x", false),
            ("javascript:alert(1)", false),
            ("http://127.0.0.1:8080/candidate/x", true),
            ("https://cb.example.com/candidate/x", true),
        ] {
            let link = url::Url::parse(raw).unwrap();
            let result = invitation_mail(&content("Ana", &link), InvitationKind::Invitation);
            assert_eq!(result.is_ok(), ok, "{raw}: {result:?}");
        }
    }

    #[test]
    fn debug_shows_no_name_link_or_body() {
        let link = link();
        let c = content("Ana", &link);
        let mail = invitation_mail(&c, InvitationKind::Invitation).unwrap();
        for text in [format!("{c:?}"), format!("{mail:?}")] {
            assert!(!text.contains("Ana"), "{text}");
            assert!(!text.contains("AbC123"), "{text}");
        }
    }
}
