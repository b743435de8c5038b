//! The light-Markdown writer every extractor emits into: headings, paragraphs, list items and table
//! rows, with blank lines between blocks and none inside a list or a table, so the chunker can
//! see the structure. It enforces the output cap and deadline of a [`Budget`].
use super::{Budget, ExtractError};

/// The kind of a block, which decides the separator before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Block {
    Heading,
    Paragraph,
    ListItem,
    TableRow,
}

pub(crate) struct Writer<'b> {
    text: String,
    last: Option<Block>,
    budget: &'b Budget,
}

impl<'b> Writer<'b> {
    pub(crate) fn new(budget: &'b Budget) -> Self {
        Writer { text: String::new(), last: None, budget }
    }

    /// Appends one block; whitespace inside is collapsed to single spaces (except a list item's
    /// leading indentation). Empty blocks are dropped.
    pub(crate) fn push(&mut self, kind: Block, content: &str) -> Result<(), ExtractError> {
        let indent: String = if kind == Block::ListItem { content.chars().take_while(|c| *c == ' ').collect() } else { String::new() };
        let body = collapse(content);
        if body.is_empty() || body == "-" {
            return Ok(());
        }
        self.separate(kind);
        self.text.push_str(&indent);
        self.text.push_str(&body);
        self.last = Some(kind);
        self.budget.check(self.text.len())
    }

    /// Appends a heading of `level` (1–6).
    pub(crate) fn heading(&mut self, level: usize, content: &str) -> Result<(), ExtractError> {
        let body = collapse(content);
        if body.is_empty() {
            return Ok(());
        }
        let hashes = "#".repeat(level.clamp(1, 6));
        self.push(Block::Heading, &format!("{hashes} {body}"))
    }

    /// Appends a table row as `a | b | c`; rows with no text are dropped.
    pub(crate) fn row(&mut self, cells: &[String]) -> Result<(), ExtractError> {
        let cells: Vec<String> = cells.iter().map(|c| collapse(c).replace('|', "/")).collect();
        if cells.iter().all(String::is_empty) {
            return Ok(());
        }
        self.push(Block::TableRow, &cells.join(" | "))
    }

    /// Appends preformatted text verbatim (code blocks), keeping its line breaks.
    pub(crate) fn preformatted(&mut self, content: &str) -> Result<(), ExtractError> {
        let body = content.trim_matches('\n').trim_end();
        if body.trim().is_empty() {
            return Ok(());
        }
        self.separate(Block::Paragraph);
        self.text.push_str(body);
        self.last = Some(Block::Paragraph);
        self.budget.check(self.text.len())
    }

    /// Ends the current list or table, so the next one is separated by a blank line.
    pub(crate) fn end_group(&mut self) {
        if matches!(self.last, Some(Block::ListItem | Block::TableRow)) {
            self.last = Some(Block::Paragraph);
        }
    }

    fn separate(&mut self, kind: Block) {
        match self.last {
            None => {}
            Some(last) if last == kind && matches!(kind, Block::ListItem | Block::TableRow) => self.text.push('\n'),
            Some(_) => self.text.push_str("\n\n"),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }

    pub(crate) fn finish(self) -> String {
        self.text
    }
}

/// Collapses runs of whitespace (including non-breaking spaces) to one space and trims.
pub(crate) fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c == '\u{a0}' || c == '\u{200b}' {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::extract::Limits;

    #[test]
    fn blocks_are_separated_lists_and_tables_are_not() {
        let budget = Budget::new(&Limits::default());
        let mut w = Writer::new(&budget);
        w.heading(2, "  Opening   hours ").unwrap();
        w.push(Block::Paragraph, "We are\nopen").unwrap();
        w.push(Block::ListItem, "- Mon").unwrap();
        w.push(Block::ListItem, "  - Tue").unwrap();
        w.row(&["a".into(), "b|c".into()]).unwrap();
        w.row(&["".into(), " ".into()]).unwrap();
        w.row(&["1".into(), "2".into()]).unwrap();
        assert_eq!(w.finish(), "## Opening hours\n\nWe are open\n\n- Mon\n  - Tue\n\na | b/c\n1 | 2");
    }
}
