//! CSV (`,` `;` or tab, as sniffed). Each row becomes one line of `column: value` pairs
//! joined by ` | `, e.g. `Product: Latte | Size: large | Price: 3.90`.
//!
//! Why not `a | b | c` rows under one header line: chunks are retrieved one by one, and a row
//! cut off from its header means nothing (`Latte | large | 3.90`). Naming the column in every
//! row makes each row self-describing for BM25 and for the embedder ("price of a large latte"
//! matches `Price` and `Latte` in the same line), at the cost of some repetition. One row per
//! line (no blank lines between rows) keeps a row whole when the chunker splits the table.
//! The writer labels the rows ([`super::writer::labelled`]), as for the other formats' tables.
use super::writer::{First, Writer};
use super::{Budget, Document, DocumentKind, ExtractError};

pub(crate) fn extract(text: &str, delimiter: u8, budget: &Budget) -> Result<Document, ExtractError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut w = Writer::new(budget);
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|_| ExtractError::Damaged { kind: DocumentKind::Csv })?;
        let cells: Vec<String> = record.iter().map(super::writer::collapse).collect();
        // The first line with text is the header (kept as a row if it is alone: a one-line CSV).
        w.table_row(&cells, First::Header)?;
        if i % 1024 == 0 {
            budget.check(w.len())?;
        }
    }
    Ok(Document { title: None, text: w.finish(), kind: DocumentKind::Csv })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::extract::Limits;

    #[test]
    fn every_row_names_its_columns() {
        let budget = Budget::new(&Limits::default());
        let d = extract("Product,Size,Price\nLatte,large,3.90\n\"Mocha, iced\",,4.20\n", b',', &budget).unwrap();
        assert_eq!(d.text, "Product: Latte | Size: large | Price: 3.90\nProduct: Mocha, iced | Price: 4.20");
    }
}
