//! `models.dir`, `embeddings.*` and `qdrant.*`: where embeddings are computed and stored.
use super::read::Reader;
use crate::domain::Secret;
use url::Url;

#[derive(Debug, Clone)]
pub struct EmbeddingsConfig {
    /// OpenAI-compatible endpoint; `None` runs all-MiniLM-L6-v2 in-process.
    pub url: Option<Url>,
    pub model: String,
    pub api_key: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct QdrantConfig {
    /// Qdrant server; `None` uses Qdrant Edge in-process.
    pub url: Option<Url>,
    pub api_key: Option<Secret>,
    pub collection: String,
}

pub(super) fn parse_embeddings(r: &mut Reader) -> EmbeddingsConfig {
    EmbeddingsConfig {
        url: r.http_url("embeddings.url"),
        model: r.get_or_default("embeddings.model").to_owned(),
        api_key: r.secret("embeddings.api_key"),
    }
}

pub(super) fn parse_qdrant(r: &mut Reader) -> QdrantConfig {
    let qdrant = QdrantConfig {
        url: r.http_url("qdrant.url"),
        api_key: r.secret("qdrant.api_key"),
        collection: r.get_or_default("qdrant.collection").to_owned(),
    };
    if !qdrant.collection.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        r.bad("qdrant.collection", "use only A-Z, a-z, 0-9, _ and -");
    }
    qdrant
}
