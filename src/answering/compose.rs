//! Composing an answer, independent of where it is shown (Telegram or the admin test chat):
//! the owner's Q&A pair, else retrieval and sentence selection ([`super::extract`]), else
//! "I don't know"; with a confident sentence, the model answers from the best sentences and their
//! neighbours (streaming its text as it goes). Whatever the model writes is verified
//! ([`super::verify`]) before a customer sees it — drafts included — and what fails becomes the
//! extractive answer: the sentences that answer, quoted with their source. Citations are checked:
//! only sources actually given to the model and supporting the answer are listed, so a reply can
//! only ever cite this tenant's retrieved sources.
use crate::domain::conversation::MessageKind;
use super::extract::{self, Selection};
use super::prompt::{self, NO_ANSWER, SourceText, Turn, Voice};
use super::verify::{Evidence, Rules};
use crate::config::AnsweringConfig;
use crate::domain::{BotId, TenantId};
use crate::llm::{ChatModel, ChatRequest, ModelError, Piece};
use crate::retrieval::{Hit, Retriever, SearchOptions, Sources};
use crate::storage::Db;
use futures::StreamExt;
use std::time::{Duration, Instant};

/// A source shown under an answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cited {
    /// The number used in the answer's text ([n]).
    pub n: usize,
    pub title: String,
    pub url: Option<String>,
    pub source_id: String,
}

/// What happens to a question before any model is involved.
pub enum Prepared {
    /// The owner's exact answer.
    Qa(String),
    /// Nothing confident enough: the bot doesn't know.
    NotFound,
    /// Passages worth answering from, best first, and their sentences ranked for the question.
    Passages(Passages),
}

/// Retrieved passages and the sentences chosen from them.
#[derive(Debug, Clone)]
pub struct Passages {
    pub hits: Vec<Hit>,
    pub selection: Selection,
    /// Where retrieval's time went.
    pub steps: RetrievalSteps,
}

/// Retrieval's time by step, for the slow-answer log (see [`super::limits::Overhead`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RetrievalSteps {
    /// Embedding the question.
    pub embed: Duration,
    /// The Q&A match and the bot's sources (database).
    pub lookup: Duration,
    /// The hybrid search.
    pub search: Duration,
    /// Ranking the passages' sentences (their embeddings, unless memoised).
    pub sentences: Duration,
}

impl RetrievalSteps {
    /// The steps by name, in order.
    pub fn named(&self) -> [(&'static str, Duration); 4] {
        [("embed", self.embed), ("lookup", self.lookup), ("search", self.search), ("sentences", self.sentences)]
    }
}

/// An answer ready to store and show.
#[derive(Debug, Clone)]
pub struct Composed {
    /// `answer` (model, verified), `extractive` (sentences of the passages, quoted), `fallback`
    /// ("I don't know": nothing in the passages answers, or the model said so); from the whole
    /// pipeline also `qa` (the owner's pair) and `unavailable` (no credit left).
    pub kind: MessageKind,
    /// Plain text; [n] refer to `sources`.
    pub text: String,
    pub sources: Vec<Cited>,
    /// Model tokens used (prompt + answer), 0 without a model call.
    pub tokens: u64,
    /// Why the model wasn't used or failed, for logs.
    pub note: Option<String>,
    /// Time spent waiting for the model (zero without a call): the pipeline's own overhead is
    /// the rest.
    pub model_time: Duration,
}

/// The search options of a customer's question.
fn question_options(cfg: &AnsweringConfig) -> SearchOptions {
    SearchOptions { limit: cfg.sources, ..Default::default() }
}

/// A question's embeddings, made on the embedding thread while the job does its database work
/// (the conversation, the paywall, the history): the ten or so round trips before retrieval and
/// the embedding overlap instead of adding up. Started only for a message whose retrieval query
/// is its own text whatever the history ([`super::pipeline::is_follow_up`]); dropped unused
/// (a command, a paused bot, a handed-off conversation), the task is aborted.
///
/// With [`KeptOn`] they are also kept on the question's stored update once made, and a re-run
/// of its job (its worker died, typically while the model wrote) reads them back instead of
/// embedding the question again: the dead worker's questions come back all at once, and
/// embedding them together on one thread was most of the time they took.
pub struct EarlyVectors {
    query: String,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<Option<Vec<Vec<f32>>>>>>,
}

/// Where a question's embeddings are kept for a re-run of its job: its stored update (deleted
/// with it: retention, a customer's erasure).
pub struct KeptOn {
    pub db: Db,
    pub bot: BotId,
    pub update_id: i64,
    /// An earlier attempt of the job may have kept them: look first.
    pub rerun: bool,
}

impl EarlyVectors {
    /// Starts embedding `query` as [`prepare`] would (or, on a re-run, reading the embeddings
    /// an earlier attempt kept on `kept`).
    pub fn start(retriever: crate::retrieval::SharedRetriever, cfg: &AnsweringConfig, query: String, kept: Option<KeptOn>) -> Self {
        let opts = question_options(cfg);
        let text = query.clone();
        let task = tokio::spawn(async move {
            let r = retriever.get().await.ok()?;
            let stamp = kept.as_ref().map(|_| vectors_stamp(r.embedder().name(), r.embedder().dim(), &opts, &text));
            if let (Some(k), Some(stamp)) = (kept.as_ref().filter(|k| k.rerun), stamp) {
                match crate::storage::updates::question_vectors(&k.db.pool, k.bot, k.update_id).await {
                    Ok(Some(bytes)) => {
                        if let Some(v) = decode_vectors(&bytes, stamp, r.embedder().dim()) {
                            return Some(v);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::debug!(error = %e, "could not read the question's kept embeddings; embedding it again"),
                }
            }
            let vectors = r.query_vectors(&text, &opts).await.ok()?;
            if let (Some(k), Some(stamp)) = (kept, stamp)
                && !vectors.is_empty()
            {
                let bytes = encode_vectors(stamp, &vectors);
                // Not awaited: the answer goes on; a re-run without them embeds again.
                tokio::spawn(async move {
                    if let Err(e) = crate::storage::updates::keep_question_vectors(&k.db.pool, k.bot, k.update_id, &bytes).await {
                        tracing::debug!(error = %e, "could not keep the question's embeddings");
                    }
                });
            }
            Some(vectors)
        });
        Self { query, task: std::sync::Mutex::new(Some(task)) }
    }

    /// The embeddings, when they are of `query` and were made; `None` otherwise (the caller
    /// embeds, and an error shows there).
    pub async fn take(&self, query: &str) -> Option<Vec<Vec<f32>>> {
        if self.query != query {
            return None;
        }
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take()?;
        task.await.ok().flatten()
    }
}

impl Drop for EarlyVectors {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }
}

/// What kept question embeddings must have been made by and for: the embedding model, the
/// search options that shape them and the query, as the first 8 bytes of their SHA-256.
fn vectors_stamp(model: &str, dim: usize, opts: &SearchOptions, query: &str) -> [u8; 8] {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{model}\0{dim}\0{:?}\0{}\0{query}", opts.mode, opts.question_focus));
    digest[..8].try_into().expect("8 of 32 bytes")
}

/// Kept question embeddings: [`vectors_stamp`], then every value, little-endian f32.
fn encode_vectors(stamp: [u8; 8], vectors: &[Vec<f32>]) -> Vec<u8> {
    let mut out = stamp.to_vec();
    out.extend(vectors.iter().flatten().flat_map(|x| x.to_le_bytes()));
    out
}

/// [`encode_vectors`]'s vectors of `dim` values, when `bytes` carry `stamp` and whole vectors.
fn decode_vectors(bytes: &[u8], stamp: [u8; 8], dim: usize) -> Option<Vec<Vec<f32>>> {
    let values = bytes.strip_prefix(stamp.as_slice())?;
    if dim == 0 || values.is_empty() || values.len() % (4 * dim) != 0 {
        return None;
    }
    let floats: Vec<f32> = values.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
    Some(floats.chunks(dim).map(<[f32]>::to_vec).collect())
}

/// The bot's Q&A pair, then retrieval among the bot's sources with the confidence threshold.
///
/// `early`: the question's embeddings, when they were started before the conversation was
/// loaded ([`EarlyVectors`]); used when they are of `query`, else it is embedded here.
#[tracing::instrument(name = "answering.retrieve", skip_all, fields(tenant_id = tenant.0, bot_id = bot.0))]
pub async fn prepare(db: &Db, cfg: &AnsweringConfig, retriever: &Retriever, tenant: TenantId, bot: BotId, query: &str, early: Option<&EarlyVectors>) -> anyhow::Result<Prepared> {
    // One embedding of the question serves both the Q&A match and retrieval.
    let opts = question_options(cfg);
    let t = Instant::now();
    let made = match early {
        Some(e) => e.take(query).await,
        None => None,
    };
    let vectors = match made {
        Some(v) => v,
        None => retriever.query_vectors(query, &opts).await?,
    };
    let embed = t.elapsed();
    let t = Instant::now();
    // The bot's sources are read beside the Q&A match (needed unless a pair answers).
    let (pair, scope) = tokio::try_join!(crate::knowledge::qa::match_qa(db, retriever, tenant, Some(bot), query, vectors.first().map(Vec::as_slice)), async {
        Ok(crate::knowledge::scope::of_bot(&db.pool, tenant, Some(bot)).await?)
    })?;
    if let Some(pair) = pair {
        return Ok(Prepared::Qa(pair.answer));
    }
    let lookup = t.elapsed();
    // "I don't know" when no passage is similar enough, or no sentence answers well enough.
    Ok(match find(cfg, retriever, tenant, &scope, query, &opts, vectors).await? {
        Some(mut p) if p.selection.confident() => {
            p.steps.embed = embed;
            p.steps.lookup = lookup;
            Prepared::Passages(p)
        }
        _ => Prepared::NotFound,
    })
}

/// Retrieval with the similarity threshold, and the passages' sentences ranked for `query` —
/// before the sentence threshold (`bellhop eval answers` calibrates that one on it).
pub async fn find(
    cfg: &AnsweringConfig,
    retriever: &Retriever,
    tenant: TenantId,
    sources: &Sources,
    query: &str,
    opts: &SearchOptions,
    vectors: Vec<Vec<f32>>,
) -> anyhow::Result<Option<Passages>> {
    let question_vector = vectors.first().cloned();
    let t = Instant::now();
    // A few more chunks than are read are fetched, for a sentence that answers in a passage about
    // something else ([`extract::answering_sentence`]); the ranking of the first is the same.
    let wide = SearchOptions { limit: opts.limit.max(WIDE), ..*opts };
    let mut hits = retriever.search_with(tenant, sources, query, &wide, vectors).await?;
    let mut rest = hits.split_off(opts.limit.min(hits.len()));
    let search = t.elapsed();
    let min = cfg.min_similarity;
    let Some(top) = hits.first().map(|h| h.similarity.unwrap_or(0.0)) else { return Ok(None) };
    // Keep passages reasonably close to the best one; far weaker ones only add noise.
    let (mut hits, weak): (Vec<Hit>, Vec<Hit>) = hits.into_iter().partition(|h| h.similarity.unwrap_or(0.0) >= top.min(min) * 0.8);
    rest.splice(0..0, weak);
    let primary = hits.len();
    // A passage far from the question may hold the one sentence that answers it: "Breakfast is
    // included in every room rate." below a B&B's price table, for "is breakfast included?" (the
    // passage is about prices; the FAQ on special diets came first and its "Yes, we offer
    // vegetarian … breakfasts on request" was quoted). Such passages are
    // read too, by the sentence vectors kept with them — no embedding is made for this.
    if let Some(q) = question_vector.as_deref() {
        let mut near: Vec<(f32, Hit)> = rest.into_iter().filter_map(|h| extract::answering_sentence(retriever, &h, q).map(|s| (s, h))).collect();
        near.sort_by(|a, b| b.0.total_cmp(&a.0));
        hits.extend(near.into_iter().take(2).map(|(_, h)| h));
    }
    // A question for a contact detail ("what is your phone number?") is far from the line that
    // gives it ("… just call us on 555-0142 …" in a booking FAQ, "You will find us at 14 Elm
    // Street" at the end of the opening hours): the passages nearest to a line like it are read
    // too. Their match is shown as the bar: they are read for the detail, not for their meaning.
    if let Some(contact) = extract::asks_for(query) {
        let example = contact.example();
        let vectors = retriever.query_vectors(example, opts).await?;
        for mut h in retriever.search_with(tenant, sources, example, opts, vectors).await?.into_iter().take(3) {
            if !hits.iter().any(|k| k.payload.chunk_id == h.payload.chunk_id) {
                h.similarity = h.similarity.map(|s| s.min(min));
                hits.push(h);
            }
        }
    }
    let tuning = extract::Tuning { min_score: cfg.min_sentence_score, ..extract::Tuning::default() };
    let t = Instant::now();
    let selection = extract::select(retriever, query, question_vector.as_deref(), &hits, primary, tuning).await;
    // A passage below the threshold may still hold the answer in one of its lines: a price list
    // or a PDF's page read as one passage is far from a question about one of its items as a
    // whole ("Do you do tubeless setups?" is 0.19 from a 16-line price list), close to the line
    // that answers it. Then that line decides, at a higher bar (`Selection::answers_alone`).
    if top < min && !selection.answers_alone() {
        return Ok(None);
    }
    let steps = RetrievalSteps { search, sentences: t.elapsed(), ..Default::default() };
    Ok(Some(Passages { hits, selection, steps }))
}

/// Chunks fetched for [`find`] beyond those read, for a sentence that answers by itself.
const WIDE: usize = 20;

/// [`find`] with the query embedded here (for the eval).
pub async fn find_for(cfg: &AnsweringConfig, retriever: &Retriever, tenant: TenantId, sources: &Sources, query: &str) -> anyhow::Result<Option<Passages>> {
    let opts = SearchOptions { limit: cfg.sources, ..Default::default() };
    let vectors = retriever.query_vectors(query, &opts).await?;
    find(cfg, retriever, tenant, sources, query, &opts, vectors).await
}

/// What a model wrote and what it was given, kept for `bellhop eval answers` (which compares
/// verification methods on them) while recording is on; never otherwise.
#[derive(Debug, Clone)]
pub struct ModelSample {
    pub question: String,
    pub text: String,
    pub given: Vec<String>,
}

static SAMPLES: std::sync::Mutex<Option<Vec<ModelSample>>> = std::sync::Mutex::new(None);

/// Starts (or stops) keeping [`ModelSample`]s in this process.
pub fn record_model_samples(on: bool) {
    *SAMPLES.lock().unwrap_or_else(|p| p.into_inner()) = on.then(Vec::new);
}

/// Takes the samples kept so far.
pub fn take_model_samples() -> Vec<ModelSample> {
    SAMPLES.lock().unwrap_or_else(|p| p.into_inner()).as_mut().map(std::mem::take).unwrap_or_default()
}

fn keep_sample(question: &str, text: &str, given: &[&str]) {
    if let Some(v) = SAMPLES.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        v.push(ModelSample { question: question.to_owned(), text: text.to_owned(), given: given.iter().map(|g| (*g).to_owned()).collect() });
    }
}

/// Sentences given to the model: the best ones with their neighbours (a short prompt is a fast
/// one, and a small model stays on what matters).
const CONTEXT_SENTENCES: usize = 5;

/// How the model is to be called.
pub struct ModelCall<'a> {
    pub model: &'a dyn ChatModel,
    pub max_tokens: u32,
    pub temperature: f32,
    pub timeout: Duration,
    /// Least share of a sentence's own words one passage must hold (the claims rule of
    /// [`super::verify`]; 0 turns that one rule off — numbers, dates, addresses and contacts are
    /// always checked).
    pub min_support: f32,
}

/// Answers from `passages` with the model, publishing verified text so far to `progress` as it
/// grows. Never fails: a model error or timeout, or an answer that fails verification, gives
/// the extractive answer instead.
#[tracing::instrument(name = "answering.generate", skip_all)]
pub async fn generate(call: Option<ModelCall<'_>>, voice: &Voice<'_>, history: &[Turn], question: &str, passages: &Passages, progress: Option<&tokio::sync::watch::Sender<String>>) -> Composed {
    let hits = &passages.hits;
    let sel = &passages.selection;
    let Some(call) = call else { return extractive(voice, hits, sel, Some("no model call (model answers off, no model, or over the daily budget)".into())) };
    // The customer sees the quote at once; the model's verified sentences replace it as they come.
    let quoted = extractive(voice, hits, sel, None);
    if let Some(tx) = progress
        && quoted.kind == MessageKind::Extractive
    {
        let _ = tx.send(quoted.text.clone());
    }
    // The model sees the chosen sentences with their neighbours, numbered per passage.
    let context = sel.context(CONTEXT_SENTENCES);
    let sources: Vec<SourceText<'_>> = context.iter().map(|(h, text)| SourceText { title: &hits[*h].payload.title, text }).collect();
    let p = prompt::build(voice, history, question, &sources, call.model.context_tokens(), call.max_tokens as usize);
    if p.sources_used == 0 {
        return extractive(voice, hits, sel, Some("no source fits the model's context".into()));
    }
    let given: Vec<&str> = context[..p.sources_used].iter().map(|(_, t)| t.as_str()).collect();
    let rules = Rules { min_share: call.min_support, claims: call.min_support > 0.0, ..Rules::default() };
    let evidence = Evidence::new(&given, question, &[voice.business], rules);
    let req = ChatRequest { messages: p.messages, max_tokens: call.max_tokens, temperature: call.temperature };
    let started = std::time::Instant::now();
    let sources_used = p.sources_used;
    let run = async {
        let mut stream = call.model.stream(req).await?;
        let mut text = String::new();
        let mut shown = String::new();
        while let Some(piece) = stream.next().await {
            let piece = match piece? {
                Piece::Text(t) => t,
                // Cut off at `max_tokens`: its last sentence is likely unfinished, and goes.
                Piece::Cut => return Ok((super::verify::complete_sentences(&text).to_owned(), None, true)),
            };
            text.push_str(&piece);
            if visible(&text).is_empty() {
                continue;
            }
            // Only verified, complete sentences reach a draft; at the first sentence that fails,
            // nothing the model writes can be shown any more: it is stopped there.
            let (draft, failed) = evidence.stream(&text);
            if let Some(tx) = progress
                && !draft.is_empty()
                && draft != shown
            {
                let (clean, _) = cite(&draft, sources_used);
                let _ = tx.send(clean.trim().to_owned());
                shown = draft;
            }
            if let Some(problem) = failed {
                return Ok((text, Some(problem), false));
            }
        }
        Ok::<_, ModelError>((text, None, false))
    };
    let outcome = tokio::time::timeout(call.timeout, run).await;
    let model_time = started.elapsed();
    let (text, failed, cut) = match outcome {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return Composed { model_time, ..extractive(voice, hits, sel, Some(format!("{e}"))) },
        Err(_) => return Composed { model_time, ..extractive(voice, hits, sel, Some(format!("the model did not finish within {} s", call.timeout.as_secs()))) },
    };
    let answer_tokens = crate::knowledge::chunk::count_tokens(&text);
    let tokens = (p.tokens + answer_tokens) as u64;
    keep_sample(question, &text, &given);
    if let Some(problem) = failed {
        return Composed { tokens, model_time, ..extractive(voice, hits, sel, Some(failed_note(&problem))) };
    }
    if cut && text.trim().is_empty() {
        return Composed { tokens, model_time, ..extractive(voice, hits, sel, Some("the model's answer was cut off at llm.max_answer_tokens before its first sentence ended".into())) };
    }
    if text.contains(NO_ANSWER) || text.trim().is_empty() {
        // The sentence ranking found a confident answer (else there would be no model call):
        // it stays quoted, as the customer has seen it in the draft.
        return Composed { tokens, model_time, ..extractive(voice, hits, sel, Some("the model found no answer in the sources; the best sentences are quoted".into())) };
    }
    let checked = match evidence.by_sentence(&text) {
        Ok(checked) if checked.iter().any(|(_, v)| !v.is_empty()) => checked,
        Ok(_) => return Composed { tokens, model_time, ..extractive(voice, hits, sel, Some("the model's answer made no claim the sources hold".into())) },
        Err(problem) => return Composed { tokens, model_time, ..extractive(voice, hits, sel, Some(failed_note(&problem))) },
    };
    // The sources listed are the passages that support the answer; each sentence keeps only the
    // citations of the passages that support it.
    let (clean, mut numbers) = cite_each(&text, &checked);
    numbers.sort_unstable();
    let sources = numbers.into_iter().map(|n| cited_source(n, &hits[context[n - 1].0])).collect();
    Composed { kind: MessageKind::Answer, text: clean.trim().to_owned(), sources, tokens, note: None, model_time }
}

/// A source as listed under an answer: its title and, when there is one, the section the
/// passage is in ("Orders and delivery › Delivery"), so passages of one document are told apart.
fn cited_source(n: usize, h: &Hit) -> Cited {
    let title = if h.payload.title.is_empty() { "Untitled" } else { h.payload.title.as_str() };
    let title = match h.payload.sections().last() {
        Some(section) => format!("{title} › {section}"),
        None => title.to_owned(),
    };
    Cited { n, title, url: h.payload.url.clone(), source_id: h.payload.source_id.clone() }
}

/// The model's text as a draft may show it: nothing while it could still be the NO_ANSWER marker.
fn visible(text: &str) -> String {
    let t = text.trim_start();
    if t.contains(NO_ANSWER) || NO_ANSWER.starts_with(t) { String::new() } else { t.to_owned() }
}

/// Keeps the citations `[k]` (also `[1, 2]`) with 1 ≤ k ≤ `sources`; drops every other bracketed
/// number. Returns the text and the cited numbers in order of first use.
pub fn cite(text: &str, sources: usize) -> (String, Vec<usize>) {
    let allowed: Vec<usize> = (1..=sources).collect();
    cite_only(text, &allowed)
}

/// `text` with each checked sentence's citations cut to the passages (0-based) that support
/// that sentence: a price cited to the page of the address loses the citation. Returns the text
/// and the numbers (1-based) of every supporting passage, in order of first use.
fn cite_each(text: &str, checked: &[(&str, Vec<usize>)]) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut numbers: Vec<usize> = Vec::new();
    let mut done = 0;
    for (sentence, support) in checked {
        // Each sentence is a slice of `text`, in order.
        let at = (sentence.as_ptr() as usize).saturating_sub(text.as_ptr() as usize).clamp(done, text.len());
        out.push_str(&text[done..at]);
        let allowed: Vec<usize> = support.iter().map(|i| i + 1).collect();
        out.push_str(&cite_only(sentence, &allowed).0);
        for n in allowed {
            if !numbers.contains(&n) {
                numbers.push(n);
            }
        }
        done = (at + sentence.len()).min(text.len());
    }
    out.push_str(&text[done..]);
    (out, numbers)
}

/// Keeps the citations `[k]` with k in `allowed`; drops every other bracketed number.
pub fn cite_only(text: &str, allowed: &[usize]) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut cited = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find(']').filter(|&c| c <= 24);
        let nums: Option<Vec<usize>> = close.and_then(|c| {
            let inner = &after[..c];
            if inner.trim().is_empty() {
                return None;
            }
            inner.split(',').map(|p| p.trim().parse::<usize>().ok()).collect()
        });
        match (close, nums) {
            (Some(c), Some(nums)) => {
                let keep: Vec<usize> = nums.into_iter().filter(|k| allowed.contains(k)).collect();
                for &k in &keep {
                    if !cited.contains(&k) {
                        cited.push(k);
                    }
                }
                let mut dedup = keep.clone();
                dedup.dedup();
                for k in &dedup {
                    out.push_str(&format!("[{k}]"));
                }
                rest = &after[c + 1..];
                // A dropped citation leaves its surrounding spaces: keep one.
                if dedup.is_empty() && out.ends_with(' ') && rest.starts_with([' ', '.', ',']) {
                    out.pop();
                }
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (out, cited)
}

/// The extractive answer: the sentence(s) of the passages that answer best, quoted under a short
/// lead-in in the customer's language, each with its source — presented as a quote, never as
/// the bot's own words. "I don't know" (`fallback`) when no sentence was chosen.
/// The note (logged at info) of an answer that failed verification: the kind of problem, never
/// the text it is about — the model may have said back the customer's e-mail address, phone
/// number or question.
fn failed_note(problem: &super::verify::Problem) -> String {
    format!("the model's answer failed verification: {}", problem.kind())
}

pub fn extractive(voice: &Voice<'_>, hits: &[Hit], sel: &Selection, note: Option<String>) -> Composed {
    let quote = sel.quoted();
    if quote.is_empty() {
        return Composed { kind: MessageKind::Fallback, text: String::new(), sources: vec![], tokens: 0, note, model_time: Duration::ZERO };
    }
    let mut numbered: Vec<usize> = Vec::new();
    let mut text = String::from(lead_in(voice.language));
    for (hit, quoted) in &quote {
        if !numbered.contains(hit) {
            numbered.push(*hit);
        }
        let n = numbered.iter().position(|h| h == hit).unwrap_or(0) + 1;
        // A list item is quoted without its marker ("- 09:30 — Gentle Yoga" reads as a stray dash).
        text.push_str(&format!("\n\n“{quoted}” [{n}]"));
    }
    let sources = numbered.iter().enumerate().map(|(i, h)| cited_source(i + 1, &hits[*h])).collect();
    Composed { kind: MessageKind::Extractive, text, sources, tokens: 0, note, model_time: Duration::ZERO }
}

/// The line above a quote, in the customer's language (Telegram's `language_code`) when known.
pub fn lead_in(language: Option<&str>) -> &'static str {
    match language.map(|l| l.split(['-', '_']).next().unwrap_or(l).to_lowercase()).as_deref() {
        Some("ru") => "Вот что сказано в наших материалах:",
        Some("es") => "Esto es lo que dice nuestra información:",
        Some("fa") => "این را در اطلاعات ما پیدا کردم:",
        Some("de") => "Das steht in unseren Unterlagen:",
        Some("fr") => "Voici ce que disent nos informations :",
        Some("it") => "Ecco cosa dicono le nostre informazioni:",
        Some("pt") => "Isto é o que diz a nossa informação:",
        Some("uk") => "Ось що сказано в наших матеріалах:",
        _ => "Here is what our information says:",
    }
}

/// The answer as Telegram HTML: everything escaped, then the list of sources under `heading`
/// ("Sources", in the customer's language; linked when they have an address).
pub fn render_html(text: &str, sources: &[Cited], heading: &str) -> String {
    use crate::telegram::html::escape;
    let mut out = escape(text);
    if !sources.is_empty() {
        out.push_str(&format!("\n\n<b>{}</b>", escape(heading)));
        for s in sources {
            match &s.url {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => out.push_str(&format!("\n[{}] <a href=\"{}\">{}</a>", s.n, escape(u), escape(&s.title))),
                _ => out.push_str(&format!("\n[{}] {}", s.n, escape(&s.title))),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_outside_the_given_sources_are_dropped() {
        let (t, c) = cite("Open at 7 [1]. Free delivery [3][2]. See [12] and [1, 2, 9]. Array [a] stays.", 2);
        assert_eq!(t, "Open at 7 [1]. Free delivery [2]. See and [1][2]. Array [a] stays.");
        assert_eq!(c, vec![1, 2]);
    }

    #[test]
    fn a_failed_verification_is_logged_without_what_the_customer_wrote() {
        use super::super::verify::Problem;
        // The model said back the customer's own details; the note (logged at info) names the
        // kind of problem only.
        let canary = "jane.canary@example.com +1 555 0199 order 4711";
        for p in [Problem::Number(canary.into()), Problem::Calendar(canary.into()), Problem::Url(canary.into()), Problem::Email(canary.into()), Problem::Phone(canary.into()), Problem::Unsupported(canary.into())] {
            let note = failed_note(&p);
            assert!(!note.contains("canary") && !note.contains("4711") && !note.contains("0199"), "{note}");
            assert!(note.contains(p.kind()), "{note}");
        }
    }

    #[test]
    fn no_answer_marker_is_never_drafted() {
        assert_eq!(visible("NO_"), "");
        assert_eq!(visible(" NO_ANSWER"), "");
    }

    #[test]
    fn only_allowed_citations_survive() {
        let (t, c) = cite_only("Open at 7 [1]. Free delivery [2][3].", &[1, 3]);
        assert_eq!(t, "Open at 7 [1]. Free delivery [3].");
        assert_eq!(c, vec![1, 3]);
        assert_eq!(visible("We open"), "We open");
    }

    #[test]
    fn each_sentence_keeps_only_the_citations_of_the_passages_that_support_it() {
        let e = Evidence::new(&["Sunrise Bakery is at 12 Harbour Street.", "A cake for 12 people costs 45 euros."], "Where are you, and how much is a cake for 12?", &[], Rules::default());
        // The price cited to the address's passage, the address to both.
        let text = "A cake for 12 people costs 45 euros [1].\nWe are at 12 Harbour Street [1][2].";
        let checked = e.by_sentence(text).unwrap();
        assert_eq!(cite_each(text, &checked), ("A cake for 12 people costs 45 euros.\nWe are at 12 Harbour Street [1].".to_owned(), vec![2, 1]));
        // Cited right, nothing changes.
        let right = "A cake for 12 people costs 45 euros [2]. We are at 12 Harbour Street [1].";
        assert_eq!(cite_each(right, &e.by_sentence(right).unwrap()).0, right);
    }

    #[test]
    fn html_is_escaped_and_only_web_links_are_links() {
        let s = vec![
            Cited { n: 1, title: "<b>Menu</b>".into(), url: Some("https://x.test/a?b=1&c=2".into()), source_id: "src-1".into() },
            Cited { n: 2, title: "FAQ".into(), url: Some("javascript:alert(1)".into()), source_id: "src-2".into() },
        ];
        let h = render_html("1 < 2 & <script>", &s, "Sources");
        assert!(h.starts_with("1 &lt; 2 &amp; &lt;script&gt;"));
        assert!(h.contains("<a href=\"https://x.test/a?b=1&amp;c=2\">&lt;b&gt;Menu&lt;/b&gt;</a>"));
        assert!(h.contains("[2] FAQ") && !h.contains("javascript"));
    }

    /// Issue 16, item 17: a source's address is untrusted text inside `href="…"`.
    #[test]
    fn a_source_address_with_quotes_stays_one_link_to_that_address() {
        let url = "https://x.test/?q=\"><b>x</b>&a='1'";
        let s = vec![Cited { n: 1, title: "Menu \"new\"".into(), url: Some(url.into()), source_id: "src-1".into() }];
        let parsed = crate::telegram::html::parse(&render_html("Answer", &s, "Sources")).unwrap();
        let links: Vec<_> = parsed.entities.iter().filter(|e| e.kind == "text_link").collect();
        assert_eq!(links.len(), 1, "{:?}", parsed.entities);
        assert_eq!(links[0].url.as_deref(), Some(url));
        assert!(parsed.text.ends_with("[1] Menu \"new\""), "{}", parsed.text);
        assert!(parsed.entities.iter().all(|e| e.kind != "bold" || e.offset < 10), "no bold from the address: {:?}", parsed.entities);
    }
}
