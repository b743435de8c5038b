//! Hybrid search: a dense (embedding) list and a BM25 list from the tenant's index, fused into
//! one ranking; plus writing chunks with both vectors. The one place that knows both the
//! embedder and the index, and checks that their dimensions agree.
//!
//! Fusion happens here rather than in the backend, so Qdrant Edge and a Qdrant server rank
//! identically and the method can be better than plain reciprocal-rank fusion — see
//! `docs/retrieval.md` for what is done and why, with the measurements.
use super::bm25::Bm25Encoder;
use super::index::{ChunkPayload, IndexError, IndexHit, IndexQuery, IndexedChunk, SentenceVectors, Sources, VectorIndex, sentences};
use crate::domain::TenantId;
use crate::models::{EmbedError, Embedder};
use std::collections::HashMap;
use std::sync::Arc;

/// Which evidence to rank by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// BM25 only.
    Bm25,
    /// Embeddings only.
    Dense,
    /// Both, fused.
    Hybrid,
}

/// How the two lists become one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// Reciprocal-rank fusion (Cormack et al., SIGIR 2009): `Σ 1/(k + rank)`.
    Rrf { k: f32 },
    /// Convex combination of min–max-normalised scores (Bruch et al., "An Analysis of Fusion
    /// Functions for Hybrid Retrieval", TOIS 2023): `w·dense + (1 − w)·bm25`.
    Convex { dense_weight: f32 },
}

/// Search settings; [`SearchOptions::default`] is what answering uses.
#[derive(Debug, Clone, Copy)]
pub struct SearchOptions {
    pub mode: Mode,
    /// Chunks returned.
    pub limit: usize,
    /// Chunks taken from each list before fusing.
    pub candidates: usize,
    pub fusion: Fusion,
    /// Also embed the message's last question on its own (see [`focus_question`]).
    pub question_focus: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self { mode: Mode::Hybrid, limit: 10, candidates: 50, fusion: Fusion::Convex { dense_weight: 0.5 }, question_focus: true }
    }
}

/// A chunk found for a question.
#[derive(Debug, Clone)]
pub struct Hit {
    pub payload: ChunkPayload,
    /// The fused score the ranking is by (higher is better; relative to this query).
    pub score: f32,
    /// Cosine similarity of the chunk to the question, in [-1, 1]: an absolute measure, the
    /// one to compare with an "I don't know" threshold. `None` in BM25 mode.
    pub similarity: Option<f32>,
    /// BM25 score, if the chunk was among the BM25 candidates.
    pub bm25: Option<f32>,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Embedder + index + BM25 encoder, checked to fit together.
#[derive(Clone)]
pub struct Retriever {
    embedder: Arc<dyn Embedder>,
    index: Arc<dyn VectorIndex>,
    bm25: Arc<Bm25Encoder>,
    /// Vectors of short texts embedded again and again (the owners' Q&A questions, compared
    /// with every customer message), by text. A text's vector is the same for every tenant.
    memo: Arc<std::sync::Mutex<HashMap<String, Arc<Vec<f32>>>>>,
}

/// Most texts [`Retriever::embed_memoised`] keeps (about 1.6 KB each with MiniLM).
const MEMO_MAX: usize = 50_000;

impl Retriever {
    /// Fails with [`IndexError::DimensionMismatch`] if the embedder's vectors do not fit the
    /// index.
    pub fn new(embedder: Arc<dyn Embedder>, index: Arc<dyn VectorIndex>) -> Result<Self, IndexError> {
        if embedder.dim() != index.dim() {
            return Err(IndexError::DimensionMismatch { expected: index.dim(), got: embedder.dim() });
        }
        Ok(Self { embedder, index, bm25: Arc::new(Bm25Encoder::default()), memo: Arc::default() })
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    pub fn index(&self) -> &Arc<dyn VectorIndex> {
        &self.index
    }

    /// Embeds and stores chunks of `tenant`, replacing any with the same id: searchable when
    /// this returns. Their sentences' vectors are a second step ([`Retriever::keep_sentences`]),
    /// so a source is searchable sooner; until it runs, answers embed the sentences they rank.
    pub async fn upsert(&self, tenant: TenantId, chunks: Vec<ChunkPayload>) -> Result<(), SearchError> {
        if chunks.is_empty() {
            return Ok(());
        }
        let texts: Vec<String> = chunks.iter().map(ChunkPayload::index_text).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = self.embedder.embed(&refs).await?;
        if vectors.len() != refs.len() {
            return Err(EmbedError::Permanent("the embedder returned too few vectors".into()).into());
        }
        let indexed = chunks
            .into_iter()
            .zip(&texts)
            .zip(vectors)
            .map(|((payload, text), dense)| IndexedChunk { sparse: self.bm25.document(text), payload, dense })
            .collect();
        self.index.upsert(tenant, indexed).await?;
        Ok(())
    }

    /// Embeds the sentences of chunks of `tenant` (`(chunk_id, text)`; each distinct sentence
    /// once) and keeps them with their chunk, so that answers rank them embedding nothing but
    /// the question. A chunk deleted meanwhile is left alone, and vectors kept for an older
    /// text of a re-indexed chunk are never used (they are only for the sentences they were
    /// made from).
    pub async fn keep_sentences(&self, tenant: TenantId, chunks: &[(uuid::Uuid, &str)]) -> Result<(), SearchError> {
        let by_chunk: Vec<Vec<&str>> = chunks.iter().map(|(_, text)| sentences(text)).collect();
        let mut distinct: HashMap<&str, usize> = HashMap::new();
        let mut refs: Vec<&str> = Vec::new();
        for s in by_chunk.iter().flatten() {
            distinct.entry(s).or_insert_with(|| {
                refs.push(s);
                refs.len() - 1
            });
        }
        if refs.is_empty() {
            return Ok(());
        }
        let vectors = self.embedder.embed(&refs).await?;
        if vectors.len() != refs.len() {
            return Err(EmbedError::Permanent("the embedder returned too few vectors".into()).into());
        }
        let model = self.embedder.name();
        let writes = chunks.iter().zip(&by_chunk).filter(|(_, ss)| !ss.is_empty()).map(|((id, _), ss)| {
            let vs: Vec<&[f32]> = ss.iter().map(|s| vectors[distinct[s]].as_slice()).collect();
            self.index.keep_sentences(tenant, *id, SentenceVectors::new(model, ss, &vs))
        });
        for r in futures::future::join_all(writes).await {
            r?;
        }
        Ok(())
    }

    /// Removes every chunk of a source.
    pub async fn delete_source(&self, tenant: TenantId, source_id: &str) -> Result<(), SearchError> {
        Ok(self.index.delete_source(tenant, source_id).await?)
    }

    /// Removes every chunk of `tenant` (an erased account's).
    pub async fn delete_tenant(&self, tenant: TenantId) -> Result<(), SearchError> {
        Ok(self.index.delete_tenant(tenant).await?)
    }

    /// Removes every chunk of a source but those of `keep` (a re-read's, written already).
    pub async fn delete_source_except(&self, tenant: TenantId, source_id: &str, keep: Vec<uuid::Uuid>) -> Result<(), SearchError> {
        Ok(self.index.delete_source_except(tenant, source_id, keep).await?)
    }

    /// Embeds `texts`, taking the vectors of texts seen before from memory; for short texts
    /// compared often (Q&A questions), never for documents.
    pub async fn embed_memoised(&self, texts: &[&str]) -> Result<Vec<Arc<Vec<f32>>>, EmbedError> {
        let mut out: Vec<Option<Arc<Vec<f32>>>> = {
            let memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
            texts.iter().map(|t| memo.get(*t).cloned()).collect()
        };
        let missing: Vec<&str> = texts.iter().zip(&out).filter(|(_, v)| v.is_none()).map(|(t, _)| *t).collect();
        if !missing.is_empty() {
            let fresh = self.embedder.embed(&missing).await?;
            let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
            if memo.len() + fresh.len() > MEMO_MAX {
                memo.clear();
            }
            let mut fresh = missing.iter().zip(fresh);
            for (t, slot) in texts.iter().zip(out.iter_mut()) {
                if slot.is_none()
                    && let Some((_, v)) = fresh.next()
                {
                    let v = Arc::new(v);
                    memo.insert((*t).to_owned(), v.clone());
                    *slot = Some(v);
                }
            }
        }
        out.into_iter().map(|v| v.ok_or_else(|| EmbedError::Permanent("the embedder returned too few vectors".into()))).collect()
    }

    /// The query embeddings a search of `query` uses (none in BM25 mode): the query, and its
    /// last question alone when `opts.question_focus` finds one. The first is the query's own.
    pub async fn query_vectors(&self, query: &str, opts: &SearchOptions) -> Result<Vec<Vec<f32>>, SearchError> {
        if opts.mode == Mode::Bm25 {
            return Ok(Vec::new());
        }
        let mut texts = vec![query];
        if opts.question_focus {
            texts.extend(focus_question(query));
        }
        Ok(self.embedder.embed(&texts).await?)
    }

    /// The best chunks of `tenant` among `sources` (a bot's) for `query`.
    pub async fn search(&self, tenant: TenantId, sources: &Sources, query: &str, opts: &SearchOptions) -> Result<Vec<Hit>, SearchError> {
        let dense_q = self.query_vectors(query, opts).await?;
        self.search_with(tenant, sources, query, opts, dense_q).await
    }

    /// [`Retriever::search`] with the query's embeddings already made
    /// ([`Retriever::query_vectors`] with the same `opts`).
    #[tracing::instrument(name = "retrieval.search", skip_all, fields(tenant_id = %tenant, mode = ?opts.mode))]
    pub async fn search_with(&self, tenant: TenantId, sources: &Sources, query: &str, opts: &SearchOptions, dense_q: Vec<Vec<f32>>) -> Result<Vec<Hit>, SearchError> {
        let n = opts.candidates.max(opts.limit);
        let mut queries = Vec::new();
        if opts.mode != Mode::Dense {
            queries.push(IndexQuery::Sparse(self.bm25.query(query)));
        }
        if opts.mode != Mode::Bm25 {
            // The candidates' dense vectors come back too, so every candidate — also those only
            // BM25 found — gets its exact similarity.
            queries.extend(dense_q.iter().map(|v| IndexQuery::Dense(v.clone())));
        }
        let lists = self.index.search(tenant, sources.clone(), queries, n, opts.mode != Mode::Bm25).await?;
        let mut lists = lists.into_iter();
        let sparse = if opts.mode != Mode::Dense { lists.next().unwrap_or_default() } else { Vec::new() };
        let dense: Vec<Vec<IndexHit>> = lists.collect();
        let mut hits = fuse(&sparse, &dense, &dense_q, opts);
        hits.truncate(opts.limit);
        Ok(hits)
    }
}

/// The last question of a message that first describes a situation ("I was born in 1960 and
/// worked abroad for ten years. Can I get the full State Pension?"), or `None` if the message is
/// a single sentence. Customers write like this; the situation pulls a mean-pooled embedding
/// away from what is asked, so the question is also embedded alone.
pub fn focus_question(query: &str) -> Option<&str> {
    let q = query.trim();
    let body = q.trim_end_matches(['?', '!', '.', ' ']);
    let cut = body.rfind(['.', '?', '!', '\n']).map(|i| i + 1)?;
    let last = q[cut..].trim();
    (last.split_whitespace().count() >= 3 && last.len() < q.len()).then_some(last)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

struct Candidate {
    payload: ChunkPayload,
    bm25: Option<f32>,
    bm25_rank: Option<usize>,
    similarity: Option<f32>,
    dense_rank: Option<usize>,
}

/// Fuses the BM25 list and the dense lists (one per query embedding) into one ranking.
fn fuse(sparse: &[IndexHit], dense: &[Vec<IndexHit>], dense_q: &[Vec<f32>], opts: &SearchOptions) -> Vec<Hit> {
    let mut by_id: HashMap<uuid::Uuid, Candidate> = HashMap::new();
    let mut vectors: HashMap<uuid::Uuid, &[f32]> = HashMap::new();
    for h in sparse.iter().chain(dense.iter().flatten()) {
        if let Some(v) = &h.dense {
            vectors.entry(h.payload.chunk_id).or_insert(v);
        }
        by_id.entry(h.payload.chunk_id).or_insert_with(|| Candidate {
            payload: h.payload.clone(),
            bm25: None,
            bm25_rank: None,
            similarity: None,
            dense_rank: None,
        });
    }
    for (rank, h) in sparse.iter().enumerate() {
        let c = by_id.get_mut(&h.payload.chunk_id).expect("inserted");
        c.bm25 = Some(h.score);
        c.bm25_rank = Some(rank);
    }
    // Similarity: mean cosine over the query embeddings, exact for every candidate whose vector
    // came back.
    for c in by_id.values_mut() {
        if let Some(v) = vectors.get(&c.payload.chunk_id)
            && !dense_q.is_empty()
        {
            c.similarity = Some(dense_q.iter().map(|q| dot(q, v)).sum::<f32>() / dense_q.len() as f32);
        }
    }
    if !dense.is_empty() {
        let mut ranked: Vec<(&uuid::Uuid, f32)> = by_id.iter().filter_map(|(id, c)| c.similarity.map(|s| (id, s))).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let ranks: Vec<(uuid::Uuid, usize)> = ranked.iter().enumerate().map(|(r, (id, _))| (**id, r)).collect();
        for (id, r) in ranks {
            by_id.get_mut(&id).expect("present").dense_rank = Some(r);
        }
    }

    let score = |c: &Candidate, bounds: &Bounds| -> f32 {
        match opts.mode {
            Mode::Bm25 => c.bm25.unwrap_or(0.0),
            Mode::Dense => c.similarity.unwrap_or(-1.0),
            Mode::Hybrid => match opts.fusion {
                Fusion::Rrf { k } => {
                    c.bm25_rank.map_or(0.0, |r| 1.0 / (k + r as f32 + 1.0)) + c.dense_rank.map_or(0.0, |r| 1.0 / (k + r as f32 + 1.0))
                }
                Fusion::Convex { dense_weight } => {
                    let d = bounds.dense.norm(c.similarity.unwrap_or(bounds.dense.0));
                    let s = bounds.bm25.norm(c.bm25.unwrap_or(bounds.bm25.0));
                    dense_weight * d + (1.0 - dense_weight) * s
                }
            },
        }
    };
    let bounds = Bounds {
        dense: Range::of(by_id.values().filter_map(|c| c.similarity)),
        // A candidate missing from the BM25 list scores at most the list's last score: 0 is
        // the honest floor for "no shared terms".
        bm25: Range::of(by_id.values().filter_map(|c| c.bm25).chain([0.0])),
    };
    let mut hits: Vec<Hit> = by_id
        .into_values()
        .filter(|c| match opts.mode {
            Mode::Bm25 => c.bm25.is_some(),
            Mode::Dense => c.dense_rank.is_some(),
            Mode::Hybrid => true,
        })
        .map(|c| Hit { score: score(&c, &bounds), similarity: c.similarity, bm25: c.bm25, payload: c.payload })
        .collect();
    // Ties broken by id so results are deterministic.
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.payload.chunk_id.cmp(&b.payload.chunk_id)));
    hits
}

struct Bounds {
    dense: Range,
    bm25: Range,
}

/// Min and max of a list, for min–max normalisation.
struct Range(f32, f32);

impl Range {
    fn of(xs: impl Iterator<Item = f32>) -> Self {
        xs.fold(Range(f32::INFINITY, f32::NEG_INFINITY), |r, x| Range(r.0.min(x), r.1.max(x)))
    }

    fn norm(&self, x: f32) -> f32 {
        if self.1 > self.0 { (x - self.0) / (self.1 - self.0) } else { 1.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn focus_question_takes_the_last_question_after_a_situation() {
        assert_eq!(focus_question("I am 67 and live in Spain. Can I still claim Pension Credit?"), Some("Can I still claim Pension Credit?"));
        assert_eq!(focus_question("Can I still claim Pension Credit?"), None);
        assert_eq!(focus_question("I moved. Why?"), None, "too short to stand alone");
    }
}
