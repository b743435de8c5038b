//! The [`VectorIndex`] trait: where chunks live. Every call takes the tenant, and no
//! implementation can return another tenant's chunk — the tenant is part of where data is
//! stored (a shard per tenant) or of every filter (one shared collection), never an option.
use crate::domain::TenantId;
use crate::retrieval::bm25::SparseVector;
use futures::future::BoxFuture;

/// Name of the dense vector in both backends.
pub const DENSE: &str = "dense";
/// Name of the BM25 sparse vector in both backends.
pub const SPARSE: &str = "bm25";

/// What is stored with each chunk, and returned with each hit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChunkPayload {
    /// Owner of the chunk; checked again on every hit as a second line of defence. Stored as a
    /// string: Qdrant's tenant index (`is_tenant`) is a keyword index.
    #[serde(with = "tenant_as_string")]
    pub tenant_id: i64,
    /// The source (document, page, Q&A set…) the chunk came from; deleting a source deletes
    /// every chunk with this id.
    pub source_id: String,
    /// Deterministic id: a hash of tenant, source and position (see `knowledge::chunk`).
    pub chunk_id: uuid::Uuid,
    /// Position of the chunk within its source, from 0.
    pub position: u32,
    /// Title of the source document ("" if none).
    pub title: String,
    /// Headings above the chunk, outermost first.
    pub headings: Vec<String>,
    /// Where the source can be read, if it has an address.
    pub url: Option<String>,
    /// The chunk's text as shown to people and models.
    pub text: String,
    /// The embeddings of the chunk's [`sentences`], which answering ranks
    /// (`answering::extract`): made at ingestion just after the chunk is searchable
    /// (`knowledge::pipeline`), so that no answer waits for them. A chunk without them (indexed
    /// a moment ago, or by a version before they were made) gets them from the first answer
    /// that ranks them, which keeps them here for every process after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentences: Option<SentenceVectors>,
}

/// Sentence embeddings kept with a chunk (see [`ChunkPayload::sentences`]). They are used only
/// when they were made by the same model from the same text: a late write for an older version
/// of a re-indexed chunk, or vectors of another embedding model, are ignored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SentenceVectors {
    /// The embedding model's name ([`crate::models::Embedder::name`]).
    pub model: String,
    /// A hash of the sentences they were made from.
    pub of: String,
    /// The vectors, one after another, as little-endian f32, in base64: exactly the values
    /// computed, so answers are the same with or without them.
    pub data: String,
}

impl SentenceVectors {
    /// The `vectors` of `sentences` (one each), made by `model`.
    pub fn new(model: &str, sentences: &[&str], vectors: &[&[f32]]) -> Self {
        use base64::Engine;
        let bytes: Vec<u8> = vectors.iter().flat_map(|v| v.iter().flat_map(|x| x.to_le_bytes())).collect();
        Self { model: model.to_owned(), of: sentences_hash(sentences), data: base64::engine::general_purpose::STANDARD.encode(bytes) }
    }

    /// One vector of `dim` values per sentence, if they were made by `model` from exactly
    /// these `sentences` (the hash covers how the text was split, too).
    pub fn vectors(&self, model: &str, sentences: &[&str], dim: usize) -> Option<Vec<Vec<f32>>> {
        use base64::Engine;
        if self.model != model || self.of != sentences_hash(sentences) || dim == 0 {
            return None;
        }
        let bytes = base64::engine::general_purpose::STANDARD.decode(&self.data).ok()?;
        if bytes.len() != sentences.len() * dim * 4 {
            return None;
        }
        let values: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        Some(values.chunks(dim).map(<[f32]>::to_vec).collect())
    }
}

/// The sentences of a text (Unicode sentence boundaries; each line of a list is one), trimmed,
/// empty ones dropped: the sentences of a chunk that get vectors of their own
/// ([`SentenceVectors`]), and the units answering ranks and checks.
pub fn sentences(text: &str) -> Vec<&str> {
    sentence_lines(text).into_iter().map(|(_, s)| s).collect()
}

/// [`sentences`], each with the number of the line it is on: a line of prose is a paragraph.
pub fn sentence_lines(text: &str) -> Vec<(usize, &str)> {
    use unicode_segmentation::UnicodeSegmentation;
    text.lines().enumerate().flat_map(|(n, l)| l.split_sentence_bounds().map(move |s| (n, s.trim()))).filter(|(_, s)| s.chars().any(char::is_alphanumeric)).collect()
}

/// A list item's marker ("- ", "* ", "• ", "+ ", "2. ", "2) ") and the rest of the line; none for
/// a line that is not a list item with text. The chunker's list items and the items answering
/// quotes whole lists of are these.
pub fn list_marker(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start();
    let lead = line.len() - t.len();
    let n = if ["- ", "* ", "• ", "+ "].iter().any(|m| t.starts_with(m)) {
        t.chars().next().map_or(0, char::len_utf8) + 1
    } else {
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        if (1..=3).contains(&digits) && t[digits..].starts_with(['.', ')']) && t[digits + 1..].starts_with(' ') { digits + 2 } else { 0 }
    };
    (n > 0 && t[n..].trim().chars().any(char::is_alphanumeric)).then(|| (&line[..lead + n], t[n..].trim()))
}

/// A line as quoted: a list item without its marker ("- 09:30 — Gentle Yoga" would read as a
/// stray dash), anything else trimmed.
pub fn unmarked(line: &str) -> &str {
    list_marker(line).map_or(line.trim(), |(_, rest)| rest)
}

/// The label a line names its own subject with: a few words with no digit before a colon
/// ("Monday: 9:00–18:00", "Full service: $89", "Email: hello@…"; not "17:00 — Yin Yoga").
pub fn label(item: &str) -> Option<&str> {
    item.split_once(": ").map(|(label, _)| label.trim()).filter(|label| !label.is_empty() && label.split_whitespace().count() <= 5 && !label.chars().any(|c| c.is_numeric()))
}

fn labelled(item: &str) -> bool {
    label(item).is_some()
}

fn sentences_hash(sentences: &[&str]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for s in sentences {
        h.update(s.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(&h.finalize()[..16])
}

mod tenant_as_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl ChunkPayload {
    /// The headings above the chunk that its title does not already say, outermost first: a
    /// page titled "Lotus Flow Yoga — Frequently Asked Questions" whose first heading is
    /// "Frequently Asked Questions" is not labelled with it twice.
    pub fn sections(&self) -> Vec<&str> {
        let title = self.title.trim().to_lowercase();
        self.headings.iter().map(|h| h.trim()).skip_while(|h| h.is_empty() || title.contains(&h.to_lowercase())).collect()
    }

    /// The text whose [`sentences`] answering ranks, embeds and quotes: the chunk's text with
    /// each list item that has no label of its own labelled with its section's heading, when
    /// that is a short name — "- 17:00 — Yin Yoga with Sofia" under "Sunday" is "- Sunday: 17:00
    /// — Yin Yoga with Sofia". Quoted alone, the line still says which day it is (a customer
    /// asking about Sunday morning was shown Monday's 7:00 class, its day only in the source's
    /// name), and a question naming the day finds it. Items that name their own subject
    /// ("- Monday: 9:00–18:00", "- Tubeless setup: $30") and items under a question heading (an
    /// FAQ's) stay as they are.
    pub fn sentence_text(&self) -> std::borrow::Cow<'_, str> {
        let Some(heading) = self.headings.last().map(|h| h.trim().trim_end_matches(':').trim()) else { return self.text.as_str().into() };
        let short = (1..=4).contains(&heading.split_whitespace().count()) && heading.chars().count() <= 40;
        if !short || heading.ends_with(['?', '？', '؟']) || !heading.chars().any(char::is_alphabetic) {
            return self.text.as_str().into();
        }
        let lower = heading.to_lowercase();
        let mut changed = false;
        let lines: Vec<String> = self
            .text
            .lines()
            .map(|line| match list_marker(line) {
                Some((marker, rest)) if !labelled(rest) && !rest.to_lowercase().contains(&lower) => {
                    changed = true;
                    format!("{marker}{heading}: {rest}")
                }
                _ => line.to_owned(),
            })
            .collect();
        if changed { lines.join("\n").into() } else { self.text.as_str().into() }
    }

    /// The text both vectors are computed from: the chunk with its title and heading path in
    /// front, so a chunk that says "You must apply within 3 months" still matches a question
    /// about the section it sits in ("Carer's Allowance › How to claim").
    pub fn index_text(&self) -> String {
        let mut context: Vec<&str> = Vec::new();
        if !self.title.trim().is_empty() {
            context.push(self.title.trim());
        }
        for h in &self.headings {
            if !context.iter().any(|c| c.eq_ignore_ascii_case(h.trim())) {
                context.push(h.trim());
            }
        }
        if context.is_empty() { self.text.clone() } else { format!("{}\n\n{}", context.join(" › "), self.text) }
    }
}

/// A chunk ready to store: payload plus both vectors.
#[derive(Debug, Clone)]
pub struct IndexedChunk {
    pub payload: ChunkPayload,
    pub dense: Vec<f32>,
    pub sparse: SparseVector,
}

/// One search of one vector.
#[derive(Debug, Clone)]
pub enum IndexQuery {
    /// Nearest by cosine similarity on the dense vector.
    Dense(Vec<f32>),
    /// Highest BM25 (dot product with IDF applied by the index) on the sparse vector.
    Sparse(SparseVector),
}

/// Which of a tenant's chunks a search may return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sources {
    /// Every chunk of the tenant: for evaluation and benchmarks, where a tenant is one corpus.
    /// Answering never uses it: a bot's search names its sources.
    All,
    /// Only chunks whose `source_id` is one of these (a bot's own sources and those shared with
    /// it, every page of each). Empty: nothing.
    Only(Vec<String>),
}

/// A chunk found, with the backend's raw score for the query (cosine or BM25), and its dense
/// vector when asked for.
#[derive(Debug, Clone)]
pub struct IndexHit {
    pub payload: ChunkPayload,
    pub score: f32,
    pub dense: Option<Vec<f32>>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The index was built with another embedding model: re-index or change the model back.
    #[error("vector dimension mismatch: the index holds {expected}-dimensional vectors, got {got}")]
    DimensionMismatch { expected: usize, got: usize },
    /// Worth retrying: the Qdrant server is unreachable or overloaded.
    #[error("vector index unavailable: {0}")]
    Unavailable(String),
    #[error("vector index: {0}")]
    Other(String),
}

/// Stores and searches chunks, per tenant.
///
/// Implementations: [`super::EdgeIndex`] (in-process Qdrant Edge, a shard directory per tenant)
/// and [`super::ServerIndex`] (a Qdrant server, one collection, tenant filter by construction).
pub trait VectorIndex: Send + Sync {
    /// Short backend name for logs and reports.
    fn backend(&self) -> &'static str;
    /// Dimension of the dense vectors this index stores.
    fn dim(&self) -> usize;
    /// Inserts or replaces chunks (by `chunk_id`) of `tenant`. Every chunk's `tenant_id` must
    /// be `tenant` and every dense vector must have [`VectorIndex::dim`] values.
    fn upsert(&self, tenant: TenantId, chunks: Vec<IndexedChunk>) -> BoxFuture<'_, Result<(), IndexError>>;
    /// Removes every chunk of `source_id` of `tenant`.
    fn delete_source<'a>(&'a self, tenant: TenantId, source_id: &'a str) -> BoxFuture<'a, Result<(), IndexError>>;
    /// Removes every chunk of `tenant`, whatever its source: an erased account's knowledge,
    /// including anything a read cut short left behind after its source's row was deleted.
    fn delete_tenant(&self, tenant: TenantId) -> BoxFuture<'_, Result<(), IndexError>>;
    /// Removes every chunk of `source_id` of `tenant` but those of `keep`: what an earlier
    /// version had beyond a re-read's chunks, once the re-read's are written.
    fn delete_source_except<'a>(&'a self, tenant: TenantId, source_id: &'a str, keep: Vec<uuid::Uuid>) -> BoxFuture<'a, Result<(), IndexError>>;
    /// The best `limit` chunks of `tenant` among `sources` for each query, in query order.
    fn search(&self, tenant: TenantId, sources: Sources, queries: Vec<IndexQuery>, limit: usize, with_dense: bool) -> BoxFuture<'_, Result<Vec<Vec<IndexHit>>, IndexError>>;
    /// Keeps `vectors` with chunk `chunk_id` of `tenant` (its payload's `sentences`); a chunk
    /// that no longer exists is left alone.
    fn keep_sentences(&self, tenant: TenantId, chunk_id: uuid::Uuid, vectors: SentenceVectors) -> BoxFuture<'_, Result<(), IndexError>>;
    /// Chunks of `tenant`, or of one of its sources.
    fn count<'a>(&'a self, tenant: TenantId, source_id: Option<&'a str>) -> BoxFuture<'a, Result<usize, IndexError>>;
}

/// Checks chunks before they are written: right tenant, right dimension.
pub(crate) fn check_chunks(tenant: TenantId, dim: usize, chunks: &[IndexedChunk]) -> Result<(), IndexError> {
    for c in chunks {
        if c.payload.tenant_id != tenant.0 {
            return Err(IndexError::Other(format!("chunk {} belongs to tenant {}, not {tenant}", c.payload.chunk_id, c.payload.tenant_id)));
        }
        if c.dense.len() != dim {
            return Err(IndexError::DimensionMismatch { expected: dim, got: c.dense.len() });
        }
    }
    Ok(())
}

/// Drops any hit outside `sources` — a second line of defence behind the backend's filter, as
/// for tenants.
pub(crate) fn only_sources(sources: &Sources, hits: Vec<IndexHit>) -> Vec<IndexHit> {
    match sources {
        Sources::All => hits,
        Sources::Only(ids) => hits.into_iter().filter(|h| ids.contains(&h.payload.source_id)).collect(),
    }
}

/// Drops (and logs) any hit whose payload names another tenant. Unreachable by construction;
/// kept because a leak across tenants is the one failure we must never ship.
pub(crate) fn only_tenant(tenant: TenantId, hits: Vec<IndexHit>) -> Vec<IndexHit> {
    hits.into_iter()
        .filter(|h| {
            let ok = h.payload.tenant_id == tenant.0;
            if !ok {
                tracing::error!(%tenant, other = h.payload.tenant_id, "vector index returned another tenant's chunk; dropped");
            }
            ok
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::SentenceVectors;

    #[test]
    fn a_heading_the_title_already_says_is_not_a_section() {
        let p = super::ChunkPayload {
            tenant_id: 1,
            source_id: "s".into(),
            chunk_id: uuid::Uuid::nil(),
            position: 0,
            title: "Lotus Flow Yoga — Frequently Asked Questions".into(),
            headings: vec!["Frequently Asked Questions".into(), "When should I arrive?".into()],
            url: None,
            text: "Please arrive early.".into(),
            sentences: None,
        };
        assert_eq!(p.sections(), ["When should I arrive?"]);
        assert_eq!(super::ChunkPayload { headings: vec!["Prices".into(), "Questions".into()], ..p }.sections(), ["Prices", "Questions"]);
    }

    #[test]
    fn list_items_without_a_label_of_their_own_are_labelled_with_their_short_heading() {
        let chunk = |headings: &[&str], text: &str| super::ChunkPayload {
            tenant_id: 1,
            source_id: "s".into(),
            chunk_id: uuid::Uuid::nil(),
            position: 0,
            title: "Lotus Flow Yoga — Weekly Class Timetable".into(),
            headings: headings.iter().map(|h| h.to_string()).collect(),
            url: None,
            text: text.into(),
            sentences: None,
        };
        let sunday = chunk(&["Lotus Flow Yoga — Weekly Class Timetable", "Sunday"], "- 10:00 — Slow Flow with Sofia (60 min)\n• 17:00 — Yin Yoga (90 min)\n2. Bring a mat\nNo classes on public holidays.");
        assert_eq!(sunday.sentence_text(), "- Sunday: 10:00 — Slow Flow with Sofia (60 min)\n• Sunday: 17:00 — Yin Yoga (90 min)\n2. Sunday: Bring a mat\nNo classes on public holidays.");
        // Items with their own label, or naming the heading already, stay; so do items under a
        // question (an FAQ's) or a long heading.
        let hours = chunk(&["Opening hours"], "- Monday: 9:00–18:00\n- Open late on Thursdays until opening hours end");
        assert_eq!(hours.sentence_text(), hours.text);
        let faq = chunk(&["Do I need my own mat?"], "- Yes, or rent one for $2");
        assert_eq!(faq.sentence_text(), faq.text);
        let long = chunk(&["What to bring to your very first class"], "- A water bottle");
        assert_eq!(long.sentence_text(), long.text);
        assert_eq!(chunk(&[], "- 10:00 — Slow Flow").sentence_text(), "- 10:00 — Slow Flow");
        assert_eq!(super::list_marker("• Cash"), Some(("• ", "Cash")));
        assert_eq!(super::list_marker("12) Return it"), Some(("12) ", "Return it")));
        assert_eq!(super::list_marker("100. A step"), Some(("100. ", "A step")));
        assert_eq!(super::list_marker("2026. A year"), None);
        assert_eq!(super::list_marker("-5 degrees"), None);
    }

    #[test]
    fn kept_sentence_vectors_come_back_exactly_and_only_for_the_same_model_and_sentences() {
        let (a, b) = (vec![0.25f32, -1.5, 3.0e-7], vec![1.0f32, 0.0, f32::MIN_POSITIVE]);
        let kept = SentenceVectors::new("all-MiniLM-L6-v2", &["One.", "Two."], &[&a, &b]);
        let json = serde_json::to_string(&kept).unwrap();
        let back: SentenceVectors = serde_json::from_str(&json).unwrap();
        assert_eq!(back.vectors("all-MiniLM-L6-v2", &["One.", "Two."], 3), Some(vec![a.clone(), b.clone()]), "bit for bit");
        assert_eq!(back.vectors("other-model", &["One.", "Two."], 3), None, "another model's vectors");
        assert_eq!(back.vectors("all-MiniLM-L6-v2", &["One.", "Two!"], 3), None, "another text");
        assert_eq!(back.vectors("all-MiniLM-L6-v2", &["One. Two."], 3), None, "the same text split otherwise");
        assert_eq!(back.vectors("all-MiniLM-L6-v2", &["One.", "Two."], 2), None, "another dimension");
        let cut = SentenceVectors { data: back.data[..8].to_owned(), ..back.clone() };
        assert_eq!(cut.vectors("all-MiniLM-L6-v2", &["One.", "Two."], 3), None, "truncated data");
    }
}
