//! Structure-respecting chunking with token budgets counted by tiktoken-rs (`cl100k_base`).
//!
//! Text is read as light Markdown: `#` headings open sections (the chunk keeps the heading
//! path), blank lines end paragraphs, each list item and table row is its own block (a row as
//! the extractors write it, `a | b | c` or CSV's `Product: Latte | Price: 3.90`, or Markdown's
//! `| a | b |`). Blocks are packed into chunks that never cross a heading, so a row is never cut
//! in two unless it alone is over the budget; a block too large for one chunk is split at
//! sentence ends (`.` `!` `?`, and the CJK `。` `！` `？` `．`), then at line breaks, then
//! between words. Consecutive chunks of one section share up to
//! `overlap_tokens` of trailing blocks or sentences, so a fact cut at a boundary is whole in one
//! of them.
//!
//! The budget applies to [`ChunkPayload::index_text`] — the chunk *with* its title and headings,
//! exactly what is embedded — so `max_tokens` is a hard limit on model input.
use crate::domain::TenantId;
use crate::retrieval::ChunkPayload;
use sha2::{Digest, Sha256};

/// A document to index, already extracted to text (Markdown-style headings and lists help).
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub title: String,
    pub text: String,
    pub url: Option<String>,
}

/// Chunk size limits, in `cl100k_base` tokens.
#[derive(Debug, Clone, Copy)]
pub struct ChunkSettings {
    /// Hard limit per chunk, title and headings included (≥ 32).
    pub max_tokens: usize,
    /// Text repeated from the end of one chunk at the start of the next in the same section
    /// (< `max_tokens / 2`).
    pub overlap_tokens: usize,
}

impl Default for ChunkSettings {
    fn default() -> Self {
        Self { max_tokens: 256, overlap_tokens: 32 }
    }
}

/// Tokens of `text` under `cl100k_base`.
pub fn count_tokens(text: &str) -> usize {
    tiktoken_rs::cl100k_base_singleton().encode_ordinary(text).len()
}

/// The id of chunk `position` of `source_id` of `tenant`: the same inputs always give the same
/// id, so re-indexing a source overwrites its chunks instead of adding copies.
pub fn chunk_id(tenant: TenantId, source_id: &str, position: u32) -> uuid::Uuid {
    let mut h = Sha256::new();
    h.update(tenant.0.to_be_bytes());
    h.update((source_id.len() as u64).to_be_bytes());
    h.update(source_id.as_bytes());
    h.update(position.to_be_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Splits `doc` into chunks of `tenant`'s source `source_id`, in reading order.
pub fn chunk_document(tenant: TenantId, source_id: &str, doc: &Document, settings: &ChunkSettings) -> Vec<ChunkPayload> {
    let max = settings.max_tokens.max(32);
    let overlap = settings.overlap_tokens.min(max / 2 - 1);
    let mut out = Vec::new();
    for section in sections(&doc.text) {
        let mut payload = ChunkPayload {
            tenant_id: tenant.0,
            source_id: source_id.to_owned(),
            chunk_id: uuid::Uuid::nil(),
            position: 0,
            title: doc.title.trim().to_owned(),
            headings: section.headings,
            url: doc.url.clone(),
            text: String::new(),
            sentences: None,
        };
        let header = count_tokens(&payload.index_text()) + 1;
        // Very deep or long heading paths must still leave room for text.
        let budget = max.saturating_sub(header).max(max / 2);
        if header + budget > max {
            payload.headings = shorten_headings(&payload, max / 2);
        }
        let budget = max.saturating_sub(count_tokens(&payload.index_text()) + 1).max(8);
        // Units: (text, tokens, continues the previous unit's block). A block that fits is one
        // unit; a larger one becomes several, so overlap can carry its last sentences.
        let units: Vec<(String, usize, bool)> = section
            .blocks
            .iter()
            .flat_map(|b| split_to_fit(b, budget).into_iter().enumerate().map(|(i, (t, n))| (t, n, i > 0)))
            .collect();
        let mut i = 0;
        let mut carried: Vec<(String, usize, bool)> = Vec::new();
        while i < units.len() {
            let mut parts: Vec<(String, usize, bool)> = std::mem::take(&mut carried);
            let mut n_carried = parts.len();
            let mut used: usize = parts.iter().map(|p| p.1 + 1).sum();
            let start = i;
            while i < units.len() && (used + units[i].1 < budget || i == start && parts.is_empty()) {
                used += units[i].1 + 1;
                parts.push(units[i].clone());
                i += 1;
            }
            if i == start {
                // The carried overlap left no room for the next unit: drop the overlap.
                parts.clear();
                n_carried = 0;
                parts.push(units[i].clone());
                i += 1;
            }
            // Exact check of the real limit (merges across joins can differ from the sum):
            // give back new units first, then the overlap; one new unit always stays.
            payload.text = join(&parts);
            while count_tokens(&payload.index_text()) > max {
                if parts.len() > n_carried + 1 {
                    parts.pop();
                    i -= 1;
                } else if n_carried > 0 {
                    parts.drain(..n_carried);
                    n_carried = 0;
                } else {
                    break;
                }
                payload.text = join(&parts);
            }
            let text = payload.text.clone();
            let position = out.len() as u32;
            out.push(ChunkPayload { chunk_id: chunk_id(tenant, source_id, position), position, text, ..payload.clone() });
            // Overlap: trailing units of this chunk, up to `overlap` tokens, start the next.
            if i < units.len() && overlap > 0 {
                let mut total = 0;
                let first_new = n_carried;
                for p in parts[first_new..].iter().rev() {
                    if total + p.1 + 1 > overlap {
                        break;
                    }
                    total += p.1 + 1;
                    carried.insert(0, p.clone());
                }
                if carried.len() == parts.len() - first_new {
                    // Never carry a whole chunk over: that could repeat forever.
                    carried.remove(0);
                }
            }
        }
    }
    out
}

/// Units of one block joined by spaces, blocks by line breaks.
fn join(parts: &[(String, usize, bool)]) -> String {
    let mut s = String::new();
    for (i, (t, _, continues)) in parts.iter().enumerate() {
        if i > 0 {
            s.push(if *continues { ' ' } else { '\n' });
        }
        s.push_str(t);
    }
    s
}

fn shorten_headings(p: &ChunkPayload, limit: usize) -> Vec<String> {
    let mut h = p.headings.clone();
    while h.len() > 1 && count_tokens(&ChunkPayload { headings: h.clone(), text: String::new(), ..p.clone() }.index_text()) > limit {
        h.remove(0);
    }
    h
}

struct Section {
    headings: Vec<String>,
    blocks: Vec<String>,
}

/// Sections of light Markdown: heading path plus blocks (paragraphs, list items, table rows).
fn sections(text: &str) -> Vec<Section> {
    let mut out = vec![Section { headings: Vec::new(), blocks: Vec::new() }];
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut para = String::new();
    let flush = |para: &mut String, out: &mut Vec<Section>| {
        let p = para.trim();
        if !p.is_empty() {
            out.last_mut().expect("one section").blocks.push(p.to_owned());
        }
        para.clear();
    };
    for line in text.lines() {
        let t = line.trim();
        if let Some((level, heading)) = heading(t) {
            flush(&mut para, &mut out);
            path.retain(|(l, _)| *l < level);
            path.push((level, heading.to_owned()));
            out.push(Section { headings: path.iter().map(|(_, h)| h.clone()).collect(), blocks: Vec::new() });
        } else if t.is_empty() {
            flush(&mut para, &mut out);
        } else if is_list_item(t) || is_table_row(t) {
            flush(&mut para, &mut out);
            para.push_str(t);
            flush(&mut para, &mut out);
        } else {
            if !para.is_empty() {
                para.push('\n');
            }
            para.push_str(t);
        }
    }
    flush(&mut para, &mut out);
    out.retain(|s| !s.blocks.is_empty());
    out
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    let rest = &line[level..];
    (1..=6).contains(&level).then_some(())?;
    rest.starts_with([' ', '\t']).then(|| (level, rest.trim().trim_end_matches('#').trim())).filter(|(_, h)| !h.is_empty())
}

/// A table row: Markdown's `| a | b |`, or the extractors' `a | b | c` (cells joined by ` | `,
/// a `|` inside a cell written as `/`).
fn is_table_row(line: &str) -> bool {
    line.starts_with('|') || line.contains(" | ")
}

fn is_list_item(line: &str) -> bool {
    crate::retrieval::list_marker(line).is_some()
}

/// `block` as units of at most `budget` tokens each, with their counts: whole if it fits, else
/// sentences, else runs of lines (a table whose rows have no ` | `, a one-column CSV), else runs
/// of words, else runs of characters.
fn split_to_fit(block: &str, budget: usize) -> Vec<(String, usize)> {
    let n = count_tokens(block);
    if n <= budget {
        return vec![(block.to_owned(), n)];
    }
    let sentences = split_sentences(block);
    if sentences.len() > 1 {
        return sentences.iter().flat_map(|s| split_to_fit(s, budget)).collect();
    }
    let lines: Vec<&str> = block.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.len() > 1 {
        return pack(lines.iter().flat_map(|l| split_to_fit(l, budget)).collect(), budget, "\n");
    }
    let words: Vec<&str> = block.split_whitespace().collect();
    if words.len() > 1 {
        return pack(words.iter().flat_map(|w| split_to_fit(w, budget)).collect(), budget, " ");
    }
    // One "word" longer than the budget (a URL, a hash): cut between characters.
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in block.chars() {
        cur.push(c);
        if count_tokens(&cur) > budget {
            cur.pop();
            let n = count_tokens(&cur);
            out.push((std::mem::take(&mut cur), n));
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        let n = count_tokens(&cur);
        out.push((cur, n));
    }
    out
}

/// Greedily joins consecutive units while they fit.
fn pack(units: Vec<(String, usize)>, budget: usize, sep: &str) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for (u, n) in units {
        if let Some(last) = out.last_mut() {
            let joined = format!("{}{sep}{u}", last.0);
            let m = count_tokens(&joined);
            if m <= budget {
                *last = (joined, m);
                continue;
            }
        }
        out.push((u, n));
    }
    out
}

/// Sentence ends: `.`, `!` or `?` followed by whitespace and an upper-case letter, digit or
/// quote — good enough for prose, and it never splits "e.g. this"; and the CJK full stops and
/// marks `。` `！` `？` `．`, which need no space after them (closing quotes and brackets right
/// after one stay with its sentence).
fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for w in 0..chars.len() {
        let c = chars[w].1;
        let end = if matches!(c, '。' | '！' | '？' | '．') {
            let after = chars[w + 1..].iter().position(|(_, c)| !matches!(c, '」' | '』' | '”' | '’' | '）' | ')' | '"' | '\'')).map_or(chars.len(), |k| w + 1 + k);
            chars.get(after).map(|(j, _)| *j)
        } else if matches!(c, '.' | '!' | '?') && w + 2 < chars.len() {
            let (next, (j, after)) = (chars[w + 1].1, chars[w + 2]);
            (next.is_whitespace() && (after.is_uppercase() || after.is_ascii_digit() || after == '"')).then_some(j)
        } else {
            None
        };
        if let Some(j) = end.filter(|j| *j > start) {
            out.push(text[start..j].trim().to_owned());
            start = j;
        }
    }
    out.push(text[start..].trim().to_owned());
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_become_the_path_and_list_items_stay_whole() {
        let doc = Document { title: "Help".into(), text: "# Refunds\n\nIntro.\n\n## By card\n\n* one\n* two\n\n# Delivery\nShips daily.".into(), url: None };
        let c = chunk_document(TenantId(1), "s", &doc, &ChunkSettings::default());
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].headings, ["Refunds"]);
        assert_eq!(c[1].headings, ["Refunds", "By card"]);
        assert_eq!(c[1].text, "* one\n* two");
        assert_eq!(c[2].headings, ["Delivery"]);
        assert_eq!(c[2].index_text(), "Help › Delivery\n\nShips daily.");
    }

    #[test]
    fn sentences_split_only_at_real_ends() {
        assert_eq!(split_sentences("See e.g. this. Then That! 3 more"), ["See e.g. this.", "Then That!", "3 more"]);
    }

    #[test]
    fn cjk_sentences_end_at_their_own_marks() {
        assert_eq!(split_sentences("营业时间是九点。周日休息！可以退货吗？可以．"), ["营业时间是九点。", "周日休息！", "可以退货吗？", "可以．"]);
        assert_eq!(split_sentences("「はい。」と言った。次の文"), ["「はい。」", "と言った。", "次の文"]);
    }

    #[test]
    fn extractor_table_rows_are_blocks_of_their_own() {
        let doc = Document { title: String::new(), text: "Intro line.\nProduct: Latte | Price: 3.90\nProduct: Mocha | Price: 4.20\n\n| a | b |".into(), url: None };
        let blocks = sections(&doc.text).remove(0).blocks;
        assert_eq!(blocks, ["Intro line.", "Product: Latte | Price: 3.90", "Product: Mocha | Price: 4.20", "| a | b |"]);
    }
}
