//! HTML → light Markdown with a small, forgiving tokenizer (linear, no recursion, no DOM).
//!
//! Kept: headings, paragraphs, list items (nested lists indented), table rows as `a | b | c`,
//! preformatted text, the text of links. Dropped with everything inside them: `script`,
//! `style`, `noscript`, `template`, `svg`, `math`, `iframe`, `object`, `canvas`, form
//! controls, `nav` (and `role="navigation"`), `hidden`/`aria-hidden` elements, comments. The
//! title is `<title>`, else the first `h1`. Links' `href`s are returned for the crawler. Nothing
//! here executes or interprets anything: the result is plain text.
use super::markdown::{Block, Writer, collapse};
use super::{Budget, Document, DocumentKind, ExtractError};

/// Elements removed with their content.
const DROPPED: &[&str] = &["script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas", "select", "button", "textarea", "nav", "head", "audio", "video", "dialog"];
/// Elements whose content is raw text up to their end tag (no markup inside).
const RAW_TEXT: &[&str] = &["script", "style", "textarea", "title", "xmp", "noscript", "template", "iframe", "noembed", "noframes"];
/// Void elements: never have an end tag, never pushed on the open-element stack.
const VOID: &[&str] = &["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr", "param"];
/// Elements that end the current paragraph.
const BLOCKS: &[&str] = &[
    "p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote", "address", "figure", "figcaption", "form", "fieldset", "dl", "dt", "dd", "hr", "br", "center",
    "details", "summary", "body", "html",
];
/// Elements that may appear in `<head>`; any other start tag ends an unclosed head.
const HEAD_CONTENT: &[&str] = &["head", "title", "meta", "link", "style", "script", "base", "noscript", "template"];
/// Open elements tracked at most; deeper nesting is flattened (it only affects indentation).
const MAX_DEPTH: usize = 256;

struct State<'b> {
    out: Writer<'b>,
    inline: String,
    title: Option<String>,
    first_h1: Option<String>,
    links: Vec<String>,
    base: Option<String>,
    stack: Vec<String>,
    dropped_open: usize,
    heading: Option<usize>,
    list_depth: usize,
    li_fresh: bool,
    pre: usize,
    table_depth: usize,
    row: Vec<String>,
    cell: Option<String>,
}

pub(crate) fn extract(html: &str, budget: &Budget) -> Result<(Document, Links), ExtractError> {
    let mut s = State {
        out: Writer::new(budget),
        inline: String::new(),
        title: None,
        first_h1: None,
        links: Vec::new(),
        base: None,
        stack: Vec::new(),
        dropped_open: 0,
        heading: None,
        list_depth: 0,
        li_fresh: false,
        pre: 0,
        table_depth: 0,
        row: Vec::new(),
        cell: None,
    };
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut steps = 0u32;
    while i < bytes.len() {
        steps = steps.wrapping_add(1);
        if steps.is_multiple_of(1024) {
            budget.check(s.out.len() + s.inline.len())?;
        }
        if bytes[i] != b'<' {
            let end = memchr(b'<', &bytes[i..]).map_or(bytes.len(), |p| i + p);
            s.text(&html[i..end]);
            i = end;
            continue;
        }
        let rest = &html[i..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            i = comment.find("-->").map_or(bytes.len(), |p| i + 4 + p + 3);
        } else if rest.starts_with("<!") || rest.starts_with("<?") {
            i = memchr(b'>', &bytes[i..]).map_or(bytes.len(), |p| i + p + 1);
        } else if let Some(tag) = parse_tag(rest) {
            i += tag.len;
            if tag.end {
                s.end_tag(&tag.name)?;
            } else {
                s.start_tag(&tag)?;
                if RAW_TEXT.contains(&tag.name.as_str()) && !tag.self_closing {
                    // Raw text: everything up to `</name` is content, markup or not.
                    let close = format!("</{}", tag.name);
                    let end = find_ascii_ci(&html[i..], &close).map_or(bytes.len(), |p| i + p);
                    s.raw_text(&tag.name, &html[i..end]);
                    i = end;
                }
            }
        } else {
            s.text("<");
            i += 1;
        }
    }
    s.flush()?;
    s.finish_row()?;
    let title = s.title.clone().filter(|t| !t.is_empty()).or(s.first_h1.clone());
    let links = Links { base: s.base, hrefs: s.links };
    Ok((Document { title, text: s.out.finish(), kind: DocumentKind::Html }, links))
}

/// The links of a page, as written (resolved by the crawler against `base` or the page URL).
#[derive(Debug, Clone, Default)]
pub(crate) struct Links {
    /// `<base href>`, if the page has one.
    pub base: Option<String>,
    pub hrefs: Vec<String>,
}

struct Tag {
    name: String,
    end: bool,
    self_closing: bool,
    attrs: Vec<(String, String)>,
    len: usize,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Parses `<name attr=value …>` or `</name>` at the start of `s`; `None` if `<` does not start
/// a tag (then it is text).
fn parse_tag(s: &str) -> Option<Tag> {
    let b = s.as_bytes();
    let mut i = 1;
    let end = b.get(1) == Some(&b'/');
    if end {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let start = i;
    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
        i += 1;
    }
    let name = s[start..i].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut self_closing = false;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            if b[i] == b'/' {
                self_closing = true;
            }
            i += 1;
        }
        if i >= b.len() {
            return Some(Tag { name, end, self_closing, attrs, len: b.len() });
        }
        if b[i] == b'>' {
            return Some(Tag { name, end, self_closing, attrs, len: i + 1 });
        }
        self_closing = false;
        let k0 = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'>' | b'=' | b'/') {
            i += 1;
        }
        let key = s[k0..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if b.get(i) == Some(&b'=') {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            match b.get(i) {
                Some(&q @ (b'"' | b'\'')) => {
                    let v0 = i + 1;
                    let v1 = memchr(q, &b[v0..]).map_or(b.len(), |p| v0 + p);
                    value = decode_entities(&s[v0..v1]);
                    i = (v1 + 1).min(b.len());
                }
                _ => {
                    let v0 = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    value = decode_entities(&s[v0..i]);
                }
            }
        }
        if attrs.len() < 64 {
            attrs.push((key, value));
        }
    }
}

impl State<'_> {
    fn skipping(&self) -> bool {
        self.dropped_open > 0
    }

    fn text(&mut self, raw: &str) {
        if self.skipping() {
            return;
        }
        let decoded = decode_entities(raw);
        match &mut self.cell {
            Some(cell) => {
                cell.push_str(&decoded);
            }
            None => self.inline.push_str(&decoded),
        }
    }

    fn raw_text(&mut self, name: &str, content: &str) {
        if name == "title" && self.title.is_none() && self.dropped_open <= 1 {
            self.title = Some(collapse(&decode_entities(content)));
        }
    }

    fn start_tag(&mut self, tag: &Tag) -> Result<(), ExtractError> {
        let name = tag.name.as_str();
        if let Some(href) = tag.attr("href").filter(|_| name == "a" && self.links.len() < 10_000) {
            self.links.push(href.trim().to_owned());
        }
        if name == "base" && self.base.is_none() {
            self.base = tag.attr("href").map(|h| h.trim().to_owned());
        }
        if name == "body" || (!HEAD_CONTENT.contains(&name) && self.stack.iter().any(|n| n == "!head")) {
            // `<body>` or body content ends an unclosed `<head>`.
            if let Some(pos) = self.stack.iter().rposition(|n| n == "!head") {
                let closed = self.stack.drain(pos..).filter(|n| n.starts_with('!')).count();
                self.dropped_open = self.dropped_open.saturating_sub(closed);
            }
        }
        if name == "title" {
            // `<title>` lives in `<head>`, which is dropped; it is captured as raw text.
            if !VOID.contains(&name) && !tag.self_closing {
                self.push_open(name, false);
            }
            return Ok(());
        }
        let hidden = tag.attr("hidden").is_some()
            || tag.attr("aria-hidden") == Some("true")
            || tag.attr("role") == Some("navigation")
            || tag.attr("style").is_some_and(|s| s.replace(' ', "").to_ascii_lowercase().contains("display:none"));
        let dropped = DROPPED.contains(&name) || hidden;
        if VOID.contains(&name) || tag.self_closing {
            if !self.skipping() && BLOCKS.contains(&name) {
                self.flush()?;
            }
            if !self.skipping() && name == "img" {
                // Alt text is the image's words for people who cannot see it; keep it inline.
                if let Some(alt) = tag.attr("alt").filter(|a| !a.trim().is_empty()) {
                    self.text(&format!(" {alt} "));
                }
            }
            return Ok(());
        }
        self.push_open(name, dropped);
        if self.skipping() {
            return Ok(());
        }
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" if self.table_depth == 0 => {
                self.flush()?;
                self.heading = name[1..].parse().ok();
            }
            "ul" | "ol" | "menu" => {
                self.flush()?;
                self.list_depth += 1;
            }
            "li" => {
                self.flush()?;
                self.li_fresh = true;
            }
            "pre" => {
                self.flush()?;
                self.pre += 1;
            }
            "table" => {
                self.flush()?;
                self.table_depth += 1;
            }
            "tr" if self.table_depth == 1 => self.finish_row()?,
            "td" | "th" if self.table_depth == 1 => {
                self.finish_cell();
                self.cell = Some(String::new());
            }
            _ if self.table_depth > 0 => self.text(" "),
            _ if BLOCKS.contains(&name) => self.flush()?,
            _ => {}
        }
        Ok(())
    }

    fn push_open(&mut self, name: &str, dropped: bool) {
        if self.stack.len() >= MAX_DEPTH {
            // Too deep to track: a dropped element still counts (its end tag may never be
            // matched, so everything after stays dropped — safe, not exploitable).
            if dropped {
                self.dropped_open += 1;
            }
            return;
        }
        let key = if dropped { format!("!{name}") } else { name.to_owned() };
        self.stack.push(key);
        if dropped {
            self.dropped_open += 1;
        }
    }

    fn end_tag(&mut self, name: &str) -> Result<(), ExtractError> {
        // Close up to the nearest open element of that name; an unmatched end tag is ignored.
        let Some(pos) = self.stack.iter().rposition(|n| n.trim_start_matches('!') == name) else {
            if !self.skipping() && BLOCKS.contains(&name) {
                self.flush()?;
            }
            return Ok(());
        };
        let closed: Vec<String> = self.stack.drain(pos..).collect();
        for el in closed.iter().rev() {
            if let Some(dropped_name) = el.strip_prefix('!') {
                let _ = dropped_name;
                self.dropped_open = self.dropped_open.saturating_sub(1);
                continue;
            }
            if self.skipping() {
                continue;
            }
            self.close(el)?;
        }
        Ok(())
    }

    fn close(&mut self, name: &str) -> Result<(), ExtractError> {
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" if self.heading.is_some() => self.flush()?,
            "ul" | "ol" | "menu" => {
                self.flush()?;
                self.list_depth = self.list_depth.saturating_sub(1);
                if self.list_depth == 0 {
                    self.out.end_group();
                }
            }
            "li" => self.flush()?,
            "pre" => {
                self.flush()?;
                self.pre = self.pre.saturating_sub(1);
            }
            "table" => {
                if self.table_depth == 1 {
                    self.finish_row()?;
                    self.out.end_group();
                }
                self.table_depth = self.table_depth.saturating_sub(1);
            }
            "tr" if self.table_depth == 1 => self.finish_row()?,
            "td" | "th" if self.table_depth == 1 => self.finish_cell(),
            _ if self.table_depth > 0 => self.text(" "),
            _ if BLOCKS.contains(&name) => self.flush()?,
            _ => {}
        }
        Ok(())
    }

    /// Emits the pending inline text as a heading, list item, preformatted or paragraph block.
    fn flush(&mut self) -> Result<(), ExtractError> {
        let text = std::mem::take(&mut self.inline);
        if let Some(level) = self.heading.take() {
            let body = collapse(&text);
            if level == 1 && self.first_h1.is_none() && !body.is_empty() {
                self.first_h1 = Some(body.clone());
            }
            return self.out.heading(level, &body);
        }
        if self.pre > 0 {
            return self.out.preformatted(&text);
        }
        if self.list_depth > 0 {
            if collapse(&text).is_empty() {
                return Ok(());
            }
            let indent = "  ".repeat(self.list_depth.min(8) - 1);
            let marker = if std::mem::take(&mut self.li_fresh) { "- " } else { "  " };
            return self.out.push(Block::ListItem, &format!("{indent}{marker}{}", collapse(&text)));
        }
        self.out.push(Block::Paragraph, &text)
    }

    fn finish_cell(&mut self) {
        if let Some(cell) = self.cell.take().filter(|_| self.row.len() < 256) {
            self.row.push(cell);
        }
    }

    fn finish_row(&mut self) -> Result<(), ExtractError> {
        self.finish_cell();
        if self.row.is_empty() {
            return Ok(());
        }
        self.flush()?;
        let row = std::mem::take(&mut self.row);
        self.out.row(&row)
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Case-insensitive ASCII search.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Decodes `&amp;`, `&#39;`, `&#x27;` and the named entities that occur in real pages;
/// unknown ones are left as written.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let end = rest[1..].find(|c: char| !c.is_ascii_alphanumeric() && c != '#').map_or(rest.len(), |e| e + 1);
        let name = &rest[1..end];
        let decoded = if let Some(num) = name.strip_prefix('#') {
            let n = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse().ok(),
            };
            n.map(|n| char::from_u32(n).filter(|c| *c != '\0').unwrap_or('\u{fffd}'))
        } else {
            named_entity(name)
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = rest.get(end..).unwrap_or("");
                rest = rest.strip_prefix(';').unwrap_or(rest);
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "deg" => '°',
        "times" => '×',
        "divide" => '÷',
        "plusmn" => '±',
        "frac12" => '½',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        "aacute" => 'á',
        "ccedil" => 'ç',
        "ntilde" => 'ñ',
        "oacute" => 'ó',
        "iacute" => 'í',
        "uacute" => 'ú',
        "shy" | "zwj" | "zwnj" => '\u{200b}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::extract::Limits;

    fn run(html: &str) -> (Document, Links) {
        extract(html, &Budget::new(&Limits::default())).unwrap()
    }

    #[test]
    fn structure_survives_and_chrome_does_not() {
        let (d, links) = run(concat!(
            "<html><head><title>Caf&eacute; Bob</title><style>p{color:red}</style></head><body>",
            "<nav><a href='/a'>Home</a></nav><h1>Menu</h1><p>Fresh <b>coffee</b>\n daily &amp; more.</p>",
            "<ul><li>Latte<ul><li>oat</li></ul></li><li>Mocha</li></ul>",
            "<table><tr><th>Item</th><th>Price</th></tr><tr><td>Latte</td><td>3.90</td></tr></table>",
            "<script>alert('x<p>y</p>')</script><div hidden>secret</div><p>Bye</p></body></html>"
        ));
        assert_eq!(d.title.as_deref(), Some("Café Bob"));
        assert_eq!(d.text, "# Menu\n\nFresh coffee daily & more.\n\n- Latte\n  - oat\n- Mocha\n\nItem | Price\nLatte | 3.90\n\nBye");
        assert_eq!(links.hrefs, ["/a"]);
    }

    #[test]
    fn broken_markup_is_text_not_a_crash() {
        let (d, _) = run("a < b and <3 <p unclosed <<>> &bogus; &#xD800; </div></div>");
        assert!(d.text.starts_with("a < b and <3"), "{}", d.text);
        let deep = "<div>".repeat(100_000) + "deep" + &"</div>".repeat(100_000);
        assert_eq!(run(&deep).0.text, "deep");
    }
}
