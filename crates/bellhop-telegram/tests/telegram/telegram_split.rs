//! Splitting properties over random formatted texts: every part fits Telegram's 4,096 UTF-16
//! units, every part is valid Telegram HTML on its own, nothing visible is lost or reordered,
//! and cuts land on paragraph or sentence boundaries when the text has them.
use bellhop_telegram::html;
use bellhop_telegram::split::{MESSAGE_LIMIT, split_html, split_plain};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random_words(rng: &mut StdRng, n: usize) -> String {
    const WORDS: &[&str] = &["pizza", "délivery", "😀", "order", "&amp;", "&lt;tag&gt;", "Zürich", "日本語", "open", "hours"];
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
        if rng.gen_bool(0.1) {
            s.push('.');
        }
    }
    s
}

/// Random nested HTML with paragraphs.
fn random_html(rng: &mut StdRng, depth: usize) -> String {
    let mut out = String::new();
    for _ in 0..rng.gen_range(1..6) {
        match rng.gen_range(0..6) {
            0 if depth < 3 => out.push_str(&format!("<b>{}</b>", random_html(rng, depth + 1))),
            1 if depth < 3 => out.push_str(&format!("<i>{}</i>", random_html(rng, depth + 1))),
            2 if depth < 3 => out.push_str(&format!("<a href=\"https://x.example/?a=1&amp;b=2\">{}</a>", random_html(rng, depth + 1))),
            3 => out.push_str("\n\n"),
            _ => {
                let n = rng.gen_range(5..400);
                out.push_str(&random_words(rng, n));
            }
        }
    }
    out
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn split_parts_fit_parse_and_keep_all_text() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut multi = 0;
    for case in 0..300 {
        let text = random_html(&mut rng, 0);
        if html::parse(&text).unwrap().text.trim().is_empty() {
            continue; // Telegram refuses blank messages; nothing to split.
        }
        let limit = if case % 3 == 0 { MESSAGE_LIMIT } else { rng.gen_range(40..600) };
        let parts = split_html(&text, limit).expect("valid input splits");
        multi += (parts.len() > 1) as usize;
        let mut visible = String::new();
        for p in &parts {
            let parsed = html::parse(p).unwrap_or_else(|e| panic!("part is not valid HTML ({e}): {p:?}"));
            assert!(html::utf16_len(&parsed.text) <= limit, "part of {} units > {limit}", html::utf16_len(&parsed.text));
            assert!(!parsed.text.trim().is_empty());
            visible.push_str(&parsed.text);
        }
        assert_eq!(squash(&visible), squash(&html::parse(&text).unwrap().text), "text lost or reordered");
    }
    assert!(multi > 100, "the generator must produce texts that need splitting ({multi})");
}

#[test]
fn cuts_prefer_paragraphs_then_sentences() {
    let para = format!("{}\n\n{}", "word ".repeat(500).trim(), "next ".repeat(500).trim());
    let parts = split_plain(&para, 4096);
    assert_eq!(parts.len(), 2);
    assert!(parts[0].ends_with("\n\n") && parts[1].starts_with("next"));
    let sentences = "This is one sentence. ".repeat(300);
    for p in split_plain(&sentences, 4096) {
        assert!(p.trim_end().ends_with('.'), "cut mid-sentence: …{:?}", &p[p.len().saturating_sub(30)..]);
    }
}

#[test]
fn a_4096_unit_limit_counts_surrogate_pairs_twice() {
    let text = "😀".repeat(3000); // 6000 UTF-16 units, 3000 chars
    let parts = split_plain(&text, MESSAGE_LIMIT);
    assert_eq!(parts.len(), 2);
    assert!(parts.iter().all(|p| html::utf16_len(p) <= MESSAGE_LIMIT));
}
