//! The answer pipeline — one function, used by the bot (`answering`'s `bot.update` handling) and
//! by the admin test chat, so that what an owner tries is what a customer gets:
//!
//! question + history → standalone query → the owner's Q&A pair, else retrieval with the
//! confidence threshold ("I don't know" below it) → one credit reserved (when metered) → the
//! business's daily token budget and its model permits → the model answering from the passages
//! (or quoting them when it can't) → the credit settled or released.
//!
//! Where the answer goes — Telegram drafts, delivery, storage — is the caller's business; the
//! pipeline only publishes the text so far to `progress` while the model writes.
use super::compose::{self, Composed, ModelCall, Prepared};
use super::limits::TenantPermits;
use super::prompt::{Turn, Voice};
use super::settings::Texts;
use crate::billing::{self, Billing, Reserve};
use crate::config::{AnsweringConfig, LlmConfig};
use crate::domain::TenantId;
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
}

fn fixed(kind: &'static str, text: String) -> Answer {
    Answer { reply: Composed { kind, text, sources: vec![], tokens: 0, note: None, model_time: Duration::ZERO }, generated: false }
}

fn today() -> i64 {
    storage::now_ms() / 86_400_000
}

/// Answers `req`, publishing the model's text so far to `progress` as it grows. Errors are
/// internal (database, index): the model's own failures become a quoted answer instead.
#[tracing::instrument(name = "answering.pipeline", skip_all, fields(tenant_id = req.tenant.0))]
pub async fn answer(deps: &Deps, req: &Request<'_>, progress: Option<&tokio::sync::watch::Sender<String>>) -> anyhow::Result<Answer> {
    let query = standalone_query(req.history, req.question);
    let retriever = deps.retriever.get().await?;
    let hits = match compose::prepare(&deps.db, &deps.cfg, &retriever, req.tenant, &query).await? {
        Prepared::Qa(answer) => return Ok(fixed("qa", answer)),
        Prepared::NotFound => return Ok(fixed("fallback", req.texts.fallback.clone())),
        Prepared::Passages(h) => h,
    };

    // The business's plan: one credit per AI answer, reserved before the model runs (the key
    // makes a retried job find its own reservation), settled or released after.
    let reservation = match req.credit_key {
        Some(key) => match billing::reserve(&deps.billing, req.tenant, key).await? {
            Reserve::Granted(r) => Some(r),
            Reserve::Exhausted => return Ok(fixed("unavailable", req.texts.unavailable.clone())),
        },
        None => None,
    };
    let model = deps.model.get().await;
    // Over the day's token budget a business's customers get quoted passages.
    let used_today = conversations::usage(&deps.db.pool, req.tenant, today()).await?;
    let within_budget = (used_today as u64) < deps.cfg.tenant_daily_tokens;
    if !within_budget {
        tracing::warn!(used_today, "the business used its daily model tokens; quoting passages");
    }
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
    if let Some(r) = reservation {
        if reply.kind == "answer" {
            r.settle(&deps.db, reply.tokens).await?;
        } else {
            r.release(&deps.db).await?;
        }
    }
    if let Some(note) = &reply.note {
        tracing::info!(kind = reply.kind, note, "answer not from the model");
    }
    if reply.tokens > 0 {
        crate::metrics::record_model_tokens(model.as_ref().map(|m| m.name()).unwrap_or("none"), "answer", reply.tokens);
    }
    if reply.kind == "fallback" {
        // The model found no answer in the passages: the bot's own "I don't know".
        reply.text = req.texts.fallback.clone();
        reply.sources.clear();
    }
    Ok(Answer { reply, generated: true })
}

/// Turns a follow-up into a standalone retrieval query. A short message or one that refers back
/// ("and on Sundays?", "how much is it?") is searched together with the customer's previous
/// question; the model still sees the whole history. (Deliberately not a model call: with the
/// local 135M model a rewrite is slower and worse than this rule.)
pub fn standalone_query(history: &[Turn], question: &str) -> String {
    let Some(prev) = history.iter().rev().find(|t| t.customer) else { return question.to_owned() };
    let lower = question.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    const REFERS: &[&str] = &["it", "its", "that", "this", "those", "these", "they", "them", "there", "he", "she", "else", "one"];
    let follow_up = words.len() <= 4 || words.first().is_some_and(|w| ["and", "also", "what", "how", "but", "or", "then"].contains(w)) && words.iter().any(|w| REFERS.contains(w));
    if follow_up { format!("{} {}", prev.text, question) } else { question.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_ups_are_searched_with_the_previous_question() {
        let h = vec![Turn { customer: true, text: "Do you deliver to Altona?".into() }, Turn { customer: false, text: "Yes [1].".into() }];
        assert_eq!(standalone_query(&h, "How much is it?"), "Do you deliver to Altona? How much is it?");
        assert_eq!(standalone_query(&h, "What are your opening hours on public holidays in December?"), "What are your opening hours on public holidays in December?");
        assert_eq!(standalone_query(&[], "price?"), "price?");
    }
}
