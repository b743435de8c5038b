//! `answering.*`: when the bot answers, with how much context, and per-tenant model budgets
//! (docs/answering.md).
use super::read::Reader;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct AnsweringConfig {
    /// Cosine similarity in [0, 1] below which the bot doesn't answer.
    pub min_similarity: f32,
    pub sources: usize,
    pub history_messages: usize,
    pub tenant_concurrency: usize,
    pub tenant_daily_tokens: u64,
    pub draft_interval: Duration,
    /// Share in [0, 1] of each answer sentence's own words one passage must hold (see
    /// `answering::verify`).
    pub min_support: f32,
    /// Least score in [0, 1] of the best sentence to answer at all (see `answering::extract`).
    pub min_sentence_score: f32,
    /// Whether the chat model writes answers (`answering.model_answers`, `auto` resolved):
    /// otherwise replies are the sentences of the sources that answer, quoted.
    pub model_answers: bool,
    /// How long a conversation a person has answered stays with them after their last message
    /// there (`answering.handoff_idle_hours`); `None` (0): until they close it.
    pub handoff_idle: Option<Duration>,
}

/// `llm` is the chat model's section: `auto` turns model answers on for a model the operator chose.
pub(super) fn parse(r: &mut Reader, llm: &super::LlmConfig) -> AnsweringConfig {
    let model_answers = match r.get_or_default("answering.model_answers") {
        "on" => true,
        "off" => false,
        "auto" => llm.url.is_some() || llm.model_file.is_some(),
        other => {
            r.bad("answering.model_answers", format!("`{other}` is not `auto`, `on` or `off`"));
            false
        }
    };
    AnsweringConfig {
        model_answers,
        min_similarity: r.number("answering.min_similarity_percent", 0, 100) as f32 / 100.0,
        sources: r.number("answering.sources", 1, 10) as usize,
        history_messages: r.number("answering.history_messages", 0, 100) as usize,
        tenant_concurrency: r.number("answering.tenant_concurrency", 1, 1024) as usize,
        tenant_daily_tokens: r.number("answering.tenant_daily_tokens", 1, u64::MAX >> 2),
        draft_interval: Duration::from_millis(r.number("answering.draft_interval_ms", 0, 60_000)),
        min_support: r.number("answering.min_support_percent", 0, 100) as f32 / 100.0,
        min_sentence_score: r.number("answering.min_sentence_score_percent", 0, 100) as f32 / 100.0,
        handoff_idle: match r.number("answering.handoff_idle_hours", 0, 8760) {
            0 => None,
            hours => Some(Duration::from_secs(hours * 3600)),
        },
    }
}
