//! `bellhop eval answers`: does a customer get a right answer, or an honest "I don't know"?
//!
//! Each article of a SQuAD-2.0-style set (`data/eval/squad2`, see its README) becomes one
//! business: a bot created through the sandbox's managed-bot flow, its paragraphs added as the
//! business's documents through the real ingestion pipeline. Each sampled question is then asked
//! by a new customer (no history) in the in-process sandbox, exactly as a Telegram user would,
//! and the app answers with the live settings: retrieval, the configured chat model (the local
//! one or `llm.url`), verification, drafts, the final message. What the customer received is
//! scored, and the reply is classified by the kind the pipeline stored (`answer`, `extractive`,
//! `fallback`…), never by guessing from its text.
//!
//! Scoring (the set's README): SQuAD normalisation (lower case, ASCII punctuation and the
//! articles a/an/the removed, whitespace collapsed); an answerable question is **correct** when
//! the reply's text (above the list of sources) contains a gold span, **wrong** when the bot
//! answered or quoted without one, **abstained** when it said it doesn't know; an unanswerable
//! one is **refused**, **quoted** (only passages shown, presented as a quote) or
//! **hallucinated** (answered). **Confidently wrong** = wrong or hallucinated among the answers
//! the bot gave (quotes and refusals aside).
//!
//! Times are taken where the customer sees them: from the customer's message reaching the
//! sandbox to the first draft (`sendMessageDraft`) and to the final message arriving there.
use crate::config::Config;
use crate::domain::{BotId, TenantId};
use crate::app::{AppState, Application, Role};
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What `bellhop eval answers` was asked to do.
#[derive(Debug, Clone, clap::Args)]
pub struct AnswersArgs {
    /// `corpus.jsonl`: one paragraph per line, `{"_id", "title", "text", "metadata": {"article"}}`
    /// (`metadata` may also name the business, `"business"`, when each title is its document's).
    #[arg(long)]
    pub corpus: PathBuf,
    /// `questions.jsonl`: `{"_id", "text", "article", "paragraph", "answerable", "answers"}`.
    #[arg(long)]
    pub questions: PathBuf,
    /// Ask at most this many questions, sampled at random (with `--seed`) over the articles.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only these articles (comma-separated), e.g. `Huguenot,Islamism`.
    #[arg(long, value_delimiter = ',')]
    pub articles: Vec<String>,
    /// Write one JSON line per question (question, reply, kind, outcome, times) to this file.
    #[arg(long)]
    pub details: Option<PathBuf>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Question {
    #[serde(rename = "_id")]
    pub id: String,
    pub text: String,
    pub article: String,
    #[serde(default)]
    pub paragraph: String,
    pub answerable: bool,
    #[serde(default)]
    pub answers: Vec<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Paragraph {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: String,
    text: String,
    #[serde(default)]
    metadata: Value,
}

/// The business an article plays is named by `metadata.business` when the set gives one (a
/// business whose documents have titles of their own, as in `data/eval/shops`), else by its
/// first paragraph's title (squad2: the article's, the same for all its paragraphs).
fn business_name(article: &str, first: &Paragraph) -> String {
    match first.metadata["business"].as_str() {
        Some(name) => name.to_owned(),
        None if first.title.is_empty() => article.replace('_', " "),
        None => first.title.clone(),
    }
}

/// A paragraph as the Markdown document the business uploads: under its own title, as the owner
/// named it (the business's name when it has none).
fn document(p: &Paragraph, business: &str) -> String {
    let heading = if p.title.is_empty() { business } else { &p.title };
    format!("# {heading}\n\n{}\n", p.text.trim())
}

fn read_lines<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> anyhow::Result<Vec<T>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{} line {}", path.display(), i + 1)))
        .collect()
}

/// SQuAD's answer normalisation: lower case, ASCII punctuation removed, the articles a/an/the
/// removed, whitespace collapsed.
pub fn normalize(s: &str) -> String {
    // As SQuAD's `normalize_answer`: punctuation is deleted, not replaced ("U.S." → "us"); also
    // the typographic marks a reply may quote with (“…”), which SQuAD's ASCII set lacks.
    let deleted: String = s.to_lowercase().chars().filter(|c| !c.is_ascii_punctuation() && !"“”‘’«»„…–—".contains(*c)).collect();
    deleted.split_whitespace().filter(|w| !matches!(*w, "a" | "an" | "the")).collect::<Vec<_>>().join(" ")
}

/// Whether `reply` contains one of the gold spans, after normalisation, at word boundaries.
pub fn contains_gold(reply: &str, gold: &[String]) -> bool {
    let r = format!(" {} ", normalize(reply));
    gold.iter().map(|g| normalize(g)).filter(|g| !g.is_empty()).any(|g| r.contains(&format!(" {g} ")))
}

/// How one reply is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Correct,
    Wrong,
    Abstained,
    Refused,
    Quoted,
    Hallucinated,
}

/// What the pipeline decided, from the stored reply's kind: an answer (the model's, or the
/// owner's Q&A pair), a quote of the sources, or "I don't know".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Answer,
    Quote,
    DontKnow,
}

pub fn decision(kind: &str) -> Decision {
    match kind {
        "answer" | "qa" => Decision::Answer,
        "extractive" => Decision::Quote,
        _ => Decision::DontKnow,
    }
}

pub fn score(q: &Question, kind: &str, text: &str) -> Outcome {
    let d = decision(kind);
    match (q.answerable, d) {
        (true, Decision::DontKnow) => Outcome::Abstained,
        (true, _) if contains_gold(text, &q.answers) => Outcome::Correct,
        (true, _) => Outcome::Wrong,
        (false, Decision::DontKnow) => Outcome::Refused,
        (false, Decision::Quote) => Outcome::Quoted,
        (false, Decision::Answer) => Outcome::Hallucinated,
    }
}

/// One question's result.
#[derive(Debug, Clone, serde::Serialize)]
struct Row {
    id: String,
    article: String,
    question: String,
    answerable: bool,
    gold: Vec<String>,
    kind: String,
    decision: Decision,
    outcome: Outcome,
    reply: String,
    /// Seconds from the customer's message to the first draft (None: no draft was shown).
    first_draft_s: Option<f64>,
    final_s: f64,
    /// Every draft the customer saw, in order.
    drafts: Vec<String>,
    /// Model tokens of the reply (0: the model was not called).
    model_tokens: i64,
    /// For calibration, from retrieval and sentence ranking alone: the best sentence's score
    /// (None: no passage above the similarity threshold), and whether the quote holds a gold span.
    best_score: Option<f32>,
    quote_gold: bool,
    /// What the model wrote (before verification), if it was called, and whether each
    /// verification method would have let it through (see [`METHODS`]).
    model_text: Option<String>,
    methods: BTreeMap<String, bool>,
}

/// The verification methods compared on the model's own answers: the claims rule with several
/// shares of a sentence's own words, sentence-level similarity with the embedding model (each
/// answer sentence to its closest passage sentence) at several thresholds, and both together.
/// Every method includes the facts rule (numbers, dates, URLs, contacts). `lexical-75-unbound` is
/// the product's rule without the binding of a sentence's own words to the question's words it
/// repeats (what it costs and what it catches, on the same answers).
const METHODS: &[&str] = &["lexical-50", "lexical-60", "lexical-75", "lexical-75-unbound", "lexical-90", "embedding-60", "embedding-70", "embedding-80", "lexical-75+embedding-70"];

async fn methods(retriever: &crate::retrieval::Retriever, business: &str, sample: &crate::answering::compose::ModelSample) -> anyhow::Result<BTreeMap<String, bool>> {
    use crate::answering::verify::{Evidence, Rules, sentences, strip_citations};
    let given: Vec<&str> = sample.given.iter().map(String::as_str).collect();
    let lexical = |share: f32, bind: bool| Evidence::new(&given, &sample.question, &[business], Rules { min_share: share, bind, ..Rules::default() }).answer(&sample.text).is_ok_and(|u| !u.is_empty());
    let facts = Evidence::new(&given, &sample.question, &[business], Rules { claims: false, ..Rules::default() }).answer(&sample.text).is_ok();
    let said: Vec<String> = sentences(&sample.text).into_iter().map(strip_citations).filter(|s| s.chars().any(char::is_alphanumeric)).collect();
    let known: Vec<&str> = given.iter().flat_map(|g| sentences(g)).collect();
    // The closest passage sentence's similarity, for each sentence of the answer.
    let mut closest = Vec::new();
    if !said.is_empty() && !known.is_empty() {
        let a = retriever.embed_memoised(&said.iter().map(String::as_str).collect::<Vec<_>>()).await?;
        let k = retriever.embed_memoised(&known).await?;
        for v in &a {
            closest.push(k.iter().map(|w| v.iter().zip(w.iter()).map(|(x, y)| x * y).sum::<f32>()).fold(f32::MIN, f32::max));
        }
    }
    let embedding = |t: f32| facts && !closest.is_empty() && closest.iter().all(|c| *c >= t);
    let mut out = BTreeMap::new();
    for m in METHODS {
        let ok = match *m {
            "lexical-50" => lexical(0.5, true),
            "lexical-60" => lexical(0.6, true),
            "lexical-75" => lexical(0.75, true),
            "lexical-75-unbound" => lexical(0.75, false),
            "lexical-90" => lexical(0.9, true),
            "embedding-60" => embedding(0.6),
            "embedding-70" => embedding(0.7),
            "embedding-80" => embedding(0.8),
            _ => lexical(0.75, true) && embedding(0.7),
        };
        out.insert((*m).to_owned(), ok);
    }
    Ok(out)
}

/// Counts for one article or all.
#[derive(Debug, Default, Clone)]
struct Tally {
    n: usize,
    outcomes: BTreeMap<Outcome, usize>,
    /// Answerable questions answered wrongly by a model answer (not a quote).
    answered_wrong: usize,
    answers: usize,
    first_draft: Vec<Duration>,
    finals: Vec<Duration>,
}

impl Tally {
    fn add(&mut self, r: &Row) {
        self.n += 1;
        *self.outcomes.entry(r.outcome).or_default() += 1;
        if r.decision == Decision::Answer {
            self.answers += 1;
            if r.outcome == Outcome::Wrong {
                self.answered_wrong += 1;
            }
        }
        if let Some(s) = r.first_draft_s {
            self.first_draft.push(Duration::from_secs_f64(s));
        }
        self.finals.push(Duration::from_secs_f64(r.final_s));
    }
    fn get(&self, o: Outcome) -> usize {
        self.outcomes.get(&o).copied().unwrap_or(0)
    }
    fn answerable(&self) -> usize {
        self.get(Outcome::Correct) + self.get(Outcome::Wrong) + self.get(Outcome::Abstained)
    }
    fn unanswerable(&self) -> usize {
        self.get(Outcome::Refused) + self.get(Outcome::Quoted) + self.get(Outcome::Hallucinated)
    }
    /// Wrong or hallucinated among the answers given.
    fn confidently_wrong(&self) -> usize {
        self.answered_wrong + self.get(Outcome::Hallucinated)
    }
}

fn frac(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn pct_s(v: &[Duration], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort();
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64()
}

/// The running app, the sandbox as Telegram, and an HTTP client for the sandbox's control API.
struct Harness {
    app: AppState,
    tg: crate::sandbox::SandboxHandle,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
    http: reqwest::Client,
}

impl Harness {
    fn api(&self, path: &str) -> String {
        format!("{}/sandbox/api/{path}", self.tg.base_url)
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let v: Value = self.http.post(self.api(path)).json(&body).send().await?.json().await?;
        anyhow::ensure!(v["ok"] == json!(true), "the sandbox said {v}");
        Ok(v["result"].clone())
    }

    /// A business: its owner confirms a creation link, the manager provisions the bot.
    async fn business(&self, i: usize, name: &str) -> anyhow::Result<(i64, TenantId)> {
        let owner = self.post("users", json!({"first_name": format!("Owner {i}")})).await?["id"].as_i64().context("user id")?;
        let manager = self.app.manager.as_ref().context("no manager bot")?.username.clone();
        let link = format!("https://t.me/newbot/{manager}/article_{i}_bot?name={}", urlencoding::encode(name));
        let req = self.post(&format!("users/{owner}/creation_links"), json!({"link": link})).await?;
        let id = req["id"].as_str().context("creation request id")?.to_owned();
        let bot = self.post(&format!("creation_requests/{id}/confirm"), json!({})).await?["id"].as_i64().context("bot id")?;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(r) = crate::storage::bots::managed_row(&self.app.db.pool, BotId(bot)).await?
                && r.status == "live"
            {
                return Ok((bot, r.tenant_id));
            }
            anyhow::ensure!(Instant::now() < deadline, "bot {bot} did not go live");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asks `text` as a new customer of `bot`; waits for the reply and returns it with the
    /// times the customer saw the first draft and the final message.
    async fn ask(&self, bot: i64, tenant: TenantId, n: usize, text: &str) -> anyhow::Result<(String, String, Option<Duration>, Duration, Vec<String>, i64)> {
        let customer = self.post("users", json!({"first_name": format!("Customer {n}"), "language_code": "en", "started_bots": [bot]})).await?["id"].as_i64().context("customer id")?;
        let started = Instant::now();
        self.post(&format!("users/{customer}/messages"), json!({"bot_id": bot, "text": text})).await?;
        let mut first_draft = None;
        let deadline = started + Duration::from_secs(600);
        let final_at = loop {
            let (drafted, replied) = self.tg.sandbox.with_world(|w| {
                let drafted = w.draft_history.iter().rev().take(500).any(|d| d.bot_id == bot && d.chat_id == customer);
                let replied = w.messages.iter().rev().take(200).any(|e| e.bot_id == bot && e.chat_id == customer && e.from_bot);
                (drafted, replied)
            });
            if drafted && first_draft.is_none() {
                first_draft = Some(started.elapsed());
            }
            if replied {
                break started.elapsed();
            }
            anyhow::ensure!(Instant::now() < deadline, "no reply within 10 minutes to {text:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let drafts = self.tg.sandbox.with_world(|w| w.draft_history.iter().filter(|d| d.bot_id == bot && d.chat_id == customer).map(|d| d.text.clone()).collect());
        // The stored reply: its kind (what the pipeline decided) and its text above the sources.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let row: Option<(String, String, String, i64)> = sqlx::query_as(
                "select m.kind, m.text, m.delivery, m.model_tokens from conversation_messages m join conversations c on c.id = m.conversation_id \
                 where c.tenant_id = $1 and c.chat_id = $2 and m.author = 'bot' order by m.id limit 1",
            )
            .bind(tenant.0)
            .bind(customer)
            .fetch_optional(&self.app.db.pool)
            .await?;
            if let Some((kind, text, delivery, tokens)) = row
                && delivery == "sent"
            {
                return Ok((kind, text, first_draft, final_at, drafts, tokens));
            }
            anyhow::ensure!(Instant::now() < deadline, "the reply to {text:?} was not marked sent");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `bellhop eval answers`: prints a table per article and overall, then one JSON line.
pub async fn answers(mut cfg: Config, args: AnswersArgs, http: crate::app::HttpRoutes) -> anyhow::Result<()> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let paragraphs: Vec<Paragraph> = read_lines(&args.corpus)?;
    let mut questions: Vec<Question> = read_lines(&args.questions)?;
    if !args.articles.is_empty() {
        let known: std::collections::HashSet<&str> = questions.iter().map(|q| q.article.as_str()).collect();
        for a in &args.articles {
            anyhow::ensure!(known.contains(a.as_str()), "no question of article {a:?} in {}", args.questions.display());
        }
        questions.retain(|q| args.articles.contains(&q.article));
    }
    if let Some(limit) = args.limit {
        questions.shuffle(&mut rand::rngs::StdRng::seed_from_u64(args.seed));
        questions.truncate(limit);
    }
    anyhow::ensure!(!questions.is_empty(), "no question to ask");
    let mut by_article: BTreeMap<String, Vec<Question>> = BTreeMap::new();
    for q in questions {
        by_article.entry(q.article.clone()).or_default().push(q);
    }

    let tg = crate::bench::sandbox_for(&mut cfg, by_article.len() + 1).await?;
    let built = Application::build(cfg, Role::All, true).await?;
    let app = built.state.clone();
    let running = tokio::spawn(built.run(http));
    let h = Harness { app: app.clone(), tg, running, http: reqwest::Client::new() };
    // Load both models before anything is timed.
    let retriever = app.retriever.get().await?;
    let model = if app.cfg.answering.model_answers { app.model.get().await } else { None };
    let model_name = match &model {
        Some(m) => m.name().to_owned(),
        None if !app.cfg.answering.model_answers => "none: answering.model_answers is off (quotes only)".into(),
        None => "none: it could not be loaded (quotes only)".into(),
    };
    eprintln!("chat model: {model_name}; embedder: {}", retriever.embedder().name());

    // One business per article, its paragraphs as its documents.
    let mut businesses: HashMap<String, (i64, TenantId)> = HashMap::new();
    let started = Instant::now();
    let mut total_sources = 0i64;
    for (i, article) in by_article.keys().enumerate() {
        let mine: Vec<&Paragraph> = paragraphs.iter().filter(|p| p.metadata["article"].as_str() == Some(article.as_str()) || p.id.starts_with(&format!("{article}/"))).collect();
        anyhow::ensure!(!mine.is_empty(), "no paragraph of article {article:?} in {}", args.corpus.display());
        let title = business_name(article, mine[0]);
        let (bot, tenant) = h.business(i, &title).await?;
        for p in &mine {
            let name = format!("{}.md", p.id.replace('/', "-"));
            let doc = document(p, &title);
            let new = crate::storage::sources::NewSource { bot: Some(BotId(bot)), kind: "file", name: &name, size_bytes: doc.len() as i64, content: Some(doc.as_bytes()), max_pages: None, recrawl_hours: None };
            crate::app::sources::add_source(&app, tenant, &new).await?;
        }
        total_sources += mine.len() as i64;
        businesses.insert(article.clone(), (bot, tenant));
    }
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let (ready, failed): (i64, i64) = sqlx::query_as("select sum(case when status = 'ready' then 1 else 0 end), sum(case when status = 'failed' then 1 else 0 end) from sources")
            .fetch_one(&app.db.pool)
            .await
            .map(|(a, b): (Option<i64>, Option<i64>)| (a.unwrap_or(0), b.unwrap_or(0)))?;
        anyhow::ensure!(failed == 0, "{failed} paragraphs failed to ingest");
        if ready >= total_sources {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the paragraphs were not indexed within an hour");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("{} articles, {total_sources} paragraphs ingested in {:.0} s", by_article.len(), started.elapsed().as_secs_f64());

    let mut details = match &args.details {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)),
        None => None,
    };
    let total: usize = by_article.values().map(Vec::len).sum();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut all = Tally::default();
    let mut asked = 0;
    // Verification methods on the model's own answers: method → (passed, of them right, wrong).
    let mut compared: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let (mut model_answers, mut model_right) = (0usize, 0usize);
    crate::answering::compose::record_model_samples(true);
    for (article, qs) in &by_article {
        let (bot, tenant) = businesses[article];
        let scope = crate::knowledge::scope::of_bot(&app.db.pool, tenant, Some(BotId(bot))).await?;
        for q in qs {
            let (kind, reply, first_draft, final_at, drafts, model_tokens) = h.ask(bot, tenant, asked, &q.text).await?;
            asked += 1;
            let sample = crate::answering::compose::take_model_samples().pop();
            let business = article.replace('_', " ");
            let (model_text, methods) = match &sample {
                Some(s) => (Some(s.text.clone()), methods(&retriever, &business, s).await?),
                None => (None, BTreeMap::new()),
            };
            let (best_score, quote_gold) = match crate::answering::compose::find_for(&app.cfg.answering, &retriever, tenant, &scope, &q.text).await? {
                Some(p) => {
                    let quote: Vec<&str> = p.selection.quote().iter().map(|s| s.text.as_str()).collect();
                    (Some(p.selection.best()), contains_gold(&quote.join(" "), &q.answers))
                }
                None => (None, false),
            };
            let outcome = score(q, &kind, &reply);
            let row = Row {
                id: q.id.clone(),
                article: article.clone(),
                question: q.text.clone(),
                answerable: q.answerable,
                gold: q.answers.clone(),
                decision: decision(&kind),
                kind,
                outcome,
                reply,
                first_draft_s: first_draft.map(|d| d.as_secs_f64()),
                final_s: final_at.as_secs_f64(),
                drafts,
                model_tokens,
                best_score,
                quote_gold,
                model_text,
                methods,
            };
            if let Some(text) = &row.model_text {
                // A model answer shown as is would be right when it holds a gold span.
                let right = q.answerable && contains_gold(text, &q.answers);
                for (m, ok) in &row.methods {
                    let e = compared.entry(m.clone()).or_insert((0, 0, 0));
                    if *ok {
                        e.0 += 1;
                        if right { e.1 += 1 } else { e.2 += 1 }
                    }
                }
                model_answers += 1;
                model_right += right as usize;
            }
            tallies.entry(article.clone()).or_default().add(&row);
            all.add(&row);
            if let Some(w) = details.as_mut() {
                use std::io::Write;
                writeln!(w, "{}", serde_json::to_string(&row)?)?;
            }
            if asked % 20 == 0 || asked == total {
                eprintln!("  {asked} / {total} questions; confidently wrong so far {}/{}", all.confidently_wrong(), all.answers);
            }
        }
    }
    if let Some(mut w) = details {
        use std::io::Write;
        w.flush()?;
    }

    let build = if cfg!(debug_assertions) { "dev" } else { "release" };
    println!("eval answers: {} ({} build), chat model {model_name}, {total} questions over {} articles (seed {})", args.questions.display(), build, by_article.len(), args.seed);
    println!(
        "{:<34} {:>4} | {:>5} {:>7} {:>5} {:>5} | {:>5} {:>7} {:>6} {:>6} | {:>7} {:>9} | {:>6} {:>6} {:>6} {:>6}",
        "article", "n", "ans", "correct", "wrong", "abst", "unans", "refused", "quoted", "halluc", "answers", "conf.wrong", "fd p50", "fd p90", "fin p50", "fin p90"
    );
    let line = |name: &str, t: &Tally| {
        println!(
            "{:<34} {:>4} | {:>5} {:>7} {:>5} {:>5} | {:>5} {:>7} {:>6} {:>6} | {:>7} {:>9} | {:>6.1} {:>6.1} {:>6.1} {:>6.1}",
            name,
            t.n,
            t.answerable(),
            t.get(Outcome::Correct),
            t.get(Outcome::Wrong),
            t.get(Outcome::Abstained),
            t.unanswerable(),
            t.get(Outcome::Refused),
            t.get(Outcome::Quoted),
            t.get(Outcome::Hallucinated),
            t.answers,
            format!("{} ({:.1} %)", t.confidently_wrong(), 100.0 * frac(t.confidently_wrong(), t.answers)),
            pct_s(&t.first_draft, 0.5),
            pct_s(&t.first_draft, 0.9),
            pct_s(&t.finals, 0.5),
            pct_s(&t.finals, 0.9),
        )
    };
    for (name, t) in &tallies {
        line(name, t);
    }
    line("all", &all);
    println!(
        "answerable correct {:.1} %, unanswerable hallucinated {:.1} %, confidently wrong {:.1} % of {} answers; first draft shown for {} of {} questions (times in seconds)",
        100.0 * frac(all.get(Outcome::Correct), all.answerable()),
        100.0 * frac(all.get(Outcome::Hallucinated), all.unanswerable()),
        100.0 * frac(all.confidently_wrong(), all.answers),
        all.answers,
        all.first_draft.len(),
        all.n
    );
    println!("verification methods on the model's {model_answers} answers ({model_right} of them hold a gold span): passed / of them right / of them wrong or invented");
    for (m, (passed, right, wrong)) in &compared {
        println!("  {m:<26} {passed:>5} {right:>5} {wrong:>5}");
    }
    let per_article: BTreeMap<&String, Value> = tallies.iter().map(|(a, t)| (a, counts(t))).collect();
    println!(
        "{}",
        json!({
            "eval": "answers",
            "build": build,
            "model": model_name,
            "questions": total,
            "seed": args.seed,
            "limit": args.limit,
            "confidently_wrong": frac(all.confidently_wrong(), all.answers),
            "answerable_correct": frac(all.get(Outcome::Correct), all.answerable()),
            "unanswerable_hallucinated": frac(all.get(Outcome::Hallucinated), all.unanswerable()),
            "counts": counts(&all),
            "first_draft_s": {"p50": pct_s(&all.first_draft, 0.5), "p90": pct_s(&all.first_draft, 0.9), "shown": all.first_draft.len()},
            "final_s": {"p50": pct_s(&all.finals, 0.5), "p90": pct_s(&all.finals, 0.9)},
            "articles": per_article,
            "verification_methods": compared.iter().map(|(m, (p, r, w))| (m.clone(), json!({"passed": p, "right": r, "wrong": w}))).collect::<BTreeMap<_, _>>(),
            "model_answers": model_answers,
        })
    );
    h.app.shutdown.cancel();
    h.running.await??;
    h.tg.shutdown().await?;
    Ok(())
}

fn counts(t: &Tally) -> Value {
    json!({
        "questions": t.n,
        "answerable": t.answerable(),
        "correct": t.get(Outcome::Correct),
        "wrong": t.get(Outcome::Wrong),
        "abstained": t.get(Outcome::Abstained),
        "unanswerable": t.unanswerable(),
        "refused": t.get(Outcome::Refused),
        "quoted": t.get(Outcome::Quoted),
        "hallucinated": t.get(Outcome::Hallucinated),
        "answers": t.answers,
        "answered_wrong": t.answered_wrong,
        "confidently_wrong": t.confidently_wrong(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(answerable: bool, gold: &[&str]) -> Question {
        Question { id: "x".into(), text: "?".into(), article: "A".into(), paragraph: "A/00".into(), answerable, answers: gold.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn squad_normalisation_and_containment() {
        assert_eq!(normalize("The  U.S. Army, in 1754!"), "us army in 1754");
        assert!(contains_gold("It was founded in 1754 by the Army.", &["1754".into()]));
        assert!(!contains_gold("It was founded in 17545.", &["1754".into()]), "whole words only");
        assert!(contains_gold("Their inherent difficulty.", &["the inherent difficulty".into(), "x".into()]));
    }

    fn paragraph(id: &str, title: &str, metadata: Value) -> Paragraph {
        Paragraph { id: id.into(), title: title.into(), text: " Drop-in class: $18 \n".into(), metadata }
    }

    #[test]
    fn each_document_keeps_its_own_title_under_the_business_named_by_the_set() {
        // data/eval/shops: documents with titles of their own, the business named in metadata.
        let shop = json!({"article": "Lotus_Flow_Yoga", "business": "Lotus Flow Yoga"});
        let prices = paragraph("Lotus_Flow_Yoga/00", "Lotus Flow Yoga — Price List", shop.clone());
        let faq = paragraph("Lotus_Flow_Yoga/02", "Frequently asked questions", shop);
        assert_eq!(business_name("Lotus_Flow_Yoga", &prices), "Lotus Flow Yoga");
        assert_eq!(document(&faq, "Lotus Flow Yoga"), "# Frequently asked questions\n\nDrop-in class: $18\n");
        // squad2: every paragraph titled by its article, which names the business, as before.
        let squad = paragraph("Yuan_dynasty/03", "Yuan dynasty", json!({"article": "Yuan_dynasty"}));
        assert_eq!(business_name("Yuan_dynasty", &squad), "Yuan dynasty");
        assert_eq!(document(&squad, "Yuan dynasty"), "# Yuan dynasty\n\nDrop-in class: $18\n");
        let untitled = paragraph("Yuan_dynasty/04", "", json!({}));
        assert_eq!(business_name("Yuan_dynasty", &untitled), "Yuan dynasty");
        assert_eq!(document(&untitled, "Yuan dynasty"), "# Yuan dynasty\n\nDrop-in class: $18\n");
    }

    #[test]
    fn replies_are_scored_by_the_kind_the_pipeline_stored() {
        assert_eq!(score(&q(true, &["45 euros"]), "answer", "A cake for 12 costs 45 euros."), Outcome::Correct);
        assert_eq!(score(&q(true, &["45 euros"]), "extractive", "“for 12 people 45 euros”"), Outcome::Correct);
        assert_eq!(score(&q(true, &["45 euros"]), "answer", "About 3.50 euros."), Outcome::Wrong);
        assert_eq!(score(&q(true, &["45 euros"]), "fallback", "45 euros? I don't know."), Outcome::Abstained);
        assert_eq!(score(&q(false, &[]), "answer", "Yes."), Outcome::Hallucinated);
        assert_eq!(score(&q(false, &[]), "extractive", "“…”"), Outcome::Quoted);
        assert_eq!(score(&q(false, &[]), "fallback", "Sorry"), Outcome::Refused);
    }
}
