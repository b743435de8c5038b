//! all-MiniLM-L6-v2 run in-process on the CPU with candle: BERT encoder, attention-masked mean
//! pooling, L2 normalisation — the recipe of sentence-transformers' model card
//! (<https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2>), 384 dimensions.
//!
//! Files are read once from `{models.dir}/all-MiniLM-L6-v2/` (`config.json`, `tokenizer.json`,
//! `model.safetensors`), put there by `scripts/fetch-models.sh`. Inputs longer than 256 word
//! pieces are truncated, as the model was trained.
use super::embedder::{EmbedError, Embedder, l2_normalise};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Device, IndexOp, Layout, Shape, Tensor};
use candle_transformers::models::bert::Config;
use futures::future::BoxFuture;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokenizers::{Tokenizer, TruncationParams};

/// Directory under the models directory holding this model's files.
pub const MINILM_DIR: &str = "all-MiniLM-L6-v2";
/// The model's trained input limit, in word pieces.
const MAX_SEQ_LEN: usize = 256;
/// Most texts per forward pass.
const BATCH: usize = 32;
/// Most word pieces per forward pass, padding included. Larger passes gain nothing in the
/// matrix kernel, and their activations (up to 50 MB a tensor for 32 × 256) are fresh memory
/// the kernel has to fault in and zero on every pass.
const BATCH_TOKENS: usize = 3072;

/// Calls of at most this many texts (a question, a passage's sentences) are merged with the
/// other small calls waiting at that moment into one forward pass (see [`LocalMiniLm`]); larger
/// ones (ingestion) run on their own, so that a big document never holds up a question.
const SMALL_CALL: usize = 32;
/// Most texts one merged pass takes.
const MERGED_MAX: usize = 128;
/// A small call of at most this many bytes of text in all (a customer's question, a short
/// passage) is *quick*: it goes before the larger small calls waiting with it (up to
/// [`QUICK_PASSES_AHEAD`] passes in a row).
const QUICK_BYTES: usize = 1024;
/// Most bytes of text one pass of larger small calls (a passage's sentences) takes, unless one
/// call alone is larger: about 1,000 word pieces, some 20–40 ms on one core. Questions arriving
/// meanwhile wait for at most one such pass.
const SLOW_PASS_BYTES: usize = 4096;
/// Passes of quick calls in a row that may go before a larger call waiting; then the larger
/// calls get the next pass, so a steady stream of questions cannot hold a passage's sentences
/// (and that answer) back for long.
const QUICK_PASSES_AHEAD: usize = 2;

/// all-MiniLM-L6-v2 loaded once; cheap to clone (the weights are shared).
///
/// Small calls made at the same time are embedded together: one thread takes the small calls
/// waiting when it becomes free and runs them as one forward pass, on that thread alone, so
/// twenty jobs that each embed a question at once cost about one pass of twenty short texts,
/// not twenty passes competing for the cores. A call waits for nothing when the thread is free.
/// Quick calls (questions) go first: a question waits for the pass already running and, at
/// most, one pass of a passage's sentences that questions already went before twice (see
/// [`Waiting::next_pass`]).
#[derive(Clone)]
pub struct LocalMiniLm {
    inner: Arc<Inner>,
    small: std::sync::mpsc::Sender<SmallCall>,
}

/// A small call waiting for the merging thread.
struct SmallCall {
    texts: Vec<String>,
    done: tokio::sync::oneshot::Sender<Result<Vec<Vec<f32>>, EmbedError>>,
}

impl SmallCall {
    fn bytes(&self) -> usize {
        self.texts.iter().map(String::len).sum()
    }
}

/// The small calls waiting for the merging thread, and how many passes in a row went before
/// the larger ones among them.
struct Waiting<T> {
    calls: Vec<T>,
    passed_over: usize,
}

impl<T> Waiting<T> {
    fn new() -> Self {
        Waiting { calls: Vec::new(), passed_over: 0 }
    }

    /// The calls of the next pass, taken out of the waiting ones (in the order they came, never
    /// empty when some are waiting): every quick call, up to [`MERGED_MAX`] texts; when none is
    /// waiting, or after [`QUICK_PASSES_AHEAD`] such passes went before a larger call, the larger
    /// ones in the order they came, up to [`MERGED_MAX`] texts and [`SLOW_PASS_BYTES`] (the
    /// oldest always taken). `size` gives a call's texts and bytes.
    fn next_pass(&mut self, size: impl Fn(&T) -> (usize, usize)) -> Vec<T> {
        let is_quick = |c: &T| size(c).1 <= QUICK_BYTES;
        let larger_waiting = self.calls.iter().any(|c| !is_quick(c));
        let quick = self.calls.iter().any(is_quick) && (self.passed_over < QUICK_PASSES_AHEAD || !larger_waiting);
        let (mut texts, mut bytes) = (0, 0);
        let mut taken = Vec::new();
        let mut left = Vec::with_capacity(self.calls.len());
        for c in self.calls.drain(..) {
            let (n, b) = size(&c);
            let fits = taken.is_empty() || (texts + n <= MERGED_MAX && (quick || bytes + b <= SLOW_PASS_BYTES));
            if is_quick(&c) == quick && fits {
                texts += n;
                bytes += b;
                taken.push(c);
            } else {
                left.push(c);
            }
        }
        self.calls = left;
        self.passed_over = if quick && larger_waiting { self.passed_over + 1 } else { 0 };
        taken
    }
}

/// The merging thread: takes the small calls waiting, runs each [`Waiting::next_pass`] as one
/// forward pass, answers each call with its own vectors. Ends when the last [`LocalMiniLm`]
/// clone is dropped.
fn merge_small_calls(inner: Arc<Inner>, calls: std::sync::mpsc::Receiver<SmallCall>) {
    let mut waiting: Waiting<SmallCall> = Waiting::new();
    loop {
        if waiting.calls.is_empty() {
            match calls.recv() {
                Ok(c) => waiting.calls.push(c),
                Err(_) => return,
            }
        }
        waiting.calls.extend(calls.try_iter());
        let batch = waiting.next_pass(|c| (c.texts.len(), c.bytes()));
        let texts: Vec<&str> = batch.iter().flat_map(|c| c.texts.iter().map(String::as_str)).collect();
        inner.merged_passes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.embed(&texts)))
            .unwrap_or_else(|_| Err(EmbedError::Transient("MiniLM inference panicked".into())));
        match result {
            Ok(vectors) => {
                let mut vectors = vectors.into_iter();
                for c in batch {
                    let mine: Vec<Vec<f32>> = vectors.by_ref().take(c.texts.len()).collect();
                    let _ = c.done.send(Ok(mine));
                }
            }
            Err(e) => {
                for c in batch {
                    let _ = c.done.send(Err(e.clone()));
                }
            }
        }
    }
}

struct Inner {
    encoder: Encoder,
    tokenizer: Tokenizer,
    /// Passes the merging thread has run.
    merged_passes: std::sync::atomic::AtomicU64,
}

impl LocalMiniLm {
    /// Loads the model from `models_dir` (the directory `scripts/fetch-models.sh` filled).
    ///
    /// Fails with [`EmbedError::Permanent`] naming the missing file and the fetch script.
    pub fn load(models_dir: &Path) -> Result<Self, EmbedError> {
        let dir = models_dir.join(MINILM_DIR);
        let file = |name: &str| -> Result<PathBuf, EmbedError> {
            let p = dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(EmbedError::Permanent(format!(
                    "model file {} is missing: run `scripts/fetch-models.sh {}` (or set models.dir / BELLHOP_MODELS_DIR)",
                    p.display(),
                    models_dir.display()
                )))
            }
        };
        let bad = |what: &str, e: &dyn std::fmt::Display| EmbedError::Permanent(format!("{what} in {}: {e}", dir.display()));
        let config: Config = serde_json::from_slice(&std::fs::read(file("config.json")?).map_err(|e| bad("reading config.json", &e))?)
            .map_err(|e| bad("parsing config.json", &e))?;
        let mut tokenizer = Tokenizer::from_file(file("tokenizer.json")?).map_err(|e| bad("loading tokenizer.json", &e))?;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_SEQ_LEN, ..Default::default() }))
            .map_err(|e| bad("configuring truncation", &e))?;
        // Batches are padded here, to their own longest text (see `batches`).
        tokenizer.with_padding(None);
        let weights = Weights::open(&dir, &file("model.safetensors")?, &config)?;
        let encoder = Encoder::load(weights, &config).map_err(|e| bad("reading the weights", &e))?;
        let inner = Arc::new(Inner { encoder, tokenizer, merged_passes: Default::default() });
        let (small, calls) = std::sync::mpsc::channel();
        let merging = inner.clone();
        // The merging thread is the one thread of a rayon pool of its own, so the parallel
        // loops inside its passes (candle's matrix products, the kernels, the groups) run
        // inline on it: a pass of a few short texts gains little from a second core, and on a
        // machine busy with other processes it would wake a helper for every operation and
        // wait whenever that helper was descheduled. Large calls keep the shared pool.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "minilm-merge".into())
            .build()
            .map_err(|e| EmbedError::Permanent(format!("starting the embedding thread: {e}")))?;
        // Dropping the handle leaves the thread running until the loop ends (the last sender
        // is dropped).
        pool.spawn(move || merge_small_calls(merging, calls));
        Ok(Self { inner, small })
    }

    /// Embeds on the calling thread and candle's thread pool (CPU-bound: call from a blocking
    /// context). Texts of similar length are batched together and batches run in parallel, so
    /// both cores stay busy also between the matrix products.
    pub fn embed_blocking(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed(texts)
    }

    /// The packed-weights file the model is mapped from; `None` when they are kept in this
    /// process's memory (the models directory is read-only).
    pub fn packed_file(&self) -> Option<PathBuf> {
        self.inner.encoder.weights.file.clone()
    }

    /// How many passes have run for small calls (merged ones count once).
    pub fn merged_passes(&self) -> u64 {
        self.inner.merged_passes.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Inner {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let failed = |e: &dyn std::fmt::Display| EmbedError::Permanent(format!("MiniLM inference: {e}"));
        let enc = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| failed(&format!("tokenising: {e}")))?;
        let ids: Vec<&[u32]> = enc.iter().map(|e| e.get_ids()).collect();
        let groups = batches(&ids);
        let vectors: Vec<Vec<Vec<f32>>> = groups
            .par_iter()
            .map(|group| {
                let seqs: Vec<&[u32]> = group.iter().map(|&i| ids[i]).collect();
                self.encoder.embed(&seqs)
            })
            .collect::<candle_core::Result<_>>()
            .map_err(|e| failed(&e))?;
        let mut out = vec![Vec::new(); texts.len()];
        for (group, vs) in groups.iter().zip(vectors) {
            for (&i, mut v) in group.iter().zip(vs) {
                l2_normalise(&mut v);
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// Indices of `seqs` grouped into forward passes: sorted by length, at most [`BATCH`] texts and
/// [`BATCH_TOKENS`] word pieces to a group, and a new group started when padding to the
/// group's longest would waste more than about a fifth of it. Two texts of very different
/// lengths (a question and its context) are two passes, run side by side, instead of one
/// padded pass.
fn batches(seqs: &[&[u32]]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..seqs.len()).collect();
    order.sort_by_key(|&i| seqs[i].len());
    let mut out: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match out.last_mut() {
            Some(group)
                if group.len() < BATCH
                    && (group.len() + 1) * seqs[i].len() <= BATCH_TOKENS
                    && seqs[i].len() * 4 <= seqs[group[0]].len() * 5 + 16 =>
            {
                group.push(i)
            }
            _ => out.push(vec![i]),
        }
    }
    out
}

/// The BERT encoder of all-MiniLM-L6-v2 with mean pooling, written for inference on the CPU:
/// the query, key and value projections are one matrix product, the attention scale is folded
/// into the query weights, weights are stored so the matrix kernel reads them in place, the
/// bias and GELU of the feed-forward layer and the softmax over real tokens (no mask tensor)
/// are each one parallel pass ([`bellhop_kernels`]). The same arithmetic as
/// candle-transformers' `BertModel` (a test compares the two), about four times as fast.
struct Encoder {
    weights: Weights,
    /// The word-piece embeddings, (vocabulary, hidden), in `weights`: only the rows of the
    /// word pieces a pass uses are read.
    word: Span,
    position: Tensor,
    token_type: Tensor,
    norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
}

struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

struct Linear {
    /// (in, out), row-major, in `weights`: `x · w` is the layer. Its values are those of `half`.
    w: Span,
    /// The same matrix in half precision in the panels of [`bellhop_kernels::product_f16`],
    /// read by passes of up to [`SMALL_PASS_ROWS`] rows.
    half: Span,
    b: Tensor,
}

struct Layer {
    qkv: Linear,
    out: Linear,
    attention_norm: Norm,
    up: Linear,
    down: Linear,
    output_norm: Norm,
}

impl Norm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

impl Linear {
    /// `x · w`, without the bias.
    fn product(&self, weights: &Weights, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(&Product { w: weights.floats(&self.w), half: weights.halves(&self.half), k: self.w.rows, n: self.w.cols })
    }

    fn forward(&self, weights: &Weights, x: &Tensor) -> candle_core::Result<Tensor> {
        self.product(weights, x)?.broadcast_add(&self.b)
    }
}

impl Encoder {
    fn load(weights: Weights, config: &Config) -> candle_core::Result<Self> {
        let (hidden, heads) = (config.hidden_size, config.num_attention_heads);
        let small = |name: &str| -> candle_core::Result<Tensor> {
            let span = weights.span(name)?;
            Tensor::from_slice(weights.floats(&span), span.shape(), &Device::Cpu)
        };
        let norm = |prefix: &str| -> candle_core::Result<Norm> {
            Ok(Norm { weight: small(&format!("{prefix}.weight"))?, bias: small(&format!("{prefix}.bias"))?, eps: config.layer_norm_eps as f32 })
        };
        let linear = |name: &str| -> candle_core::Result<Linear> {
            let (w, half) = (weights.span(&format!("{name}.w"))?, weights.span(&format!("{name}.w16"))?);
            if w.half || !half.half || (w.rows, w.cols) != (half.rows, half.cols) {
                candle_core::bail!("{name}: the packed weights do not match their half-precision copy");
            }
            Ok(Linear { w, half, b: small(&format!("{name}.b"))? })
        };
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                Ok(Layer {
                    qkv: linear(&format!("{i}.qkv"))?,
                    out: linear(&format!("{i}.out"))?,
                    attention_norm: norm(&format!("{i}.attention_norm"))?,
                    up: linear(&format!("{i}.up"))?,
                    down: linear(&format!("{i}.down"))?,
                    output_norm: norm(&format!("{i}.output_norm"))?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let word = weights.span("word")?;
        if word.cols != hidden {
            candle_core::bail!("word embeddings are {} wide, not {hidden}", word.cols);
        }
        Ok(Self { word, position: small("position")?, token_type: small("token_type")?, norm: norm("norm")?, layers, heads, hidden, weights })
    }

    /// Mean-pooled (not yet normalised) embeddings of `seqs`, token ids with the special
    /// tokens, padded to the longest of them.
    fn embed(&self, seqs: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let n = seqs.len();
        let len = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
        if n == 0 || len == 0 {
            return Ok(vec![vec![0.0; self.hidden]; n]);
        }
        let dev = &Device::Cpu;
        let mut ids = vec![0u32; n * len];
        for (row, s) in ids.chunks_exact_mut(len).zip(seqs) {
            row[..s.len()].copy_from_slice(s);
        }
        let table = self.weights.floats(&self.word);
        let mut rows = Vec::with_capacity(n * len * self.hidden);
        for &id in &ids {
            let at = id as usize * self.hidden;
            let Some(row) = table.get(at..at + self.hidden) else { candle_core::bail!("word piece {id} is not in the vocabulary") };
            rows.extend_from_slice(row);
        }
        let x = Tensor::from_vec(rows, (n, len, self.hidden), dev)?;
        let x = x.broadcast_add(&self.position.narrow(0, 0, len)?)?.broadcast_add(&self.token_type)?;
        let mut x = self.norm.forward(&x.reshape((n * len, self.hidden))?)?;
        let lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        for layer in &self.layers {
            x = self.layer(layer, &x, &lens, len)?;
        }
        Ok(bellhop_kernels::mean_pool(&x.flatten_all()?.to_vec1::<f32>()?, &lens, len, self.hidden))
    }

    fn layer(&self, l: &Layer, x: &Tensor, lens: &[usize], len: usize) -> candle_core::Result<Tensor> {
        let (n, h, heads) = (lens.len(), self.hidden, self.heads);
        // (n·len, 3h) → three (n, heads, len, head_dim) tensors.
        let w = &self.weights;
        let qkv = l.qkv.forward(w, x)?.reshape((n, len, 3, heads, h / heads))?.permute((2, 0, 3, 1, 4))?.contiguous()?;
        let (q, k, v) = (qkv.i(0)?, qkv.i(1)?, qkv.i(2)?);
        // Padding gets no attention: the softmax runs over each sequence's real tokens only.
        let probs = q.matmul(&k.t()?)?.apply_op1_no_bwd(&MaskedSoftmax { lens, rows_per_seq: heads * len })?;
        let context = probs.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((n * len, h))?;
        let a = l.attention_norm.forward(&(l.out.forward(w, &context)? + x)?)?;
        let up = l.up.product(w, &a)?.apply_op2_no_bwd(&l.up.b, &BiasGelu)?;
        l.output_norm.forward(&(l.down.forward(w, &up)? + a)?)
    }
}

/// The packed-weights file bellhop keeps next to the model's (see [`Weights`]).
pub const PACKED_FILE: &str = "bellhop-packed.safetensors";
/// The layout of [`PACKED_FILE`]; a file of another layout is made again.
const PACKED_FORMAT: &str = "bellhop-minilm-3";

/// The encoder's weights in the layout it runs them in: the query, key and value projections
/// as one (in, 3·out) matrix with the attention scale folded into the query's, every other
/// projection as (in, out), so the matrix kernel reads them in place.
///
/// The projections are rounded to half precision (IEEE binary16, to nearest) and kept twice:
/// in half precision (`{name}.w16`, in the panels of [`bellhop_kernels::product_f16`]), which
/// passes of up to [`SMALL_PASS_ROWS`] rows read (half the bytes, read straight through: a
/// question's pass takes the time to read the weights), and as f32 of the same values
/// (`{name}.w`) for the larger passes' matrix kernel. Every pass so multiplies by the same
/// numbers, and a text embeds the same alone or with others. Rounding the weights moves an embedding by far
/// less than the reference test's tolerance (cosine to the f32 model above 0.99999).
///
/// They are memory-mapped from [`PACKED_FILE`], next to the model's file: every process on the
/// machine that loads the model shares one copy of them in memory (and in the CPU's cache), and
/// a restarted worker starts without reading, converting and copying the 90 MB model again. The
/// file is made by the first process that needs it (written under a temporary name, then
/// renamed, so processes starting together never read half a file; each of them may make its
/// own, and the last rename wins) and made again when the model file changes (its size or
/// modification time differ from those the packed file records). Where the models directory
/// is read-only and holds no packed file, the same layout is kept in this process's memory
/// (`bellhop prepare-models` writes the file ahead, e.g. while building a container image).
struct Weights {
    bytes: Bytes,
    spans: HashMap<String, Span>,
    /// The packed file, when mapped.
    file: Option<PathBuf>,
}

enum Bytes {
    Mapped(memmap2::Mmap),
    /// The packed file's bytes, as f32 words so they are aligned like the mapped ones.
    Owned(Vec<f32>),
}

/// Where one tensor of [`Weights`] is: `rows × cols` values from byte `start`, f32 or (when
/// `half`) half precision.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    rows: usize,
    cols: usize,
    half: bool,
}

impl Span {
    /// Its shape: (cols) for a vector, (rows, cols) otherwise.
    fn shape(&self) -> Shape {
        if self.rows == 1 { Shape::from(self.cols) } else { Shape::from((self.rows, self.cols)) }
    }
}

impl Weights {
    /// The packed weights of the model `source` (its `model.safetensors`) in `dir`: mapped from
    /// the packed file when it is current, else packed now (and written, when `dir` allows).
    fn open(dir: &Path, source: &Path, config: &Config) -> Result<Weights, EmbedError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| EmbedError::Permanent(format!("{what} in {}: {e}", dir.display()));
        let stamp = source_stamp(source).map_err(|e| bad("reading model.safetensors", &e))?;
        let packed = dir.join(PACKED_FILE);
        if let Ok(w) = Weights::map(&packed, &stamp) {
            return Ok(w);
        }
        let tensors = candle_core::safetensors::load(source, &Device::Cpu).map_err(|e| bad("loading model.safetensors", &e))?;
        let tensors = pack(tensors, config).map_err(|e| bad("reading the weights", &e))?;
        let info = HashMap::from([("format".to_owned(), PACKED_FORMAT.to_owned()), ("source".to_owned(), stamp.clone())]);
        let bytes = safetensors::serialize(&tensors, Some(info)).map_err(|e| bad("packing the weights", &e))?;
        drop(tensors);
        match write_atomically(&packed, &bytes, source).and_then(|()| Weights::map(&packed, &stamp)) {
            Ok(w) => Ok(w),
            Err(e) => {
                tracing::info!(file = %packed.display(), error = %format!("{e:#}"), "could not keep the embedding model's packed weights in a file; keeping them in memory (`bellhop prepare-models` writes the file ahead)");
                let mut words = vec![0f32; bytes.len().div_ceil(4)];
                // SAFETY: any bytes are a valid f32; the slice covers exactly `words`' memory.
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), words.as_mut_ptr().cast::<u8>(), bytes.len()) };
                Weights::index(Bytes::Owned(words), bytes.len(), None).map_err(|e| bad("reading the packed weights", &e))
            }
        }
    }

    /// Maps the packed file `path` if it was made from the model file stamped `stamp`.
    fn map(path: &Path, stamp: &str) -> anyhow::Result<Weights> {
        let file = std::fs::File::open(path)?;
        // SAFETY: the packed file is only ever replaced by a rename, never written in place, so
        // the mapped bytes do not change under us (a new file is a new inode).
        let map = unsafe { memmap2::Mmap::map(&file)? };
        let len = map.len();
        Ok(Weights { file: Some(path.to_owned()), ..Weights::index(Bytes::Mapped(map), len, Some(stamp))? })
    }

    /// Finds every tensor in the packed file's `len` bytes held by `bytes`, checking its format
    /// (and, when given, the model file's stamp it was made from).
    fn index(bytes: Bytes, len: usize, stamp: Option<&str>) -> anyhow::Result<Weights> {
        let all = match &bytes {
            Bytes::Mapped(m) => &m[..],
            // SAFETY: the f32 words hold the file's `len` bytes (and at most three of padding).
            Bytes::Owned(w) => unsafe { std::slice::from_raw_parts(w.as_ptr().cast::<u8>(), len) },
        };
        let (_, meta) = safetensors::SafeTensors::read_metadata(all)?;
        let info = meta.metadata().clone().unwrap_or_default();
        anyhow::ensure!(info.get("format").map(String::as_str) == Some(PACKED_FORMAT), "not a packed file of this version");
        if let Some(stamp) = stamp {
            anyhow::ensure!(info.get("source").map(String::as_str) == Some(stamp), "made from another model file");
        }
        let st = safetensors::SafeTensors::deserialize(all)?;
        let mut spans = HashMap::new();
        for (name, view) in st.tensors() {
            let half = match view.dtype() {
                safetensors::Dtype::F32 => false,
                safetensors::Dtype::F16 => true,
                other => anyhow::bail!("{name} is {other:?}, neither f32 nor f16"),
            };
            let offset = view.data().as_ptr() as usize - all.as_ptr() as usize;
            anyhow::ensure!(offset % 4 == 0 && all.as_ptr() as usize % 4 == 0, "{name} is not aligned");
            let (rows, cols) = match view.shape() {
                [c] => (1, *c),
                [r, c] => (*r, *c),
                other => anyhow::bail!("{name} has shape {other:?}"),
            };
            spans.insert(name, Span { start: offset, rows, cols, half });
        }
        Ok(Weights { bytes, spans, file: None })
    }

    fn span(&self, name: &str) -> candle_core::Result<Span> {
        self.spans.get(name).copied().ok_or_else(|| candle_core::Error::Msg(format!("the packed weights have no {name}")))
    }

    /// The f32 values of `s`.
    ///
    /// # Panics
    /// If `s` is half precision.
    fn floats(&self, s: &Span) -> &[f32] {
        assert!(!s.half, "floats of a half-precision tensor");
        let all: &[f32] = match &self.bytes {
            // SAFETY: the map is page-aligned and any 4 bytes are a valid f32; `index` checked
            // every span lies within it, aligned.
            Bytes::Mapped(m) => unsafe { std::slice::from_raw_parts(m.as_ptr().cast::<f32>(), m.len() / 4) },
            Bytes::Owned(w) => w,
        };
        &all[s.start / 4..s.start / 4 + s.rows * s.cols]
    }

    /// The half-precision values of `s`, as their bits.
    ///
    /// # Panics
    /// If `s` is f32.
    fn halves(&self, s: &Span) -> &[u16] {
        assert!(s.half, "halves of an f32 tensor");
        let all: &[u16] = match &self.bytes {
            // SAFETY: the map is page-aligned and any 2 bytes are a valid u16; `index` checked
            // every span lies within it, aligned.
            Bytes::Mapped(m) => unsafe { std::slice::from_raw_parts(m.as_ptr().cast::<u16>(), m.len() / 2) },
            // SAFETY: as above, over the owned words' bytes.
            Bytes::Owned(w) => unsafe { std::slice::from_raw_parts(w.as_ptr().cast::<u16>(), w.len() * 2) },
        };
        &all[s.start / 2..s.start / 2 + s.rows * s.cols]
    }
}

/// What the packed file records of the model file it was made from: size and modification time.
fn source_stamp(source: &Path) -> std::io::Result<String> {
    let meta = std::fs::metadata(source)?;
    let modified = meta.modified()?.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Ok(format!("{} bytes, modified {}.{:09}", meta.len(), modified.as_secs(), modified.subsec_nanos()))
}

/// Writes `bytes` to `path` under a temporary name in the same directory, then renames it;
/// readable by whoever may read `like` (the model file).
fn write_atomically(path: &Path, bytes: &[u8], like: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.as_file().set_permissions(std::fs::metadata(like)?.permissions())?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)?;
    Ok(())
}

/// The model's tensors (`model.safetensors`) in the layout of [`Weights`], by the names
/// [`Encoder::load`] reads.
fn pack(mut t: HashMap<String, Tensor>, config: &Config) -> candle_core::Result<HashMap<String, Tensor>> {
    let mut take = |name: &str| -> candle_core::Result<Tensor> {
        let t = t.remove(name).ok_or_else(|| candle_core::Error::Msg(format!("{name} is missing")))?;
        t.to_dtype(DType::F32)
    };
    let heads = config.num_attention_heads;
    let hidden = config.hidden_size;
    if hidden % heads != 0 {
        candle_core::bail!("hidden size {hidden} is not a multiple of {heads} heads");
    }
    let scale = 1.0 / ((hidden / heads) as f64).sqrt();
    let mut out = HashMap::new();
    let mut norm = |out: &mut HashMap<String, Tensor>, from: &str, to: &str| -> candle_core::Result<()> {
        out.insert(format!("{to}.weight"), take(&format!("{from}.weight"))?);
        out.insert(format!("{to}.bias"), take(&format!("{from}.bias"))?);
        Ok(())
    };
    norm(&mut out, "embeddings.LayerNorm", "norm")?;
    for i in 0..config.num_hidden_layers {
        let p = format!("encoder.layer.{i}");
        norm(&mut out, &format!("{p}.attention.output.LayerNorm"), &format!("{i}.attention_norm"))?;
        norm(&mut out, &format!("{p}.output.LayerNorm"), &format!("{i}.output_norm"))?;
    }
    for i in 0..config.num_hidden_layers {
        let p = format!("encoder.layer.{i}");
        let mut linear = |name: &str, scale: f64| -> candle_core::Result<(Tensor, Tensor)> {
            Ok(((take(&format!("{p}.{name}.weight"))? * scale)?, (take(&format!("{p}.{name}.bias"))? * scale)?))
        };
        let (qw, qb) = linear("attention.self.query", scale)?;
        let (kw, kb) = linear("attention.self.key", 1.0)?;
        let (vw, vb) = linear("attention.self.value", 1.0)?;
        let mut transposed = |name: &str, (w, b): (Tensor, Tensor)| -> candle_core::Result<()> {
            let half = w.t()?.contiguous()?.to_dtype(DType::F16)?;
            let (k, n) = half.dims2()?;
            if n % bellhop_kernels::PANEL != 0 {
                candle_core::bail!("{name} has {n} columns, not a multiple of {}", bellhop_kernels::PANEL);
            }
            let panels = bellhop_kernels::to_panels(&half.flatten_all()?.to_vec1::<half::f16>()?, k, n);
            out.insert(format!("{i}.{name}.w"), half.to_dtype(DType::F32)?);
            out.insert(format!("{i}.{name}.w16"), Tensor::from_vec(panels, (k, n), &Device::Cpu)?);
            out.insert(format!("{i}.{name}.b"), b);
            Ok(())
        };
        transposed("qkv", (Tensor::cat(&[qw, kw, vw], 0)?, Tensor::cat(&[qb, kb, vb], 0)?))?;
        transposed("out", linear("attention.output.dense", 1.0)?)?;
        transposed("up", linear("intermediate.dense", 1.0)?)?;
        transposed("down", linear("output.dense", 1.0)?)?;
    }
    out.insert("word".to_owned(), take("embeddings.word_embeddings.weight")?);
    out.insert("position".to_owned(), take("embeddings.position_embeddings.weight")?);
    out.insert("token_type".to_owned(), take("embeddings.token_type_embeddings.weight")?.i(0)?);
    Ok(out)
}

/// Passes of at most this many rows (word pieces, padding included: a question is some ten, a
/// merged pass of twenty questions some two hundred) multiply by the weights in half precision
/// ([`bellhop_kernels::product_f16`], on the calling thread); larger ones (ingestion) by their
/// f32 copy through the matrix kernel, which spreads one product over the cores. Measured on
/// AVX2 (BENCHMARKS.md): a question's embedding 12 → 4 ms; passes of hundreds of rows, where
/// the arithmetic sets the pace, take the same time either way.
const SMALL_PASS_ROWS: usize = 256;

/// `x · w` for a 2-D f32 `x` of `k` columns and `w` (k, n) row-major in [`Weights`], reading
/// `w` where it is mapped: a pass of a few rows by its half-precision copy `half`, a larger
/// one by the same matrix kernel and the same call as candle's own matmul.
struct Product<'a> {
    w: &'a [f32],
    half: &'a [u16],
    k: usize,
    n: usize,
}

impl CustomOp1 for Product<'_> {
    fn name(&self) -> &'static str {
        "product"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(x) = s else { candle_core::bail!("product: f32 only") };
        let Some((a, b)) = l.contiguous_offsets() else { candle_core::bail!("product: contiguous input only") };
        let (k, n) = (self.k, self.n);
        let dims = l.dims();
        if dims.len() != 2 || dims[1] != k || self.w.len() != k * n {
            candle_core::bail!("product: {dims:?} times ({k}, {n})");
        }
        let m = dims[0];
        let x = &x[a..b];
        let mut out = vec![0f32; m * n];
        if m <= SMALL_PASS_ROWS && bellhop_kernels::product_f16(x, self.half, m, k, n, &mut out) {
            return Ok((CpuStorage::F32(out), Shape::from((m, n))));
        }
        let threads = candle_core::utils::get_num_threads();
        let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
        // SAFETY: `x` is (m, k), `w` (k, n) and `out` (m, n), all row-major and of those sizes
        // (checked above); the strides say so.
        unsafe {
            gemm::gemm(
                m, n, k,
                out.as_mut_ptr(), 1, n as isize, false,
                x.as_ptr(), 1, k as isize,
                self.w.as_ptr(), 1, n as isize,
                0.0, 1.0, false, false, false, parallelism,
            );
        }
        Ok((CpuStorage::F32(out), Shape::from((m, n))))
    }
}

/// Softmax over the last dimension of attention scores (n, heads, len, len), each row over its
/// sequence's first `lens[i]` columns, in one parallel pass.
struct MaskedSoftmax<'a> {
    lens: &'a [usize],
    rows_per_seq: usize,
}

impl CustomOp1 for MaskedSoftmax<'_> {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(x) = s else { candle_core::bail!("masked-softmax: f32 only") };
        let Some((a, b)) = l.contiguous_offsets() else { candle_core::bail!("masked-softmax: contiguous input only") };
        let width = *l.dims().last().unwrap_or(&0);
        if width == 0 || b - a != self.lens.len() * self.rows_per_seq * width {
            candle_core::bail!("masked-softmax: {:?} does not fit {} sequences", l.dims(), self.lens.len());
        }
        let mut out = x[a..b].to_vec();
        bellhop_kernels::masked_softmax(&mut out, width, self.rows_per_seq, self.lens);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// `gelu(x + bias)` over the rows of a 2-D f32 tensor, in one parallel pass.
struct BiasGelu;

impl CustomOp2 for BiasGelu {
    fn name(&self) -> &'static str {
        "bias-gelu"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(x), CpuStorage::F32(b)) = (s1, s2) else { candle_core::bail!("bias-gelu: f32 only") };
        let (Some((x0, x1)), Some((b0, b1))) = (l1.contiguous_offsets(), l2.contiguous_offsets()) else {
            candle_core::bail!("bias-gelu: contiguous inputs only")
        };
        let (x, b) = (&x[x0..x1], &b[b0..b1]);
        if l1.dims().last() != Some(&b.len()) {
            candle_core::bail!("bias-gelu: a row of {:?} is not {} wide", l1.dims(), b.len());
        }
        let mut out = vec![0f32; x.len()];
        bellhop_kernels::bias_gelu(x, b, &mut out);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

impl Embedder for LocalMiniLm {
    fn name(&self) -> &str {
        MINILM_DIR
    }

    fn dim(&self) -> usize {
        self.inner.encoder.hidden
    }

    fn embed<'a>(&'a self, texts: &'a [&'a str]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        let this = self.clone();
        let owned: Vec<String> = texts.iter().map(|s| (*s).to_owned()).collect();
        Box::pin(async move {
            if owned.is_empty() {
                return Ok(Vec::new());
            }
            if owned.len() <= SMALL_CALL {
                let (done, result) = tokio::sync::oneshot::channel();
                this.small.send(SmallCall { texts: owned, done }).map_err(|_| EmbedError::Transient("the embedding thread stopped".into()))?;
                return result.await.map_err(|_| EmbedError::Transient("the embedding thread stopped".into()))?;
            }
            tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
                this.embed_blocking(&refs)
            })
            .await
            .map_err(|e| EmbedError::Transient(format!("embedding task stopped: {e}")))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lens(groups: &[Vec<usize>], seqs: &[Vec<u32>]) -> Vec<Vec<usize>> {
        groups.iter().map(|g| g.iter().map(|&i| seqs[i].len()).collect()).collect()
    }

    type Call = (&'static str, usize, usize);

    /// The names of the calls of `waiting`'s next pass.
    fn pass(waiting: &mut Waiting<Call>) -> Vec<&'static str> {
        waiting.next_pass(|c| (c.1, c.2)).into_iter().map(|c| c.0).collect()
    }

    /// Calls as (name, texts, bytes), all waiting at once; the names of the passes
    /// [`Waiting::next_pass`] makes of them.
    fn passes(calls: &[Call]) -> Vec<Vec<&'static str>> {
        let mut waiting = Waiting { calls: calls.to_vec(), passed_over: 0 };
        let mut out = Vec::new();
        while !waiting.calls.is_empty() {
            out.push(pass(&mut waiting));
        }
        out
    }

    #[test]
    fn a_steady_stream_of_questions_does_not_hold_the_sentences_back() {
        // A passage's sentences wait while a question arrives before every pass: the questions
        // go first QUICK_PASSES_AHEAD times, then the sentences get their pass, and the two
        // questions that waited for it go together.
        let mut waiting = Waiting { calls: vec![("a", 24, 3000)], passed_over: 0 };
        let mut order = Vec::new();
        for q in ["q1", "q2", "q3", "q4"] {
            waiting.calls.push((q, 1, 40));
            order.push(pass(&mut waiting));
        }
        assert_eq!(QUICK_PASSES_AHEAD, 2);
        assert_eq!(order, vec![vec!["q1"], vec!["q2"], vec!["a"], vec!["q3", "q4"]]);
        // Without larger calls waiting, questions never count as passing anything over.
        let mut waiting = Waiting { calls: vec![], passed_over: 0 };
        for q in ["q1", "q2", "q3"] {
            waiting.calls.push((q, 1, 40));
            assert_eq!(pass(&mut waiting), vec![q]);
        }
        assert_eq!(waiting.passed_over, 0);
    }

    #[test]
    fn questions_go_before_the_passages_sentences_waiting_with_them() {
        // Two passages' sentences came first, then two questions: the questions' pass runs
        // first, then the sentences, one large pass at a time.
        let sentences = |name| (name, 24, 3000);
        assert_eq!(
            passes(&[sentences("a"), sentences("b"), ("q1", 1, 40), ("q2", 1, QUICK_BYTES)]),
            vec![vec!["q1", "q2"], vec!["a"], vec!["b"]]
        );
        // Small larger calls share a pass within the byte budget, in the order they came; the
        // oldest is always in the next one.
        assert_eq!(passes(&[("a", 10, 2000), ("b", 10, 2000), ("c", 10, 2000)]), vec![vec!["a", "b"], vec!["c"]]);
        assert_eq!(passes(&[("huge", 32, 9000), ("a", 10, 2000)]), vec![vec!["huge"], vec!["a"]]);
        // Many questions: every one in one pass, up to MERGED_MAX texts.
        let many: Vec<_> = (0..MERGED_MAX + 2).map(|_| ("q", 1, 30)).collect();
        assert_eq!(passes(&many).iter().map(Vec::len).collect::<Vec<_>>(), vec![MERGED_MAX, 2]);
    }

    #[test]
    fn batches_group_similar_lengths_within_the_limits() {
        let seqs: Vec<Vec<u32>> = [25, 3, 256, 12, 4, 15, 12].iter().map(|&n| vec![1; n]).collect();
        let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
        let groups = batches(&refs);
        assert_eq!(lens(&groups, &seqs), vec![vec![3, 4], vec![12, 12, 15], vec![25], vec![256]]);
        let mut all: Vec<usize> = groups.concat();
        all.sort();
        assert_eq!(all, (0..seqs.len()).collect::<Vec<_>>(), "every text in exactly one group");

        // Many equal texts: at most BATCH to a pass, and at most BATCH_TOKENS word pieces.
        let short: Vec<Vec<u32>> = vec![vec![1; 10]; 70];
        let refs: Vec<&[u32]> = short.iter().map(Vec::as_slice).collect();
        assert_eq!(batches(&refs).iter().map(Vec::len).collect::<Vec<_>>(), vec![32, 32, 6]);
        let long: Vec<Vec<u32>> = vec![vec![1; 256]; 30];
        let refs: Vec<&[u32]> = long.iter().map(Vec::as_slice).collect();
        assert!(batches(&refs).iter().all(|g| g.len() * 256 <= BATCH_TOKENS), "token budget kept");
    }
}
