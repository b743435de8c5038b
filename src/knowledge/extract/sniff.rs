//! Decides what a file is from its bytes. Order: PDF signature → ZIP (DOCX only if it holds
//! `word/document.xml`) → known binary signatures (refused by name) → anything else binary
//! (refused) → decoded text, then HTML by its leading markup, CSV by consistent delimiters,
//! else Markdown or plain text. The file name is consulted only to choose between text
//! flavours (`.md`, `.csv`, `.html`), never to accept a binary format.
//!
//! Text is decoded in the order browsers use (the WHATWG encoding sniffing algorithm, in
//! short): a byte order mark; else the charset the web server declared (`Content-Type`); else
//! a `<meta charset>` or `<meta http-equiv="Content-Type" content="…; charset=…">` in the
//! first 1024 bytes; else UTF-8 if the bytes are valid UTF-8; else Windows-1252. So a Russian
//! site in windows-1251 or a Japanese one in Shift_JIS is read as its authors wrote it.
use super::{DocumentKind, ExtractError};
use encoding_rs::Encoding;
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

/// Sniffs `bytes`. `declared_charset` is the `charset` the web server sent with them (its
/// `Content-Type` header), if any; an unknown label is ignored.
pub(crate) fn sniff(bytes: &[u8], file_name_hint: &str, declared_charset: Option<&str>) -> Result<Sniffed, ExtractError> {
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
    let text = decode_text(bytes, declared_charset.and_then(|l| Encoding::for_label(l.trim().as_bytes())))?;
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

/// Text in the encoding its bytes say they are in, in the order of the module comment;
/// `declared` is the web server's charset. Binary data is refused.
fn decode_text(bytes: &[u8], declared: Option<&'static Encoding>) -> Result<String, ExtractError> {
    let binary = || ExtractError::Unsupported { what: "binary data, not text".into() };
    let utf16 = |e: &'static Encoding| e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE;
    // A byte order mark overrides everything, a declared charset included.
    let (encoding, body) = match Encoding::for_bom(bytes) {
        Some((encoding, bom_len)) => (Some(encoding), &bytes[bom_len..]),
        // UTF-16 is the one declared encoding whose text is full of NUL bytes.
        None => (declared.filter(|e| utf16(*e)), bytes),
    };
    if !encoding.is_some_and(utf16) && looks_binary(body) {
        return Err(binary());
    }
    let encoding = encoding
        .or(declared)
        .or_else(|| meta_charset(&body[..body.len().min(1024)]))
        .unwrap_or_else(|| if std::str::from_utf8(body).is_ok() { encoding_rs::UTF_8 } else { encoding_rs::WINDOWS_1252 });
    let (text, _) = encoding.decode_without_bom_handling(body);
    if text.contains('\0') {
        return Err(binary());
    }
    Ok(text.into_owned())
}

/// The encoding an HTML `<meta>` names in `head` (the WHATWG prescan, simplified: comments are
/// skipped, and the first `<meta charset>` or `<meta http-equiv="content-type" content>` with
/// a known label wins). UTF-16 named in a page that is not UTF-16 (it would have a byte order
/// mark) means UTF-8, and `x-user-defined` means Windows-1252, as in browsers.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let mut i = 0;
    while i < head.len() {
        let rest = &head[i..];
        if rest.starts_with(b"<!--") {
            i += find(rest, b"-->").map_or(rest.len(), |end| end + 3);
            continue;
        }
        let is_meta = rest.len() > 5 && rest[..5].eq_ignore_ascii_case(b"<meta") && (rest[5].is_ascii_whitespace() || rest[5] == b'/');
        if !is_meta {
            i += 1;
            continue;
        }
        let (attrs, used) = tag_attributes(&rest[5..]);
        i += 5 + used;
        let value = |name: &str| attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let label = match (value("charset"), value("http-equiv"), value("content")) {
            (Some(charset), _, _) => Some(charset.to_owned()),
            (None, Some(equiv), Some(content)) if equiv.trim().eq_ignore_ascii_case("content-type") => charset_param(content).map(str::to_owned),
            _ => None,
        };
        let Some(encoding) = label.and_then(|l| Encoding::for_label(l.trim().as_bytes())) else { continue };
        return Some(match encoding {
            e if e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE => encoding_rs::UTF_8,
            e if e == encoding_rs::X_USER_DEFINED => encoding_rs::WINDOWS_1252,
            e => e,
        });
    }
    None
}

/// A tag's attributes (names lower-cased, values as written) up to its `>`, and the bytes
/// read. An attribute cut off by the end of `bytes` is dropped.
fn tag_attributes(bytes: &[u8]) -> (Vec<(String, String)>, usize) {
    let mut attrs = Vec::new();
    let mut i = 0;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] == b'>' {
            return (attrs, (i + 1).min(bytes.len()));
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !matches!(bytes[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let name = text(&bytes[start..i]).to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            attrs.push((name, String::new()));
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match bytes.get(i) {
            Some(&quote @ (b'"' | b'\'')) => {
                let Some(len) = bytes[i + 1..].iter().position(|&b| b == quote) else { return (attrs, bytes.len()) };
                let v = text(&bytes[i + 1..i + 1 + len]);
                i += len + 2;
                v
            }
            _ => {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                text(&bytes[start..i])
            }
        };
        attrs.push((name, value));
    }
}

/// The `charset` parameter of a `Content-Type` value (an HTTP header, or a `<meta>`'s
/// `content`), quotes removed: `text/html; charset="windows-1251"` → `windows-1251`.
pub(crate) fn charset_param(content_type: &str) -> Option<&str> {
    let lower = content_type.to_ascii_lowercase();
    let at = lower.find("charset")?;
    let rest = content_type[at + "charset".len()..].trim_start().strip_prefix('=')?.trim_start();
    let value = match rest.strip_prefix(['"', '\'']) {
        Some(quoted) => quoted.split(['"', '\'']).next()?,
        None => rest.split(|c: char| c.is_ascii_whitespace() || c == ';').next()?,
    };
    Some(value).filter(|v| !v.is_empty())
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

/// Markdown headings, fences or table lines near the start: `| a | b |`, or a table's line
/// under its header (`---|---`, as in a pipe table written without outer pipes), so that the
/// Markdown extractor reads the table and its rows name their columns.
fn looks_like_markdown(text: &str) -> bool {
    text.lines().take(200).any(|l| {
        let t = l.trim();
        (t.starts_with('#') && t.trim_start_matches('#').starts_with(' ') && t.len() - t.trim_start_matches('#').len() <= 6)
            || t.starts_with("```")
            || (t.starts_with('|') && t.ends_with('|') && t.len() > 2)
            || (t.contains('|') && t.contains("--") && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(bytes: &[u8], name: &str) -> Result<DocumentKind, ExtractError> {
        sniff(bytes, name, None).map(|s| s.kind())
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
        assert_eq!(kind(b"Service | Price\n--- | ---\nBath | $35\n", "prices.txt").unwrap(), DocumentKind::Markdown);
        assert_eq!(kind(b"Prices\n------\nBath, $35 | Nails, $10\n", "").unwrap(), DocumentKind::Text);
    }

    #[test]
    fn legacy_and_utf16_text_decode() {
        assert_eq!(decode_text(b"caf\xe9 \x80", None).unwrap(), "café €");
        assert_eq!(decode_text(b"\xff\xfeh\0i\0", None).unwrap(), "hi");
        assert!(decode_text(b"abc\0def", None).is_err());
    }

    /// "Привет, мир" in windows-1251, and "こんにちは" in Shift_JIS.
    const CP1251: &[u8] = b"\xcf\xf0\xe8\xe2\xe5\xf2, \xec\xe8\xf0";
    const SJIS: &[u8] = b"\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd";

    fn text_of(bytes: &[u8], declared: Option<&str>) -> String {
        match sniff(bytes, "", declared).unwrap() {
            Sniffed::Html(t) | Sniffed::Markdown(t) | Sniffed::Text(t) | Sniffed::Csv(t, _) => t,
            other => panic!("not text: {other:?}"),
        }
    }

    #[test]
    fn text_is_decoded_by_its_declared_charset() {
        // The web server's charset.
        assert_eq!(text_of(CP1251, Some("windows-1251")), "Привет, мир");
        assert_eq!(text_of(SJIS, Some("Shift_JIS")), "こんにちは");
        // A <meta charset>, or a <meta http-equiv> with the charset in its content.
        let page = |meta: &str, body: &[u8]| [format!("<!doctype html><html><head>{meta}<title>x</title></head><body><p>").as_bytes(), body, b"</p></body></html>"].concat();
        assert!(text_of(&page("<meta charset=\"windows-1251\">", CP1251), None).contains("Привет, мир"));
        assert!(text_of(&page("<META HTTP-EQUIV='Content-Type' CONTENT='text/html; charset=shift_jis'>", SJIS), None).contains("こんにちは"));
        assert!(text_of(&page("<meta charset=cp1251 />", CP1251), None).contains("Привет, мир"));
        // The server's charset comes before the page's; a byte order mark before both.
        let koi8 = page("<meta charset=\"koi8-r\">", CP1251);
        assert!(text_of(&koi8, Some("windows-1251")).contains("Привет, мир"));
        let bom = [b"\xef\xbb\xbf".as_slice(), "Привет".as_bytes()].concat();
        assert_eq!(text_of(&bom, Some("windows-1251")), "Привет");
        // A meta inside a comment, or past the first 1024 bytes, does not count.
        assert!(text_of(&page("<!-- <meta charset=windows-1251> -->", b"caf\xe9"), None).contains("café"));
        let late = page(&format!("{}<meta charset=windows-1251>", " ".repeat(1100)), b"caf\xe9");
        assert!(text_of(&late, None).contains("café"));
        // Unknown labels are ignored; without any declaration, UTF-8 if valid, else Windows-1252.
        assert_eq!(text_of("Привет".as_bytes(), Some("no-such-charset")), "Привет");
        assert_eq!(text_of(b"caf\xe9", None), "café");
    }

    #[test]
    fn charset_params_are_read_like_browsers_do() {
        assert_eq!(charset_param("text/html; charset=windows-1251"), Some("windows-1251"));
        assert_eq!(charset_param("text/html;charset=\"Shift_JIS\""), Some("Shift_JIS"));
        assert_eq!(charset_param("text/html; charset = utf-8; foo=bar"), Some("utf-8"));
        assert_eq!(charset_param("text/html"), None);
    }
}
