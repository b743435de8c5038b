//! Untrusted bytes → structured text. The type is decided from the bytes ([`sniff`]), never from
//! the file name (which only breaks ties between text flavours).
//!
//! Output is light Markdown (`#` headings, `- ` list items, table rows as `a | b | c` lines,
//! blank lines between paragraphs): plain text for the chunker, which keeps headings as the
//! heading path. Nothing in a document is ever executed or rendered here; whoever shows the text
//! escapes it.
//!
//! Containment (see docs/ingestion.md): every parse has a size limit on its input and its output
//! and a wall-time limit. PDFs — the most complex format — are parsed in a child process
//! (`bellhop extract-worker pdf`, [`pdf`]) with an address-space limit, killed on timeout; a
//! crash there is an error for the owner, not for the server. Every other format is parsed
//! in-process on a blocking thread under `catch_unwind`, with well-kept parsers (html5ever,
//! pulldown-cmark, quick-xml, csv) fed and read under a [`Budget`] (deadline and output size)
//! checked as they go; [`writer`] is the one output format they all write.
mod csv;
mod docx;
mod html;
mod markdown;
pub mod pdf;
mod sniff;
mod text;
mod writer;

pub(crate) use html::Links;
pub(crate) use sniff::charset_param;

use bytes::Bytes;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What kind of document the bytes were (decided by [`sniff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    Pdf,
    Docx,
    Html,
    Csv,
    Markdown,
    Text,
}

impl DocumentKind {
    /// Owner-facing name, e.g. "PDF", "Word document".
    pub fn label(self) -> &'static str {
        match self {
            DocumentKind::Pdf => "PDF",
            DocumentKind::Docx => "Word document",
            DocumentKind::Html => "web page",
            DocumentKind::Csv => "CSV file",
            DocumentKind::Markdown => "Markdown file",
            DocumentKind::Text => "text file",
        }
    }
}

/// A document's text, structure kept as light Markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The document's own title (`<title>`, DOCX core properties, PDF info, first `# `), if any.
    pub title: Option<String>,
    /// Never empty or whitespace-only (that is [`ExtractError::NoText`]).
    pub text: String,
    pub kind: DocumentKind,
}

/// Why a file could not be turned into text. `Display` is written for the owner (plain words,
/// sizes in KB/MB); it is what the sources page shows next to a failed source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("This file is empty.")]
    Empty,
    #[error("This file has no text we could read.")]
    NoText,
    #[error("This file is {}; the limit is {}.", human_size(*size), human_size(*limit))]
    TooLarge { size: u64, limit: u64 },
    #[error("This file type isn't supported ({what}). Upload PDF, Word (.docx), HTML, Markdown, plain text or CSV files.")]
    Unsupported { what: String },
    #[error("{}", damaged_message(*kind))]
    Damaged { kind: DocumentKind },
    #[error("This {} unpacks to more than {}, which is more than we accept (it may be a compressed \"bomb\").", kind.label(), human_size(*limit))]
    ExpandsTooMuch { kind: DocumentKind, limit: u64 },
    #[error("{}", storage_full(Some(("This file", *size)), *used, *limit))]
    OverTenantLimit { used: u64, size: u64, limit: u64 },
    #[error("This file contains more than {} of text; split it into smaller files.", human_size(*limit as u64))]
    TooMuchText { limit: usize },
    #[error("This file took too long to read (over {seconds} seconds) and was skipped.")]
    TimedOut { seconds: u64 },
    /// Our side failed (e.g. the PDF reader process could not start); worth retrying.
    #[error("We could not read this file because of a problem on our side; it will be retried.")]
    Internal(String),
}

impl ExtractError {
    /// Whether trying again later may succeed (only our own failures); the file's own problems
    /// are permanent.
    pub fn is_transient(&self) -> bool {
        matches!(self, ExtractError::Internal(_))
    }
}

/// Whether `reason`, the recorded failure of an uploaded file, is one reading the same file
/// again cannot change: its type is not supported (or it is not what its name says), it is
/// damaged, empty or has no text. The page offers no "Re-read" for those.
pub fn fails_for_good(reason: &str) -> bool {
    let unsupported = ExtractError::Unsupported { what: String::new() }.to_string();
    let unsupported = unsupported.split(" (").next().unwrap_or_default();
    let kinds = [DocumentKind::Pdf, DocumentKind::Docx, DocumentKind::Html, DocumentKind::Csv, DocumentKind::Markdown, DocumentKind::Text];
    reason.starts_with(unsupported)
        || reason == ExtractError::Empty.to_string()
        || reason == ExtractError::NoText.to_string()
        || kinds.into_iter().any(|kind| reason == ExtractError::Damaged { kind }.to_string())
}

fn damaged_message(kind: DocumentKind) -> String {
    match kind {
        DocumentKind::Pdf => "This PDF could not be read (it may be damaged or protected).".into(),
        DocumentKind::Docx => "This Word document could not be read (it may be damaged or protected).".into(),
        other => format!("This {} could not be read (it may be damaged).", other.label()),
    }
}

/// `1536` → "1.5 KB", `25_000_000` → "23.8 MB" (binary units, one decimal, as owners expect).
pub fn human_size(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KB {
        format!("{bytes} bytes")
    } else if b < KB * KB {
        format!("{:.1} KB", b / KB).replace(".0 ", " ")
    } else if b < KB * KB * KB {
        format!("{:.1} MB", b / KB / KB).replace(".0 ", " ")
    } else {
        format!("{:.1} GB", b / KB / KB / KB).replace(".0 ", " ")
    }
}

/// Why a source does not fit the business's storage (`knowledge.max_tenant_bytes`, the total
/// of every source of all its bots), for the owner: the limit, how much is used and free, and
/// what to do. `source`: what did not fit and its size ("This file", 8 MB), if known.
pub fn storage_full(source: Option<(&str, u64)>, used: u64, limit: u64) -> String {
    let room = match limit.saturating_sub(used) {
        0 => format!("all of the {} your business can store is in use", human_size(limit)),
        free => format!("only {} of the {} your business can store is free", human_size(free), human_size(limit)),
    };
    let fits = match source {
        Some((what, size)) => format!("{what} is {}, but {room}", human_size(size)),
        None => format!("Not added: {room}"),
    };
    format!("{fits} (your sources, for all your bots, take {}). Delete a source you no longer need, then try again.", human_size(used))
}

/// Bounds on one extraction. Defaults suit a support knowledge base; [`Limits::from_config`]
/// takes the operator's file-size limit.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest input accepted (`knowledge.max_file_bytes`).
    pub max_file_bytes: u64,
    /// Largest text produced (a small file must not expand into gigabytes of text).
    pub max_text_bytes: usize,
    /// DOCX: total uncompressed bytes read from the archive, whatever its headers claim.
    pub max_unpacked_bytes: u64,
    /// DOCX: largest uncompressed/compressed ratio of an entry over 1 MB (XML is ~5–20×).
    pub max_compression_ratio: u64,
    /// Wall time for one file, in-process or in the PDF child.
    pub time: Duration,
    /// Address-space limit of the PDF child process.
    pub pdf_memory_bytes: u64,
    /// The `bellhop` binary that runs `extract-worker`; `None`: `BELLHOP_EXTRACT_WORKER`, else
    /// this executable (see [`pdf::worker_exe`]).
    pub worker_exe: Option<PathBuf>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 20 * 1024 * 1024,
            max_text_bytes: 16 * 1024 * 1024,
            max_unpacked_bytes: 128 * 1024 * 1024,
            max_compression_ratio: 200,
            time: Duration::from_secs(30),
            pdf_memory_bytes: 512 * 1024 * 1024,
            worker_exe: None,
        }
    }
}

impl Limits {
    pub fn from_config(cfg: &crate::config::KnowledgeConfig) -> Self {
        Limits { max_file_bytes: cfg.max_file_bytes, ..Limits::default() }
    }
}

/// Deadline and output cap checked by the in-process parsers as they go, so a pathological
/// input fails fast instead of holding a blocking thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    deadline: Instant,
    seconds: u64,
    max_text_bytes: usize,
}

impl Budget {
    pub(crate) fn new(limits: &Limits) -> Self {
        Budget { deadline: Instant::now() + limits.time, seconds: limits.time.as_secs(), max_text_bytes: limits.max_text_bytes }
    }

    /// Errors when past the deadline or when `text_len` is over the output cap.
    pub(crate) fn check(&self, text_len: usize) -> Result<(), ExtractError> {
        if text_len > self.max_text_bytes {
            return Err(ExtractError::TooMuchText { limit: self.max_text_bytes });
        }
        if Instant::now() > self.deadline {
            return Err(ExtractError::TimedOut { seconds: self.seconds });
        }
        Ok(())
    }
}

/// The per-business storage check (`knowledge.max_tenant_bytes`), for the caller that knows
/// how many bytes the tenant's sources already take.
pub fn check_tenant_quota(used: u64, size: u64, limit: u64) -> Result<(), ExtractError> {
    if used.saturating_add(size) > limit { Err(ExtractError::OverTenantLimit { used, size, limit }) } else { Ok(()) }
}

/// Extracts with the default [`Limits`]. `file_name_hint` may be empty.
pub async fn extract(bytes: impl Into<Bytes>, file_name_hint: &str) -> Result<Document, ExtractError> {
    extract_with(bytes.into(), file_name_hint, &Limits::default()).await
}

/// Turns an uploaded or fetched file into text. Never panics and never takes longer than
/// about `limits.time`; every failure is an [`ExtractError`] to show the owner.
pub async fn extract_with(bytes: Bytes, file_name_hint: &str, limits: &Limits) -> Result<Document, ExtractError> {
    extract_page(bytes, file_name_hint, None, limits).await.map(|(doc, _)| doc)
}

/// [`extract_with`], plus an HTML page's links as written (for the same-site crawl).
/// `declared_charset` is the charset the web server sent with a fetched page, if any.
pub(crate) async fn extract_page(bytes: Bytes, file_name_hint: &str, declared_charset: Option<&str>, limits: &Limits) -> Result<(Document, Links), ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(ExtractError::TooLarge { size: bytes.len() as u64, limit: limits.max_file_bytes });
    }
    let sniffed = sniff::sniff(&bytes, file_name_hint, declared_charset)?;
    let (doc, links) = match sniffed {
        sniff::Sniffed::Pdf => (pdf::extract(bytes, limits).await?, Links::default()),
        other => in_process(other, bytes, limits).await?,
    };
    if doc.text.trim().is_empty() {
        return Err(ExtractError::NoText);
    }
    let title = doc.title.map(|t| writer::collapse(&t).chars().take(MAX_TITLE_CHARS).collect::<String>()).filter(|t| !t.is_empty());
    Ok((Document { title, ..doc }, links))
}

/// A name for customers made from a file's name, for a file that has no title of its own:
/// "services-prices.csv" → "Services prices" (the extension dropped, dashes and underscores
/// read as spaces, the first letter a capital). A name with nothing else in it stays as it is.
pub fn title_from_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.trim().is_empty() && (1..=5).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric()) => stem,
        _ => base,
    };
    let words = stem.replace(['-', '_'], " ");
    let words = writer::collapse(&words);
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name.to_owned(),
    }
}

/// A title longer than this is cut (an unclosed `<title>` can swallow a whole page).
const MAX_TITLE_CHARS: usize = 200;

/// Runs a non-PDF parser on a blocking thread under `catch_unwind` and a wall-time limit. The
/// parsers check the same deadline themselves, so a timed-out thread stops soon after.
async fn in_process(sniffed: sniff::Sniffed, bytes: Bytes, limits: &Limits) -> Result<(Document, Links), ExtractError> {
    let kind = sniffed.kind();
    let budget = Budget::new(limits);
    let limits_owned = limits.clone();
    let task = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(sniffed, &bytes, &limits_owned, &budget)))
    });
    let grace = limits.time + Duration::from_secs(1);
    match tokio::time::timeout(grace, task).await {
        Err(_) => Err(ExtractError::TimedOut { seconds: limits.time.as_secs() }),
        Ok(Err(join)) => {
            tracing::warn!(error = %join, ?kind, "extraction thread failed");
            Err(ExtractError::Damaged { kind })
        }
        Ok(Ok(Err(_panic))) => {
            tracing::warn!(?kind, "a parser panicked on an uploaded file");
            Err(ExtractError::Damaged { kind })
        }
        Ok(Ok(Ok(result))) => result,
    }
}

fn parse(sniffed: sniff::Sniffed, bytes: &[u8], limits: &Limits, budget: &Budget) -> Result<(Document, Links), ExtractError> {
    match sniffed {
        sniff::Sniffed::Pdf => unreachable!("PDFs are parsed in the child process"),
        sniff::Sniffed::Docx => docx::extract(bytes, limits, budget).map(|d| (d, Links::default())),
        sniff::Sniffed::Html(text) => html::extract(&text, budget),
        sniff::Sniffed::Csv(text, delimiter) => csv::extract(&text, delimiter, budget).map(|d| (d, Links::default())),
        sniff::Sniffed::Markdown(text) => markdown::extract(&text, budget).map(|d| (d, Links::default())),
        sniff::Sniffed::Text(text) => text::extract(&text, DocumentKind::Text, budget).map(|d| (d, Links::default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_a_title_is_named_by_its_file_name_in_words() {
        assert_eq!(title_from_file_name("services-prices.csv"), "Services prices");
        assert_eq!(title_from_file_name("warranty_and_loan-cars.txt"), "Warranty and loan cars");
        assert_eq!(title_from_file_name("Menu 2027.final.pdf"), "Menu 2027.final");
        assert_eq!(title_from_file_name("ölpreise.txt"), "Ölpreise");
        assert_eq!(title_from_file_name(".txt"), ".txt");
        assert_eq!(title_from_file_name("---.csv"), "---.csv");
    }

    #[test]
    fn sizes_read_as_owners_expect() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(20 * 1024 * 1024), "20 MB");
        let e = ExtractError::TooLarge { size: 25 * 1024 * 1024 + 300 * 1024, limit: 20 * 1024 * 1024 };
        assert_eq!(e.to_string(), "This file is 25.3 MB; the limit is 20 MB.");
    }

    #[test]
    fn the_tenant_quota_counts_what_is_already_stored() {
        let mb = 1024 * 1024;
        assert!(check_tenant_quota(150 * mb, 50 * mb, 200 * mb).is_ok());
        let e = check_tenant_quota(195 * mb, 8 * mb, 200 * mb).unwrap_err();
        assert_eq!(
            e.to_string(),
            "This file is 8 MB, but only 5 MB of the 200 MB your business can store is free (your sources, for all your bots, take 195 MB). Delete a source you no longer need, then try again."
        );
        let e = check_tenant_quota(201 * mb, 1024, 200 * mb).unwrap_err();
        assert_eq!(
            e.to_string(),
            "This file is 1 KB, but all of the 200 MB your business can store is in use (your sources, for all your bots, take 201 MB). Delete a source you no longer need, then try again."
        );
        assert_eq!(
            storage_full(None, 200 * mb, 200 * mb),
            "Not added: all of the 200 MB your business can store is in use (your sources, for all your bots, take 200 MB). Delete a source you no longer need, then try again."
        );
    }
}
