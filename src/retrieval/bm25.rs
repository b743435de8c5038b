//! BM25 as sparse vectors, so the vector index can run the lexical half of hybrid search.
//!
//! Documents get BM25's saturated, length-normalised term frequency per term
//! (`tf·(k1+1) / (tf + k1·(1 − b + b·len/avg_len))`); queries get each term's count. The index
//! multiplies in IDF at query time (Qdrant's `modifier: idf`, the `ln((N − n + 0.5)/(n + 0.5) + 1)`
//! of Robertson–Spärck Jones), so the dot product of the two vectors is the BM25 score and IDF
//! stays right as a tenant's corpus grows.
//!
//! Text analysis ([`super::analysis`]): Unicode words, lower-cased, stop words dropped and
//! stemmed by script and language — English as it always was, Spanish, Russian and Persian too.
//! Terms map to dimensions by a fixed FNV-1a hash, so vectors written by one version stay
//! comparable with queries from the next — changing the analysis means re-indexing.
use super::analysis;
use std::collections::HashMap;

/// A sparse vector: parallel `indices` (sorted, unique) and `values`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVector {
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    fn from_map(m: HashMap<u32, f32>) -> Self {
        let mut pairs: Vec<(u32, f32)> = m.into_iter().collect();
        pairs.sort_by_key(|p| p.0);
        let (indices, values) = pairs.into_iter().unzip();
        Self { indices, values }
    }
}

/// BM25 parameters. `k1 = 1.2, b = 0.75` are Robertson's long-standing defaults (also
/// Lucene's and Qdrant's).
#[derive(Debug, Clone, Copy)]
pub struct Bm25Params {
    pub k1: f32,
    pub b: f32,
    /// Expected chunk length in terms (after stop words). Chunks are bounded by the chunker, so
    /// a fixed value stands in for the corpus average, which would otherwise change every
    /// stored vector whenever a document is added.
    pub avg_len: f32,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Self { k1: 1.2, b: 0.75, avg_len: 64.0 }
    }
}

/// Turns text into BM25 sparse vectors. Cheap to share.
pub struct Bm25Encoder {
    params: Bm25Params,
}

impl Default for Bm25Encoder {
    fn default() -> Self {
        Self::new(Bm25Params::default())
    }
}

impl Bm25Encoder {
    pub fn new(params: Bm25Params) -> Self {
        Self { params }
    }

    /// The analysed terms of a document's `text`, in order.
    pub fn terms(&self, text: &str) -> Vec<String> {
        analysis::document_terms(text)
    }

    /// The document vector of `text` (term weights before IDF).
    pub fn document(&self, text: &str) -> SparseVector {
        let terms = self.terms(text);
        let len = terms.len() as f32;
        let Bm25Params { k1, b, avg_len } = self.params;
        let norm = k1 * (1.0 - b + b * len / avg_len);
        let mut tf: HashMap<u32, f32> = HashMap::new();
        for t in &terms {
            *tf.entry(term_id(t)).or_default() += 1.0;
        }
        tf.values_mut().for_each(|f| *f = *f * (k1 + 1.0) / (*f + norm));
        SparseVector::from_map(tf)
    }

    /// The query vector of `text`: each distinct term with its count (a query that may not be
    /// English also carries its words' Spanish terms: [`analysis::query_terms`]).
    pub fn query(&self, text: &str) -> SparseVector {
        let mut tf: HashMap<u32, f32> = HashMap::new();
        for t in analysis::query_terms(text) {
            *tf.entry(term_id(&t)).or_default() += 1.0;
        }
        SparseVector::from_map(tf)
    }
}

/// FNV-1a, 32 bits: stable across versions and platforms, unlike `std`'s hasher.
pub fn term_id(term: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in term.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_word_list_is_sorted_for_binary_search() {
        use analysis::is_english_stop_word as is_stop_word;
        assert!(is_stop_word("the") && is_stop_word("yourselves") && is_stop_word("a") && !is_stop_word("pension"));
    }

    #[test]
    fn analysis_folds_case_possessives_and_inflections() {
        let e = Bm25Encoder::default();
        assert_eq!(e.terms("The Owner's Payments, paying!"), vec!["owner", "payment", "pay"]);
        assert_eq!(e.terms("I don’t qualify"), vec!["qualifi"]);
    }

    #[test]
    fn query_and_document_share_dimensions_and_bm25_saturates() {
        let e = Bm25Encoder::default();
        let q = e.query("pension credit");
        let d1 = e.document("pension credit guarantee");
        let d5 = e.document("pension pension pension pension pension credit guarantee");
        assert_eq!(q.indices.len(), 2);
        assert!(q.indices.iter().all(|i| d1.indices.contains(i)));
        let w = |v: &SparseVector, t: &str| v.values[v.indices.iter().position(|&i| i == term_id(t)).unwrap()];
        assert!(w(&d5, "pension") > w(&d1, "pension"));
        assert!(w(&d5, "pension") < 1.2 + 1.0, "saturates below k1 + 1");
    }
}
