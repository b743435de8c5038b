//! Extraction of uploaded files: each format keeps its structure, the type comes from the
//! bytes, and hostile input (empty, oversize, bombs, nesting, crashes, hangs) ends in a clear
//! error while the process carries on. Hostile files are generated here, not committed.
use bellhop::knowledge::extract::{Document, DocumentKind, ExtractError, Limits, extract_with};
use bytes::Bytes;
use std::io::Write;
use std::time::{Duration, Instant};

fn limits() -> Limits {
    Limits { worker_exe: Some(env!("CARGO_BIN_EXE_bellhop").into()), time: Duration::from_secs(20), ..Limits::default() }
}

async fn run(bytes: impl Into<Bytes>, name: &str) -> Result<Document, ExtractError> {
    extract_with(bytes.into(), name, &limits()).await
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/knowledge");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).expect("fixture")
}

// ---------- generated documents ----------

/// A PDF from numbered object bodies (1 = catalog), with a correct xref table.
pub fn pdf_from_objects(objects: &[Vec<u8>], info: Option<usize>) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    let info = info.map(|i| format!(" /Info {i} 0 R")).unwrap_or_default();
    out.extend_from_slice(format!("trailer\n<< /Size {} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
    out
}

fn stream(dict_extra: &str, data: &[u8]) -> Vec<u8> {
    let mut s = format!("<< /Length {}{dict_extra} >>\nstream\n", data.len()).into_bytes();
    s.extend_from_slice(data);
    s.extend_from_slice(b"\nendstream");
    s
}

/// A one-page PDF whose page content is `content` (with `/Filter` if compressed).
fn pdf_with_content(catalog_extra: &str, content: Vec<u8>, title: &str) -> Vec<u8> {
    pdf_from_objects(
        &[
            format!("<< /Type /Catalog /Pages 2 0 R{catalog_extra} >>").into_bytes(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
            content,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
            format!("<< /Title ({title}) >>").into_bytes(),
        ],
        Some(6),
    )
}

fn text_pdf(lines: &[&str]) -> Vec<u8> {
    titled_text_pdf(lines, "Cafe Handbook")
}

fn titled_text_pdf(lines: &[&str], title: &str) -> Vec<u8> {
    let ops: String = lines.iter().enumerate().map(|(i, l)| format!("BT /F1 12 Tf 72 {} Td ({l}) Tj ET\n", 720 - 20 * i as i64)).collect();
    pdf_with_content("", stream("", ops.as_bytes()), title)
}

/// zlib data that inflates to `mib` MiB of zeros, compressed a MiB at a time.
fn zeros_deflated(mib: usize) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let block = vec![0u8; 1024 * 1024];
    for _ in 0..mib {
        e.write_all(&block).unwrap();
    }
    e.finish().unwrap()
}

const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;

fn docx(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in parts {
        zip.start_file(*name, options).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn para(style: Option<&str>, num_level: Option<u8>, text: &str) -> String {
    let mut ppr = String::new();
    if let Some(s) = style {
        ppr.push_str(&format!(r#"<w:pStyle w:val="{s}"/>"#));
    }
    if let Some(l) = num_level {
        ppr.push_str(&format!(r#"<w:numPr><w:ilvl w:val="{l}"/><w:numId w:val="1"/></w:numPr>"#));
    }
    format!(r#"<w:p><w:pPr>{ppr}</w:pPr><w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>"#)
}

fn sample_docx() -> Vec<u8> {
    let cell = |t: &str| format!("<w:tc>{}</w:tc>", para(None, None, t));
    let body = [
        para(Some("Title"), None, "Staff Handbook"),
        para(Some("Kop1"), None, "Returns"),
        para(None, None, "Returns are free within 30 days &amp; no questions asked."),
        para(None, Some(0), "Keep the receipt"),
        para(None, Some(1), "or the order number"),
        para(Some("Heading2"), None, "Prices"),
        format!("<w:tbl><w:tr>{}{}</w:tr><w:tr>{}{}</w:tr></w:tbl>", cell("Item"), cell("Price"), cell("Latte"), cell("3.90")),
    ]
    .concat();
    let document = format!("<?xml version=\"1.0\"?><w:document {W}><w:body>{body}</w:body></w:document>");
    // A localised heading style: its id says nothing, its name says "heading 1".
    let styles = format!(r#"<w:styles {W}><w:style w:styleId="Kop1"><w:name w:val="heading 1"/></w:style></w:styles>"#);
    let core = br#"<cp:coreProperties xmlns:cp="x" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Handbook 2026</dc:title></cp:coreProperties>"#;
    docx(&[("[Content_Types].xml", b"<Types/>"), ("word/document.xml", document.as_bytes()), ("word/styles.xml", styles.as_bytes()), ("docProps/core.xml", core)])
}

// ---------- each format, structure kept ----------

#[tokio::test]
async fn html_keeps_headings_lists_tables_and_drops_scripts() {
    let doc = run(fixture("page.html"), "page.html").await.unwrap();
    assert_eq!(doc.kind, DocumentKind::Html);
    assert_eq!(doc.title.as_deref(), Some("Bob's Bikes — Help"));
    for expected in ["# Help centre", "## Opening hours", "- Monday to Friday: 9–18", "  - Holidays: closed", "Service: Puncture repair | Price: €15", "Service: Full service | Price: €60", "Call us & we'll help."] {
        assert!(doc.text.contains(expected), "missing {expected:?} in:\n{}", doc.text);
    }
    // The header row is in every row, not a line of its own.
    assert!(!doc.text.contains("Service | Price"), "{}", doc.text);
    for hidden in ["STEAL_COOKIES", "document.cookie", "color: red", "Skip to content", "noscript-text", "template-text"] {
        assert!(!doc.text.contains(hidden), "{hidden:?} leaked into:\n{}", doc.text);
    }
}

#[tokio::test]
async fn markdown_and_text_are_kept_as_written() {
    let doc = run(fixture("faq.md"), "faq.md").await.unwrap();
    assert_eq!(doc.kind, DocumentKind::Markdown);
    assert_eq!(doc.title.as_deref(), Some("Frequently asked questions"));
    assert!(doc.text.contains("## Delivery\n\nWe deliver within 2 days.\n\n- Free over €50\n- Tracked"), "{}", doc.text);

    let doc = run(&b"Opening hours\r\n\r\n\r\nWe open at nine.\r\n"[..], "notes.txt").await.unwrap();
    assert_eq!((doc.kind, doc.text.as_str()), (DocumentKind::Text, "Opening hours\n\nWe open at nine."));
}

#[tokio::test]
async fn csv_rows_name_their_columns() {
    let doc = run(fixture("prices.csv"), "prices.csv").await.unwrap();
    assert_eq!(doc.kind, DocumentKind::Csv);
    assert_eq!(doc.text, "Product: Latte | Size: large | Price: 3.90\nProduct: Mocha, iced | Size: small | Price: 4.20\nProduct: Tea | Price: 2.50");
}

#[tokio::test]
async fn docx_keeps_headings_lists_and_tables() {
    let doc = run(sample_docx(), "handbook.docx").await.unwrap();
    assert_eq!(doc.kind, DocumentKind::Docx);
    assert_eq!(doc.title.as_deref(), Some("Handbook 2026"));
    assert_eq!(
        doc.text,
        "# Staff Handbook\n\n# Returns\n\nReturns are free within 30 days & no questions asked.\n\n- Keep the receipt\n  - or the order number\n\n## Prices\n\nItem | Price\nLatte | 3.90"
    );
}

#[tokio::test]
async fn pdf_text_is_read_in_the_child_process() {
    let doc = run(text_pdf(&["Opening hours", "We open at nine every day."]), "handbook.pdf").await.unwrap();
    assert_eq!(doc.kind, DocumentKind::Pdf);
    assert_eq!(doc.title.as_deref(), Some("Cafe Handbook"));
    assert!(doc.text.contains("Opening hours") && doc.text.contains("We open at nine every day."), "{}", doc.text);
}

/// A sentence the page wrapped is read as one sentence, so it is never quoted without its
/// subject ("usually last 7 to 10 days" about tulips); a title a program made up ("about:blank")
/// is dropped, so the source goes by its file name.
#[tokio::test]
async fn a_wrapped_pdf_sentence_is_one_sentence_and_a_made_up_title_is_dropped() {
    let lines = ["Fresh flowers last longer in cool water. Roses", "usually last 7 to 10 days; tulips last 5 to 7 days.", "Gift cards: from $20"];
    let doc = run(titled_text_pdf(&lines, "about:blank"), "care.pdf").await.unwrap();
    assert!(doc.text.contains("Roses usually last 7 to 10 days"), "{}", doc.text);
    assert!(doc.text.contains("Gift cards: from $20"), "{}", doc.text);
    assert_eq!(doc.title, None);
}

/// The walkthrough's café menu, a table (dish | price) printed to PDF by a browser: each price
/// came out on a line of its own, so the steak frites was quoted without its $29.00 and a chunk
/// boundary put the fish and chips' $21.00 at the top of the next passage. Each price is now on
/// its dish's line, as the same menu's HTML table gives it, and no chunk separates them.
#[tokio::test]
async fn a_pdf_menu_keeps_each_price_on_its_dish_line() {
    let doc = run(fixture("corner-bistro-menu.pdf"), "corner-bistro-menu.pdf").await.unwrap();
    assert_eq!(doc.title.as_deref(), Some("Corner Bistro Menu"));
    for row in [
        "Steak Frites — 250 g sirloin, peppercorn sauce (GF, D) | $29.00",
        "Fish and Chips — beer-battered cod, mushy peas | $21.00",
        "Espresso | $3.00",
        "Flat White / Cappuccino / Latte (oat or almond milk +$0.60) | $4.50",
    ] {
        assert!(doc.text.lines().any(|l| l == row), "no line {row:?} in:\n{}", doc.text);
    }
    assert!(!doc.text.lines().any(|l| l.starts_with('$')), "a price on a line of its own:\n{}", doc.text);
    let indexed = bellhop::knowledge::Document { title: doc.title.clone().unwrap(), text: doc.text.clone(), url: None };
    for max_tokens in [48, 64, 96, 160] {
        let chunks = bellhop::knowledge::chunk_document(bellhop::domain::TenantId(1), "menu", &indexed, &bellhop::knowledge::ChunkSettings { max_tokens, overlap_tokens: 0 });
        assert!(chunks.len() > 1, "{max_tokens}");
        for c in &chunks {
            assert!(!c.text.lines().any(|l| l.trim_start().starts_with('$')), "{max_tokens}: a passage begins with another dish's price:\n{}", c.text);
            for (dish, price) in [("Steak Frites", "$29.00"), ("Fish and Chips", "$21.00")] {
                assert!(!c.text.contains(dish) || c.text.contains(price), "{max_tokens}: {dish} without {price}:\n{}", c.text);
            }
        }
    }
}

/// The walkthrough's B&B room prices, printed to PDF by Chromium from an HTML table, came out a
/// cell per line: each room's name on one line, "2 | £95 | £115 | £140" on the next and the
/// seasons above, so "how much is the Captain's Suite in high season?" found no price beside
/// the season. Each room is now one row naming its columns, as the HTML table gives it.
#[tokio::test]
async fn a_pdf_table_names_its_columns_in_every_row() {
    let doc = run(fixture("rooms-and-prices-2027.pdf"), "rooms-and-prices-2027.pdf").await.unwrap();
    for row in [
        "Room: The Lighthouse Room (double, sea view) | Sleeps: 2 | Low season (Nov–Mar): £95 | Mid season (Apr–May, Oct): £115 | High season (Jun–Sep): £140",
        "Room: The Captain's Suite (king bed and sofa bed, sea view) | Sleeps: 4 | Low season (Nov–Mar): £140 | Mid season (Apr–May, Oct): £165 | High season (Jun–Sep): £195",
        "Room: The Crow's Nest (small single, top floor) | Sleeps: 1 | Low season (Nov–Mar): £60 | Mid season (Apr–May, Oct): £70 | High season (Jun–Sep): £80",
    ] {
        assert!(doc.text.lines().any(|l| l == row), "no line {row:?} in:\n{}", doc.text);
    }
    assert_eq!(doc.text.lines().filter(|l| l.starts_with("Room: ")).count(), 5, "{}", doc.text);
    // The prose around the table is as it was.
    assert!(doc.text.lines().any(|l| l == "All prices are per room per night and include a full breakfast for everyone staying in the room."), "{}", doc.text);
    assert!(doc.text.lines().any(|l| l == "Single occupancy: if you stay alone in a double or twin room, we take 20% off the nightly rate."), "{}", doc.text);
}

/// A text file's short first line names it for customers ("Our warranty and courtesy car
/// policy"), like a Markdown file's heading; a CSV has no title of its own (its file name in
/// words is given at indexing).
#[tokio::test]
async fn a_text_file_is_titled_by_its_first_line() {
    let doc = run(fixture("warranty-and-loan-cars.txt"), "warranty-and-loan-cars.txt").await.unwrap();
    assert_eq!(doc.title.as_deref(), Some("Our warranty and courtesy car policy"));
    assert!(doc.text.starts_with("Our warranty and courtesy car policy\n\nEvery repair"), "{}", doc.text);
    let doc = run(&b"We open at nine every morning.\nWe close at six."[..], "hours.txt").await.unwrap();
    assert_eq!(doc.title, None);
    assert_eq!(bellhop::knowledge::extract::title_from_file_name("services-prices.csv"), "Services prices");
}

// ---------- the type comes from the bytes ----------

#[tokio::test]
async fn a_pdf_named_txt_is_read_as_a_pdf() {
    let doc = run(text_pdf(&["Parking is free."]), "notes.txt").await.unwrap();
    assert_eq!(doc.kind, DocumentKind::Pdf);
    assert!(doc.text.contains("Parking is free."));
}

#[tokio::test]
async fn an_executable_named_pdf_is_refused() {
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0".to_vec();
    elf.resize(4096, 0);
    let e = run(elf, "manual.pdf").await.unwrap_err();
    assert!(matches!(e, ExtractError::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("program"), "{e}");

    let mut random = vec![0u8; 4096];
    for (i, b) in random.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    assert!(matches!(run(random, "photo.docx").await, Err(ExtractError::Unsupported { .. })));

    let xlsx = docx(&[("xl/workbook.xml", b"<workbook/>")]);
    let e = run(xlsx, "sheet.docx").await.unwrap_err();
    assert!(e.to_string().contains("Excel"), "{e}");
}

// ---------- bad input ----------

#[tokio::test]
async fn an_empty_file_is_a_clear_error() {
    assert_eq!(run(Vec::new(), "empty.txt").await.unwrap_err().to_string(), "This file is empty.");
    assert_eq!(run(&b" \n\t\r\n  "[..], "blank.txt").await.unwrap_err().to_string(), "This file has no text we could read.");
    assert_eq!(run(&b"<html><body><script>x()</script></body></html>"[..], "").await.unwrap_err(), ExtractError::NoText);
}

#[tokio::test]
async fn a_zero_byte_pdf_is_a_clear_error() {
    assert_eq!(run(Vec::new(), "scan.pdf").await.unwrap_err(), ExtractError::Empty);
    // Only a header: the child refuses it.
    let e = run(&b"%PDF-1.7\n"[..], "scan.pdf").await.unwrap_err();
    assert_eq!(e.to_string(), "This PDF could not be read (it may be damaged or protected).");
}

#[tokio::test]
async fn a_deeply_nested_pdf_is_refused_and_the_next_one_reads() {
    let deep = format!(" /Deep {}{}", "[".repeat(200_000), "]".repeat(200_000));
    let ops = b"BT /F1 12 Tf 72 720 Td (nested) Tj ET".to_vec();
    let bytes = pdf_with_content(&deep, stream("", &ops), "Deep");
    let e = run(bytes, "deep.pdf").await.unwrap_err();
    assert_eq!(e, ExtractError::Damaged { kind: DocumentKind::Pdf });
    assert!(run(text_pdf(&["still fine"]), "ok.pdf").await.unwrap().text.contains("still fine"));
}

#[tokio::test]
async fn a_decompression_bomb_pdf_is_refused() {
    // A few hundred KB that inflate to 128 MiB of page content.
    let bomb = zeros_deflated(128);
    assert!(bomb.len() * 100 < 128 * 1024 * 1024, "{}", bomb.len());
    let bytes = pdf_with_content("", stream(" /Filter /FlateDecode", &bomb), "Bomb");
    let started = Instant::now();
    let e = run(bytes, "bomb.pdf").await.unwrap_err();
    assert!(matches!(e, ExtractError::ExpandsTooMuch { kind: DocumentKind::Pdf, .. }), "{e:?}");
    assert!(e.to_string().contains("unpacks to more than"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn a_zip_bomb_docx_is_refused_by_ratio() {
    // word/document.xml: a 64 MiB run of spaces that deflates ~1000:1.
    let mut xml = format!("<w:document {W}><w:body><w:p><w:r><w:t>").into_bytes();
    xml.resize(64 * 1024 * 1024, b' ');
    xml.extend_from_slice(b"</w:t></w:r></w:p></w:body></w:document>");
    let bytes = docx(&[("word/document.xml", &xml)]);
    assert!(bytes.len() < 1024 * 1024, "{}", bytes.len());
    let e = run(bytes, "bomb.docx").await.unwrap_err();
    assert!(matches!(e, ExtractError::ExpandsTooMuch { kind: DocumentKind::Docx, .. }), "{e:?}");
}

#[tokio::test]
async fn a_zip_bomb_docx_with_lying_headers_stops_at_the_cap() {
    let mut xml = format!("<w:document {W}><w:body><w:p><w:r><w:t>").into_bytes();
    xml.resize(64 * 1024 * 1024, b' ');
    xml.extend_from_slice(b"</w:t></w:r></w:p></w:body></w:document>");
    let mut bytes = docx(&[("word/document.xml", &xml)]);
    // Claim an uncompressed size of 1,000 bytes in the local and central headers.
    let mut patched = 0;
    for i in 0..bytes.len().saturating_sub(4) {
        let at = match &bytes[i..i + 4] {
            b"PK\x03\x04" => i + 22,
            b"PK\x01\x02" => i + 24,
            _ => continue,
        };
        bytes[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
        patched += 1;
    }
    assert_eq!(patched, 2, "one local and one central header");
    let started = Instant::now();
    let e = run(bytes, "liar.docx").await.unwrap_err();
    assert!(matches!(e, ExtractError::ExpandsTooMuch { .. } | ExtractError::Damaged { .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn html_scripts_never_reach_the_text() {
    let html = "<!doctype html><title>t</title><p>Hello <script type=module>import('evil')</script><img src=x onerror=\"alert(1)\" alt=\"logo\">world</p>\
                <SCRIPT>var a = '</scr' + 'ipt>'; STEAL()</SCRIPT><style>@import 'x'</style><p>&lt;script&gt;shown as text&lt;/script&gt;</p>";
    let doc = run(html.as_bytes().to_vec(), "x.html").await.unwrap();
    assert!(!doc.text.contains("evil") && !doc.text.contains("STEAL") && !doc.text.contains("alert") && !doc.text.contains("@import"), "{}", doc.text);
    assert!(doc.text.contains("Hello logo world"), "{}", doc.text);
    // Escaped markup is text: it comes out as the characters, for the renderer to escape.
    assert!(doc.text.contains("<script>shown as text</script>"), "{}", doc.text);

    // An unclosed <title> swallows the page; the title stays short.
    let runaway = format!("<html><head><title>{}", "word ".repeat(10_000));
    assert!(matches!(run(runaway.into_bytes(), "").await, Err(ExtractError::NoText)));
    let long = format!("<title>{}</title><p>body</p>", "word ".repeat(10_000));
    assert_eq!(run(long.into_bytes(), "").await.unwrap().title.map(|t| t.chars().count()), Some(200));
}

#[tokio::test]
async fn oversize_input_is_refused_with_sizes_in_plain_words() {
    let small = Limits { max_file_bytes: 1024, ..limits() };
    let e = extract_with(Bytes::from(vec![b'a'; 2048]), "big.txt", &small).await.unwrap_err();
    assert_eq!(e.to_string(), "This file is 2 KB; the limit is 1 KB.");
    let e = extract_with(Bytes::from(text_pdf(&["x"; 40])), "big.pdf", &small).await.unwrap_err();
    assert!(matches!(e, ExtractError::TooLarge { .. }));

    let little_text = Limits { max_text_bytes: 1000, ..limits() };
    let e = extract_with(Bytes::from("word ".repeat(1000)), "long.txt", &little_text).await.unwrap_err();
    assert_eq!(e, ExtractError::TooMuchText { limit: 1000 });
}

/// A stand-in worker (a shell script) shows what the parent does when the child misbehaves.
fn fake_worker(dir: &std::path::Path, name: &str, script: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn a_hanging_pdf_reader_is_killed_at_the_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let hang = Limits { worker_exe: Some(fake_worker(dir.path(), "hang", "exec sleep 60")), time: Duration::from_secs(1), ..limits() };
    let started = Instant::now();
    let e = extract_with(Bytes::from(text_pdf(&["x"])), "x.pdf", &hang).await.unwrap_err();
    assert_eq!(e, ExtractError::TimedOut { seconds: 1 });
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_crashing_pdf_reader_is_a_plain_error() {
    let dir = tempfile::tempdir().unwrap();
    let crash = Limits { worker_exe: Some(fake_worker(dir.path(), "crash", "cat > /dev/null; kill -SEGV $$")), ..limits() };
    let e = extract_with(Bytes::from(text_pdf(&["x"])), "x.pdf", &crash).await.unwrap_err();
    assert_eq!(e.to_string(), "This PDF could not be read (it may be damaged or protected).");

    let flood = Limits { worker_exe: Some(fake_worker(dir.path(), "flood", "cat > /dev/null; yes")), max_text_bytes: 100_000, ..limits() };
    let e = extract_with(Bytes::from(text_pdf(&["x"])), "x.pdf", &flood).await.unwrap_err();
    assert_eq!(e, ExtractError::TooMuchText { limit: 100_000 });

    let missing = Limits { worker_exe: Some(dir.path().join("no-such-binary")), ..limits() };
    let e = extract_with(Bytes::from(text_pdf(&["x"])), "x.pdf", &missing).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
}

#[tokio::test]
async fn the_pdf_reader_runs_under_a_memory_limit() {
    // A stand-in reader reports the address-space limit it was started under.
    let dir = tempfile::tempdir().unwrap();
    let script = "cat > /dev/null; echo; echo \"address space limit $(ulimit -v) KiB\"";
    let probe = Limits { worker_exe: Some(fake_worker(dir.path(), "probe", script)), pdf_memory_bytes: 256 * 1024 * 1024, ..limits() };
    let doc = extract_with(Bytes::from(text_pdf(&["x"])), "x.pdf", &probe).await.unwrap();
    assert_eq!(doc.text, "address space limit 262144 KiB");
}

#[tokio::test]
async fn many_extractions_in_parallel_all_finish_with_the_right_answer() {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        tasks.spawn(async move {
            let outcome = match i % 4 {
                0 => run(text_pdf(&[&format!("page {i}")]), "a.pdf").await.map(|d| d.text.contains(&format!("page {i}"))),
                1 => run(sample_docx(), "a.docx").await.map(|d| d.text.contains("Latte | 3.90")),
                2 => run(format!("<h1>Doc {i}</h1><script>bad()</script>").into_bytes(), "").await.map(|d| d.text == format!("# Doc {i}")),
                _ => run(b"%PDF-1.4 garbage".to_vec(), "").await.map(|_| false).or_else(|e| Ok(e == ExtractError::Damaged { kind: DocumentKind::Pdf })),
            };
            (i, outcome)
        });
    }
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, outcome) = joined.expect("no task panicked");
        assert_eq!(outcome, Ok(true), "extraction {i}");
        done += 1;
    }
    assert_eq!(done, 12);
}
