//! The logging backstop: every log line passes through [`redact`] on its way out, which
//! masks what looks like a US national id (`123-45-6789` or nine digits standing alone), a
//! JSON Web Token, a bearer token, or a long hex secret. Call sites already log only
//! allowlisted fields; this catches a mistake before it reaches a log file.

use std::io::Write;

const MASK: &[u8] = b"[redacted]";

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || b == b'-'
        || b == b'_'
        || b == b'.'
        || b == b'~'
        || b == b'+'
        || b == b'/'
        || b == b'='
}

/// `line` with secret-looking runs masked.
pub fn redact(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        let boundary = i == 0 || !line[i - 1].is_ascii_alphanumeric();
        if boundary {
            if let Some(n) = ssn_len(rest) {
                out.extend_from_slice(MASK);
                i += n;
                continue;
            }
            if rest.starts_with(b"eyJ") {
                let n = rest.iter().take_while(|b| is_token_char(**b)).count();
                out.extend_from_slice(MASK);
                i += n;
                continue;
            }
            let hex = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
            if hex >= 32 && rest.get(hex).is_none_or(|b| !b.is_ascii_alphanumeric()) {
                out.extend_from_slice(MASK);
                i += hex;
                continue;
            }
        }
        if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"bearer ") {
            out.extend_from_slice(&rest[..7]);
            let n = rest[7..].iter().take_while(|b| is_token_char(**b)).count();
            if n > 0 {
                out.extend_from_slice(MASK);
            }
            i += 7 + n;
            continue;
        }
        out.push(line[i]);
        i += 1;
    }
    out
}

/// Length of an SSN-like run at the start of `s` (`ddd-dd-dddd` or nine digits), if it is
/// not part of a longer number.
fn ssn_len(s: &[u8]) -> Option<usize> {
    let digits =
        |r: std::ops::Range<usize>| s.get(r).is_some_and(|p| p.iter().all(u8::is_ascii_digit));
    let ends = |n: usize| {
        s.get(n)
            .is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'-')
    };
    if digits(0..3)
        && s.get(3) == Some(&b'-')
        && digits(4..6)
        && s.get(6) == Some(&b'-')
        && digits(7..11)
        && ends(11)
    {
        return Some(11);
    }
    if digits(0..9) && ends(9) {
        return Some(9);
    }
    None
}

/// Standard error, through [`redact`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactedStderr;

impl Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stderr().lock().write_all(&redact(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactedStderr {
    type Writer = RedactedStderr;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedStderr
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    fn r(s: &str) -> String {
        String::from_utf8(redact(s.as_bytes())).unwrap()
    }

    #[test]
    fn secrets_are_masked_and_ordinary_text_is_not() {
        assert_eq!(r("ssn=123-45-6789 done"), "ssn=[redacted] done");
        assert_eq!(r("id 123456789."), "id [redacted].");
        assert_eq!(
            r("Authorization: Bearer abc.def-ghi"),
            "Authorization: Bearer [redacted]"
        );
        assert_eq!(
            r("token eyJhbGciOi.eyJzdWIi.sig_-x rest"),
            "token [redacted] rest"
        );
        let hex = "a".repeat(64);
        assert_eq!(r(&format!("secret={hex}")), "secret=[redacted]");
        for keep in [
            "2026-11-23T03:30:38.525929Z INFO check claimed tenant=acme pageup_id=10063",
            "check=8478f6f1-9f6f-4bf0-b7d4-6a0a2f2a8de4 version=3",
            "order 1234567890 and 12345678",
            "phone 555-12-34567",
        ] {
            assert_eq!(r(keep), keep);
        }
    }
}
