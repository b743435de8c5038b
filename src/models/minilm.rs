//! all-MiniLM-L6-v2 run in-process on the CPU with candle: BERT encoder, attention-masked mean
//! pooling, L2 normalisation — the recipe of sentence-transformers' model card
//! (<https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2>), 384 dimensions.
//!
//! Files are read once from `{models.dir}/all-MiniLM-L6-v2/` (`config.json`, `tokenizer.json`,
//! `model.safetensors`), put there by `scripts/fetch-models.sh`. Inputs longer than 256 word
//! pieces are truncated, as the model was trained.
use super::embedder::{EmbedError, Embedder, l2_normalise};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use futures::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Directory under the models directory holding this model's files.
pub const MINILM_DIR: &str = "all-MiniLM-L6-v2";
/// The model's trained input limit, in word pieces.
const MAX_SEQ_LEN: usize = 256;
/// Texts per forward pass. Texts are sorted by length first, so padding stays small.
const BATCH: usize = 32;

/// all-MiniLM-L6-v2 loaded once; cheap to clone (the weights are shared).
#[derive(Clone)]
pub struct LocalMiniLm {
    inner: Arc<Inner>,
}

struct Inner {
    model: BertModel,
    tokenizer: Tokenizer,
    dim: usize,
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
        tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));
        let weights = file("model.safetensors")?;
        let mut tensors = candle_core::safetensors::load(&weights, &Device::Cpu).map_err(|e| bad("loading model.safetensors", &e))?;
        // Each dense layer computes x·Wᵀ. Stored as is, Wᵀ is a strided view, and the matrix
        // kernel gathers the whole of W into a packed copy on every call — most of the time
        // of a short query. Kept column-major instead (the same values, Wᵀ contiguous), the
        // kernel reads it in place. Embedding tables are looked up by row and stay as they are.
        for (name, t) in tensors.iter_mut() {
            if t.rank() == 2 && !name.contains("embeddings") {
                *t = t.to_dtype(DType::F32).and_then(|w| w.t()?.contiguous()?.t()).map_err(|e| bad("laying out the weights", &e))?;
            }
        }
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        let model = BertModel::load(vb, &config).map_err(|e| bad("building the BERT model", &e))?;
        Ok(Self { inner: Arc::new(Inner { model, tokenizer, dim: config.hidden_size }) })
    }

    /// Embeds on the calling thread (CPU-bound: call from a blocking context).
    pub fn embed_blocking(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
            let vectors = self.inner.forward(&inputs).map_err(|e| EmbedError::Permanent(format!("MiniLM inference: {e}")))?;
            for (&i, v) in batch.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

impl Inner {
    fn forward(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        let enc = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| anyhow::anyhow!("tokenising: {e}"))?;
        let n = enc.len();
        let len = enc.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &enc {
            ids.extend(e.get_ids().iter().map(|&x| x as i64));
            mask.extend(e.get_attention_mask().iter().map(|&x| x as i64));
        }
        let dev = &Device::Cpu;
        let ids = Tensor::from_vec(ids, (n, len), dev)?;
        let mask = Tensor::from_vec(mask, (n, len), dev)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?; // (n, len, dim)
        // Mean over real tokens only: padding must not dilute short texts.
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
        let summed = hidden.broadcast_mul(&m)?.sum(1)?; // (n, dim)
        let counts = m.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (n, 1)
        let pooled = summed.broadcast_div(&counts)?;
        let mut rows: Vec<Vec<f32>> = pooled.to_vec2()?;
        rows.iter_mut().for_each(|r| l2_normalise(r));
        Ok(rows)
    }
}

impl Embedder for LocalMiniLm {
    fn name(&self) -> &str {
        MINILM_DIR
    }

    fn dim(&self) -> usize {
        self.inner.dim
    }

    fn embed<'a>(&'a self, texts: &'a [&'a str]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        let this = self.clone();
        let owned: Vec<String> = texts.iter().map(|s| (*s).to_owned()).collect();
        Box::pin(async move {
            if owned.is_empty() {
                return Ok(Vec::new());
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
