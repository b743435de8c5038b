//! Shared setup for the retrieval tests: the local embedder (loaded once per test binary from
//! `BELLHOP_MODELS_DIR`) and a fresh, empty index: Qdrant Edge in a temporary directory, or a
//! fresh collection on the Qdrant server in the suite's server-backend pass
//! (`BELLHOP_TEST_QDRANT_URL`).
use bellhop::models::{Embedder, LocalMiniLm};
use bellhop::retrieval::{EdgeIndex, Retriever, ServerIndex, VectorIndex};
use std::sync::{Arc, OnceLock};

/// all-MiniLM-L6-v2 from `BELLHOP_MODELS_DIR`; panics with the fix if it is not there.
pub fn embedder() -> Arc<dyn Embedder> {
    Arc::new(minilm())
}

/// The same model as [`embedder`], as its own type.
pub fn minilm() -> LocalMiniLm {
    static MODEL: OnceLock<LocalMiniLm> = OnceLock::new();
    let m = MODEL.get_or_init(|| {
        let dir = std::env::var("BELLHOP_MODELS_DIR").expect(
            "BELLHOP_MODELS_DIR is unset: the retrieval tests need the local model files. \
             Run `bash scripts/test.sh` (which fetches them), or `scripts/fetch-models.sh DIR` and export BELLHOP_MODELS_DIR=DIR",
        );
        LocalMiniLm::load(std::path::Path::new(&dir)).unwrap_or_else(|e| panic!("{e}"))
    });
    m.clone()
}

/// A retriever over a fresh, empty index (see the module's documentation).
///
/// Fields drop in order: the retriever (whose shards flush on drop) before the directory is
/// removed — Qdrant Edge panics if a shard's files vanish under it.
pub struct TestRetriever {
    pub retriever: Retriever,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TestRetriever {
    type Target = Retriever;

    fn deref(&self) -> &Retriever {
        &self.retriever
    }
}

pub async fn fresh_retriever() -> TestRetriever {
    let dir = tempfile::tempdir().expect("temp dir");
    let e = embedder();
    let index = fresh_index(dir.path(), e.dim()).await;
    TestRetriever { retriever: Retriever::new(e, index).expect("dimensions agree"), _dir: dir }
}

/// A fresh, empty index of dimension `dim`: Edge shards under `dir`, or a new collection on the
/// test Qdrant server.
pub async fn fresh_index(dir: &std::path::Path, dim: usize) -> Arc<dyn VectorIndex> {
    match crate::helpers::qdrant_server() {
        Some(url) => Arc::new(server_index(&url, &crate::helpers::fresh_collection(), dim).await.expect("connect to the test Qdrant server")),
        None => Arc::new(EdgeIndex::open(&dir.join("index"), dim).expect("open index")),
    }
}

/// Connects to `collection` on the test Qdrant server (creating it when missing).
pub async fn server_index(url: &str, collection: &str, dim: usize) -> Result<ServerIndex, bellhop::retrieval::IndexError> {
    ServerIndex::connect(&url::Url::parse(url).expect("BELLHOP_TEST_QDRANT_URL is a URL"), None, collection, dim).await
}
