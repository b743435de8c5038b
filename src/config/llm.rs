//! `llm.*`: the chat model that writes answers (docs/architecture.md, "Chat models").
use super::read::Reader;
use crate::domain::Secret;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Most tokens the built-in local model reads, prompt and answer together: candle's quantized
/// llama precomputes rotary embeddings for 4096 positions (SmolLM2 itself was trained to 8192).
/// Plain data so that configuration needs no model code; `llm::local` checks at compile time
/// that it equals candle's `MAX_SEQ_LEN`.
pub const LOCAL_MAX_CONTEXT: usize = 4096;

/// Which in-process runtime runs the local model (`llm.runtime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalRuntime {
    /// llama.cpp: any GGUF chat model (the default).
    Llama,
    /// candle: SmolLM2-135M-Instruct only.
    Candle,
}

/// The chat model (`llm.*`).
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// OpenAI-compatible endpoint; `None` runs the local model in-process.
    pub url: Option<Url>,
    pub model: String,
    pub api_key: Option<Secret>,
    /// How the local model runs.
    pub runtime: LocalRuntime,
    /// The local model's GGUF; `None`: SmolLM2-135M-Instruct from `models.dir`.
    pub model_file: Option<PathBuf>,
    /// Threads of one local forward pass; `None`: one per CPU core.
    pub threads: Option<usize>,
    pub context_tokens: usize,
    pub max_answer_tokens: u32,
    /// Whole answer, retries included.
    pub timeout: Duration,
    /// Connect and first word, per attempt (`llm.url` only).
    pub first_token_timeout: Duration,
    pub temperature: f32,
}

pub(super) fn parse(r: &mut Reader) -> LlmConfig {
    let url = r.http_url("llm.url");
    let context_tokens = r.number("llm.context_tokens", 256, 1_000_000) as usize;
    let max_answer_tokens = r.number("llm.max_answer_tokens", 16, 8192) as u32;
    let timeout = Duration::from_secs(r.number("llm.timeout_seconds", 1, 3600));
    let first_token_timeout = Duration::from_secs(r.number("llm.first_token_seconds", 1, 3600));
    let t = r.get_or_default("llm.temperature");
    let temperature = match t.parse::<f32>() {
        Ok(t) if (0.0..=2.0).contains(&t) => t,
        _ => {
            r.bad("llm.temperature", format!("`{t}` is not a number from 0 to 2"));
            0.0
        }
    };
    if url.is_none() && context_tokens > LOCAL_MAX_CONTEXT {
        r.bad("llm.context_tokens", format!("the local model reads at most {LOCAL_MAX_CONTEXT} tokens; set llm.url for a larger model"));
    }
    if max_answer_tokens as usize * 2 >= context_tokens {
        r.bad("llm.max_answer_tokens", format!("must be less than half of llm.context_tokens ({context_tokens})"));
    }
    let runtime = match r.get_or_default("llm.runtime") {
        "llama" => LocalRuntime::Llama,
        "candle" => LocalRuntime::Candle,
        other => {
            r.bad("llm.runtime", format!("`{other}` is neither `llama` nor `candle`"));
            LocalRuntime::Llama
        }
    };
    let model_file = r.get("llm.model_file").map(|f| PathBuf::from(r.expand(f)));
    if model_file.is_some() && runtime == LocalRuntime::Candle {
        r.bad("llm.model_file", "needs llm.runtime = \"llama\": the candle runtime runs only the built-in SmolLM2 from models.dir");
    }
    let threads = r.get("llm.threads").map(|_| r.number("llm.threads", 1, 1024) as usize);
    let api_key = r.secret("llm.api_key");
    if let Some(k) = &api_key {
        // It goes into an HTTP header: no spaces, control characters or non-ASCII.
        if !k.expose().bytes().all(|b| b.is_ascii_graphic()) {
            r.bad("llm.api_key", "must be printable ASCII without spaces (copy the key exactly)");
        }
    }
    LlmConfig {
        url,
        model: r.get_or_default("llm.model").to_owned(),
        api_key,
        runtime,
        model_file,
        threads,
        context_tokens,
        max_answer_tokens,
        timeout,
        first_token_timeout,
        temperature,
    }
}
