//! Splitting long texts into messages of at most 4,096 characters, as Telegram counts them
//! (UTF-16 code units of the text after entity parsing; see `sendMessage.text`).
//!
//! Cuts prefer, in order: a paragraph break (blank line), a line break, the end of a sentence,
//! a space; only a text without any of these in the window is cut mid-word. With HTML, tags open
//! at a cut are closed at the end of one part and reopened at the start of the next, so every
//! part parses on its own.
use super::html::{self, HtmlError, Token};

/// Telegram's limit for `sendMessage.text`.
pub const MESSAGE_LIMIT: usize = 4096;

/// Splits Telegram-HTML `text` into parts of at most `limit` visible UTF-16 units.
pub fn split_html(text: &str, limit: usize) -> Result<Vec<String>, HtmlError> {
    split(text, limit, true)
}

/// Splits plain text into parts of at most `limit` UTF-16 units.
pub fn split_plain(text: &str, limit: usize) -> Vec<String> {
    split(text, limit, false).unwrap_or_else(|_| vec![text.to_owned()])
}

fn split(text: &str, limit: usize, is_html: bool) -> Result<Vec<String>, HtmlError> {
    let limit = limit.max(2);
    let tokens = html::tokenize(text, is_html)?;
    // Visible characters and the index of the token each came from.
    let visible: Vec<(char, usize)> = tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match t {
            Token::Char { ch, .. } => Some((*ch, i)),
            _ => None,
        })
        .collect();
    let cuts = choose_cuts(&visible.iter().map(|v| v.0).collect::<Vec<_>>(), limit);
    // Token index where each part after the first starts.
    let cut_tokens: Vec<usize> = cuts.iter().map(|&c| visible[c].1).collect();

    let mut parts = Vec::new();
    let mut current = String::new();
    let mut stack: Vec<(String, &str)> = Vec::new();
    let mut next_cut = cut_tokens.iter().peekable();
    let mut at_part_start = true;
    for (i, t) in tokens.iter().enumerate() {
        if next_cut.peek() == Some(&&i) {
            next_cut.next();
            for (name, _) in stack.iter().rev() {
                current.push_str(&format!("</{name}>"));
            }
            parts.push(std::mem::take(&mut current));
            for (_, raw) in &stack {
                current.push_str(raw);
            }
            at_part_start = true;
        }
        match t {
            Token::Open { name, raw } => {
                stack.push((name.clone(), raw));
                current.push_str(raw);
            }
            Token::Close { raw, .. } => {
                stack.pop();
                current.push_str(raw);
            }
            Token::Char { ch, raw } => {
                if at_part_start && ch.is_whitespace() {
                    continue;
                }
                at_part_start = false;
                current.push_str(raw);
            }
        }
    }
    parts.push(current);
    // Parts holding only whitespace or empty tags would be refused by Telegram.
    parts.retain(|p| {
        let visible = if is_html { html::parse(p).map(|x| x.text).unwrap_or_default() } else { p.clone() };
        !visible.trim().is_empty()
    });
    if parts.is_empty() {
        parts.push(text.to_owned());
    }
    Ok(parts)
}

/// Indices (into `chars`) where each new part starts.
fn choose_cuts(chars: &[char], limit: usize) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut start = 0;
    loop {
        // Skip leading whitespace, as the part builder does.
        while start < chars.len() && chars[start].is_whitespace() {
            start += 1;
        }
        let mut units = 0;
        let mut end = start;
        while end < chars.len() && units + chars[end].len_utf16() <= limit {
            units += chars[end].len_utf16();
            end += 1;
        }
        if end >= chars.len() {
            return cuts;
        }
        let cut = best_cut(chars, start, end).unwrap_or(end);
        cuts.push(cut);
        start = cut;
    }
}

/// The best place to start a new part within `(start, end]`: after a paragraph break, a line
/// break, a sentence end, or a space — the latest of the best kind present.
fn best_cut(chars: &[char], start: usize, end: usize) -> Option<usize> {
    let window = start + 1..=end;
    let rank = |i: usize| -> u8 {
        let prev = chars[i - 1];
        let prev2 = if i >= 2 { chars[i - 2] } else { ' ' };
        if prev == '\n' && prev2 == '\n' {
            4
        } else if prev == '\n' {
            3
        } else if prev.is_whitespace() && matches!(prev2, '.' | '!' | '?' | '…' | '。') {
            2
        } else if prev.is_whitespace() {
            1
        } else {
            0
        }
    };
    // A paragraph or line break in the first quarter of the window would make tiny parts; in that
    // case a later sentence end is better.
    let min_useful = start + (end - start) / 4;
    for wanted in [4, 3, 2, 1] {
        let floor = if wanted >= 2 { min_useful } else { start };
        if let Some(i) = window.clone().rev().find(|&i| i > floor && rank(i) == wanted) {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_plain("hello", 4096), vec!["hello"]);
    }

    #[test]
    fn cuts_at_paragraphs_and_reopens_tags() {
        let text = format!("<b>{}\n\n{}</b>", "a".repeat(30), "b".repeat(30));
        let parts = split_html(&text, 40).unwrap();
        assert_eq!(parts, vec![format!("<b>{}\n\n</b>", "a".repeat(30)), format!("<b>{}</b>", "b".repeat(30))]);
    }

    #[test]
    fn cuts_at_sentences_before_spaces() {
        let parts = split_plain("One two three. Four five six seven", 20);
        assert_eq!(parts[0], "One two three. ");
    }

    #[test]
    fn counts_utf16_units_not_chars() {
        let emoji = "😀".repeat(10); // 20 UTF-16 units
        let parts = split_plain(&emoji, 8);
        assert!(parts.iter().all(|p| html::utf16_len(p) <= 8));
        assert_eq!(parts.concat(), emoji);
    }
}
