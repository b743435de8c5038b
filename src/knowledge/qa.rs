//! The owner's Q&A pairs as answers: a question that matches one (the same words, or nearly the
//! same meaning) gets the owner's own answer, before any retrieval or model.
use crate::domain::vocabulary::specifics;
use crate::domain::{BotId, TenantId};
use crate::retrieval::Retriever;
use crate::retrieval::analysis::{Latin, analyse, query_terms};
use crate::storage::{Db, sources};
use anyhow::Context;
use std::collections::HashSet;

/// Normalised for matching Q&A pairs: lower case, letters and digits only, single spaces.
pub fn normalise(q: &str) -> String {
    q.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// What a customer's question is compared with, by the embedder's cosine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The pair's question.
    Question,
    /// The better of the pair's question and its question and answer together: "Do you deliver
    /// bikes?" is 0.63 from "Do you offer pickup and delivery?", 0.79 from it with its answer
    /// "Yes, we pick up and deliver bikes within 5 km …".
    QuestionOrAnswer,
}

/// A rule for taking a pair by meaning (after the same words, and only among pairs that name the
/// same numbers, weekdays and months as the question). `bellhop eval qa` compares rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub basis: Basis,
    /// The best pair is taken at this cosine or above …
    pub threshold: f32,
    /// … or at this lower cosine when the question and the pair's question share a word (stop
    /// words left out, stemmed: "accepting new patients" / "take new patients").
    pub with_shared_word: Option<f32>,
    /// The best pair must be ahead of the next by this much.
    pub margin: f32,
    /// … or at this lower cosine when the customer's words are the pair's at heart, as
    /// [`Rule::at_heart`] says.
    pub unless_differs: Option<f32>,
    /// What the lower bar [`Rule::unless_differs`] asks of the customer's words.
    pub at_heart: AtHeart,
    /// … or at this cosine when each of the customer's words is in the pair's question or its
    /// answer ([`covered`]), whether or not the questions share one: "should I feed my dog
    /// before?" / "What should I do before the appointment?" → "… don't feed a big meal …".
    pub covered: Option<f32>,
    /// No pair whose question the customer's keeps in part but with other words in place of the
    /// rest ([`swapped`]): "How much is a women's haircut?" is not "How much is a men's
    /// haircut?", though the embedder finds them nearly the same.
    pub swap_guard: bool,
}

/// What a question's words must be, against a pair's, for the pair to be taken at the lower bar
/// ([`Rule::unless_differs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtHeart {
    /// [`same_at_heart`]: the two questions share a content word and not each has words the
    /// other lacks.
    Question,
    /// That, and each of the customer's content words is in the pair's question or its answer
    /// ([`covered`]): "what if I *miss* my appointment" is not "What should I do before the
    /// appointment?", whose answer says nothing of missing one.
    QuestionAndAnswer,
}

/// The rule answering uses, chosen with `bellhop eval qa` (BENCHMARKS.md, "Q&A matching"): the
/// best pair by question or question and answer, 0.05 ahead of the next, at cosine ≥ 0.80 unless
/// its question is the customer's with a word or two swapped; or at ≥ 0.75 when the two share a
/// content word and not each has one the other lacks ([`same_at_heart`]); or at ≥ 0.55 when each
/// of the customer's content words is in the pair's question or answer ([`covered`]).
/// A word of the customer's that the pair does not have at all is what the question turns on
/// ("what if I *miss* my appointment" / "What should I do before the appointment?", 0.62): the
/// lower bars ask that the pair has it. On the set it was chosen on it matched 63 of 120
/// rewordings and none of 59 questions no pair answers (the rule before: 60, and 3).
pub const RULE: Rule = Rule { basis: Basis::QuestionOrAnswer, threshold: 0.80, with_shared_word: None, margin: 0.05, swap_guard: true, unless_differs: Some(0.75), at_heart: AtHeart::Question, covered: Some(0.55) };

/// A pair as [`pick`] sees it: its question and answer, the embedding of its question, and the embedding
/// of its question and answer together (`format!("{question} {answer}")`, see [`with_answer`];
/// needed only by [`Basis::QuestionOrAnswer`]).
pub struct Candidate<'a> {
    pub question: &'a str,
    pub answer: &'a str,
    pub question_vector: &'a [f32],
    pub with_answer_vector: Option<&'a [f32]>,
}

/// The text whose embedding is a pair's [`Candidate::with_answer_vector`].
pub fn with_answer(question: &str, answer: &str) -> String {
    format!("{question} {answer}")
}

/// The index of the pair among `pairs` that answers `question` (embedded as `vector`) by `rule`:
/// the same normalised words, or else the pair best by the rule's cosine among those that name
/// the same numbers, weekdays and months ([`specifics`]) — to the embedder "Are you open on
/// Monday?" is the pair "Are you open on Sunday?" (0.92), whose answer would be the wrong day's.
pub fn pick(rule: &Rule, question: &str, vector: &[f32], pairs: &[Candidate]) -> Option<usize> {
    match judge(rule, question, vector, pairs) {
        Verdict::Taken(i) => Some(i),
        Verdict::Near(_) | Verdict::Nothing => None,
    }
}

/// What [`pick`] made of a question: the pair it took, or the pair that came nearest and why it
/// was not taken (what Try a question shows the owner, so that they can reword the pair).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Taken(usize),
    Near(Near),
    /// No pair names the question's numbers, weekdays and months.
    Nothing,
}

/// The pair nearest a question that [`pick`] did not take.
#[derive(Debug, Clone, PartialEq)]
pub struct Near {
    pub index: usize,
    /// Its cosine by the rule's [`Basis`].
    pub cosine: f32,
    pub why: NotTaken,
}

/// Why the nearest pair was not taken, by the rule's own tests.
#[derive(Debug, Clone, PartialEq)]
pub enum NotTaken {
    /// Below the rule's bars: the customer's words the pair's question and answer lack (by
    /// [`covered`]'s comparison, as the question wrote them); none: just not close enough.
    Lacks(Vec<String>),
    /// Another pair (this index) is about as close ([`Rule::margin`]): neither is taken.
    AsCloseAs(usize),
    /// The pair's question with a word or two in place of others ([`swapped`]).
    Swapped,
}

/// [`pick`], saying what came nearest when no pair is taken.
pub fn judge(rule: &Rule, question: &str, vector: &[f32], pairs: &[Candidate]) -> Verdict {
    let wanted = normalise(question);
    if let Some(i) = pairs.iter().position(|p| normalise(p.question) == wanted) {
        return Verdict::Taken(i);
    }
    let asked = specifics(question);
    let cos = |v: &[f32]| v.iter().zip(vector).map(|(a, b)| a * b).sum::<f32>();
    let mut scored: Vec<(f32, usize)> = pairs
        .iter()
        .enumerate()
        .filter(|(_, p)| specifics(p.question) == asked)
        .map(|(i, p)| {
            let s = cos(p.question_vector);
            match (rule.basis, p.with_answer_vector) {
                (Basis::QuestionOrAnswer, Some(v)) => (s.max(cos(v)), i),
                _ => (s, i),
            }
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let Some(&(best, i)) = scored.first() else { return Verdict::Nothing };
    let near = |why| Verdict::Near(Near { index: i, cosine: best, why });
    let shared = || {
        let words: HashSet<String> = query_terms(question).into_iter().collect();
        query_terms(pairs[i].question).iter().any(|w| words.contains(w))
    };
    let at_heart = || {
        let p = &pairs[i];
        match rule.at_heart {
            AtHeart::Question => same_at_heart(question, p.question),
            AtHeart::QuestionAndAnswer => same_at_heart(question, p.question) && covered(question, p.question, p.answer),
        }
    };
    let alike_enough = || rule.unless_differs.is_some_and(|t| best >= t && at_heart());
    let in_pair = || rule.covered.is_some_and(|t| best >= t && covered(question, pairs[i].question, pairs[i].answer));
    if !(best >= rule.threshold || rule.with_shared_word.is_some_and(|t| best >= t && shared()) || alike_enough() || in_pair()) {
        return near(NotTaken::Lacks(lacking(question, pairs[i].question, pairs[i].answer)));
    }
    if let Some(&(_, other)) = scored.get(1).filter(|&&(second, _)| best - second < rule.margin) {
        return near(NotTaken::AsCloseAs(other));
    }
    if rule.swap_guard && swapped(question, pairs[i].question) {
        return near(NotTaken::Swapped);
    }
    Verdict::Taken(i)
}

/// Chat spellings, as the words they stand for ("where r u located", "whats ur number").
const CHAT: &[(&str, &str)] = &[("u", "you"), ("r", "are"), ("ur", "your"), ("ya", "you"), ("whats", "what"), ("wat", "what"), ("im", "i"), ("pls", "please"), ("plz", "please")];

/// Words that ask nothing of their own beyond the stop words: "Do you *take* / Are you
/// *accepting* new patients?", "Can I *buy* a gift card? / Do you *sell* gift cards?".
const LIGHT: &[&str] = &["take", "accept", "offer", "get", "make", "provide", "sell", "buy", "sale", "need", "want", "available", "please", "like"];

/// Words that ask a price, counted as one ("How much is …" / "What does … cost?").
const PRICE: &[&str] = &["much", "cost", "price", "charge", "fee"];

/// The words of `text` compared for [`swapped`]: lower case, chat spellings spelled out,
/// Snowball English stems; `content` leaves out stop words and [`LIGHT`] words.
fn words(text: &str, content: bool) -> Vec<String> {
    let stem = |w: &str| analyse(w, Latin::English);
    let light: HashSet<String> = LIGHT.iter().filter_map(|w| stem(w)).collect();
    let price: HashSet<String> = PRICE.iter().filter_map(|w| stem(w)).collect();
    normalise(text)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| CHAT.iter().find(|(c, _)| *c == w).map_or(w, |(_, full)| *full))
        .filter_map(|w| match stem(w) {
            Some(s) if price.contains(&s) => Some("price".to_owned()),
            Some(s) if content && light.contains(&s) => None,
            Some(s) => Some(s),
            None if content => None,
            None => Some(w.to_owned()),
        })
        .collect()
}

/// Two stems are one word: the same, one the start of the other ("deliv" / "deliveri"), or one
/// letter apart ("colour" / "color", a typo), when both have four letters or more.
fn alike(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().min(b.len()) < 4 {
        return false;
    }
    if a.starts_with(&b) || b.starts_with(&a) {
        return true;
    }
    // One letter changed, added or left out.
    let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
    match long.len() - short.len() {
        0 => short.iter().zip(long.iter()).filter(|(x, y)| x != y).count() == 1,
        1 => (0..long.len()).any(|i| long[..i] == short[..i] && long[i + 1..] == short[i..]),
        _ => false,
    }
}

/// Whether `question` is `pair` with one or two words in it put in place of one or two others,
/// the words around them (one of them not a stop word) the same: the same question about
/// another thing ("Do you sell electric bikes?" / "Do you sell used bikes?", "How much is a
/// women's haircut?" / "How much is a men's haircut?"), which the embedder finds nearly the same.
/// A rewording that changes more than that, or only adds or leaves out words ("is there somewhere
/// to park" / "Is there parking?"), is not.
pub fn swapped(question: &str, pair: &str) -> bool {
    let (q, p) = (words(question, false), words(pair, false));
    let prefix = q.iter().zip(&p).take_while(|(a, b)| alike(a, b)).count();
    let suffix = q[prefix..].iter().rev().zip(p[prefix..].iter().rev()).take_while(|(a, b)| alike(a, b)).count();
    let (q_middle, p_middle) = (&q[prefix..q.len() - suffix], &p[prefix..p.len() - suffix]);
    let content: HashSet<String> = words(question, true).into_iter().chain(words(pair, true)).collect();
    let kept = q[..prefix].iter().chain(&q[q.len() - suffix..]).any(|w| content.contains(w));
    let asks = |m: &[String]| (1..=2).contains(&m.len()) && m.iter().any(|w| content.contains(w));
    kept && asks(q_middle) && asks(p_middle)
}

/// Whether `question` and `pair` share a word and each has words the other has not (stop words
/// and [`LIGHT`] words left out, compared by [`alike`] stems): "Do you have a discount for
/// seniors?" / "Do you offer a student discount?", "Can I return flowers?" / "Can I order
/// flowers for a funeral?". Broader than [`swapped`]: it also takes rewordings that change a
/// word for a synonym ("price for a dental cleaning?" / "How much is a teeth cleaning?").
pub fn differs(question: &str, pair: &str) -> bool {
    let (q, p) = (words(question, true), words(pair, true));
    let only = |a: &[String], b: &[String]| a.iter().filter(|w| !b.iter().any(|x| alike(w, x))).count();
    let shared = q.iter().any(|w| p.iter().any(|x| alike(w, x)));
    shared && only(&q, &p) > 0 && only(&p, &q) > 0
}

/// Whether `question` asks with `pair`'s words at heart: they share a content word, and they
/// do not each have words the other lacks ([`differs`]). "What's your email address?" shares
/// none with "What's your phone number?" (the two questions' other words are stop words), so it
/// is not taken at the lower cosine: the walkthrough got the phone number for it.
pub fn same_at_heart(question: &str, pair: &str) -> bool {
    let (q, p) = (words(question, true), words(pair, true));
    q.iter().any(|w| p.iter().any(|x| alike(w, x))) && !differs(question, pair)
}

/// Whether each content word of `question` (stop words and [`LIGHT`] words left out, compared
/// by [`alike`] stems) is in the pair's question or its answer, and it has one.
pub fn covered(question: &str, pair: &str, answer: &str) -> bool {
    !words(question, true).is_empty() && lacking(question, pair, answer).is_empty()
}

/// The content words of `question` that neither the pair's question nor its answer has, as
/// [`covered`] compares them, each once and as the question wrote it (lower case): "cash" of
/// "Do you take cash?" against "Can I pay by card?" / "We take all cards.".
pub fn lacking(question: &str, pair: &str, answer: &str) -> Vec<String> {
    let known: Vec<String> = words(pair, true).into_iter().chain(words(answer, true)).collect();
    let mut out: Vec<String> = Vec::new();
    for w in normalise(question).split(' ').filter(|w| !w.is_empty()) {
        let lacks = words(w, true).iter().any(|s| !known.iter().any(|x| alike(s, x)));
        if lacks && !out.iter().any(|o| o == w) {
            out.push(w.to_owned());
        }
    }
    out
}

/// The content words of `question` that the pair's question or its answer has, as [`lacking`]
/// compares them, each once and as the question wrote it (lower case): "flowers" of "can you
/// deliver flowers to France?" against "Do you do flowers for corporate events?". With
/// [`lacking`], whether a pair near a question is about it at all: Try a question tells the
/// owner to add the words a pair lacks only when it has more of the question's words than it
/// lacks, or as many and it is close.
pub fn sharing(question: &str, pair: &str, answer: &str) -> Vec<String> {
    let lacks = lacking(question, pair, answer);
    let mut out: Vec<String> = Vec::new();
    for w in normalise(question).split(' ').filter(|w| !w.is_empty()) {
        if !words(w, true).is_empty() && !lacks.iter().any(|l| l == w) && !out.iter().any(|o| o == w) {
            out.push(w.to_owned());
        }
    }
    out
}

/// `bot`'s Q&A pair that answers `question`, if one does, by [`RULE`] (see [`pick`]).
///
/// `question_vector` is the question's embedding when the caller has it already (answering
/// embeds each question once, for this and for retrieval); the pairs' vectors are remembered.
/// (`None`: the pairs no bot uses yet, for the playground before the business has a bot.)
pub async fn match_qa(db: &Db, retriever: &Retriever, tenant: TenantId, bot: Option<BotId>, question: &str, question_vector: Option<&[f32]>) -> anyhow::Result<Option<sources::QaPair>> {
    Ok(match explain_qa(db, retriever, tenant, bot, question, question_vector).await? {
        QaVerdict::Match(p) => Some(p),
        QaVerdict::Near { .. } | QaVerdict::NoPair => None,
    })
}

/// [`match_qa`]'s answer, with the pair that came nearest when none answers (see [`judge`]).
#[derive(Debug, Clone)]
pub enum QaVerdict {
    Match(sources::QaPair),
    Near { pair: sources::QaPair, cosine: f32, why: NearWhy },
    NoPair,
}

/// [`NotTaken`], naming the other pair.
#[derive(Debug, Clone, PartialEq)]
pub enum NearWhy {
    Lacks(Vec<String>),
    /// Taken by its meaning, but the question has words the pair lacks that the bot's sources
    /// name ([`named_elsewhere`]): the question turns on them, and the sources answer it.
    NamedElsewhere(Vec<String>),
    AsCloseAs(String),
    Swapped,
}

/// [`match_qa`], saying which pair came nearest and why it was not used when none answers.
pub async fn explain_qa(db: &Db, retriever: &Retriever, tenant: TenantId, bot: Option<BotId>, question: &str, question_vector: Option<&[f32]>) -> anyhow::Result<QaVerdict> {
    let pairs = sources::list_qa(&db.pool, tenant, bot).await?;
    if pairs.is_empty() {
        return Ok(QaVerdict::NoPair);
    }
    if let Some(p) = pairs.iter().find(|p| normalise(&p.question) == normalise(question)) {
        return Ok(QaVerdict::Match(p.clone()));
    }
    let own;
    let q = match question_vector {
        Some(v) => v,
        None => {
            own = retriever.embedder().embed(&[question]).await?.into_iter().next().context("no embedding returned")?;
            own.as_slice()
        }
    };
    let texts: Vec<&str> = pairs.iter().map(|p| p.question.as_str()).collect();
    let vectors = retriever.embed_memoised(&texts).await?;
    let both: Vec<String> = if RULE.basis == Basis::QuestionOrAnswer { pairs.iter().map(|p| with_answer(&p.question, &p.answer)).collect() } else { Vec::new() };
    let both = retriever.embed_memoised(&both.iter().map(String::as_str).collect::<Vec<_>>()).await?;
    let candidates: Vec<Candidate> = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| Candidate { question: &p.question, answer: &p.answer, question_vector: &vectors[i], with_answer_vector: both.get(i).map(|v| v.as_slice()) })
        .collect();
    Ok(match judge(&RULE, question, q, &candidates) {
        Verdict::Taken(i) => {
            let p = &pairs[i];
            let named = named_elsewhere(db, retriever, tenant, bot, question, p).await?;
            if named.is_empty() {
                QaVerdict::Match(p.clone())
            } else {
                let cos = |v: &[f32]| v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>();
                let cosine = cos(&vectors[i]).max(both.get(i).map_or(f32::MIN, |v| cos(v)));
                QaVerdict::Near { pair: p.clone(), cosine, why: NearWhy::NamedElsewhere(named) }
            }
        }
        Verdict::Near(Near { index, cosine, why }) => {
            let why = match why {
                NotTaken::Lacks(words) => NearWhy::Lacks(words),
                NotTaken::AsCloseAs(other) => NearWhy::AsCloseAs(pairs[other].question.clone()),
                NotTaken::Swapped => NearWhy::Swapped,
            };
            QaVerdict::Near { pair: pairs[index].clone(), cosine, why }
        }
        Verdict::Nothing => QaVerdict::NoPair,
    })
}

/// The words of `question` that `pair` (its question and answer) lacks and the bot's sources
/// name: "extensions" of "do you do hair extensions for weddings?", near the pair "Do you do
/// wedding hair?" ("Yes, we do bridal hair …"), in a salon's FAQ saying "No, we don't offer hair
/// extensions or perms." The pair answers another question; the sources answer this one. A word
/// the sources never name ("dad" of "can I learn in my dad's car?") leaves the pair its answer.
/// Searched by BM25 among the bot's sources, only for a pair the rule took with words it lacks.
async fn named_elsewhere(db: &Db, retriever: &Retriever, tenant: TenantId, bot: Option<BotId>, question: &str, pair: &sources::QaPair) -> anyhow::Result<Vec<String>> {
    let lacks = lacking(question, &pair.question, &pair.answer);
    if lacks.is_empty() {
        return Ok(lacks);
    }
    let scope = super::scope::of_bot(&db.pool, tenant, bot).await?;
    let opts = crate::retrieval::SearchOptions { mode: crate::retrieval::Mode::Bm25, limit: 5, candidates: 5, ..Default::default() };
    let hits = retriever.search_with(tenant, &scope, &lacks.join(" "), &opts, Vec::new()).await?;
    Ok(lacks.into_iter().filter(|w| hits.iter().any(|h| mentions(&h.payload.text, w))).collect())
}

/// Whether `text` has `word`, compared as [`lacking`] compares words.
pub fn mentions(text: &str, word: &str) -> bool {
    let own = words(text, true);
    let asked = words(word, true);
    !asked.is_empty() && asked.iter().all(|w| own.iter().any(|x| alike(w, x)))
}

#[cfg(test)]
mod tests {
    use super::{Candidate, RULE, covered, differs, pick, swapped};

    const BEFORE: &str = "What should I do before the appointment?";
    const BEFORE_ANSWER: &str = "Please walk your dog before drop-off so they can do their business, and don't feed a big meal in the two hours before.";
    const PRIVATE: &str = "Can I book a private lesson?";
    const PRIVATE_ANSWER: &str = "Yes! Private one-to-one sessions with any of our teachers cost $70 for 60 minutes. Send us a message with a few times that suit you and we'll arrange it.";

    /// What [`pick`] by [`RULE`] makes of `question` when the embedder puts it at `cosine` from
    /// the one pair (`pair`, `answer`), by question and by question and answer alike.
    fn picked(question: &str, cosine: f32, pair: &str, answer: &str) -> bool {
        let (p, q) = ([1.0, 0.0], [cosine, (1.0 - cosine * cosine).sqrt()]);
        pick(&RULE, question, &q, &[Candidate { question: pair, answer, question_vector: &p, with_answer_vector: Some(&p) }]).is_some()
    }

    #[test]
    fn a_question_turning_on_a_word_the_pair_lacks_is_not_taken_at_a_lower_bar() {
        // The walkthrough: 0.62 from the pair, sharing "appointment", and got the dog-walking answer.
        assert!(!covered("what if I miss my appointment", BEFORE, BEFORE_ANSWER));
        assert!(!picked("what if I miss my appointment", 0.62, BEFORE, BEFORE_ANSWER));
        assert!(!picked("Can I stay with my dog during the appointment?", 0.68, BEFORE, BEFORE_ANSWER));
        assert!(!picked("Can I use a gift card online?", 0.68, "Do you sell gift cards?", "Yes, gift cards are available at the front desk in any amount."));
        // Close enough, the same question still is.
        assert!(picked("anything I need to do before my appointment?", 0.89, BEFORE, BEFORE_ANSWER));
        assert!(picked("What insurance plans do you take?", 0.77, "Which insurance do you accept?", "We accept Delta Dental, Cigna and Aetna."));
    }

    #[test]
    fn a_question_in_the_words_of_the_pairs_answer_is_taken_at_the_lowest_bar() {
        assert!(covered("could I get a one on one session with a teacher?", PRIVATE, PRIVATE_ANSWER));
        assert!(picked("could I get a one on one session with a teacher?", 0.57, PRIVATE, PRIVATE_ANSWER));
        assert!(covered("should I feed my dog before?", BEFORE, BEFORE_ANSWER));
        assert!(covered("how much is a private lesson", PRIVATE, PRIVATE_ANSWER), "'cost' in the answer is a price");
        // Below the bar, words in the answer are not enough: "message" and "teacher" are in it.
        assert!(covered("Can I message a teacher?", PRIVATE, PRIVATE_ANSWER));
        assert!(!picked("Can I message a teacher?", 0.50, PRIVATE, PRIVATE_ANSWER));
        assert!(!covered("where can i reserve a spot", "How do I book a class?", "Book in our free app or at the front desk."));
    }

    const OWN_CAR: &str = "Can I use my own car for lessons?";
    const OWN_CAR_ANSWER: &str = "No, all lessons are in our own dual-controlled cars. You can practise in your own car with a qualified friend or family member between lessons, if you are insured.";
    const CORPORATE: &str = "Do you do flowers for corporate events?";
    const CORPORATE_ANSWER: &str = "Yes, we make arrangements for offices, hotels and events. Contact us at least two weeks ahead for a quote.";

    /// The driving school and florist walkthrough's pairs turned down, and why no word rule takes
    /// them: each has a word the pair lacks, as near-misses as close do ("bring" of "can I bring
    /// my own cake?", 0.71 from "Can I order a birthday cake?"; "wedding" of "do you do wedding
    /// flowers?", 0.73 from the corporate events pair). Taking "bring", "use", "add" and
    /// "include" as words that ask nothing took 5 of 35 such near-misses (BENCHMARKS.md).
    #[test]
    fn the_walkthroughs_pairs_with_a_word_they_lack_are_turned_down_as_near_misses_are() {
        assert!(!picked("can I bring my own car?", 0.70, OWN_CAR, OWN_CAR_ANSWER));
        assert!(!picked("can I bring my own cake?", 0.71, "Can I order a birthday cake?", "Yes, order at least two days ahead; a cake for 8 is $35."));
        assert!(!picked("can I learn in my dad's car?", 0.72, OWN_CAR, OWN_CAR_ANSWER));
        assert!(!picked("I'd like flowers for our office reception every week", 0.69, CORPORATE, CORPORATE_ANSWER));
        assert!(!picked("do you do wedding flowers?", 0.73, CORPORATE, CORPORATE_ANSWER));
        assert!(!picked("can I bring a friend in the car?", 0.55, OWN_CAR, OWN_CAR_ANSWER));
    }

    #[test]
    fn a_near_pair_shares_only_some_of_the_customers_words() {
        use super::{lacking, sharing};
        assert_eq!(sharing("can you deliver flowers to France?", CORPORATE, CORPORATE_ANSWER), ["flowers"]);
        assert_eq!(lacking("can you deliver flowers to France?", CORPORATE, CORPORATE_ANSWER), ["deliver", "france"]);
        assert_eq!(sharing("what if I miss my appointment", BEFORE, BEFORE_ANSWER), ["appointment"]);
        assert_eq!(sharing("I'd like flowers for our office reception every week", CORPORATE, CORPORATE_ANSWER), ["flowers", "office", "week"]);
        let (abroad, abroad_answer) = ("I already passed my test abroad. Can you help me?", "Yes, we offer refresher lessons for drivers with a foreign licence who need to take the UK test.");
        assert_eq!(sharing("I have a Polish driving licence, can you help?", abroad, abroad_answer), ["driving", "licence", "help"]);
        assert_eq!(lacking("I have a Polish driving licence, can you help?", abroad, abroad_answer), ["polish"]);
    }

    #[test]
    fn a_pair_near_but_not_taken_says_which_of_the_customers_words_it_lacks() {
        use super::{NotTaken, Verdict, judge, lacking};
        assert_eq!(lacking("Do you take cash?", "Can I pay by card?", "We take all cards."), ["cash"]);
        assert_eq!(lacking("what if I miss my appointment", BEFORE, BEFORE_ANSWER), ["miss"]);
        assert!(lacking("should I feed my dog before?", BEFORE, BEFORE_ANSWER).is_empty());
        let (p, q) = ([1.0, 0.0], [0.62f32, (1.0f32 - 0.62 * 0.62).sqrt()]);
        let pair = [Candidate { question: BEFORE, answer: BEFORE_ANSWER, question_vector: &p, with_answer_vector: Some(&p) }];
        match judge(&RULE, "what if I miss my appointment", &q, &pair) {
            Verdict::Near(n) => {
                assert_eq!((n.index, n.why), (0, NotTaken::Lacks(vec!["miss".to_owned()])));
                assert!((n.cosine - 0.62).abs() < 1e-4);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(judge(&RULE, "anything I need to do before my appointment?", &[0.89, (1.0f32 - 0.89 * 0.89).sqrt()], &pair), Verdict::Taken(0));
        // Close enough by itself, but the same question about another thing.
        let haircut = [Candidate { question: "How much is a men's haircut?", answer: "$25.", question_vector: &p, with_answer_vector: Some(&p) }];
        assert!(matches!(judge(&RULE, "How much is a women's haircut?", &[0.93, (1.0f32 - 0.93 * 0.93).sqrt()], &haircut), Verdict::Near(super::Near { why: NotTaken::Swapped, .. })));
    }

    #[test]
    fn the_same_question_about_another_thing_is_swapped() {
        assert!(swapped("How much is a women's haircut?", "How much is a men's haircut?"));
        assert!(swapped("Do you sell electric bikes?", "Do you sell used bikes?"));
        assert!(swapped("Can I pay by bank transfer?", "Can I pay by card?"));
        // Chat spellings, spelling variants and added words are not another thing.
        assert!(!swapped("do u have gluten free bread", "Do you make gluten-free bread?"));
        assert!(!swapped("Do you do hair colouring?", "Do you color hair?"));
        assert!(!swapped("Can I pay with credit card?", "Can I pay by card?"));
        assert!(!swapped("is there somewhere to park", "Is there parking?"));
    }

    #[test]
    fn questions_with_no_content_word_in_common_are_not_the_same_at_heart() {
        assert!(!super::same_at_heart("What's your email address?", "What's your phone number?"));
        assert!(!super::same_at_heart("What's your address?", "What's your phone number?"));
        assert!(super::same_at_heart("whats ur phone number", "What's your phone number?"));
        assert!(super::same_at_heart("Are you accepting new patients?", "Do you take new patients?"));
        assert!(super::same_at_heart("is there somewhere to park", "Is there parking?"));
    }

    #[test]
    fn questions_differ_when_each_has_words_the_other_lacks() {
        assert!(differs("Do you have a discount for seniors?", "Do you offer a student discount?"));
        assert!(differs("What time do you close?", "What time do you open in the morning?"));
        assert!(differs("How much is a birthday cake?", "Can I order a birthday cake?"));
        assert!(!differs("Is there a discount for students?", "Do you offer a student discount?"));
        assert!(!differs("Are you accepting new patients?", "Do you take new patients?"));
        assert!(!differs("Can I buy a gift card?", "Do you sell gift cards?"));
        assert!(!differs("How much does a cleaning cost?", "How much is a teeth cleaning?"));
        assert!(!differs("Where can I park?", "Is there parking?"));
    }
}
