//! Plain text: kept as written, with line endings normalised, trailing spaces and control
//! characters removed and runs of blank lines collapsed to one. (Markdown is parsed:
//! [`super::markdown`].) A text file whose first line is a short title names itself by it, as a
//! Markdown file's `# ` heading does ([`first_line_title`]).
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
    let title = if kind == DocumentKind::Text { first_line_title(&out) } else { None };
    Ok(Document { title, text: out, kind })
}

/// The first line of a text file, when it is a title: short (at most 10 words, 80 characters),
/// not a sentence or a question (no closing `.` `!` `?` `:` `;` `,`), not a list item or a table
/// row, and with more text after it. "Our warranty and courtesy car policy" above the policy is
/// the file's name for customers, not "warranty-and-loan-cars.txt".
pub(crate) fn first_line_title(text: &str) -> Option<String> {
    let (first, rest) = text.trim_start().split_once('\n')?;
    let first = first.trim();
    let words = first.split_whitespace().count();
    let closed = first.ends_with(['.', '!', '?', ':', ';', ',', '…', '。', '？', '！', '؟', '：']);
    let marked = first.starts_with(['-', '*', '•', '#', '>', '|']) || first.contains(" | ") || first.chars().next().is_some_and(|c| c.is_ascii_digit());
    let titled = (1..=10).contains(&words) && first.chars().count() <= 80 && !closed && !marked && first.chars().any(char::is_alphabetic) && !rest.trim().is_empty();
    titled.then(|| first.to_owned())
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
        assert_eq!(d.title, Some("Menu".into()));
    }

    #[test]
    fn a_short_first_line_is_the_title() {
        let title = |t: &str| first_line_title(t);
        assert_eq!(title("Our warranty and courtesy car policy\n\nEvery repair comes with a warranty."), Some("Our warranty and courtesy car policy".into()));
        assert_eq!(title("Opening hours\nWe open at nine."), Some("Opening hours".into()));
        for not in [
            "We open at nine every morning.",
            "We open at nine.\nWe close at six.",
            "Do you repair bikes?\nYes.",
            "Prices:\nLatte 3.90",
            "- Latte\n- Mocha",
            "Service | Price\nOil change | $59",
            "2027 opening hours\nMonday to Friday",
            "Every repair we carry out comes with a twelve month warranty on parts and labour\nmore",
        ] {
            assert_eq!(title(not), None, "{not:?}");
        }
    }
}
