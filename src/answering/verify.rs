//! Verification: what a model wrote, checked against the passages it was given, before a
//! customer sees any of it — the final message and every streamed draft alike, for every model
//! (the built-in one and any model at `llm.url`).
//!
//! The rules, each a pure function of the answer, the passages and the question:
//! - **facts**: every number (amounts with their currency, percentages), date, time, month or
//!   weekday name, URL, e-mail address and phone number in the answer appears in a passage,
//!   normalised ("45 euros" = "€45" = "45 EUR"; "6 pm" = "18:00"; "1,400" = "1400");
//! - **claims**: every sentence's own words — those not taken from the question: a customer's
//!   premise is no evidence — are found together in one or two adjacent sentences of one passage,
//!   with the same polarity (a "not" the passage doesn't have, or the other way round, fails);
//!   a bare yes/no that restates the question can't be checked, so it fails;
//! - **drafts** show only complete sentences that passed both rules, in order, stopping at the
//!   first one that didn't: nothing a final check would reject is ever on screen.
//!
//! The question's numbers and words are never support. Everything here is pure and
//! deterministic; `compose` decides what a failure turns into (the extractive answer, or
//! "I don't know").
use crate::domain::vocabulary::{CALENDAR, CALENDAR_ELSEWHERE, NUMBER_WORDS};
use regex::Regex;
use std::collections::HashSet;
use std::sync::LazyLock;
use unicode_segmentation::UnicodeSegmentation;

/// Why an answer was not shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A number, amount, percentage, date or time the passages don't hold.
    Number(String),
    /// A month or weekday the passages don't name.
    Calendar(String),
    Url(String),
    Email(String),
    Phone(String),
    /// A sentence whose own words no passage holds together (or with the other polarity).
    Unsupported(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Number(s) => write!(f, "the number {s:?} is not in the sources"),
            Problem::Calendar(s) => write!(f, "{s:?} is not in the sources"),
            Problem::Url(s) => write!(f, "the address {s:?} is not in the sources"),
            Problem::Email(s) => write!(f, "the e-mail address {s:?} is not in the sources"),
            Problem::Phone(s) => write!(f, "the phone number {s:?} is not in the sources"),
            Problem::Unsupported(s) => write!(f, "the sentence {s:?} is not supported by the sources"),
        }
    }
}

impl Problem {
    /// What kind of problem it is, without the text it is about: the text may be the customer's
    /// own words said back (their e-mail address, phone number, order number, question), which
    /// stay out of the logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::Number(_) => "a number or date not in the sources",
            Problem::Calendar(_) => "a weekday or month not in the sources",
            Problem::Url(_) => "a web address not in the sources",
            Problem::Email(_) => "an e-mail address not in the sources",
            Problem::Phone(_) => "a phone number not in the sources",
            Problem::Unsupported(_) => "a sentence the sources do not support",
        }
    }
}

/// Which rules run (all of them in the product; the switches exist so each rule's test can
/// show it is the one that catches its case).
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub numbers: bool,
    pub contacts: bool,
    pub claims: bool,
    /// Part of the claims rule: a sentence's own words must be found with the question's words
    /// it repeats ([`about`]).
    pub bind: bool,
    /// Least share of a sentence's own words that one passage window must hold.
    pub min_share: f32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules { numbers: true, contacts: true, claims: true, bind: true, min_share: 0.75 }
    }
}

// ---------------------------------------------------------------------------------------------
// Facts: numbers, amounts, dates, times, calendar words, URLs, e-mail addresses, phone numbers.

static EMAIL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b").expect("regex"));
/// A URL with a scheme or `www.`, or a bare domain whose top-level part is in lower case
/// (`shop.example/menu`, not `end.The`).
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:(?i:https?://|www\.)[^\s<>"'“”‘’()\[\]]+)|\b[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[a-z]{2,24}\b(?:/[^\s<>"'“”‘’()\[\]]*)?"#).expect("regex")
});
static PHONE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\+?\(?\d[\d ()./-]{5,}\d").expect("regex"));
static ISO_DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b").expect("regex"));
static NUM_DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{1,2})[./](\d{1,2})[./](\d{2,4})\b").expect("regex"));
static TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d{1,2})(?:[:h](\d{2}))?\s*(a\.?\s?m\b\.?|p\.?\s?m\b\.?)|\b(\d{1,2})[:h](\d{2})\b").expect("regex")
});
/// A number with an optional currency or percent sign around it.
static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)([€$£¥₽₹])?\s?(\d+(?:[.,]\d+)*)(?:st|nd|rd|th)?\s?(%|€|\$|£|₽|percent\b|per cent\b|eur\b|euros?\b|usd\b|dollars?\b|gbp\b|pounds?\b|rub\b|roubles?\b|rubles?\b|руб\w*|евро|долл\w*)?").expect("regex")
});

/// The English name of the weekday or month `w` (at byte `at` of `text`) says, if it says one.
fn calendar_word(text: &str, at: usize, w: &str) -> Option<&'static str> {
    let l = w.to_lowercase();
    // English: capitalised only ("march" and "may" are also ordinary words); "Sundays", "Sun"
    // (but "Mars" is not "Mar" with an "s").
    let name = l.trim_end_matches('s');
    let capital = w.chars().next().is_some_and(char::is_uppercase);
    if let Some(c) = CALENDAR.iter().find(|c| capital && (**c == name || (l.len() == 3 && c.starts_with(l.as_str())))) {
        return Some(c);
    }
    if l == "mars" && !capital {
        return Some("march");
    }
    // Portuguese weekdays: "segunda-feira" … "sexta-feira" (the word alone is "second" …).
    if text[at + w.len()..].trim_start_matches(['-', ' ']).to_lowercase().starts_with("feira") {
        let day = match l.as_str() {
            "segunda" => "monday",
            "terça" | "terca" => "tuesday",
            "quarta" => "wednesday",
            "quinta" => "thursday",
            "sexta" => "friday",
            _ => "",
        };
        if !day.is_empty() {
            return Some(day);
        }
    }
    if let Some((c, _)) = CALENDAR_ELSEWHERE.iter().find(|(_, forms)| forms.contains(&l.as_str())) {
        return Some(c);
    }
    persian_weekday(text, at, &l)
}

/// Persian weekdays are "Saturday" counted on: یکشنبه (one-Saturday) is Sunday … پنجشنبه
/// Thursday, written as one word, with a zero-width non-joiner, or with a space ("سه شنبه"), so
/// a lone شنبه is Saturday only when no count stands before it. A plural ("جمعه‌ها") is the day.
fn persian_weekday(text: &str, at: usize, l: &str) -> Option<&'static str> {
    let w: String = l.chars().filter(|c| *c != '\u{200c}').collect();
    let w = w.strip_suffix("ها").unwrap_or(&w);
    const COUNTED: &[(&str, &str)] = &[("یک", "sunday"), ("دو", "monday"), ("سه", "tuesday"), ("چهار", "wednesday"), ("پنج", "thursday")];
    if w == "جمعه" {
        return Some("friday");
    }
    let count = w.strip_suffix("شنبه")?;
    if count.is_empty() {
        let before = text[..at].trim_end_matches([' ', '\u{200c}']);
        return Some(COUNTED.iter().find(|(n, _)| before.ends_with(n) && !before[..before.len() - n.len()].ends_with(|c: char| c.is_alphabetic())).map_or("saturday", |(_, d)| d));
    }
    COUNTED.iter().find(|(n, _)| *n == count).map(|(_, d)| *d)
}

/// A number as a comparable value, with its unit (`eur`, `usd`, `%`, …) if it carries one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Num {
    value: String,
    unit: Option<&'static str>,
}

fn unit_of(s: &str) -> Option<&'static str> {
    let s = s.trim().to_lowercase();
    Some(match s.as_str() {
        "€" | "eur" | "euro" | "euros" | "евро" => "eur",
        "$" | "usd" | "dollar" | "dollars" => "usd",
        "£" | "gbp" | "pound" | "pounds" => "gbp",
        "₽" | "rub" | "rouble" | "roubles" | "ruble" | "rubles" => "rub",
        "¥" => "jpy",
        "₹" => "inr",
        "%" | "percent" | "per cent" => "%",
        x if x.starts_with("руб") => "rub",
        x if x.starts_with("долл") => "usd",
        _ => return None,
    })
}

/// The readings of a written number: "1,400" → 1400; "3,50" → 3.5; "1.400" → 1.4 or 1400.
fn readings(raw: &str) -> Vec<String> {
    fn canon(s: &str) -> String {
        match s.split_once('.') {
            Some((i, f)) => {
                let f = f.trim_end_matches('0');
                let i = i.trim_start_matches('0');
                let i = if i.is_empty() { "0" } else { i };
                if f.is_empty() { i.to_owned() } else { format!("{i}.{f}") }
            }
            None => {
                let t = s.trim_start_matches('0');
                if t.is_empty() { "0".into() } else { t.to_owned() }
            }
        }
    }
    let groups: Vec<&str> = raw.split([',', '.']).collect();
    let seps: Vec<char> = raw.chars().filter(|c| *c == ',' || *c == '.').collect();
    let mut out = Vec::new();
    if seps.is_empty() {
        out.push(canon(raw));
    } else if groups[1..].iter().all(|g| g.len() == 3) && groups[0].len() <= 3 && (seps.len() > 1 || seps.iter().all(|c| *c == seps[0])) {
        // Thousands groups ("1,400", "1.400.000") — or, with one separator, maybe a decimal.
        if seps.iter().all(|c| *c == seps[0]) {
            out.push(canon(&groups.concat()));
        }
        if seps.len() == 1 {
            out.push(canon(&raw.replace(',', ".")));
        }
    } else if seps.len() == 1 {
        out.push(canon(&raw.replace(',', ".")));
    } else {
        // "1,234.56" or "1.234,56": the last separator is the decimal one.
        let last = raw.rfind([',', '.']).unwrap_or(0);
        let int: String = raw[..last].chars().filter(char::is_ascii_digit).collect();
        out.push(canon(&format!("{int}.{}", &raw[last + 1..])));
    }
    out.dedup();
    out
}

/// Facts found in a text, each kind normalised for comparison.
#[derive(Debug, Default, Clone)]
struct Facts {
    numbers: Vec<(String, Vec<Num>)>,
    times: Vec<(String, u32)>,
    dates: Vec<(String, Vec<String>)>,
    calendar: Vec<String>,
    urls: Vec<(String, String)>,
    emails: Vec<String>,
    phones: Vec<(String, String)>,
    /// The numbers, times and calendar words in the order written (with their byte offsets
    /// until sorted): what says which value goes with which.
    order: Vec<(usize, Value)>,
}

/// A number, time or calendar word as the binding of values compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Value {
    /// Its readings ("1,400": 1400 and 1.4; "18:00": 18; "Sundays": sunday).
    readings: Vec<String>,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A bare number: a count, a year, a house number.
    Plain,
    /// An amount in a currency, or a percentage.
    Unit(&'static str),
    Time,
    Calendar,
}

impl Value {
    fn same(&self, other: &Value) -> bool {
        (self.kind == Kind::Calendar) == (other.kind == Kind::Calendar) && self.readings.iter().any(|r| other.readings.contains(r))
    }
}

/// Where a sentence's clauses end: a comma or semicolon and a space ("1,400" is one number).
static CLAUSE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[,;]\s+").expect("regex"));

/// The clauses of a sentence.
fn clauses(sentence: &str) -> impl Iterator<Item = &str> {
    CLAUSE.split(sentence)
}

/// The clause (0, 1, …) of `sentence` that byte `at` is in.
fn clause_at(sentence: &str, at: usize) -> usize {
    CLAUSE.find_iter(sentence).take_while(|m| m.start() < at).count()
}

/// Whether each two neighbouring values of a sentence (amounts, times, weekdays, months, and
/// the numbers beside them) go together in `window` too. Two bare numbers (years, counts) are
/// not bound to each other. Each value comes with its clause: in `said`, the sentence's; in
/// `window`, (sentence of the window, clause).
/// - No other value of their kind stands between them in the window: "A cake for 8 people
///   costs 45 euros" fails on "for 8 people 32 euros, for 12 people 45 euros" (32 euros is
///   between 8 and 45 euros); "for 12 people 45 euros" passes.
/// - Said in one clause, they are not taken from two clauses of the window when either clause
///   has a value of the other's kind of its own: "12 people: 32 euros" fails on the same text
///   (12 people's clause has its own price), while "Monday to Friday we open 7:00 to 18:00"
///   passes on "Monday to Friday, 7:00 to 18:00".
fn bound(said: &[(usize, Value)], window: &[((usize, usize), &Value)]) -> bool {
    // In the window's clause of position `i`, another value of `v`'s kind than `v`.
    let rival = |i: usize, v: &Value| v.kind != Kind::Plain && window.iter().any(|(c, w)| *c == window[i].0 && w.kind == v.kind && !w.same(v));
    said.windows(2).all(|pair| {
        let ((ca, a), (cb, b)) = (&pair[0], &pair[1]);
        if a.kind == Kind::Plain && b.kind == Kind::Plain || a.same(b) {
            return true;
        }
        let at = |v: &Value| window.iter().enumerate().filter(|(_, (_, w))| w.same(v)).map(|(i, _)| i).collect::<Vec<_>>();
        let (pa, pb) = (at(a), at(b));
        if pa.is_empty() || pb.is_empty() {
            // Not in this window at all: the rules that look for each value decide.
            return true;
        }
        pa.iter().any(|&i| {
            pb.iter().any(|&j| {
                let (lo, hi) = (i.min(j), i.max(j));
                let between = window[(lo + 1).min(hi)..hi].iter().all(|(_, w)| w.kind == Kind::Plain || (w.kind != a.kind && w.kind != b.kind) || w.same(a) || w.same(b));
                let apart = ca == cb && window[i].0 != window[j].0 && (rival(i, b) || rival(j, a));
                between && !apart
            })
        })
    })
}

fn norm_url(u: &str) -> String {
    let l = u.to_lowercase();
    let l = l.trim_end_matches(['.', ',', ';', ':', '!', '?', '/', ')']);
    let l = l.strip_prefix("https://").or_else(|| l.strip_prefix("http://")).unwrap_or(l);
    let l = l.strip_prefix("www.").unwrap_or(l);
    l.trim_end_matches('/').to_owned()
}

/// Blanks a match out of `text` so later, looser patterns don't see it again.
fn blank(text: &mut String, start: usize, end: usize) {
    let spaces = " ".repeat(text[start..end].len());
    text.replace_range(start..end, &spaces);
}

fn facts(text: &str) -> Facts {
    let mut f = Facts::default();
    let mut t = text.to_owned();
    for m in EMAIL.find_iter(text) {
        f.emails.push(m.as_str().to_lowercase());
        blank(&mut t, m.start(), m.end());
    }
    let snapshot = t.clone();
    for m in URL.find_iter(&snapshot) {
        f.urls.push((m.as_str().to_owned(), norm_url(m.as_str())));
        blank(&mut t, m.start(), m.end());
    }
    let snapshot = t.clone();
    for c in ISO_DATE.captures_iter(&snapshot) {
        let (y, m, d) = (&c[1], c[2].parse::<u32>().unwrap_or(0), c[3].parse::<u32>().unwrap_or(0));
        let whole = c.get(0).expect("match");
        f.dates.push((whole.as_str().to_owned(), vec![format!("{y}-{m}-{d}")]));
        blank(&mut t, whole.start(), whole.end());
    }
    let snapshot = t.clone();
    for c in NUM_DATE.captures_iter(&snapshot) {
        let (a, b) = (c[1].parse::<u32>().unwrap_or(0), c[2].parse::<u32>().unwrap_or(0));
        let y: u32 = c[3].parse().unwrap_or(0);
        let y = if y < 100 { 2000 + y } else { y };
        let whole = c.get(0).expect("match");
        f.dates.push((whole.as_str().to_owned(), vec![format!("{y}-{b}-{a}"), format!("{y}-{a}-{b}")]));
        blank(&mut t, whole.start(), whole.end());
    }
    let snapshot = t.clone();
    for m in PHONE.find_iter(&snapshot) {
        let digits: String = m.as_str().chars().filter(char::is_ascii_digit).collect();
        // Seven digits or more with a separator or a "+": a phone number, not an amount.
        let s = m.as_str();
        let separated = s.starts_with('+') || s.contains([' ', '-', '(', '/']);
        if digits.len() >= 7 && separated && !s.trim().contains(". ") {
            f.phones.push((s.trim().to_owned(), digits));
            blank(&mut t, m.start(), m.end());
        }
    }
    let snapshot = t.clone();
    for c in TIME.captures_iter(&snapshot) {
        let whole = c.get(0).expect("match");
        let (h, m, mer) = match (c.get(1), c.get(4)) {
            (Some(h), _) => (h.as_str(), c.get(2).map_or("0", |m| m.as_str()), c.get(3).map(|m| m.as_str().to_lowercase())),
            (None, Some(h)) => (h.as_str(), c.get(5).map_or("0", |m| m.as_str()), None),
            _ => continue,
        };
        let (mut h, m): (u32, u32) = (h.parse().unwrap_or(99), m.parse().unwrap_or(99));
        if h > 24 || m > 59 {
            continue;
        }
        match mer.as_deref().map(|s| s.starts_with('p')) {
            Some(true) if h < 12 => h += 12,
            Some(false) if h == 12 => h = 0,
            _ => {}
        }
        f.times.push((whole.as_str().trim().to_owned(), h * 60 + m));
        // An hour is also a plain number ("open at 7" is backed by "7:00").
        f.numbers.push((whole.as_str().trim().to_owned(), vec![Num { value: h.to_string(), unit: None }]));
        f.order.push((whole.start(), Value { readings: vec![h.to_string()], kind: Kind::Time }));
        blank(&mut t, whole.start(), whole.end());
    }
    for c in NUMBER.captures_iter(&t) {
        let raw = &c[2];
        let unit = c.get(1).or(c.get(3)).and_then(|u| unit_of(u.as_str()));
        let nums: Vec<Num> = readings(raw).into_iter().map(|value| Num { value, unit }).collect();
        let kind = unit.map_or(Kind::Plain, Kind::Unit);
        f.order.push((c.get(0).map_or(0, |m| m.start()), Value { readings: nums.iter().map(|n| n.value.clone()).collect(), kind }));
        f.numbers.push((c[0].trim().to_owned(), nums));
    }
    for (at, w) in t.unicode_word_indices() {
        let l = w.to_lowercase();
        if let Some((_, v)) = NUMBER_WORDS.iter().find(|(k, _)| *k == l) {
            let (value, unit) = match v.strip_suffix('%') {
                Some(v) => (v.to_owned(), Some("%")),
                None => ((*v).to_owned(), None),
            };
            f.order.push((at, Value { readings: vec![value.clone()], kind: unit.map_or(Kind::Plain, Kind::Unit) }));
            f.numbers.push((w.to_owned(), vec![Num { value, unit }]));
        }
        if let Some(c) = calendar_word(&t, at, w) {
            f.calendar.push(c.to_owned());
            f.order.push((at, Value { readings: vec![c.to_owned()], kind: Kind::Calendar }));
        }
    }
    f.order.sort_by_key(|(at, _)| *at);
    f
}

/// The facts of the passages, pooled: what an answer's facts may come from.
#[derive(Debug, Default)]
struct Known {
    numbers: HashSet<Num>,
    plain: HashSet<String>,
    times: HashSet<u32>,
    dates: HashSet<String>,
    calendar: HashSet<String>,
    urls: Vec<String>,
    emails: HashSet<String>,
    phones: Vec<String>,
}

impl Known {
    fn add(&mut self, f: &Facts) {
        for (_, ns) in &f.numbers {
            for n in ns {
                self.plain.insert(n.value.clone());
                self.numbers.insert(n.clone());
            }
        }
        self.times.extend(f.times.iter().map(|(_, m)| *m));
        for (_, ds) in &f.dates {
            self.dates.extend(ds.iter().cloned());
            // A date's parts are numbers too ("in 2024").
            for d in ds {
                self.plain.extend(d.split('-').map(str::to_owned));
            }
        }
        self.calendar.extend(f.calendar.iter().cloned());
        self.urls.extend(f.urls.iter().map(|(_, n)| n.clone()));
        self.emails.extend(f.emails.iter().cloned());
        self.phones.extend(f.phones.iter().map(|(_, d)| d.clone()));
    }

    fn number(&self, readings: &[Num]) -> bool {
        readings.iter().any(|n| match n.unit {
            // An amount: the same value with the same unit, or the value with no unit at all.
            Some(u) => self.numbers.contains(n) || (self.plain.contains(&n.value) && !self.numbers.iter().any(|k| k.value == n.value && k.unit.is_some_and(|ku| ku != u))),
            None => self.plain.contains(&n.value),
        })
    }

    fn url(&self, u: &str) -> bool {
        self.urls.iter().any(|k| k == u || k.starts_with(&format!("{u}/")))
    }

    fn phone(&self, digits: &str) -> bool {
        self.phones.iter().any(|k| k == digits || (digits.len() >= 7 && (k.ends_with(digits) || digits.ends_with(k.as_str()))))
    }
}

// ---------------------------------------------------------------------------------------------
// Claims: a sentence's own words, found together in a passage.

/// Words that carry no claim of their own (checked in lower case).
const COMMON: &[&str] = &[
    "about", "after", "again", "also", "and", "any", "anything", "are", "been", "before", "being", "both", "but", "can", "came", "come", "could", "did",
    "does", "doing", "done", "each", "else", "even", "every", "feel", "for", "free", "from", "glad", "had", "happy", "has", "have", "having", "help",
    "helps", "here", "hope", "how", "into", "its", "just", "know", "let", "like", "make", "many", "may", "more", "most", "much", "must", "need", "now",
    "only", "other", "our", "out", "over", "please", "question", "questions", "same", "see", "should", "some", "sorry", "such", "sure", "than",
    "thank", "thanks", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "too", "very", "want", "was", "way", "well",
    "were", "what", "when", "where", "which", "while", "who", "whom", "whose", "why", "will", "with", "would", "you", "your", "yours", "yes", "not",
    "source", "sources", "information", "answer", "according", "based", "mentioned", "says", "said", "stated", "text", "passage", "document",
    "documents", "welcome", "contact", "assist", "ask", "asked",
];
/// Words that turn a sentence's polarity.
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "cannot", "can't", "cant", "don't", "dont", "doesn't", "doesnt", "isn't", "isnt", "aren't", "arent", "won't", "wont",
    "wasn't", "wasnt", "weren't", "werent", "didn't", "didnt", "shouldn't", "couldn't", "wouldn't", "none", "nobody", "nothing", "neither", "nor",
    "without", "unable", "non", "нет", "не", "ни", "никогда", "нельзя", "nunca", "jamás", "tampoco", "ningún", "ninguno", "ninguna", "nada",
    "nadie", "sin", "nicht", "nichts", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals", "niemand", "ohne", "weder",
    "nein", "pas", "jamais", "aucun", "aucune", "rien", "sans", "nessun", "nessuno", "nessuna", "niente", "senza", "né", "não", "nenhum",
    "nenhuma", "ninguém", "nem", "sem", "نه", "نمی", "نیست", "هیچ",
];
const YES_NO: &[&str] = &["yes", "no", "да", "нет", "sí", "si", "ja", "nein", "oui", "non", "não", "بله", "نه", "خیر"];

/// Words that open a sentence by saying yes to the question.
const YES: &[&str] = &[
    "yes", "yeah", "yep", "sure", "certainly", "absolutely", "indeed", "да", "конечно", "sí", "si", "claro", "بله", "آره", "البته", "ja", "natürlich",
    "selbstverständlich", "oui", "certainement", "certo", "certamente", "sim",
];

/// Whether `sentence` opens with a yes ("Yes, …", "Of course, …", "Да, …"): it then says what
/// the question asked, not only its own words.
fn affirms(sentence: &str) -> bool {
    let l = sentence.to_lowercase();
    let mut words = l.unicode_words();
    match words.next() {
        Some("of") => words.next() == Some("course"),
        Some(w) => YES.contains(&w),
        None => false,
    }
}

/// The comparable form of a word (`None`: a stop word). A Cyrillic or Arabic-script word is
/// analysed as retrieval analyses it (Russian Snowball stemmer; Persian plural suffixes), so
/// "торта" ~ "тортов" and "کیک‌ها" ~ "کیک". Any other word: the first five letters of its
/// English Snowball stem, lower case — "opening" ~ "open", "delivery" ~ "deliver",
/// "cancellations" ~ "cancel"; words of other Latin-script languages pass that stemmer nearly
/// unchanged and are compared by their first five letters.
fn stem(w: &str) -> Option<String> {
    static EN: LazyLock<rust_stemmers::Stemmer> = LazyLock::new(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English));
    match crate::retrieval::analysis::non_latin_term(w) {
        Some(term) => term,
        None => Some(EN.stem(&w.to_lowercase()).chars().take(5).collect()),
    }
}

/// Content words' stems: three letters or more (or any digits), common words aside.
fn content(text: &str) -> Vec<String> {
    text.unicode_words()
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 || w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| !COMMON.contains(&w.as_str()) && !NEGATIONS.contains(&w.as_str()) && !YES_NO.contains(&w.as_str()) && !w.starts_with("n'") && !w.starts_with("n’"))
        .filter_map(|w| stem(&w))
        .collect()
}

/// Whether `text` says "not": a word of [`NEGATIONS`], English "n't", French "ne" and "n'"
/// ("n'est pas", "ne … plus"; not the capitalised "NE" of an address), Persian "نمی…".
fn negated(text: &str) -> bool {
    let l = text.to_lowercase();
    l.contains("n't")
        || l.unicode_words().any(|w| NEGATIONS.contains(&w) || w.starts_with("n'") || w.starts_with("n’"))
        || text.unicode_words().any(|w| w == "ne" || w == "Ne")
        || l.split_whitespace().any(|w| w.starts_with("نمی"))
}

/// How a text is cut into sentences: the retrieval index's (a chunk's sentence vectors are
/// made at ingestion for exactly these).
pub use crate::retrieval::sentences;

/// A passage prepared for checking, sentence by sentence.
#[derive(Debug)]
struct Passage {
    sentences: Vec<Said>,
}

/// What one sentence of a passage says, as the claims rule compares it.
#[derive(Debug)]
struct Said {
    /// Its content words' stems.
    words: HashSet<String>,
    negated: bool,
    /// The content words of each of its clauses that is negated ("We do not deliver on Sundays
    /// or public holidays, and pickup is …": the first).
    negated_clauses: Vec<HashSet<String>>,
    /// Its numbers' values, every reading ("1,400" → 1400 and 1.4).
    numbers: HashSet<String>,
    /// Its numbers, times and calendar words in order, each with its clause ([`bound`]).
    order: Vec<(usize, Value)>,
}

impl Said {
    fn new(sentence: &str) -> Said {
        let f = facts(sentence);
        let negated_clauses = clauses(sentence).filter(|c| negated(c)).map(|c| content(c).into_iter().collect()).collect();
        Said {
            words: content(sentence).into_iter().collect(),
            negated: negated(sentence),
            negated_clauses,
            numbers: f.numbers.into_iter().flat_map(|(_, ns)| ns.into_iter().map(|n| n.value)).collect(),
            order: f.order.into_iter().map(|(at, v)| (clause_at(sentence, at), v)).collect(),
        }
    }
}

/// Least share of all of a sentence's content words — the question's included — that its
/// supporting window must hold: the new facts must be said about what was asked (a true year of
/// another event, attached to the question's subject, fails).
const MIN_ALL_SHARE: f32 = 0.5;

/// Whether `window` says a sentence's own words (`own`) of what the sentence says them of: the
/// question's words it repeats (`repeated`; none: nothing to check). The window holds at least
/// `min_share` of them — or of all the sentence's words (`whole`, its share of them: "Monday to
/// Friday we open 7:00 to 18:00" to "When are you open?" on "Monday to Friday: 7:00 to 18:00"),
/// and
/// - one of its sentences holds an own word and as many of them as any sentence of the window:
///   "Anna does the deliveries" to "Who does the deliveries?" fails on "Anna takes the orders.
///   Boris does the deliveries." (Anna is in one sentence, the deliveries in the other), and
///   "The cake for 12 people is chocolate" fails on "The cake for 12 people is vanilla. The cake
///   for 20 people is chocolate." (the first sentence is the one about the 12-person cake);
/// - or the second of two sentences goes on about the first: it holds none of them, and at least
///   half of its own words are the answer's ("The Treaty of Paris was signed in 1763. It ended
///   the war." says the treaty ended the war).
///
/// A customer's words are still no evidence on their own: this only narrows which windows may
/// support the sentence's own words.
fn about(window: &[Said], own: &HashSet<String>, repeated: &HashSet<String>, min_share: f32, whole: f32) -> bool {
    if repeated.is_empty() {
        return true;
    }
    let held = repeated.iter().filter(|w| window.iter().any(|s| s.words.contains(*w))).count();
    if (held as f32 / repeated.len() as f32) < min_share && whole < min_share {
        return false;
    }
    let of_question: Vec<usize> = window.iter().map(|s| repeated.iter().filter(|w| s.words.contains(*w)).count()).collect();
    let most = of_question.iter().copied().max().unwrap_or(0);
    let mine = |s: &Said| s.words.iter().filter(|w| own.contains(*w)).count();
    let together = window.iter().zip(&of_question).any(|(s, n)| *n == most && mine(s) > 0);
    let goes_on = window.len() == 2 && of_question[0] > 0 && of_question[1] == 0 && mine(&window[1]) > 0 && mine(&window[1]) * 2 >= window[1].words.len();
    together || goes_on
}

/// The passages an answer may draw on, prepared once per answer.
#[derive(Debug)]
pub struct Evidence {
    passages: Vec<Passage>,
    known: Known,
    question: HashSet<String>,
    question_negated: bool,
    /// The question's own content words (without the business's name) and its values: what a
    /// sentence that opens with a yes says too.
    asked: HashSet<String>,
    asked_facts: Facts,
    /// The business's name's words: no claim is about them.
    names: HashSet<String>,
    rules: Rules,
}

/// What one sentence of an answer was found to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Supported by these passages (0-based, in the order given).
    Supported(Vec<usize>),
    Rejected(Problem),
}

impl Evidence {
    /// `passages` in the order the model saw them; `question` the customer's message (its words
    /// are no support); `names` words that are always fine to use (the business's name).
    pub fn new(passages: &[&str], question: &str, names: &[&str], rules: Rules) -> Self {
        let mut known = Known::default();
        let passages = passages
            .iter()
            .map(|p| {
                known.add(&facts(p));
                Passage { sentences: sentences(p).into_iter().map(Said::new).collect() }
            })
            .collect();
        let question_negated = negated(question);
        let asked: HashSet<String> = content(question).into_iter().collect();
        let asked_facts = facts(question);
        let names: HashSet<String> = names.iter().flat_map(|n| content(n)).collect();
        let question = asked.iter().chain(&names).cloned().collect();
        Evidence { passages, known, question, question_negated, asked, asked_facts, names, rules }
    }

    /// The facts rule: the first number, date, time, calendar word, URL, e-mail address or
    /// phone number of `text` that no passage holds.
    pub fn unsupported_fact(&self, text: &str) -> Option<Problem> {
        let f = facts(&strip_citations(text));
        let k = &self.known;
        if self.rules.contacts {
            if let Some(e) = f.emails.iter().find(|e| !k.emails.contains(*e)) {
                return Some(Problem::Email(e.clone()));
            }
            if let Some((raw, _)) = f.urls.iter().find(|(_, n)| !k.url(n)) {
                return Some(Problem::Url(raw.clone()));
            }
            if let Some((raw, _)) = f.phones.iter().find(|(_, d)| !k.phone(d)) {
                return Some(Problem::Phone(raw.clone()));
            }
        }
        if self.rules.numbers {
            if let Some((raw, _)) = f.dates.iter().find(|(_, ds)| !ds.iter().any(|d| k.dates.contains(d))) {
                return Some(Problem::Number(raw.clone()));
            }
            if let Some((raw, _)) = f.times.iter().find(|(_, m)| !k.times.contains(m) && !k.plain.contains(&(m / 60).to_string()) || (m % 60 != 0 && !k.times.contains(m))) {
                return Some(Problem::Number(raw.clone()));
            }
            if let Some((raw, _)) = f.numbers.iter().find(|(_, ns)| !k.number(ns)) {
                return Some(Problem::Number(raw.clone()));
            }
            if let Some(c) = f.calendar.iter().find(|c| !k.calendar.contains(*c)) {
                return Some(Problem::Calendar(c.clone()));
            }
        }
        None
    }

    /// The claims rule for one sentence: the passages that support it, or why none does.
    fn claim(&self, sentence: &str) -> Result<Vec<usize>, Problem> {
        let all: HashSet<String> = content(sentence).into_iter().collect();
        let own: HashSet<String> = all.iter().filter(|w| !self.question.contains(*w)).cloned().collect();
        let said = facts(sentence);
        // Nothing beyond the question's words — or one word among many: the question said back
        // ("The Court held that a German court could not deny…" to "In which case did the Court
        // hold…?") answers nothing. A bare "yes"/"no" (or its negation) claims what can't be
        // checked. Anything else is no claim of its own, but it is still a claim: a premise said
        // back ("You can cancel the day before pickup." when the passage says 48 hours) is shown
        // only if one window holds every word of it.
        if own.is_empty() || (own.len() < 2 && own.len() * 5 < all.len()) {
            // (A sentence without content words — "More below." — has no polarity to compare.)
            let polar = (!all.is_empty() && negated(sentence) != self.question_negated) || sentence.to_lowercase().unicode_words().any(|w| YES_NO.contains(&w));
            if polar || !all.is_empty() && self.supporting(&all, &all, &HashSet::new(), sentence, &said, 1.0).is_empty() {
                return Err(Problem::Unsupported(sentence.to_owned()));
            }
            return Ok(vec![]);
        }
        // What the sentence says its own words of: the question's words it repeats ("Anna does
        // the deliveries" to "Who does the deliveries?" says Anna of the deliveries).
        let repeated: HashSet<String> = if self.rules.bind { all.iter().filter(|w| self.asked.contains(*w) && !self.names.contains(*w)).cloned().collect() } else { HashSet::new() };
        // "Yes, we deliver Monday to Saturday" to "Do you deliver on Sundays?" says yes to Sundays:
        // a sentence that opens with a yes must be supported with the question's values (its
        // numbers, amounts and calendar words) in the same window, and its words counted too.
        let (all, said) = if affirms(sentence) {
            let mut said = said;
            said.numbers.extend(self.asked_facts.numbers.iter().cloned());
            said.calendar.extend(self.asked_facts.calendar.iter().cloned());
            (all.union(&self.asked).cloned().collect(), said)
        } else {
            (all, said)
        };
        let supporting = self.supporting(&own, &all, &repeated, sentence, &said, self.rules.min_share);
        if supporting.is_empty() { Err(Problem::Unsupported(sentence.to_owned())) } else { Ok(supporting) }
    }

    /// The passages with a window (one sentence, or two adjacent ones) that holds at least
    /// `min_share` of `words` and [`MIN_ALL_SHARE`] of `all`, with the sentence's polarity, its
    /// numbers and calendar words bound as the sentence binds them, and `words` said of what the
    /// sentence says them of (`repeated`, [`about`]).
    fn supporting(&self, words: &HashSet<String>, all: &HashSet<String>, repeated: &HashSet<String>, sentence: &str, said: &Facts, min_share: f32) -> Vec<usize> {
        let neg = negated(sentence);
        // Each number and calendar word must be in the window that supports the sentence, not
        // just anywhere.
        let numbers: Vec<HashSet<&String>> = if self.rules.numbers { said.numbers.iter().map(|(_, ns)| ns.iter().map(|n| &n.value).collect()).collect() } else { vec![] };
        let calendar: &[String] = if self.rules.numbers { &said.calendar } else { &[] };
        let order: Vec<(usize, Value)> = if self.rules.numbers { said.order.iter().map(|(at, v)| (clause_at(sentence, *at), v.clone())).collect() } else { vec![] };
        let mut supporting = Vec::new();
        for (i, p) in self.passages.iter().enumerate() {
            for j in 0..p.sentences.len() {
                for w in 1..=2 {
                    if j + w > p.sentences.len() || supporting.contains(&i) {
                        break;
                    }
                    let window = &p.sentences[j..j + w];
                    let holds = |s: &String| window.iter().any(|said| said.words.contains(s));
                    let share = words.iter().filter(|s| holds(s)).count() as f32 / words.len().max(1) as f32;
                    let all_share = all.iter().filter(|s| holds(s)).count() as f32 / all.len().max(1) as f32;
                    // The same polarity: a "not" the window lacks fails; a "not" only the window
                    // has fails when the sentence says at least half of the negated clause (the
                    // "not" dropped), however long the rest of the window is.
                    let window_neg = window.iter().any(|said| said.negated);
                    let polarity = match (neg, window_neg) {
                        (true, false) => false,
                        (false, true) => !window.iter().flat_map(|said| &said.negated_clauses).any(|clause| {
                            let shared = clause.iter().filter(|w| all.contains(*w)).count();
                            !clause.is_empty() && shared >= clause.len().min(2) && shared * 2 >= clause.len()
                        }),
                        _ => true,
                    };
                    let numbers_here = numbers.iter().all(|readings| readings.iter().any(|v| window.iter().any(|said| said.numbers.contains(*v))));
                    let calendar_here = calendar.iter().all(|c| window.iter().any(|said| said.order.iter().any(|(_, v)| v.kind == Kind::Calendar && v.readings.contains(c))));
                    let in_order: Vec<((usize, usize), &Value)> = window.iter().enumerate().flat_map(|(k, said)| said.order.iter().map(move |(c, v)| ((k, *c), v))).collect();
                    if share >= min_share && all_share >= MIN_ALL_SHARE && polarity && numbers_here && calendar_here && bound(&order, &in_order) && about(window, words, repeated, min_share, all_share) {
                        supporting.push(i);
                    }
                }
            }
        }
        supporting
    }

    /// Checks one sentence against every rule.
    pub fn sentence(&self, sentence: &str) -> Verdict {
        let text = strip_citations(sentence);
        if let Some(p) = self.unsupported_fact(&text) {
            return Verdict::Rejected(p);
        }
        if !self.rules.claims {
            return Verdict::Supported(vec![]);
        }
        match self.claim(&text) {
            Ok(v) => Verdict::Supported(v),
            Err(p) => Verdict::Rejected(p),
        }
    }

    /// Checks a whole answer: the passages supporting it (0-based, in order of first use), or
    /// the first problem found.
    pub fn answer(&self, text: &str) -> Result<Vec<usize>, Problem> {
        let mut used = Vec::new();
        for (_, v) in self.by_sentence(text)? {
            for i in v {
                if !used.contains(&i) {
                    used.push(i);
                }
            }
        }
        Ok(used)
    }

    /// [`Evidence::answer`] sentence by sentence: each sentence of `text` (a slice of it) with
    /// the passages that support that sentence, or the first problem found.
    pub fn by_sentence<'t>(&self, text: &'t str) -> Result<Vec<(&'t str, Vec<usize>)>, Problem> {
        sentences(text)
            .into_iter()
            .map(|s| match self.sentence(s) {
                Verdict::Supported(v) => Ok((s, v)),
                Verdict::Rejected(p) => Err(p),
            })
            .collect()
    }

    /// What a draft may show of the text streamed so far: the complete sentences that pass
    /// every rule, up to the first that doesn't. The last sentence is never complete while the
    /// model is still writing ("It costs 3." may go on as "3.50"), so it waits.
    pub fn draft(&self, so_far: &str) -> String {
        self.stream(so_far).0
    }

    /// [`Evidence::draft`], and the problem of the first complete sentence that failed, if one
    /// did: from then on nothing the model writes can be shown, so it may as well stop.
    pub fn stream(&self, so_far: &str) -> (String, Option<Problem>) {
        let mut shown = String::new();
        // Complete sentences are those followed by more text; keep their original spacing.
        let segments: Vec<(usize, &str)> = so_far.split_sentence_bound_indices().collect();
        let complete = segments.len().saturating_sub(1);
        for (start, seg) in segments.iter().take(complete) {
            let s = seg.trim();
            if !s.chars().any(char::is_alphanumeric) {
                continue;
            }
            if let Verdict::Rejected(p) = self.sentence(s) {
                return (shown.trim().to_owned(), Some(p));
            }
            shown = so_far[..start + seg.len()].to_owned();
        }
        (shown.trim().to_owned(), None)
    }
}

/// The sentences of `so_far` but the last, which may be unfinished: what stands of an answer the
/// model was cut off in (at `max_tokens`). As in [`Evidence::stream`], a sentence is complete
/// when more text follows it: the last one is dropped even when it ends with a full stop ("It
/// costs 3." may have been going on as "3.50").
pub fn complete_sentences(so_far: &str) -> &str {
    let last = so_far.split_sentence_bound_indices().last().map_or(0, |(start, _)| start);
    so_far[..last].trim_end()
}

/// Removes citation marks (`[1]`, `[1, 2]`) before checking: they are no facts.
pub fn strip_citations(s: &str) -> String {
    static CITE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s*\[\s*\d+(?:\s*,\s*\d+)*\s*\]").expect("regex"));
    CITE.replace_all(s, "").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: &str = "Celebration cakes must be ordered at least 3 days in advance. A cake for 8 people costs 32 euros, for 12 people 45 euros, for 20 people 70 euros. Writing on the cake is free. A 50 % deposit is due when you order.";
    const CANCEL: &str = "You can cancel a cake order up to 48 hours before pickup and get the deposit back in full. Later cancellations keep the deposit.";
    const ABOUT: &str = "Sunrise Bakery is at 12 Harbour Street. Monday to Friday: 7:00 to 18:00. Call us on 555-0142 or write to hello@sunrise-bakery.example. Our menu is at https://sunrise-bakery.example/menu.";

    #[test]
    fn an_answer_cut_off_keeps_only_the_sentences_followed_by_more() {
        assert_eq!(complete_sentences("Delivery is free [1]. It costs 6"), "Delivery is free [1].");
        assert_eq!(complete_sentences("Delivery is free. It costs 3."), "Delivery is free.");
        assert_eq!(complete_sentences("Delivery costs"), "");
        assert_eq!(complete_sentences(""), "");
    }

    fn ev(q: &str) -> Evidence {
        Evidence::new(&[ORDERS, CANCEL, ABOUT], q, &["Sunrise Bakery"], Rules::default())
    }

    fn without(f: impl FnOnce(&mut Rules)) -> Rules {
        let mut r = Rules::default();
        f(&mut r);
        r
    }

    #[test]
    fn numbers_and_amounts_must_be_in_the_passages_in_any_common_form() {
        let e = ev("How much is a cake for 12 people?");
        for ok in ["A cake for 12 people costs 45 euros [1].", "It is €45.", "That's 45 EUR.", "45,00 € for twelve people.", "A 50% deposit is due.", "We open at 7 a.m. and close at 6 pm."] {
            assert_eq!(e.unsupported_fact(ok), None, "{ok}");
        }
        for bad in ["A cake for 12 people is approximately €3.50.", "It is 12 * 12 = 164 euros.", "That's $45.", "A cake for 30 people costs 95 euros.", "We close at 7 pm.", "Pickup from 2024-05-01."] {
            assert!(matches!(e.unsupported_fact(bad), Some(Problem::Number(_))), "{bad}");
        }
        // The question's own number is no evidence: 13 is nowhere in the passages.
        let e = ev("How much is a cake for 13 people?");
        assert!(matches!(e.answer("A cake for 13 people costs 45 euros."), Err(Problem::Number(_))));
        // With the rule switched off, the invented price would pass.
        let off = Evidence::new(&[ORDERS], "How much?", &[], without(|r| r.numbers = false));
        assert!(off.answer("A cake for 8 people costs 32 euros, for 20 people 164 euros.").is_ok(), "only the numbers rule catches it");
        assert!(matches!(ev("How much?").answer("A cake for 8 people costs 32 euros, for 20 people 164 euros."), Err(Problem::Number(_))));
    }

    #[test]
    fn urls_emails_and_phone_numbers_must_be_in_the_passages() {
        let e = ev("How can I reach you?");
        for ok in ["Write to hello@sunrise-bakery.example.", "Call 555-0142.", "The menu is at sunrise-bakery.example/menu.", "See https://www.sunrise-bakery.example/menu/."] {
            assert_eq!(e.unsupported_fact(ok), None, "{ok}");
        }
        assert!(matches!(e.unsupported_fact("Pay at https://evil.example now."), Some(Problem::Url(_))));
        assert!(matches!(e.unsupported_fact("Pay at evil.example/pay."), Some(Problem::Url(_))));
        assert!(matches!(e.unsupported_fact("Write to orders@evil.example."), Some(Problem::Email(_))));
        assert!(matches!(e.unsupported_fact("Call +1 555 019 9999."), Some(Problem::Phone(_))));
        assert_eq!(e.unsupported_fact("It ends here.The next one"), None, "a missing space is no address");
        let off = Evidence::new(&[ABOUT], "How can I pay?", &[], without(|r| { r.contacts = false; r.claims = false }));
        assert!(off.answer("Pay at https://evil.example.").is_ok(), "only the contacts rule catches the address");
    }

    #[test]
    fn russian_and_persian_words_are_compared_by_their_own_stems() {
        // The same words in other forms ("торт"/"торты", "ягодой"/"ягодами"): supported only
        // when Russian is stemmed as Russian — by their first five letters they differ, and half
        // the sentence's own words would look unsupported.
        let ru = Evidence::new(&["Торты с ягодами готовим по субботам. Доставка только по городу."], "Когда вы печёте торты?", &[], Rules::default());
        assert!(ru.answer("Торт с ягодой готовят по субботам.").is_ok(), "{:?}", ru.answer("Торт с ягодой готовят по субботам."));
        assert!(matches!(ru.answer("Свечи и открытки дарим бесплатно."), Err(Problem::Unsupported(_))), "an invented claim is still caught");
        // Persian: a plural written without the zero-width non-joiner is the singular's stem.
        let fa = Evidence::new(&["کیکها را باید سه روز قبل سفارش داد."], "کیک دارید؟", &[], Rules::default());
        assert!(fa.answer("کیک را باید سه روز قبل سفارش داد.").is_ok());
        assert!(matches!(fa.answer("ارسال به همه شهرها رایگان است."), Err(Problem::Unsupported(_))));
    }

    #[test]
    fn every_sentence_needs_a_passage_that_holds_its_own_words() {
        let e = ev("Can I cancel my cake order the day before pickup?");
        assert!(e.answer("You can cancel up to 48 hours before pickup and get the deposit back [2]. Later cancellations keep the deposit.").is_ok());
        // A bare yes/no restating the question can't be checked.
        assert!(matches!(e.answer("No, you cannot cancel your cake order the day before pickup."), Err(Problem::Unsupported(_))));
        assert!(matches!(e.answer("Yes, you can cancel your cake order the day before pickup."), Err(Problem::Unsupported(_))));
        // An invented claim, and one that is only made of the question's words plus new ones.
        assert!(matches!(e.answer("You can cancel, but only if the cake is not too expensive."), Err(Problem::Unsupported(_))));
        assert!(matches!(e.answer("We only deliver within walking distance of the harbour lighthouse."), Err(Problem::Unsupported(_))));
        // The other polarity: the passage keeps the deposit, the answer says it doesn't.
        assert!(matches!(e.answer("Later cancellations do not keep the deposit."), Err(Problem::Unsupported(_))));
        assert!(e.answer("Writing on the cake is free.").is_ok());
        // Filler without content words is no claim, whatever the question's polarity.
        let n = Evidence::new(&[CANCEL], "Can't I cancel my order?", &[], Rules::default());
        assert_eq!(n.answer("More in [42]."), Ok(vec![]));
        assert!(n.answer("You can cancel your order.").is_err(), "the other polarity, said back");
        // The question said back is no claim (nothing is shown as the model's answer).
        let q = Evidence::new(&["In Überseering BV v Nordic Construction GmbH the Court of Justice held that a German court could not deny a Dutch building company the right to enforce a contract."], "In which case did the Court of Justice hold that a German court couldn't deny a Dutch building company the right to enforce a contract?", &[], Rules::default());
        assert_eq!(q.answer("The Court of Justice held that a German court could not deny a Dutch building company the right to enforce a contract."), Ok(vec![]));
        assert_eq!(q.answer("It was Überseering BV v Nordic Construction GmbH [1]."), Ok(vec![0]));
        // True facts of another event, attached to what was asked: the year is in the passages,
        // but not where the question's subject is.
        let e = Evidence::new(&["In 1749 the British government gave land to the Ohio Company. The company built a trading post at the forks. Christopher Gist explored the region in 1750; the Treaty of Logstown followed in 1752."], "When did the British government give land for the Ohio Country?", &[], Rules::default());
        assert!(e.answer("The British government gave land to the Ohio Company in 1749 [1].").is_ok());
        assert!(matches!(e.answer("The British government gave land for the Ohio Country in 1750, when Gist explored the region."), Err(Problem::Unsupported(_))));
        let off = Evidence::new(&[ORDERS, CANCEL], "Can I cancel?", &[], without(|r| r.claims = false));
        assert!(off.answer("You can cancel, but only if the cake is not too expensive.").is_ok(), "only the claims rule catches it");
    }

    #[test]
    fn a_value_must_be_said_of_what_the_passage_says_it_of() {
        // Every number of "for 8 people costs 45 euros" is in ORDERS' sentence, but 45 euros is
        // the price for 12 people: 32 euros stands between 8 and 45 euros there.
        let e = ev("How much is a cake for 8 people?");
        assert!(matches!(e.answer("A cake for 8 people costs 45 euros [1]."), Err(Problem::Unsupported(_))));
        assert!(matches!(e.answer("- 12 people: 32 euros [1]"), Err(Problem::Unsupported(_))), "a list line is a sentence like any other");
        assert!(matches!(e.answer("It costs 70 euros for 8 people."), Err(Problem::Unsupported(_))), "either order");
        assert!(matches!(e.answer("A cake for 8 people, 45 euros [1]."), Err(Problem::Unsupported(_))), "over a comma too");
        for ok in ["A cake for 8 people costs 32 euros [1].", "For 12 people it is 45 euros, for 20 people 70 euros.", "It costs 32 euros for 8 people.", "- 20 people: 70 euros [1]"] {
            assert!(e.answer(ok).is_ok(), "{ok}: {:?}", e.answer(ok));
        }
        // Times and weekdays bind the same way.
        let hours = Evidence::new(&["Monday to Friday we open 7:00 to 18:00, on Saturday 8:00 to 12:00."], "When do you open on Saturday?", &[], Rules::default());
        assert!(hours.answer("On Saturday we open 8:00 to 12:00.").is_ok());
        assert!(matches!(hours.answer("On Saturday we open 7:00 to 12:00."), Err(Problem::Unsupported(_))));
        assert!(matches!(hours.answer("On Saturday we open at 7:00."), Err(Problem::Unsupported(_))));
        assert!(hours.answer("Monday to Friday we open 7:00 to 18:00.").is_ok());
        let comma = Evidence::new(&["Monday to Friday, 7:00 to 18:00; Saturday, 8:00 to 12:00."], "When are you open?", &[], Rules::default());
        assert!(comma.answer("Monday to Friday we are open 7:00 to 18:00.").is_ok(), "{:?}", comma.answer("Monday to Friday we are open 7:00 to 18:00."));
        assert!(matches!(comma.answer("On Saturday we are open 7:00 to 12:00."), Err(Problem::Unsupported(_))));
        // A weekday must be where the rest of the sentence is found, not just in some passage.
        let two = Evidence::new(&["Deliveries go out on Tuesday.", "We bake rye bread every morning."], "When do you bake rye bread?", &[], Rules::default());
        assert!(matches!(two.answer("We bake rye bread on Tuesday."), Err(Problem::Unsupported(_))));
        // Bare numbers (years, counts) are not bound to each other.
        let years = Evidence::new(&["The war began on 28 July 1914 and ended on 11 November 1918."], "How long was the war?", &[], Rules::default());
        assert!(years.answer("The war began in 1914 and ended in 1918.").is_ok());
        // Only the numbers rule binds values.
        let off = Evidence::new(&[ORDERS], "How much is a cake for 8 people?", &[], without(|r| r.numbers = false));
        assert!(off.answer("A cake for 8 people costs 45 euros [1].").is_ok(), "only the binding catches it");
    }

    #[test]
    fn a_word_must_be_said_of_what_the_passage_says_it_of() {
        // "Anna" is in the passage, and so are the deliveries, in the next sentence: but the
        // passage says Boris does them. The answer's own word must be found with the question's
        // words it repeats, not just beside them.
        let staff = Evidence::new(&["Anna takes the orders. Boris does the deliveries."], "Who does the deliveries?", &[], Rules::default());
        assert!(matches!(staff.answer("Anna does the deliveries [1]."), Err(Problem::Unsupported(_))));
        assert!(staff.answer("Boris does the deliveries [1].").is_ok());
        assert!(staff.answer("Anna takes the orders [1].").is_ok());
        let reversed = Evidence::new(&["Boris does the deliveries. Anna takes the orders."], "Who does the deliveries?", &[], Rules::default());
        assert!(matches!(reversed.answer("Anna does the deliveries [1]."), Err(Problem::Unsupported(_))), "the other order");
        let too = Evidence::new(&["Boris does the deliveries. Anna too."], "Who does the deliveries?", &[], Rules::default());
        assert!(too.answer("Anna does the deliveries [1].").is_ok(), "a sentence that goes on about the one before");
        // A value is a word like any other: 12 people's cake is vanilla, 20 people's chocolate.
        let cakes = Evidence::new(&["The cake for 12 people is vanilla. The cake for 20 people is chocolate."], "What flavour is the cake for 12 people?", &[], Rules::default());
        assert!(matches!(cakes.answer("The cake for 12 people is chocolate [1]."), Err(Problem::Unsupported(_))));
        assert!(cakes.answer("The cake for 12 people is vanilla [1].").is_ok());
        let weekends = Evidence::new(&["Anna does the deliveries on weekdays. Boris does the deliveries on weekends and holidays."], "Who does the deliveries on weekends?", &[], Rules::default());
        assert!(matches!(weekends.answer("Anna does the deliveries on weekends."), Err(Problem::Unsupported(_))));
        assert!(weekends.answer("Boris does the deliveries on weekends.").is_ok());
        // The same in the other languages customers write.
        let es = Evidence::new(&["Ana toma los pedidos. Boris hace las entregas."], "¿Quién hace las entregas?", &[], Rules::default());
        assert!(matches!(es.answer("Ana hace las entregas."), Err(Problem::Unsupported(_))));
        assert!(es.answer("Boris hace las entregas.").is_ok());
        let ru = Evidence::new(&["Анна принимает заказы. Борис занимается доставкой."], "Кто занимается доставкой?", &[], Rules::default());
        assert!(matches!(ru.answer("Доставкой занимается Анна."), Err(Problem::Unsupported(_))));
        assert!(ru.answer("Доставкой занимается Борис.").is_ok());
        let de = Evidence::new(&["Anna nimmt die Bestellungen an. Boris macht die Lieferungen."], "Wer macht die Lieferungen?", &[], Rules::default());
        assert!(matches!(de.answer("Anna macht die Lieferungen."), Err(Problem::Unsupported(_))));
        assert!(de.answer("Boris macht die Lieferungen.").is_ok());
        // Still found over two sentences: a subject named in one and what is said of it in the
        // next ("It ended the war."), or named across both.
        let treaty = Evidence::new(&["The Treaty of Paris was signed in 1763. It ended the war."], "What did the Treaty of Paris do?", &[], Rules::default());
        assert!(treaty.answer("The Treaty of Paris ended the war [1].").is_ok());
        let ohio = Evidence::new(&["The Ohio Company was formed by Virginians. In 1749 it received land from the British government."], "When did the Ohio Company receive land?", &[], Rules::default());
        assert!(ohio.answer("The Ohio Company received land in 1749 [1].").is_ok());
        // Only this part of the claims rule binds words.
        let off = Evidence::new(&["Anna takes the orders. Boris does the deliveries."], "Who does the deliveries?", &[], without(|r| r.bind = false));
        assert!(off.answer("Anna does the deliveries [1].").is_ok(), "only the binding catches it");
    }

    #[test]
    fn a_premise_said_back_is_shown_only_if_the_sources_hold_all_of_it() {
        // "the day before" is the customer's premise; the passage says 48 hours. Said back, it
        // claims what no passage holds, even beside a sentence that is supported.
        let e = ev("Can I cancel my cake order the day before pickup?");
        assert!(matches!(e.answer("You can cancel your cake order the day before pickup. Later cancellations keep the deposit [2]."), Err(Problem::Unsupported(_))));
        assert!(e.answer("You can cancel your cake order up to 48 hours before pickup [2]. Later cancellations keep the deposit [2].").is_ok());
        // Said back where a passage holds all of it, it is still no claim of its own.
        let held = Evidence::new(&[CANCEL], "Can I cancel a cake order?", &[], Rules::default());
        assert_eq!(held.answer("You can cancel a cake order."), Ok(vec![]));
    }

    #[test]
    fn a_not_in_the_clause_the_answer_is_taken_from_is_not_dropped() {
        // A long sentence whose negated clause is a small part of it: "Yes, we deliver on
        // Sundays" is a near copy of the clause, not of the sentence.
        let src = "We do not deliver on Sundays or public holidays, and pickup is only possible at the Harbour Street shop before noon.";
        let e = Evidence::new(&[src], "Do you deliver on Sundays?", &[], Rules::default());
        assert!(matches!(e.answer("We deliver on Sundays from the Harbour Street shop [1]."), Err(Problem::Unsupported(_))));
        assert!(e.answer("We do not deliver on Sundays or public holidays [1].").is_ok());
        assert!(e.answer("Pickup is possible at the Harbour Street shop before noon [1].").is_ok(), "the other clause is not negated");
    }

    #[test]
    fn a_yes_says_what_the_question_asked() {
        let hours = "We deliver Monday to Saturday from 8:00 to 18:00. Delivery in the city costs 5 euros.";
        let e = Evidence::new(&[hours], "Do you deliver on Sundays?", &[], Rules::default());
        assert!(matches!(e.answer("Yes, we deliver Monday to Saturday from 8:00 to 18:00 [1]."), Err(Problem::Unsupported(_))), "a yes to Sundays");
        assert!(e.answer("We deliver Monday to Saturday from 8:00 to 18:00 [1].").is_ok(), "the same without the yes");
        let e = Evidence::new(&[hours], "Is delivery 3 euros?", &[], Rules::default());
        assert!(matches!(e.answer("Yes, delivery in the city costs 5 euros [1]."), Err(Problem::Unsupported(_))), "a yes to 3 euros");
        assert!(matches!(e.answer("Of course, delivery in the city costs 5 euros [1]."), Err(Problem::Unsupported(_))));
        let e = Evidence::new(&[hours], "Do you deliver on Saturdays?", &[], Rules::default());
        assert!(e.answer("Yes, we deliver Monday to Saturday from 8:00 to 18:00 [1].").is_ok(), "a yes the source holds");
        let e = Evidence::new(&[hours], "Is delivery in the city 5 euros?", &[], Rules::default());
        assert!(e.answer("Yes, delivery in the city costs 5 euros [1].").is_ok());
    }

    #[test]
    fn a_not_is_a_not_in_the_languages_customers_write() {
        // Each pair: the source says "not", the answer drops it (or the other way round).
        let pairs = [
            ("Die Anzahlung wird nicht erstattet.", "Die Anzahlung wird erstattet."),
            ("Für Torten gibt es keine Lieferung am Wochenende.", "Für Torten gibt es eine Lieferung am Wochenende."),
            ("L'acompte n'est pas remboursable.", "L'acompte est remboursable."),
            ("Nous ne livrons plus les gâteaux en dehors de la ville.", "Nous livrons les gâteaux en dehors de la ville."),
            ("Il deposito non è rimborsabile.", "Il deposito è rimborsabile."),
            ("O depósito não é reembolsável.", "O depósito é reembolsável."),
            ("Las tartas se entregan sin decoración.", "Las tartas se entregan con decoración."),
            ("Deposits are non-refundable.", "Deposits are refundable."),
        ];
        for (source, dropped) in pairs {
            let e = Evidence::new(&[source], "?", &[], Rules::default());
            assert!(e.answer(source).is_ok(), "the source said back: {source}");
            assert!(matches!(e.answer(dropped), Err(Problem::Unsupported(_))), "the not dropped: {dropped}");
            let e = Evidence::new(&[dropped], "?", &[], Rules::default());
            assert!(matches!(e.answer(source), Err(Problem::Unsupported(_))), "a not added: {source}");
        }
        // A bare "Nein"/"Non"/"Não" says no to what can't be checked, like "No".
        let e = Evidence::new(&["Die Anzahlung wird nicht erstattet."], "Wird die Anzahlung erstattet?", &[], Rules::default());
        assert!(matches!(e.answer("Nein, die Anzahlung wird erstattet."), Err(Problem::Unsupported(_))));
        // Not every "ne" or "non" is French: an address's "NE" is no negation.
        assert!(!negated("Our shop is at 12 NE Harbour Street."));
        assert!(negated("Nous ne livrons pas le dimanche."));
        assert!(negated("Wir liefern sonntags nie."));
    }

    #[test]
    fn weekdays_and_months_are_facts_in_the_languages_customers_write() {
        let cal = |t: &str| facts(t).calendar;
        assert_eq!(cal("Entregamos de lunes a sábado, y los domingos no."), ["monday", "saturday", "sunday"]);
        assert_eq!(cal("Мы доставляем с понедельника по субботу, кроме воскресенья."), ["monday", "saturday", "sunday"]);
        assert_eq!(cal("Wir liefern Montag bis Samstag, sonntags nie. Im März geschlossen."), ["monday", "saturday", "sunday", "march"]);
        assert_eq!(cal("Livraison du lundi au samedi, fermé en août et en mars."), ["monday", "saturday", "august", "march"]);
        assert_eq!(cal("Entregamos de segunda-feira a sexta-feira; a segunda entrega é grátis."), ["monday", "friday"]);
        assert_eq!(cal("ما از شنبه تا سه شنبه و پنج‌شنبه‌ها باز هستیم، جمعه تعطیل."), ["saturday", "tuesday", "thursday", "friday"]);
        assert!(cal("Add mayo for 1 euro. Mars bars are sold out. We march on.").is_empty(), "ordinary words");

        // The facts rule across languages: Sunday in Spanish needs a source that says Sunday.
        let hours = "We deliver Monday to Saturday from 8:00 to 18:00.";
        let e = Evidence::new(&[hours], "¿Entregan los domingos?", &[], Rules::default());
        assert_eq!(e.unsupported_fact("Sí, entregamos los domingos."), Some(Problem::Calendar("sunday".into())));
        assert_eq!(e.unsupported_fact("Entregamos de lunes a sábado de 8:00 a 18:00."), None);

        // The yes rule in Spanish and Russian: a yes to Sundays is not supported by Monday to Saturday.
        let es = "Entregamos de lunes a sábado de 8:00 a 18:00. La entrega en la ciudad cuesta 5 euros.";
        let e = Evidence::new(&[es], "¿Entregan los domingos?", &[], Rules::default());
        assert!(matches!(e.answer("Sí, entregamos de lunes a sábado de 8:00 a 18:00 [1]."), Err(Problem::Unsupported(_))), "a yes to Sundays");
        assert!(e.answer("Entregamos de lunes a sábado de 8:00 a 18:00 [1].").is_ok(), "the same without the yes");
        let e = Evidence::new(&[es], "¿Entregan los sábados?", &[], Rules::default());
        assert!(e.answer("Sí, entregamos de lunes a sábado de 8:00 a 18:00 [1].").is_ok(), "a yes the source holds");
        let ru = "Мы доставляем с понедельника по субботу с 8:00 до 18:00.";
        let e = Evidence::new(&[ru], "Вы доставляете в воскресенье?", &[], Rules::default());
        assert!(matches!(e.answer("Да, мы доставляем с понедельника по субботу с 8:00 до 18:00 [1]."), Err(Problem::Unsupported(_))));
        assert!(e.answer("Мы доставляем с понедельника по субботу с 8:00 до 18:00 [1].").is_ok());
    }

    #[test]
    fn drafts_show_only_complete_verified_sentences() {
        let e = ev("What are your opening hours?");
        let stream = "Monday to Friday we open 7:00 to 18:00 [3]. Also pay at https://evil.example today. Thanks!";
        let mut shown = Vec::new();
        for end in (1..=stream.len()).filter(|i| stream.is_char_boundary(*i)) {
            let d = e.draft(&stream[..end]);
            assert!(!d.contains("evil") && !d.contains("https"), "a draft showed the address: {d:?}");
            shown.push(d);
        }
        assert!(shown.iter().any(|d| d.starts_with("Monday to Friday we open 7:00 to 18:00")), "the verified sentence is drafted");
        // An unfinished sentence waits, even when it looks finished ("3." may become "3.50").
        assert_eq!(e.draft("A cake for 8 people costs 3"), "");
        assert_eq!(e.draft("A cake for 8 people costs 32 euros. It costs 3."), "A cake for 8 people costs 32 euros.");
        // The failed sentence is reported, so the model can be stopped there.
        assert!(matches!(e.stream(stream).1, Some(Problem::Url(_))));
        // Without the gate (the whole text so far), the address would have been on screen.
        assert!(stream[..stream.find("today").unwrap()].contains("https://evil.example"));
    }

    /// The cases of the word-share check this verifier replaced (`compose::support`), kept.
    #[test]
    fn answers_that_drift_off_their_sources_are_rejected() {
        let src = "Unopened cakes can be returned within 24 hours with the receipt.";
        let e = Evidence::new(&[src], "Can I return a cake I bought yesterday?", &["Rosa's Cakes"], Rules::default());
        assert!(e.answer("Yes: unopened cakes can be returned within 24 hours, with the receipt [1].").is_ok());
        assert!(e.answer("Hi! I'm the assistant of Rosa's Cakes. Ask me anything about your cake, and I'll tell you what to do next.").is_err());
        assert!(e.answer("No, no, no! I'm sorry for any misunderstanding. I'll be back in a minute. You're welcome to try the cake tomorrow.").is_err());
        assert!(e.answer("No, no, no! You can't find it anywhere.").is_err());
        // Changed on purpose (issue 14): a bare "yes" can't be checked, so it is not shown.
        assert!(e.answer("Yes [1].").is_err());
    }

    #[test]
    fn readings_of_written_numbers() {
        assert_eq!(readings("1,400"), vec!["1400", "1.4"]);
        assert_eq!(readings("3,50"), vec!["3.5"]);
        assert_eq!(readings("45.00"), vec!["45"]);
        assert_eq!(readings("1.234,56"), vec!["1234.56"]);
        assert_eq!(readings("007"), vec!["7"]);
    }
}
