//! Shared setup for the retrieval tests: the local embedder (loaded once per test binary from
//! `BELLHOP_MODELS_DIR`) and a fresh Qdrant Edge index in a temporary directory.
use bellhop::models::{Embedder, LocalMiniLm};
use bellhop::retrieval::{EdgeIndex, Retriever};
use std::sync::{Arc, OnceLock};

/// all-MiniLM-L6-v2 from `BELLHOP_MODELS_DIR`; panics with the fix if it is not there.
pub fn embedder() -> Arc<dyn Embedder> {
    static MODEL: OnceLock<LocalMiniLm> = OnceLock::new();
    let m = MODEL.get_or_init(|| {
        let dir = std::env::var("BELLHOP_MODELS_DIR").expect(
            "BELLHOP_MODELS_DIR is unset: the retrieval tests need the local model files. \
             Run `bash scripts/test.sh` (which fetches them), or `scripts/fetch-models.sh DIR` and export BELLHOP_MODELS_DIR=DIR",
        );
        LocalMiniLm::load(std::path::Path::new(&dir)).unwrap_or_else(|e| panic!("{e}"))
    });
    Arc::new(m.clone())
}

/// A retriever over a fresh, empty Qdrant Edge index in a temporary directory.
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

pub fn fresh_retriever() -> TestRetriever {
    let dir = tempfile::tempdir().expect("temp dir");
    let e = embedder();
    let index = EdgeIndex::open(&dir.path().join("index"), e.dim()).expect("open index");
    TestRetriever { retriever: Retriever::new(e, Arc::new(index)).expect("dimensions agree"), _dir: dir }
}
