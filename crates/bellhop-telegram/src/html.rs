//! Telegram's HTML formatting subset (<https://core.telegram.org/bots/api#html-style>):
//! tokenising (shared with [`super::split`]) and parsing into plain text plus
//! [`MessageEntity`]s the way the Bot API does, with its error messages.
//!
//! Supported tags: `b strong i em u ins s strike del tg-spoiler span[class=tg-spoiler] a[href]
//! tg-emoji code pre blockquote`; entities `&lt; &gt; &amp; &quot;` and numeric ones. Entity
//! offsets and lengths count UTF-16 code units.
use super::types::MessageEntity;

/// A piece of HTML source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    /// `<name …>` with its raw text (reused verbatim when a tag is reopened).
    Open { name: String, raw: &'a str },
    /// `</name>`.
    Close { name: String, raw: &'a str },
    /// One visible character and the source that produced it (`a`, `&amp;`, `&#128512;`).
    Char { ch: char, raw: &'a str },
}

/// Why Telegram would refuse this text with `Bad Request: can't parse entities: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("can't parse entities: {0}")]
pub struct HtmlError(pub String);

const TAGS: &[&str] = &["b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler", "span", "a", "tg-emoji", "code", "pre", "blockquote"];

/// Splits HTML into tags and visible characters. With `html == false` every character is text.
pub fn tokenize(src: &str, html: bool) -> Result<Vec<Token<'_>>, HtmlError> {
    let mut out = Vec::with_capacity(src.len());
    let mut i = 0;
    while i < src.len() {
        let rest = &src[i..];
        let ch = rest.chars().next().unwrap_or('\0');
        if html && ch == '<' {
            let end = tag_end(rest).ok_or_else(|| HtmlError(format!("unclosed start tag at byte offset {i}")))?;
            let raw = &rest[..=end];
            let inner = raw[1..raw.len() - 1].trim();
            if let Some(name) = inner.strip_prefix('/') {
                out.push(Token::Close { name: name.trim().to_ascii_lowercase(), raw });
            } else {
                let name = inner.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("").to_ascii_lowercase();
                if !TAGS.contains(&name.as_str()) {
                    return Err(HtmlError(format!("unsupported start tag \"{name}\" at byte offset {i}")));
                }
                out.push(Token::Open { name, raw });
            }
            i += raw.len();
        } else if html && ch == '&' {
            match decode_entity(rest) {
                Some((decoded, len)) => {
                    out.push(Token::Char { ch: decoded, raw: &rest[..len] });
                    i += len;
                }
                None => {
                    out.push(Token::Char { ch, raw: &rest[..1] });
                    i += 1;
                }
            }
        } else if html && ch == '>' {
            return Err(HtmlError(format!("character '>' is reserved and must be escaped, at byte offset {i}")));
        } else {
            let len = ch.len_utf8();
            out.push(Token::Char { ch, raw: &rest[..len] });
            i += len;
        }
    }
    Ok(out)
}

fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            (None, '<') => return None,
            _ => {}
        }
    }
    None
}

fn decode_entity(s: &str) -> Option<(char, usize)> {
    // Entities are short and ASCII; look for the `;` among the first bytes only.
    let semi = s.bytes().take(12).position(|b| b == b';')?;
    let name = &s[1..semi];
    let ch = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ if name.starts_with("#x") || name.starts_with("#X") => char::from_u32(u32::from_str_radix(&name[2..], 16).ok()?)?,
        _ if name.starts_with('#') => char::from_u32(name[1..].parse().ok()?)?,
        _ => return None,
    };
    Some((ch, semi + 1))
}

fn attr(raw: &str, key: &str) -> Option<String> {
    let lower = raw.to_ascii_lowercase();
    let at = lower.find(&format!("{key}="))? + key.len() + 1;
    let rest = &raw[at..];
    let (q, body) = match rest.chars().next()? {
        c @ ('"' | '\'') => (Some(c), &rest[1..]),
        _ => (None, rest),
    };
    let end = match q {
        Some(q) => body.find(q)?,
        None => body.find(|c: char| c.is_whitespace() || c == '>').unwrap_or(body.len()),
    };
    Some(decode_text(&body[..end]))
}

/// An attribute value's entities decoded in one pass, as Telegram does (decoding `&amp;` first
/// and `&quot;` after would turn a literal `&quot;` in a URL into `"`).
fn decode_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(at) = s[i..].find('&') {
        out.push_str(&s[i..i + at]);
        i += at;
        match decode_entity(&s[i..]) {
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

/// Parses Telegram HTML as `sendMessage` with `parse_mode=HTML` does; errors name what is wrong.
pub fn parse(src: &str) -> Result<Parsed, HtmlError> {
    let tokens = tokenize(src, true)?;
    let mut text = String::with_capacity(src.len());
    let mut units: i64 = 0;
    let mut stack: Vec<(String, &str, i64)> = Vec::new();
    let mut entities = Vec::new();
    for t in tokens {
        match t {
            Token::Char { ch, .. } => {
                text.push(ch);
                units += ch.len_utf16() as i64;
            }
            Token::Open { name, raw } => stack.push((name, raw, units)),
            Token::Close { name, raw } => {
                let Some((open, open_raw, start)) = stack.pop() else {
                    return Err(HtmlError(format!("unexpected end tag \"{raw}\"")));
                };
                if open != name {
                    return Err(HtmlError(format!("unmatched end tag \"{raw}\", expected \"</{open}>\"")));
                }
                if units > start {
                    entities.push(entity_for(&open, open_raw, start, units - start)?);
                }
            }
        }
    }
    if let Some((open, _, _)) = stack.last() {
        return Err(HtmlError(format!("can't find end tag corresponding to start tag \"{open}\"")));
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

fn entity_for(name: &str, raw: &str, offset: i64, length: i64) -> Result<MessageEntity, HtmlError> {
    let mut e = MessageEntity { offset, length, ..Default::default() };
    e.kind = match name {
        "b" | "strong" => "bold",
        "i" | "em" => "italic",
        "u" | "ins" => "underline",
        "s" | "strike" | "del" => "strikethrough",
        "tg-spoiler" => "spoiler",
        "span" if attr(raw, "class").as_deref() == Some("tg-spoiler") => "spoiler",
        "span" => return Err(HtmlError("tag \"span\" must have class \"tg-spoiler\"".into())),
        "a" => {
            let href = attr(raw, "href").ok_or_else(|| HtmlError("tag \"a\" needs an href".into()))?;
            e.url = Some(href);
            "text_link"
        }
        "tg-emoji" => {
            e.custom_emoji_id = attr(raw, "emoji-id");
            "custom_emoji"
        }
        "code" => {
            e.language = attr(raw, "class").and_then(|c| c.strip_prefix("language-").map(str::to_owned));
            "code"
        }
        "pre" => "pre",
        "blockquote" if raw.to_ascii_lowercase().contains("expandable") => "expandable_blockquote",
        "blockquote" => "blockquote",
        other => return Err(HtmlError(format!("unsupported tag \"{other}\""))),
    }
    .to_owned();
    Ok(e)
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
        assert!(parse("a > b").is_err());
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
