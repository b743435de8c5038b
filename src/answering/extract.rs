//! Extractive answers: the sentences of the retrieved passages that answer the question, chosen
//! one by one rather than a whole passage pasted — and the signal for "I don't know".
//!
//! Every sentence of the passages is scored for the question by
//! - **meaning**: cosine similarity of its embedding to the question's (the same embedder as
//!   retrieval; a passage's sentence vectors are made at ingestion, just after the chunk is
//!   searchable, and kept with it in the index; a chunk without them yet gets them from the
//!   first answer that ranks it);
//! - **words**: the share of the question's content words it holds, each weighted by how rare it
//!   is among the candidate sentences (IDF) — a question word no sentence has at all counts
//!   against every sentence, which is what an unanswerable question usually looks like;
//! - **passage**: the retrieval similarity of the passage it is in;
//! - **the kind of answer asked for**: "when"/"how many"/"how much" want a number or date,
//!   "who" a name: a sentence without one is marked down.
//!
//! The best sentence's score decides between a quote and "I don't know"
//! ([`Selection::confident`]); the threshold was set by `bellhop eval answers` on held-out
//! articles (see BENCHMARKS.md). The same ranking picks the short context the model is given.
use crate::models::EmbedError;
use crate::retrieval::{Hit, Retriever, SentenceVectors};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Weights of the score's parts and the "I don't know" threshold.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    pub dense: f32,
    pub lexical: f32,
    pub passage: f32,
    /// Factor for a sentence lacking the kind of answer asked for.
    pub wrong_type: f32,
    /// Least best-sentence score to quote rather than say "I don't know".
    pub min_score: f32,
    /// A second sentence is quoted when it scores at least this share of the best (and holds
    /// enough of the question's words, [`Selection::quote`]).
    pub second: f32,
    /// … or at least this share, when it holds the question's specific word the best lacks.
    pub specific: f32,
    /// Least best-sentence score, and least similarity of its own to the question, to answer
    /// from passages below the passage threshold ([`Selection::answers_alone`]).
    pub alone: f32,
    pub alone_dense: f32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning { dense: 0.5, lexical: 0.35, passage: 0.15, wrong_type: 0.8, min_score: 0.42, second: 0.92, specific: 0.75, alone: 0.5, alone_dense: 0.45 }
    }
}

/// One sentence of a passage, scored.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Index of the passage in the hits.
    pub hit: usize,
    /// Position of the sentence within its passage.
    pub index: usize,
    /// The line of its passage it is on: a line of prose is a paragraph ([`Selection::quote`]).
    pub line: usize,
    pub text: String,
    pub score: f32,
    /// Its own similarity to the question (the embedder's cosine; 0 when none was made).
    pub dense: f32,
    /// The IDF-weighted share of the question's common words (not its numbers, weekdays,
    /// months or names) the sentence's own text holds (its heading left out; "deliver" holds "delivery").
    pub topic: f32,
    /// The (unweighted) share of the question's common words its own text holds.
    pub shared: f32,
    /// Whether its own text holds one of the question's weekdays, months or names (not a
    /// number: "for 20 people" in a price list shares "20" with "a 20 euro order" by chance).
    pub specific: bool,
    /// Whether its own text holds one of the question's weekdays or months (a day it asks about,
    /// not a name).
    pub dated: bool,
    /// Whether its own words say what was asked: its label holds one of the question's common
    /// words ("Email: hello@…" for "whats ur email"), or, a list item or a short line, it holds
    /// nearly all of them, weighted, of two or more ("Lunchtime Power Yoga" for "any lunchtime
    /// classes").
    pub worded: bool,
    /// Whether its own text holds every word of the question, numbers and names too (always,
    /// for a question not in English).
    pub complete: bool,
    /// Its own stems, for a follow-up's new words ([`Selection::focus_on`]).
    pub terms: HashSet<String>,
    /// For a price asked, whether it changes the best sentence's price for something asked that
    /// the best lacks (set on all but the best): a surcharge ("extra", "more", "on top",
    /// "supplement"), "Automatic lessons | Extra charge on top of the manual price | £3 more per
    /// hour" beside "Intensive course | … | £1,050" for "how much is the intensive course in an
    /// automatic?"; or an offer ([`offer`]), "New customers get their first month at half
    /// price." beside "Unit: Medium | … | Monthly price (£): 95" for "how much would a medium
    /// unit cost me for the first month?".
    pub adds_to_price: bool,
    /// For a question about a weekday, whether it names a day ([`names_a_day`]).
    pub names_days: bool,
    /// Whether it opens with a "Yes" or "No" that replies to another question than the
    /// customer's: a yes/no question names something no passage does ("do you do vegan
    /// breakfast?" / "Yes, we offer vegetarian and gluten-free breakfasts on request."), or
    /// something the FAQ entry's question it replies to lacks ("Is there a charge for parking?" /
    /// "Is there parking?" / "Yes, we have a free car park …"). Quoted,
    /// the reply is left out ([`Selection::quoted`]): the customer reads what is offered, not a
    /// "yes" to what is not.
    pub replies_another: bool,
}

/// The passages' sentences, best first.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub ranked: Vec<Scored>,
    /// Every passage's sentences in order (for context around a chosen one).
    pub by_hit: Vec<Vec<String>>,
    pub tuning: Tuning,
    /// A follow-up's own new words ([`Selection::focus_on`]); empty for a question of its own.
    pub focus: Vec<String>,
}

impl Selection {
    pub fn best(&self) -> f32 {
        self.ranked.first().map_or(f32::MIN, |s| s.score)
    }

    /// Whether the best sentence is good enough to show.
    pub fn confident(&self) -> bool {
        !self.ranked.is_empty() && self.best() >= self.tuning.min_score
    }

    /// Whether the best sentence answers well enough by itself, its passage below the passage
    /// threshold: it scores at least [`Tuning::alone`] and is at least [`Tuning::alone_dense`]
    /// similar to the question on its own — not merely by sharing its one word ("Where is the
    /// shop?" / "… book by phone or in the shop …", 0.34) — or holds the day or month the
    /// question asks about: "what classes are on Tuesday?" is only 0.31 from "Tuesday: 09:30 —
    /// Gentle Yoga with Ruth", which the embedder does not take for a class — or holds every word
    /// asked, a name among them: "do you cover Millbrook?" is 0.08 from a paragraph about the
    /// business, 0.38 from "We cover Northfield and all villages within 20 miles, including
    /// Ashby, Millbrook, …". Chosen with
    /// `bellhop eval answers` (BENCHMARKS.md, "Thirty-third session"). Or it is good enough to
    /// quote, very close to the question by itself (cosine 0.6) and holds one of its common
    /// words: "Lilies: … poisonous to cats." for "my cat keeps sniffing the lilies, is that ok?",
    /// in a page of care tips 0.32 from it as a whole — not "Kublai was also threatened by
    /// domestic unrest." (0.63) for "What did Kublai do to prevent famines?" ("Thirty-seventh
    /// session").
    pub fn answers_alone(&self) -> bool {
        self.ranked.first().is_some_and(|s| (s.score >= self.tuning.alone && (s.dense >= self.tuning.alone_dense || s.dated || s.worded || (s.complete && s.specific))) || (s.score >= self.tuning.min_score && s.dense >= 0.6 && s.topic > 0.0))
    }

    /// For a follow-up searched together with the question before it ("do you have
    /// sunflowers?" then "what about tulips?"): `question` is the customer's own message, `query`
    /// what was searched. Its words the previous question lacks ("tulips") are what it asks
    /// about, so a quote holds one of them when a sentence good enough to quote does.
    /// For a question searched on its own (`query` is `question`) there is no focus.
    pub fn focus_on(&mut self, question: &str, query: &str) {
        if query == question {
            self.focus.clear();
            return;
        }
        let before: HashSet<String> = terms(query.strip_suffix(question).unwrap_or_default()).into_iter().collect();
        self.focus = terms(question).into_iter().filter(|t| !before.contains(t)).collect();
    }

    /// Whether a sentence good enough to quote holds a follow-up's new words (true for a
    /// question of its own, or a follow-up with none: "how much is it?").
    pub fn answers_focus(&self) -> bool {
        self.focus.is_empty() || self.ranked.iter().any(|s| s.score >= self.tuning.min_score && self.focus.iter().any(|f| s.terms.iter().any(|t| same(f, t))))
    }

    /// For a follow-up asking the question before for someone else ("how about for a cat?"
    /// after "how much is a dental"), whether a sentence good enough to quote holds both what it
    /// adds and a word of the question before: "Cat spay | £120" holds the cat, not the dental.
    pub fn answers_with_before(&self, question: &str, query: &str) -> bool {
        let before: HashSet<String> = terms(query.strip_suffix(question).unwrap_or_default()).into_iter().filter(|t| !self.focus.contains(t)).collect();
        self.ranked.iter().any(|s| s.score >= self.tuning.min_score && self.focus.iter().any(|f| s.terms.iter().any(|t| same(f, t))) && before.iter().any(|b| s.terms.iter().any(|t| same(b, t))))
    }

    /// Whether a follow-up adds a word that is not a weekday or month: "how about for
    /// students?" does, "and on Sunday?" does not (a line that names no day may still answer
    /// it: "We are open every day from 9 to 5.").
    pub fn focus_beyond_days(&self) -> bool {
        use std::sync::LazyLock;
        static DAYS: LazyLock<HashSet<String>> = LazyLock::new(|| WEEKDAYS.iter().chain(MONTHS).map(|d| stem(d)).collect());
        self.focus.iter().any(|f| !DAYS.contains(f))
    }

    /// The sentences a quote is chosen from, best first: those holding a follow-up's new words
    /// when one of them scores well enough to quote, else all.
    fn candidates(&self) -> Vec<&Scored> {
        let holds = |s: &&Scored| self.focus.iter().any(|f| s.terms.iter().any(|t| same(f, t)));
        let focused: Vec<&Scored> = self.ranked.iter().filter(holds).collect();
        if focused.first().is_some_and(|s| s.score >= self.tuning.min_score) { focused } else { self.ranked.iter().collect() }
    }

    /// The sentence(s) to quote, in the order they appear: the best, and a second one when it
    /// answers as well — it scores nearly as well and holds as much of the question's common
    /// words (IDF-weighted), or at least half of them; a sentence sharing only a number or a
    /// weekday with the question ("Monday to Friday: 7:00 to 18:00" for "Do you deliver on
    /// Monday?", "… for 20 people 70 euros." for "How much is delivery for a 20 euro order?")
    /// is not quoted beside the answer. When the best holds none of the question's specific
    /// words (a weekday, a month, a name) the second is, if one scores well, a sentence that
    /// holds one of them and one of its common words too: for "Is delivery available on
    /// Sundays?", "We do not deliver on Sundays." beside "Same-day delivery is available …".
    pub fn quote(&self) -> Vec<&Scored> {
        let ranked = self.candidates();
        let Some(&best) = ranked.first() else { return vec![] };
        let mut out = vec![best];
        let close = |s: &&&Scored, share: f32| s.score >= best.score * share && s.score > 0.0;
        let specific = (!best.specific).then(|| ranked.iter().skip(1).find(|s| s.specific && s.topic > 0.0 && close(s, self.tuning.specific))).flatten();
        // A best that holds what was asked by name ("Sunday") has no second that does not: for
        // "is there yoga on sunday morning", Monday's "07:00 — Morning Hatha" beside Sunday's
        // class answers about another day.
        // Unless the best holds nothing else asked and the second does, naming days of its own:
        // "On Sundays we close early: …" for "what time do you open on sunday", beside "We open
        // at 8 in the morning on weekdays and at 9 on weekends".
        // (It need not score as well: the day the best holds is the question's rarest word.)
        let says_more = (best.dated && best.topic <= 0.0).then(|| ranked.iter().skip(1).find(|s| s.topic >= 0.5 && names_a_day(&s.text) && close(s, 0.6))).flatten();
        // A question about a weekday whose best names no day ("can Dr Reid see my rabbit on
        // Monday" / "He sees rabbits, guinea pigs, reptiles and birds.") gets the days of the
        // best's passage beside it: "Tom is in on Tuesdays and Fridays.".
        let days = (!best.names_days).then(|| ranked.iter().skip(1).find(|s| s.names_days && s.hit == best.hit && s.score > 0.0)).flatten();
        // A surcharge on the best's price for something asked ([`Scored::adds_to_price`]).
        let surcharge = || (self.focus.is_empty() && std::ptr::eq(best, &self.ranked[0])).then(|| ranked.iter().skip(1).find(|s| s.adds_to_price && close(s, 0.6))).flatten();
        // (A best holding every word asked has no second from another passage lacking one of
        // them: beside "we don't clean the outside of windows", "Regular clean | £18 per hour"
        // reads as the price of cleaning windows.)
        let second = specific.or(says_more).or(days).or_else(|| ranked.get(1).filter(|s| close(s, self.tuning.second) && (s.topic >= best.topic - 1e-6 || (s.shared >= 0.5 && (s.hit == best.hit || !best.complete))) && (s.dated || !best.dated))).or_else(surcharge);
        // The run of list items around the best, when it is one (at most ten items).
        let run = || {
            let mut items: Vec<&Scored> = self.ranked.iter().filter(|s| s.hit == best.hit && is_item(&s.text)).collect();
            items.sort_by_key(|s| s.index);
            let at = items.iter().position(|s| s.index == best.index)?;
            let start = (0..at).rev().take_while(|&i| items[i].index + 1 == items[i + 1].index).last().unwrap_or(at);
            let end = (at + 1..items.len()).take_while(|&i| items[i - 1].index + 1 == items[i].index).last().unwrap_or(at);
            (end - start < 10).then(|| items[start..=end].to_vec())
        };
        // A list whose every item holds what was asked by name — its heading, "Tuesday", labels
        // them all ([`crate::retrieval::ChunkPayload::sentence_text`]) — is all about it: "what
        // classes are on Tuesday?" gets Tuesday's classes, not the two that scored best — unless
        // the best holds most of what else was asked ("What time is Ashtanga on Wednesday?").
        if best.dated && best.topic < 0.5 && is_item(&best.text) {
            if let Some(items) = run().filter(|items| items.len() > 1 && items.iter().all(|s| s.dated)) {
                out = items;
            }
        }
        // A sentence of a short paragraph is quoted with its paragraph: "… we can lend you a
        // courtesy car free of charge." alone answers "im 22, can i have a courtesy car?" with a
        // yes; the paragraph goes on "You need to be over 25 …". The sentence that says the
        // condition seldom holds the question's words (22, petrol, France), the one beside it does.
        let paragraph = self.paragraph(best);
        if let (Some(&second), 1) = (second, out.len()) {
            out.push(second);
            // A question about a whole list ("What are your opening hours?" over the week's days),
            // its best two items of one list and neither what was asked by name, gets the list, not
            // two of its days, which read as "closed the other days".
            if second.hit == best.hit && is_item(&best.text) && is_item(&second.text) && !best.specific && !second.specific {
                if let Some(items) = run().filter(|items| items.iter().any(|s| s.index == second.index)) {
                    out = items;
                }
            }
        }
        if let Some(paragraph) = paragraph {
            out.retain(|s| s.hit != best.hit || s.line != best.line);
            out.extend(paragraph);
        }
        out.sort_by_key(|s| (s.hit, s.index));
        out
    }

    /// The paragraph of a prose sentence that lacks some of the question's words, in order, when
    /// it is short: two to four sentences of at most 90 words. A sentence holding all of them
    /// ("A cake for twelve costs 45 euros" for "How much is a cake for twelve?"), a line of a
    /// list, a labelled line and a long paragraph have none.
    fn paragraph(&self, of: &Scored) -> Option<Vec<&Scored>> {
        if of.complete || is_item(&of.text) || crate::retrieval::label(&of.text).is_some() {
            return None;
        }
        let mut para: Vec<&Scored> = self.ranked.iter().filter(|s| s.hit == of.hit && s.line == of.line).collect();
        para.sort_by_key(|s| s.index);
        let words: usize = para.iter().map(|s| s.text.split_whitespace().count()).sum();
        ((2..=4).contains(&para.len()) && words <= 90).then_some(para)
    }

    /// The quote as passages: (hit, text), the sentences of one paragraph quoted together as one.
    /// A passage whose words were already quoted is left out: the same menu uploaded as a PDF and
    /// as a web page gave "Kids' menu (under 12): … $10." twice, under two sources of one name.
    pub fn quoted(&self) -> Vec<(usize, String)> {
        let mut out: Vec<(usize, String)> = Vec::new();
        let mut last: Option<&Scored> = None;
        // A "Yes" or "No" replying to another question is left out, and "…" says so; a sentence
        // that is nothing else ("Yes!") is left out whole.
        let mut cut = false;
        for s in self.quote() {
            let text = crate::retrieval::unmarked(&s.text);
            let text = match (s.replies_another, without_reply(text)) {
                (false, _) => text,
                (true, Some(rest)) => {
                    cut = true;
                    rest
                }
                (true, None) => {
                    cut = true;
                    continue;
                }
            };
            let gap = if cut { "… " } else { "" };
            match (last, out.last_mut()) {
                (Some(l), Some((_, joined))) if l.hit == s.hit && l.line == s.line && l.index + 1 == s.index => {
                    joined.push(' ');
                    joined.push_str(gap);
                    joined.push_str(text);
                }
                _ => out.push((s.hit, format!("{gap}{text}"))),
            }
            cut = false;
            last = Some(s);
        }
        let mut kept: Vec<(usize, String)> = Vec::new();
        for (hit, text) in out {
            if !kept.iter().any(|(_, k)| k.contains(text.as_str())) {
                kept.push((hit, text));
            }
        }
        kept
    }

    /// Short context for the model: the `k` best sentences with their neighbours, per passage
    /// in the passage's own order; passages with nothing chosen are left out. Returns
    /// (hit index, text) in the order of the best sentence's rank.
    pub fn context(&self, k: usize) -> Vec<(usize, String)> {
        let mut wanted: HashMap<usize, HashSet<usize>> = HashMap::new();
        let mut order: Vec<usize> = Vec::new();
        for s in self.ranked.iter().take(k) {
            if !order.contains(&s.hit) {
                order.push(s.hit);
            }
            let n = self.by_hit[s.hit].len();
            let e = wanted.entry(s.hit).or_default();
            for i in s.index.saturating_sub(1)..=(s.index + 1).min(n.saturating_sub(1)) {
                e.insert(i);
            }
        }
        order
            .into_iter()
            .map(|h| {
                let mut idx: Vec<usize> = wanted[&h].iter().copied().collect();
                idx.sort_unstable();
                let mut text = String::new();
                let mut last = None;
                for i in idx {
                    if last.is_some_and(|l| l + 1 != i) {
                        text.push_str(" …");
                    }
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(&self.by_hit[h][i]);
                    last = Some(i);
                }
                (h, text)
            })
            .collect()
    }
}

/// Words that say nothing about what is asked.
const STOP: &[&str] = &[
    "the", "and", "for", "are", "was", "were", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "does", "did", "do", "is", "of",
    "in", "on", "at", "to", "a", "an", "by", "with", "from", "that", "this", "these", "those", "it", "its", "be", "been", "has", "have", "had", "can",
    "could", "would", "should", "will", "as", "or", "not", "your", "you", "my", "me", "we", "our", "us", "i", "there", "their", "they", "them", "about",
    "into", "than", "then", "also", "if", "any", "some", "much", "many", "name", "type", "kind", "one", "two", "per",
    // Contractions and chat spellings of the words above ("whats ur opening hours"), and the
    // greetings and thanks around a question ("hi, hw much is the wifi").
    "what's", "whats", "wat", "where's", "how's", "it's", "that's", "there's", "i'm", "im", "u", "r", "ur", "ya", "pls", "plz", "hw", "wht", "whn", "wot", "abt", "hi", "hello", "hey", "thanks", "thx", "please",
];

/// Whether two stems are the same word: equal, ending differently after the same first five
/// letters (the English stemmer makes "deliv" of "deliver" but "deliveri" of "delivery"), or
/// two words customers use for one thing ([`SYNONYMS`]).
fn same(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    (short.len() >= 5 && short.bytes().all(|c| c.is_ascii_lowercase()) && long.starts_with(short)) || synonyms(a, b)
}

/// Words a customer and a business use for one thing: "do you take cash?" / "We accept … cash",
/// "How much does delivery cost?" / "… for a fee of 4 euros", "do you guarantee repairs?" /
/// "… comes with a 12-month warranty". Only words of a shop's everyday business, each with
/// one sense there: a question shares its other words with the answer or it is not one.
const SYNONYMS: &[&[&str]] = &[
    &["cost", "price", "fee", "charge", "rate"],
    &["take", "accept"],
    &["book", "booking", "reserve", "reservation", "appointment"],
    &["guarantee", "warranty"],
    &["allow", "allowed", "permit", "permitted", "welcome", "bring"],
    &["buy", "purchase", "sell"],
    &["rent", "rental", "hire"],
    &["lend", "loan"],
    &["fix", "repair", "mend"],
    &["quote", "estimate"],
    &["close", "shut"],
    &["kid", "child", "children"],
    &["bike", "bicycle", "cycle"],
    &["car", "vehicle"],
    &["phone", "telephone", "call", "ring"],
    &["toilet", "restroom", "bathroom", "washroom", "loo"],
    &["wifi", "internet", "wireless"],
    &["lift", "elevator"],
    &["pay", "payment"],
    &["deliver", "delivery", "ship", "shipping"],
];

/// Whether two stems are words of one [`SYNONYMS`] group.
fn synonyms(a: &str, b: &str) -> bool {
    use std::sync::LazyLock;
    static GROUPS: LazyLock<HashMap<String, usize>> = LazyLock::new(|| SYNONYMS.iter().enumerate().flat_map(|(g, words)| words.iter().map(move |w| (stem(w), g))).collect());
    matches!((GROUPS.get(a), GROUPS.get(b)), (Some(x), Some(y)) if x == y)
}

/// A weekday or a month ("Sundays" too).
fn dated(word: &str) -> bool {
    let l = word.to_lowercase();
    weekday(word) || MONTHS.contains(&l.strip_suffix('s').unwrap_or(&l))
}

/// A weekday ("Sundays", "weekend" too).
fn weekday(word: &str) -> bool {
    let l = word.to_lowercase();
    WEEKDAYS.contains(&l.strip_suffix('s').unwrap_or(&l))
}

/// A word of the question that names something specific: a weekday, a month, or a name
/// (capitalised past the question's first word) — not a number.
fn specific(word: &str, first: bool) -> bool {
    let l = word.to_lowercase();
    let l = l.strip_suffix('s').unwrap_or(&l);
    if word.chars().any(|c| c.is_numeric()) {
        return false;
    }
    WEEKDAYS.contains(&l)
        || MONTHS.contains(&l)
        || (!first && word.chars().next().is_some_and(char::is_uppercase))
}

const WEEKDAYS: &[&str] = &["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "weekend"];
// "may" is left out: "May I …" asks nothing about May (a capitalised "May" past the first word
// is a name).
const MONTHS: &[&str] = &["january", "february", "march", "april", "june", "july", "august", "september", "october", "november", "december"];

fn stem(w: &str) -> String {
    use std::sync::LazyLock;
    static EN: LazyLock<rust_stemmers::Stemmer> = LazyLock::new(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English));
    let w = w.to_lowercase();
    // "the latest I can drop off" asks for the "last drop-off".
    let w = if w == "latest" { "last".to_owned() } else { w };
    EN.stem(&w).chars().take(6).collect()
}

/// A content word's stem ([`terms`]), none for a stop word.
fn term(w: &str) -> Option<String> {
    use crate::retrieval::analysis::non_latin_term;
    let w = w.to_lowercase().replace('’', "'");
    if STOP.contains(&w.as_str()) {
        return None;
    }
    match non_latin_term(&w) {
        Some(term) => term,
        None => Some(stem(&w)),
    }
}

/// Content words' stems: Cyrillic and Arabic-script words as BM25 analyses them (Russian and
/// Persian stop words dropped, inflections folded), other words by the English stemmer.
/// A word written with a hyphen is also the word written without it: "Wi-Fi" holds "wifi",
/// "re-gas" "regas".
fn terms(text: &str) -> Vec<String> {
    use unicode_segmentation::UnicodeSegmentation;
    let joined = text.split_whitespace().filter(|w| w.contains('-')).filter_map(|w| {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric());
        let parts: Vec<&str> = w.split('-').collect();
        (parts.len() > 1 && parts.iter().all(|p| !p.is_empty() && p.chars().all(char::is_alphabetic))).then(|| parts.concat())
    });
    text.unicode_words().filter_map(term).chain(joined.filter_map(|w| term(&w))).collect()
}

/// The kind of answer a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wants {
    Number,
    /// A number, a date or a weekday: "when is Dr Patel in?" is answered by "Sarah works Monday
    /// to Thursday.".
    Time,
    Name,
    Anything,
}

/// A contact detail a customer asks for: where the business is, its phone number, its email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact {
    Address,
    Phone,
    Email,
}

impl Contact {
    /// A line that gives this detail, as a business writes it: searched for beside the question
    /// (the question "what is your phone number?" is far, in meaning and words, from "… just
    /// call us on 555-0142 …" in a booking FAQ, which retrieval alone does not find).
    pub fn example(self) -> &'static str {
        match self {
            Contact::Address => "You will find us at 12 Main Street, on the corner of Station Road.",
            Contact::Phone => "Call us on 555-0100 or phone our number.",
            Contact::Email => "Email us at hello@example.com.",
        }
    }
}

/// The contact detail a question asks for: "where are you?", "whr r u located", "what's your
/// address?", "where is the shop?" (not where something else is: "where is the toilet?");
/// "what is your phone number?", "can i call you"; "whats ur email".
pub fn asks_for(question: &str) -> Option<Contact> {
    use unicode_segmentation::UnicodeSegmentation;
    let words: Vec<String> = question.unicode_words().map(str::to_lowercase).collect();
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    let you = has(&["you", "u", "ya", "your", "ur", "yours"]);
    // Whether every content word of the question is one of `list` (or a word like "exactly"):
    // "do you send an email confirmation?" asks about confirmations, not for the address.
    let only = |list: &[&str]| words.iter().filter_map(|w| term(w)).all(|t| list.iter().chain(["exact", "exactly", "get", "find", "contact", "reach", "best", "again", "whr", "wher", "wheres"].iter()).any(|l| stem(l) == t));
    // "where is the bistro?": the business by what it is.
    const PLACES: &[&str] = &["shop", "store", "studio", "bistro", "cafe", "café", "restaurant", "bakery", "garage", "workshop", "salon", "clinic", "surgery", "office", "gym", "hotel", "guesthouse", "deli", "business", "premises", "located", "location", "situated"];
    let where_word = words.first().is_some_and(|w| ["where", "whr", "wher", "where's", "wheres"].contains(&w.as_str()));
    let about_a_place = only(&[PLACES, &["address", "directions", "based"]].concat());
    if about_a_place && (has(&["address"]) || (you && (where_word || has(&["located", "location", "directions"]))) || (where_word && has(PLACES))) {
        return Some(Contact::Address);
    }
    let email = has(&["email"]) || question.to_lowercase().contains("e-mail");
    if email && only(&["email", "mail", "address", "send", "write", "e"]) {
        return Some(Contact::Email);
    }
    // "can i call you" / "whats ur number", not "can you call me when it's ready?".
    let call_you = words.windows(2).any(|w| ["call", "ring", "phone", "text"].contains(&w[0].as_str()) && ["you", "u", "ya"].contains(&w[1].as_str()));
    let number = you && has(&["number", "phone", "telephone", "tel"]);
    if (call_you || number || has(&["phone", "telephone"])) && only(&["phone", "telephone", "tel", "number", "call", "ring", "text", "mobile", "landline"]) {
        return Some(Contact::Phone);
    }
    None
}

/// Whether a sentence gives `what`.
fn gives(what: Contact, text: &str) -> bool {
    match what {
        Contact::Address => gives_address(text),
        Contact::Phone => gives_phone(text),
        Contact::Email => text.split_whitespace().any(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).split_once('@').is_some_and(|(a, d)| !a.is_empty() && d.contains('.'))),
    }
}

/// Whether a sentence gives an address: a number shortly before a street word ("at 14 Elm
/// Street", "18 Birch Lane"), or an address label ("Address: …").
fn gives_address(text: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    const STREET: &[&str] = &["street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "boulevard", "blvd", "square", "sq", "way", "drive", "dr", "place", "plaza", "court", "highway", "parkway"];
    if crate::retrieval::label(crate::retrieval::unmarked(text)).is_some_and(|l| ["address", "location", "find us", "where to find us"].contains(&l.to_lowercase().as_str())) {
        return true;
    }
    // (The street word capitalised, as in an address: "… within 5 km of the shop for $10 each
    // way" gives none.)
    let words: Vec<&str> = text.unicode_words().collect();
    let street = |w: &&str| w.chars().next().is_some_and(char::is_uppercase) && STREET.contains(&w.to_lowercase().as_str());
    words.iter().enumerate().any(|(i, w)| w.chars().all(|c| c.is_ascii_digit()) && words[i + 1..(i + 7).min(words.len())].iter().any(street))
}

/// Whether a sentence says where something is without an address: "next to the train station",
/// "a 10-minute walk from the harbour", "in the town centre".
fn says_where(text: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    const WHERE: &[&str] = &["near", "next", "opposite", "behind", "beside", "between", "corner", "walk", "minutes", "centre", "center", "station", "located", "situated", "floor", "above", "below", "across", "inside", "outside", "street", "road", "square", "village", "town", "city", "find", "directions", "map"];
    text.unicode_words().any(|w| WHERE.contains(&w.to_lowercase().as_str()))
}

/// Whether a sentence gives a phone number: seven digits or more written together, perhaps
/// with spaces, dashes, dots, brackets or a leading "+" ("555-0142", "+351 220 000 123"), not a
/// price, a time or a date.
fn gives_phone(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) || (chars[i] == '(' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let before = i.checked_sub(1).map(|b| chars[b]);
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || matches!(chars[j], ' ' | '-' | '.' | '(' | ')' | '+')) {
                j += 1;
            }
            let run: String = chars[i..j].iter().collect();
            let run = run.trim_end_matches([' ', '-', '.', '(']);
            let digits = run.chars().filter(char::is_ascii_digit).count();
            let groups: Vec<&str> = run.split('-').collect();
            let a_date = groups.len() == 3 && groups[0].len() == 4 && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()));
            if (7..=15).contains(&digits) && !before.is_some_and(|b| b.is_alphanumeric() || matches!(b, '$' | '€' | '£' | ':')) && !a_date {
                return true;
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    false
}

fn wants(question: &str) -> Wants {
    let q = question.to_lowercase();
    let starts = |p: &[&str]| p.iter().any(|w| q.contains(w));
    // "when" asks for a time where it opens a question ("when do you open?", "and when …"), not
    // in "what if I'm not home when the flowers arrive?".
    let when = q.starts_with("when ") || q.contains("and when ") || q.contains(", when ") || q.trim_end_matches(['?', ' ', '.', '!']).ends_with(" when");
    // (A clock time, not a day, is asked by "what time", "how late" …)
    if when || starts(&["what date", "until when", "till when", "когда", "cuándo", "کی "]) {
        Wants::Time
    } else if starts(&["how many", "how much", "how long", "how old", "how far", "what year", "which year", "what percentage", "what century", "what time", "the latest", "the earliest", "how late", "how early", "сколько", "cuánto", "cuántos", "چند"]) {
        Wants::Number
    } else if q.starts_with("who ") || q.contains(" who ") || q.starts_with("whom ") || q.starts_with("whose ") {
        Wants::Name
    } else {
        Wants::Anything
    }
}

/// Whether a text names a day: a weekday ("Sun", "Mondays"), "daily", "weekends", "every day",
/// "7 days a week", "public holidays" — what a question about a weekday wants: "Does Maya teach
/// on Thursday?" is not answered by "Maya Chen teaches Vinyasa Flow and Morning Hatha.", while
/// "Tuesday to Saturday, 8:00 to 17:00" answers "Are you open on Thursday?".
fn names_a_day(text: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    const SHORT: &[&str] = &["mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun"];
    const OTHER: &[&str] = &["daily", "day", "weekday", "week", "holiday", "nightly", "tonight", "today", "tomorrow"];
    text.unicode_words().any(|w| {
        let l = w.to_lowercase();
        let l = l.strip_suffix('s').unwrap_or(&l);
        weekday(w) || SHORT.contains(&l) || OTHER.contains(&l)
    })
}

/// Whether a text names one of the weekdays `asked` (stems) by itself, not as an end of a span:
/// "On Sundays we close early", "Saturday: 8–12", not "Tuesday to Saturday" or "Mon–Sat".
fn names_day_by_itself(text: &str, asked: &HashSet<String>) -> bool {
    const SPAN: &[&str] = &["to", "-", "–", "—", "until", "till", "through", "thru"];
    let tokens: Vec<&str> = text.split_whitespace().collect();
    tokens.iter().enumerate().any(|(i, tok)| {
        let word = tok.trim_matches(|c: char| !c.is_alphanumeric());
        let asked_day = weekday(word) && term(word).is_some_and(|t| asked.contains(&t));
        let joined = tok.contains(['-', '–', '—']);
        let spans = |j: Option<usize>| j.and_then(|j| tokens.get(j)).is_some_and(|n| SPAN.contains(&n.trim_matches(|c: char| c == ',' || c == ':')));
        asked_day && !joined && !spans(i.checked_sub(1)) && !spans(Some(i + 1))
    })
}

/// Whether a text names one weekday, and not one of `asked` (stems): "… our Prenatal Yoga class
/// on Thursday mornings …" is about Thursday, not the Sunday of "is there yoga on sunday
/// morning". Two or more days ("Monday to Friday") may be a span that holds the one asked.
fn names_another_day(text: &str, asked: &HashSet<String>) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    let days: HashSet<String> = text.unicode_words().filter(|w| weekday(w) && !w.to_lowercase().starts_with("weekend")).filter_map(term).collect();
    days.len() == 1 && !days.iter().any(|d| asked.contains(d))
}

fn has(kind: Wants, sentence: &str, question_terms: &HashSet<String>) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    match kind {
        Wants::Anything => true,
        Wants::Time => has(Wants::Number, sentence, question_terms) || sentence.unicode_words().any(|w| weekday(w) || ["mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun", "daily"].contains(&w.to_lowercase().as_str())),
        Wants::Number => {
            sentence.chars().any(|c| c.is_ascii_digit())
                || sentence.unicode_words().any(|w| {
                    let l = w.to_lowercase();
                    ["century", "centuries", "decade", "hundred", "thousand", "million", "billion", "twice", "several", "few", "dozen"].contains(&l.as_str())
                        || ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"].contains(&l.as_str())
                        || ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "twenty", "thirty", "forty", "fifty"].contains(&l.as_str())
                })
        }
        // A capitalised word past the first that the question doesn't have.
        Wants::Name => sentence.unicode_words().skip(1).any(|w| w.chars().next().is_some_and(char::is_uppercase) && !question_terms.contains(&stem(w))),
    }
}

/// Scores `sentences` (hit index, position, text) for `question`. `cosine[i]` is sentence i's
/// similarity to the question (none: meaning is left out), `passage[h]` hit h's retrieval
/// similarity. Pure; the ranking best first.
///
/// Hits from `primary` on were read only for a sentence that answers by itself (a passage far
/// from the question, a contact detail): they do not count in how rare a word is, so reading
/// them changes no other sentence's score.
pub fn rank(question: &str, sents: &[(usize, usize, String)], cosine: Option<&[f32]>, passage: &[f32], headings: &[String], primary: usize, tuning: Tuning) -> Vec<Scored> {
    // "time" in "what time …?" is the kind of answer asked for, as "when" is, seldom a word of
    // the answer ("It is served … from 8 am to 9:30 am.").
    let asked_kind: Vec<String> = ["time", "year"].iter().filter(|w| question.to_lowercase().contains(&format!("what {w}"))).map(|w| stem(w)).collect();
    let q_terms: Vec<String> = {
        let mut seen = HashSet::new();
        terms(question).into_iter().filter(|t| !asked_kind.contains(t) && seen.insert(t.clone())).collect()
    };
    let q_set: HashSet<String> = q_terms.iter().cloned().collect();
    // What a complete answer holds: the question's words, for an English one (the stop words
    // that leave out "how", "the" and "do" are English: a Spanish question's "los" and "cuánto"
    // are in no answer, so any answer to it would be incomplete).
    let english = super::language::said(question).clearly().is_none_or(|l| l == "en");
    let specifics: HashSet<String> = {
        use unicode_segmentation::UnicodeSegmentation;
        question.unicode_words().enumerate().filter(|(i, w)| specific(w, *i == 0)).filter_map(|(_, w)| term(w)).collect()
    };
    let dates: HashSet<String> = {
        use unicode_segmentation::UnicodeSegmentation;
        question.unicode_words().filter(|w| dated(w)).filter_map(term).collect()
    };
    // A question about a weekday ("weekend" is one) wants an answer that names a day.
    // (or about which days: "what days is the exotics vet in")
    let about_a_weekday = {
        use unicode_segmentation::UnicodeSegmentation;
        let words: Vec<String> = question.unicode_words().map(str::to_lowercase).collect();
        words.iter().any(|w| weekday(w)) || words.windows(2).any(|w| ["what", "which"].contains(&w[0].as_str()) && ["day", "days"].contains(&w[1].as_str()))
    };
    let mut owns: Vec<HashSet<String>> = sents.iter().map(|(_, _, t)| terms(t).into_iter().collect()).collect();
    // A menu's marks hold the words its key gives them: "Mushroom Risotto (V, GF, D)" holds
    // "gluten" and "free" when a line says "(GF) gluten-free".
    let key: HashMap<String, Vec<String>> = sents.iter().flat_map(|(_, _, t)| legend(t)).map(|(mark, words)| (mark, terms(&words))).collect();
    if !key.is_empty() {
        for (own, (_, _, text)) in owns.iter_mut().zip(sents) {
            for mark in marks(text) {
                if let Some(words) = key.get(mark) {
                    own.extend(words.iter().cloned());
                }
            }
        }
    }
    // A price is what "cost", "fee" or "charge" asks for: "Room: The Anchor Room … | Low
    // season (Nov–Mar): £85 …" holds the "cost" of "how much does a room cost?" as much as "A
    // lost room key costs £20 to replace." does.
    // (Not when the question names something the passages never do: "How much do you charge to
    // replace a derailleur?" is not answered by "Chain replacement …: $15".)
    let cost_words: Vec<String> = q_terms.iter().filter(|t| synonyms(t, &stem("cost")) || t.as_str() == stem("cost")).cloned().collect();
    let named_nowhere = q_terms.iter().filter(|t| !cost_words.contains(t) && !t.chars().any(char::is_numeric)).any(|t| !owns.iter().any(|own| own.iter().any(|o| same(t, o))));
    if !cost_words.is_empty() && !named_nowhere {
        for (own, (_, _, text)) in owns.iter_mut().zip(sents) {
            if gives_price(text) {
                own.extend(cost_words.iter().cloned());
            }
        }
    }
    // A time of day holds the part of the day it is in: "Sunday: 10:00 — Slow Flow" holds the
    // "morning" of "is there yoga on sunday morning", "Sunday: 17:00 — Yin Yoga" does not.
    for (part, from, to) in [("morning", 5, 12), ("afternoon", 12, 17), ("evening", 17, 23), ("lunchtime", 11, 14)] {
        let t = stem(part);
        if q_terms.contains(&t) {
            for (own, (_, _, text)) in owns.iter_mut().zip(sents) {
                if clock_hours(text).iter().any(|h| (from..to).contains(h)) {
                    own.insert(t.clone());
                }
            }
        }
    }
    // "Priya works weekends and evenings." is about the Saturday of "manual lessons on a
    // Saturday?", "Saturday and Sunday: 10–4" about the weekend of "open at the weekend?".
    // (Not when a line names the day by itself: "On Sundays we close early …" answers "is the
    // kitchen open late on sundays?", not "We open … at 9 on weekends". A span, "Tuesday to
    // Saturday", holds it as "weekends" does.)
    let (saturday, sunday, weekend) = (stem("saturday"), stem("sunday"), stem("weekend"));
    let by_itself = sents.iter().any(|(_, _, t)| names_day_by_itself(t, &dates));
    for own in owns.iter_mut().filter(|_| !by_itself) {
        if own.contains(&weekend) {
            own.extend([&saturday, &sunday].into_iter().filter(|d| q_set.contains(*d)).cloned());
        } else if own.contains(&saturday) && own.contains(&sunday) && q_set.contains(&weekend) {
            own.insert(weekend.clone());
        }
    }
    // A place asked by a name no passage holds is what a sentence about places abroad speaks of:
    // "We do not offer international delivery - we only deliver in the UK." holds the "France"
    // of "can you deliver flowers to France?" ("If nobody is home when we deliver, we leave the
    // flowers …" holds the rest of it), "Courtesy cars cannot be taken abroad." that of "can I
    // take the loan car to France?". (Not a weekday or a month; nor two letters, the "Wi" of
    // "Wi-Fi".)
    let unknown: Vec<String> = specifics.iter().filter(|t| !dates.contains(*t) && t.chars().count() >= 3 && !owns.iter().any(|own| own.iter().any(|o| same(t, o)))).cloned().collect();
    if !unknown.is_empty() {
        let abroad: HashSet<String> = ["abroad", "international", "internationally", "overseas", "foreign"].iter().map(|w| stem(w)).collect();
        for own in owns.iter_mut().filter(|own| own.iter().any(|o| abroad.contains(o))) {
            own.extend(unknown.iter().cloned());
        }
    }
    // A sentence that goes on about the one before by a pronoun, or by the name it opened with
    // ("Priya teaches … Priya works weekends …"; in an English question: "Un pastel … Un pastel …"
    // opens with an article), holds its words too: "It is
    // served in the dining room from 8 am to 9:30 am." after "Breakfast is included in every
    // room rate." is about breakfast.
    // (What a sentence says by itself: one that holds the question's words only with those of
    // the sentence before is quoted with it — "Tom works Tuesday to Saturday." does not say
    // Tom teaches automatic.)
    let unborrowed = owns.clone();
    for i in 1..sents.len() {
        if sents[i].0 == sents[i - 1].0 && sents[i].1 == sents[i - 1].1 + 1 && (refers_back(&sents[i].2) || (english && same_subject(&sents[i - 1].2, &sents[i].2))) {
            let before = owns[i - 1].clone();
            owns[i].extend(before);
        }
    }
    let bags: Vec<HashSet<String>> = sents.iter().zip(&owns).map(|((h, _, _), own)| own.iter().cloned().chain(headings.get(*h).map(|x| terms(x)).unwrap_or_default()).collect()).collect();
    let holds = |bag: &HashSet<String>, t: &String| bag.iter().any(|b| same(t, b));
    let counted: Vec<&HashSet<String>> = bags.iter().zip(sents).filter(|(_, (h, _, _))| *h < primary).map(|(b, _)| b).collect();
    let n = counted.len().max(1) as f32;
    let idf = |t: &String| {
        let df = counted.iter().filter(|b| b.contains(t)).count() as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    };
    let weights: Vec<f32> = q_terms.iter().map(idf).collect();
    let total: f32 = weights.iter().sum::<f32>().max(1e-6);
    // The question's common words: not its specific ones, nor its numbers ("for a 20 euro order"
    // is a value the answer applies to, seldom a word it holds).
    let common = q_terms.iter().zip(&weights).filter(|(t, _)| !specifics.contains(*t) && !t.chars().any(char::is_numeric));
    let common_total: f32 = common.clone().map(|(_, w)| w).sum::<f32>().max(1e-6);
    // An FAQ entry whose reply is about something its question names and the customer's does not
    // ("Can I bring my own wine?" / "Yes, you can bring your own bottle of wine."), while the
    // customer asks about something the entry never names but the sources do elsewhere ("can I
    // bring my own beer?", with "Local Craft Beer, pint" on the menu), answers another question:
    // its every sentence counts half, as a question in the sources does. (A word the sources
    // never name may be another word for what the entry does: "gift vouchers" / "gift cards".)
    let elsewhere: HashSet<usize> = {
        let mut out = HashSet::new();
        for (h, heading) in headings.iter().enumerate() {
            if !asks(heading) {
                continue;
            }
            let own: Vec<usize> = (0..sents.len()).filter(|&i| sents[i].0 == h).collect();
            let entry: HashSet<String> = own.iter().flat_map(|&i| owns[i].iter().cloned()).chain(terms(heading)).collect();
            let named_elsewhere = |t: &String| (0..sents.len()).any(|i| sents[i].0 != h && holds(&owns[i], t));
            let unnamed = common.clone().any(|(t, _)| !t.chars().any(char::is_numeric) && !holds(&entry, t) && named_elsewhere(t));
            let theirs: Vec<String> = terms(heading).into_iter().filter(|t| !q_set.iter().any(|q| same(q, t))).collect();
            let replies_about_theirs = own.iter().any(|&i| yes_or_no(&sents[i].2) && theirs.iter().any(|t| holds(&owns[i], t)));
            if unnamed && replies_about_theirs {
                out.insert(h);
            }
        }
        out
    };
    // An FAQ entry whose question holds every common word of the customer's and no other ("can i
    // book a table for 4" / "Can I book a table?"; not "How do I book a class?" for "is there a
    // class at 7am?") is answered by its reply, whatever words the reply uses
    // ("We take reservations for groups of 6 or more … For smaller tables we don't take
    // reservations …"): the owner wrote it for this question.
    let answered_entry: HashSet<usize> = headings
        .iter()
        .enumerate()
        .filter(|(_, headings)| {
            let heading = headings.lines().last().unwrap_or_default();
            let own: Vec<String> = terms(heading);
            let own_set: HashSet<String> = own.iter().cloned().collect();
            asks(heading) && common.clone().next().is_some() && common.clone().all(|(t, _)| holds(&own_set, t)) && own.iter().all(|t| holds(&q_set, t))
        })
        .map(|(h, _)| h)
        .collect();
    // Whether a sentence holds the weekday asked and something else asked: then one about
    // another day answers less (see [`names_another_day`]); else it may be the answer ("Every
    // Friday … a local jazz trio plays" for "do you have jazz on saturdays too?").
    let day_answered = (0..sents.len()).any(|i| dates.iter().any(|t| holds(&owns[i], t)) && common.clone().any(|(t, _)| holds(&owns[i], t)));
    // A yes/no question naming what no passage does: a "Yes" or "No" in them replies to
    // another question ([`Scored::replies_another`]).
    let unnamed = polar(question) && common.clone().any(|(t, _)| !t.chars().any(char::is_numeric) && !bags.iter().any(|b| holds(b, t)));
    // The words of the customer's yes/no question that an FAQ entry's question lacks: a "Yes" or
    // "No" lacking them too replies to another question.
    let entry_lacks: HashMap<usize, Vec<String>> = headings
        .iter()
        .enumerate()
        .filter(|_| polar(question))
        .filter_map(|(h, heading)| {
            let asked = heading.lines().last().unwrap_or_default();
            let own: HashSet<String> = terms(asked).into_iter().collect();
            let lacks: Vec<String> = common.clone().filter(|(t, _)| !t.chars().any(char::is_numeric) && !holds(&own, t)).map(|(t, _)| t.clone()).collect();
            (asks(asked) && !lacks.is_empty()).then_some((h, lacks))
        })
        .collect();
    // A price asked: "cost", "fee" … or "how much" where the passages give prices ("How much
    // land …" in an article asks for an amount, "how much is a men's cut with Marco?" in a salon's
    // sources for a price). A sentence giving none, nor saying it is free or offering a price off
    // ([`offer`]: "first month at half price"), is not the answer:
    // "Marco works Monday to Friday, with late appointments on Thursdays until 8 pm."
    let extreme = extreme_asked(question);
    let price_asked = !cost_words.is_empty() || extreme.is_some() || (question.to_lowercase().contains("how much") && sents.iter().any(|(_, _, t)| gives_price(t)));
    let kind = wants(question);
    let contact = asks_for(question);
    let non_latin = crate::retrieval::analysis::mostly_non_latin(question);
    // A row of a list or table is about the thing its first cell names ([`row_item`]): "Cat
    // spay" in "Treatment: Cat spay | Price: £120". One naming something the question does not
    // ("cat") is about another thing than the question, when the question names something the row
    // lacks that another row of its list names ("how much to spay my dog", with "Dog neuter" two
    // rows down): its every word counts half. (Not when the sources name the question's word
    // nowhere: "how much is a full groom for a labrador?" is answered by the full groom's row,
    // "what's your soup today?" by "Soup of the Day with bread …".) One naming more than the question is less exact than a row naming just
    // what was asked: "Repeat consultation | £28" beside "Consultation | £48" for "whats the price
    // for a consult".
    let items: &Vec<Option<HashSet<String>>> = &sents.iter().map(|(_, _, t)| row_item(t)).collect();
    let named_beyond = |i: usize| items[i].as_ref().is_some_and(|item| item.iter().any(|t| !holds(&q_set, t)));
    let siblings = |i: usize| (0..sents.len()).filter(move |&j| j != i && sents[j].0 == sents[i].0 && items[j].is_some());
    // (What tells rows apart, as "dog" and "cat" do a vet's rows, is named by rows of two or more
    // things: "hour" named by "Block of 10 hours" alone does not make "Single lesson | 90 minutes
    // | £55" another thing than "is the 90 minute lesson cheaper per hour?" asks about.)
    let another_item: Vec<bool> = (0..sents.len())
        .map(|i| {
            let Some(own) = &items[i] else { return false };
            // The other things naming `t` (and not `but`).
            let naming = |t: &String, but: Option<&String>| {
                let mut things: Vec<&HashSet<String>> = Vec::new();
                for item in siblings(i).filter_map(|j| items[j].as_ref()).filter(|item| *item != own && holds(item, t) && !but.is_some_and(|b| holds(item, b))) {
                    if !things.contains(&item) {
                        things.push(item);
                    }
                }
                things.len()
            };
            // (A word of its own that the row naming `t` shares tells nothing apart: "House Wine,
            // glass (red, white or rosé)" and "House Wine, bottle (red, white or rosé)" for "and a
            // glass?" after the bottle's price; "Brake pads - rear axle" and "… - front axle".)
            let tells_apart = |t: &String| own.iter().any(|b| !holds(&q_set, b) && naming(b, Some(t)) > 0);
            named_beyond(i) && common.clone().any(|(t, _)| !holds(&owns[i], t) && (naming(t, None) > 1 || (naming(t, None) == 1 && tells_apart(t))))
        })
        .collect();
    let less_exact: Vec<bool> = (0..sents.len()).map(|i| named_beyond(i) && siblings(i).any(|j| !named_beyond(j) && common.clone().all(|(t, _)| holds(&owns[j], t)))).collect();
    // A short yes/no question about a name that one sentence alone holds ("do you cover
    // Wetherby" / "… we can't take jobs in places like Wetherby or Otley."): that sentence is
    // about it, however far the rest of its words. (Not a longer question, nor one asking for a
    // fact about the name, as an article's reader asks: "Who was Janet Gray married to?" is not
    // answered by a sentence naming her.)
    let asked_names: Vec<&String> = specifics.iter().filter(|t| !dates.contains(*t)).collect();
    let short_question = polar(question) && common.clone().count() <= 2;
    let rare_name: Vec<bool> = (0..sents.len())
        .map(|i| short_question && !asked_names.is_empty() && asked_names.iter().all(|t| owns[i].contains(*t)) && asked_names.iter().any(|t| owns.iter().filter(|o| o.contains(*t)).count() == 1))
        .collect();
    // (An entry whose question holds half the customer's words or more, weighted by how rare
    // they are: a passage's score counts its words too, and "How do I pay?" / "You can pay by
    // bank transfer …" is close to "can you clean on a bank holiday" by "bank" alone; "How old do
    // I have to be to start lessons?" shares only a driving school's everyday "lessons" with "is
    // there a minimum number of lessons?".)
    let faq_entry: HashSet<usize> = headings
        .iter()
        .enumerate()
        .filter(|(_, heading)| {
            let asked = heading.lines().last().unwrap_or_default();
            let own: HashSet<String> = terms(asked).into_iter().collect();
            asks(asked) && common.clone().filter(|(t, _)| holds(&own, t)).map(|(_, w)| w).sum::<f32>() >= 0.25 * common_total
        })
        .map(|(h, _)| h)
        .collect();
    let mut out: Vec<Scored> = sents
        .iter()
        .enumerate()
        .map(|(i, (h, idx, text))| {
            let lexical = q_terms.iter().zip(&weights).filter(|(t, _)| bags[i].contains(*t) || owns[i].iter().any(|b| synonyms(t, b))).map(|(_, w)| w).sum::<f32>() / total;
            let topic = common.clone().filter(|(t, _)| holds(&owns[i], t)).map(|(_, w)| w).sum::<f32>() / common_total;
            let specific = specifics.iter().any(|t| holds(&owns[i], t));
            let dated = dates.iter().any(|t| holds(&owns[i], t));
            let n_common = common.clone().count();
            let shared = if n_common == 0 { 0.0 } else { common.clone().filter(|(t, _)| holds(&owns[i], t)).count() as f32 / n_common as f32 };
            let label: HashSet<String> = crate::retrieval::label(crate::retrieval::unmarked(text)).map(|l| terms(l).into_iter().collect()).unwrap_or_default();
            // (A line of a list or a short one — up to 20 words when it holds every word asked: in
            // prose, a long sentence holding every word of a question is as often one the
            // question was made from by changing its point.)
            let n_words = text.split_whitespace().count();
            let short = is_item(text) || n_words <= 12 || (shared >= 1.0 && n_words <= 20);
            let detail = contact.is_some_and(|c| gives(c, text));
            let entry = answered_entry.contains(h);
            let worded = (topic >= 0.5 && common.clone().any(|(t, _)| holds(&label, t))) || (topic >= 0.9 && n_common >= 2 && short) || detail || entry || rare_name[i];
            // A reply in an FAQ entry means what its question asks, whatever its own words: "No.
            // Many of our customers give us a key …" under "Do I need to be at home during the
            // clean?" is as close to "do I have to be in when you clean" as the entry is.
            let dense = cosine.map_or(0.0, |c| c[i]);
            let dense = if faq_entry.contains(h) { dense.max(passage.get(*h).copied().unwrap_or(0.0)) } else { dense };
            let mut score = tuning.dense * dense + tuning.lexical * lexical + tuning.passage * passage.get(*h).copied().unwrap_or(0.0);
            if entry {
                score = score.max(tuning.alone) + 0.1;
            }
            if rare_name[i] {
                score = score.max(tuning.alone) + 0.05;
            }
            // A sentence with nothing beyond the question's own words can't be its answer.
            let new_words = bags[i].iter().any(|t| !q_set.contains(t));
            if !new_words {
                score *= 0.5;
            }
            if !has(kind, text, &q_set) {
                score *= tuning.wrong_type;
            }
            // (A surcharge or an offer changes another row's price: quoted beside it, it is not about
            // another thing — [`Scored::adds_to_price`].)
            if another_item[i] && !changes_price(text) {
                score *= 0.5;
            } else if less_exact[i] {
                score *= tuning.wrong_type;
            }
            if price_asked && !gives_price(text) && !says_free(text) && !offer(text) {
                score *= tuning.wrong_type;
            }
            if about_a_weekday && ((!names_a_day(text) && !headings.get(*h).is_some_and(|x| names_a_day(x))) || (day_answered && names_another_day(text, &dates))) {
                score *= tuning.wrong_type;
            }
            // "where are you?" is answered by the address, however far its words and meaning
            // ("… a small, friendly yoga studio at 42 Elm Street …" is 0.08 from "what is your
            // address"), "what is your phone number?" by a number to call; a line holding the
            // question's one word ("Full Bistro Breakfast" for "where is the bistro?") is not.
            if detail {
                score = score.max(tuning.alone) + 0.15;
            } else if contact == Some(Contact::Address) && !says_where(text) {
                // "Our shop is open Tuesday to Saturday …" holds the "shop" of "where is your
                // shop?" and says nothing of where it is.
                score *= 0.5;
            } else if contact.is_some() {
                score *= tuning.wrong_type;
            }
            // A question ("Do you deliver on Sundays?" in an FAQ kept as plain text) or a title
            // ("Quotes and estimates", a PDF's heading line) says nothing by itself: quoted, it
            // answers nothing.
            let next = sents.get(i + 1).filter(|(nh, nidx, _)| nh == h && *nidx == idx + 1).map(|_| &owns[i + 1]);
            // A menu's key ("Key: (V) vegetarian, (GF) gluten-free.") says what its marks mean,
            // not what is in a dish: "is the burger gluten free?" is not answered by it (unless it
            // is asked what a mark means: "what does GF mean?").
            let a_key = !legend(text).is_empty() && !marks_asked(question, text);
            if asks(text) || next.is_some_and(|next| names(text, &owns[i], next)) || elsewhere.contains(h) || a_key {
                score *= 0.5;
            }
            // The local embedder (all-MiniLM-L6-v2) learnt English: for a question in Cyrillic or
            // Arabic script its similarity says little (any two Persian texts look alike to it),
            // so there a sentence sharing none of the question's words is not its answer.
            if non_latin && lexical == 0.0 {
                score *= 0.5;
            }
            // (The line giving a phone number or an e-mail address asked for holds what was
            // asked: "Call us on 555-0199." needs no paragraph around it. An address's paragraph
            // often says how to get there: "… and the number 12 bus stops outside.")
            let complete = !english || (detail && contact != Some(Contact::Address)) || q_terms.iter().all(|t| holds(&unborrowed[i], t));
            Scored { hit: *h, index: *idx, line: *idx, text: text.clone(), score, dense, topic, shared, specific, dated, worded, complete, terms: owns[i].clone(), adds_to_price: false, names_days: about_a_weekday && names_a_day(text), replies_another: (unnamed || entry_lacks.get(h).is_some_and(|lacks| lacks.iter().any(|t| !holds(&owns[i], t)))) && yes_or_no(text) }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    if let Some(best) = out.first().filter(|b| price_asked && gives_price(&b.text)).map(|b| b.terms.clone()) {
        for s in out.iter_mut().skip(1) {
            s.adds_to_price = changes_price(&s.text) && common.clone().any(|(t, _)| !t.chars().any(char::is_numeric) && holds(&s.terms, t) && !holds(&best, t));
        }
    }
    // "what's the cheapest unit?" over a price list: its line with the lowest price answers it
    // ("Unit: Locker | … | Monthly price (£): 25"), though it is no closer to the question than
    // the list's other lines; "most expensive", the highest. The lines are those of the list
    // holding the best price line, holding as much of what else was asked ("cheapest cake" is
    // the cheapest of the cakes).
    if let Some(lowest) = extreme {
        let row = |s: &Scored| gives_price(&s.text) && (is_item(&s.text) || crate::retrieval::label(&s.text).is_some());
        if let Some((hit, topic, top)) = out.iter().find(|s| row(s)).map(|s| (s.hit, s.topic, out[0].score)) {
            let priced = out.iter().enumerate().filter(|(_, s)| s.hit == hit && row(s) && s.topic >= topic - 1e-6).filter_map(|(i, s)| amount(&s.text).map(|a| (i, a)));
            let priced: Vec<(usize, f64)> = priced.collect();
            let pick = if lowest { priced.iter().min_by(|a, b| a.1.total_cmp(&b.1)) } else { priced.iter().max_by(|a, b| a.1.total_cmp(&b.1)) };
            if let (Some(&(i, _)), true) = (pick, priced.len() > 1) {
                out[i].score = top.max(tuning.alone) + 0.15;
                out[i].worded = true;
                out.sort_by(|a, b| b.score.total_cmp(&a.score));
            }
        }
    }
    out
}

/// What a row of a list or table names, as stems: its first cell's value in a table's row ("Cat
/// spay" in "Treatment: Cat spay | Price: £120"), a list item's label ("Espresso" in "- Espresso:
/// £2.20") or its words before a number ("Carrot cake" in "- Carrot cake — £3.80"). Weekdays,
/// months and numbers are left out: a timetable's "- Monday: 07:00 — Morning Hatha" names a
/// class, not a thing on sale. None for a line that is not a row.
fn row_item(text: &str) -> Option<HashSet<String>> {
    let table = text.contains(" | ");
    let line = match crate::retrieval::list_marker(text) {
        Some((_, rest)) => rest,
        None if table => text.trim(),
        None => return None,
    };
    let first = line.split(" | ").next().unwrap_or_default();
    let name = match (table, first.split_once(": ")) {
        (true, Some((_, value))) => value,
        (false, Some((label, _))) => label,
        _ => first.split(|c: char| c.is_ascii_digit() || matches!(c, '$' | '£' | '€' | '¥')).next().unwrap_or_default(),
    };
    // (A name's explanation in brackets is not what it names: "Oil change (up to 5 litres
    // synthetic oil + filter)", "House Wine, glass (red, white or rosé)".)
    let name = name.split(" (").next().unwrap_or_default();
    use unicode_segmentation::UnicodeSegmentation;
    let item: HashSet<String> = name.unicode_words().filter(|w| !dated(w) && !w.chars().any(char::is_numeric)).filter_map(term).collect();
    (!item.is_empty()).then_some(item)
}

/// Whether a question asks for the lowest price ("what's your cheapest room?", "least
/// expensive") — `Some(true)` — or the highest ("most expensive", "priciest") — `Some(false)`.
fn extreme_asked(question: &str) -> Option<bool> {
    use unicode_segmentation::UnicodeSegmentation;
    let words: Vec<String> = question.unicode_words().map(str::to_lowercase).collect();
    let pair = |a: &str, b: &[&str]| words.windows(2).any(|w| w[0] == a && b.contains(&w[1].as_str()));
    if words.iter().any(|w| w == "cheapest") || pair("least", &["expensive"]) || pair("most", &["affordable"]) || pair("lowest", &["price", "prices", "cost"]) {
        Some(true)
    } else if words.iter().any(|w| w == "priciest" || w == "dearest") || pair("most", &["expensive"]) || pair("highest", &["price", "prices", "cost"]) {
        Some(false)
    } else {
        None
    }
}

/// The first amount a price line gives ([`gives_price`]): 25 for "Monthly price (£): 25", 1050
/// for "£1,050", 12.5 for "12.50€".
fn amount(text: &str) -> Option<f64> {
    let chars: Vec<char> = text.chars().collect();
    let number = |from: usize| -> Option<f64> {
        let digits: String = chars[from..].iter().take_while(|c| c.is_ascii_digit() || **c == '.' || **c == ',').filter(|c| **c != ',').collect();
        digits.trim_end_matches('.').parse().ok()
    };
    for (i, c) in chars.iter().enumerate() {
        if !matches!(c, '$' | '£' | '€' | '¥') {
            continue;
        }
        if let Some(j) = (i + 1..(i + 5).min(chars.len())).find(|&j| chars[j].is_ascii_digit()).filter(|&j| chars[i + 1..j].iter().all(|c| matches!(c, ' ' | ')' | ':'))) {
            return number(j);
        }
        if let Some(start) = (0..i).rev().take_while(|&k| chars[k].is_ascii_digit() || chars[k] == '.' || chars[k] == ',').last() {
            return number(start);
        }
    }
    None
}

/// Whether a price line is a surcharge on another price: "£3 more per hour", "Extra charge on
/// top of the manual price", "a £10 supplement".
fn surcharge(text: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    let words: Vec<String> = text.unicode_words().map(str::to_lowercase).collect();
    words.iter().any(|w| ["extra", "more", "surcharge", "supplement", "additional"].contains(&w.as_str())) || words.windows(2).any(|w| w[0] == "on" && w[1] == "top")
}

/// Whether a line changes another line's price: a surcharge with its amount ("£3 more per hour")
/// or an offer ("first month at half price").
fn changes_price(text: &str) -> bool {
    gives_price(text) && surcharge(text) || offer(text)
}

/// Whether a line offers a price off another: "first month at half price", "a 10% discount",
/// "20% off", "reduced rates for students".
fn offer(text: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    let words: Vec<String> = text.unicode_words().map(str::to_lowercase).collect();
    let percent = text.chars().collect::<Vec<_>>().windows(2).any(|w| w[0].is_ascii_digit() && w[1] == '%');
    words.iter().any(|w| ["discount", "discounted", "discounts", "reduced", "concession", "concessions"].contains(&w.as_str()))
        || words.windows(2).any(|w| w[0] == "half" && ["price", "priced", "off"].contains(&w[1].as_str()))
        || (percent && words.iter().any(|w| w == "off"))
}

/// The marks a line defines, as a menu's key does: "Key: (V) vegetarian, (VG) vegan, (GF)
/// gluten-free." or "Contains: N = nuts, D = dairy" — two or more marks of one to four capital
/// letters, each with a few words, the line beginning with them or a word or two ("Key:").
/// Prose that explains abbreviations in passing ("… the Internet Protocol (IP) at the network
/// layer, and the Asynchronous Transfer Mode (ATM) …") is not a key.
fn legend(text: &str) -> Vec<(String, String)> {
    let mark = |m: &str| (1..=4).contains(&m.len()) && m.chars().all(|c| c.is_ascii_uppercase());
    let words = |rest: &str| rest.split([',', ';', '.', '(']).next().unwrap_or_default().trim().to_owned();
    let mut out: Vec<(usize, String, String)> = Vec::new();
    // "(GF) gluten-free"
    for (i, _) in text.match_indices('(') {
        if let Some((m, rest)) = text[i + 1..].split_once(')')
            && mark(m)
        {
            let w = words(rest);
            if !w.is_empty() && w.chars().any(char::is_lowercase) {
                out.push((i, m.to_owned(), w));
            }
        }
    }
    // "N = nuts"
    let mut at = 0;
    for part in text.split([',', ';', ':']) {
        if let Some((m, w)) = part.split_once('=')
            && mark(m.trim())
        {
            let w = words(w);
            if !w.is_empty() {
                out.push((at + part.find(m.trim()).unwrap_or(0), m.trim().to_owned(), w));
            }
        }
        at += part.len() + 1;
    }
    let first = out.iter().map(|(i, _, _)| *i).min().unwrap_or(0);
    let keyed = out.len() >= 2 && out.iter().all(|(_, _, w)| w.split_whitespace().count() <= 3) && text[..first.min(text.len())].split_whitespace().count() <= 2;
    if keyed { out.into_iter().map(|(_, m, w)| (m, w)).collect() } else { Vec::new() }
}

/// Whether `question` names one of the marks `key` defines ("what does GF mean?").
fn marks_asked(question: &str, key: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    let defined = legend(key);
    question.unicode_words().any(|w| defined.iter().any(|(m, _)| m == w))
}

/// The marks in a line's brackets: "V", "GF" and "D" of "Mushroom Risotto (V, GF, D)".
fn marks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('(') {
        let Some((inside, after)) = rest[i + 1..].split_once(')') else { break };
        out.extend(inside.split([',', '/', ' ']).map(str::trim).filter(|m| (1..=4).contains(&m.len()) && m.chars().all(|c| c.is_ascii_uppercase())));
        rest = after;
    }
    out
}

/// The hours (0–23) of the times of day a text gives: "10:00", "18:30", "7am", "6 pm", "9.30 am".
fn clock_hours(text: &str) -> Vec<u32> {
    let words: Vec<String> = text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '–' | '—')).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let w = w.trim_end_matches(['.', '!', '?']);
        let (num, suffix) = match w.find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.')) {
            Some(at) => w.split_at(at),
            None => (w, ""),
        };
        let suffix = if suffix.is_empty() { words.get(i + 1).map(|n| n.trim_end_matches(['.', ','])).unwrap_or_default() } else { suffix };
        let pm = matches!(suffix, "pm" | "p.m");
        let am = matches!(suffix, "am" | "a.m");
        let hour: Option<u32> = match num.split_once([':', '.']) {
            Some((h, m)) if m.len() == 2 && m.chars().all(|c| c.is_ascii_digit()) => h.parse().ok(),
            None if (am || pm) && !num.is_empty() => num.parse().ok(),
            _ => None,
        };
        if let Some(h) = hour.filter(|h| *h <= 23) {
            out.push(if pm && h < 12 { h + 12 } else if am && h == 12 { 0 } else { h });
        }
    }
    out
}

/// Whether a sentence gives a price: an amount with a currency sign ("£85", "$ 12", "12€") or
/// word ("4 euros", "30 EUR").
fn gives_price(text: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    let chars: Vec<char> = text.chars().collect();
    let signed = chars.iter().enumerate().any(|(i, c)| {
        // "£5", "£ 5", "5€", and a column's currency in its label: "Monthly price (£): 95".
        matches!(c, '$' | '£' | '€' | '¥') && (chars.get(i + 1).is_some_and(char::is_ascii_digit) || chars.get(i + 2).is_some_and(char::is_ascii_digit) || i.checked_sub(1).is_some_and(|b| chars[b].is_ascii_digit()) || chars.get(i + 1..(i + 5).min(chars.len())).is_some_and(|after| after.starts_with(&[')', ':']) && after.iter().any(char::is_ascii_digit)))
    });
    let words: Vec<&str> = text.unicode_words().collect();
    // A share off or of a price ("20% off any pass") is one too.
    let percent = chars.windows(2).any(|w| w[0].is_ascii_digit() && w[1] == '%');
    signed || percent || words.windows(2).any(|w| w[0].chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',') && w[0].chars().any(|c| c.is_ascii_digit()) && ["euro", "euros", "eur", "dollar", "dollars", "usd", "pound", "pounds", "gbp", "pence", "cents"].contains(&w[1].to_lowercase().as_str()))
}

/// Whether a sentence says something costs nothing: "free", "included", "no (cover) charge".
fn says_free(text: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    let l = text.to_lowercase();
    let words: Vec<&str> = l.unicode_words().collect();
    let nothing = |i: usize| words[i + 1..(i + 4).min(words.len())].iter().any(|w| ["charge", "charges", "fee", "fees", "cost", "extra"].contains(w));
    words.iter().any(|w| ["free", "included", "includes", "complimentary", "gratis"].contains(w)) || words.iter().enumerate().any(|(i, w)| *w == "no" && nothing(i))
}

/// Whether a sentence begins with a pronoun that stands for what the sentence before is about
/// ("It is served …", "They are valid for 12 months.").
fn refers_back(sentence: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    sentence.unicode_words().next().is_some_and(|w| ["it", "they", "this", "these", "he", "she", "its", "their", "his", "her"].contains(&w.to_lowercase().as_str()))
}

/// Whether a sentence goes on about the name the one before opens with: "Priya works weekends
/// and evenings." after "Priya teaches in both manual and automatic cars.".
/// (Not lines that open with one label, "Service: …" or "Sunday: 10:00 — …", nor rows of a menu:
/// rows of a table or a list, each about its own thing.)
fn same_subject(before: &str, sentence: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    // (Sentences of prose, ending as one: not rows of a menu or table, "House Wine, glass | $9.00"
    // under "House Wine, bottle | $34.00".)
    let prose = |t: &str| t.trim_end().ends_with(['.', '!']) && !t.contains(" | ");
    if [before, sentence].iter().any(|t| is_item(t) || crate::retrieval::label(t).is_some() || !prose(t)) {
        return false;
    }
    let first = |t: &str| t.unicode_words().next().map(str::to_owned);
    match (first(before), first(sentence)) {
        // (A stop word, "The …" / "We …", or a reply, "Yes, …", names nothing.)
        (Some(a), Some(b)) => a == b && a.chars().next().is_some_and(char::is_uppercase) && term(&a).is_some() && !yes_or_no(&a),
        _ => false,
    }
}

/// Whether a sentence is an item of a list: "- Monday: 9:00–18:00", "* Cash", "• Sunday: closed",
/// "2. Bring your receipt".
fn is_item(sentence: &str) -> bool {
    crate::retrieval::list_marker(sentence).is_some()
}

/// Whether a sentence is a reply to a yes/no question ("Yes, you can …", "No, we don't …").
fn yes_or_no(sentence: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    sentence.unicode_words().next().is_some_and(|w| ["yes", "no", "yep", "nope"].contains(&w.to_lowercase().as_str()))
}

/// A sentence without the "Yes" or "No" it opens with: "we offer vegetarian … on request." of
/// "Yes, we offer vegetarian … on request." (none when nothing follows it: "Yes!").
fn without_reply(sentence: &str) -> Option<&str> {
    use unicode_segmentation::UnicodeSegmentation;
    let (at, word) = sentence.unicode_word_indices().next()?;
    let rest = sentence[at + word.len()..].trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ',' | '!' | '.' | ';' | ':' | '—' | '–' | '-'));
    rest.chars().any(char::is_alphanumeric).then_some(rest)
}

/// Whether a question asks for a yes or a no: "do you …?", "is there …?", "can we …?".
fn polar(question: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    question.unicode_words().next().is_some_and(|w| {
        ["do", "does", "did", "is", "are", "was", "were", "can", "could", "will", "would", "have", "has", "may", "should", "shall", "am"].contains(&w.to_lowercase().as_str())
    })
}

/// Whether a sentence is a question.
fn asks(sentence: &str) -> bool {
    let t = sentence.trim_end();
    t.ends_with('?') || t.ends_with('？') || t.ends_with('؟')
}

/// Whether a line is the title of the sentence after it (`own` and `next`: their stems): a few
/// words with no number, no colon and no closing stop, one of them in the next sentence
/// ("Quotes and estimates" over "Quotes are free."). A price-list line ("Basic service: $49"),
/// a day's hours ("- Sunday: closed") or a list item ("Cash and cards" over "Cheques are not
/// accepted.") is not.
fn names(sentence: &str, own: &HashSet<String>, next: &HashSet<String>) -> bool {
    let t = sentence.trim();
    t.split_whitespace().count() <= 5
        && !t.chars().any(|c| c.is_numeric() || matches!(c, ':' | '.' | '!' | ';' | '…' | '。'))
        && own.iter().any(|w| next.contains(w))
}

/// The passages' sentences ranked for `question` (`question_vector`: its embedding, if made).
pub async fn select(retriever: &Retriever, question: &str, question_vector: Option<&[f32]>, hits: &[Hit], primary: usize, tuning: Tuning) -> Selection {
    // Each passage's sentences with the line (paragraph) each is on, split once.
    let split: Vec<Vec<(usize, String)>> = hits.iter().map(|h| crate::retrieval::sentence_lines(&h.payload.sentence_text()).into_iter().map(|(n, s)| (n, s.to_owned())).collect()).collect();
    let lines: Vec<Vec<usize>> = split.iter().map(|ss| ss.iter().map(|(n, _)| *n).collect()).collect();
    let by_hit: Vec<Vec<String>> = split.into_iter().map(|ss| ss.into_iter().map(|(_, s)| s).collect()).collect();
    let sents: Vec<(usize, usize, String)> = by_hit.iter().enumerate().flat_map(|(h, ss)| ss.iter().enumerate().map(move |(i, s)| (h, i, s.clone()))).collect();
    let passage: Vec<f32> = hits.iter().map(|h| h.similarity.unwrap_or(0.0)).collect();
    // One heading a line: an FAQ entry's question is the last.
    let headings: Vec<String> = hits.iter().map(|h| h.payload.headings.join("\n")).collect();
    let own;
    let q = match question_vector {
        Some(v) => Some(v),
        None => {
            own = retriever.embedder().embed(&[question]).await.ok().and_then(|v| v.into_iter().next());
            own.as_deref()
        }
    };
    let cosine: Option<Vec<f32>> = match q {
        Some(q) if !sents.is_empty() => {
            match sentence_vectors(retriever, hits, &by_hit).await {
                Ok(vs) => Some(vs.iter().map(|v| v.iter().zip(q).map(|(a, b)| a * b).sum()).collect()),
                Err(e) => {
                    tracing::warn!(error = %e, "sentences could not be embedded; ranking them by their words");
                    None
                }
            }
        }
        _ => None,
    };
    let mut ranked = rank(question, &sents, cosine.as_deref(), &passage, &headings, primary, tuning);
    on_lines(&mut ranked, &lines);
    let names: Vec<Vec<&str>> = hits.iter().map(|h| std::iter::once(h.payload.title.as_str()).chain(h.payload.headings.iter().map(String::as_str)).collect()).collect();
    no_titles(&mut ranked, &names);
    Selection { ranked, by_hit, tuning, focus: vec![] }
}

/// A line that is its passage's title or one of its headings ("Corner Bistro — Menu" atop a
/// PDF menu, for "where is the bistro?") names what follows; quoted, it answers nothing: it
/// counts half, as a question in the sources does. `names[hit]`: the passage's title and headings.
fn no_titles(ranked: &mut Vec<Scored>, names: &[Vec<&str>]) {
    let key = |t: &str| {
        use unicode_segmentation::UnicodeSegmentation;
        t.unicode_words().map(str::to_lowercase).collect::<Vec<_>>().join(" ")
    };
    let mut changed = false;
    for s in ranked.iter_mut() {
        let own = key(&s.text);
        if !own.is_empty() && names.get(s.hit).is_some_and(|n| n.iter().any(|t| key(t) == own)) {
            s.score *= 0.5;
            changed = true;
        }
    }
    if changed {
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    }
}

/// Puts each ranked sentence on its line (`lines[hit][index]`).
fn on_lines(ranked: &mut [Scored], lines: &[Vec<usize>]) {
    for s in ranked {
        if let Some(&n) = lines.get(s.hit).and_then(|l| l.get(s.index)) {
            s.line = n;
        }
    }
}

/// The similarity to the question (`question`: its embedding) of a passage's closest sentence,
/// when it is close enough (0.55) to answer by itself, by the
/// sentence vectors kept with it; none when they are not kept (nothing is embedded for this).
pub fn answering_sentence(retriever: &Retriever, hit: &Hit, question: &[f32]) -> Option<f32> {
    const CLOSE: f32 = 0.55;
    let text = hit.payload.sentence_text();
    let sentences: Vec<&str> = crate::retrieval::sentence_lines(&text).into_iter().map(|(_, s)| s).collect();
    let vectors = hit.payload.sentences.as_ref()?.vectors(retriever.embedder().name(), &sentences, retriever.embedder().dim())?;
    let best = vectors.iter().map(|v| v.iter().zip(question).map(|(a, b)| a * b).sum::<f32>()).fold(f32::MIN, f32::max);
    (best >= CLOSE).then_some(best)
}

/// The vectors of every hit's sentences, in order: those kept with the chunk when they match
/// (made at ingestion), the others (a chunk whose sentences ingestion has not embedded yet, or
/// indexed before it did, or by another model)
/// embedded (memoised in the process) and then kept with their chunk, in the
/// background, for every process after this one. Failing to keep them costs only the next
/// answer's embedding.
async fn sentence_vectors(retriever: &Retriever, hits: &[Hit], by_hit: &[Vec<String>]) -> Result<Vec<Arc<Vec<f32>>>, EmbedError> {
    let (model, dim) = (retriever.embedder().name().to_owned(), retriever.embedder().dim());
    let mut per_hit: Vec<Option<Vec<Arc<Vec<f32>>>>> = hits
        .iter()
        .zip(by_hit)
        .map(|(h, ss)| {
            let ss: Vec<&str> = ss.iter().map(String::as_str).collect();
            h.payload.sentences.as_ref()?.vectors(&model, &ss, dim).map(|vs| vs.into_iter().map(Arc::new).collect())
        })
        .collect();
    let missing: Vec<&str> = per_hit.iter().zip(by_hit).filter(|(v, _)| v.is_none()).flat_map(|(_, ss)| ss.iter().map(String::as_str)).collect();
    if !missing.is_empty() {
        let mut fresh = retriever.embed_memoised(&missing).await?.into_iter();
        let mut keep: Vec<(crate::domain::TenantId, uuid::Uuid, SentenceVectors)> = Vec::new();
        for ((slot, h), ss) in per_hit.iter_mut().zip(hits).zip(by_hit) {
            if slot.is_some() {
                continue;
            }
            let mine: Vec<Arc<Vec<f32>>> = fresh.by_ref().take(ss.len()).collect();
            if !mine.is_empty() {
                let texts: Vec<&str> = ss.iter().map(String::as_str).collect();
                let vectors: Vec<&[f32]> = mine.iter().map(|v| v.as_slice()).collect();
                let kept = SentenceVectors::new(&model, &texts, &vectors);
                keep.push((crate::domain::TenantId(h.payload.tenant_id), h.payload.chunk_id, kept));
            }
            *slot = Some(mine);
        }
        if !keep.is_empty() {
            // Written in the background: the answer does not wait for the index. A write that
            // lands after the chunk was re-indexed is harmless, as kept vectors are used only
            // for the exact sentences they were made from.
            let index = retriever.index().clone();
            tokio::spawn(async move {
                let writes = keep.into_iter().map(|(tenant, chunk, kept)| index.keep_sentences(tenant, chunk, kept));
                for r in futures::future::join_all(writes).await {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "could not keep a passage's sentence vectors with it; they will be embedded again");
                    }
                }
            });
        }
    }
    Ok(per_hit.into_iter().flatten().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::sentences;

    fn sents(passages: &[&str]) -> Vec<(usize, usize, String)> {
        passages.iter().enumerate().flat_map(|(h, p)| sentences(p).into_iter().enumerate().map(move |(i, s)| (h, i, s.to_owned()))).collect()
    }

    const ORDERS: &str = "Celebration cakes must be ordered at least 3 days in advance. A cake for 8 people costs 32 euros, for 12 people 45 euros, for 20 people 70 euros. Writing on the cake is free. A 50 % deposit is due when you order.";
    const DELIVERY: &str = "We deliver within 5 km of the bakery from Tuesday to Saturday, between 9:00 and 13:00. Delivery is free for orders over 25 euros; below that it costs 4 euros.";
    const CANCEL: &str = "You can cancel a cake order up to 48 hours before pickup and get the deposit back in full. Later cancellations keep the deposit. Bread and pastries can be returned the same day with the receipt if something is wrong with them.";

    #[test]
    fn russian_and_persian_sentences_are_matched_by_their_stems_and_need_a_shared_word() {
        let s = sents(&["Торт на двенадцать человек стоит 45 евро. Доставка по городу стоит 5 евро.", "جمعه‌ها قنادی تعطیل است. قيمت كيك برای دوازده نفر ٤٥ یورو است."]);
        // "торта" finds "Торт"; the Arabic letter forms of the passage are the question's Persian ones.
        let r = rank("Какая цена торта на двенадцать человек?", &s, None, &[0.5, 0.5], &[], usize::MAX, Tuning::default());
        assert!(r[0].text.contains("45 евро"), "{r:?}");
        let r = rank("قیمت کیک برای دوازده نفر؟", &s, None, &[0.5, 0.5], &[], usize::MAX, Tuning::default());
        assert!(r[0].text.contains("٤٥"), "{r:?}");
        // The same meaning score everywhere: without a shared word, a Persian question's best
        // sentence scores half.
        let cosine = [0.7; 4];
        let r = rank("آیا دوچرخه تعمیر می‌کنید؟", &s, Some(&cosine), &[0.7, 0.7], &[], usize::MAX, Tuning::default());
        assert!(r[0].score < Tuning::default().min_score, "{r:?}");
    }

    #[test]
    fn a_question_or_a_title_in_the_sources_is_not_an_answer() {
        let stems = |t: &str| terms(t).into_iter().collect::<HashSet<String>>();
        assert!(asks("Do you deliver on Sundays?"));
        assert!(!asks("We deliver on Sundays."));
        assert!(names("Quotes and estimates", &stems("Quotes and estimates"), &stems("Quotes are free.")));
        assert!(!names("Cash and cards", &stems("Cash and cards"), &stems("Cheques are not accepted.")));
        assert!(!names("Basic service: $49", &stems("Basic service: $49"), &stems("Full service: $89")));
        // The heading line is not quoted before the sentence under it that answers; the FAQ's
        // question not before its answer.
        let s = sents(&["Quotes and estimates\nQuotes are free and take about ten minutes."]);
        let r = rank("Are quotes free?", &s, None, &[0.3], &[], usize::MAX, Tuning::default());
        assert_eq!(r[0].text, "Quotes are free and take about ten minutes.", "{r:?}");
        let s = sents(&["Do you deliver on Sundays?\nNo, not on Sundays: Monday to Saturday only."]);
        let r = rank("Do you deliver on Sundays?", &s, None, &[0.3], &[], usize::MAX, Tuning::default());
        assert_eq!(r[0].text, "No, not on Sundays: Monday to Saturday only.", "{r:?}");
    }

    #[test]
    fn the_sentence_that_answers_is_chosen_by_its_words_and_the_kind_of_answer() {
        let s = sents(&[DELIVERY, ORDERS, CANCEL]);
        let r = rank("How much is a cake for 12 people?", &s, None, &[0.5, 0.5, 0.4], &[], usize::MAX, Tuning::default());
        assert!(r[0].text.contains("45 euros"), "{r:?}");
        let r = rank("Can I cancel my cake order the day before pickup?", &s, None, &[0.4, 0.4, 0.5], &["Delivery".into(), "Celebration cakes".into(), "Cancellations and refunds".into()], usize::MAX, Tuning::default());
        assert!(r[0].text.contains("cancel a cake order"), "{r:?}");
    }

    #[test]
    fn context_keeps_neighbours_in_order_and_quotes_at_most_two() {
        let s = sents(&[CANCEL]);
        let sel = Selection { ranked: rank("When can I cancel a cake order?", &s, None, &[0.5], &[], usize::MAX, Tuning::default()), by_hit: vec![sentences(CANCEL).into_iter().map(str::to_owned).collect()], tuning: Tuning::default(), focus: vec![] };
        let ctx = sel.context(1);
        assert_eq!(ctx.len(), 1);
        assert!(ctx[0].1.starts_with("You can cancel") && ctx[0].1.contains("Later cancellations"), "{ctx:?}");
        assert!((1..=2).contains(&sel.quote().len()));
    }

    /// The quote for `question` over `passages` (heading, text), given the meaning score of each
    /// sentence in order and of each passage (near what the embedder gives these texts), as a
    /// follow-up of `follow_up_of` when given.
    fn quoted(question: &str, passages: &[(&str, &str)], cosine: &[f32], passage: &[f32], follow_up_of: Option<&str>) -> Vec<String> {
        let query = follow_up_of.map_or(question.to_owned(), |before| format!("{before} {question}"));
        let mut sel = selection(&query, passages, cosine, passage);
        if query != question {
            sel.focus_on(question, &query);
        }
        sel.quote().iter().map(|s| s.text.clone()).collect()
    }

    #[test]
    fn a_hyphenated_word_is_also_the_word_without_its_hyphen() {
        let wifi: HashSet<String> = terms("Yes, free Wi-Fi is available for all guests.").into_iter().collect();
        assert!(terms("is there wifi").iter().all(|t| wifi.contains(t)), "{wifi:?}");
        assert!(terms("Air conditioning re-gas: $75").contains(&terms("regas")[0]));
        // Numbers and ranges are left as they are.
        assert!(!terms("10-25 kg").iter().any(|t| t == "1025"));
    }

    #[test]
    fn contractions_and_chat_spellings_are_stop_words() {
        assert_eq!(terms("whats ur opening hours"), terms("opening hours"));
        assert_eq!(terms("What’s your address?"), terms("address"));
        assert_eq!(terms("hi, hw much is the wifi? thanks"), terms("wifi"));
    }

    #[test]
    fn a_question_about_a_whole_list_gets_the_list_not_two_of_its_items() {
        let week = "- Monday: 9:00–18:00\n- Tuesday: 9:00–18:00\n- Wednesday: 9:00–18:00\n- Thursday: 9:00–20:00\n- Friday: 9:00–18:00\n- Saturday: 10:00–16:00\n- Sunday: closed";
        let cosine = [0.62, 0.61, 0.6, 0.59, 0.6, 0.58, 0.5];
        let q = quoted("What are your opening hours?", &[("Opening hours", week)], &cosine, &[0.7], None);
        assert_eq!(q.len(), 7, "{q:?}");
        assert!(q[0].contains("Monday") && q[6].contains("Sunday: closed"), "{q:?}");
        // A day asked by name: that day's line.
        let q = quoted("Are you open on Saturday?", &[("Opening hours", week)], &[0.5, 0.5, 0.5, 0.5, 0.5, 0.7, 0.55], &[0.7], None);
        assert!(q.len() <= 2 && q[0].contains("Saturday"), "{q:?}");
    }

    const OPENING: &str = "- Monday to Friday: 7:00 to 18:00\n- Saturday: 7:00 to 14:00\n- Sunday and public holidays: closed";

    #[test]
    fn the_sentence_with_the_weekday_asked_about_is_quoted() {
        // "Same-day delivery is available" scores best (it has two of the question's words), but
        // alone it reads as "yes": the sentence with "Sundays" is quoted beside it.
        let flowers = [("Delivery", "Same-day delivery is available for orders placed before 1 pm. We do not deliver on Sundays.")];
        let q = quoted("Is delivery available on Sundays?", &flowers, &[0.72, 0.58], &[0.86], None);
        assert!(q.iter().any(|s| s.contains("Sundays")), "{q:?}");
    }

    #[test]
    fn a_second_sentence_sharing_only_a_weekday_or_a_number_is_not_quoted() {
        // The demo bakery's chunks: the opening hours share "Monday" with the question, the cake
        // prices "20" and "euros"; the delivery sentences answer.
        let bakery = [("Sunrise Bakery Opening hours", OPENING), ("Orders and delivery Delivery", DELIVERY), ("Orders and delivery Celebration cakes", ORDERS)];
        let cosine = [0.524, 0.406, 0.343, 0.550, 0.324, 0.190, 0.432, 0.160, 0.257];
        let q = quoted("Do you deliver on Monday?", &bakery, &cosine, &[0.29, 0.38, 0.17], None);
        assert_eq!(q, ["We deliver within 5 km of the bakery from Tuesday to Saturday, between 9:00 and 13:00."]);
        let cosine = [0.10, 0.10, 0.10, 0.379, 0.734, 0.190, 0.432, 0.160, 0.257];
        let q = quoted("How much is delivery for a 20 euro order?", &bakery, &cosine, &[0.05, 0.61, 0.48], None);
        assert_eq!(q, ["Delivery is free for orders over 25 euros; below that it costs 4 euros."]);
        // A close second that holds fewer of the question's words ("order", "before") is left out.
        let flowers = [("Weddings", "Wedding flowers must be ordered at least 4 weeks before the wedding."), ("Delivery", "Same-day delivery is available for orders placed before 1 pm.")];
        let q = quoted("Can I order wedding flowers 2 weeks before?", &flowers, &[0.50, 0.78], &[0.6, 0.6], None);
        assert_eq!(q, ["Wedding flowers must be ordered at least 4 weeks before the wedding."]);
    }

    /// The selection for `question` over `passages` (heading, text), given the meaning score of
    /// each sentence in order and of each passage.
    fn selection(question: &str, passages: &[(&str, &str)], cosine: &[f32], passage: &[f32]) -> Selection {
        let s = sents(&passages.iter().map(|p| p.1).collect::<Vec<_>>());
        assert_eq!(s.len(), cosine.len(), "{s:?}");
        let headings: Vec<String> = passages.iter().map(|p| p.0.to_owned()).collect();
        Selection { ranked: rank(question, &s, Some(cosine), passage, &headings, passages.len(), Tuning::default()), by_hit: vec![], tuning: Tuning::default(), focus: vec![] }
    }

    #[test]
    fn a_line_whose_label_or_rare_words_say_what_was_asked_answers_alone() {
        // The walkthrough's yoga studio: a contact list read as one passage far from the question
        // (0.16); the email line's own cosine is 0.43, but its label is the word asked about.
        let contact = [("Contact", "Phone: (555) 014-2290.\nEmail: hello@lotusflowyoga.example.")];
        let sel = selection("whats ur email", &contact, &[0.327, 0.426], &[0.161]);
        assert!(sel.answers_alone(), "{:?}", sel.ranked);
        assert_eq!(sel.quote()[0].text, "Email: hello@lotusflowyoga.example.");
        // The timetable's lines hold the one rare word asked, "lunchtime", though not "classes".
        let monday = [
            ("Weekly Class Timetable › Monday", "- Monday: 07:00 — Morning Hatha with Maya (60 min)\n- Monday: 12:15 — Lunchtime Power Yoga with Daniel (45 min)"),
            ("Weekly Class Timetable › Wednesday", "- Wednesday: 07:00 — Morning Hatha with Maya (60 min)\n- Wednesday: 18:00 — Ashtanga with Daniel (90 min)"),
            ("Weekly Class Timetable", "All classes take place in the Main Studio unless noted."),
        ];
        let sel = selection("any lunchtime classes", &monday, &[0.219, 0.335, 0.208, 0.2, 0.466], &[0.318, 0.3, 0.3]);
        assert!(sel.answers_alone(), "{:?}", sel.ranked);
        assert!(sel.quote()[0].text.contains("Lunchtime Power Yoga"), "{:?}", sel.quote());
        // A sentence of the FAQ holding every word asked ("high", "chairs"), far from the question
        // by its other words (0.39).
        let family = [("FAQ Children", "We have high chairs and a kids' menu, and there is a baby changing table in the accessible toilet.")];
        let sel = selection("do you have high chairs?", &family, &[0.389], &[0.298]);
        assert!(sel.answers_alone(), "{:?}", sel.ranked);
        // Sharing the question's one word is not enough: "Where is the shop?" is not answered by
        // how to book.
        let booking = [("Booking", "You can book by phone or in the shop.")];
        let sel = selection("Where is the shop?", &booking, &[0.34], &[0.2]);
        assert!(!sel.answers_alone(), "{:?}", sel.ranked);
        // Nor is a label that is not what was asked: the studio's address for who founded it.
        let about = [("About", "Studio: 42 Elm Street.")];
        let sel = selection("who founded the studio?", &about, &[0.541], &[0.213]);
        assert!(!sel.answers_alone(), "{:?}", sel.ranked);
    }

    #[test]
    fn a_question_about_a_weekday_is_answered_by_a_line_that_names_a_day() {
        // "Maya Chen teaches …" holds both of the question's words, but says nothing about days.
        let studio = [
            ("Our teachers", "Maya Chen teaches Vinyasa Flow and Morning Hatha. Daniel Ortiz teaches Power Yoga and Ashtanga. Sofia Rossi teaches Yin Yoga."),
            ("Timetable › Wednesday", "- Wednesday: 07:00 — Morning Hatha with Maya (60 min)"),
            ("Timetable › Saturday", "- Saturday: 09:00 — Vinyasa Flow with Maya (75 min)"),
        ];
        let q = quoted("Does Maya teach on Thursday?", &studio, &[0.570, 0.339, 0.334, 0.594, 0.572], &[0.367, 0.35, 0.34], None);
        assert!(!q.is_empty() && q.iter().all(|s| s.contains("day:")), "{q:?}");
        assert!(names_a_day("Opening hours: Tuesday to Saturday, 8:00 to 17:00."));
        assert!(names_a_day("We are open 7 days a week.") && names_a_day("Open Mon–Fri") && names_a_day("Closed on public holidays."));
        assert!(!names_a_day("Maya Chen teaches Vinyasa Flow and Morning Hatha."));
    }

    #[test]
    fn a_yes_that_replies_to_another_question_is_not_quoted() {
        // The B&B walkthrough: "vegan" is named nowhere; the FAQ's "Yes" is to vegetarian and
        // gluten-free breakfasts, and read as a yes to vegan.
        let faq = [("FAQ › Do you cater for special diets?", "Yes, we offer vegetarian and gluten-free breakfasts on request. Please tell us when you book so that we can shop for you.")];
        let sel = selection("do you do vegan breakfast?", &faq, &[0.673, 0.114], &[0.619]);
        assert!(sel.confident(), "{:?}", sel.ranked);
        assert_eq!(sel.quoted()[0].1, "… we offer vegetarian and gluten-free breakfasts on request.");
        // A yes/no question whose every word the passages name keeps the reply.
        let sel = selection("do you do gluten free breakfast?", &faq, &[0.70, 0.114], &[0.62]);
        assert_eq!(sel.quoted()[0].1, "Yes, we offer vegetarian and gluten-free breakfasts on request.");
        // So does a question that asks for no yes or no.
        let sel = selection("what vegan breakfast do you do?", &faq, &[0.673, 0.114], &[0.619]);
        assert!(sel.quoted().iter().all(|(_, q)| q.starts_with("Yes")), "{:?}", sel.quoted());
        // The vet's walkthrough: the FAQ's "Yes" is to "Is there parking?", read as a yes to a
        // charge.
        // ("charge" is named elsewhere.)
        let parking = [("Frequently asked questions › Is there parking?", "Yes, we have a free car park right outside the practice."), ("Policies", "We charge a £20 fee for a missed appointment.")];
        let sel = selection("Is there a charge for parking?", &parking, &[0.579, 0.2], &[0.305, 0.2]);
        assert_eq!(sel.quoted()[0].1, "… we have a free car park right outside the practice.");
        let sel = selection("is there parking?", &parking, &[0.75, 0.1], &[0.6, 0.1]);
        assert_eq!(sel.quoted()[0].1, "Yes, we have a free car park right outside the practice.");
        assert_eq!(without_reply("No, we do not offer hot yoga."), Some("we do not offer hot yoga."));
        assert_eq!(without_reply("Yes!"), None);
        // A "Yes!" of its own is left out whole (the walkthrough's café: "dessert" is named
        // nowhere, the mousse is one).
        let menu = "Yes! The avocado toast and the dark chocolate mousse are all vegan.";
        let mut sel = selection("do you have anything vegan for dessert?", &[("FAQ", menu)], &[0.3, 0.62], &[0.55]);
        let lines = vec![crate::retrieval::sentence_lines(menu).into_iter().map(|(n, _)| n).collect::<Vec<_>>()];
        on_lines(&mut sel.ranked, &lines);
        assert_eq!(sel.quoted(), [(0, "… The avocado toast and the dark chocolate mousse are all vegan.".to_owned())]);
    }

    #[test]
    fn a_line_that_names_a_weekend_holds_its_days_unless_a_line_names_the_day_by_itself() {
        // The driving school's walkthrough: Priya teaches manual and works weekends; Tom works
        // "Tuesday to Saturday" and teaches automatic only.
        let staff = [
            ("Our instructors › Tom", "Tom teaches in an automatic car only. Tom works Tuesday to Saturday."),
            ("Our instructors › Sam", "Sam teaches in a manual car only. Sam works Monday to Friday."),
            ("Our instructors › Priya", "Priya teaches in both manual and automatic cars. Priya works weekends and evenings."),
            ("Prices", "Item: Automatic lessons | Details: Extra charge on top of the manual price | Price: £3 more per hour"),
            ("FAQ › Can I have a female instructor?", "Yes, a female instructor is available on request."),
        ];
        let sel = selection("which instructor can do manual lessons on a Saturday?", &staff, &[0.44, 0.337, 0.501, 0.288, 0.439, 0.219, 0.602, 0.45], &[0.539, 0.553, 0.494, 0.394, 0.443]);
        let line = |text: &str| sel.ranked.iter().find(|s| s.text == text).unwrap();
        // Priya's days hold the Saturday asked, and go on about her manual lessons; Tom's hold
        // Saturday and not manual.
        let priya = line("Priya works weekends and evenings.");
        assert!(priya.dated && priya.terms.contains(&stem("manual")), "{priya:?}");
        let tom = line("Tom works Tuesday to Saturday.");
        assert!(tom.dated && !tom.terms.contains(&stem("manual")), "{tom:?}");
        assert!(priya.topic > tom.topic, "{priya:?} {tom:?}");
        // With a line naming Saturday by itself, "weekends" holds no Saturday.
        let with_saturday = [staff[2], ("Opening hours", "Saturday: lessons from 8 am.")];
        let sel = selection("which instructor can do manual lessons on a Saturday?", &with_saturday, &[0.439, 0.219, 0.5], &[0.494, 0.4]);
        assert!(!sel.ranked.iter().find(|s| s.text == "Priya works weekends and evenings.").unwrap().dated);
        let asked: HashSet<String> = [stem("sunday")].into();
        assert!(names_day_by_itself("On Sundays we close early.", &asked) && names_day_by_itself("Sunday: 10–4", &asked));
        assert!(!names_day_by_itself("Open Monday to Sunday.", &asked) && !names_day_by_itself("Open Mon–Sunday", &asked) && !names_day_by_itself("Open weekends.", &asked));
        // A sentence opening with the name of the one before goes on about it; rows of a table
        // opening with one label do not.
        assert!(same_subject("Priya teaches in both manual and automatic cars.", "Priya works weekends and evenings."));
        assert!(!same_subject("Service: Full groom | $55", "Service: Puppy groom | $30") && !same_subject("We open at 9.", "We close at 5."));
        assert!(!same_subject("House Wine, glass (red, white or rosé) | $9.00", "House Wine, bottle | $34.00"));
    }

    #[test]
    fn a_place_no_passage_names_is_held_by_a_sentence_about_places_abroad() {
        // The florist's walkthrough: "France" is named nowhere; the sentence holding "deliver"
        // and "flowers" is about nobody being home.
        let florist = [
            ("What we don't do", "We only work with fresh flowers and plants. We do not sell artificial flowers or silk flowers. We do not offer international delivery - we only deliver in the UK, and same-day delivery only within 5 miles of the shop."),
            ("Opening hours and delivery", "If nobody is home when we deliver, we leave the flowers with a neighbour or in a safe place and put a card through the door. Delivery is free on all orders over £60."),
            ("Caring for your flowers", "When your flowers arrive, cut about 2 cm off each stem at an angle with a sharp knife or scissors."),
        ];
        let sel = selection("can you deliver flowers to France?", &florist, &[0.460, 0.436, 0.444, 0.606, 0.397, 0.465], &[0.526, 0.424, 0.398]);
        assert!(sel.ranked[0].text.starts_with("We do not offer international delivery"), "{:?}", sel.ranked);
        // A name some passage holds is not made a place abroad.
        let shop = [("Brands", "We stock Shimano and SRAM parts."), ("Shipping", "We ship overseas for a fee.")];
        let sel = selection("do you have Shimano brakes?", &shop, &[0.5, 0.2], &[0.5, 0.2]);
        assert!(!sel.ranked.iter().find(|s| s.hit == 1).unwrap().terms.contains(&stem("Shimano")), "{:?}", sel.ranked);
    }

    #[test]
    fn a_sentence_very_close_to_the_question_answers_alone_from_a_far_passage() {
        // The florist's care tips, one passage far from the question as a whole (0.32); its
        // lilies line is 0.62 from it by itself.
        let care = "When your flowers arrive, cut about 2 cm off each stem at an angle.\nKeep your flowers away from direct sunlight, radiators and fruit bowls.\nLilies: pull off the orange pollen when the flowers open, because it stains clothes and is poisonous to cats.";
        let sel = selection("my cat keeps sniffing the lilies, is that ok?", &[("Caring for your flowers", care)], &[0.044, 0.111, 0.623], &[0.323]);
        assert!(sel.confident() && sel.answers_alone(), "{:?}", sel.ranked);
        // Less close by itself, it does not.
        let sel = selection("my cat keeps sniffing the lilies, is that ok?", &[("Caring for your flowers", care)], &[0.044, 0.111, 0.55], &[0.323]);
        assert!(!sel.answers_alone(), "{:?}", sel.ranked);
    }

    #[test]
    fn a_surcharge_for_something_asked_is_quoted_beside_the_price() {
        // The driving school's price list: the course's price is the manual one.
        let prices = "Item: Intensive course | Details: 30 hours over 2-3 weeks | Price: £1,050\nItem: Automatic lessons | Details: Extra charge on top of the manual price | Price: £3 more per hour\nItem: Mock test | Details: Full test conditions | Price: £45";
        let sel = selection("how much is the intensive course in an automatic?", &[("Prices", prices)], &[0.68, 0.652, 0.377], &[0.542]);
        let q: Vec<String> = sel.quote().iter().map(|s| s.text.clone()).collect();
        assert!(q.len() == 2 && q[0].contains("£1,050") && q[1].contains("£3 more per hour"), "{q:?}");
        // Asked without the word the surcharge is for, the price alone.
        let sel = selection("how much is the intensive course?", &[("Prices", prices)], &[0.75, 0.45, 0.377], &[0.542]);
        assert_eq!(sel.quote().len(), 1, "{:?}", sel.quote());
        assert!(surcharge("a £10 supplement for a sea view") && !surcharge("Mock test: £45"));
    }

    #[test]
    fn a_row_naming_another_thing_than_asked_is_not_its_answer() {
        // The vet's price list (a CSV), as the local embedder scored its rows.
        let prices = [(
            "Prices",
            "Treatment: Consultation | Price: £48 | Notes: Standard 15-minute appointment with a vet\nTreatment: Repeat consultation | Price: £28 | Notes: For the same problem within 14 days of the first consultation\nTreatment: Vaccination - dog | Price: £62 | Notes: Includes health check\nTreatment: Vaccination - cat | Price: £55 | Notes: Includes health check\nTreatment: Dog neuter | Price: from £250 | Notes: Price depends on weight\nTreatment: Cat spay | Price: £120\nTreatment: Out-of-hours emergency consultation | Price: £150",
        )];
        let quoted = |q: &str, cosine: &[f32]| {
            let sel = selection(q, &prices, cosine, &[0.5]);
            let best = sel.ranked.first().filter(|s| s.score >= sel.tuning.min_score).map(|s| s.text.clone());
            (best, sel.ranked.iter().map(|s| (s.text.clone(), s.score)).collect::<Vec<_>>())
        };
        // "dog" tells the rows apart ("Vaccination - dog", "Dog neuter"): the cat's spay is not a
        // dog's, nor is the dog's vaccination a spay ("vaccination" tells rows apart too); the
        // dog's neuter may be.
        let (best, ranked) = quoted("how much to spay my dog", &[0.432, 0.3, 0.51, 0.367, 0.509, 0.622, 0.3]);
        assert!(best.as_deref().is_some_and(|b| b.contains("Dog neuter")), "{ranked:?}");
        let (best, ranked) = quoted("how much is a cat neuter", &[0.418, 0.3, 0.351, 0.539, 0.655, 0.589, 0.3]);
        assert!(!best.as_deref().is_some_and(|b| b.contains("Dog")), "{ranked:?}");
        // The plain consultation, not the repeat one nor the emergency one.
        let (best, ranked) = quoted("whats the price for a consult", &[0.472, 0.567, 0.3, 0.3, 0.407, 0.353, 0.547]);
        assert!(best.as_deref().is_some_and(|b| b.contains("£48")), "{ranked:?}");
        // Asked by its own name, a row answers.
        let (best, ranked) = quoted("how much is a cat vaccination", &[0.4, 0.3, 0.55, 0.66, 0.4, 0.5, 0.3]);
        assert!(best.as_deref().is_some_and(|b| b.contains("£55")), "{ranked:?}");
        // The driving school's: "hour" is named by one thing's row ("Block of 10 hours"), which
        // does not make the 90-minute lesson another thing.
        let prices = [("Prices", "Item: Single lesson | Details: 60 minutes | Price: £38\nItem: Single lesson | Details: 90 minutes | Price: £55\nItem: Block of 10 hours | Details: Ten 1-hour lessons booked and paid in advance | Price: £350\nItem: Automatic lessons | Details: Extra charge on top of the manual price | Price: £3 more per hour")];
        let sel = selection("is the 90 minute lesson cheaper per hour?", &prices, &[0.5, 0.62, 0.5, 0.55], &[0.5]);
        assert!(sel.ranked[0].text.contains("£55"), "{:?}", sel.ranked);
        // The café's: a follow-up searched with the question before holds the bottle it asked
        // about; the glass's row shares the bottle's other words.
        let wine = [("Drinks", "- House Wine, glass (red, white or rosé) | $9.00\n- House Wine, bottle (red, white or rosé) | $32.00\n- Local Craft Beer, pint | $7.00")];
        let sel = selection("how much is a bottle of house wine? and a glass?", &wine, &[0.62, 0.6, 0.3], &[0.5]);
        assert!(sel.ranked.iter().all(|s| s.score > 0.4 || s.text.contains("Beer")), "{:?}", sel.ranked);
        // (The menu's: the glass's explanation names colours another row names.)
        let wine = [("Drinks", "House Wine, glass (red, white or rosé) | $9.00\nHouse Wine, bottle | $34.00\nRosé, glass | $10.00\nRed wine, bottle | $40.00")];
        let sel = selection("how much is a bottle of house wine? and a glass?", &wine, &[0.62, 0.6, 0.4, 0.4], &[0.5]);
        assert!(sel.ranked[0].text.starts_with("House Wine, glass") && sel.ranked[0].score > 0.5, "{:?}", sel.ranked);
        assert_eq!(row_item("Treatment: Cat spay | Price: £120"), Some(["cat".to_owned(), "spay".to_owned()].into()));
        assert_eq!(row_item("- Monday: 07:00 — Morning Hatha"), None);
        assert_eq!(row_item("- Carrot cake — £3.80"), Some(["carrot".to_owned(), "cake".to_owned()].into()));
    }

    #[test]
    fn a_person_asked_for_on_a_weekday_is_answered_with_their_days() {
        // The vet's team page: the sections' headings ("Dr Tom Reid") name the vets, their
        // sentences their first names.
        let team = [
            ("Meet the team › Dr Tom Reid", "Tom is our exotics vet. He sees rabbits, guinea pigs, reptiles and birds. Tom is in on Tuesdays and Fridays."),
            ("Meet the team › Dr Sarah Patel", "Sarah sees dogs and cats and has a special interest in orthopaedics (bones and joints). She qualified in 2009 and has been with Oakfield Vets since it opened. Sarah works Monday to Thursday."),
        ];
        let sel = selection("can Dr Reid see my rabbit on Monday", &team, &[0.199, 0.473, 0.255, 0.283, 0.2, 0.297], &[0.529, 0.318]);
        let q: Vec<String> = sel.quote().iter().map(|s| s.text.clone()).collect();
        assert!(q.len() == 2 && q[0].starts_with("He sees rabbits") && q[1].contains("Tuesdays and Fridays"), "{q:?}");
        // "when" is answered by the days, not by a year.
        let sel = selection("when is Dr Patel in", &team, &[0.05, 0.05, 0.05, 0.097, 0.1, 0.155], &[0.2, 0.377]);
        assert!(sel.ranked[0].text.contains("Monday to Thursday"), "{:?}", sel.ranked);
        assert!(sel.quote().iter().any(|s| s.text.contains("Monday to Thursday")), "{:?}", sel.quote());
        // So are "what days".
        let sel = selection("what days is the exotics vet in", &team, &[0.5, 0.45, 0.3, 0.2, 0.15, 0.2], &[0.5, 0.3]);
        let q: Vec<String> = sel.quote().iter().map(|s| s.text.clone()).collect();
        assert!(q.iter().any(|s| s.contains("Tuesdays and Fridays")), "{q:?}");
    }

    #[test]
    fn a_best_holding_every_word_asked_has_no_second_from_elsewhere_that_lacks_one() {
        // The cleaning company's walkthrough: beside "we don't clean the outside of windows", the
        // hourly price read as the price of cleaning windows.
        let sources = [
            ("Where we work", "Please note that we don't clean the outside of windows and we can't move heavy furniture."),
            ("Services", "Service: Regular clean | Price: £18 per hour | Details: Minimum 2 hours per visit\nService: Carpet cleaning | Price: £30 per room"),
        ];
        let sel = selection("how much is a window clean", &sources, &[0.519, 0.565, 0.535], &[0.365, 0.549]);
        let q: Vec<String> = sel.quote().iter().map(|s| s.text.clone()).collect();
        assert!(q.len() == 1 && q[0].contains("windows"), "{q:?} {:?}", sel.ranked);
    }

    #[test]
    fn a_name_asked_that_one_sentence_alone_holds_answers() {
        // The cleaning company's walkthrough: one prose file, read as one passage far from the
        // question; the town is named by one sentence.
        let areas = [("Where we work and how booking works", "We cover Leeds postcodes LS1 to LS17. We don't go outside the Leeds ring road, so unfortunately we can't take jobs in places like Wetherby or Otley. All our cleaners are DBS checked and fully insured.")];
        let sel = selection("do you cover Wetherby", &areas, &[0.163, 0.246, 0.235], &[0.227]);
        assert!(sel.answers_alone(), "{:?}", sel.ranked);
        assert!(sel.quote().iter().any(|s| s.text.contains("Wetherby")), "{:?}", sel.quote());
        // A name that two sentences hold singles out neither.
        let sel = selection("do you cover Leeds ring road", &areas, &[0.163, 0.246, 0.235], &[0.227]);
        assert!(sel.ranked.iter().all(|s| !s.worded), "{:?}", sel.ranked);
    }

    #[test]
    fn a_reply_in_an_faq_entry_means_what_its_question_asks() {
        // The cleaning company's walkthrough: the entry is the closest passage, its reply shares
        // no word with the question, and other FAQ entries' sentences hold "clean".
        let faq = [
            ("FAQ › Do I need to be at home during the clean?", "No. Many of our customers give us a key or a key safe code."),
            ("FAQ › What days do you clean?", "We clean Monday to Saturday, 8 am to 6 pm."),
            ("FAQ › Will I get the same cleaner?", "For regular cleans we always try to send the same cleaner, so they get to know your home."),
        ];
        let sel = selection("do I have to be in when you clean", &faq, &[0.105, 0.142, 0.453, 0.464], &[0.5, 0.408, 0.375]);
        let q: Vec<String> = sel.quote().iter().map(|s| s.text.clone()).collect();
        assert!(q.iter().any(|s| s.starts_with("Many of our customers")), "{q:?} {:?}", sel.ranked);
        // An entry whose question shares no word with the customer's is not: its passage's score
        // counts the words of its reply.
        let faq = [("FAQ › How do I pay?", "We invoice after each clean. You can pay by bank transfer or card within 7 days."), ("FAQ › What days do you clean?", "We clean Monday to Saturday, 8 am to 6 pm.")];
        let sel = selection("can you clean on a bank holiday", &faq, &[0.2, 0.25, 0.478], &[0.415, 0.444]);
        assert!(sel.ranked[0].text.starts_with("We clean"), "{:?}", sel.ranked);
        // Nor one sharing only a word every entry has.
        let faq = [
            ("FAQ › How old do I have to be to start lessons?", "The minimum age is 17."),
            ("FAQ › Do you teach in manual or automatic cars?", "Both. You can choose which one you learn in for your lessons."),
            ("FAQ › Can I pay for lessons by card?", "Yes, we take cards for all lessons."),
        ];
        let sel = selection("is there a minimum number of lessons?", &faq, &[0.3, 0.1, 0.2, 0.25], &[0.45, 0.3, 0.3]);
        assert!(!sel.confident() || !sel.ranked[0].text.contains("minimum age"), "{:?}", sel.ranked);
    }

    #[test]
    fn the_cheapest_is_the_line_with_the_lowest_price() {
        // The self-storage walkthrough: every line of the list is as close to the question.
        let units = [("Unit prices", "Unit: Medium | Size (sq ft): 50 | Monthly price (£): 95\nUnit: Small | Size (sq ft): 25 | Monthly price (£): 55\nUnit: Large | Size (sq ft): 100 | Monthly price (£): 160\nUnit: Locker | Size (sq ft): 10 | Monthly price (£): 25")];
        let sel = selection("what's the cheapest unit you have?", &units, &[0.558, 0.511, 0.506, 0.46], &[0.4]);
        assert!(sel.answers_alone(), "{:?}", sel.ranked);
        let q: Vec<String> = sel.quote().iter().map(|s| s.text.clone()).collect();
        assert!(q.len() == 1 && q[0].contains("Locker"), "{q:?}");
        let sel = selection("which unit is the most expensive?", &units, &[0.558, 0.511, 0.506, 0.46], &[0.4]);
        assert!(sel.quote()[0].text.contains("Large"), "{:?}", sel.quote());
        // Among the lines about what else was asked: the cheapest cake, not the cheapest coffee.
        let menu = [("Menu", "- Espresso: £2.20\n- Carrot cake: £3.80\n- Lemon cake: £3.50\n- Chocolate cake: £4.10")];
        let sel = selection("what is your cheapest cake", &menu, &[0.3, 0.55, 0.56, 0.58], &[0.5]);
        assert!(sel.quote()[0].text.contains("Lemon"), "{:?}", sel.quote());
        assert_eq!((amount("£1,050"), amount("Monthly price (£): 25"), amount("12.50€ a head"), amount("free")), (Some(1050.0), Some(25.0), Some(12.5), None));
    }

    #[test]
    fn an_offer_for_something_asked_is_quoted_beside_the_price() {
        // The self-storage walkthrough: the price list is a CSV, the offer is in the rules (the
        // sentences' and passages' cosines as the local embedder gave them).
        let sources = [
            ("Unit prices", "Unit: Locker | Size (sq ft): 10 | Monthly price (£): 25\nUnit: Small | Size (sq ft): 25 | Monthly price (£): 55\nUnit: Medium | Size (sq ft): 50 | Monthly price (£): 95\nUnit: Large | Size (sq ft): 100 | Monthly price (£): 160"),
            ("Access hours and storage rules", "Access to your unit is available from 6 am to 10 pm every day of the year. Insurance is required for all stored goods and costs £5 per month, unless you have your own insurance that covers items in storage. New customers get their first month at half price. Units may not be used for living in or sleeping in, or as a workshop."),
        ];
        let sel = selection("how much would a medium unit cost me for the first month?", &sources, &[0.5, 0.602, 0.633, 0.592, 0.293, 0.357, 0.484, 0.237], &[0.522, 0.29]);
        let q: Vec<String> = sel.quote().iter().map(|s| s.text.clone()).collect();
        assert!(q.len() == 2 && q[0].contains("95") && q[1].contains("half price"), "{q:?} {:?}", sel.ranked.iter().map(|s| (s.text.clone(), s.score, s.adds_to_price)).collect::<Vec<_>>());
        // Asked without the word the offer is for, the price alone.
        let sel = selection("how much is a medium unit?", &sources, &[0.5, 0.602, 0.7, 0.592, 0.293, 0.357, 0.4, 0.237], &[0.522, 0.29]);
        assert_eq!(sel.quote().len(), 1, "{:?}", sel.quote());
        assert!(offer("a 10% discount for students") && offer("20% off any pass") && !offer("we charge 50% of the cost") && !offer("Prices from £95"));
    }

    #[test]
    fn a_price_asked_is_not_answered_by_a_sentence_giving_none() {
        // The hair salon's walkthrough: Marco's days (with an "8 pm") came before the price list.
        let salon = [
            ("Our stylists › Marco", "Marco specialises in men's cuts and fades. Marco works Monday to Friday, with late appointments on Thursdays until 8 pm."),
            ("Price list", "Men's cut: £22\nChildren under 12: £15"),
        ];
        let sel = selection("how much is a men's cut with Marco?", &salon, &[0.671, 0.413, 0.590, 0.440], &[0.561, 0.445]);
        assert_eq!(sel.ranked[0].text, "Men's cut: £22", "{:?}", sel.ranked);
        assert!(says_free("There is no cover charge, but tables fill up fast.") && says_free("Parking is free.") && !says_free("No dogs inside."));
    }

    #[test]
    fn when_asks_for_a_time_only_where_it_opens_a_question() {
        assert_eq!(wants("when do you open?"), Wants::Time);
        assert_eq!(wants("and when is the next class?"), Wants::Time);
        assert_eq!(wants("the shop opens when?"), Wants::Time);
        assert_eq!(wants("how many rooms do you have?"), Wants::Number);
        // A weekday answers "when", not "how many".
        let none = HashSet::new();
        assert!(has(Wants::Time, "Sarah works Monday to Thursday.", &none) && has(Wants::Time, "Open 9-5", &none) && !has(Wants::Number, "Sarah works Monday to Thursday.", &none));
        assert_eq!(wants("what if I'm not home when the flowers arrive?"), Wants::Anything);
    }

    #[test]
    fn where_the_shop_is_is_not_answered_by_a_line_about_the_shop_that_says_nothing_of_where() {
        let florist = [("Opening hours and delivery", "Our shop is open Tuesday to Saturday from 9am to 5.30pm, and on Sunday from 10am to 2pm.")];
        let sel = selection("where is your shop?", &florist, &[0.459], &[0.31]);
        assert!(!sel.confident() && !sel.answers_alone(), "{:?}", sel.ranked);
        // A line that says where, without an address, still may.
        let cafe = [("About us", "Our shop is right next to the train station.")];
        let sel = selection("where is your shop?", &cafe, &[0.62], &[0.55]);
        assert!(sel.confident(), "{:?}", sel.ranked);
    }

    #[test]
    fn a_follow_up_adding_a_word_beyond_days_is_told_apart() {
        let mut sel = Selection::default();
        sel.focus_on("how about for students?", "how much is the intensive course? how about for students?");
        assert!(sel.focus_beyond_days(), "{:?}", sel.focus);
        sel.focus_on("and on Sundays?", "what time do you open on saturday? and on Sundays?");
        assert!(!sel.focus_beyond_days(), "{:?}", sel.focus);
        // Asked for a cat after a dental's price, the cat's spay holds the cat, not the dental.
        let prices = [("Prices", "Treatment: Dental scale & polish | Price: from £180\nTreatment: Cat spay | Price: £120")];
        let mut sel = selection("how much is a dental how about for a cat?", &prices, &[0.45, 0.6], &[0.5]);
        sel.focus_on("how about for a cat?", "how much is a dental how about for a cat?");
        assert!(!sel.answers_with_before("how about for a cat?", "how much is a dental how about for a cat?"), "{:?}", sel.ranked);
        let prices = [("Prices", "Treatment: Dental scale & polish (dogs) | Price: from £180\nTreatment: Dental scale & polish (cats) | Price: from £150")];
        let mut sel = selection("how much is a dental how about for a cat?", &prices, &[0.5, 0.6], &[0.5]);
        sel.focus_on("how about for a cat?", "how much is a dental how about for a cat?");
        assert!(sel.answers_with_before("how about for a cat?", "how much is a dental how about for a cat?"), "{:?}", sel.ranked);
    }

    #[test]
    fn a_sentence_of_a_short_paragraph_is_quoted_with_its_paragraph() {
        // The walkthrough's garage: the sentence holding "courtesy car" scores best, the condition
        // ("over 25") is in the one after it.
        let car = "Our warranty and courtesy car policy\nIf your car needs to stay with us for more than a day, we can lend you a courtesy car free of charge. We have only two loan cars, so please ask for one when you book. You need to be over 25 and to have held a full driving licence for at least two years, and you pay for the fuel you use. Courtesy cars cannot be taken abroad.";
        let lines = |text: &str| vec![crate::retrieval::sentence_lines(text).into_iter().map(|(n, _)| n).collect::<Vec<_>>()];
        let mut sel = selection("im 22, can i have a courtesy car?", &[("", car)], &[0.45, 0.62, 0.5, 0.3, 0.42], &[0.52]);
        on_lines(&mut sel.ranked, &lines(car));
        let q = sel.quoted();
        assert_eq!(q.len(), 1, "{q:?}");
        assert!(q[0].1.starts_with("If your car needs") && q[0].1.contains("over 25") && q[0].1.ends_with("taken abroad."), "{q:?}");
        // A long paragraph (here five sentences): the sentence alone.
        let long = format!("{car} Fuel is not included.");
        let mut sel = selection("im 22, can i have a courtesy car?", &[("", &long)], &[0.45, 0.62, 0.5, 0.3, 0.42, 0.3], &[0.52]);
        on_lines(&mut sel.ranked, &lines(&long));
        assert_eq!(sel.quoted(), [(0, "If your car needs to stay with us for more than a day, we can lend you a courtesy car free of charge.".to_owned())]);
        // A list item is quoted by itself.
        let list = "- Oil change: $59\n- Brake pads (front): $180";
        let mut sel = selection("how much is an oil change", &[("Prices", list)], &[0.7, 0.3], &[0.5]);
        on_lines(&mut sel.ranked, &lines(list));
        assert_eq!(sel.quoted(), [(0, "Oil change: $59".to_owned())]);
    }

    #[test]
    fn a_line_that_is_its_passages_title_is_no_answer() {
        let menu = "Corner Bistro — Menu\nA family-run neighbourhood place since 1998.";
        let mut sel = selection("tell me about the bistro", &[("", menu)], &[0.5, 0.45], &[0.4]);
        assert_eq!(sel.ranked[0].text, "Corner Bistro — Menu");
        no_titles(&mut sel.ranked, &[vec!["Corner Bistro Menu"]]);
        assert!(sel.ranked[0].text.starts_with("A family-run"), "{:?}", sel.ranked);
        // "where is the bistro?" asks for the address, not for a line naming the bistro.
        let menu = "Corner Bistro — Menu\nYou will find us at 14 Elm Street, on the corner with Market Lane.";
        let sel = selection("where is the bistro?", &[("", menu)], &[0.5, 0.3], &[0.4]);
        assert!(sel.ranked[0].text.starts_with("You will find us"), "{:?}", sel.ranked);
    }

    #[test]
    fn an_faq_reply_about_something_else_is_no_answer() {
        let faq = [("FAQ Can I bring my own wine?", "Yes, you can bring your own bottle of wine. We charge a corkage fee of $10 per bottle."), ("Menu Drinks", "Local Craft Beer, pint: $8")];
        let texts: Vec<&str> = faq.iter().map(|p| p.1).collect();
        let headings: Vec<String> = faq.iter().map(|p| p.0.to_owned()).collect();
        let r = rank("can I bring my own beer?", &sents(&texts), Some(&[0.62, 0.4, 0.3]), &[0.6, 0.4], &headings, usize::MAX, Tuning::default());
        assert!(!r[0].text.starts_with("Yes") && !r.iter().any(|s| s.text.starts_with("Yes") && s.score >= Tuning::default().min_score), "{r:?}");
        // Asked about what it names, it answers.
        let r = rank("can I bring my own wine?", &sents(&texts), Some(&[0.75, 0.45, 0.2]), &[0.7, 0.3], &headings, usize::MAX, Tuning::default());
        assert!(r[0].score >= Tuning::default().min_score && r[0].text.starts_with("Yes"), "{r:?}");
        // A word the sources never name may be another word for what the entry names.
        let cards = [("FAQ Do you sell gift cards?", "Yes, gift cards are available at the counter in any amount.")];
        let r = rank("do you sell gift vouchers?", &sents(&[cards[0].1]), Some(&[0.7]), &[0.6], &[cards[0].0.to_owned()], usize::MAX, Tuning::default());
        assert!(r[0].score >= Tuning::default().min_score, "{r:?}");
        // A reply that doesn't name what the entry's question does is not about something else
        // ("is yoga safe during pregnancy?" / "Can I practise yoga while pregnant?").
        let faq = [("FAQ Can I practise yoga while pregnant?", "Yes, with care. Join Prenatal Yoga with Ruth on Thursdays.")];
        let r = rank("is yoga safe during pregnancy?", &sents(&faq.iter().map(|p| p.1).collect::<Vec<_>>()), Some(&[0.6, 0.55]), &[0.6], &[faq[0].0.to_owned()], usize::MAX, Tuning::default());
        assert!(r[0].score >= Tuning::default().min_score, "{r:?}");
    }

    #[test]
    fn a_sentence_holding_every_word_asked_a_name_among_them_answers_alone() {
        let about = [("About", "Bright Spark Electrical is a family-run electrical contractor. We cover Northfield and all villages within 20 miles, including Ashby, Millbrook, Kingsley and Upper Dene. For jobs further away, ask us.")];
        let sel = selection("do you cover Millbrook?", &about, &[0.1, 0.38, 0.1], &[0.077]);
        assert!(sel.answers_alone() && sel.quote()[0].text.contains("Millbrook"), "{:?}", sel.ranked);
        // Not when a word asked is missing: "Oakford" is named nowhere.
        assert!(!selection("do you cover Oakford?", &about, &[0.1, 0.3, 0.1], &[0.07]).answers_alone());
    }

    #[test]
    fn a_sentence_going_on_by_a_pronoun_holds_the_words_before_it() {
        let rooms = [("Rooms and prices", "Breakfast is included in every room rate. It is served in the dining room from 8 am to 9:30 am (8:30 am to 10 am on Sundays).")];
        let lines: Vec<Vec<usize>> = rooms.iter().map(|(_, t)| crate::retrieval::sentence_lines(t).into_iter().map(|(n, _)| n).collect()).collect();
        let mut sel = selection("what time is breakfast?", &rooms, &[0.6, 0.52], &[0.45]);
        on_lines(&mut sel.ranked, &lines);
        assert!(sel.confident(), "{:?}", sel.ranked);
        assert!(sel.quoted()[0].1.contains("from 8 am to 9:30 am"), "{:?}", sel.quoted());
    }

    #[test]
    fn a_days_line_holding_nothing_else_asked_is_quoted_with_the_line_that_does() {
        let hours = [("Hours", "We open at 8 in the morning on weekdays and at 9 on weekends, so there is always time for a slow breakfast. On Sundays we close early: the last food orders are taken at 4 pm and we lock the doors at 5.")];
        let q = quoted("what time do you open on sunday", &hours, &[0.64, 0.66], &[0.58], None);
        assert!(q.len() == 2 && q[0].contains("at 9 on weekends"), "{q:?}");
    }

    #[test]
    fn a_time_of_day_is_in_its_part_of_the_day() {
        assert_eq!(clock_hours("Sunday: 10:00 — Slow Flow; 17:00 — Yin Yoga"), [10, 17]);
        assert_eq!(clock_hours("from 7am to 6 pm, or 9.30 am"), [7, 18, 9]);
        assert!(clock_hours("Prices from $45.00, 12,000 miles").is_empty());
        let sunday = [("Sunday", "- Sunday: 17:00 — Yin Yoga & Sound Bath with Sofia (90 min)\n- Sunday: 10:00 — Slow Flow Yoga with Sofia (60 min)")];
        let sel = selection("is there yoga on sunday morning", &sunday, &[0.62, 0.58], &[0.5]);
        assert!(sel.ranked[0].text.contains("10:00"), "{:?}", sel.ranked);
        // A line about another day is not about Sunday.
        let days = [("Policies", "If you are pregnant, we recommend our Prenatal Yoga class on Thursday mornings instead of regular classes."), ("Sunday", "- Sunday: 10:00 — Slow Flow Yoga with Sofia (60 min)")];
        let sel = selection("is there yoga on sunday morning", &days, &[0.69, 0.18], &[0.46, 0.54]);
        assert!(sel.ranked[0].text.contains("Sunday"), "{:?}", sel.ranked);
        // Unless nothing said is about the day asked: Friday's jazz answers "jazz on saturdays too?".
        let jazz = [("Events", "Every Friday from 8 pm to 11 pm a local jazz trio plays in the main room.")];
        assert!(selection("do you have jazz on saturdays too?", &jazz, &[0.6], &[0.5]).ranked[0].score > 0.4);
        assert!(names_another_day("Thursday mornings", &["sunday".to_owned()].into()) && !names_another_day("Monday to Friday", &["sunday".to_owned()].into()));
    }

    #[test]
    fn a_price_is_what_cost_asks_for() {
        assert!(gives_price("Room: The Anchor Room | Low season: £85") && gives_price("for a fee of 4 euros") && gives_price("$ 12") && !gives_price("Room 12 sleeps 2"));
        assert!(gives_price("Unit: Small | Monthly price (£): 55") && !gives_price("Prices in £ (GBP) from 2024"));
        // A share off is a price too: "is there a student price?" / "Student discount: 20% off …".
        assert!(gives_price("Student discount: 20% off any pass"));
        let rooms = [("Rules", "A lost room key costs £20 to replace."), ("Rooms and prices", "Room: The Anchor Room (twin) | Sleeps: 2 | Low season: £85 | High season: £125")];
        let q = quoted("how much does a room cost?", &rooms, &[0.45, 0.63], &[0.49, 0.52], None);
        assert!(q[0].contains("Anchor Room"), "{q:?}");
    }

    #[test]
    fn a_menus_marks_hold_the_words_of_its_key() {
        assert_eq!(legend("Key: (V) vegetarian, (VG) vegan, (GF) gluten-free."), vec![("V".to_owned(), "vegetarian".to_owned()), ("VG".to_owned(), "vegan".to_owned()), ("GF".to_owned(), "gluten-free".to_owned())]);
        assert_eq!(legend("Contains: N = nuts, D = dairy, E = egg, S = shellfish.").len(), 4);
        assert!(legend("However, X.25 and Frame Relay have been supplanted by the Internet Protocol (IP) at the network layer, and the Asynchronous Transfer Mode (ATM) and or versions of Multi-Protocol Label Switching (MPLS) at layer two.").is_empty());
        assert!(legend("Our address (HQ) is on Elm Street.").is_empty() && marks("Mushroom Risotto with parmesan (V, GF, D) | $18.00") == ["V", "GF", "D"]);
        let menu = [("Menu", "Key: (V) vegetarian, (VG) vegan, (GF) gluten-free.\nBistro Burger — beef patty, cheddar, pickles, fries (D, E) | $19.00\nMushroom Risotto with parmesan (V, GF, D) | $18.00")];
        let q = quoted("is the risotto gluten free?", &menu, &[0.45, 0.2, 0.4], &[0.44], None);
        assert!(q.len() == 1 && q[0].contains("Risotto"), "{q:?}");
        // The key says what the marks mean, not what is in the burger.
        let q = quoted("is the burger gluten free?", &menu, &[0.45, 0.4, 0.2], &[0.44], None);
        assert!(q.len() == 1 && q[0].contains("Burger"), "{q:?}");
        assert!(quoted("what does GF mean?", &menu, &[0.45, 0.1, 0.2], &[0.44], None)[0].starts_with("Key"));
    }

    #[test]
    fn an_faq_entry_asking_the_customers_question_answers_it_with_its_reply() {
        let faq = [("Can I book a table?", "We take reservations for groups of 6 or more people; just call us on 555-0142. For smaller tables we don't take reservations — it's first come, first served."), ("How can I pay?", "We accept all major cards, Apple Pay and cash. We do not accept cheques.")];
        let lines: Vec<Vec<usize>> = faq.iter().map(|(_, t)| crate::retrieval::sentence_lines(t).into_iter().map(|(n, _)| n).collect()).collect();
        let mut sel = selection("can i book a table for 4", &faq, &[0.27, 0.36, 0.1, 0.1], &[0.52, 0.2]);
        on_lines(&mut sel.ranked, &lines);
        assert!(sel.confident() && sel.answers_alone(), "{:?}", sel.ranked);
        assert_eq!(sel.quote().len(), 2, "{:?}", sel.quote());
        // Not an entry asking something more: "How do I book a class?" for "is there a class at 7am?".
        let classes = [("How do I book a class?", "Book in our free app or at the front desk. Booking opens 7 days before each class.")];
        assert!(!selection("is there a class at 7am?", &classes, &[0.3, 0.3], &[0.43]).ranked[0].worded);
        // "take" is "accept" to a customer.
        let sel = selection("do you take cash?", &faq[1..], &[0.42, 0.39], &[0.47]);
        assert!(sel.confident() && sel.quote()[0].text.contains("cash"), "{:?}", sel.ranked);
    }

    #[test]
    fn where_the_business_is_is_answered_by_its_address() {
        let address = |q: &str| asks_for(q) == Some(Contact::Address);
        assert!(address("where are you?") && address("whr r u located") && address("what's your address?") && address("Where are you located?") && address("where is the bistro?") && address("Where is the shop?"));
        assert!(!address("where do you deliver?") && !address("what's your email address?"));
        let phone = |q: &str| asks_for(q) == Some(Contact::Phone);
        assert!(phone("What is your phone number?") && phone("whats ur number") && phone("can i call you") && phone("phone?"));
        assert!(!phone("can you call me when my car is ready?") && !phone("how many people can you seat?") && !phone("do you have a phone charger?"));
        assert!(asks_for("whats ur email") == Some(Contact::Email) && asks_for("do you send an email confirmation?").is_none());
        assert!(gives_phone("just call us on 555-0142 or send us a message here") && gives_phone("Phone: +351 220 000 123.") && gives_phone("Call (020) 7946 0958"));
        assert!(!gives_phone("Orders over $1,000,000 ship free") && !gives_phone("Open 2026-12-06 from 9:00 to 17:00") && !gives_phone("a 12,000-mile warranty") && !gives_phone("Room 12, floor 3"));
        assert!(!address("where is the toilet?") && !address("where can I park?") && !address("Where is the Yuan capital located?") && !address("where is the shop's car park?"));
        assert!(gives_address("Lotus Flow Yoga is a small, friendly yoga studio at 42 Elm Street, opened in 2019.") && gives_address("QuickFix Auto is at Unit 3, Riverside Trading Estate, Mill Road."));
        assert!(gives_address("Address: Marktplatz 5, Hamburg") && !gives_address("Parking on Elm Street is free after 6 pm.") && !gives_address("We are open 7 days a week."));
        assert!(!gives_address("Yes, we pick up and deliver bikes within 5 km of the shop for $10 each way."));
        // The yoga studio's address, in a sentence about the studio far from the question (0.08).
        let about = [("About", "Lotus Flow Yoga is a small, friendly yoga studio at 42 Elm Street, opened in 2019 by Maya Chen.\nFollow us on Instagram."), ("FAQ", "Parking on Elm Street is free after 6 pm.")];
        let sel = selection("what is your address", &about, &[0.083, 0.163, 0.172], &[0.054, 0.104]);
        assert!(sel.confident() && sel.answers_alone(), "{:?}", sel.ranked);
        assert!(sel.quote()[0].text.contains("42 Elm Street"), "{:?}", sel.quote());
    }

    #[test]
    fn the_same_words_from_two_sources_are_quoted_once() {
        let menus = [("Menu (PDF)", "Kids' menu (under 12): any half-portion main for $10."), ("Menu (web page)", "Kids' menu (under 12): any half-portion main for $10.")];
        let sel = selection("do you have a kids menu", &menus, &[0.7, 0.7], &[0.6, 0.6]);
        assert_eq!(sel.quote().len(), 2, "{:?}", sel.quote());
        assert_eq!(sel.quoted(), [(0, "Kids' menu (under 12): any half-portion main for $10.".to_owned())]);
    }

    #[test]
    fn the_latest_time_asked_for_is_the_last_one() {
        let salon = [
            ("Can I stay with my dog during the groom?", "Dogs are calmer without their owners, so we ask you to drop off and pick up."),
            ("", "Last drop-off is at 14:00. We text you when your dog is ready for pick-up."),
            ("Services", "We groom dogs only."),
        ];
        let q = quoted("what's the latest I can drop off my dog", &salon, &[0.589, 0.440, 0.488, 0.294], &[0.386, 0.3, 0.25], None);
        assert_eq!(q, ["Last drop-off is at 14:00."]);
    }

    #[test]
    fn a_follow_up_is_answered_with_a_sentence_holding_its_own_new_word() {
        let flowers = [("Prices", "Single rose: $4\nSingle sunflower: $5"), ("Seasons", "Tulips are available from February to May only.")];
        let q = quoted("what about tulips", &flowers, &[0.26, 0.62, 0.60], &[0.45, 0.45], Some("do you have sunflowers"));
        assert_eq!(q, ["Tulips are available from February to May only."]);
        // Nothing good enough holds it: the quote is chosen as for any question.
        let q = quoted("what about tulips", &flowers[..1], &[0.26, 0.62], &[0.45], Some("do you have sunflowers"));
        assert_eq!(q, ["Single sunflower: $5"]);
    }
}
