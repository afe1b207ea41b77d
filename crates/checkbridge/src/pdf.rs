//! A small document builder that writes PDF: a title, headings, label/value rows and
//! paragraphs, laid out top to bottom on US Letter pages with a footer naming the page.
//! Reports use it (`http::pdf`); any other document the service hands out (a candidate's
//! consent, for one) can be written the same way.
//!
//! The file is written by `krilla`, which shapes each line (so combining marks and
//! right-to-left scripts come out right), subsets the embedded font to the glyphs used and
//! maps every glyph back to its text, so the PDF's text can be searched and extracted.
//! The font is DejaVu Sans (regular and bold), shipped in `assets/fonts` with its licence:
//! it covers Latin with every European diacritic, Vietnamese, Greek, Cyrillic, Hebrew and
//! Arabic. A character the font has no glyph for is drawn as U+FFFD (the replacement
//! character), never dropped and never a failure.
//!
//! Line breaking is linear in the text: each character's advance is looked up once in the
//! font's tables, words are placed greedily, and a word wider than the line is cut by those
//! measured widths. Rendering is CPU work; callers on the async runtime run it on a blocking
//! thread (see `http::pdf::Renderer`).

use std::sync::OnceLock;

use krilla::geom::Point;
use krilla::page::PageSettings;
use krilla::text::{Font as KrillaFont, TextDirection};
use krilla::Document as KrillaDocument;
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider as _};

const REGULAR_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const MARGIN: f32 = 54.0;
const BOTTOM: f32 = 72.0;
/// Where a row's value starts, from the left margin.
const VALUE_COLUMN: f32 = 150.0;
/// Kept free at the right edge of each line: shaping (kerning, marks) may differ a little
/// from the sum of the advances the breaker measures.
const SLACK: f32 = 2.0;

/// The two faces of the embedded font.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Weight {
    Regular,
    Bold,
}

/// What the breaker needs of a face: its glyph map and advances.
struct Face {
    font: FontRef<'static>,
    units_per_em: f32,
    /// Whether the face has U+FFFD; if not, `?` stands in for missing glyphs.
    replacement: char,
}

impl Face {
    fn load(data: &'static [u8]) -> Option<Face> {
        let font = FontRef::new(data).ok()?;
        let units_per_em = f32::from(
            font.metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        let replacement = if font.charmap().map('\u{fffd}').is_some() {
            '\u{fffd}'
        } else {
            '?'
        };
        Some(Face {
            font,
            units_per_em: units_per_em.max(1.0),
            replacement,
        })
    }

    /// Advance of `c` in points at `size`; `None` when the face has no glyph for it.
    fn advance(
        &self,
        metrics: &skrifa::metrics::GlyphMetrics<'_>,
        c: char,
        size: f32,
    ) -> Option<f32> {
        let glyph = self.font.charmap().map(c)?;
        Some(metrics.advance_width(glyph).unwrap_or(0.0) * size / self.units_per_em)
    }
}

struct Faces {
    regular: Face,
    bold: Face,
}

fn faces() -> Option<&'static Faces> {
    static FACES: OnceLock<Option<Faces>> = OnceLock::new();
    FACES
        .get_or_init(|| {
            Some(Faces {
                regular: Face::load(REGULAR_TTF)?,
                bold: Face::load(BOLD_TTF)?,
            })
        })
        .as_ref()
}

/// Why a document could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the embedded font could not be read")]
    Font,
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

/// One line placed on a page (y is the baseline, from the top of the page).
struct Line {
    weight: Weight,
    size: f32,
    x: f32,
    y: f32,
    text: String,
}

/// A document being laid out, top to bottom.
pub struct Document {
    title: String,
    pages: Vec<Vec<Line>>,
    /// Top of the free space on the current page, from the top edge.
    y: f32,
}

impl Document {
    /// An empty document; `title` goes in its metadata and in every page's footer.
    pub fn new(title: &str) -> Document {
        Document {
            title: clean(title),
            pages: vec![Vec::new()],
            y: MARGIN,
        }
    }

    /// The document's title, large and bold.
    pub fn title(&mut self, text: &str) {
        self.write(text, Weight::Bold, 18.0, MARGIN);
    }

    /// A section heading.
    pub fn heading(&mut self, text: &str) {
        self.room(40.0);
        self.gap(8.0);
        self.write(text, Weight::Bold, 13.0, MARGIN);
        self.gap(2.0);
    }

    /// A paragraph of body text.
    pub fn paragraph(&mut self, text: &str) {
        self.write(text, Weight::Regular, 10.0, MARGIN);
    }

    /// A label and its value, the value in a column of its own, both wrapped.
    pub fn field(&mut self, label: &str, value: &str) {
        self.room(14.0);
        let top = self.y;
        let page = self.pages.len();
        self.write_within(
            label,
            Weight::Bold,
            10.0,
            MARGIN,
            MARGIN + VALUE_COLUMN - 8.0,
        );
        let (after_label, label_page) = (self.y, self.pages.len());
        if label_page == page {
            self.y = top;
        }
        self.write(value, Weight::Regular, 10.0, MARGIN + VALUE_COLUMN);
        if self.pages.len() == label_page {
            self.y = self.y.max(after_label);
        }
    }

    /// Vertical space, in points.
    pub fn gap(&mut self, points: f32) {
        self.y += points;
    }

    /// Pages laid out so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Starts a new page when fewer than `height` points are left on this one.
    fn room(&mut self, height: f32) {
        if self.y + height > PAGE_H - BOTTOM {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn write(&mut self, text: &str, weight: Weight, size: f32, x: f32) {
        self.write_within(text, weight, size, x, PAGE_W - MARGIN);
    }

    /// Writes `text` from `x` to at most `right`, wrapped, with a line height of
    /// `size * 1.35`.
    fn write_within(&mut self, text: &str, weight: Weight, size: f32, x: f32, right: f32) {
        let lines = match faces() {
            Some(f) => wrap(
                match weight {
                    Weight::Regular => &f.regular,
                    Weight::Bold => &f.bold,
                },
                text,
                size,
                right - x - SLACK,
            ),
            // Without a font nothing can be drawn; `finish` reports it.
            None => vec![clean(text)],
        };
        let step = size * 1.35;
        for text in lines {
            self.room(step);
            self.y += step;
            let y = self.y - size * 0.3;
            if let Some(page) = self.pages.last_mut() {
                page.push(Line {
                    weight,
                    size,
                    x,
                    y,
                    text,
                });
            }
        }
    }

    /// The finished file.
    pub fn finish(self) -> Result<Vec<u8>, PdfError> {
        if faces().is_none() {
            return Err(PdfError::Font);
        }
        let regular = KrillaFont::new(REGULAR_TTF.into(), 0).ok_or(PdfError::Font)?;
        let bold = KrillaFont::new(BOLD_TTF.into(), 0).ok_or(PdfError::Font)?;
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| PdfError::Write("page size".to_owned()))?;
        let mut doc = KrillaDocument::new();
        doc.set_metadata(
            krilla::metadata::Metadata::new()
                .title(self.title.clone())
                .producer("checkbridge".to_owned()),
        );
        let n = self.pages.len();
        for (i, lines) in self.pages.into_iter().enumerate() {
            let mut page = doc.start_page_with(settings.clone());
            let mut surface = page.surface();
            for l in lines {
                if l.text.is_empty() {
                    continue;
                }
                let (font, face) = match (l.weight, faces()) {
                    (Weight::Regular, Some(f)) => (regular.clone(), &f.regular),
                    (Weight::Bold, Some(f)) => (bold.clone(), &f.bold),
                    (_, None) => return Err(PdfError::Font),
                };
                draw_line(&mut surface, &font, face, &l);
            }
            let footer = format!("{} · page {} of {n}", self.title, i + 1);
            let footer = match faces() {
                Some(f) => wrap(&f.regular, &footer, 8.0, PAGE_W - 2.0 * MARGIN)
                    .into_iter()
                    .next()
                    .unwrap_or_default(),
                None => footer,
            };
            surface.draw_text(
                Point::from_xy(MARGIN, PAGE_H - 40.0),
                regular.clone(),
                8.0,
                &footer,
                false,
                TextDirection::Auto,
            );
            surface.finish();
            page.finish();
        }
        doc.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
    }
}

/// Draws one line in visual order: the line is split into runs of one direction (the
/// Unicode bidirectional algorithm), each shaped in its own direction and placed after the
/// one to its left, so a Hebrew name inside English text (or the reverse) reads right.
fn draw_line(surface: &mut krilla::surface::Surface<'_>, font: &KrillaFont, face: &Face, l: &Line) {
    let metrics = face
        .font
        .glyph_metrics(Size::unscaled(), LocationRef::default());
    let bidi = unicode_bidi::BidiInfo::new(&l.text, None);
    let mut x = l.x;
    for para in &bidi.paragraphs {
        let (levels, runs) = bidi.visual_runs(para, para.range.clone());
        for run in runs {
            let Some(text) = l.text.get(run.clone()) else {
                continue;
            };
            let direction = if levels.get(run.start).is_some_and(|v| v.is_rtl()) {
                TextDirection::RightToLeft
            } else {
                TextDirection::LeftToRight
            };
            surface.draw_text(
                Point::from_xy(x, l.y),
                font.clone(),
                l.size,
                text,
                false,
                direction,
            );
            x += text
                .chars()
                .map(|c| face.advance(&metrics, c, l.size).unwrap_or(0.0))
                .sum::<f32>();
        }
    }
}

/// Text as one line of drawable characters: line breaks and tabs become spaces, other
/// control characters are left out.
fn clean(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// `text` broken into lines no wider than `max` points, in one pass: every character's
/// advance is measured once; characters the face lacks become its replacement glyph.
fn wrap(face: &Face, text: &str, size: f32, max: f32) -> Vec<String> {
    let metrics = face
        .font
        .glyph_metrics(Size::unscaled(), LocationRef::default());
    let replacement = face
        .advance(&metrics, face.replacement, size)
        .unwrap_or(size * 0.6);
    let space = face.advance(&metrics, ' ', size).unwrap_or(size * 0.3);
    let max = max.max(size);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_w = 0.0_f32;
    let mut word: Vec<(char, f32)> = Vec::new();
    let mut word_w = 0.0_f32;

    // Places the word collected so far on the current line or the next, cutting it where
    // it is wider than a whole line.
    let mut place =
        |line: &mut String, line_w: &mut f32, word: &mut Vec<(char, f32)>, word_w: f32| {
            if word.is_empty() {
                return;
            }
            let sep = if line.is_empty() { 0.0 } else { space };
            if *line_w + sep + word_w <= max {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.extend(word.iter().map(|(c, _)| *c));
                *line_w += sep + word_w;
            } else {
                if !line.is_empty() {
                    lines.push(std::mem::take(line));
                }
                *line_w = 0.0;
                for &(c, w) in word.iter() {
                    if *line_w + w > max && !line.is_empty() {
                        lines.push(std::mem::take(line));
                        *line_w = 0.0;
                    }
                    line.push(c);
                    *line_w += w;
                }
            }
            word.clear();
        };

    for c in text.chars() {
        if c.is_whitespace() {
            place(&mut line, &mut line_w, &mut word, word_w);
            word_w = 0.0;
            continue;
        }
        if c.is_control() {
            continue;
        }
        let (c, w) = match face.advance(&metrics, c, size) {
            Some(w) => (c, w),
            // Direction marks and joiners have no glyph and take no room, but the
            // bidirectional algorithm and shaping read them.
            None if invisible_format(c) => (c, 0.0),
            None => (face.replacement, replacement),
        };
        word.push((c, w));
        word_w += w;
    }
    place(&mut line, &mut line_w, &mut word, word_w);
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Format characters that are drawn as nothing: soft hyphen, zero-width spaces and
/// joiners, direction marks, embeddings, overrides and isolates, the byte-order mark.
fn invisible_format(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> &'static Face {
        &faces().unwrap().regular
    }

    #[test]
    fn the_embedded_font_has_the_scripts_a_name_may_be_written_in() {
        for name in [
            "Zoë Ångström-Ørsted",
            "Nguyễn Thị Minh Khai",
            "Łukasz Żółć",
            "Αλέξανδρος Παπαδόπουλος",
            "Анна Кузнецова",
            "שרה לוי",
        ] {
            let lines = wrap(face(), name, 10.0, 400.0);
            assert_eq!(lines, vec![name.to_owned()], "{name} has every glyph");
        }
    }

    #[test]
    fn characters_without_a_glyph_become_the_replacement_character() {
        let lines = wrap(face(), "a\u{10FFFD}b \u{6F22} \u{E000}", 10.0, 400.0);
        assert_eq!(lines, vec!["a\u{fffd}b \u{fffd} \u{fffd}".to_owned()]);
    }

    #[test]
    fn lines_fit_the_width_and_keep_every_character() {
        let text = "word ".repeat(500) + &"x".repeat(3000);
        let lines = wrap(face(), &text, 10.0, 200.0);
        assert!(lines.len() > 20);
        let metrics = face()
            .font
            .glyph_metrics(Size::unscaled(), LocationRef::default());
        for l in &lines {
            let w: f32 = l
                .chars()
                .map(|c| face().advance(&metrics, c, 10.0).unwrap())
                .sum();
            assert!(w <= 200.0, "{w} wide: {l}");
        }
        let kept: String = lines
            .concat()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let sent: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(kept, sent);
    }

    #[test]
    fn a_document_of_many_pages_is_a_pdf() {
        let mut doc = Document::new("Test (1)");
        doc.title("Hello");
        for i in 0..200 {
            doc.field(&format!("Field {i}"), "a value long enough to wrap across the column when it is repeated, repeated, repeated, repeated");
        }
        assert!(doc.page_count() > 3);
        let bytes = doc.finish().unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(
            bytes.len() < 200_000,
            "the font is subset: {} bytes",
            bytes.len()
        );
    }
}
