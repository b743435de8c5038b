//! PDFs, parsed in a child process: `bellhop extract-worker pdf` reads the file on stdin and
//! writes its title line and text on stdout.
//!
//! PDF is the format most likely to hide a parser bug (nested objects, compressed streams,
//! fonts), so a failure must cost a process, not the server. The child runs with an
//! address-space limit (`RLIMIT_AS`, default 512 MiB: an allocation bomb aborts it), a CPU-time
//! limit, no core dumps and no file writes (`RLIMIT_FSIZE` 0), an empty environment, and is
//! killed when the wall-time limit passes; its stdout is read through a cap. Any crash,
//! non-zero exit or timeout becomes [`ExtractError::Damaged`] or [`ExtractError::TimedOut`].
//!
//! PDFs carry no reliable structure (headings are just bigger glyphs), so the text comes out as
//! paragraphs per page, pages separated by blank lines. Text is read with lopdf (pure Rust).
use super::writer::{collapse, labelled, looks_like_data};
use super::{Budget, Document, DocumentKind, ExtractError, Limits};
use bytes::Bytes;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Worker exit status: the PDF could not be parsed.
const EXIT_UNREADABLE: u8 = 2;
/// Worker exit status: the text is over the cap.
const EXIT_TOO_MUCH_TEXT: u8 = 3;
/// Worker exit status: a stream inflates past [`MAX_STREAM_BYTES`] (a decompression bomb).
const EXIT_EXPANDS: u8 = 4;
/// Largest decompressed size of one stream (lopdf refuses beyond it; the address-space limit
/// is the second line of defence).
const MAX_STREAM_BYTES: usize = 64 * 1024 * 1024;
/// Environment variable naming the `bellhop` binary to run as the worker (tests point it at
/// the built binary; production needs nothing: the running binary is used).
pub const WORKER_ENV: &str = "BELLHOP_EXTRACT_WORKER";

/// Formats the worker parses (only PDF: the rest are safe enough in-process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkerFormat {
    Pdf,
}

/// The binary to run as `extract-worker`: [`Limits::worker_exe`], else `$BELLHOP_EXTRACT_WORKER`,
/// else this executable. When this executable is not `bellhop` (an integration-test binary in
/// `target/<profile>/deps/`), the `bellhop` binary beside its directory is used if present.
pub fn worker_exe(limits: &Limits) -> Result<PathBuf, ExtractError> {
    if let Some(p) = &limits.worker_exe {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os(WORKER_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| ExtractError::Internal(format!("cannot find the bellhop binary: {e}")))?;
    if exe.file_stem().is_some_and(|s| s == "bellhop") {
        return Ok(exe);
    }
    let sibling = exe.parent().and_then(|deps| deps.parent()).map(|dir| dir.join(format!("bellhop{}", std::env::consts::EXE_SUFFIX)));
    Ok(sibling.filter(|p| p.is_file()).unwrap_or(exe))
}

/// Runs the worker on `bytes` under the limits; see the module docs.
pub(crate) async fn extract(bytes: Bytes, limits: &Limits) -> Result<Document, ExtractError> {
    let exe = worker_exe(limits)?;
    let mut cmd = tokio::process::Command::new(&exe);
    cmd.arg("extract-worker")
        .arg("pdf")
        .arg("--max-text-bytes")
        .arg(limits.max_text_bytes.to_string())
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let memory = limits.pdf_memory_bytes;
    let cpu_seconds = limits.time.as_secs() + 1;
    // SAFETY: the closure runs in the forked child before exec and calls only setrlimit, which
    // is async-signal-safe; it allocates nothing and touches no locks.
    unsafe {
        cmd.pre_exec(move || restrict_child(memory, cpu_seconds));
    }
    let mut child = cmd.spawn().map_err(|e| ExtractError::Internal(format!("cannot start the PDF reader ({}): {e}", exe.display())))?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
        return Err(ExtractError::Internal("the PDF reader has no pipes".into()));
    };
    let cap = limits.max_text_bytes as u64 + 4096;
    let work = async {
        let write = async {
            // The child may die before reading everything (that is its failure to report).
            let _ = stdin.write_all(&bytes).await;
            drop(stdin);
        };
        let read_out = async {
            let mut out = Vec::new();
            let _ = stdout.take(cap + 1).read_to_end(&mut out).await;
            out
        };
        let read_err = async {
            let mut err = Vec::new();
            let _ = stderr.take(4096).read_to_end(&mut err).await;
            err
        };
        let ((), out, err) = tokio::join!(write, read_out, read_err);
        (out, err)
    };
    let finished = tokio::time::timeout(limits.time, work).await;
    let Ok((out, err)) = finished else {
        let _ = child.kill().await;
        return Err(ExtractError::TimedOut { seconds: limits.time.as_secs() });
    };
    if out.len() as u64 > cap {
        let _ = child.kill().await;
        return Err(ExtractError::TooMuchText { limit: limits.max_text_bytes });
    }
    let status = match tokio::time::timeout(std::time::Duration::from_secs(2), child.wait()).await {
        Ok(Ok(status)) => status,
        _ => {
            let _ = child.kill().await;
            return Err(ExtractError::TimedOut { seconds: limits.time.as_secs() });
        }
    };
    match status.code() {
        Some(0) => {}
        Some(c) if c == i32::from(EXIT_TOO_MUCH_TEXT) => return Err(ExtractError::TooMuchText { limit: limits.max_text_bytes }),
        Some(c) if c == i32::from(EXIT_EXPANDS) => return Err(ExtractError::ExpandsTooMuch { kind: DocumentKind::Pdf, limit: MAX_STREAM_BYTES as u64 }),
        _ => {
            let detail = String::from_utf8_lossy(&err);
            tracing::info!(status = %status, detail = %detail.trim(), "the PDF reader refused or crashed on a file");
            return Err(ExtractError::Damaged { kind: DocumentKind::Pdf });
        }
    }
    let out = String::from_utf8_lossy(&out);
    let (title, text) = out.split_once('\n').unwrap_or(("", &out));
    let budget = Budget::new(limits);
    let doc = super::text::extract(&unwrap_lines(&join_value_lines(&name_table_cells(text))), DocumentKind::Pdf, &budget)?;
    let title = Some(title.trim().to_owned()).filter(|t| !t.is_empty() && !is_placeholder_title(t));
    Ok(Document { title, text: doc.text, kind: DocumentKind::Pdf })
}

#[cfg(unix)]
fn restrict_child(memory: u64, cpu_seconds: u64) -> std::io::Result<()> {
    let set = |resource, value: u64| {
        let limit = libc::rlimit { rlim_cur: value as libc::rlim_t, rlim_max: value as libc::rlim_t };
        // SAFETY: plain syscall on a valid struct.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
    };
    set(libc::RLIMIT_AS, memory)?;
    set(libc::RLIMIT_CPU, cpu_seconds)?;
    set(libc::RLIMIT_CORE, 0)?;
    set(libc::RLIMIT_FSIZE, 0)?;
    Ok(())
}

#[cfg(not(unix))]
fn restrict_child(_memory: u64, _cpu_seconds: u64) -> std::io::Result<()> {
    Ok(())
}

/// The child's side: `bellhop extract-worker pdf`. Reads the PDF from stdin, writes one title
/// line (possibly empty) and then the text to stdout. Runs before any runtime, configuration
/// or telemetry is set up, so the limits apply to the parser alone.
pub fn worker_main(format: WorkerFormat, max_text_bytes: usize) -> ExitCode {
    use std::io::{Read, Write};
    let WorkerFormat::Pdf = format;
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut bytes) {
        eprintln!("cannot read stdin: {e}");
        return ExitCode::from(EXIT_UNREADABLE);
    }
    let options = lopdf::LoadOptions { max_decompressed_size: Some(MAX_STREAM_BYTES), ..lopdf::LoadOptions::default() };
    let doc = match lopdf::Document::load_mem_with_options(&bytes, options) {
        Ok(d) => d,
        Err(e) if is_bomb(&e) => return ExitCode::from(EXIT_EXPANDS),
        Err(e) => {
            eprintln!("not a readable PDF: {e}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    if doc.is_encrypted() {
        eprintln!("the PDF is encrypted");
        return ExitCode::from(EXIT_UNREADABLE);
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        // Also what a catalog too deeply nested to parse looks like.
        eprintln!("the PDF has no readable pages");
        return ExitCode::from(EXIT_UNREADABLE);
    }
    let mut text = String::new();
    for page in pages.keys() {
        match doc.extract_text_with_limit(&[*page], MAX_STREAM_BYTES) {
            Ok(t) => {
                text.push_str(t.trim_end());
                text.push_str("\n\n");
            }
            Err(e) if is_bomb(&e) => return ExitCode::from(EXIT_EXPANDS),
            Err(e) => eprintln!("page {page}: {e}"),
        }
        if text.len() > max_text_bytes {
            return ExitCode::from(EXIT_TOO_MUCH_TEXT);
        }
    }
    let title = info_title(&doc).unwrap_or_default().replace(['\n', '\r'], " ");
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{title}").and_then(|()| out.write_all(text.as_bytes())).and_then(|()| out.flush()).is_err() {
        return ExitCode::from(EXIT_UNREADABLE);
    }
    ExitCode::SUCCESS
}

/// A PDF's text comes a printed line at a time, so a sentence the page wrapped is split in two:
/// "… in cool water. Roses" / "usually last 7 to 10 days" would be quoted as a sentence without
/// its subject. A line that does not end a sentence (or a heading's or a price's colon) and is
/// followed by one that begins in lower case is joined to it. Lines of a list or a price list,
/// which begin in capitals, digits or bullets, stay lines.
fn unwrap_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        let open = line.trim_end().chars().last().is_some_and(|c| !matches!(c, '.' | '!' | '?' | ':' | ';' | '…' | '。'));
        let continues = lines.peek().and_then(|next| next.trim_start().chars().next()).is_some_and(char::is_lowercase);
        out.push(if open && continues { ' ' } else { '\n' });
    }
    out
}

/// A table printed to PDF comes out a cell per line, its header too ("Room", "Sleeps", "Low
/// season", "(Nov–Mar)", …, then "The Lighthouse Room (double," "sea view)", "2", "£95", "£115",
/// "£140"): a price was quoted without its room or its season. A table is recognised here and
/// written as the other formats write a table under a header ([`labelled`]): "Room: The
/// Lighthouse Room (double, sea view) | Sleeps: 2 | Low season (Nov–Mar): £95 | …".
///
/// A table is a header of N cells, then at least two rows of a label (its lines) and exactly
/// N − 1 figures (a price, a number, a time: [`is_figure`]), N at least 3. The header starts
/// after a blank line, a sentence or a figure, and its lines must make exactly N cells: a line
/// belongs to the cell before it when it continues it ([`continues`]: "High season" /
/// "(Jun–Sep)", "Mid season (Apr–" / "May, Oct)"), else it starts a cell. Anything else — a
/// header whose lines make another number of cells, header cells that are figures, a row with
/// another number of figures — is not taken as a table, and its lines stay as they were (the
/// table ends at such a row). Rows are written between blank lines, as a table is.
fn name_table_cells(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        // Only where a run of cell lines starts (once per run: the text is read once).
        let run_start = i == 0 || !is_cell_line(lines[i - 1]);
        if let Some((rows, end)) = run_start.then(|| table_at(&lines, i)).flatten() {
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.extend(rows);
            if lines.get(end).is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            i = end;
        } else {
            out.push(lines[i].to_owned());
            i += 1;
        }
    }
    let mut written = String::with_capacity(text.len() + 64);
    for line in out {
        written.push_str(&line);
        written.push('\n');
    }
    written
}

/// The table whose header starts at line `start` (see [`name_table_cells`]): its rows as written,
/// and the index of the first line after it.
fn table_at(lines: &[&str], start: usize) -> Option<(Vec<String>, usize)> {
    // The header's lines and the first row's label, then the first row's figures.
    let labels_end = start + lines[start..].iter().take_while(|l| is_cell_line(l)).count();
    let figures_end = labels_end + lines[labels_end..].iter().take_while(|l| is_figure(l)).count();
    let figures = figures_end - labels_end;
    if figures < 2 {
        return None;
    }
    let mut cells = cells_of(&lines[start..labels_end]);
    if cells.len() != figures + 2 {
        return None;
    }
    let label = cells.pop()?;
    let header = cells;
    if header.iter().any(|c| c.chars().count() > 60 || looks_like_data(std::slice::from_ref(c))) {
        return None;
    }
    let row = |label: String, figures: &[&str]| {
        let cells: Vec<String> = std::iter::once(label).chain(figures.iter().map(|f| f.to_string())).map(|c| collapse(&c).replace('|', "/")).collect();
        labelled(&header, &cells)
    };
    let mut rows = vec![row(label, &lines[labels_end..figures_end])];
    let mut end = figures_end;
    loop {
        let labels_end = end + lines[end..].iter().take_while(|l| is_cell_line(l)).count();
        let figures_end = labels_end + lines[labels_end..].iter().take_while(|l| is_figure(l)).count();
        let mut label = cells_of(&lines[end..labels_end]);
        if label.len() != 1 || figures_end - labels_end != figures {
            break;
        }
        rows.push(row(label.remove(0), &lines[labels_end..figures_end]));
        end = figures_end;
    }
    (rows.len() >= 2).then_some((rows, end))
}

/// A table's lines (a header, a row's label) as cells: each line starts a cell unless it
/// [`continues`] the one before it, and is then joined to it (with no space after a dash:
/// "Mid season (Apr–" "May, Oct)" is "Mid season (Apr–May, Oct)").
fn cells_of(lines: &[&str]) -> Vec<String> {
    let mut cells: Vec<String> = Vec::new();
    for line in lines {
        let line = line.trim();
        match cells.last_mut() {
            Some(cell) if continues(cell, line) => {
                if !cell.ends_with(['–', '-']) {
                    cell.push(' ');
                }
                cell.push_str(line);
            }
            _ => cells.push(line.to_owned()),
        }
    }
    cells
}

/// Whether `line` is the rest of the table cell `cell` that the page wrapped: the cell has a
/// bracket still open or ends with a comma, a dash or a joining sign, or the line begins in
/// lower case or with a bracket.
fn continues(cell: &str, line: &str) -> bool {
    cell.matches('(').count() > cell.matches(')').count() || cell.ends_with([',', '–', '-', '/', '&', '+']) || line.starts_with(|c: char| c.is_lowercase() || c == '(')
}

/// Whether `line` may be a line of a table's header or of a row's label: short, not a sentence
/// (no closing `.` `!` `?` `:` `;`) and not a figure.
fn is_cell_line(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && t.chars().count() <= 80 && !t.ends_with(['.', '!', '?', ':', ';', '…', '。']) && !is_figure(t)
}

/// Whether `line` is a table's figure: a price ([`is_value`]) or a short number, time or range
/// ("2", "10:00", "9-5", "12 kg").
fn is_figure(line: &str) -> bool {
    let t = line.trim();
    is_value(t) || (t.chars().count() <= 16 && t.split_whitespace().count() <= 2 && looks_like_data(&[t.to_owned()]))
}

/// A table printed to PDF (a menu of dish | price) comes out a cell per line: "Steak Frites —
/// 250 g sirloin" and then "$29.00" on a line of its own, so the dish was quoted without its
/// price and a chunk could end between them (a price then belonged to the next dish). A line
/// that holds only a value (a price: "$29.00", "€4,50", "29.00 €", "£3", "+$0.60") is the rest
/// of the row before it and is joined to it as the other formats write a table row,
/// "Steak Frites — 250 g sirloin | $29.00" (a row is one block to the chunker, never split). A
/// value after a blank line (a new page or paragraph) stays where it is.
fn join_value_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_text = false;
    for line in text.lines() {
        if after_text && is_value(line) {
            out.pop();
            out.push_str(" | ");
            out.push_str(line.trim());
        } else {
            out.push_str(line);
            after_text = !line.trim().is_empty();
        }
        out.push('\n');
    }
    out
}

/// Currency signs a price may start or end with.
const CURRENCY_SIGNS: [char; 14] = ['$', '€', '£', '¥', '₹', '₩', '₪', '₫', '₱', '₦', '₴', '₽', '₺', '฿'];
/// Currency words written beside an amount ("5 kr", "CHF 4.50" is a code, below).
const CURRENCY_WORDS: [&str; 8] = ["kr", "kr.", "zł", "Kč", "Ft", "Fr.", "Rs", "Rs."];

/// Whether `line` is a price alone: an optional sign, an amount (digits, `.`/`,` between them)
/// and one currency mark before or after it (a sign, "US$", a code such as "EUR", or a word
/// such as "kr"). A bare number is not (a page number, a year).
fn is_value(line: &str) -> bool {
    let t = line.trim();
    let t = t.strip_prefix(['+', '-', '−']).unwrap_or(t).trim_start();
    if t.is_empty() || t.chars().count() > 20 {
        return false;
    }
    let is_amount = |a: &str| {
        let a = a.trim();
        a.starts_with(|c: char| c.is_ascii_digit())
            && a.ends_with(|c: char| c.is_ascii_digit() || c == '-')
            && a.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '\'' | '\u{a0}' | '\u{202f}' | ' ' | '-'))
            && !a.contains("--")
    };
    let is_mark = |m: &str| {
        let m = m.trim();
        let sign = m.chars().last().is_some_and(|c| CURRENCY_SIGNS.contains(&c)) && m.chars().count() <= 3 && m.chars().rev().skip(1).all(|c| c.is_ascii_uppercase());
        let code = m.len() == 3 && m.chars().all(|c| c.is_ascii_uppercase());
        sign || code || CURRENCY_WORDS.contains(&m)
    };
    let split = |at: usize| (&t[..at], &t[at..]);
    // The mark before the amount ("$29.00", "US$ 5", "EUR 4,50") or after it ("29.00 €", "5 kr").
    let first_digit = t.find(|c: char| c.is_ascii_digit());
    let Some(first_digit) = first_digit else { return false };
    let (before, rest) = split(first_digit);
    if !before.trim().is_empty() {
        return is_mark(before) && is_amount(rest);
    }
    let end = t.rfind(|c: char| c.is_ascii_digit() || c == '-').map_or(0, |i| i + 1);
    let (amount, after) = split(end);
    is_mark(after) && is_amount(amount)
}

/// A title some program wrote into the PDF for it rather than a name for the document (a
/// browser's "about:blank", Word's "Microsoft Word - Document1", "Untitled"): the file's name
/// says more.
fn is_placeholder_title(title: &str) -> bool {
    let t = title.trim().to_lowercase();
    let generated = ["about:", "microsoft word - ", "microsoft powerpoint - ", "microsoft excel - ", "untitled", "file:", "http://", "https://", "document1", "doc1"];
    let file_name = [".doc", ".docx", ".pdf", ".odt", ".rtf", ".txt", ".html", ".htm", ".tmp"];
    generated.iter().any(|g| t.starts_with(g)) || file_name.iter().any(|ext| t.ends_with(ext))
}

fn is_bomb(e: &lopdf::Error) -> bool {
    matches!(e, lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }))
}

/// `/Info /Title` as text (PDF text strings are UTF-16BE with a BOM, or PDFDocEncoding, read
/// here as Latin-1).
fn info_title(doc: &lopdf::Document) -> Option<String> {
    let info = doc.trailer.get(b"Info").ok()?;
    let info = match info {
        lopdf::Object::Reference(id) => doc.get_object(*id).ok()?,
        other => other,
    };
    let raw = info.as_dict().ok()?.get(b"Title").ok()?.as_str().ok()?;
    let title = match raw.strip_prefix(b"\xfe\xff") {
        Some(utf16) => char::decode_utf16(utf16.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]))).map(|r| r.unwrap_or('\u{fffd}')).collect(),
        None => raw.iter().map(|&b| char::from(b)).collect::<String>(),
    };
    Some(title.trim().to_owned()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_the_page_wrapped_is_one_sentence_again() {
        assert_eq!(
            unwrap_lines("Cut the stems. Roses\nusually last 7 to 10 days; tulips last 5 to 7 days.\n\nPrices\nRoses: $4\n12 red roses: $45\n- a vase\nWe deliver on\nweekdays."),
            "Cut the stems. Roses usually last 7 to 10 days; tulips last 5 to 7 days.\n\nPrices\nRoses: $4\n12 red roses: $45\n- a vase\nWe deliver on weekdays.\n"
        );
    }

    #[test]
    fn a_price_on_its_own_line_joins_its_row() {
        assert_eq!(
            join_value_lines("Mains\nSteak Frites — 250 g sirloin\n$29.00\nFish and Chips\n$21.00\nLatte (oat milk +$0.60)\n+$0.60\n\n$9.00\nPage\n12\n"),
            "Mains\nSteak Frites — 250 g sirloin | $29.00\nFish and Chips | $21.00\nLatte (oat milk +$0.60) | +$0.60\n\n$9.00\nPage\n12\n"
        );
        for v in ["$29.00", "€4,50", "29.00 €", "£3", "+$0.60", "US$ 5", "EUR 4,50", "12 kr", "1 200 €", "5,- €"] {
            assert!(is_value(v), "{v}");
        }
        for v in ["12", "2027", "Page 3", "$", "Open 9-5", "Steak $29.00", "$29.00 each", "A-1", "-"] {
            assert!(!is_value(v), "{v}");
        }
    }

    /// The walkthrough's room prices, printed to PDF by Chromium from an HTML table, as the
    /// worker reads them (tests/fixtures/knowledge/rooms-and-prices-2027.pdf).
    const ROOMS: &str = "All prices are per room per night and include a full breakfast for everyone staying in the room.\nRoom\nSleeps\nLow season\n(Nov–Mar)\nMid season (Apr–\nMay, Oct)\nHigh season\n(Jun–Sep)\nThe Lighthouse Room (double,\nsea view)\n2\n£95\n£115\n£140\nThe Captain's Suite (king bed and\nsofa bed, sea view)\n4\n£140\n£165\n£195\nBreakfast is included in every room rate.\n\n";

    #[test]
    fn a_pdf_table_names_its_columns_in_every_row() {
        assert_eq!(
            name_table_cells(ROOMS),
            "All prices are per room per night and include a full breakfast for everyone staying in the room.\n\n\
             Room: The Lighthouse Room (double, sea view) | Sleeps: 2 | Low season (Nov–Mar): £95 | Mid season (Apr–May, Oct): £115 | High season (Jun–Sep): £140\n\
             Room: The Captain's Suite (king bed and sofa bed, sea view) | Sleeps: 4 | Low season (Nov–Mar): £140 | Mid season (Apr–May, Oct): £165 | High season (Jun–Sep): £195\n\n\
             Breakfast is included in every room rate.\n\n"
        );
        // The whole path: the rows stay rows, the sentence after them is left as it was.
        let rows = unwrap_lines(&join_value_lines(&name_table_cells(ROOMS)));
        assert!(rows.lines().any(|l| l.starts_with("Room: The Captain's Suite") && l.ends_with("High season (Jun–Sep): £195")), "{rows}");
        // A row with another number of figures ends the table; it and what follows stay as they were.
        let odd = ROOMS.replace("Breakfast is", "The Crow's Nest\n1\n£60\nBreakfast is");
        let named = name_table_cells(&odd);
        assert!(named.contains("\nRoom: The Captain's Suite (king bed and sofa bed, sea view) | Sleeps: 4 |"), "{named}");
        assert!(named.contains("£195\n\nThe Crow's Nest\n1\n£60\nBreakfast is"), "{named}");
    }

    #[test]
    fn lines_that_are_not_such_a_table_stay_as_they_were() {
        for text in [
            // A menu: a dish and its price, no header (the price joins its dish later).
            "Mains\nSteak Frites\n$29.00\nFish and Chips\n$21.00\n",
            // A header whose lines do not make one cell per column (a word the page wrapped in capitals).
            "Room\nSleeps\nLow season\nNov to Mar\nHigh season\nThe Lighthouse Room\n2\n£95\n£140\nThe Anchor Room\n2\n£85\n£125\n",
            // A single row under a header.
            "Room\nSleeps\nLow season\nHigh season\nThe Lighthouse Room\n2\n£95\n£140\nBreakfast is included.\n",
            // Rows of figures with no header.
            "Item\n2026\n2027\nSales\n5\n6\nCosts\n3\n4\n",
        ] {
            assert_eq!(name_table_cells(text), text);
        }
        // Figures under a header with a line before it that is not a sentence: not a table either
        // (which of the lines make the header cannot be told).
        let text = "Rooms 2027\nRoom\nSleeps\nPrice\nThe Lighthouse Room\n2\n£95\nThe Anchor Room\n2\n£85\n";
        assert_eq!(name_table_cells(text), text);
    }

    #[test]
    fn a_title_a_program_made_up_gives_way_to_the_file_name() {
        for t in ["about:blank", "Microsoft Word - Document1", "Untitled document", "prices_final.docx", "https://shop.example/prices"] {
            assert!(is_placeholder_title(t), "{t}");
        }
        for t in ["Rosa's Flowers price list", "Cafe Handbook", "Opening hours 2027"] {
            assert!(!is_placeholder_title(t), "{t}");
        }
    }
}
