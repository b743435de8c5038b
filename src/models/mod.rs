//! Models: text embeddings behind one [`Embedder`] trait — all-MiniLM-L6-v2 in-process with
//! candle ([`LocalMiniLm`], the zero-config default) or any OpenAI-compatible embeddings
//! endpoint ([`OpenAiEmbedder`]).
//!
//! Nothing here downloads at run time: the local model's files come from
//! `scripts/fetch-models.sh` into the models directory (`models.dir`). This module knows nothing
//! of tenants or indexes; the caller checks [`Embedder::dim`] against its index.
mod embedder;
mod minilm;
mod openai;

pub use embedder::{EmbedError, Embedder, from_config, l2_normalise};
pub use minilm::{LocalMiniLm, MINILM_DIR, PACKED_FILE};
pub use openai::OpenAiEmbedder;
