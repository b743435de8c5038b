//! Knowledge gaps: the questions customers asked that the bot could not answer, or whose answer
//! got a 👎 — each with a one-click form that adds a Q&A pair. A question disappears once a Q&A
//! pair with the same words (the comparison the bot uses to match pairs) was written after it was
//! asked: a 👎 on the answer of an older pair stays, so the owner can write a better one.
use crate::domain::conversation::ConversationId;
use super::AppError;
use super::auth::Owner;
use super::pages::{ago, render};
use super::sources::{Picker, check_qa, pick};
use crate::knowledge::qa::normalise;
use crate::app::AppState;
use crate::domain::BotId;
use crate::storage::{conversations, now_ms, sources};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;

/// How many questions (different texts) a list holds at most; each is counted in full.
const LIST: i64 = 500;

pub struct GapRow {
    /// The bot the question was asked to: its answer is that bot's knowledge.
    pub bot_id: BotId,
    pub question: String,
    pub times: usize,
    pub unanswered: bool,
    pub thumbs_down: bool,
    pub at: String,
    pub conversation_id: ConversationId,
    /// Its newest answer: what the "Not needed — hide" form names it by.
    pub message_id: i64,
}

/// How much of a question the list shows; a longer one is cut there with "…", in full below it
/// on request.
const SHOWN: usize = 200;
/// The longest question of a Q&A pair (`check_qa`): the form is filled with no more.
const QA_QUESTION: usize = 500;

/// The first `n` characters of `s`, trimmed.
fn cut(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(at, _)| &s[..at]).trim_end()
}

impl GapRow {
    /// Whether the question is longer than the list shows.
    pub fn long(&self) -> bool {
        self.question.chars().count() > SHOWN
    }

    /// The question as the list shows it: at most [`SHOWN`] characters.
    pub fn shown(&self) -> String {
        if self.long() { format!("{}…", cut(&self.question, SHOWN)) } else { self.question.clone() }
    }

    /// The question the form starts with: at most what a Q&A pair's question may hold.
    pub fn prefill(&self) -> &str {
        cut(&self.question, QA_QUESTION)
    }
}

#[derive(Template)]
#[template(path = "admin_gaps.html")]
struct GapsPage {
    tab: &'static str,
    csrf: String,
    picker: Picker,
    gaps: Vec<GapRow>,
    notice: Option<String>,
    problem: Option<String>,
}

/// The open gaps of the tenant's `bot` asked since `since` (Unix ms; 0: ever): one row per
/// question (same words), newest first, without those a Q&A pair of the bot written since
/// answers. Each is counted over all its askings in the period; of the questions, the
/// [`LIST`] asked most recently — or, `most_asked`, most often — are looked at.
pub(super) async fn open_gaps(app: &AppState, owner: &Owner, bot: Option<BotId>, since: i64, most_asked: bool) -> Result<Vec<GapRow>, AppError> {
    let Some(bot) = bot else { return Ok(vec![]) };
    // The newest write of each question's pair.
    let mut answered: HashMap<String, i64> = HashMap::new();
    for q in sources::qa_questions(&app.db.pool, owner.tenant_id, bot).await? {
        let e = answered.entry(normalise(&q.question)).or_insert(q.updated_at);
        *e = (*e).max(q.updated_at);
    }
    let now = now_ms();
    let mut rows: Vec<(i64, GapRow)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for mut g in conversations::gap_questions(&app.db.pool, owner.tenant_id, bot, since, None, most_asked, LIST).await? {
        let q = g.question.trim();
        let key = normalise(q);
        if key.is_empty() {
            continue;
        }
        // Askings up to a pair's write are answered by it: a question asked before and after
        // is counted again from after.
        match answered.get(&key) {
            Some(&written) if written >= g.last_at => continue,
            Some(&written) if written >= g.first_at => {
                let after = conversations::gap_questions(&app.db.pool, owner.tenant_id, bot, since.max(written + 1), Some(&g.question), false, 1).await?;
                let Some(after) = after.into_iter().next() else { continue };
                g = after;
            }
            _ => {}
        }
        let q = g.question.trim();
        let (unanswered, down) = (g.unanswered > 0, g.thumbs_down > 0);
        match at.get(&key) {
            Some(&i) => {
                let (newest, r) = &mut rows[i];
                r.times += g.times as usize;
                r.unanswered |= unanswered;
                r.thumbs_down |= down;
                if g.last_id > *newest {
                    *newest = g.last_id;
                    (r.question, r.at, r.conversation_id, r.message_id) = (q.to_owned(), ago(g.last_at, now), g.conversation_id, g.last_id);
                }
            }
            None => {
                at.insert(key, rows.len());
                let row = GapRow { bot_id: bot, question: q.to_owned(), times: g.times as usize, unanswered, thumbs_down: down, at: ago(g.last_at, now), conversation_id: g.conversation_id, message_id: g.last_id };
                rows.push((g.last_id, row));
            }
        }
    }
    rows.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

async fn page(app: &AppState, owner: &Owner, bot: Option<i64>, notice: Option<String>, problem: Option<String>) -> Result<Response, AppError> {
    let picker = pick(app, owner.tenant_id, bot, "/app/gaps", false).await?;
    let gaps = open_gaps(app, owner, picker.bot(), 0, false).await?;
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let mut r = render(&GapsPage { tab: "gaps", csrf: owner.csrf.clone(), picker, gaps, notice, problem })?;
    *r.status_mut() = status;
    Ok(r)
}

#[derive(serde::Deserialize)]
pub struct Added {
    #[serde(default)]
    added: Option<String>,
    #[serde(default)]
    hidden: Option<String>,
    #[serde(default)]
    bot: Option<i64>,
}

/// `GET /app/gaps?bot=ID`.
pub async fn list(State(app): State<AppState>, owner: Owner, Query(q): Query<Added>) -> Result<Response, AppError> {
    let notice = match (q.added, q.hidden) {
        (Some(_), _) => Some("Added to your questions & answers. Your bot answers it with your words from now on.".to_owned()),
        (None, Some(_)) => Some("Hidden from this list. The conversation is kept; if a customer asks it again, it shows up here again.".to_owned()),
        (None, None) => None,
    };
    page(&app, &owner, q.bot, notice, None).await
}

#[derive(serde::Deserialize)]
pub struct GapForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    bot: Option<i64>,
    #[serde(default)]
    question: String,
    #[serde(default)]
    answer: String,
}

/// `POST /app/gaps/qa`: the same Q&A pair the knowledge page adds, for the bot the question was
/// asked to (the form's `bot`), then back to that bot's gaps. A bot that is not one of the
/// owner's (another business's, a deleted one, none) is refused and nothing is written: never
/// the first bot instead, which would answer a question asked of another.
pub async fn add_qa(State(app): State<AppState>, owner: Owner, axum::Form(f): axum::Form<GapForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let (q, a) = match check_qa(&f.question, &f.answer) {
        Ok(pair) => pair,
        Err(problem) => return page(&app, &owner, f.bot, None, Some(problem)).await,
    };
    let picker = pick(&app, owner.tenant_id, f.bot, "/app/gaps", false).await?;
    let Some(bot) = f.bot.filter(|&b| picker.bots.iter().any(|x| x.id.0 == b)).map(BotId) else {
        let problem = "Not added: the bot this question was asked to is not one of your bots (was it deleted?). Nothing was changed.";
        return page(&app, &owner, None, None, Some(problem.to_owned())).await;
    };
    if let Err(count) = crate::app::sources::add_qa_within(&app, owner.tenant_id, Some(bot), q, a, app.cfg.knowledge.max_qa_pairs).await? {
        return page(&app, &owner, Some(bot.0), None, Some(crate::app::sources::qa_full(&picker.whose(), count))).await;
    }
    Ok(Redirect::to(&format!("/app/gaps?added=1&bot={}", bot.0)).into_response())
}

#[derive(serde::Deserialize)]
pub struct DismissForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    bot: Option<i64>,
    /// The question's newest answer, as the list names it.
    #[serde(default)]
    message: i64,
}

/// `POST /app/gaps/dismiss`: "Not needed — hide" — a question not worth answering (spam, "asdf",
/// off-topic) leaves the list of the bot it was asked to, and the overview's, in every wording
/// the list counts as the same question. The conversations are kept. A bot that is not one of
/// the owner's hides nothing.
pub async fn dismiss(State(app): State<AppState>, owner: Owner, axum::Form(f): axum::Form<DismissForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let picker = pick(&app, owner.tenant_id, f.bot, "/app/gaps", false).await?;
    let Some(bot) = f.bot.filter(|&b| picker.bots.iter().any(|x| x.id.0 == b)).map(BotId) else {
        let problem = "Not hidden: the bot this question was asked to is not one of your bots (was it deleted?). Nothing was changed.";
        return page(&app, &owner, None, None, Some(problem.to_owned())).await;
    };
    let question = conversations::gap_question_of(&app.db.pool, owner.tenant_id, bot, f.message).await?.unwrap_or_default();
    let key = normalise(question.trim());
    if !key.is_empty() {
        for g in conversations::gap_questions(&app.db.pool, owner.tenant_id, bot, 0, None, false, i64::from(u32::MAX)).await? {
            if normalise(g.question.trim()) == key {
                conversations::dismiss_gap(&app.db.pool, owner.tenant_id, bot, &g.question).await?;
            }
        }
    }
    Ok(Redirect::to(&format!("/app/gaps?hidden=1&bot={}", bot.0)).into_response())
}
