//! HTML → light Markdown. html5ever parses the page as a browser would (the WHATWG algorithm:
//! entities, implied and misnested tags, tables, raw-text elements), into scraper's arena tree;
//! an iterative walk over that tree (no recursion) writes the blocks.
//!
//! Kept: headings, paragraphs, list items (nested lists indented), table rows (as `a | b | c`;
//! under a header row, one in `<thead>` or of `<th>` cells only, as `Item: a | Price: b`),
//! preformatted text, the text of links, image `alt` text; the page's own `<footer>` goes under
//! the page's top heading again, not the last section's. Dropped with everything inside them:
//! `head`, `script`, `style`, `noscript`, `template`, `svg`, `math`, `iframe`, `object`,
//! `canvas`, form controls, media, `nav` (and `role="navigation"`), `hidden`/`aria-hidden`/
//! `display:none` elements, comments. The title is `<title>`, else the first `h1`. Links' `href`s
//! are returned for the crawler. Nothing here executes or interprets anything: the result is
//! plain text.
//!
//! Budgets around the parser (docs/ingestion.md has the measurements): the input is fed in
//! [`FEED_CHUNK`] pieces with the deadline checked between them, and [`DepthCap`] keeps the tree
//! builder's open elements under [`MAX_OPEN`] — html5ever's scope checks walk that stack, so
//! 100,000 nested `<div>`s would otherwise take minutes; deeper tags are left out (their text
//! stays, flattened into the enclosing element).
use super::writer::{Block, First, Writer, collapse};
use super::{Budget, Document, DocumentKind, ExtractError};
use ego_tree::iter::Edge;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};
use html5ever::TokenizerResult;
use html5ever::tree_builder::{Tracer, TreeBuilder, TreeBuilderOpts};
use html5ever::{LocalName, ns};
use scraper::node::Element;
use scraper::{Html, HtmlTreeSink, Node};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// Elements removed with their content.
const DROPPED: &[&str] = &[
    "head", "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas", "select", "button", "textarea", "nav", "audio", "video", "dialog",
    "title",
];
/// Elements that end the current paragraph.
const BLOCKS: &[&str] = &[
    "p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote", "address", "figure", "figcaption", "form", "fieldset", "dl", "dt", "dd", "hr", "br", "center",
    "details", "summary", "body", "html",
];
/// Input fed to the parser between two deadline checks.
const FEED_CHUNK: usize = 16 * 1024;
/// Most elements the tree builder may hold open (plus active formatting elements) before
/// further start tags are left out.
const MAX_OPEN: usize = 512;
/// Links collected from one page at most.
const MAX_LINKS: usize = 10_000;
/// Most attributes one tag may have. html5ever checks each new attribute against the tag's
/// earlier ones (quadratic in their number: 50,000 on one tag take 6 s), so a page with a tag
/// beyond this is refused before it is parsed. Real tags have a few dozen.
const MAX_ATTRS: usize = 2_000;

/// The links of a page, as written (resolved by the crawler against `base` or the page URL).
#[derive(Debug, Clone, Default)]
pub(crate) struct Links {
    /// `<base href>`, if the page has one.
    pub base: Option<String>,
    pub hrefs: Vec<String>,
}

pub(crate) fn extract(html: &str, budget: &Budget) -> Result<(Document, Links), ExtractError> {
    let tree = parse(html, budget)?;
    let mut s = State {
        out: Writer::new(budget),
        inline: String::new(),
        title: None,
        first_h1: None,
        links: Vec::new(),
        base: None,
        dropped_open: 0,
        heads_open: 0,
        heading: None,
        list_depth: 0,
        li_fresh: false,
        pre: 0,
        table_depth: 0,
        row: Vec::new(),
        cell: None,
        cell_th: false,
        page_heading: None,
        in_subsection: false,
        sectioning: 0,
        row_th: false,
        row_td_text: false,
        thead: 0,
    };
    for (step, edge) in tree.tree.root().traverse().enumerate() {
        if step % 1024 == 0 {
            budget.check(s.out.len() + s.inline.len())?;
        }
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Text(t) => s.text(t),
                Node::Element(e) => {
                    if e.name() == "title" && s.title.is_none() && s.dropped_open == s.heads_open && e.name.ns == ns!(html) {
                        let text: String = node.children().filter_map(|c| c.value().as_text().map(|t| &**t)).collect();
                        s.title = Some(collapse(&text));
                    }
                    s.open(e)?;
                }
                _ => {}
            },
            Edge::Close(node) => {
                if let Node::Element(e) = node.value() {
                    s.close(e)?;
                }
            }
        }
    }
    s.flush()?;
    s.finish_row()?;
    let title = s.title.clone().filter(|t| !t.is_empty()).or(s.first_h1.clone());
    let links = Links { base: s.base, hrefs: s.links };
    Ok((Document { title, text: s.out.finish(), kind: DocumentKind::Html }, links))
}

/// Runs html5ever over `html` in [`FEED_CHUNK`] pieces, checking the deadline between them.
fn parse(html: &str, budget: &Budget) -> Result<Html, ExtractError> {
    if most_attributes(html.as_bytes()) > MAX_ATTRS {
        return Err(ExtractError::Damaged { kind: DocumentKind::Html });
    }
    let opts = TreeBuilderOpts::default();
    let builder = TreeBuilder::new(HtmlTreeSink::new(Html::new_document()), opts);
    let tokenizer = Tokenizer::new(DepthCap { inner: builder, left_out: RefCell::new(HashMap::new()) }, TokenizerOpts::default());
    let queue = BufferQueue::default();
    let mut rest = html;
    while !rest.is_empty() {
        budget.check(0)?;
        let mut end = rest.len().min(FEED_CHUNK);
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        queue.push_back(StrTendril::from_slice(&rest[..end]));
        rest = &rest[end..];
        // `Script` and encoding results only pause the tokenizer; nothing runs scripts here.
        while !matches!(tokenizer.feed(&queue), TokenizerResult::Done) {}
    }
    tokenizer.end();
    let Tokenizer { sink, .. } = tokenizer;
    Ok(sink.inner.sink.0.into_inner())
}

/// The most attributes any start tag in `html` has, counted the way the HTML tokenizer splits
/// them (names end at whitespace, `/`, `=` or `>`; quoted values may hold anything but their
/// quote). One linear pass; raw-text elements are not special-cased, so `<` in a script may be
/// over-counted, which only matters past [`MAX_ATTRS`].
fn most_attributes(html: &[u8]) -> usize {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        Text,
        Name,
        Between,
        Attr,
        Value(u8),
    }
    let (mut state, mut count, mut most) = (S::Text, 0usize, 0usize);
    let mut i = 0;
    while i < html.len() {
        let b = html[i];
        state = match state {
            S::Text if b == b'<' && html.get(i + 1).is_some_and(u8::is_ascii_alphabetic) => {
                count = 0;
                S::Name
            }
            S::Text => S::Text,
            S::Value(q) if b == q => S::Between,
            S::Value(q) => S::Value(q),
            _ if b == b'>' => {
                most = most.max(count);
                S::Text
            }
            S::Name | S::Attr if b.is_ascii_whitespace() || b == b'/' => S::Between,
            S::Name => S::Name,
            S::Attr if b == b'=' => match html.get(i + 1) {
                Some(&q @ (b'"' | b'\'')) => {
                    i += 1;
                    S::Value(q)
                }
                _ => S::Attr,
            },
            S::Attr => S::Attr,
            S::Between if b.is_ascii_whitespace() || b == b'/' => S::Between,
            S::Between => {
                count += 1;
                S::Attr
            }
        };
        i += 1;
    }
    most.max(count)
}

/// Passes tokens to the tree builder, leaving out start tags (and their end tags) while the
/// builder holds [`MAX_OPEN`] elements.
struct DepthCap {
    inner: TreeBuilder<ego_tree::NodeId, HtmlTreeSink>,
    /// End tags still to leave out, by name.
    left_out: RefCell<HashMap<LocalName, usize>>,
}

/// Counts the handles the tree builder holds: the open elements and the active formatting
/// elements (and the document, `head` and `form`).
struct Count(Cell<usize>);

impl Tracer for Count {
    type Handle = ego_tree::NodeId;
    fn trace_handle(&self, _: &ego_tree::NodeId) {
        self.0.set(self.0.get() + 1);
    }
}

/// Elements that never stay open (the tree builder inserts and pops them at once).
fn is_void(name: &str) -> bool {
    matches!(name, "area" | "base" | "br" | "col" | "embed" | "hr" | "img" | "input" | "link" | "meta" | "source" | "track" | "wbr" | "param" | "keygen")
}

impl TokenSink for DepthCap {
    type Handle = ego_tree::NodeId;

    fn process_token(&self, token: Token, line: u64) -> TokenSinkResult<Self::Handle> {
        if let Token::TagToken(tag) = &token {
            match tag.kind {
                TagKind::StartTag if !is_void(&tag.name) => {
                    let count = Count(Cell::new(0));
                    self.inner.trace_handles(&count);
                    if count.0.get() >= MAX_OPEN {
                        *self.left_out.borrow_mut().entry(tag.name.clone()).or_default() += 1;
                        return TokenSinkResult::Continue;
                    }
                }
                TagKind::EndTag => {
                    let mut left_out = self.left_out.borrow_mut();
                    if let Some(n) = left_out.get_mut(&tag.name).filter(|n| **n > 0) {
                        *n -= 1;
                        return TokenSinkResult::Continue;
                    }
                }
                TagKind::StartTag => {}
            }
        }
        self.inner.process_token(token, line)
    }

    fn end(&self) {
        self.inner.end()
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        self.inner.adjusted_current_node_present_but_not_in_html_namespace()
    }
}

struct State<'b> {
    out: Writer<'b>,
    inline: String,
    title: Option<String>,
    first_h1: Option<String>,
    links: Vec<String>,
    base: Option<String>,
    /// Dropped elements open around the current node (their content is skipped).
    dropped_open: usize,
    /// Of those, `head`s (the title is read inside one).
    heads_open: usize,
    heading: Option<usize>,
    list_depth: usize,
    li_fresh: bool,
    pre: usize,
    table_depth: usize,
    row: Vec<String>,
    cell: Option<String>,
    /// Whether the open cell is a `<th>`; whether the row has one, and a `<td>` with text.
    cell_th: bool,
    row_th: bool,
    row_td_text: bool,
    /// Open `<thead>`s of the table.
    thead: usize,
    /// The page's top heading (the first of the highest level), and whether a lower one was
    /// written since: a page's `<footer>` is about the page, not the last section
    /// ([`State::open`]).
    page_heading: Option<(usize, String)>,
    in_subsection: bool,
    /// Open `<article>`s and `<section>`s: a footer inside one is that one's.
    sectioning: usize,
}

/// Whether `e` is left out with its content.
fn dropped(e: &Element) -> bool {
    e.name.ns != ns!(html)
        || DROPPED.contains(&e.name())
        || e.attr("hidden").is_some()
        || e.attr("aria-hidden") == Some("true")
        || e.attr("role") == Some("navigation")
        || e.attr("style").is_some_and(|s| s.replace(' ', "").to_ascii_lowercase().contains("display:none"))
}

impl State<'_> {
    fn skipping(&self) -> bool {
        self.dropped_open > 0
    }

    fn text(&mut self, text: &str) {
        if self.skipping() {
            return;
        }
        match &mut self.cell {
            Some(cell) => cell.push_str(text),
            None => self.inline.push_str(text),
        }
    }

    fn open(&mut self, e: &Element) -> Result<(), ExtractError> {
        let name = e.name();
        if let Some(href) = e.attr("href").filter(|_| name == "a" && self.links.len() < MAX_LINKS) {
            self.links.push(href.trim().to_owned());
        }
        if name == "base" && self.base.is_none() {
            self.base = e.attr("href").map(|h| h.trim().to_owned());
        }
        if dropped(e) {
            self.dropped_open += 1;
            self.heads_open += usize::from(name == "head");
            return Ok(());
        }
        if self.skipping() {
            return Ok(());
        }
        if is_void(name) {
            if BLOCKS.contains(&name) {
                self.flush()?;
            }
            if name == "img" {
                // Alt text is the image's words for people who cannot see it; keep it inline.
                if let Some(alt) = e.attr("alt").filter(|a| !a.trim().is_empty()) {
                    self.text(&format!(" {alt} "));
                }
            }
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
                self.cell_th = name == "th";
            }
            "thead" if self.table_depth == 1 => {
                self.finish_row()?;
                self.thead += 1;
            }
            "article" | "section" => {
                self.flush()?;
                self.sectioning += 1;
            }
            // The page's footer ("Oakfield Vets · 12 Oakfield Road · Tel …") after the last
            // section: under the page's heading again, so it is not that section's (a nurse's
            // profile read as saying the practice's address).
            "footer" if self.sectioning == 0 && self.table_depth == 0 => {
                self.flush()?;
                if let (Some((level, text)), true) = (self.page_heading.clone(), self.in_subsection) {
                    self.in_subsection = false;
                    self.out.heading(level, &text)?;
                }
            }
            _ if self.table_depth > 0 => self.text(" "),
            _ if BLOCKS.contains(&name) => self.flush()?,
            _ => {}
        }
        Ok(())
    }

    fn close(&mut self, e: &Element) -> Result<(), ExtractError> {
        let name = e.name();
        if dropped(e) {
            self.dropped_open = self.dropped_open.saturating_sub(1);
            self.heads_open = self.heads_open.saturating_sub(usize::from(name == "head"));
            return Ok(());
        }
        if self.skipping() || is_void(name) {
            return Ok(());
        }
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
                    self.thead = 0;
                }
                self.table_depth = self.table_depth.saturating_sub(1);
            }
            "tr" if self.table_depth == 1 => self.finish_row()?,
            "td" | "th" if self.table_depth == 1 => self.finish_cell(),
            "thead" if self.table_depth == 1 => {
                self.finish_row()?;
                self.thead = self.thead.saturating_sub(1);
            }
            "article" | "section" => {
                self.flush()?;
                self.sectioning = self.sectioning.saturating_sub(1);
            }
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
            match &self.page_heading {
                Some((top, _)) if *top < level => self.in_subsection = true,
                Some((top, _)) if *top == level => self.in_subsection = false,
                _ if !body.is_empty() => (self.page_heading, self.in_subsection) = (Some((level, body.clone())), false),
                _ => {}
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
            if self.cell_th {
                self.row_th = true;
            } else if !collapse(&cell).is_empty() {
                self.row_td_text = true;
            }
            self.row.push(cell);
        }
    }

    /// Writes the row read. A table's first row is its header when it is in `<thead>` or made
    /// of `<th>` cells (an empty `<td>` corner allowed); with no `<th>` or `<thead>`, or with
    /// `<th>` only down the first column, the rows stay `a | b | c`.
    fn finish_row(&mut self) -> Result<(), ExtractError> {
        self.finish_cell();
        let header = self.thead > 0 || (self.row_th && !self.row_td_text);
        self.row_th = false;
        self.row_td_text = false;
        if self.row.is_empty() {
            return Ok(());
        }
        self.flush()?;
        let row = std::mem::take(&mut self.row);
        self.out.table_row(&row, if header { First::Header } else { First::Data })
    }
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
        assert_eq!(d.text, "# Menu\n\nFresh coffee daily & more.\n\n- Latte\n  - oat\n- Mocha\n\nItem: Latte | Price: 3.90\n\nBye");
        assert_eq!(links.hrefs, ["/a"]);
    }

    #[test]
    fn a_page_footer_is_not_the_last_sections() {
        // The vet's team page: the practice's address is not part of the nurse's profile.
        let (d, _) = run(concat!(
            "<h1>Meet the team</h1><p>We're a small practice.</p>",
            "<section><h2>Hannah – Nurse</h2><p>Hannah runs our nurse clinics.</p></section>",
            "<footer>Oakfield Vets · 12 Oakfield Road</footer>"
        ));
        assert_eq!(d.text, "# Meet the team\n\nWe're a small practice.\n\n## Hannah – Nurse\n\nHannah runs our nurse clinics.\n\n# Meet the team\n\nOakfield Vets · 12 Oakfield Road");
        // An article's own footer stays the article's; a page with no section needs nothing.
        let (d, _) = run("<h1>News</h1><article><h2>Open day</h2><p>Come along.</p><footer>Posted in May</footer></article>");
        assert_eq!(d.text, "# News\n\n## Open day\n\nCome along.\n\nPosted in May");
        let (d, _) = run("<h1>Menu</h1><p>Coffee</p><footer>Call us</footer>");
        assert_eq!(d.text, "# Menu\n\nCoffee\n\nCall us");
    }

    #[test]
    fn table_rows_name_their_columns_under_a_header_row() {
        let table = |rows: &str| run(&format!("<table>{rows}</table>")).0.text;
        // `<th>` cells, an empty corner allowed.
        assert_eq!(
            table("<tr><td></td><th>Small dog</th><th>Large dog</th></tr><tr><td>Bath</td><td>$35</td><td>$60</td></tr><tr><td>Nails</td><td></td><td>$15</td></tr>"),
            "Bath | Small dog: $35 | Large dog: $60\nNails | Large dog: $15"
        );
        // `<thead>`, whatever its cells.
        assert_eq!(table("<thead><tr><td>Day</td><td>Hours</td></tr></thead><tbody><tr><td>Mon</td><td>9-5</td></tr></tbody>"), "Day: Mon | Hours: 9-5");
        // No header: no `<th>`, or `<th>` only down the first column.
        assert_eq!(table("<tr><td>Day</td><td>Hours</td></tr><tr><td>Mon</td><td>9-5</td></tr>"), "Day | Hours\nMon | 9-5");
        assert_eq!(table("<tr><th>Mon</th><td>9-5</td></tr><tr><th>Tue</th><td>10-4</td></tr>"), "Mon | 9-5\nTue | 10-4");
        // A header alone stays.
        assert_eq!(table("<tr><th>Day</th><th>Hours</th></tr>"), "Day | Hours");
    }

    #[test]
    fn broken_markup_is_text_not_a_crash() {
        let (d, _) = run("a < b and <3 <p unclosed <<>> &bogus; &#xD800; </div></div>");
        assert!(d.text.starts_with("a < b and <3"), "{}", d.text);
        let deep = "<div>".repeat(100_000) + "deep" + &"</div>".repeat(100_000);
        assert_eq!(run(&deep).0.text, "deep");
    }

    #[test]
    fn a_tag_with_thousands_of_attributes_is_refused_before_parsing() {
        let tag = |n: usize| format!("<p title=\"a b > c\" {}>text</p>", (0..n).map(|i| format!("a{i}='x y'")).collect::<Vec<_>>().join(" "));
        assert_eq!(most_attributes(tag(10).as_bytes()), 11);
        assert_eq!(run(&tag(MAX_ATTRS - 1)).0.text, "text");
        let refused = extract(&tag(50_000), &Budget::new(&Limits::default()));
        assert!(matches!(refused, Err(ExtractError::Damaged { kind: DocumentKind::Html })), "{refused:?}");
    }
}
