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

/// all-MiniLM-L6-v2 loaded once; cheap to clone (the weights are shared).
///
/// Small calls made at the same time are embedded together: one thread takes every small call
/// waiting when it becomes free and runs them as one forward pass, on that thread alone, so
/// twenty jobs that each embed a question at once cost about one pass of twenty short texts,
/// not twenty passes competing for the cores. A call waits for nothing when the thread is free.
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

/// The merging thread: takes every small call waiting, runs them as one pass, answers each with
/// its own vectors. Ends when the last [`LocalMiniLm`] clone is dropped.
fn merge_small_calls(inner: Arc<Inner>, calls: std::sync::mpsc::Receiver<SmallCall>) {
    while let Ok(first) = calls.recv() {
        let mut taken = first.texts.len();
        let mut batch = vec![first];
        while taken < MERGED_MAX {
            match calls.try_recv() {
                Ok(c) => {
                    taken += c.texts.len();
                    batch.push(c);
                }
                Err(_) => break,
            }
        }
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
        let tensors =
            candle_core::safetensors::load(file("model.safetensors")?, &Device::Cpu).map_err(|e| bad("loading model.safetensors", &e))?;
        let encoder = Encoder::load(tensors, &config).map_err(|e| bad("reading the weights", &e))?;
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
    word: Tensor,
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
    /// (in, out), row-major: `x · w` is the layer.
    w: Tensor,
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
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.w)?.broadcast_add(&self.b)
    }
}

impl Encoder {
    fn load(mut t: HashMap<String, Tensor>, config: &Config) -> candle_core::Result<Self> {
        let mut take = |name: &str| -> candle_core::Result<Tensor> {
            let t = t.remove(name).ok_or_else(|| candle_core::Error::Msg(format!("{name} is missing")))?;
            t.to_dtype(DType::F32)
        };
        let eps = config.layer_norm_eps as f32;
        let heads = config.num_attention_heads;
        let hidden = config.hidden_size;
        if hidden % heads != 0 {
            candle_core::bail!("hidden size {hidden} is not a multiple of {heads} heads");
        }
        let scale = 1.0 / ((hidden / heads) as f64).sqrt();
        let mut norm = |prefix: &str| -> candle_core::Result<Norm> {
            Ok(Norm { weight: take(&format!("{prefix}.weight"))?, bias: take(&format!("{prefix}.bias"))?, eps })
        };
        let norm_embeddings = norm("embeddings.LayerNorm")?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let mut linear = |name: &str, scale: f64| -> candle_core::Result<(Tensor, Tensor)> {
                Ok(((take(&format!("{p}.{name}.weight"))? * scale)?, (take(&format!("{p}.{name}.bias"))? * scale)?))
            };
            let (qw, qb) = linear("attention.self.query", scale)?;
            let (kw, kb) = linear("attention.self.key", 1.0)?;
            let (vw, vb) = linear("attention.self.value", 1.0)?;
            let transposed = |w: Tensor, b: Tensor| -> candle_core::Result<Linear> { Ok(Linear { w: w.t()?.contiguous()?, b }) };
            let qkv = transposed(Tensor::cat(&[qw, kw, vw], 0)?, Tensor::cat(&[qb, kb, vb], 0)?)?;
            let (ow, ob) = linear("attention.output.dense", 1.0)?;
            let (uw, ub) = linear("intermediate.dense", 1.0)?;
            let (dw, db) = linear("output.dense", 1.0)?;
            let mut norm = |prefix: &str| -> candle_core::Result<Norm> {
                Ok(Norm { weight: take(&format!("{p}.{prefix}.weight"))?, bias: take(&format!("{p}.{prefix}.bias"))?, eps })
            };
            layers.push(Layer {
                qkv,
                out: transposed(ow, ob)?,
                attention_norm: norm("attention.output.LayerNorm")?,
                up: transposed(uw, ub)?,
                down: transposed(dw, db)?,
                output_norm: norm("output.LayerNorm")?,
            });
        }
        Ok(Self {
            word: take("embeddings.word_embeddings.weight")?,
            position: take("embeddings.position_embeddings.weight")?,
            token_type: take("embeddings.token_type_embeddings.weight")?.i(0)?,
            norm: norm_embeddings,
            layers,
            heads,
            hidden,
        })
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
        let ids = Tensor::from_vec(ids, n * len, dev)?;
        let x = self.word.index_select(&ids, 0)?.reshape((n, len, self.hidden))?;
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
        let qkv = l.qkv.forward(x)?.reshape((n, len, 3, heads, h / heads))?.permute((2, 0, 3, 1, 4))?.contiguous()?;
        let (q, k, v) = (qkv.i(0)?, qkv.i(1)?, qkv.i(2)?);
        // Padding gets no attention: the softmax runs over each sequence's real tokens only.
        let probs = q.matmul(&k.t()?)?.apply_op1_no_bwd(&MaskedSoftmax { lens, rows_per_seq: heads * len })?;
        let context = probs.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((n * len, h))?;
        let a = l.attention_norm.forward(&(l.out.forward(&context)? + x)?)?;
        let up = a.matmul(&l.up.w)?.apply_op2_no_bwd(&l.up.b, &BiasGelu)?;
        l.output_norm.forward(&(l.down.forward(&up)? + a)?)
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
