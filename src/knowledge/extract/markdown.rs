//! Markdown → light Markdown, through pulldown-cmark (CommonMark, with GitHub's tables and
//! strikethrough): emphasis, link and image syntax, setext headings, indented and fenced code
//! and escapes are resolved, so the chunker sees the same shapes as for HTML — `#` headings,
//! `- ` / `1. ` list items, table rows, paragraphs between blank lines. A table's rows name their
//! columns (`Day: Mon | Hours: 9-5`, see [`super::writer`]) unless its head row reads as data
//! (`| Mon | 9-5 |`: a table written with no header), when they stay `Mon | 9-5`. Link targets are
//! dropped (their text stays), as for HTML. Raw HTML blocks go through the HTML extractor (so a
//! `<script>` in a README never reaches the text); inline tags are dropped. YAML front matter is
//! left out. The title is the first level-1 heading.
//!
//! Budget: pulldown-cmark is linear in its input (it guards its own known quadratic cases);
//! the deadline is checked every 1024 events and the output cap as blocks are written.
use super::writer::{Block, First, Writer, collapse};
use super::{Budget, Document, DocumentKind, ExtractError};
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

pub(crate) fn extract(text: &str, budget: &Budget) -> Result<Document, ExtractError> {
    // Control characters (other than line breaks and tabs) are never text.
    let text: String = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')).collect();
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
    let mut s = State { out: Writer::new(budget), inline: String::new(), title: None, heading: None, lists: Vec::new(), item_marker: None, code: false, row: None, html: String::new(), skip: 0 };
    for (i, event) in Parser::new_ext(&text, options).enumerate() {
        if i % 1024 == 0 {
            budget.check(s.out.len() + s.inline.len() + s.html.len())?;
        }
        s.event(event, budget)?;
    }
    s.flush()?;
    s.flush_html(budget)?;
    Ok(Document { title: s.title, text: s.out.finish(), kind: DocumentKind::Markdown })
}

struct State<'b> {
    out: Writer<'b>,
    inline: String,
    title: Option<String>,
    heading: Option<usize>,
    /// One entry per open list: the next number of an ordered list, `None` for bullets.
    lists: Vec<Option<u64>>,
    /// The marker of a list item whose first block is not written yet.
    item_marker: Option<String>,
    code: bool,
    /// Cells of the table row being read.
    row: Option<Vec<String>>,
    /// Consecutive raw HTML blocks, extracted together when the next block starts.
    html: String,
    /// Open elements whose content is left out (front matter).
    skip: usize,
}

impl State<'_> {
    fn event(&mut self, event: Event<'_>, budget: &Budget) -> Result<(), ExtractError> {
        if !matches!(event, Event::Html(_)) {
            self.flush_html(budget)?;
        }
        match event {
            Event::Start(Tag::MetadataBlock(_)) => self.skip += 1,
            Event::End(TagEnd::MetadataBlock(_)) => self.skip = self.skip.saturating_sub(1),
            _ if self.skip > 0 => {}
            Event::Start(tag) => self.start(tag)?,
            Event::End(tag) => self.end(tag)?,
            Event::Text(t) | Event::Code(t) => self.text(&t),
            Event::SoftBreak | Event::HardBreak if self.code => self.text("\n"),
            Event::SoftBreak | Event::HardBreak => self.text(" "),
            Event::Html(h) => self.html.push_str(&h),
            // Inline tags (`<b>`, `<br>`): their text comes as text events around them.
            Event::InlineHtml(_) => {}
            Event::Rule => self.flush()?,
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
            Event::FootnoteReference(_) | Event::InlineMath(_) | Event::DisplayMath(_) => {}
        }
        Ok(())
    }

    fn start(&mut self, tag: Tag<'_>) -> Result<(), ExtractError> {
        match tag {
            Tag::Heading { level, .. } => {
                self.flush()?;
                self.heading = Some(heading_level(level));
            }
            Tag::List(first) => {
                self.flush()?;
                self.lists.push(first);
            }
            Tag::Item => {
                self.flush()?;
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "- ".to_owned(),
                };
                self.item_marker = Some(marker);
            }
            Tag::CodeBlock(_) => {
                self.flush()?;
                self.code = true;
            }
            Tag::TableHead | Tag::TableRow => self.row = Some(Vec::new()),
            Tag::Paragraph | Tag::BlockQuote(_) | Tag::Table(_) | Tag::TableCell | Tag::HtmlBlock | Tag::DefinitionList | Tag::DefinitionListTitle | Tag::DefinitionListDefinition => self.flush()?,
            Tag::FootnoteDefinition(_) => self.flush()?,
            Tag::Emphasis | Tag::Strong | Tag::Strikethrough | Tag::Superscript | Tag::Subscript | Tag::Link { .. } | Tag::Image { .. } => {}
            Tag::MetadataBlock(_) => {}
        }
        Ok(())
    }

    fn end(&mut self, tag: TagEnd) -> Result<(), ExtractError> {
        match tag {
            TagEnd::Heading(_) | TagEnd::Paragraph | TagEnd::Item | TagEnd::BlockQuote(_) | TagEnd::FootnoteDefinition | TagEnd::DefinitionListTitle | TagEnd::DefinitionListDefinition => self.flush()?,
            TagEnd::List(_) => {
                self.flush()?;
                self.lists.pop();
                if self.lists.is_empty() {
                    self.out.end_group();
                }
            }
            TagEnd::CodeBlock => {
                let text = std::mem::take(&mut self.inline);
                self.code = false;
                self.out.preformatted(&text)?;
            }
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.inline);
                if let Some(row) = self.row.as_mut().filter(|r| r.len() < 256) {
                    row.push(cell);
                }
            }
            TagEnd::TableHead => {
                if let Some(row) = self.row.take() {
                    self.out.table_row(&row, First::Likely)?;
                }
            }
            TagEnd::TableRow => {
                if let Some(row) = self.row.take() {
                    self.out.row(&row)?;
                }
            }
            TagEnd::Table => self.out.end_group(),
            TagEnd::HtmlBlock | TagEnd::DefinitionList => {}
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Superscript | TagEnd::Subscript | TagEnd::Link | TagEnd::Image | TagEnd::MetadataBlock(_) => {}
        }
        Ok(())
    }

    fn text(&mut self, t: &str) {
        self.inline.push_str(t);
    }

    /// Writes the pending inline text as a heading, list item or paragraph.
    fn flush(&mut self) -> Result<(), ExtractError> {
        let text = std::mem::take(&mut self.inline);
        if let Some(level) = self.heading.take() {
            let body = collapse(&text);
            if level == 1 && self.title.is_none() && !body.is_empty() {
                self.title = Some(body.clone());
            }
            return self.out.heading(level, &body);
        }
        if self.lists.is_empty() {
            return self.out.push(Block::Paragraph, &text);
        }
        if collapse(&text).is_empty() {
            return Ok(());
        }
        let indent = "  ".repeat(self.lists.len().min(8) - 1);
        let marker = self.item_marker.take().unwrap_or_else(|| "  ".to_owned());
        self.out.push(Block::ListItem, &format!("{indent}{marker}{}", collapse(&text)))
    }

    /// Raw HTML blocks, read by the HTML extractor.
    fn flush_html(&mut self, budget: &Budget) -> Result<(), ExtractError> {
        if self.html.trim().is_empty() {
            self.html.clear();
            return Ok(());
        }
        let html = std::mem::take(&mut self.html);
        let (doc, _) = super::html::extract(&html, budget)?;
        for block in doc.text.split("\n\n") {
            self.out.push(Block::Paragraph, block)?;
        }
        Ok(())
    }
}

fn heading_level(level: HeadingLevel) -> usize {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::extract::Limits;

    fn run(md: &str) -> Document {
        extract(md, &Budget::new(&Limits::default())).unwrap()
    }

    #[test]
    fn blank_runs_collapse_and_markdown_keeps_its_title() {
        let d = run("# Menu\r\n\r\n\r\n- latte  \r\n- mocha\u{7}\n");
        assert_eq!(d.text, "# Menu\n\n- latte\n- mocha");
        assert_eq!(d.title.as_deref(), Some("Menu"));
    }

    #[test]
    fn syntax_is_resolved_and_structure_kept() {
        let d = run(concat!(
            "---\nlayout: page\n---\n",
            "Opening *hours*\n===============\n\n",
            "We open at **nine** — see [the map](https://example.com/map) ![a shop](shop.png).\n",
            "Second line.\n\n",
            "1. Ring\n2. Wait\n   - patiently\n\n",
            "| Day | Hours |\n|---|---|\n| Mon | 9-5 |\n\n",
            "```\nfn main() {}\n  indented\n```\n\n",
            "<div><script>STEAL()</script><p>Raw <b>HTML</b> text</p></div>\n\n",
            "> Quoted \\*not emphasis\\*\n",
        ));
        assert_eq!(d.title.as_deref(), Some("Opening hours"));
        assert_eq!(
            d.text,
            "# Opening hours\n\nWe open at nine — see the map a shop. Second line.\n\n1. Ring\n2. Wait\n  - patiently\n\nDay: Mon | Hours: 9-5\n\nfn main() {}\n  indented\n\nRaw HTML text\n\nQuoted *not emphasis*"
        );
        assert!(!d.text.contains("layout") && !d.text.contains("STEAL"));
    }

    #[test]
    fn table_rows_name_their_columns_unless_the_head_is_data() {
        let d = run(concat!(
            "| Service | Small dog (under 10 kg) | Medium dog (10–25 kg) | Large dog (over 25 kg) |\n",
            "|---|---|---|---|\n",
            "| Bath & brush | $35 | $45 | $60 |\n",
            "| Full groom (bath, haircut, nails, ears) | $55 | | $90 |\n\n",
            "| Mon | 9-5 |\n|---|---|\n| Tue | 10-4 |\n\n",
            "| Day | Hours |\n|---|---|\n",
        ));
        assert_eq!(
            d.text,
            concat!(
                "Service: Bath & brush | Small dog (under 10 kg): $35 | Medium dog (10–25 kg): $45 | Large dog (over 25 kg): $60\n",
                "Service: Full groom (bath, haircut, nails, ears) | Small dog (under 10 kg): $55 | Large dog (over 25 kg): $90\n\n",
                "Mon | 9-5\nTue | 10-4\n\n",
                "Day | Hours"
            )
        );
    }
}
