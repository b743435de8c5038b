//! Telegram's HTML formatting subset (<https://core.telegram.org/bots/api#html-style>):
//! tokenising (shared with [`super::split`]) and parsing into plain text plus
//! [`MessageEntity`]s the way the Bot API does, with its error messages.
//!
//! Supported tags: `b strong i em u ins s strike del tg-spoiler span[class=tg-spoiler] a[href]
//! tg-emoji tg-time code pre blockquote[expandable]`; entities `&lt; &gt; &amp; &quot;` and
//! numeric ones (the `;` optional), any other `&` literal; a bare `>` is text. Errors and their
//! wording follow TDLib's `parse_html`, which the Bot API runs. Entity offsets and lengths count
//! UTF-16 code units.
use super::types::MessageEntity;

/// A piece of HTML source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    /// `<name …>` with its raw text (reused verbatim when a tag is reopened).
    Open { name: String, raw: &'a str },
    /// `</name>` (or `</>`, which closes the innermost tag), with `name` the tag it closes.
    Close { name: String, raw: &'a str },
    /// One visible character and the source that produced it (`a`, `&amp;`, `&#128512;`, `>`).
    Char { ch: char, raw: &'a str },
}

/// Why Telegram would refuse this text with `Bad Request: can't parse entities: …`; the message
/// is Telegram's own wording (TDLib's `parse_html`), e.g. `Unsupported start tag "blink" at
/// byte offset 0`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("can't parse entities: {0}")]
pub struct HtmlError(pub String);

const TAGS: &[&str] = &["a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "tg-time", "span", "pre", "code", "blockquote"];

/// Whitespace as TDLib's `is_space` counts it.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0)
}

/// A parsed start tag: its lower-case name, its attributes (name, value; `None` for a bare
/// attribute such as `expandable`) and the byte just after its `>`.
struct StartTag {
    name: String,
    attributes: Vec<(String, Option<String>)>,
    end: usize,
}

/// Reads the start tag at `src[begin]` (a `<` not followed by `/`) the way Telegram does: the
/// name runs to a space or `>`; attributes are `name=token`, `name="…"` or `name='…'` (entities
/// decoded in quoted values; unquoted tokens are letters, digits, `.` and `-`, lower-cased).
fn start_tag(src: &str, begin: usize) -> Result<StartTag, HtmlError> {
    let b = src.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut i = begin + 1;
    while i < b.len() && !is_space(b[i]) && b[i] != b'>' {
        i += 1;
    }
    if i >= b.len() {
        return Err(HtmlError(format!("Unclosed start tag at byte offset {begin}")));
    }
    let name = src[begin + 1..i].to_lowercase();
    if !TAGS.contains(&name.as_str()) {
        return Err(HtmlError(format!("Unsupported start tag \"{name}\" at byte offset {begin}")));
    }
    let mut attributes = Vec::new();
    while at(i) != b'>' {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if at(i) == b'>' {
            break;
        }
        let attr_begin = i;
        while i < b.len() && !is_space(b[i]) && b[i] != b'=' && b[i] != b'>' {
            i += 1;
        }
        let attr_name = src[attr_begin..i].to_lowercase();
        if attr_name.is_empty() {
            return Err(HtmlError(format!("Empty attribute name in the tag \"{name}\" at byte offset {begin}")));
        }
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if at(i) != b'=' {
            // Telegram's one bare attribute: `<blockquote expandable>`.
            if name == "blockquote" && attr_name == "expandable" && i < b.len() {
                attributes.push((attr_name, None));
                continue;
            }
            return Err(HtmlError(format!("Expected equal sign in declaration of an attribute of the tag \"{name}\" at byte offset {begin}")));
        }
        i += 1;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            return Err(HtmlError(format!("Unclosed start tag \"{name}\" at byte offset {begin}")));
        }
        let value = if b[i] != b'\'' && b[i] != b'"' {
            let token_begin = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'-') {
                i += 1;
            }
            if i >= b.len() || (!is_space(b[i]) && b[i] != b'>') {
                return Err(HtmlError(format!("Unexpected end of name token at byte offset {token_begin}")));
            }
            src[token_begin..i].to_ascii_lowercase()
        } else {
            let quote = b[i];
            i += 1;
            let value_begin = i;
            while i < b.len() && b[i] != quote {
                i += 1;
            }
            let value = decode_text(&src[value_begin..i]);
            if i < b.len() {
                i += 1;
            }
            value
        };
        if i >= b.len() {
            return Err(HtmlError(format!("Unclosed start tag at byte offset {begin}")));
        }
        attributes.push((attr_name, Some(value)));
    }
    if name == "span" && !attributes.iter().any(|(n, v)| n == "class" && v.as_deref() == Some("tg-spoiler")) {
        return Err(HtmlError(format!("Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin}")));
    }
    Ok(StartTag { name, attributes, end: i + 1 })
}

/// Splits HTML into tags and visible characters, checking it as Telegram does (tags known,
/// attributes well-formed, end tags matching), so an `Ok` text is one Telegram accepts. With
/// `html == false` every character is text.
pub fn tokenize(src: &str, html: bool) -> Result<Vec<Token<'_>>, HtmlError> {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(src.len());
    let mut open: Vec<String> = Vec::new();
    let mut i = 0;
    while i < src.len() {
        let rest = &src[i..];
        let ch = rest.chars().next().unwrap_or('\0');
        if html && ch == '&'
            && let Some((decoded, len)) = decode_entity(rest)?
        {
            out.push(Token::Char { ch: decoded, raw: &rest[..len] });
            i += len;
            continue;
        }
        if !html || ch != '<' {
            let len = ch.len_utf8();
            out.push(Token::Char { ch, raw: &rest[..len] });
            i += len;
            continue;
        }
        let begin = i;
        if b.get(i + 1) != Some(&b'/') {
            let tag = start_tag(src, begin)?;
            open.push(tag.name.clone());
            out.push(Token::Open { name: tag.name, raw: &src[begin..tag.end] });
            i = tag.end;
            continue;
        }
        let Some(expected) = open.pop() else {
            return Err(HtmlError(format!("Unexpected end tag at byte offset {begin}")));
        };
        i += 2;
        while i < b.len() && !is_space(b[i]) && b[i] != b'>' {
            i += 1;
        }
        let end_name = src[begin + 2..i].to_lowercase();
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() || b[i] != b'>' {
            return Err(HtmlError(format!("Unclosed end tag at byte offset {begin}")));
        }
        if !end_name.is_empty() && end_name != expected {
            return Err(HtmlError(format!("Unmatched end tag at byte offset {begin}, expected \"</{expected}>\", found \"</{end_name}>\"")));
        }
        i += 1;
        out.push(Token::Close { name: expected, raw: &src[begin..i] });
    }
    if let Some(name) = open.last() {
        return Err(HtmlError(format!("Can't find end tag corresponding to start tag {name}")));
    }
    Ok(out)
}

/// Decodes the character reference at the start of `s` (which begins with `&`) as Telegram
/// does: `&lt; &gt; &amp; &quot;` and numeric ones, the `;` optional. `None`: not a reference,
/// the `&` is literal.
fn decode_entity(s: &str) -> Result<Option<(char, usize)>, HtmlError> {
    let b = s.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut end = 1;
    let code: u32 = if at(1) == b'#' {
        end = 2;
        let mut value: u64 = 0;
        if at(2) == b'x' {
            end = 3;
            while at(end).is_ascii_hexdigit() {
                value = (value * 16 + (at(end) as char).to_digit(16).unwrap_or(0) as u64).min(u32::MAX as u64);
                end += 1;
            }
        } else {
            while at(end).is_ascii_digit() {
                value = (value * 10 + (at(end) - b'0') as u64).min(u32::MAX as u64);
                end += 1;
            }
        }
        if value == 0 || value >= 0x10ffff || end >= 10 {
            return Ok(None);
        }
        value as u32
    } else {
        while at(end).is_ascii_alphabetic() {
            end += 1;
        }
        match &s[1..end] {
            "lt" => '<' as u32,
            "gt" => '>' as u32,
            "amp" => '&' as u32,
            "quot" => '"' as u32,
            _ => return Ok(None),
        }
    };
    if at(end) == b';' {
        end += 1;
    }
    let ch = char::from_u32(code).ok_or_else(|| {
        HtmlError("Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units".into())
    })?;
    Ok(Some((ch, end)))
}

/// An attribute value's entities decoded in one pass, as Telegram does (decoding `&amp;` first
/// and `&quot;` after would turn a literal `&quot;` in a URL into `"`).
fn decode_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(at) = s[i..].find('&') {
        out.push_str(&s[i..i + at]);
        i += at;
        match decode_entity(&s[i..]).ok().flatten() {
            Some((ch, len)) => {
                out.push(ch);
                i += len;
            }
            None => {
                out.push('&');
                i += 1;
            }
        }
    }
    out.push_str(&s[i..]);
    out
}

/// Text as Telegram stores it: the visible text and its entities.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub text: String,
    pub entities: Vec<MessageEntity>,
}

/// Parses Telegram HTML as `sendMessage` with `parse_mode=HTML` does; errors are Telegram's.
/// Whitespace trimming and automatic entities (links, mentions, …) are the server's next step,
/// not part of HTML parsing.
pub fn parse(src: &str) -> Result<Parsed, HtmlError> {
    let tokens = tokenize(src, true)?;
    let mut text = String::with_capacity(src.len());
    let mut units: i64 = 0;
    // Open tags: name, raw tag, UTF-16 offset and byte offset in `text` where it started.
    let mut stack: Vec<(String, &str, i64, usize)> = Vec::new();
    let mut entities = Vec::new();
    for t in tokens {
        match t {
            Token::Char { ch, .. } => {
                text.push(ch);
                units += ch.len_utf16() as i64;
            }
            Token::Open { name, raw } => stack.push((name, raw, units, text.len())),
            Token::Close { .. } => {
                let Some((open, open_raw, start, byte_start)) = stack.pop() else { continue };
                if units > start
                    && let Some(e) = entity_for(&open, open_raw, start, units - start, &text[byte_start..])?
                {
                    entities.push(e);
                }
            }
        }
    }
    // `<pre><code class="language-x">` gives the language to the enclosing pre entity.
    let mut merged: Vec<MessageEntity> = Vec::with_capacity(entities.len());
    for e in entities.iter().filter(|e| e.kind == "pre" || e.kind != "code" || e.language.is_none()) {
        merged.push(e.clone());
    }
    for code in entities.iter().filter(|e| e.kind == "code" && e.language.is_some()) {
        match merged.iter_mut().find(|p| p.kind == "pre" && p.offset == code.offset && p.length == code.length) {
            Some(pre) => pre.language = code.language.clone(),
            None => merged.push(MessageEntity { language: None, ..code.clone() }),
        }
    }
    let mut entities = merged;
    entities.sort_by_key(|e| (e.offset, -e.length));
    Ok(Parsed { text, entities })
}

/// The value of attribute `key` of a start tag the tokenizer accepted (the last one wins).
fn attr(raw: &str, key: &str) -> Option<String> {
    let tag = start_tag(raw, 0).ok()?;
    tag.attributes.into_iter().rev().find(|(n, _)| n == key).and_then(|(_, v)| v)
}

fn has_attr(raw: &str, key: &str) -> bool {
    start_tag(raw, 0).is_ok_and(|t| t.attributes.iter().any(|(n, _)| n == key))
}

/// The entity a closed tag makes; `None` when Telegram drops it (an `<a>` whose URL is not a
/// link).
fn entity_for(name: &str, raw: &str, offset: i64, length: i64, inner: &str) -> Result<Option<MessageEntity>, HtmlError> {
    let mut e = MessageEntity { offset, length, ..Default::default() };
    e.kind = match name {
        "b" | "strong" => "bold",
        "i" | "em" => "italic",
        "u" | "ins" => "underline",
        "s" | "strike" | "del" => "strikethrough",
        "tg-spoiler" | "span" => "spoiler",
        "a" => {
            // Without an href, the text itself is the link.
            let href = attr(raw, "href").filter(|h| !h.is_empty()).unwrap_or_else(|| inner.to_owned());
            if !looks_like_link(&href) {
                return Ok(None);
            }
            e.url = Some(href);
            "text_link"
        }
        "tg-emoji" => {
            let id = attr(raw, "emoji-id").filter(|id| id.parse::<i64>().is_ok_and(|n| n != 0));
            e.custom_emoji_id = Some(id.ok_or_else(|| HtmlError("Invalid custom emoji identifier specified".into()))?);
            "custom_emoji"
        }
        "tg-time" => {
            let Some(unix) = attr(raw, "unix").and_then(|u| u.parse::<i64>().ok()) else { return Ok(None) };
            e.unix_time = Some(unix);
            e.date_time_format = attr(raw, "format").filter(|f| !f.is_empty());
            "date_time"
        }
        "code" => {
            e.language = attr(raw, "class").and_then(|c| c.strip_prefix("language-").map(str::to_owned)).filter(|l| !l.is_empty());
            "code"
        }
        "pre" => "pre",
        "blockquote" if has_attr(raw, "expandable") => "expandable_blockquote",
        "blockquote" => "blockquote",
        other => return Err(HtmlError(format!("Unsupported start tag \"{other}\""))),
    }
    .to_owned();
    Ok(Some(e))
}

/// Whether Telegram keeps an `<a href>`'s URL: a `tg:`/`ton:` link, or an http(s) (or
/// scheme-less) address with a host.
fn looks_like_link(href: &str) -> bool {
    let lower = href.trim().to_ascii_lowercase();
    if lower.starts_with("tg:") || lower.starts_with("ton:") {
        return true;
    }
    let with_scheme = if lower.contains("://") { lower } else { format!("http://{lower}") };
    url::Url::parse(&with_scheme).is_ok_and(|u| matches!(u.scheme(), "http" | "https" | "ftp") && u.host_str().is_some_and(|h| !h.is_empty()))
}

/// Length as Telegram counts it: UTF-16 code units.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Escapes text for use inside Telegram HTML: in text, and inside a double-quoted attribute
/// (`<a href="…">`), so `"` is escaped too.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_tags_into_utf16_entities() {
        let p = parse("😀 <b>bold <i>both</i></b> &amp; <a href=\"https://x.y/?a=1&amp;b=2\">link</a>").unwrap();
        assert_eq!(p.text, "😀 bold both & link");
        let kinds: Vec<_> = p.entities.iter().map(|e| (e.kind.as_str(), e.offset, e.length)).collect();
        assert_eq!(kinds, vec![("bold", 3, 9), ("italic", 8, 4), ("text_link", 15, 4)]);
        assert_eq!(p.entities[2].url.as_deref(), Some("https://x.y/?a=1&b=2"));
    }

    #[test]
    fn rejects_what_telegram_rejects() {
        assert!(parse("<b>open").is_err());
        assert!(parse("<b><i>x</b></i>").is_err());
        assert!(parse("<script>x</script>").is_err());
        assert!(parse("</b>").is_err());
        assert_eq!(parse("&日本語;").unwrap().text, "&日本語;", "multibyte text after & must not panic");
    }

    /// Issue 16, item 17: `escape` is used inside `href="…"`, so it must escape `"`; and an
    /// attribute is decoded once, as Telegram does (a literal `&quot;` in a URL stays).
    #[test]
    fn untrusted_text_in_an_href_stays_one_link_with_its_url_intact() {
        for url in ["https://x.test/?q=\"><b>bold</b>", "https://x.test/a'b\"c", "https://x.test/?a=1&b=2", "https://x.test/?s=&quot;&amp;lt;"] {
            let html = format!("<a href=\"{}\">{}</a>", escape(url), escape(url));
            let p = parse(&html).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(p.text, url);
            assert_eq!(p.entities.len(), 1, "{url}: {:?}", p.entities);
            assert_eq!(p.entities[0].url.as_deref(), Some(url));
        }
    }

    #[test]
    fn pre_code_language_goes_to_pre() {
        let p = parse("<pre><code class=\"language-rust\">fn x()</code></pre>").unwrap();
        assert_eq!(p.entities.len(), 1);
        assert_eq!(p.entities[0].language.as_deref(), Some("rust"));
    }
}
