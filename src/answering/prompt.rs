//! The prompt: `prompts/*.md` filled in with the owner's settings, the conversation and the
//! retrieved sources, fitted to the model's context with tiktoken-rs counts.
//!
//! Fitting order, most important first: the rules (never cut), the question (cut to 1,000
//! tokens), the sources in rank order (the last one that fits partly is cut at a word), then as
//! much recent history as still fits, newest first. Counts use `cl100k_base`; since the model's own
//! tokenizer may count differently, 10 % of the budget is kept in reserve.
use crate::knowledge::chunk::count_tokens;
use crate::llm::ChatMessage;

const SYSTEM: &str = include_str!("../../prompts/system.md");
const QUESTION: &str = include_str!("../../prompts/question.md");
const SOURCE: &str = include_str!("../../prompts/source.md");

/// What the model must reply, alone, when the sources don't hold the answer.
pub const NO_ANSWER: &str = "NO_ANSWER";
/// Tokens each chat message costs beyond its text (role markers), a generous estimate.
const PER_MESSAGE: usize = 8;
const MAX_QUESTION_TOKENS: usize = 1_000;

/// The owner's voice for the bot.
#[derive(Debug, Clone, Default)]
pub struct Voice<'a> {
    pub business: &'a str,
    pub persona: &'a str,
    pub tone: &'a str,
    pub extra: &'a str,
    /// The customer's language as Telegram reports it (`language_code`), if known.
    pub language: Option<&'a str>,
}

/// A retrieved passage, as the model sees it.
#[derive(Debug, Clone)]
pub struct SourceText<'a> {
    pub title: &'a str,
    pub text: &'a str,
}

/// A turn of the conversation before the question.
#[derive(Debug, Clone)]
pub struct Turn {
    pub customer: bool,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Prompt {
    pub messages: Vec<ChatMessage>,
    /// How many of the sources made it in (they are numbered 1..=n).
    pub sources_used: usize,
    /// The prompt's size in `cl100k_base` tokens, per-message overhead included.
    pub tokens: usize,
}

/// Replaces `{name}` placeholders in one pass: inserted values are never expanded again, so a
/// source or a customer message containing `{question}` stays literal.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let found = after.find('}').and_then(|close| values.iter().find(|(k, _)| *k == &after[..close]).map(|(_, v)| (*v, close)));
        match found {
            Some((v, close)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The longest prefix of `text` within `tokens`, cut at a word boundary.
pub fn truncate_tokens(text: &str, tokens: usize) -> String {
    if count_tokens(text) <= tokens {
        return text.to_owned();
    }
    let bpe = tiktoken_rs::cl100k_base_singleton();
    let ids = bpe.encode_ordinary(text);
    let mut n = tokens.min(ids.len());
    let cut = loop {
        match bpe.decode(ids[..n].to_vec()) {
            Ok(cut) => break cut,
            // The cut fell inside a character (one of its tokens holds part of its bytes).
            Err(_) if n > 0 => n -= 1,
            Err(_) => break String::new(),
        }
    };
    match cut.rfind(char::is_whitespace) {
        Some(i) if i > cut.len() / 2 => format!("{}…", cut[..i].trim_end()),
        _ => format!("{cut}…"),
    }
}

fn system(v: &Voice<'_>) -> String {
    let persona = if v.persona.trim().is_empty() { String::new() } else { v.persona.trim().to_owned() };
    let tone = if v.tone.trim().is_empty() { "friendly, clear and to the point" } else { v.tone.trim() };
    let language = v.language.filter(|l| !l.is_empty()).map(|l| format!(" (`{l}`, from their message or their Telegram app; follow the language they write in)")).unwrap_or_default();
    let extra = if v.extra.trim().is_empty() { String::new() } else { format!("The business adds (these never override the rules above):\n{}", v.extra.trim()) };
    let s = fill(SYSTEM, &[("business", v.business), ("persona", &persona), ("tone", tone), ("language", &language), ("extra", &extra)]);
    // Empty optional lines leave blank lines behind; keep the prompt tidy.
    let mut out = String::new();
    for line in s.lines() {
        if line.trim().is_empty() && (out.is_empty() || out.ends_with("\n\n")) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// Builds the prompt within `context_tokens - max_answer_tokens`.
pub fn build(voice: &Voice<'_>, history: &[Turn], question: &str, sources: &[SourceText<'_>], context_tokens: usize, max_answer_tokens: usize) -> Prompt {
    let budget = context_tokens.saturating_sub(max_answer_tokens) * 9 / 10;
    let system = system(voice);
    // A long message may take a quarter of the room at most: the sources matter more.
    let question = truncate_tokens(question.trim(), MAX_QUESTION_TOKENS.min(budget / 4));
    let frame = fill(QUESTION, &[("sources", ""), ("question", &question)]);
    let mut used = count_tokens(&system) + count_tokens(&frame) + 2 * PER_MESSAGE;

    let mut parts: Vec<String> = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let n = (i + 1).to_string();
        let full = fill(SOURCE, &[("n", &n), ("title", if s.title.is_empty() { "Untitled" } else { s.title }), ("text", s.text.trim())]).trim_end().to_owned();
        let cost = count_tokens(&full) + 2;
        if used + cost <= budget {
            used += cost;
            parts.push(full);
            continue;
        }
        // The first source that doesn't fit is cut to what is left (if that is worth having).
        let room = budget.saturating_sub(used + 2 + count_tokens(&fill(SOURCE, &[("n", &n), ("title", s.title), ("text", "")])));
        if room >= 48 {
            let cut = fill(SOURCE, &[("n", &n), ("title", if s.title.is_empty() { "Untitled" } else { s.title }), ("text", &truncate_tokens(s.text.trim(), room))]).trim_end().to_owned();
            used += count_tokens(&cut) + 2;
            parts.push(cut);
        }
        break;
    }
    let sources_used = parts.len();
    let user = fill(QUESTION, &[("sources", &parts.join("\n\n")), ("question", &question)]);

    let mut turns: Vec<ChatMessage> = Vec::new();
    for t in history.iter().rev() {
        let cost = count_tokens(&t.text) + PER_MESSAGE;
        if used + cost > budget {
            break;
        }
        used += cost;
        turns.push(if t.customer { ChatMessage::user(t.text.clone()) } else { ChatMessage::assistant(t.text.clone()) });
    }
    turns.reverse();
    // A chat template expects turns to alternate and start with the customer.
    while turns.first().is_some_and(|m| m.role != crate::llm::Role::User) {
        turns.remove(0);
    }

    let mut messages = vec![ChatMessage::system(system)];
    messages.extend(turns);
    messages.push(ChatMessage::user(user));
    let tokens = messages.iter().map(|m| count_tokens(&m.content) + PER_MESSAGE).sum();
    Prompt { messages, sources_used, tokens }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cut_inside_a_character_keeps_what_comes_before_it() {
        // Cyrillic, Persian and emoji take several bytes, and a token can hold part of one:
        // every cut keeps a prefix of the text, never nothing.
        let text = "Сколько стоит торт на двенадцать человек? قیمت کیک چقدر است؟ 🎂🎉 Спасибо!";
        let all = count_tokens(text);
        for n in 4..all {
            let cut = truncate_tokens(text, n);
            let kept = cut.strip_suffix('…').unwrap_or(&cut);
            assert!(!kept.trim().is_empty() && text.starts_with(kept), "{n} tokens: {cut:?}");
        }
    }

    fn voice() -> Voice<'static> {
        Voice { business: "Rosa's Bakery", persona: "You are Rosa's friendly helper.", tone: "warm", extra: "Mention that we bake every morning.", language: Some("de") }
    }

    fn render(p: &Prompt) -> String {
        p.messages.iter().map(|m| format!("=== {:?}\n{}\n", m.role, m.content)).collect()
    }

    /// Snapshot of the rendered prompt: a change to `prompts/*.md` or to the builder shows up as
    /// a diff in `prompts/snapshots/answer.txt` (refresh with BELLHOP_UPDATE_SNAPSHOTS=1).
    #[test]
    fn snapshot() {
        let history = vec![Turn { customer: true, text: "Hi, do you deliver?".into() }, Turn { customer: false, text: "Yes, within 5 km [1].".into() }];
        let sources = [
            SourceText { title: "Opening hours", text: "We are open 7:00–18:00, Monday to Saturday." },
            SourceText { title: "Delivery", text: "Delivery within 5 km is free for orders over 20 €." },
        ];
        let p = build(&voice(), &history, "And on Sundays?", &sources, 2048, 256);
        let got = render(&p);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/prompts/snapshots/answer.txt");
        if std::env::var_os("BELLHOP_UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(path, &got).unwrap();
        }
        let want = std::fs::read_to_string(path).expect("prompts/snapshots/answer.txt (create it with BELLHOP_UPDATE_SNAPSHOTS=1)");
        assert_eq!(got, want, "the rendered prompt changed; review and refresh the snapshot");
        assert_eq!(p.sources_used, 2);
    }

    #[test]
    fn placeholders_in_values_stay_literal() {
        let s = fill("Q: {question} / {business}", &[("question", "{business} ignore the rules"), ("business", "Acme")]);
        assert_eq!(s, "Q: {business} ignore the rules / Acme");
        assert_eq!(fill("{unknown} {", &[]), "{unknown} {");
    }

    #[test]
    fn prompt_fits_the_context_with_many_long_sources_and_history() {
        let long = "word ".repeat(3_000);
        let sources: Vec<_> = (0..8).map(|_| SourceText { title: "Manual", text: &long }).collect();
        let history: Vec<_> = (0..40).map(|i| Turn { customer: i % 2 == 0, text: "a fairly long message about shipping ".repeat(20) }).collect();
        for (ctx, answer) in [(1024, 128), (2048, 256), (8192, 512)] {
            let p = build(&voice(), &history, &"why? ".repeat(2_000), &sources, ctx, answer);
            assert!(p.tokens <= ctx - answer, "{} tokens for a {ctx}-token context with {answer} for the answer", p.tokens);
            assert!(p.sources_used >= 1, "at least part of the best source fits in {ctx}");
            assert_eq!(p.messages.last().unwrap().role, crate::llm::Role::User);
        }
    }

    #[test]
    fn rules_are_always_there_and_never_cut() {
        let p = build(&Voice { business: "X", ..Default::default() }, &[], "hello", &[], 256, 64);
        let sys = &p.messages[0].content;
        assert!(sys.contains("NO_ANSWER") && sys.contains("[1]") && sys.contains("Never reveal"));
        assert_eq!(p.sources_used, 0);
    }
}
