//! Tables to CSV (UTF-8 with a BOM) and to PDF (A4 landscape, DejaVu Sans embedded and subset by
//! krilla, which also writes the ToUnicode maps that let readers copy and search the Kazakh text).

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};

use crate::ReportError;

/// One table of a report: a heading, bilingual column names, relative widths and text cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub heading: String,
    pub columns: Vec<String>,
    pub widths: Vec<f32>,
    pub rows: Vec<Vec<String>>,
}

/// An encoded report file: bytes, content type, file extension.
pub type EncodedReport = (Vec<u8>, &'static str, &'static str);

/// A report in `format` as (bytes, content type, file extension): "csv" or "pdf"; None for JSON, which
/// the caller serializes from the typed report.
pub fn encode(
    format: &str,
    title: &str,
    subtitle: &str,
    tables: &[Table],
) -> Result<Option<EncodedReport>, ReportError> {
    Ok(match format {
        "csv" => Some((to_csv(title, tables)?, "text/csv; charset=utf-8", "csv")),
        "pdf" => Some((to_pdf(title, subtitle, tables)?, "application/pdf", "pdf")),
        _ => None,
    })
}

static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// Tables one after the other, each with its heading row and a blank line between, after a BOM.
pub fn to_csv(title: &str, tables: &[Table]) -> Result<Vec<u8>, ReportError> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(&mut out);
        let err = |e: csv::Error| ReportError::Csv(e.to_string());
        w.write_record([title]).map_err(err)?;
        for t in tables {
            w.write_record([""]).map_err(err)?;
            w.write_record([t.heading.as_str()]).map_err(err)?;
            w.write_record(&t.columns).map_err(err)?;
            for r in &t.rows {
                w.write_record(r).map_err(err)?;
            }
        }
        w.flush().map_err(|e| ReportError::Csv(e.to_string()))?;
    }
    Ok(out)
}

const PAGE_W: f32 = 842.0;
const PAGE_H: f32 = 595.0;
const MARGIN: f32 = 32.0;
const SIZE: f32 = 7.5;
const ROW_H: f32 = 11.0;

/// Cuts text to what fits in `width` points at `size`: DejaVu Sans is wide (Cyrillic capitals reach
/// 0.75 em), so a conservative 0.66 em a character, 0.68 in bold.
fn fit(text: &str, width: f32, size: f32) -> String {
    fit_em(text, width, size, 0.66)
}

/// Word-wraps `text` into lines that fit `width`; the last allowed line is cut with an ellipsis.
fn wrap(text: &str, width: f32, size: f32, max_lines: usize) -> Vec<String> {
    let max = ((width - 4.0) / (size * 0.66)).floor().max(1.0) as usize;
    let mut lines: Vec<String> = vec![];
    let mut current = String::new();
    for word in text.split(' ') {
        let fits =
            current.chars().count() + usize::from(!current.is_empty()) + word.chars().count()
                <= max;
        if fits {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        // A word longer than the column is split.
        let mut rest: Vec<char> = word.chars().collect();
        while rest.len() > max {
            lines.push(rest.drain(..max).collect());
        }
        current = rest.into_iter().collect();
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        let tail = lines[max_lines - 1..].join(" ");
        lines.truncate(max_lines - 1);
        lines.push(fit(&tail, width, size));
    }
    lines
}

fn fit_em(text: &str, width: f32, size: f32, em: f32) -> String {
    let max = ((width - 4.0) / (size * em)).floor().max(1.0) as usize;
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// A text run: x, y, bold, size, text.
type Run = (f32, f32, bool, f32, String);

struct Writer {
    doc: Document,
    regular: Font,
    bold: Font,
    /// Text runs per page: (x, y, bold, size, text), and horizontal rules (y).
    pages: Vec<(Vec<Run>, Vec<f32>)>,
    y: f32,
}

impl Writer {
    fn new_page(&mut self) {
        self.pages.push((vec![], vec![]));
        self.y = MARGIN;
    }
    fn text(&mut self, x: f32, bold: bool, size: f32, t: String) {
        let y = self.y;
        if let Some(p) = self.pages.last_mut() {
            p.0.push((x, y, bold, size, t));
        }
    }
    fn rule(&mut self) {
        let y = self.y;
        if let Some(p) = self.pages.last_mut() {
            p.1.push(y);
        }
    }
    fn need(&mut self, h: f32) -> bool {
        if self.y + h > PAGE_H - MARGIN - 14.0 {
            self.new_page();
            true
        } else {
            false
        }
    }
}

fn header_row(w: &mut Writer, t: &Table, xs: &[(f32, f32)]) {
    w.y += ROW_H;
    for (c, (x, width)) in t.columns.iter().zip(xs) {
        w.text(*x + 2.0, true, SIZE, fit_em(c, *width, SIZE, 0.68));
    }
    w.y += 3.0;
    w.rule();
}

/// A4 landscape pages: the title and subtitle, then each table with its heading; the column header
/// repeats on every page a table continues on; page numbers at the foot.
pub fn to_pdf(title: &str, subtitle: &str, tables: &[Table]) -> Result<Vec<u8>, ReportError> {
    let regular = Font::new(REGULAR.into(), 0)
        .ok_or_else(|| ReportError::Pdf("the embedded regular font cannot be read".into()))?;
    let bold = Font::new(BOLD.into(), 0)
        .ok_or_else(|| ReportError::Pdf("the embedded bold font cannot be read".into()))?;
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(title.to_owned())
            .creator("Qoljetim".to_owned())
            .language("kk".to_owned()),
    );
    let mut w = Writer {
        doc,
        regular,
        bold,
        pages: vec![],
        y: MARGIN,
    };
    w.new_page();
    w.y += 14.0;
    w.text(MARGIN, true, 14.0, title.to_owned());
    for line in subtitle.lines() {
        w.y += 12.0;
        w.text(MARGIN, false, 9.0, line.to_owned());
    }
    w.y += 8.0;
    let usable = PAGE_W - 2.0 * MARGIN;
    for t in tables {
        let total: f32 = t.widths.iter().sum::<f32>().max(0.1);
        let mut xs = vec![];
        let mut x = MARGIN;
        for i in 0..t.columns.len() {
            let width = t.widths.get(i).copied().unwrap_or(1.0) / total * usable;
            xs.push((x, width));
            x += width;
        }
        w.need(4.0 * ROW_H);
        w.y += 16.0;
        w.text(MARGIN, true, 10.0, t.heading.clone());
        w.y += 2.0;
        header_row(&mut w, t, &xs);
        if t.rows.is_empty() {
            w.y += ROW_H;
            w.text(MARGIN + 2.0, false, SIZE, "—".into());
        }
        for r in &t.rows {
            // Cells wrap at word boundaries (up to 4 lines) so that names, IINs and scopes stay whole.
            let cells: Vec<Vec<String>> = r
                .iter()
                .zip(&xs)
                .map(|(cell, (_, width))| wrap(cell, *width, SIZE, 4))
                .collect();
            let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let height = ROW_H + (lines as f32 - 1.0) * (SIZE + 1.5);
            if w.need(height) {
                header_row(&mut w, t, &xs);
            }
            w.y += ROW_H;
            let top = w.y;
            for (cell, (x, _)) in cells.iter().zip(&xs) {
                for (i, line) in cell.iter().enumerate() {
                    w.y = top + i as f32 * (SIZE + 1.5);
                    w.text(*x + 2.0, false, SIZE, line.clone());
                }
            }
            w.y = top + (lines as f32 - 1.0) * (SIZE + 1.5) + 1.5;
        }
    }
    let n = w.pages.len();
    let Writer {
        mut doc,
        regular,
        bold,
        pages,
        ..
    } = w;
    for (i, (runs, rules)) in pages.into_iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| ReportError::Pdf("page size".into()))?;
        let mut page = doc.start_page_with(settings);
        let mut surface = page.surface();
        surface.set_fill(Some(Fill {
            paint: rgb::Color::new(0, 0, 0).into(),
            ..Default::default()
        }));
        for (x, y, is_bold, size, text) in runs {
            let font = if is_bold {
                bold.clone()
            } else {
                regular.clone()
            };
            surface.draw_text(
                Point::from_xy(x, y),
                font,
                size,
                &text,
                false,
                TextDirection::Auto,
            );
        }
        let footer = format!("Qoljetim — {} / {}", i + 1, n);
        surface.draw_text(
            Point::from_xy(MARGIN, PAGE_H - MARGIN + 6.0),
            regular.clone(),
            7.0,
            &footer,
            false,
            TextDirection::Auto,
        );
        surface.set_fill(None);
        surface.set_stroke(Some(Stroke {
            paint: rgb::Color::new(120, 120, 120).into(),
            width: 0.5,
            ..Default::default()
        }));
        for y in rules {
            let mut pb = PathBuilder::new();
            pb.move_to(MARGIN, y);
            pb.line_to(PAGE_W - MARGIN, y);
            if let Some(path) = pb.finish() {
                surface.draw_path(&path);
            }
        }
        surface.finish();
        page.finish();
    }
    doc.finish().map_err(|e| ReportError::Pdf(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            heading: "Тізім / Перечень".into(),
            columns: vec!["Ұйым / Организация".into(), "Күні / Дата".into()],
            widths: vec![3.0, 1.0],
            rows: (0..120)
                .map(|i| vec![format!("ӘҒҚҢӨҰҮҺІ ұйымы {i}"), "2026-03-30".into()])
                .collect(),
        }
    }

    #[test]
    fn csv_starts_with_a_bom_and_keeps_kazakh_text() {
        let out = to_csv("Есеп", &[table()]).unwrap_or_default();
        assert_eq!(&out[..3], &[0xEF, 0xBB, 0xBF]);
        let text = String::from_utf8(out[3..].to_vec()).unwrap_or_default();
        assert!(text.contains("ӘҒҚҢӨҰҮҺІ ұйымы 119,2026-03-30"), "{text}");
    }

    #[test]
    fn pdf_embeds_the_font_and_breaks_pages() {
        let out = to_pdf("Есеп / Отчёт", "2026", &[table()]).unwrap_or_default();
        assert!(out.starts_with(b"%PDF-"));
        let raw = String::from_utf8_lossy(&out);
        assert!(raw.contains("/FontFile2"), "the font is embedded");
        assert!(raw.contains("/ToUnicode"), "text can be extracted");
        assert!(fit("ӘҒҚҢӨҰҮҺІ ұйымы", 30.0, 7.5).ends_with('…'));
        let lines = wrap(
            "Ахметова Сәуле Мараттқызы (740505302194), Бас маман",
            100.0,
            7.5,
            4,
        );
        assert!(lines.len() >= 2, "{lines:?}");
        assert_eq!(
            lines.join(" "),
            "Ахметова Сәуле Мараттқызы (740505302194), Бас маман"
        );
        assert_eq!(wrap("", 100.0, 7.5, 4), vec![String::new()]);
        assert_eq!(wrap("x ".repeat(400).trim(), 50.0, 7.5, 3).len(), 3);
    }
}
