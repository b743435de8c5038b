//! What Telegram's server does to a message text after parsing its formatting, following
//! TDLib's `fix_formatted_text` (the Bot API runs TDLib): control characters become spaces and
//! `\r` goes; entities holding only whitespace go; the text is trimmed of spaces and line breaks
//! at both ends; and the entities a reader's app would highlight are found — `mention`,
//! `hashtag`, `cashtag`, `bot_command`, `url`, `email` — where no code block or link already is.
//!
//! URLs and e-mail addresses are found with `linkify`; a URL without a scheme counts when its
//! last label is 2+ letters (Telegram checks a list of top-level domains; the sandbox accepts any
//! alphabetic one). Phone and bank-card numbers are not detected.
use bellhop_telegram::types::MessageEntity;

/// A UTF-16 range with the kind of entity found there.
type Found = (i64, i64, &'static str);

/// Telegram's order of entities: by offset, longer first, then by type (TDLib's
/// `get_type_priority`): blockquotes outside everything, bold/italic/… inside links.
pub fn sort(entities: &mut [MessageEntity]) {
    fn priority(kind: &str) -> i32 {
        match kind {
            "blockquote" | "expandable_blockquote" => 0,
            "pre" => 11,
            "code" => 20,
            "text_link" | "text_mention" => 49,
            "bold" => 90,
            "italic" => 91,
            "underline" => 92,
            "strikethrough" => 93,
            "spoiler" => 94,
            "custom_emoji" => 99,
            _ => 50,
        }
    }
    entities.sort_by_key(|e| (e.offset, -e.length, priority(&e.kind)));
}

/// Bold, italic, underline, strikethrough and spoiler may cross other entities; Telegram splits
/// them at the others' boundaries.
fn splittable(kind: &str) -> bool {
    matches!(kind, "bold" | "italic" | "underline" | "strikethrough" | "spoiler")
}

/// Entities whose meaning is not in the text itself: kept even over whitespace.
fn hidden_data(kind: &str) -> bool {
    matches!(kind, "text_link" | "text_mention" | "custom_emoji" | "date_time")
}

/// Text and entities as Telegram stores and returns them; `None` when nothing visible is left
/// (Telegram answers "message text is empty").
pub fn finish(text: &str, entities: Vec<MessageEntity>) -> Option<(String, Vec<MessageEntity>)> {
    let (chars, mut entities) = clean(text, entities);
    let is_ws = |c: char| c == ' ' || c == '\n';
    // UTF-16 offset of each char, and the total.
    let offsets = utf16_offsets(&chars);
    let total = *offsets.last().unwrap_or(&0);
    let at = |units: i64| offsets.partition_point(|&o| o < units);

    // Entities lose leading whitespace; those with nothing visible go.
    entities.retain_mut(|e| {
        if hidden_data(&e.kind) {
            return e.length > 0;
        }
        let (mut i, end) = (at(e.offset), at(e.offset + e.length));
        while i < end && is_ws(chars[i]) {
            i += 1;
        }
        e.length -= offsets[i] - e.offset;
        e.offset = offsets[i];
        chars[i..end].iter().any(|c| !is_ws(*c))
    });
    let last = chars.iter().rposition(|c| !is_ws(*c))?;
    // Right trim: entities end at the last visible character.
    let end_units = offsets[last + 1];
    entities.retain_mut(|e| {
        e.length = e.length.min(end_units - e.offset);
        e.length > 0
    });
    // Left trim, up to the first entity.
    let first_entity = entities.iter().map(|e| e.offset).min().unwrap_or(total);
    let mut first = 0;
    while first < last && offsets[first] < first_entity && is_ws(chars[first]) {
        first += 1;
    }
    let shift = offsets[first];
    for e in &mut entities {
        e.offset -= shift;
    }
    let text: String = chars[first..=last].iter().collect();
    sort(&mut entities);
    let found = find(&text);
    Some((text, merge(entities, found)))
}

/// `\r` removed; other control characters (but `\n`) made spaces; the Unicode line and
/// paragraph separators and direction marks U+2028–U+202E and three combining vertical lines
/// removed. Entity offsets follow.
fn clean(text: &str, mut entities: Vec<MessageEntity>) -> (Vec<char>, Vec<MessageEntity>) {
    let mut out = Vec::with_capacity(text.len());
    // new UTF-16 offset for each old one (index = old offset).
    let mut map = Vec::with_capacity(text.len() + 1);
    let mut new_units = 0i64;
    for c in text.chars() {
        for _ in 0..c.len_utf16() {
            map.push(new_units);
        }
        let kept = match c {
            '\r' | '\u{2028}'..='\u{202e}' | '\u{0333}' | '\u{033f}' | '\u{030a}' => None,
            '\n' => Some('\n'),
            c if (c as u32) < 0x20 => Some(' '),
            c => Some(c),
        };
        if let Some(k) = kept {
            out.push(k);
            new_units += k.len_utf16() as i64;
        }
    }
    map.push(new_units);
    let old_total = map.len() as i64 - 1;
    let remap = |u: i64| map[u.clamp(0, old_total) as usize];
    entities.retain_mut(|e| {
        let (start, end) = (remap(e.offset), remap(e.offset + e.length));
        e.offset = start;
        e.length = end - start;
        e.length > 0
    });
    (out, entities)
}

fn utf16_offsets(chars: &[char]) -> Vec<i64> {
    let mut offsets = Vec::with_capacity(chars.len() + 1);
    let mut units = 0i64;
    for c in chars {
        offsets.push(units);
        units += c.len_utf16() as i64;
    }
    offsets.push(units);
    offsets
}

/// Adds the found entities that cross no existing non-splittable one (a found one may lie
/// inside a blockquote); then splits bold, italic, … at the boundaries of the others, as
/// Telegram does whenever it adds entities.
fn merge(mut entities: Vec<MessageEntity>, found: Vec<Found>) -> Vec<MessageEntity> {
    let mut added = false;
    for (offset, length, kind) in found {
        let end = offset + length;
        let blocked = entities.iter().filter(|e| !splittable(&e.kind)).any(|e| {
            let (s, t) = (e.offset, e.offset + e.length);
            let crosses = offset < t && s < end;
            let inside = s <= offset && end <= t;
            crosses && !(inside && e.kind.ends_with("blockquote"))
        });
        if !blocked {
            entities.push(MessageEntity { kind: kind.into(), offset, length, ..Default::default() });
            added = true;
        }
    }
    if !added {
        return entities;
    }
    let (split, others): (Vec<_>, Vec<_>) = entities.into_iter().partition(|e| splittable(&e.kind));
    let mut cuts: Vec<i64> = others.iter().filter(|e| !e.kind.ends_with("blockquote")).flat_map(|e| [e.offset, e.offset + e.length]).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut result = others;
    for e in split {
        let mut start = e.offset;
        let end = e.offset + e.length;
        for &cut in cuts.iter().filter(|&&c| c > e.offset && c < end) {
            result.push(MessageEntity { offset: start, length: cut - start, ..e.clone() });
            start = cut;
        }
        result.push(MessageEntity { offset: start, length: end - start, ..e });
    }
    sort(&mut result);
    result
}

/// The entities Telegram finds in plain text, non-overlapping (the earlier, then the longer,
/// wins), as UTF-16 ranges.
pub fn find(text: &str) -> Vec<Found> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut units = Vec::with_capacity(chars.len() + 1);
    let mut u = 0i64;
    for (_, c) in &chars {
        units.push(u);
        u += c.len_utf16() as i64;
    }
    units.push(u);
    // Byte offset → char index.
    let index = |byte: usize| chars.partition_point(|(b, _)| *b < byte);
    let mut found: Vec<(usize, usize, &'static str)> = Vec::new();
    let prev = |i: usize| if i == 0 { None } else { Some(chars[i - 1].1) };
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let ascii_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let run = |from: usize, ok: &dyn Fn(char) -> bool| {
        let mut j = from;
        while j < chars.len() && ok(chars[j].1) {
            j += 1;
        }
        j
    };
    for (i, &(_, c)) in chars.iter().enumerate() {
        let next_after = |j: usize| chars.get(j).map(|x| x.1);
        match c {
            // '/(?<=\B)@([a-zA-Z0-9_]{2,32})(?=\b)/'
            '@' if !prev(i).is_some_and(word) => {
                let end = run(i + 1, &ascii_word);
                if (2..=32).contains(&(end - i - 1)) && !next_after(end).is_some_and(word) {
                    found.push((i, end, "mention"));
                }
            }
            // '/(?<!\b|[\/<>])\/([a-zA-Z0-9_]{1,64})(?:@([a-zA-Z0-9_]{3,32}))?(?!\B|[\/<>])/'
            '/' if !prev(i).is_some_and(|p| word(p) || matches!(p, '/' | '<' | '>')) => {
                let mut end = run(i + 1, &ascii_word);
                if !(1..=64).contains(&(end - i - 1)) {
                    continue;
                }
                if next_after(end) == Some('@') {
                    let m = run(end + 1, &ascii_word);
                    if !(3..=32).contains(&(m - end - 1)) {
                        continue;
                    }
                    end = m;
                }
                if !next_after(end).is_some_and(|n| word(n) || matches!(n, '/' | '<' | '>')) {
                    found.push((i, end, "bot_command"));
                }
            }
            // '#' + 1–256 letters, digits or '_' with at least one letter, not followed by '#'.
            '#' if !prev(i).is_some_and(hashtag_letter) => {
                let end = run(i + 1, &hashtag_letter);
                let body = &chars[i + 1..end];
                if !body.is_empty() && next_after(end) != Some('#') && body.iter().any(|(_, ch)| ch.is_alphabetic()) {
                    found.push((i, (i + 1 + 256).min(end), "hashtag"));
                }
            }
            // '$' + 1–8 capital letters.
            '$' if !prev(i).is_some_and(|p| hashtag_letter(p) || p == '$') => {
                let end = run(i + 1, &|ch: char| ch.is_ascii_uppercase());
                if (1..=8).contains(&(end - i - 1)) && !next_after(end).is_some_and(|n| hashtag_letter(n) || n == '$') {
                    found.push((i, end, "cashtag"));
                }
            }
            _ => {}
        }
    }
    let mut finder = linkify::LinkFinder::new();
    finder.url_must_have_scheme(false);
    for link in finder.links(text) {
        let s = link.as_str();
        let kind = match link.kind() {
            linkify::LinkKind::Email => "email",
            linkify::LinkKind::Url if url_counts(s) => "url",
            _ => continue,
        };
        found.push((index(link.start()), index(link.end()), kind));
    }
    found.sort_by_key(|&(s, e, _)| (s, std::cmp::Reverse(e)));
    let mut out: Vec<Found> = Vec::new();
    let mut covered = 0;
    for (s, e, kind) in found {
        if s >= covered {
            out.push((units[s], units[e] - units[s], kind));
            covered = e;
        }
    }
    out
}

fn hashtag_letter(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '\u{200c}' || c == '\u{b7}' || ('\u{d80}'..='\u{dff}').contains(&c)
}

/// Telegram links `http`, `https`, `ftp` and `tonsite` URLs, and scheme-less ones whose last
/// label looks like a top-level domain.
fn url_counts(s: &str) -> bool {
    if let Some((scheme, _)) = s.split_once("://") {
        return matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https" | "ftp" | "tonsite");
    }
    if s.contains(':') && !s.contains('.') {
        return false;
    }
    let host = s.split(['/', '?', '#', ':']).next().unwrap_or("");
    let tld = host.rsplit('.').next().unwrap_or("");
    host.contains('.') && tld.len() >= 2 && tld.chars().all(|c| c.is_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(String, &'static str)> {
        let units: Vec<u16> = text.encode_utf16().collect();
        find(text).into_iter().map(|(o, l, k)| (String::from_utf16_lossy(&units[o as usize..(o + l) as usize]), k)).collect()
    }

    #[test]
    fn finds_what_telegram_highlights() {
        assert_eq!(
            kinds("Hi @alice_b, try /start@pizza_bot or /help; #Pizza2go costs $USD at https://x.test/a?b=1. Mail me@shop.example, see shop.example/menu"),
            vec![
                ("@alice_b".into(), "mention"),
                ("/start@pizza_bot".into(), "bot_command"),
                ("/help".into(), "bot_command"),
                ("#Pizza2go".into(), "hashtag"),
                ("$USD".into(), "cashtag"),
                ("https://x.test/a?b=1".into(), "url"),
                ("me@shop.example".into(), "email"),
                ("shop.example/menu".into(), "url"),
            ]
        );
    }

    #[test]
    fn leaves_what_telegram_leaves() {
        // '@' after a word character, a one-letter mention, digits-only hashtag, a path, a version.
        assert!(kinds("me@x a@b #123 src/main.rs v1.2 e.g. and/or").iter().all(|(_, k)| *k != "mention" && *k != "hashtag" && *k != "bot_command"), "{:?}", kinds("me@x a@b #123 src/main.rs v1.2 e.g. and/or"));
        assert!(kinds("v1.2 e.g. 3.14").is_empty(), "{:?}", kinds("v1.2 e.g. 3.14"));
    }

    #[test]
    fn trims_and_shifts_entities() {
        let bold = MessageEntity { kind: "bold".into(), offset: 3, length: 5, ..Default::default() };
        let (text, ents) = finish("\n  \r\n <b>x ", vec![MessageEntity { offset: 5, ..bold.clone() }]).unwrap();
        assert_eq!(text, "<b>x");
        assert_eq!((ents[0].offset, ents[0].length), (0, 4), "{ents:?}");
        assert!(finish(" \n\t ", vec![]).is_none());
    }

    #[test]
    fn bold_is_split_around_a_found_link() {
        let bold = MessageEntity { kind: "bold".into(), offset: 0, length: 21, ..Default::default() };
        let (_, ents) = finish("see https://x.test ok", vec![bold]).unwrap();
        let got: Vec<_> = ents.iter().map(|e| (e.kind.as_str(), e.offset, e.length)).collect();
        assert_eq!(got, vec![("bold", 0, 4), ("url", 4, 14), ("bold", 4, 14), ("bold", 18, 3)]);
    }
}
