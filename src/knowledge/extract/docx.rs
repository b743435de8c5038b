//! DOCX (Office Open XML): a ZIP holding `word/document.xml`, parsed with quick-xml.
//!
//! Zip bombs are refused without trusting the archive's headers: the entries read (document,
//! styles, core properties) share one budget of uncompressed bytes, and each is read through a
//! hard `take()` of at most `max(compressed size × max ratio, 1 MB)` — whatever size its header
//! claims — so a tiny entry that inflates to gigabytes stops at the cap. Only stored and
//! deflated entries are readable (the `zip` crate is built with deflate alone).
//!
//! Structure: headings from paragraph styles (`Title`, `Heading1`–`Heading6`, or any style
//! whose name is "heading N" or which has an outline level, looked up in `word/styles.xml`),
//! list paragraphs (`w:numPr`, indented by `w:ilvl`), tables as `a | b | c` rows — or, under a
//! header row, rows naming their columns (`Service: Bath | Small dog: $35`, see
//! [`super::writer`]). A table's first row is its header when Word marks it so ("Repeat as
//! header row", `w:tblHeader`), or when the table has three columns or more and the row holds
//! no number or price (`Service | Small dog | Large dog`, not `Bath | $35 | $60`). A two-column
//! table with no mark is taken as labels and values (`Phone | 555-0142`), whose first row is
//! data like the others, and stays as it is.
//!
//! Text boxes (`w:txbxContent`, whose paragraphs sit inside a paragraph of the body) come out as
//! paragraphs of their own after the paragraph they are anchored in. Word writes a text box
//! twice, in an `mc:AlternateContent`: the drawing (`mc:Choice`) and an old-style VML copy for
//! older readers (`mc:Fallback`); only the Choice is read, so the box's text appears once.
//! Self-closing elements (`<w:t/>`, `<w:p/>`, `<w:tc/>`) open nothing.
use super::writer::{Block, First, Writer, collapse};
use super::{Budget, Document, DocumentKind, ExtractError, Limits};
use quick_xml::events::Event;
use std::collections::HashMap;
use std::io::{Cursor, Read};

const KIND: DocumentKind = DocumentKind::Docx;
const MIN_RATIO_CAP: u64 = 1024 * 1024;

pub(crate) fn extract(bytes: &[u8], limits: &Limits, budget: &Budget) -> Result<Document, ExtractError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| ExtractError::Damaged { kind: KIND })?;
    if archive.len() > 10_000 {
        return Err(ExtractError::Damaged { kind: KIND });
    }
    let mut remaining = limits.max_unpacked_bytes;
    let document = read_entry(&mut archive, "word/document.xml", &mut remaining, limits, budget)?.ok_or(ExtractError::Damaged { kind: KIND })?;
    let styles = match read_entry(&mut archive, "word/styles.xml", &mut remaining, limits, budget)? {
        Some(xml) => heading_styles(&xml, budget)?,
        None => HashMap::new(),
    };
    let core_title = match read_entry(&mut archive, "docProps/core.xml", &mut remaining, limits, budget)? {
        Some(xml) => core_title(&xml),
        None => None,
    };
    let (text, first_heading) = body(&document, &styles, budget)?;
    Ok(Document { title: core_title.or(first_heading), text, kind: KIND })
}

/// Reads one entry under the shared uncompressed budget and the ratio cap; `None` if absent.
fn read_entry(archive: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str, remaining: &mut u64, limits: &Limits, budget: &Budget) -> Result<Option<Vec<u8>>, ExtractError> {
    let bomb = ExtractError::ExpandsTooMuch { kind: KIND, limit: limits.max_unpacked_bytes };
    let mut entry = match archive.by_name(name) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(_) => return Err(ExtractError::Damaged { kind: KIND }),
    };
    // The header's sizes are only a first filter; the read below enforces the real cap.
    let compressed = entry.compressed_size().max(1);
    if entry.size() > *remaining || (entry.size() > MIN_RATIO_CAP && entry.size() / compressed > limits.max_compression_ratio) {
        return Err(bomb);
    }
    let cap = (*remaining).min(compressed.saturating_mul(limits.max_compression_ratio).max(MIN_RATIO_CAP));
    let mut limited = (&mut entry).take(cap + 1);
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = limited.read(&mut chunk).map_err(|_| ExtractError::Damaged { kind: KIND })?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() as u64 > cap {
            return Err(bomb);
        }
        budget.check(0)?;
    }
    *remaining -= out.len() as u64;
    Ok(Some(out))
}

fn reader(xml: &[u8]) -> quick_xml::Reader<&[u8]> {
    let mut r = quick_xml::Reader::from_reader(xml);
    r.config_mut().trim_text(false);
    r
}

fn attr(e: &quick_xml::events::BytesStart, local: &[u8]) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.local_name().as_ref() == local).map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

/// Style id → heading level (0 for `Title`), from `word/styles.xml`.
fn heading_styles(xml: &[u8], budget: &Budget) -> Result<HashMap<String, usize>, ExtractError> {
    let mut r = reader(xml);
    let mut map = HashMap::new();
    let mut current: Option<String> = None;
    loop {
        budget.check(0)?;
        match r.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => match e.local_name().as_ref() {
                b"style" => current = attr(&e, b"styleId"),
                b"name" => {
                    if let (Some(id), Some(level)) = (&current, attr(&e, b"val").and_then(|n| level_from_style_name(&n))) {
                        map.insert(id.clone(), level);
                    }
                }
                b"outlineLvl" => {
                    if let (Some(id), Some(level)) = (&current, attr(&e, b"val").and_then(|v| v.parse::<usize>().ok()).filter(|l| *l < 6)) {
                        map.entry(id.clone()).or_insert(level + 1);
                    }
                }
                _ => {}
            },
            Ok(Event::End(e)) if e.local_name().as_ref() == b"style" => current = None,
            Ok(Event::Eof) => break,
            Err(_) => break, // a broken styles part only costs heading detection
            _ => {}
        }
    }
    Ok(map)
}

/// "heading 2" / "Heading2" → 2; "Title" → 0.
fn level_from_style_name(name: &str) -> Option<usize> {
    let n = name.to_ascii_lowercase().replace(' ', "");
    if n == "title" {
        return Some(0);
    }
    n.strip_prefix("heading").and_then(|d| d.parse::<usize>().ok()).filter(|l| (1..=6).contains(l))
}

fn core_title(xml: &[u8]) -> Option<String> {
    let mut r = reader(xml);
    let mut in_title = false;
    let mut title = String::new();
    loop {
        match r.read_event() {
            Ok(Event::Start(e)) if e.local_name().as_ref() == b"title" => in_title = true,
            Ok(Event::End(e)) if e.local_name().as_ref() == b"title" => break,
            Ok(Event::Text(t)) if in_title => title.push_str(&t.decode().ok()?),
            Ok(Event::GeneralRef(g)) if in_title => title.push_str(&general_ref(&g)),
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    Some(collapse(&title)).filter(|t| !t.is_empty())
}

fn general_ref(g: &quick_xml::events::BytesRef) -> String {
    if let Ok(Some(c)) = g.resolve_char_ref() {
        return c.to_string();
    }
    let name = g.decode().unwrap_or_default();
    quick_xml::escape::resolve_predefined_entity(&name).unwrap_or("").to_owned()
}

/// Paragraph properties gathered before its text is emitted.
#[derive(Default)]
struct Para {
    text: String,
    style: Option<String>,
    outline: Option<usize>,
    list_level: Option<usize>,
}

/// Walks `word/document.xml`; returns the text and the first heading (a title fallback).
fn body(xml: &[u8], styles: &HashMap<String, usize>, budget: &Budget) -> Result<(String, Option<String>), ExtractError> {
    let mut r = reader(xml);
    let mut w = Writer::new(budget);
    let mut para: Option<Para> = None;
    // Paragraphs a text box's paragraphs interrupted, innermost last, and the text box's
    // paragraphs, written after the outermost paragraph.
    let mut outer: Vec<Para> = Vec::new();
    let mut boxed: Vec<Para> = Vec::new();
    let mut in_text = false;
    let mut table_depth = 0usize;
    let mut row: Vec<String> = Vec::new();
    // Whether the row is marked as a header row.
    let mut row_marked = false;
    let mut cell: Option<String> = None;
    let mut first_heading: Option<String> = None;
    let mut events = 0u32;
    loop {
        events = events.wrapping_add(1);
        if events.is_multiple_of(1024) {
            budget.check(w.len())?;
        }
        let event = r.read_event().map_err(|_| ExtractError::Damaged { kind: KIND })?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(e) if e.local_name().as_ref() == b"Fallback" => {
                // The older copy of an `mc:Choice` just read: skipped whole.
                r.read_to_end(e.name()).map_err(|_| ExtractError::Damaged { kind: KIND })?;
            }
            Event::Start(e) | Event::Empty(e) => {
                match e.local_name().as_ref() {
                    b"p" if !empty => {
                        // A paragraph inside a paragraph: a text box's.
                        outer.extend(para.take());
                        para = Some(Para::default());
                    }
                    b"pStyle" => {
                        if let Some(p) = para.as_mut() {
                            p.style = attr(&e, b"val");
                        }
                    }
                    b"outlineLvl" => {
                        if let Some(p) = para.as_mut() {
                            p.outline = attr(&e, b"val").and_then(|v| v.parse::<usize>().ok()).filter(|l| *l < 6).map(|l| l + 1);
                        }
                    }
                    b"numPr" => {
                        if let Some(p) = para.as_mut() {
                            p.list_level.get_or_insert(0);
                        }
                    }
                    b"ilvl" => {
                        if let Some(p) = para.as_mut() {
                            p.list_level = Some(attr(&e, b"val").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0).min(8));
                        }
                    }
                    b"t" if !empty => in_text = true,
                    b"tab" | b"br" | b"cr" => {
                        if let Some(p) = para.as_mut() {
                            p.text.push(' ');
                        }
                    }
                    b"tbl" if !empty => {
                        table_depth += 1;
                        if table_depth == 1 {
                            row.clear();
                        }
                    }
                    b"tr" if table_depth == 1 => {
                        row.clear();
                        row_marked = false;
                    }
                    b"tblHeader" if table_depth == 1 => row_marked = !matches!(attr(&e, b"val").as_deref(), Some("0" | "false" | "off")),
                    b"tc" if table_depth == 1 && empty => row.push(String::new()),
                    b"tc" if table_depth == 1 => cell = Some(String::new()),
                    _ => {}
                }
            }
            Event::Text(t) if in_text => {
                if let (Some(p), Ok(s)) = (para.as_mut(), t.decode()) {
                    p.text.push_str(&s);
                }
            }
            Event::GeneralRef(g) if in_text => {
                if let Some(p) = para.as_mut() {
                    p.text.push_str(&general_ref(&g));
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    let Some(p) = para.take() else { continue };
                    if let Some(o) = outer.pop() {
                        boxed.push(p);
                        para = Some(o);
                        continue;
                    }
                    for p in std::iter::once(p).chain(boxed.drain(..)) {
                        if let Some(c) = cell.as_mut().filter(|_| table_depth > 0) {
                            // Paragraphs inside a cell join into the cell's text.
                            if !c.is_empty() {
                                c.push(' ');
                            }
                            c.push_str(&p.text);
                            continue;
                        }
                        emit(&mut w, p, styles, &mut first_heading)?;
                    }
                }
                b"tc" if table_depth == 1 => {
                    if let Some(c) = cell.take() {
                        row.push(c);
                    }
                }
                b"tr" if table_depth == 1 => {
                    // The first row's kind (the writer takes it into account for the first only).
                    let first = if row_marked {
                        First::Header
                    } else if row.len() >= 3 {
                        First::Likely
                    } else {
                        First::Data
                    };
                    w.table_row(&row, first)?;
                    row.clear();
                }
                b"tbl" => {
                    table_depth = table_depth.saturating_sub(1);
                    if table_depth == 0 {
                        w.end_group();
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok((w.finish(), first_heading))
}

fn emit(w: &mut Writer<'_>, p: Para, styles: &HashMap<String, usize>, first_heading: &mut Option<String>) -> Result<(), ExtractError> {
    let style_level = p.style.as_deref().and_then(|s| styles.get(s).copied().or_else(|| level_from_style_name(s)));
    match style_level.or(p.outline) {
        Some(level) => {
            let text = collapse(&p.text);
            if first_heading.is_none() && !text.is_empty() {
                *first_heading = Some(text.clone());
            }
            // `Title` (level 0) reads as a top-level heading, like `Heading1`.
            w.heading(level.max(1), &text)
        }
        None => match p.list_level.or_else(|| p.style.as_deref().filter(|s| s.to_ascii_lowercase().starts_with("list")).map(|_| 0)) {
            Some(level) => w.push(Block::ListItem, &format!("{}- {}", "  ".repeat(level), collapse(&p.text))),
            None => w.push(Block::Paragraph, &p.text),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of a `word/document.xml` whose body is `body`.
    fn text_of(body: &str) -> String {
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" xmlns:v="urn:schemas-microsoft-com:vml" mc:Ignorable="wps"><w:body>{body}</w:body></w:document>"#
        );
        body_text(&xml)
    }

    fn body_text(xml: &str) -> String {
        let limits = Limits::default();
        body(xml.as_bytes(), &HashMap::new(), &Budget::new(&limits)).unwrap().0
    }

    #[test]
    fn self_closing_text_elements_open_nothing() {
        // A `<w:t/>` left text "open": a field's code and the spaces between runs were read.
        let text = text_of(
            r#"<w:p><w:r><w:t/></w:r>
  <w:r><w:instrText xml:space="preserve"> HYPERLINK "https://example.com" </w:instrText></w:r>
  <w:r><w:t>Opening</w:t></w:r><w:r><w:t/></w:r><w:r><w:t xml:space="preserve"> hours</w:t></w:r></w:p>
<w:p/>
<w:p><w:r><w:t>Closed on Sundays.</w:t></w:r></w:p>"#,
        );
        assert_eq!(text, "Opening hours\n\nClosed on Sundays.");
    }

    #[test]
    fn a_self_closing_cell_keeps_the_columns() {
        let text = text_of(r#"<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Latte</w:t></w:r></w:p></w:tc><w:tc/><w:tc><w:p><w:r><w:t>3.50</w:t></w:r></w:p></w:tc></w:tr></w:tbl><w:p><w:r><w:t>After.</w:t></w:r></w:p>"#);
        assert!(text.starts_with("Latte | | 3.50"), "{text}");
        assert!(text.ends_with("After."), "{text}");
    }

    #[test]
    fn table_rows_name_their_columns_under_a_header_row() {
        let cell = |t: &str| if t.is_empty() { "<w:tc/>".to_owned() } else { format!("<w:tc><w:p><w:r><w:t>{t}</w:t></w:r></w:p></w:tc>") };
        let row = |cells: &[&str]| format!("<w:tr>{}</w:tr>", cells.iter().map(|c| cell(c)).collect::<String>());
        let table = |rows: &[String]| text_of(&format!("<w:tbl>{}</w:tbl>", rows.concat()));
        // Three columns, a first row with no number: the header.
        assert_eq!(
            table(&[row(&["Service", "Small dog (under 10 kg)", "Large dog (over 25 kg)"]), row(&["Bath", "$35", "$60"]), row(&["Nails", "", "$15"])]),
            "Service: Bath | Small dog (under 10 kg): $35 | Large dog (over 25 kg): $60\nService: Nails | Large dog (over 25 kg): $15"
        );
        // A first row with prices is data.
        assert_eq!(table(&[row(&["Bath", "$35", "$60"]), row(&["Nails", "$10", "$15"])]), "Bath | $35 | $60\nNails | $10 | $15");
        // Two columns: labels and values, unless Word marks the header row.
        assert_eq!(table(&[row(&["Email", "hi@fluffy.test"]), row(&["Phone", "555-0142"])]), "Email | hi@fluffy.test\nPhone | 555-0142");
        let marked = r#"<w:tr><w:trPr><w:tblHeader/></w:trPr><w:tc><w:p><w:r><w:t>Service</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Price</w:t></w:r></w:p></w:tc></w:tr>"#;
        assert_eq!(table(&[marked.to_owned(), row(&["Bath", "$35"])]), "Service: Bath | Price: $35");
    }

    #[test]
    fn a_text_box_is_read_once_after_its_paragraph() {
        // Word's own form: the text box as a drawing (mc:Choice) and again as VML (mc:Fallback).
        let text_box = |t: &str| format!(r#"<w:txbxContent><w:p><w:r><w:t>{t}</w:t></w:r></w:p></w:txbxContent>"#);
        let body = format!(
            r#"<w:p><w:r><w:t xml:space="preserve">We deliver cakes </w:t></w:r><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:wsp><wps:txbx>{}</wps:txbx></wps:wsp></w:drawing></mc:Choice><mc:Fallback><w:pict><v:shape><v:textbox>{}</v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r><w:r><w:t>across town.</w:t></w:r></w:p><w:p><w:r><w:t>Order a day ahead.</w:t></w:r></w:p>"#,
            text_box("Free delivery over 50 euros"),
            text_box("Free delivery over 50 euros")
        );
        assert_eq!(text_of(&body), "We deliver cakes across town.\n\nFree delivery over 50 euros\n\nOrder a day ahead.");
        // An old document's VML text box alone is read too.
        let vml = format!(r#"<w:p><w:r><w:t>Before</w:t></w:r><w:r><w:pict><v:shape><v:textbox>{}</v:textbox></v:shape></w:pict></w:r></w:p>"#, text_box("In the box"));
        assert_eq!(text_of(&vml), "Before\n\nIn the box");
    }
}
