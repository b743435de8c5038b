//! Plain text: kept as written, with line endings normalised, trailing spaces and control
//! characters removed and runs of blank lines collapsed to one. (Markdown is parsed:
//! [`super::markdown`].)
use super::{Budget, Document, DocumentKind, ExtractError};

pub(crate) fn extract(text: &str, kind: DocumentKind, budget: &Budget) -> Result<Document, ExtractError> {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for (i, line) in text.split('\n').enumerate() {
        if i % 4096 == 0 {
            budget.check(out.len())?;
        }
        let line: String = line.chars().filter(|c| !c.is_control() || *c == '\t').collect();
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    budget.check(out.len())?;
    Ok(Document { title: None, text: out, kind })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::extract::Limits;

    #[test]
    fn blank_runs_collapse_and_control_characters_go() {
        let budget = Budget::new(&Limits::default());
        let d = extract("Menu\r\n\r\n\r\nlatte  \r\nmocha\u{7}\n", DocumentKind::Text, &budget).unwrap();
        assert_eq!(d.text, "Menu\n\nlatte\nmocha");
        assert_eq!(d.title, None);
    }
}
