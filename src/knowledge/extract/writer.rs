//! The light-Markdown writer every extractor emits into: headings, paragraphs, list items and table
//! rows, with blank lines between blocks and none inside a list or a table, so the chunker can
//! see the structure. It enforces the output cap and deadline of a [`Budget`].
//!
//! Tables: a table with a header row is written as the CSV extractor writes rows, each data row
//! naming its columns (`Service: Bath | Small dog: $35 | Large dog: $60`, empty cells left out),
//! and the header row is not written on its own (a table of a header alone keeps it as a row).
//! Answers quote single lines, and chunks are retrieved one by one: a bare `Bath | $35 | $60` cut
//! off from its header cannot say which price is which. Whether a first row is a header is the
//! extractor's call ([`First`]); a table with no header keeps its rows as `a | b | c`.
use super::{Budget, ExtractError};

/// The kind of a block, which decides the separator before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Block {
    Heading,
    Paragraph,
    ListItem,
    TableRow,
}

/// What the extractor knows of a table's first row (later rows are data whatever is passed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum First {
    /// Marked as the header by the document (HTML `<th>`/`<thead>`, a CSV's first line).
    Header,
    /// Where the format puts a header (Markdown's head row): the header unless it looks like
    /// data, see [`looks_like_data`] (a table written with its first data row in the head).
    Likely,
    /// Not a header: the table's rows stay as they are.
    Data,
}

/// The table being written: its header, once taken, and whether a row was written under it.
struct Table {
    header: Option<Vec<String>>,
    rows: usize,
}

pub(crate) struct Writer<'b> {
    text: String,
    last: Option<Block>,
    budget: &'b Budget,
    table: Option<Table>,
}

impl<'b> Writer<'b> {
    pub(crate) fn new(budget: &'b Budget) -> Self {
        Writer { text: String::new(), last: None, budget, table: None }
    }

    /// Appends one block; whitespace inside is collapsed to single spaces (except a list item's
    /// leading indentation). Empty blocks are dropped. A block other than a row ends the table.
    pub(crate) fn push(&mut self, kind: Block, content: &str) -> Result<(), ExtractError> {
        let indent: String = if kind == Block::ListItem { content.chars().take_while(|c| *c == ' ').collect() } else { String::new() };
        let body = collapse(content);
        if body.is_empty() || body == "-" {
            return Ok(());
        }
        if kind != Block::TableRow {
            self.close_table();
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

    /// Appends a table row that is not a header: `a | b | c`, or `Name: a | Size: b | c` under
    /// a header. Rows with no text are dropped.
    pub(crate) fn row(&mut self, cells: &[String]) -> Result<(), ExtractError> {
        self.table_row(cells, First::Data)
    }

    /// Appends a table row; if it is the table's first, `first` says whether it is the header
    /// (kept back, and written into every row after it). Rows with no text are dropped.
    pub(crate) fn table_row(&mut self, cells: &[String], first: First) -> Result<(), ExtractError> {
        let cells: Vec<String> = cells.iter().map(|c| collapse(c).replace('|', "/")).collect();
        if cells.iter().all(String::is_empty) {
            return Ok(());
        }
        let Some(table) = self.table.as_mut() else {
            let is_header = match first {
                First::Header => true,
                First::Likely => !looks_like_data(&cells),
                First::Data => false,
            };
            if is_header {
                self.table = Some(Table { header: Some(cells), rows: 0 });
                return Ok(());
            }
            self.push(Block::TableRow, &cells.join(" | "))?;
            self.table = Some(Table { header: None, rows: 1 });
            return Ok(());
        };
        table.rows += 1;
        let line = match &table.header {
            Some(names) => labelled(names, &cells),
            None => cells.join(" | "),
        };
        self.push(Block::TableRow, &line)
    }

    /// Ends the current table; a header with no row under it is written as a row of its own.
    fn close_table(&mut self) {
        if let Some(Table { header: Some(names), rows: 0 }) = self.table.take() {
            // Within budget: the next block written, or the caller of `finish`, checks it.
            self.separate(Block::TableRow);
            self.text.push_str(&names.join(" | "));
            self.last = Some(Block::TableRow);
        }
    }

    /// Appends preformatted text verbatim (code blocks), keeping its line breaks.
    pub(crate) fn preformatted(&mut self, content: &str) -> Result<(), ExtractError> {
        let body = content.trim_matches('\n').trim_end();
        if body.trim().is_empty() {
            return Ok(());
        }
        self.close_table();
        self.separate(Block::Paragraph);
        self.text.push_str(body);
        self.last = Some(Block::Paragraph);
        self.budget.check(self.text.len())
    }

    /// Ends the current list or table, so the next one is separated by a blank line.
    pub(crate) fn end_group(&mut self) {
        self.close_table();
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

    pub(crate) fn finish(mut self) -> String {
        self.close_table();
        self.text
    }
}

/// A data row under `names` as `Name: value | Name: value`, empty cells left out (a cell with no
/// name, as under an empty corner cell, is written alone). Cells are collapsed, with no `|`.
pub(crate) fn labelled(names: &[String], cells: &[String]) -> String {
    let pairs: Vec<String> = cells
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(j, v)| match names.get(j).filter(|n| !n.is_empty()) {
            Some(n) => format!("{n}: {v}"),
            None => v.clone(),
        })
        .collect();
    pairs.join(" | ")
}

/// Whether a would-be header row reads as data: some cell is a number, price, time or range
/// (its first letter or digit is a digit: `$35`, `9-5`, `3.90`, `10:00`), as in a table written
/// with its first data row where the header goes (`| Mon | 9-5 |`). Header cells name things
/// (`Day`, `Price`, `Small dog (under 10 kg)`). A header of years (`| Item | 2023 |`) is read
/// as data too: its table stays as it was, which loses nothing.
pub(crate) fn looks_like_data(cells: &[String]) -> bool {
    cells.iter().any(|c| c.chars().find(|ch| ch.is_alphanumeric()).is_some_and(|ch| ch.is_numeric()))
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

    #[test]
    fn rows_under_a_header_name_their_columns() {
        let budget = Budget::new(&Limits::default());
        let mut w = Writer::new(&budget);
        let row = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        // A header: every row names its columns, empty cells and the header line left out.
        w.table_row(&row(&["Service", "Small dog (under 10 kg)", "Large dog (over 25 kg)"]), First::Likely).unwrap();
        w.table_row(&row(&["Bath", "$35", ""]), First::Likely).unwrap();
        w.table_row(&row(&["", "$55", "$90"]), First::Likely).unwrap();
        w.end_group();
        // A would-be header that reads as data: the table stays as it is.
        w.table_row(&row(&["Mon", "9-5"]), First::Likely).unwrap();
        w.table_row(&row(&["Tue", "9-5"]), First::Likely).unwrap();
        w.end_group();
        // A row marked as the header is taken even with numbers; a corner cell names nothing.
        w.table_row(&row(&["", "2023"]), First::Header).unwrap();
        w.table_row(&row(&["Sales", "5"]), First::Header).unwrap();
        w.end_group();
        // Not a header: as it is.
        w.table_row(&row(&["Phone", "555"]), First::Data).unwrap();
        w.table_row(&row(&["Email", "a@b.c"]), First::Data).unwrap();
        w.push(Block::Paragraph, "Between").unwrap();
        // A header alone is kept as a row, here ended by the end of the text.
        w.table_row(&row(&["Day", "Hours"]), First::Header).unwrap();
        assert_eq!(
            w.finish(),
            "Service: Bath | Small dog (under 10 kg): $35\nSmall dog (under 10 kg): $55 | Large dog (over 25 kg): $90\n\nMon | 9-5\nTue | 9-5\n\nSales | 2023: 5\n\nPhone | 555\nEmail | a@b.c\n\nBetween\n\nDay | Hours"
        );
    }
}
