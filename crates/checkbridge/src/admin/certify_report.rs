//! The sign-off report of a certification (`admin::certify`): one HTML file (self-contained,
//! no scripts, no outside assets) and one PDF (the shared `pdf` writer, with its embedded
//! Unicode font), both with the tenant, the environment, the date, each step with its time
//! and outcome, the last document PageUp acknowledged for the test check, and lines for the
//! customer's and the provider's signatures.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::certify::{Certificate, Outcome};
use crate::pdf::{Document, PdfError};
use crate::time::rfc3339;

/// The report's headline: what the run concluded.
pub fn verdict(cert: &Certificate) -> &'static str {
    match cert.outcome.as_str() {
        "pass" => "CERTIFIED: every step passed",
        "partial" => "NOT CERTIFIED: no test check was run through (--check)",
        _ => "NOT CERTIFIED: a step failed (see its fix)",
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn duration(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1_000.0)
    }
}

fn document_text(cert: &Certificate) -> String {
    cert.final_document
        .as_ref()
        .and_then(|d| serde_json::to_string_pretty(d).ok())
        .unwrap_or_else(|| "(no document: no test check reached PageUp)".into())
}

/// The HTML report.
pub fn html(cert: &Certificate) -> String {
    let mut h = String::new();
    let title = format!(
        "Go-live certification: {} ({}), PageUp {}",
        cert.tenant_name, cert.tenant, cert.env
    );
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>\n\
         body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.4}}\n\
         table{{border-collapse:collapse;width:100%}}th,td{{border:1px solid #999;padding:.35rem .5rem;text-align:left;vertical-align:top}}\n\
         .pass{{color:#0a6b2d;font-weight:bold}}.fail{{color:#a10f0f;font-weight:bold}}.skip{{color:#555;font-weight:bold}}\n\
         pre{{background:#f4f4f4;padding:.75rem;overflow-x:auto}}.sign td{{height:3rem}}\n\
         </style>\n</head>\n<body>\n<main>\n<h1>{t}</h1>\n<p><strong>{v}</strong></p>\n<dl>\n",
        t = escape(&title),
        v = escape(verdict(cert)),
    );
    for (label, value) in facts(cert) {
        let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", escape(label), escape(&value));
    }
    h.push_str("</dl>\n<h2>Steps</h2>\n<table>\n<thead><tr><th scope=\"col\">#</th><th scope=\"col\">Step</th><th scope=\"col\">Outcome</th><th scope=\"col\">Time (UTC)</th><th scope=\"col\">What was seen</th><th scope=\"col\">Fix</th></tr></thead>\n<tbody>\n");
    for s in &cert.steps {
        let class = match s.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
            s.number,
            escape(&s.name),
            s.outcome.label(),
            escape(&rfc3339(s.started_at)),
            duration(s.finished_at - s.started_at),
            escape(&s.detail),
            escape(s.fix.as_deref().unwrap_or("")),
        );
    }
    let _ = write!(
        h,
        "</tbody>\n</table>\n<h2>The final PageUp document</h2>\n\
         <p>As PageUp acknowledged it for the test check. It holds no candidate data; report links open only after a sign-in.</p>\n\
         <pre>{}</pre>\n<h2>Sign-off</h2>\n\
         <p>We have reviewed the steps above and agree that tenant {} may go live in PageUp {}.</p>\n\
         <table class=\"sign\">\n<thead><tr><th scope=\"col\">For</th><th scope=\"col\">Name and title</th><th scope=\"col\">Signature</th><th scope=\"col\">Date</th></tr></thead>\n\
         <tbody>\n<tr><td>The customer</td><td></td><td></td><td></td></tr>\n\
         <tr><td>The provider</td><td></td><td></td><td></td></tr>\n</tbody>\n</table>\n\
         </main>\n</body>\n</html>\n",
        escape(&document_text(cert)),
        escape(&cert.tenant_name),
        escape(&cert.env),
    );
    h
}

fn facts(cert: &Certificate) -> Vec<(&'static str, String)> {
    vec![
        ("Tenant", format!("{} ({})", cert.tenant_name, cert.tenant)),
        ("Environment", format!("PageUp {}", cert.env)),
        (
            "PageUp instance",
            format!("{} in {}", cert.pageup_instance, cert.data_centre),
        ),
        (
            "Test check (PageUp id)",
            cert.check.clone().unwrap_or_else(|| "none".into()),
        ),
        ("Started", rfc3339(cert.started_at)),
        ("Finished", rfc3339(cert.finished_at)),
        ("Certification id", cert.id.clone()),
        ("checkbridge version", cert.version.clone()),
    ]
}

/// The PDF report.
pub fn pdf(cert: &Certificate) -> Result<Vec<u8>, PdfError> {
    let mut d = Document::new(&format!(
        "Go-live certification: {} ({}), PageUp {}",
        cert.tenant_name, cert.tenant, cert.env
    ));
    d.title(&format!("Go-live certification: {}", cert.tenant_name));
    d.paragraph(verdict(cert));
    d.gap(6.0);
    for (label, value) in facts(cert) {
        d.field(label, &value);
    }
    d.heading("Steps");
    for s in &cert.steps {
        d.field(
            &format!("{}. {}", s.number, s.outcome.label()),
            &format!(
                "{} ({}, {})",
                s.name,
                rfc3339(s.started_at),
                duration(s.finished_at - s.started_at)
            ),
        );
        d.field("", &s.detail);
        if let Some(fix) = &s.fix {
            d.field("Fix", fix);
        }
        d.gap(4.0);
    }
    d.heading("The final PageUp document");
    d.paragraph("As PageUp acknowledged it for the test check. It holds no candidate data; report links open only after a sign-in.");
    for line in document_text(cert).lines() {
        d.paragraph(line);
    }
    d.heading("Sign-off");
    d.paragraph(&format!(
        "We have reviewed the steps above and agree that tenant {} may go live in PageUp {}.",
        cert.tenant_name, cert.env
    ));
    for who in ["The customer", "The provider"] {
        d.gap(10.0);
        d.field(who, "Name and title: ______________________________");
        d.field(
            "",
            "Signature: ______________________________   Date: ____________",
        );
    }
    d.finish()
}

/// SHA-256 of the report's text, hex.
pub fn digest(html: &str) -> String {
    hex::encode(Sha256::digest(html.as_bytes()))
}
