//! The answer pipeline — one function, used by the bot (`answering`'s `bot.update` handling) and
//! by the admin test chat, so that what an owner tries is what a customer gets:
//!
//! question + history → standalone query → the owner's Q&A pair, else retrieval with the
//! confidence threshold ("I don't know" below it) → one credit reserved (when metered) → the
//! business's daily token budget and its model permits → the model answering from the passages
//! (or quoting them when it can't) → the credit released, or held for the caller to settle once
//! the answer is given ([`Answer::credit`]).
//!
//! Where the answer goes — Telegram drafts, delivery, storage — is the caller's business; the
//! pipeline only publishes the text so far to `progress` while the model writes.
use crate::domain::conversation::MessageKind;
use super::compose::{self, Composed, ModelCall, Prepared};
use super::limits::TenantPermits;
use super::prompt::{Turn, Voice};
use super::settings::Texts;
use crate::billing::{self, Billing, Reservation, Reserve};
use crate::config::{AnsweringConfig, LlmConfig};
use crate::domain::{BotId, TenantId};
use crate::llm::SharedModel;
use crate::retrieval::SharedRetriever;
use crate::storage::{self, Db, conversations};
use std::sync::Arc;
use std::time::Duration;

/// What the pipeline works with. Built once by the application; cheap to clone.
#[derive(Clone)]
pub struct Deps {
    pub db: Db,
    pub cfg: Arc<AnsweringConfig>,
    /// Answer length, temperature and time limit of the model call.
    pub llm: Arc<LlmConfig>,
    pub retriever: SharedRetriever,
    pub model: SharedModel,
    /// Model calls of one business running at once.
    pub permits: TenantPermits,
    /// Metering: one credit per AI answer.
    pub billing: Billing,
}

/// One question to answer.
pub struct Request<'a> {
    pub tenant: TenantId,
    /// The bot asked: its Q&A pairs and its sources (its own and those shared with it) answer.
    pub bot: BotId,
    /// The business and its bot's persona, tone and extra instructions; the customer's language.
    pub voice: Voice<'a>,
    /// The bot's own texts: "I don't know" and "temporarily unavailable" come from here.
    pub texts: &'a Texts,
    /// The conversation so far (oldest first), as the model may see it.
    pub history: &'a [Turn],
    pub question: &'a str,
    /// The credit reservation's key (e.g. `answer:{bot}:{update}`: a retried job finds its own
    /// reservation); `None` meters nothing (the admin test chat).
    pub credit_key: Option<&'a str>,
    /// The question's embeddings, when started early (see [`compose::EarlyVectors`]).
    pub early: Option<&'a compose::EarlyVectors>,
}

/// What the pipeline made of a question.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The reply: kind `qa`, `fallback`, `unavailable`, `answer` or `extractive`, its text
    /// (plain; `[n]` refer to its sources) and its sources.
    pub reply: Composed,
    /// Whether the passages went to generation (the model, or quoting them in its place): the
    /// answers whose pipeline overhead is measured.
    pub generated: bool,
    /// Retrieval's time: embedding the question, the search, the passages.
    pub retrieval_time: Duration,
    /// The same by step (the passages went to generation only).
    pub retrieval_steps: compose::RetrievalSteps,
    /// The credit of a model's answer, still held: the caller settles it ([`Answer::settle`])
    /// once the answer is given, or releases it when nobody gets it (a person took the
    /// conversation over meanwhile). A held credit counts as spent, so a caller that stops
    /// before either has charged the answer, as before.
    pub credit: Option<Reservation>,
}

impl Answer {
    /// The answer was given: its credit, if it holds one, is spent (with the model's tokens).
    pub async fn settle(&mut self, db: &storage::Db) -> anyhow::Result<()> {
        match self.credit.take() {
            Some(r) => r.settle(db, self.reply.tokens).await,
            None => Ok(()),
        }
    }

    /// Nobody gets the answer: its credit, if it holds one, goes back.
    pub async fn release(&mut self, db: &storage::Db) -> anyhow::Result<()> {
        match self.credit.take() {
            Some(r) => r.release(db).await,
            None => Ok(()),
        }
    }
}

fn fixed(kind: MessageKind, text: String) -> Answer {
    Answer { reply: Composed { kind, text, sources: vec![], tokens: 0, note: None, model_time: Duration::ZERO }, generated: false, retrieval_time: Duration::ZERO, retrieval_steps: Default::default(), credit: None }
}

fn today() -> i64 {
    storage::now_ms() / 86_400_000
}

/// Answers `req`, publishing the model's text so far to `progress` as it grows. Errors are
/// internal (database, index): the model's own failures become a quoted answer instead.
#[tracing::instrument(name = "answering.pipeline", skip_all, fields(tenant_id = req.tenant.0, bot_id = req.bot.0))]
pub async fn answer(deps: &Deps, req: &Request<'_>, progress: Option<&tokio::sync::watch::Sender<String>>) -> anyhow::Result<Answer> {
    let query = standalone_query(req.history, req.question);
    let retrieving = std::time::Instant::now();
    let retriever = deps.retriever.get().await?;
    let mut prepared = compose::prepare(&deps.db, &deps.cfg, &retriever, req.tenant, req.bot, &query, req.early).await?;
    let mut query = query;
    if matches!(prepared, Prepared::NotFound) && query != req.question {
        // The question before asked again for someone else ("how about for a cat?" after a
        // dental's price), and nothing says anything of them with it: on its own it would find the
        // cat's other prices, read as the cat's dental.
        if asks_for_another(req.question) {
            return Ok(fixed(MessageKind::Fallback, req.texts.fallback.clone()));
        }
        // Read as a follow-up, it found nothing: it may be a new question after all ("What about
        // allergens?" after "Do you deliver?"), answered on its own.
        prepared = compose::prepare(&deps.db, &deps.cfg, &retriever, req.tenant, req.bot, req.question, None).await?;
        query = req.question.to_owned();
    }
    if let (Prepared::NotFound, Some(asked)) = (&prepared, the_question_alone(req.question)) {
        // Searched with what the customer told around it, the question found nothing: "is there
        // a lift? I have bad knees" is far from the FAQ's "Is there a lift?". Its question alone
        // may be found.
        prepared = compose::prepare(&deps.db, &deps.cfg, &retriever, req.tenant, req.bot, asked, None).await?;
        query = asked.to_owned();
    }
    let mut hits = match prepared {
        Prepared::Qa(answer) => return Ok(fixed(MessageKind::Qa, answer)),
        Prepared::NotFound => return Ok(fixed(MessageKind::Fallback, req.texts.fallback.clone())),
        Prepared::Passages(h) => h,
    };
    // A follow-up's quote answers what it adds ("what about tulips?"), not the question before.
    hits.selection.focus_on(req.question, &query);
    if query != req.question && asks_for_another(req.question) && hits.selection.focus_beyond_days() && !hits.selection.answers_with_before(req.question, &query) {
        // (The same, when something was found: no sentence good enough holds both what it adds
        // and the question before's words — "Cat spay | £120" holds the cat, not the dental.)
        return Ok(fixed(MessageKind::Fallback, req.texts.fallback.clone()));
    }
    if !hits.selection.answers_focus() {
        // No sentence good enough holds what it adds: "and the burger?" after the steak frites'
        // price would be answered with the steak again. Searched on its own, it may be found.
        match compose::prepare(&deps.db, &deps.cfg, &retriever, req.tenant, req.bot, req.question, None).await? {
            Prepared::Qa(answer) => return Ok(fixed(MessageKind::Qa, answer)),
            Prepared::Passages(own) => hits = own,
            // "how about for students?" after the intensive course's price: nothing says anything
            // of students, and the course's price again would read as theirs.
            Prepared::NotFound if hits.selection.focus_beyond_days() => return Ok(fixed(MessageKind::Fallback, req.texts.fallback.clone())),
            // "and on Sunday?": a line that names no day may still answer ("open every day").
            Prepared::NotFound => {}
        }
    }
    let retrieval_time = retrieving.elapsed();
    let retrieval_steps = hits.steps;

    // With model answers off (`answering.model_answers`), the model isn't even loaded.
    let model = if deps.cfg.model_answers { deps.model.get().await } else { None };
    // The business's plan: one credit per AI answer, reserved before the model runs (the key
    // makes a retried job find its own reservation), settled or released after. Quoted passages
    // cost nothing, so without a model nothing is reserved: a business out of credits still gets
    // its sources quoted, and no "running low" notice comes from answers that cost nothing.
    // The day's model tokens so far are read beside it.
    let reserving = async {
        match req.credit_key {
            Some(key) if model.is_some() => billing::reserve(&deps.billing, req.tenant, key).await.map(Some),
            _ => Ok(None),
        }
    };
    let (reserved, used_today) = tokio::try_join!(reserving, async { Ok(conversations::usage(&deps.db.pool, req.tenant, today()).await?) })?;
    // Over the day's token budget a business's customers get quoted passages.
    let within_budget = (used_today as u64) < deps.cfg.tenant_daily_tokens;
    if model.is_some() && !within_budget {
        tracing::warn!(used_today, "the business used its daily model tokens; quoting passages");
    }
    let reservation = match reserved {
        Some(Reserve::Granted(r)) if !within_budget => {
            // The model will not run after all: the credit goes back.
            r.release(&deps.db).await?;
            None
        }
        Some(Reserve::Granted(r)) => Some(r),
        Some(Reserve::Exhausted) if within_budget => return Ok(fixed(MessageKind::Unavailable, req.texts.unavailable.clone())),
        Some(Reserve::Exhausted) | None => None,
    };
    let permits = deps.permits.of(req.tenant);
    let _permit = permits.acquire_owned().await?;
    let call = match (&model, within_budget) {
        (Some(m), true) => Some(ModelCall {
            model: m.as_ref(),
            max_tokens: deps.llm.max_answer_tokens,
            temperature: deps.llm.temperature,
            timeout: deps.llm.timeout,
            min_support: deps.cfg.min_support,
        }),
        _ => None,
    };
    let mut reply = compose::generate(call, &req.voice, req.history, req.question, &hits, progress).await;
    // Only the model's own answer costs a credit; the caller settles it once it is given.
    let credit = match reservation {
        Some(r) if reply.kind == MessageKind::Answer => Some(r),
        Some(r) => {
            r.release(&deps.db).await?;
            None
        }
        None => None,
    };
    if let Some(note) = &reply.note {
        tracing::info!(kind = reply.kind.as_str(), note, "answer not from the model");
    }
    if reply.tokens > 0 {
        crate::metrics::record_model_tokens(model.as_ref().map(|m| m.name()).unwrap_or("none"), "answer", reply.tokens);
    }
    if reply.kind == MessageKind::Fallback {
        // The model found no answer in the passages: the bot's own "I don't know".
        reply.text = req.texts.fallback.clone();
        reply.sources.clear();
    }
    Ok(Answer { reply, generated: true, retrieval_time, retrieval_steps, credit })
}

/// Turns a follow-up into a standalone retrieval query: a message that continues the one before
/// ("and on Sundays?", "how much is it?", "¿y los domingos?", "а сколько это стоит?",
/// "و جمعه‌ها؟", "price?") is searched together with the customer's previous question; the model
/// still sees the whole history. (Deliberately not a model call: with the local 135M model a
/// rewrite is slower and worse than this rule.)
///
/// A new question is searched on its own, however short: "Do you sell croissants?" after a
/// question about cakes must not be answered with the cake's price, nor "What does one rose
/// cost?" with a bouquet's. The word lists cover English, Russian, Spanish and Persian; a message
/// of one or two words counts as a follow-up in any language.
pub fn standalone_query(history: &[Turn], question: &str) -> String {
    let Some(prev) = history.iter().rev().find(|t| t.customer) else { return question.to_owned() };
    if is_follow_up(question) { format!("{} {}", prev.text, question) } else { question.to_owned() }
}

/// Whether `question` reads as a follow-up ([`standalone_query`]); when it does not, it is
/// searched on its own whatever came before. A follow-up:
/// - opens with a word that continues ("and …", "but …", "а …", "y …", "و …"), or with "what
///   about" / "how about";
/// - or refers back ("it", "that", "there", "это", "eso", "آن" …) and is short (six words at
///   most) or opens like a question ("how", "what", "сколько", "cuánto", "چقدر" …);
/// - or is one or two words ("price?", "how much?", "delivery?").
pub fn is_follow_up(question: &str) -> bool {
    // Arabic letter forms folded to the Persian ones, so "اين" is "این".
    let lower = crate::retrieval::analysis::normalize(&question.to_lowercase());
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let Some(&first) = words.first() else { return false };
    if CONTINUES.contains(&first) || (words.len() > 1 && (first == "what" || first == "how") && words[1] == "about") {
        return true;
    }
    let refers = words.iter().enumerate().any(|(i, w)| {
        // "one" refers back as "the big one?", "which one is cheaper?" — not as "one rose".
        let before = i.checked_sub(1).map(|b| words[b]);
        match *w {
            "one" => i + 1 == words.len() || before.is_some_and(|b| ["which", "the", "that", "this", "a", "other", "another"].contains(&b)),
            // "there" refers back as "can I park there?", not in "is there a locker?" / "there
            // are …" (it only says something exists), nor in "how early should I get there?"
            // (the business itself, whatever was asked before).
            "there" => !before.is_some_and(|b| EXISTS.contains(&b) || GOES.contains(&b)) && !words.get(i + 1).is_some_and(|a| EXISTS.contains(a)),
            _ => REFERS.contains(w),
        }
    });
    words.len() <= 2 || refers && (words.len() <= 6 || OPENERS.contains(&first))
}

/// The question of a message that tells something besides it ("is there a lift? I have bad
/// knees", "Hi! We arrive late on Friday. Can we still check in after 10 pm?"): its one sentence
/// that asks, when it reads as a question of its own — not a follow-up, and without a word that
/// stands for something the rest of the message names ("My dog is small. Can I bring him?").
/// None for a message of one sentence, or of several questions.
pub fn the_question_alone(message: &str) -> Option<&str> {
    let sentences = crate::retrieval::sentences(message);
    let mut asking = sentences.iter().filter(|s| s.ends_with(['?', '？', '؟']));
    let (Some(&asked), None) = (asking.next(), asking.next()) else { return None };
    let lower = asked.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let stands_for = |w: &&str| ["him", "her", "his", "hers", "their", "theirs", "one", "ones", "same"].contains(w) || (REFERS.contains(w) && *w != "there");
    (sentences.len() > 1 && !is_follow_up(asked) && !words.iter().any(stands_for)).then_some(asked)
}

/// Whether a follow-up asks the question before for someone or something else: "how about for
/// a cat?", "and for students?", "what about for 2 people?".
fn asks_for_another(question: &str) -> bool {
    let lower = question.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let rest = words.strip_prefix(&["and"][..]).or_else(|| words.strip_prefix(&["so"][..])).unwrap_or(&words);
    let rest = rest.strip_prefix(&["how", "about"][..]).or_else(|| rest.strip_prefix(&["what", "about"][..])).unwrap_or(rest);
    rest.first() == Some(&"for") && rest.len() <= 5
}

/// Words that open a message continuing the one before: "and", "but", "also" …
const CONTINUES: &[&str] = &[
    "and", "also", "but", "or", "then", // English
    "а", "и", "но", "или", "тогда", "еще", "ещё", "также", // Russian
    "y", "e", "también", "tambien", "pero", "o", "entonces", // Spanish
    "و", "هم", "پس", "اما", "یا", // Persian
];

/// Words that open a question: with a word that refers back, a follow-up of any length.
const OPENERS: &[&str] = &[
    "what", "how", "when", "where", "which", "is", "are", "does", "do", "can", // English
    "что", "как", "сколько", "когда", "где", // Russian
    "qué", "que", "cómo", "como", "cuánto", "cuanto", "cuánta", "cuanta", "cuándo", "cuando", "dónde", "donde", // Spanish
    "چه", "چطور", "چقدر", "کی", "کجا", // Persian
];

/// The verbs of "is there …", "there are …": "there" says only that something exists.
const EXISTS: &[&str] = &["is", "are", "was", "were", "be", "s", "isn", "aren", "will"];

/// Verbs of going: "get there", "come there" is to the business.
const GOES: &[&str] = &["get", "go", "come", "arrive", "drive", "walk", "cycle", "travel"];

/// Words that refer back to what was asked before: "it", "that", "there" …
const REFERS: &[&str] = &[
    "it", "its", "that", "this", "those", "these", "they", "them", "there", "he", "she", "else", // English
    "это", "этот", "эта", "эти", "этого", "этом", "он", "она", "оно", "они", "его", "ее", "её", "их", "там", "тот", "та", "то", "туда", // Russian
    "eso", "esto", "ese", "esa", "esos", "esas", "lo", "ello", "él", "ella", "ellos", "ellas", "allí", "alli", "ahí", "ahi", "allá", "otro", "otra", // Spanish
    "آن", "این", "اون", "آنها", "اینها", "آنجا", "اونجا", "همان", "همین", "دیگر", // Persian
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_that_tells_something_besides_its_question_is_also_searched_by_the_question() {
        assert_eq!(the_question_alone("is there a lift? I have bad knees"), Some("is there a lift?"));
        assert_eq!(the_question_alone("Hi! We arrive late on Friday. Can we still check in after 10 pm?"), Some("Can we still check in after 10 pm?"));
        assert_eq!(the_question_alone("is there a lift?"), None, "one sentence: searched as it is");
        assert_eq!(the_question_alone("My dog is small. Can I bring him?"), None, "'him' is the dog");
        assert_eq!(the_question_alone("I love your cakes. How much is it?"), None, "'it' is the cake");
        assert_eq!(the_question_alone("Do you deliver? How much is it?"), None, "two questions");
        assert_eq!(the_question_alone("We are four. Price?"), None, "a follow-up's words");
    }

    #[test]
    fn a_follow_up_for_someone_else_is_told_apart() {
        assert!(asks_for_another("how about for a cat?") && asks_for_another("and for students?") && asks_for_another("what about for 2 people?"));
        assert!(!asks_for_another("what about tulips?") && !asks_for_another("and on Sunday?") && !asks_for_another("for how long is the warranty on parts and labour?"));
    }

    #[test]
    fn follow_ups_are_searched_with_the_previous_question() {
        let h = vec![Turn { customer: true, text: "Do you deliver to Altona?".into() }, Turn { customer: false, text: "Yes [1].".into() }];
        assert_eq!(standalone_query(&h, "How much is it?"), "Do you deliver to Altona? How much is it?");
        assert_eq!(standalone_query(&h, "What are your opening hours on public holidays in December?"), "What are your opening hours on public holidays in December?");
        assert_eq!(standalone_query(&[], "price?"), "price?");
    }

    /// A walkthrough: "how early should I get there" after "do I need to bring a mat" was
    /// searched with it and answered about mats; "Is there a class on Sunday evening?" after
    /// another question likewise.
    #[test]
    fn there_that_says_something_exists_or_names_the_business_does_not_refer_back() {
        for q in ["how early should I get there", "Is there a class on Sunday evening?", "is there a locker for my things", "are there showers", "there's no parking nearby, right?", "How do I get there by bus?"] {
            assert!(!is_follow_up(q), "{q}");
        }
        for q in ["Can I park there?", "Is there parking there?", "what do they cost there?"] {
            assert!(is_follow_up(q), "{q}");
        }
    }

    #[test]
    fn a_new_question_is_searched_on_its_own_however_short() {
        // What a new customer asked in the demo: each new question got the previous answer.
        let roses = asked("How much are 24 roses?");
        for new in ["What does one rose cost?", "Do you sell orchids?", "How much is delivery?", "Do you deliver on Sundays?", "Can I pay by card?"] {
            assert_eq!(standalone_query(&roses, new), new);
        }
        let cake = asked("How much is a cake for 12 people?");
        assert_eq!(standalone_query(&cake, "Do you sell croissants?"), "Do you sell croissants?");
        // Follow-ups still are.
        for more in ["How much is it?", "And for 20 people?", "what about 20 people?", "price?", "How much?", "Is that gluten-free?", "And how much does the bigger one cost for a wedding with eighty guests?"] {
            assert_eq!(standalone_query(&cake, more), format!("How much is a cake for 12 people? {more}"), "{more}");
        }
        assert!(is_follow_up("Which one is cheaper?") && is_follow_up("Do you have a cheaper one?"));
    }

    fn asked(text: &str) -> Vec<Turn> {
        vec![Turn { customer: true, text: text.into() }, Turn { customer: false, text: "…".into() }]
    }

    #[test]
    fn follow_ups_in_russian_spanish_and_persian() {
        // Short ones, in any language.
        let h = asked("¿Abren los sábados?");
        assert_eq!(standalone_query(&h, "¿y los domingos?"), "¿Abren los sábados? ¿y los domingos?");
        let h = asked("Сколько стоит торт на 12 человек?");
        assert_eq!(standalone_query(&h, "а доставка?"), "Сколько стоит торт на 12 человек? а доставка?");
        let h = asked("آیا شنبه‌ها باز هستید؟");
        assert_eq!(standalone_query(&h, "و جمعه‌ها؟"), "آیا شنبه‌ها باز هستید؟ و جمعه‌ها؟");
        // Longer ones, by their opening word and a word that refers back.
        let h = asked("¿Hacen tartas de cumpleaños?");
        assert_eq!(standalone_query(&h, "¿Y cuánto cuesta eso para doce personas?"), "¿Hacen tartas de cumpleaños? ¿Y cuánto cuesta eso para doce personas?");
        assert_eq!(standalone_query(&h, "¿Cuál es el horario de la tienda el domingo?"), "¿Cuál es el horario de la tienda el domingo?");
        let h = asked("Вы делаете торты на заказ?");
        assert_eq!(standalone_query(&h, "А сколько это стоит для двенадцати человек?"), "Вы делаете торты на заказ? А сколько это стоит для двенадцати человек?");
        assert_eq!(standalone_query(&h, "Какие часы работы у магазина в воскресенье?"), "Какие часы работы у магазина в воскресенье?");
        let h = asked("کیک تولد دارید؟");
        assert_eq!(standalone_query(&h, "و قیمت آن برای دوازده نفر چقدر است؟"), "کیک تولد دارید؟ و قیمت آن برای دوازده نفر چقدر است؟");
        // Arabic letter forms: "اين" (Arabic yeh) is "این".
        assert_eq!(standalone_query(&h, "و قیمت اين برای دوازده نفر چقدر است؟"), "کیک تولد دارید؟ و قیمت اين برای دوازده نفر چقدر است؟");
        assert_eq!(standalone_query(&h, "ساعت کاری فروشگاه در روز جمعه چیست؟"), "ساعت کاری فروشگاه در روز جمعه چیست؟");
    }
}
