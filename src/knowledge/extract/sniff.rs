//! Decides what a file is from its bytes. Order: PDF signature → ZIP (DOCX only if it holds
//! `word/document.xml`) → known binary signatures (refused by name) → anything else binary
//! (refused) → decoded text, then HTML by its leading markup, CSV by consistent delimiters,
//! else Markdown or plain text. The file name is consulted only to choose between text
//! flavours (`.md`, `.csv`, `.html`), never to accept a binary format.
use super::{DocumentKind, ExtractError};
use std::io::Cursor;

/// A sniffed file; text flavours carry their decoded text.
#[derive(Debug)]
pub(crate) enum Sniffed {
    Pdf,
    Docx,
    Html(String),
    /// Text and its delimiter.
    Csv(String, u8),
    Markdown(String),
    Text(String),
}

impl Sniffed {
    pub(crate) fn kind(&self) -> DocumentKind {
        match self {
            Sniffed::Pdf => DocumentKind::Pdf,
            Sniffed::Docx => DocumentKind::Docx,
            Sniffed::Html(_) => DocumentKind::Html,
            Sniffed::Csv(..) => DocumentKind::Csv,
            Sniffed::Markdown(_) => DocumentKind::Markdown,
            Sniffed::Text(_) => DocumentKind::Text,
        }
    }
}

/// Signatures of common binary formats, named in the refusal.
const BINARY_SIGNATURES: &[(&[u8], &str)] = &[
    (b"\x7fELF", "a program (executable)"),
    (b"MZ", "a Windows program (executable)"),
    (b"\xfe\xed\xfa\xce", "a program (executable)"),
    (b"\xfe\xed\xfa\xcf", "a program (executable)"),
    (b"\xce\xfa\xed\xfe", "a program (executable)"),
    (b"\xcf\xfa\xed\xfe", "a program (executable)"),
    (b"\xca\xfe\xba\xbe", "a program (executable)"),
    (b"\0asm", "a WebAssembly program"),
    (b"#!", "a script"),
    (b"\x89PNG", "an image"),
    (b"\xff\xd8\xff", "an image"),
    (b"GIF8", "an image"),
    (b"RIFF", "an image or audio file"),
    (b"%!PS", "a PostScript file"),
    (b"\xd0\xcf\x11\xe0", "an old Office file (.doc/.xls/.ppt); save it as .docx or PDF"),
    (b"{\\rtf", "a Rich Text (.rtf) file; save it as .docx or PDF"),
    (b"\x1f\x8b", "a compressed (gzip) archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"BZh", "a compressed (bzip2) archive"),
    (b"\xfd7zXZ", "a compressed (xz) archive"),
    (b"SQLite format 3", "a database file"),
];

pub(crate) fn sniff(bytes: &[u8], file_name_hint: &str) -> Result<Sniffed, ExtractError> {
    // PDF readers accept junk before the header; so do we, within the first kilobyte.
    if find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some() {
        return Ok(Sniffed::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return sniff_zip(bytes);
    }
    for (sig, what) in BINARY_SIGNATURES {
        // "#!" and "MZ" are short: only a binary if the rest agrees.
        if bytes.starts_with(sig) && (sig.len() > 2 || looks_binary(bytes) || *sig == b"#!") {
            return Err(ExtractError::Unsupported { what: (*what).into() });
        }
    }
    let text = decode_text(bytes)?;
    let name = file_name_hint.to_ascii_lowercase();
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let named_markdown = matches!(ext, "md" | "markdown" | "mdown");
    // Markdown may open with inline HTML (`<p align="center">` in many READMEs): a `.md` name
    // keeps it Markdown unless it is a whole HTML document.
    if named_markdown && !is_html_document(&text) {
        return Ok(Sniffed::Markdown(text));
    }
    if looks_like_html(&text, matches!(ext, "html" | "htm" | "xhtml")) {
        return Ok(Sniffed::Html(text));
    }
    if let Some(delimiter) = csv_delimiter(&text, matches!(ext, "csv" | "tsv")) {
        return Ok(Sniffed::Csv(text, delimiter));
    }
    if looks_like_markdown(&text) {
        return Ok(Sniffed::Markdown(text));
    }
    Ok(Sniffed::Text(text))
}

fn sniff_zip(bytes: &[u8]) -> Result<Sniffed, ExtractError> {
    let Ok(archive) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Err(ExtractError::Unsupported { what: "a damaged ZIP archive".into() });
    };
    let names: Vec<String> = archive.file_names().take(10_000).filter_map(|n| n.ok().map(|n| n.into_owned())).collect();
    if names.iter().any(|n| n == "word/document.xml") {
        return Ok(Sniffed::Docx);
    }
    let what = if names.iter().any(|n| n.starts_with("xl/")) {
        "an Excel spreadsheet; save it as CSV"
    } else if names.iter().any(|n| n.starts_with("ppt/")) {
        "a PowerPoint presentation; save it as PDF"
    } else if names.iter().any(|n| n == "content.xml") {
        "an OpenDocument file; save it as .docx or PDF"
    } else {
        "a ZIP archive; upload the files inside it"
    };
    Err(ExtractError::Unsupported { what: what.into() })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// NUL bytes, or more than 1% control characters, in the first 8 KB (UTF-16 text is handled
/// before this is asked).
fn looks_binary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(8192)];
    let control = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b)).count();
    head.contains(&0) || control * 100 > head.len()
}

/// UTF-8 (BOM optional), UTF-16 with a BOM, else Windows-1252 for legacy text; binary refused.
fn decode_text(bytes: &[u8]) -> Result<String, ExtractError> {
    if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        return decode_text(rest);
    }
    let utf16 = |le: bool, rest: &[u8]| -> String {
        let units = rest.chunks_exact(2).map(|c| if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) });
        char::decode_utf16(units).map(|r| r.unwrap_or('\u{fffd}')).collect()
    };
    let text = if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        utf16(true, rest)
    } else if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        utf16(false, rest)
    } else if looks_binary(bytes) {
        return Err(ExtractError::Unsupported { what: "binary data, not text".into() });
    } else {
        match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => bytes.iter().map(|&b| windows_1252(b)).collect(),
        }
    };
    if text.contains('\0') {
        return Err(ExtractError::Unsupported { what: "binary data, not text".into() });
    }
    Ok(text)
}

fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ',
        '\u{9d}', 'ž', 'Ÿ',
    ];
    if (0x80..0xa0).contains(&b) { HIGH[(b - 0x80) as usize] } else { char::from(b) }
}

/// A whole HTML document: it opens with a doctype or `<html>`.
fn is_html_document(text: &str) -> bool {
    let head: String = text.trim_start().chars().take(64).collect::<String>().to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// HTML if the text opens with markup HTML starts with (the WHATWG sniffing list, plus
/// `<?xml … <html`), or — named `.html` — if it holds any common HTML tag near the start.
fn looks_like_html(text: &str, named_html: bool) -> bool {
    let head: String = text.trim_start().chars().take(1024).collect::<String>().to_ascii_lowercase();
    const OPENERS: &[&str] = &[
        "<!doctype html", "<html", "<head", "<body", "<script", "<iframe", "<h1", "<h2", "<h3", "<div", "<font", "<table", "<a", "<style", "<title", "<b", "<br", "<p", "<ul", "<ol", "<section", "<article", "<main", "<nav", "<header", "<meta", "<link",
    ];
    let opens_with_tag = |h: &str| {
        OPENERS.iter().any(|o| h.strip_prefix(o).and_then(|rest| rest.chars().next()).is_some_and(|c| c == '>' || c == ' ' || c == '/' || c == '\n' || c == '\t' || c == '\r'))
            || h.starts_with("<!doctype html")
    };
    if opens_with_tag(&head) {
        return true;
    }
    if head.starts_with("<?xml") || head.starts_with("<!--") {
        return head.contains("<html") || head.contains("<!doctype html");
    }
    named_html && ["<p>", "<div", "<br", "<h1", "<h2", "<table", "<ul", "<a href", "<body"].iter().any(|t| head.contains(t))
}

/// The delimiter (`,` `;` or tab) that splits the first rows into the same number (≥ 2) of
/// short fields. Without a `.csv` name it takes at least three rows, fields of 40 characters
/// or less on average, and lines that mostly do not end like sentences — so a few lines of
/// prose with one comma each stay prose. `|` is not a delimiter: pipe rows are Markdown tables.
fn csv_delimiter(text: &str, named_csv: bool) -> Option<u8> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).take(30).collect();
    let sentences = lines.iter().filter(|l| l.trim_end().ends_with(['.', '!', '?'])).count();
    if !named_csv && sentences * 2 > lines.len() {
        return None;
    }
    let sample = lines.join("\n");
    let (min_rows, max_avg_field) = if named_csv { (2, 200) } else { (3, 40) };
    let mut best: Option<(u8, usize)> = None;
    for delimiter in [b',', b';', b'\t'] {
        let mut reader = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(sample.as_bytes());
        let mut widths = Vec::new();
        let mut field_bytes = 0usize;
        let mut fields = 0usize;
        let mut ok = true;
        for record in reader.records() {
            let Ok(record) = record else {
                ok = false;
                break;
            };
            widths.push(record.len());
            fields += record.len();
            field_bytes += record.iter().map(str::len).sum::<usize>();
        }
        let consistent = widths.len() >= min_rows && widths[0] >= 2 && widths.iter().all(|w| *w == widths[0]);
        let short_fields = fields > 0 && field_bytes / fields <= max_avg_field;
        if ok && consistent && short_fields && best.is_none_or(|(_, w)| widths[0] > w) {
            best = Some((delimiter, widths[0]));
        }
    }
    best.map(|(d, _)| d)
}

/// Markdown headings, fences or list/table lines near the start.
fn looks_like_markdown(text: &str) -> bool {
    text.lines().take(200).any(|l| {
        let t = l.trim_start();
        (t.starts_with('#') && t.trim_start_matches('#').starts_with(' ') && t.len() - t.trim_start_matches('#').len() <= 6)
            || t.starts_with("```")
            || (t.starts_with('|') && t.ends_with('|') && t.len() > 2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(bytes: &[u8], name: &str) -> Result<DocumentKind, ExtractError> {
        sniff(bytes, name).map(|s| s.kind())
    }

    #[test]
    fn the_bytes_decide_not_the_name() {
        assert_eq!(kind(b"%PDF-1.4\n...", "notes.txt").unwrap(), DocumentKind::Pdf);
        assert!(matches!(kind(b"\x7fELF\x02\x01\x01\0\0\0", "manual.pdf"), Err(ExtractError::Unsupported { .. })));
        assert!(matches!(kind(b"MZ\x90\0\x03\0\0\0", "manual.pdf"), Err(ExtractError::Unsupported { .. })));
        assert_eq!(kind(b"<!DOCTYPE html><title>x</title>", "a.txt").unwrap(), DocumentKind::Html);
        assert_eq!(kind(b"hello world", "page.html").unwrap(), DocumentKind::Text);
        assert_eq!(kind(b"<p align=center><img src=logo.png></p>\n\n# Project\n", "README.md").unwrap(), DocumentKind::Markdown);
        assert_eq!(kind(b"<!doctype html><p>x</p>", "README.md").unwrap(), DocumentKind::Html);
    }

    #[test]
    fn csv_needs_consistent_delimiters() {
        assert_eq!(kind(b"name,price\nlatte,3.5\nmocha,4\n", "").unwrap(), DocumentKind::Csv);
        assert_eq!(kind(b"name;price\nlatte;3,5\n", "p.csv").unwrap(), DocumentKind::Csv);
        assert_eq!(kind(b"Hello, world.\nWe open at 9, close at 5 and\nare closed on Sundays, sorry.\n", "").unwrap(), DocumentKind::Text);
        assert_eq!(kind(b"Hello, world.\nWe open at nine.\n", "").unwrap(), DocumentKind::Text);
        assert_eq!(kind(b"| a | b |\n|---|---|\n| 1 | 2 |\n", "").unwrap(), DocumentKind::Markdown);
    }

    #[test]
    fn legacy_and_utf16_text_decode() {
        assert_eq!(decode_text(b"caf\xe9 \x80").unwrap(), "café €");
        assert_eq!(decode_text(b"\xff\xfeh\0i\0").unwrap(), "hi");
        assert!(decode_text(b"abc\0def").is_err());
    }
}
