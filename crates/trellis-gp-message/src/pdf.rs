//! The human-readable document a practice files: a plain PDF, one or two pages, with the practice, the
//! person, the dates and the outcome at the top.
//!
//! The PDF is written directly (PDF 1.4, the standard Helvetica fonts, WinAnsi text): a few lines of
//! text need no layout engine, and nothing here reaches outside the process.

use std::fmt::Write as _;

use crate::content::{MessageBack, Occasion};

/// A4 in points.
const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
/// Characters that fit a line at 10 pt Helvetica across the text width, conservatively.
const WRAP_AT: usize = 92;

/// One line of the document.
#[derive(Clone, Debug, PartialEq)]
struct Line {
    text: String,
    bold: bool,
    size: f32,
}

impl Line {
    fn heading(text: impl Into<String>) -> Line {
        Line { text: text.into(), bold: true, size: 12.0 }
    }
    fn text(text: impl Into<String>) -> Line {
        Line { text: text.into(), bold: false, size: 10.0 }
    }
    fn gap() -> Line {
        Line { text: String::new(), bold: false, size: 6.0 }
    }
}

/// The document's lines, top first.
fn lines(m: &MessageBack) -> Vec<Line> {
    let date = |d: chrono::DateTime<chrono::Utc>| d.format("%d %B %Y").to_string();
    let practice = match &m.practice.ods_code {
        Some(ods) => format!("{} ({ods})", m.practice.name),
        None => m.practice.name.clone(),
    };
    let mut out = vec![Line { text: m.title().into(), bold: true, size: 16.0 }, Line::gap()];
    if let Some(correction) = m.correction_text() {
        out.extend([Line { text: correction, bold: true, size: 11.0 }, Line::gap()]);
    }
    out.extend([
        Line::text(format!("To: {practice}")),
        Line::text(format!(
            "Patient: {}    NHS number: {}    Born: {}",
            m.person_name(),
            m.nhs_number_spaced(),
            m.person.date_of_birth.format("%d %B %Y")
        )),
        Line::text(format!("Referred: {}", date(m.referred_at))),
    ]);
    if let Some(closed) = m.closed_at {
        out.push(Line::text(format!("Closed: {}", date(closed))));
    }
    match (m.occasion, m.outcome_text()) {
        (_, Some(outcome)) => out.push(Line { text: format!("Outcome: {outcome}"), bold: true, size: 11.0 }),
        (Occasion::FirstContact, None) => {
            out.push(Line { text: "The link worker has contacted the person.".into(), bold: true, size: 11.0 })
        }
        (Occasion::Closure, None) => {}
    }
    out.push(Line::gap());

    out.push(Line::heading("Referral"));
    if let Some(referrer) = &m.referrer {
        out.push(Line::text(format!("Referred by: {referrer}")));
    }
    out.push(Line::text(format!("Reason: {}", m.reason)));
    out.push(Line::text(format!(
        "Needs and concerns: {}",
        m.needs.iter().map(|n| n.label()).collect::<Vec<_>>().join("; ")
    )));
    out.push(Line::gap());

    out.push(Line::heading("Link worker"));
    let who = m.link_worker.name.clone().unwrap_or_else(|| "not assigned".into());
    out.push(Line::text(format!("{who}, {}", m.link_worker.service.name)));
    if let Some(email) = &m.link_worker.contact_email {
        out.push(Line::text(format!("Contact: {email}")));
    }
    if !m.contact_dates.is_empty() {
        let dates: Vec<String> = m.contact_dates.iter().map(|d| date(*d)).collect();
        out.push(Line::text(format!("Contacts: {}", dates.join(", "))));
    }
    out.push(Line::gap());

    if let Some((what_matters, goals)) = &m.plan {
        out.push(Line::heading("Care and support plan"));
        out.push(Line::text(format!("What matters to the person: {what_matters}")));
        for goal in goals {
            let review = goal.review.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            out.push(Line::text(format!("Goal: {}{review}", goal.description)));
            for (what, status) in &goal.actions {
                out.push(Line::text(format!("  - {what}: {status}")));
            }
        }
        out.push(Line::gap());
    }

    out.push(Line::heading("Support offered"));
    if m.support.is_empty() {
        out.push(Line::text("None."));
    }
    for s in &m.support {
        out.push(Line::text(format!("{} ({}): {}", s.service, s.provider, s.outcome)));
    }
    out.push(Line::gap());

    if !m.measures.is_empty() {
        out.push(Line::heading("Wellbeing"));
        for measure in &m.measures {
            let at = |v: &Option<(chrono::DateTime<chrono::Utc>, f64)>| {
                v.map(|(d, s)| format!("{s} on {}", d.format("%d %b %Y"))).unwrap_or_else(|| "not taken".into())
            };
            let code = measure.snomed.as_deref().map(|c| format!(" [SNOMED CT {c}]")).unwrap_or_default();
            out.push(Line::text(format!(
                "{} {}{code}: baseline {}; follow-up {}",
                measure.instrument,
                measure.score.replace('_', " "),
                at(&measure.baseline),
                at(&measure.follow_up)
            )));
        }
        out.push(Line::gap());
    }

    if !m.notes_for_gp.is_empty() {
        out.push(Line::heading("Notes from the link worker"));
        out.extend(m.notes_for_gp.iter().map(Line::text));
        out.push(Line::gap());
    }
    out.push(Line { text: format!("Trellis reference: {}", m.id), bold: false, size: 8.0 });
    out.into_iter().flat_map(wrap).collect()
}

/// Splits a long line at spaces so that it fits the page.
fn wrap(line: Line) -> Vec<Line> {
    if line.text.chars().count() <= WRAP_AT {
        return vec![line];
    }
    let mut out = vec![];
    let mut current = String::new();
    for word in line.text.split(' ') {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > WRAP_AT {
            out.push(Line { text: std::mem::take(&mut current), ..line.clone() });
            current.push_str("    ");
        } else if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    out.push(Line { text: current, ..line });
    out
}

/// A string as a PDF literal in WinAnsi: parentheses and backslashes escaped, characters outside
/// Latin-1 replaced, control characters dropped.
fn literal(text: &str) -> Vec<u8> {
    let mut out = vec![b'('];
    for c in text.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push(b'\\');
                out.push(c as u8);
            }
            c if (c as u32) < 0x20 => {}
            c if (c as u32) < 0x7f => out.push(c as u8),
            c if (0xa0..=0xff).contains(&(c as u32)) => out.push(c as u32 as u8),
            '\u{2013}' | '\u{2014}' => out.push(b'-'),
            '\u{2018}' | '\u{2019}' => out.push(b'\''),
            _ => out.push(b'?'),
        }
    }
    out.push(b')');
    out
}

/// The message back as a PDF.
pub fn render(message: &MessageBack) -> Vec<u8> {
    write_pdf(&lines(message))
}

fn write_pdf(lines: &[Line]) -> Vec<u8> {
    // Lay the lines out into pages.
    let mut pages: Vec<Vec<u8>> = vec![];
    let mut stream = Vec::new();
    let mut y = PAGE_HEIGHT - MARGIN;
    for line in lines {
        let step = line.size * 1.35;
        if y - step < MARGIN {
            pages.push(std::mem::take(&mut stream));
            y = PAGE_HEIGHT - MARGIN;
        }
        y -= step;
        if line.text.is_empty() {
            continue;
        }
        let font = if line.bold { "F2" } else { "F1" };
        stream.extend_from_slice(format!("BT /{font} {} Tf {MARGIN} {y:.1} Td ", line.size).as_bytes());
        stream.extend_from_slice(&literal(&line.text));
        stream.extend_from_slice(b" Tj ET\n");
    }
    pages.push(stream);

    // Objects: 1 catalog, 2 pages, 3 and 4 fonts, then a page and its content per page.
    let mut objects: Vec<Vec<u8>> = vec![];
    let kids: Vec<String> = (0..pages.len()).map(|i| format!("{} 0 R", 5 + 2 * i)).collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), pages.len()).into_bytes());
    for base in ["Helvetica", "Helvetica-Bold"] {
        objects.push(
            format!("<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>").into_bytes(),
        );
    }
    for (i, content) in pages.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                 /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
                6 + 2 * i
            )
            .into_bytes(),
        );
        let mut object = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        object.extend_from_slice(content);
        object.extend_from_slice(b"endstream");
        objects.push(object);
    }

    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = vec![];
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(object);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref_at = pdf.len();
    let mut xref = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        let _ = writeln!(xref, "{offset:010} 00000 n ");
    }
    let _ = write!(xref, "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n", objects.len() + 1);
    pdf.extend_from_slice(xref.as_bytes());
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_kept_to_latin_1() {
        assert_eq!(literal("a (b) \\ c"), b"(a \\(b\\) \\\\ c)".to_vec());
        assert_eq!(literal("café – 5€"), b"(caf\xe9 - 5?)".to_vec());
        assert_eq!(literal("line\nbreak"), b"(linebreak)".to_vec());
    }

    #[test]
    fn a_long_line_wraps_at_spaces_and_loses_no_word() {
        let words: Vec<String> = (0..60).map(|i| format!("word{i}")).collect();
        let wrapped = wrap(Line::text(words.join(" ")));
        assert!(wrapped.len() > 1);
        assert!(wrapped.iter().all(|l| l.text.chars().count() <= WRAP_AT + 8));
        let rejoined: Vec<String> =
            wrapped.iter().flat_map(|l| l.text.split_whitespace().map(str::to_owned).collect::<Vec<_>>()).collect();
        assert_eq!(rejoined, words);
    }

    #[test]
    fn the_cross_reference_table_points_at_each_object() {
        let pdf = write_pdf(&[Line::heading("Title"), Line::text("Body")]);
        let find = |needle: &[u8]| pdf.windows(needle.len()).rposition(|w| w == needle).unwrap();
        let tail = String::from_utf8(pdf[find(b"startxref\n") + 10..].to_vec()).unwrap();
        let xref_at: usize = tail.lines().next().unwrap().parse().unwrap();
        let table = String::from_utf8(pdf[xref_at..].to_vec()).unwrap();
        assert!(table.starts_with("xref"));
        let offsets: Vec<usize> =
            table.lines().skip(3).take_while(|l| l.ends_with(" n ")).map(|l| l[..10].parse().unwrap()).collect();
        assert_eq!(offsets.len(), 6);
        for (i, offset) in offsets.iter().enumerate() {
            assert!(pdf[*offset..].starts_with(format!("{} 0 obj", i + 1).as_bytes()), "object {}", i + 1);
        }
    }
}
