//! A report as a PDF file, written directly: PDF 1.4, US Letter, the standard Helvetica
//! fonts (every PDF reader has them, so nothing is embedded), text wrapped to the page,
//! a footer with page numbers. Only what a report needs; no images, no compression.
//!
//! Text is encoded as WinAnsi (Latin-1 plus typographic marks); a character outside it is
//! shown as `?`, never dropped silently.

use std::fmt::Write as _;

use serde_json::Value;

const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const MARGIN: f32 = 54.0;
const BOTTOM: f32 = 72.0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

struct Line {
    font: Font,
    size: f32,
    x: f32,
    y: f32,
    text: Vec<u8>,
}

/// A document being laid out, top to bottom.
pub struct Pdf {
    title: String,
    pages: Vec<Vec<Line>>,
    y: f32,
}

/// Approximate advance of a Helvetica glyph, in thousandths of the font size.
fn advance(c: u8, font: Font) -> f32 {
    let base: f32 = match c {
        b' ' | b'.' | b',' | b':' | b';' | b'!' | b'|' | b'\'' => 278.0,
        b'i' | b'j' | b'l' => 222.0,
        b'f' | b't' | b'I' | b'(' | b')' | b'[' | b']' | b'/' | b'-' => 333.0,
        b'r' => 333.0,
        b'm' | b'M' => 833.0,
        b'w' | b'W' => 800.0,
        b'A'..=b'Z' => 667.0,
        b'0'..=b'9' => 556.0,
        _ => 556.0,
    };
    if font == Font::Bold {
        base * 1.06
    } else {
        base
    }
}

fn width(text: &[u8], font: Font, size: f32) -> f32 {
    text.iter().map(|c| advance(*c, font)).sum::<f32>() * size / 1000.0
}

/// Text as WinAnsi bytes.
fn encode(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => b' ',
            ' '..='~' => c as u8,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '…' => 0x85,
            '€' => 0x80,
            '\u{a0}'..='\u{ff}' => u8::try_from(u32::from(c)).unwrap_or(b'?'),
            _ => b'?',
        })
        .collect()
}

impl Pdf {
    pub fn new(title: &str) -> Pdf {
        Pdf {
            title: title.to_owned(),
            pages: vec![Vec::new()],
            y: PAGE_H - MARGIN,
        }
    }

    fn room(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.pages.push(Vec::new());
            self.y = PAGE_H - MARGIN;
        }
    }

    /// Writes `text` from `x`, wrapped at the right margin, with a line height of
    /// `size * 1.35`.
    fn write(&mut self, text: &str, font: Font, size: f32, x: f32) {
        let max = PAGE_W - MARGIN - x;
        let bytes = encode(text);
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut current: Vec<u8> = Vec::new();
        for word in bytes.split(|b| *b == b' ').filter(|w| !w.is_empty()) {
            let mut candidate = current.clone();
            if !candidate.is_empty() {
                candidate.push(b' ');
            }
            candidate.extend_from_slice(word);
            if width(&candidate, font, size) <= max || current.is_empty() {
                current = candidate;
            } else {
                lines.push(std::mem::take(&mut current));
                current = word.to_vec();
            }
            // A single word wider than the line is cut.
            while width(&current, font, size) > max && current.len() > 1 {
                let mut cut = current.len();
                while cut > 1 && width(&current[..cut], font, size) > max {
                    cut -= 1;
                }
                let rest = current.split_off(cut);
                lines.push(std::mem::replace(&mut current, rest));
            }
        }
        if !current.is_empty() || lines.is_empty() {
            lines.push(current);
        }
        let step = size * 1.35;
        for text in lines {
            self.room(step);
            self.y -= step;
            let y = self.y;
            if let Some(page) = self.pages.last_mut() {
                page.push(Line {
                    font,
                    size,
                    x,
                    y,
                    text,
                });
            }
        }
    }

    pub fn title(&mut self, text: &str) {
        self.write(text, Font::Bold, 18.0, MARGIN);
    }

    pub fn heading(&mut self, text: &str) {
        self.room(40.0);
        self.gap(8.0);
        self.write(text, Font::Bold, 13.0, MARGIN);
        self.gap(2.0);
    }

    pub fn text(&mut self, text: &str) {
        self.write(text, Font::Regular, 10.0, MARGIN);
    }

    /// A label and its value, the value indented under a fixed column.
    pub fn field(&mut self, label: &str, value: &str) {
        self.room(14.0);
        let top = self.y;
        self.write(label, Font::Bold, 10.0, MARGIN);
        let after_label = self.y;
        let page = self.pages.len();
        self.y = top;
        self.write(value, Font::Regular, 10.0, MARGIN + 150.0);
        if self.pages.len() == page {
            self.y = self.y.min(after_label);
        }
    }

    pub fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    /// The finished file.
    pub fn finish(self) -> Vec<u8> {
        let n = self.pages.len();
        let mut objects: Vec<Vec<u8>> = Vec::new();
        // 1 catalog, 2 page tree, 3 and 4 fonts, 5 info, then a page and its content each.
        let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 6 + 2 * i)).collect();
        objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
        objects
            .push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes());
        objects.push(
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
                .to_vec(),
        );
        objects.push(
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
                .to_vec(),
        );
        let mut info = b"<< /Title ".to_vec();
        info.extend(literal(&encode(&self.title)));
        info.extend_from_slice(b" /Producer (checkbridge) >>");
        objects.push(info);
        for (i, lines) in self.pages.iter().enumerate() {
            let mut content = Vec::new();
            for l in lines {
                let font = if l.font == Font::Bold { "F2" } else { "F1" };
                content.extend(
                    format!("BT /{font} {:.1} Tf {:.1} {:.1} Td ", l.size, l.x, l.y).into_bytes(),
                );
                content.extend(literal(&l.text));
                content.extend_from_slice(b" Tj ET\n");
            }
            let footer = encode(&format!("{} · page {} of {n}", self.title, i + 1));
            content.extend(format!("BT /F1 8.0 Tf {MARGIN:.1} 40.0 Td ").into_bytes());
            content.extend(literal(&footer));
            content.extend_from_slice(b" Tj ET\n");
            objects.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] \
                     /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
                    7 + 2 * i
                )
                .into_bytes(),
            );
            let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
            stream.extend(content);
            stream.extend_from_slice(b"\nendstream");
            objects.push(stream);
        }
        let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
        let mut offsets = Vec::with_capacity(objects.len());
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend(format!("{} 0 obj\n", i + 1).into_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
        for o in offsets {
            let _ = writeln!(table, "{o:010} 00000 n ");
        }
        let _ = write!(
            table,
            "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        );
        out.extend(table.into_bytes());
        out
    }
}

/// A PDF literal string: parentheses and backslashes escaped.
fn literal(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b'(');
    for &c in text {
        if matches!(c, b'(' | b')' | b'\\') {
            out.push(b'\\');
        }
        out.push(c);
    }
    out.push(b')');
    out
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The report page's content (the same context the HTML page renders) as a PDF.
pub fn report(ctx: &Value) -> Vec<u8> {
    let check = &ctx["check"];
    let pageup_id = s(check, "pageup_id").unwrap_or("");
    let mut pdf = Pdf::new(&format!("Background check {pageup_id}"));
    pdf.title("Background check report");
    pdf.text(&format!(
        "{} · PageUp check {pageup_id}{}",
        s(ctx, "tenant_name").unwrap_or(""),
        s(check, "reference")
            .map(|r| format!(" · Theary order {r}"))
            .unwrap_or_default()
    ));

    pdf.heading("Candidate");
    match ctx.get("candidate").filter(|c| c.is_object()) {
        Some(c) => {
            pdf.field("Name", s(c, "name").unwrap_or("—"));
            pdf.field("National id", s(c, "ssn_masked").unwrap_or("—"));
            if let Some(email) = s(c, "email") {
                pdf.field("Email", email);
            }
            if let Some(job) = s(c, "job") {
                pdf.field("Position", job);
            }
        }
        None => pdf.text("The candidate's details were removed under the retention policy; the results below remain."),
    }

    pdf.heading("Result");
    pdf.field("Status", s(check, "status").unwrap_or("—"));
    if let Some(overall) = s(ctx, "overall") {
        pdf.field("Overall", overall);
    }
    if let Some(reason) = s(check, "reason") {
        pdf.field("Reason", reason);
    }
    pdf.field("Ordered", s(check, "created").unwrap_or("—"));
    pdf.field("Last change", s(check, "updated").unwrap_or("—"));

    for search in ctx["searches"].as_array().into_iter().flatten() {
        pdf.heading(s(search, "label").unwrap_or("Verification"));
        pdf.field("Status", s(search, "status").unwrap_or("—"));
        pdf.field("Outcome", s(search, "outcome").unwrap_or("—"));
        if search["discrepancy"].as_bool() == Some(true) {
            pdf.field(
                "Discrepancy",
                "yes: what was provided differs from what was verified",
            );
        }
        if let Some(code) = s(search, "reason_code") {
            pdf.field("Reason", code);
        }
        for f in search["fields"].as_array().into_iter().flatten() {
            pdf.field(s(f, "name").unwrap_or(""), s(f, "value").unwrap_or("—"));
        }
        if let Some(comments) = s(search, "comments") {
            pdf.field("Verifier's comments", comments);
        }
        let events: Vec<String> = search["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{}: {}",
                    s(e, "at").unwrap_or(""),
                    s(e, "kind").unwrap_or("")
                )
            })
            .collect();
        if !events.is_empty() {
            pdf.field("Activity", &events.join("; "));
        }
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pdf_has_its_objects_where_the_cross_reference_table_says() {
        let mut pdf = Pdf::new("Test (1)");
        pdf.title("Hello");
        for i in 0..200 {
            pdf.field(&format!("Field {i}"), "a value long enough to wrap across the column when it is repeated, repeated, repeated, repeated");
        }
        let bytes = pdf.finish();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("%PDF-1.4"));
        assert!(text.trim_end().ends_with("%%EOF"));
        let pages = text.matches("/Type /Page ").count();
        assert!(pages > 3, "{pages} pages");
        assert!(text.contains(&format!("page {pages} of {pages}")));
        assert!(text.contains("(Test \\(1\\))"), "parentheses escaped");
        // Every offset in the xref points at "N 0 obj".
        let start: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let table = &bytes[start..];
        let table = String::from_utf8_lossy(table);
        for (i, line) in table
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .enumerate()
        {
            let offset: usize = line[..10].parse().unwrap();
            let expect = format!("{} 0 obj", i + 1);
            assert_eq!(&bytes[offset..offset + expect.len()], expect.as_bytes());
        }
    }

    #[test]
    fn text_outside_winansi_is_marked_not_dropped() {
        assert_eq!(
            encode("Zoë •••-••-1234 — ok ✓"),
            b"Zo\xeb \x95\x95\x95-\x95\x95-1234 \x97 ok ?".to_vec()
        );
    }
}
