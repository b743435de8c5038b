//! The knowledge pipeline over the real embedder and the index — Qdrant Edge, or the Qdrant
//! server in the suite's server-backend pass: tenant isolation, re-indexing replaces, deleting
//! removes, dimensions are checked.
use crate::retrieval_support::{embedder, fresh_retriever, server_index};
use bellhop::domain::TenantId;
use bellhop::knowledge::{ChunkSettings, Document, delete_source, index_document};
use bellhop::retrieval::{EdgeIndex, IndexError, Mode, Retriever, SearchOptions};
use std::sync::Arc;

fn doc(text: &str) -> Document {
    Document { title: "Help centre".into(), text: text.into(), url: Some("https://example.com/help".into()) }
}

fn opts(mode: Mode) -> SearchOptions {
    SearchOptions { mode, limit: 50, ..SearchOptions::default() }
}

const A: TenantId = TenantId(101);
const B: TenantId = TenantId(202);

#[tokio::test]
async fn no_search_of_one_tenant_ever_returns_another_tenants_chunks() {
    let r = fresh_retriever().await;
    let s = ChunkSettings::default();
    // The same questions are answerable from both tenants' sources; only the canaries differ.
    let a = "# Returns\n\nRefunds are paid within 14 days. Canary: ZEBRA-ALPHA-7731.\n\n# Shipping\n\nWe ship to Europe. ZEBRA-ALPHA-7731 applies.";
    let b = "# Returns\n\nRefunds are paid within 30 days. Canary: OKAPI-BRAVO-4410.\n\n# Shipping\n\nWe ship worldwide. OKAPI-BRAVO-4410 applies.";
    index_document(&r.retriever, &s, A, "policies", &doc(a)).await.unwrap();
    index_document(&r.retriever, &s, B, "policies", &doc(b)).await.unwrap();
    let questions = ["How long do refunds take?", "ZEBRA-ALPHA-7731", "OKAPI-BRAVO-4410", "Do you ship worldwide?", "canary", "returns shipping refunds"];
    for mode in [Mode::Bm25, Mode::Dense, Mode::Hybrid] {
        for q in questions {
            for (tenant, own, other) in [(A, "ZEBRA-ALPHA-7731", "OKAPI-BRAVO-4410"), (B, "OKAPI-BRAVO-4410", "ZEBRA-ALPHA-7731")] {
                let hits = r.search(tenant, &bellhop::retrieval::Sources::All, q, &opts(mode)).await.unwrap();
                for h in &hits {
                    assert_eq!(h.payload.tenant_id, tenant.0, "{mode:?} {q:?}");
                    assert!(!h.payload.text.contains(other), "{mode:?} search of {tenant} for {q:?} returned {other}");
                }
                // BM25 finds only shared words; the dense and hybrid modes always rank every chunk.
                if mode != Mode::Bm25 || q == own || q.contains("refund") {
                    assert!(hits.iter().any(|h| h.payload.text.contains(own)), "{mode:?} {tenant} {q:?} found nothing of its own");
                }
            }
        }
    }
    assert_eq!(r.index().count(TenantId(303), None).await.unwrap(), 0, "a third tenant sees nothing");
    assert!(r.search(TenantId(303), &bellhop::retrieval::Sources::All, "refunds", &opts(Mode::Hybrid)).await.unwrap().is_empty());
}

#[tokio::test]
async fn reindexing_a_source_replaces_its_chunks_instead_of_adding_copies() {
    let r = fresh_retriever().await;
    let s = ChunkSettings { max_tokens: 40, overlap_tokens: 0 };
    let long: String = (1..=12).map(|i| format!("Paragraph {i} explains rule number {i} of the loyalty programme in detail.\n\n")).collect();
    let n1 = index_document(&r.retriever, &s, A, "loyalty", &doc(&long)).await.unwrap();
    assert!(n1 > 2, "several chunks: {n1}");
    assert_eq!(index_document(&r.retriever, &s, A, "loyalty", &doc(&long)).await.unwrap(), n1);
    assert_eq!(r.index().count(A, Some("loyalty")).await.unwrap(), n1, "same text again: same chunks");
    // A shorter new version leaves no stale tail behind.
    let n2 = index_document(&r.retriever, &s, A, "loyalty", &doc("Paragraph 1 only: the programme has ended.")).await.unwrap();
    assert_eq!(n2, 1);
    assert_eq!(r.index().count(A, Some("loyalty")).await.unwrap(), 1);
    let hits = r.search(A, &bellhop::retrieval::Sources::All, "rule number 7", &opts(Mode::Hybrid)).await.unwrap();
    assert!(hits.iter().all(|h| !h.payload.text.contains("rule number 7")), "old version gone");
}

/// The real embedder until its `fail_from`-th call (from 1), then failing: a re-read that breaks
/// half-way (the embeddings endpoint gone, a worker's model failing).
struct FailingFrom {
    inner: Arc<dyn bellhop::models::Embedder>,
    calls: std::sync::atomic::AtomicUsize,
    fail_from: usize,
}

impl bellhop::models::Embedder for FailingFrom {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn embed<'a>(&'a self, texts: &'a [&'a str]) -> futures::future::BoxFuture<'a, Result<Vec<Vec<f32>>, bellhop::models::EmbedError>> {
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 >= self.fail_from {
            return Box::pin(async { Err(bellhop::models::EmbedError::Transient("the embeddings endpoint went away".into())) });
        }
        self.inner.embed(texts)
    }
}

/// A source read again stays searchable while the new version is written, and a re-read that
/// fails half-way leaves the earlier version (partly updated), not a hole: the new chunks
/// overwrite the old, and the old tail goes only once the new version is complete.
#[tokio::test]
async fn a_source_read_again_stays_searchable_until_its_new_version_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let e = embedder();
    let index = crate::retrieval_support::fresh_index(dir.path(), e.dim()).await;
    let good = Retriever::new(e.clone(), index.clone()).unwrap();
    let s = ChunkSettings { max_tokens: 40, overlap_tokens: 0 };
    let v1: String = (1..=200).map(|i| format!("Paragraph {i} explains rule number {i} of the loyalty programme in detail.\n\n")).collect();
    let n1 = index_document(&good, &s, A, "loyalty", &doc(&v1)).await.unwrap();
    assert!(n1 > 64, "more than one batch of chunks: {n1}");

    // The new version's first batch is written, then embedding fails.
    let failing = Retriever::new(Arc::new(FailingFrom { inner: e, calls: Default::default(), fail_from: 2 }), index.clone()).unwrap();
    let v2 = v1.replace("loyalty programme", "rewards scheme");
    assert!(bellhop::knowledge::index_documents(&failing, &s, A, &[("loyalty", &doc(&v2))], |_| {}).await.is_err());
    assert_eq!(index.count(A, Some("loyalty")).await.unwrap(), n1, "nothing of the source was lost");
    let hits = good.search(A, &bellhop::retrieval::Sources::All, "rule number 199 of the loyalty programme", &opts(Mode::Hybrid)).await.unwrap();
    assert!(hits.iter().any(|h| h.payload.text.contains("rule number 199 of the loyalty programme")), "the earlier version's tail is still found");

    // Read again, completely and shorter: the new version only.
    let n3 = index_document(&good, &s, A, "loyalty", &doc("Paragraph 1: the rewards scheme has ended.")).await.unwrap();
    assert_eq!(index.count(A, Some("loyalty")).await.unwrap(), n3);
}

#[tokio::test]
async fn deleting_a_source_removes_all_of_its_chunks_and_nothing_else() {
    let r = fresh_retriever().await;
    let s = ChunkSettings { max_tokens: 40, overlap_tokens: 8 };
    let text: String = (1..=8).map(|i| format!("Section {i}: opening hours on day {i} are nine to five.\n\n")).collect();
    let n = index_document(&r.retriever, &s, A, "hours", &doc(&text)).await.unwrap();
    index_document(&r.retriever, &s, A, "menu", &doc("Our menu has soup, bread and cake.")).await.unwrap();
    index_document(&r.retriever, &s, B, "hours", &doc(&text)).await.unwrap();
    assert_eq!(r.index().count(A, Some("hours")).await.unwrap(), n);
    delete_source(&r.retriever, A, "hours").await.unwrap();
    assert_eq!(r.index().count(A, Some("hours")).await.unwrap(), 0);
    assert_eq!(r.index().count(A, None).await.unwrap(), 1, "the other source stays");
    assert_eq!(r.index().count(B, Some("hours")).await.unwrap(), n, "the other tenant's same-named source stays");
    let hits = r.search(A, &bellhop::retrieval::Sources::All, "opening hours", &opts(Mode::Hybrid)).await.unwrap();
    assert!(hits.iter().all(|h| h.payload.source_id == "menu"));
}

/// The Qdrant server backend: processes starting at once against a new collection all connect
/// (one creates it, the others find it), and a collection left without its payload indexes (a
/// process that died between creating it and them) gets them from the next process.
#[tokio::test]
async fn processes_starting_at_once_all_connect_and_the_payload_indexes_are_always_made() {
    let Some(url) = crate::helpers::qdrant_server() else {
        return; // Qdrant Edge: one process per shard directory, refused for several (tests/api/deploy.rs).
    };
    let dim = embedder().dim();
    let indexed = |collection: String| {
        let url = url.clone();
        async move {
            let client = qdrant_client::Qdrant::from_url(&url).build().unwrap();
            let info = client.collection_info(&collection).await.unwrap().result.unwrap();
            let mut fields: Vec<String> = info.payload_schema.into_keys().collect();
            fields.sort();
            fields
        }
    };
    let collection = crate::helpers::fresh_collection();
    let connects = futures::future::join_all((0..6).map(|_| server_index(&url, &collection, dim))).await;
    for c in connects {
        c.expect("every process connects");
    }
    assert_eq!(indexed(collection).await, ["source_id", "tenant_id"]);

    let collection = crate::helpers::fresh_collection();
    let client = qdrant_client::Qdrant::from_url(&url).build().unwrap();
    let mut vectors = qdrant_client::qdrant::VectorsConfigBuilder::default();
    vectors.add_named_vector_params(bellhop::retrieval::DENSE, qdrant_client::qdrant::VectorParamsBuilder::new(dim as u64, qdrant_client::qdrant::Distance::Cosine));
    client.create_collection(qdrant_client::qdrant::CreateCollectionBuilder::new(&collection).vectors_config(vectors)).await.unwrap();
    assert!(indexed(collection.clone()).await.is_empty());
    server_index(&url, &collection, dim).await.unwrap();
    assert_eq!(indexed(collection).await, ["source_id", "tenant_id"]);
}

#[tokio::test]
async fn an_index_built_for_another_dimension_is_refused() {
    let e = embedder();
    if let Some(url) = crate::helpers::qdrant_server() {
        // A collection created with one dimension refuses a connection with another.
        let collection = crate::helpers::fresh_collection();
        let right = server_index(&url, &collection, e.dim()).await.unwrap();
        let r = Retriever::new(e.clone(), Arc::new(right)).unwrap();
        index_document(&r, &ChunkSettings::default(), A, "s", &doc("hello")).await.unwrap();
        let err = server_index(&url, &collection, 8).await.err().expect("another dimension is refused");
        assert!(matches!(err, IndexError::DimensionMismatch { expected, got: 8 } if expected == e.dim()), "{err}");
        assert_eq!(bellhop::retrieval::VectorIndex::count(&server_index(&url, &collection, e.dim()).await.unwrap(), A, None).await.unwrap(), 1);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wrong = EdgeIndex::open(dir.path(), e.dim() + 1).unwrap();
    assert!(matches!(Retriever::new(e.clone(), Arc::new(wrong)), Err(IndexError::DimensionMismatch { .. })));
    // A shard created with one dimension refuses to open with another.
    let right = EdgeIndex::open(dir.path(), e.dim()).unwrap();
    let r = Retriever::new(e.clone(), Arc::new(right)).unwrap();
    index_document(&r, &ChunkSettings::default(), A, "s", &doc("hello")).await.unwrap();
    drop(r);
    let reopened = EdgeIndex::open(dir.path(), 8).unwrap();
    let err = bellhop::retrieval::VectorIndex::count(&reopened, A, None).await.unwrap_err();
    assert!(matches!(err, IndexError::DimensionMismatch { .. }), "{err}");
}

#[tokio::test]
async fn embeddings_have_the_models_dimension_unit_length_and_meaning() {
    let e = embedder();
    assert_eq!(e.dim(), 384);
    let v = e.embed(&["How do I get a refund?", "Refund policy: money back within 14 days.", "The cat sat on the mat.", ""]).await.unwrap();
    assert_eq!(v.len(), 4);
    for x in &v {
        assert_eq!(x.len(), 384);
        let norm: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "norm {norm}");
    }
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(cos(&v[0], &v[1]) > cos(&v[0], &v[2]) + 0.2, "a question is closer to its answer than to noise");
    // Batching and padding do not change a text's vector.
    let alone = e.embed(&["How do I get a refund?"]).await.unwrap();
    assert!(cos(&alone[0], &v[0]) > 0.9999);
}

#[tokio::test]
async fn hits_carry_source_headings_url_and_a_usable_similarity() {
    let r = fresh_retriever().await;
    let text = "# Delivery\n\n## Costs\n\nStandard delivery costs 4 euros; orders over 50 euros ship free.";
    index_document(&r.retriever, &ChunkSettings::default(), A, "faq-1", &doc(text)).await.unwrap();
    let hits = r.search(A, &bellhop::retrieval::Sources::All, "How much is shipping?", &opts(Mode::Hybrid)).await.unwrap();
    let top = &hits[0];
    assert_eq!(top.payload.source_id, "faq-1");
    assert_eq!(top.payload.headings, ["Delivery", "Costs"]);
    assert_eq!(top.payload.url.as_deref(), Some("https://example.com/help"));
    let related = top.similarity.unwrap();
    let off_topic = r.search(A, &bellhop::retrieval::Sources::All, "Who won the football world cup in 1966?", &opts(Mode::Hybrid)).await.unwrap()[0].similarity.unwrap();
    assert!(related > off_topic + 0.2, "similarity separates related {related} from off-topic {off_topic}");
}

/// An embedder that counts the texts it was given (the local model underneath).
struct Counting(Arc<dyn bellhop::models::Embedder>, std::sync::atomic::AtomicUsize);

impl bellhop::models::Embedder for Counting {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn embed<'a>(&'a self, texts: &'a [&'a str]) -> futures::future::BoxFuture<'a, Result<Vec<Vec<f32>>, bellhop::models::EmbedError>> {
        self.1.fetch_add(texts.len(), std::sync::atomic::Ordering::SeqCst);
        self.0.embed(texts)
    }
}

/// A passage's sentence vectors are made when it is indexed and kept with the chunk: a process
/// (a fresh retriever: nothing memoised) ranks them embedding only the question. A chunk indexed
/// without them (by a version before they were made at ingestion) gets them from the first
/// answer, to the same scores, kept in the background for every process after; re-indexing
/// makes new ones; another tenant's chunks are never touched.
#[tokio::test]
async fn sentence_vectors_are_made_at_ingestion_and_by_the_first_answer_for_chunks_indexed_without() {
    use bellhop::answering::extract::{Tuning, select};
    use bellhop::retrieval::{Bm25Encoder, IndexedChunk, SentenceVectors, sentences};
    use std::sync::atomic::Ordering::SeqCst;
    let r = fresh_retriever().await;
    let s = ChunkSettings::default();
    let text = "# Cakes\n\nCelebration cakes must be ordered three days ahead. A cake for 8 people costs 32 euros. Writing on the cake is free.";
    index_document(&r.retriever, &s, A, "cakes", &doc(text)).await.unwrap();
    index_document(&r.retriever, &s, B, "cakes", &doc(text)).await.unwrap();
    let process = || {
        let counting = Arc::new(Counting(embedder(), Default::default()));
        (Retriever::new(counting.clone(), r.index().clone()).unwrap(), counting)
    };
    let q = "How much is a cake for 8 people?";
    let ask = |rt: &Retriever| {
        let rt = rt.clone();
        async move {
            let hits = rt.search(A, &bellhop::retrieval::Sources::All, q, &opts(Mode::Hybrid)).await.unwrap();
            let qv = rt.embedder().embed(&[q]).await.unwrap().remove(0);
            let sel = select(&rt, q, Some(&qv), &hits, hits.len(), Tuning::default()).await;
            (hits, sel.ranked.iter().map(|x| (x.text.clone(), x.score)).collect::<Vec<_>>())
        }
    };
    let kept_for = |hits: &[bellhop::retrieval::Hit]| -> Vec<Option<SentenceVectors>> { hits.iter().map(|h| h.payload.sentences.clone()).collect() };
    let (model, dim) = (embedder().name().to_owned(), embedder().dim());
    let theirs_before = kept_for(&r.search(B, &bellhop::retrieval::Sources::All, q, &opts(Mode::Hybrid)).await.unwrap());

    // Made at ingestion, for exactly the chunk's sentences.
    let (first, counted) = process();
    let (hits, ranked) = ask(&first).await;
    let count = hits.iter().map(|h| sentences(&h.payload.text).len()).sum::<usize>();
    assert!(count >= 3, "{hits:?}");
    for h in &hits {
        let kept = h.payload.sentences.as_ref().expect("made at ingestion");
        assert!(kept.vectors(&model, &sentences(&h.payload.text), dim).is_some(), "for this chunk's sentences, by this model");
    }
    let queries_only = counted.1.load(SeqCst);
    assert!(queries_only <= 3, "only the question's embeddings, no sentence: {queries_only}");

    // Indexed without them: the same chunks, written as a version before this one wrote them.
    let mut old: Vec<IndexedChunk> = Vec::new();
    for payload in bellhop::knowledge::chunk_document(A, "cakes", &doc(text), &s) {
        let t = payload.index_text();
        let dense = embedder().embed(&[t.as_str()]).await.unwrap().remove(0);
        old.push(IndexedChunk { sparse: Bm25Encoder::default().document(&t), payload, dense });
    }
    assert!(old.iter().all(|c| c.payload.sentences.is_none()));
    r.index().upsert(A, old).await.unwrap();
    let (lazy, counted) = process();
    let (hits, ranked_lazily) = ask(&lazy).await;
    assert!(hits.iter().all(|h| h.payload.sentences.is_none()), "{hits:?}");
    let embedded_first = counted.1.load(SeqCst);
    assert!(embedded_first >= count, "the first answer embeds the sentences: {embedded_first}");
    assert_eq!(ranked_lazily.len(), ranked.len());
    for ((t1, s1), (t2, s2)) in ranked.iter().zip(&ranked_lazily) {
        assert!(t1 == t2 && (s1 - s2).abs() < 1e-5, "the same ranking either way: {ranked:?} / {ranked_lazily:?}");
    }

    // The first answer keeps them in the background; wait until the index has them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = r.search(A, &bellhop::retrieval::Sources::All, q, &opts(Mode::Hybrid)).await.unwrap();
        if now.iter().all(|h| h.payload.sentences.is_some()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the sentence vectors were never kept: {now:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (second, counted) = process();
    let (hits, ranked_again) = ask(&second).await;
    assert!(hits.iter().all(|h| h.payload.sentences.is_some()), "kept with every chunk ranked");
    assert_eq!(ranked_again, ranked_lazily, "the same sentences, the same scores");
    let queries_only = counted.1.load(SeqCst);
    assert!(queries_only <= 3, "only the question's embeddings, no sentence: {queries_only}");

    // The other tenant's chunks (same source id, same text) were not touched.
    let theirs = r.search(B, &bellhop::retrieval::Sources::All, q, &opts(Mode::Hybrid)).await.unwrap();
    assert!(theirs.iter().all(|h| h.payload.tenant_id == B.0));
    assert_eq!(kept_for(&theirs), theirs_before);

    // Re-indexing replaces the chunk: new text, new sentence vectors made with it.
    let changed = text.replace("32", "35");
    index_document(&r.retriever, &s, A, "cakes", &doc(&changed)).await.unwrap();
    let hits = r.search(A, &bellhop::retrieval::Sources::All, q, &opts(Mode::Hybrid)).await.unwrap();
    assert!(hits.iter().any(|h| h.payload.text.contains("35 euros")), "{hits:?}");
    for h in &hits {
        let kept = h.payload.sentences.as_ref().expect("made when re-indexed");
        assert!(kept.vectors(&model, &sentences(&h.payload.text), dim).is_some(), "for the new text");
    }
}

/// Ingestion's two steps: when the first returns, a source's chunks are searchable and have no
/// sentence vectors yet (an answer then embeds the sentences it ranks); the second keeps them
/// with every chunk, for exactly its sentences. A source deleted between the two steps stays
/// deleted: keeping its sentences brings no chunk back.
#[tokio::test]
async fn a_source_is_searchable_before_its_sentences_are_embedded_and_a_delete_between_the_steps_holds() {
    use bellhop::knowledge::index_documents;
    use bellhop::retrieval::sentences;
    let r = fresh_retriever().await;
    let s = ChunkSettings::default();
    let cakes = doc("# Cakes\n\nCelebration cakes must be ordered three days ahead. A cake for 8 people costs 32 euros.\n\n# Delivery\n\nWe deliver within 5 km. Delivery is free over 25 euros.");
    let q = "How much is a cake for 8 people?";
    let (model, dim) = (embedder().name().to_owned(), embedder().dim());

    let indexed = index_documents(&r.retriever, &s, A, &[("cakes", &cakes)], |_| {}).await.unwrap();
    assert_eq!(indexed.chunks, r.index().count(A, Some("cakes")).await.unwrap());
    let hits = r.search(A, &bellhop::retrieval::Sources::All, q, &opts(Mode::Hybrid)).await.unwrap();
    assert!(hits.first().is_some_and(|h| h.payload.text.contains("32 euros")), "searchable after the first step: {hits:?}");
    assert!(hits.iter().all(|h| h.payload.sentences.is_none()), "no sentence vectors before the second step");

    indexed.keep_sentences(&r.retriever).await.unwrap();
    let hits = r.search(A, &bellhop::retrieval::Sources::All, q, &opts(Mode::Hybrid)).await.unwrap();
    assert_eq!(hits.len(), r.index().count(A, None).await.unwrap());
    for h in &hits {
        let kept = h.payload.sentences.as_ref().expect("kept by the second step");
        assert!(kept.vectors(&model, &sentences(&h.payload.text), dim).is_some(), "for this chunk's sentences, by this model");
    }

    let menu = doc("Our menu has soup, bread and cake. The soup of the day costs 6 euros.");
    let indexed = index_documents(&r.retriever, &s, A, &[("menu", &menu)], |_| {}).await.unwrap();
    assert!(indexed.chunks > 0);
    delete_source(&r.retriever, A, "menu").await.unwrap();
    indexed.keep_sentences(&r.retriever).await.unwrap();
    assert_eq!(r.index().count(A, Some("menu")).await.unwrap(), 0, "keeping the sentences brought a deleted chunk back");
    assert_eq!(r.index().count(A, Some("cakes")).await.unwrap(), hits.len());
}

/// A fresh retriever whose embedder counts the texts it embeds, and the same retriever as the
/// application shares it (keep the first: it holds the index's directory).
async fn counting_retriever() -> (crate::retrieval_support::TestRetriever, Arc<Counting>, Retriever, bellhop::retrieval::SharedRetriever) {
    let r = fresh_retriever().await;
    let counting = Arc::new(Counting(embedder(), Default::default()));
    let rt = Retriever::new(counting.clone(), r.index().clone()).unwrap();
    let shared = {
        let rt = rt.clone();
        bellhop::retrieval::SharedRetriever::new(move || {
            let rt = rt.clone();
            async move { Ok(rt) }
        })
    };
    (r, counting, rt, shared)
}

/// The configuration's defaults.
fn default_config() -> bellhop::config::Config {
    use bellhop::config::{Config, Needs, RawSettings};
    let raw = RawSettings::load(Some(std::path::Path::new("/dev/null")), &|_| None).unwrap();
    Config::from_raw(&raw, Needs::Storage).unwrap()
}

/// A customer's question embedded early (beside the job's database work) is the embedding the
/// answer uses: the same vectors as embedding it then, made once, handed out once, and never
/// for another query (a follow-up searched with the previous question embeds that itself).
#[tokio::test]
async fn a_question_embedded_early_is_embedded_once_and_only_for_its_own_query() {
    use bellhop::answering::compose::EarlyVectors;
    use std::sync::atomic::Ordering::SeqCst;
    let (_r, counting, rt, shared) = counting_retriever().await;
    let cfg = default_config();
    let q = "How much is a cake for 8 people?";
    let opts = SearchOptions { limit: cfg.answering.sources, ..Default::default() };
    let expected = rt.query_vectors(q, &opts).await.unwrap();
    let per_query = counting.1.swap(0, SeqCst);
    assert!(per_query >= 1);

    let early = EarlyVectors::start(shared, &cfg.answering, q.to_owned(), None);
    assert_eq!(early.take("How much is a cake for 12 people?").await, None, "another query's vectors are never used");
    assert_eq!(early.take(q).await, Some(expected), "the vectors embedding it then gives");
    assert_eq!(early.take(q).await, None, "handed out once");
    assert_eq!(counting.1.load(SeqCst), per_query, "embedded once");
}

/// A question's embeddings are kept on its stored update once made, and a re-run of its job
/// (its worker died) reads them back instead of embedding again — only when they are of the
/// same question, by the same model; a first run never reads them; an update erased takes them
/// with it.
#[tokio::test]
async fn a_rerun_reads_the_questions_kept_embeddings_instead_of_embedding_it_again() {
    use bellhop::answering::compose::{EarlyVectors, KeptOn};
    use bellhop::domain::BotId;
    use bellhop::storage::{self, Db};
    use std::sync::atomic::Ordering::SeqCst;
    let dir = tempfile::tempdir().unwrap();
    let cfg = crate::helpers::test_settings(dir.path()).await.config(bellhop::config::Needs::Storage);
    let db = Db::connect(&cfg.database_url).await.unwrap();
    db.migrate().await.unwrap();
    let (_r, counting, rt, shared) = counting_retriever().await;
    let answering = default_config().answering;
    let (bot, update) = (BotId(4242), 17);
    storage::updates::record(&db.pool, bot, Some(TenantId(1)), update, "{}", "stored").await.unwrap();
    let kept = |rerun| Some(KeptOn { db: db.clone(), bot, update_id: update, rerun });
    let q = "How much is a cake for 8 people?";
    let opts = SearchOptions { limit: answering.sources, ..Default::default() };
    let expected = rt.query_vectors(q, &opts).await.unwrap();
    let per_query = counting.1.swap(0, SeqCst);

    // The first run embeds and keeps them.
    let first = EarlyVectors::start(shared.clone(), &answering, q.to_owned(), kept(false));
    assert_eq!(first.take(q).await, Some(expected.clone()));
    assert_eq!(counting.1.load(SeqCst), per_query);
    crate::helpers::wait_until(std::time::Duration::from_secs(20), || async {
        storage::updates::question_vectors(&db.pool, bot, update).await.unwrap().is_some()
    })
    .await;
    let kept_first = storage::updates::question_vectors(&db.pool, bot, update).await.unwrap();

    // A re-run reads them: the same vectors, bit for bit, and nothing embedded.
    let rerun = EarlyVectors::start(shared.clone(), &answering, q.to_owned(), kept(true));
    assert_eq!(rerun.take(q).await, Some(expected.clone()));
    assert_eq!(counting.1.swap(0, SeqCst), per_query, "a re-run embedded the question again");

    // Kept for another question (an edited message's job is another update; here: the same
    // update asked with other words) they are not used, and neither by a first run.
    let other = "Do you deliver on Sundays?";
    let rerun = EarlyVectors::start(shared.clone(), &answering, other.to_owned(), kept(true));
    assert_eq!(rerun.take(other).await, Some(rt.query_vectors(other, &opts).await.unwrap()));
    assert_eq!(counting.1.swap(0, SeqCst), 2 * per_query, "another question's kept vectors were used");
    // That run kept its own; a first run must embed even so.
    crate::helpers::wait_until(std::time::Duration::from_secs(20), || async {
        storage::updates::question_vectors(&db.pool, bot, update).await.unwrap() != kept_first
    })
    .await;
    let first = EarlyVectors::start(shared.clone(), &answering, other.to_owned(), kept(false));
    assert!(first.take(other).await.is_some());
    assert_eq!(counting.1.swap(0, SeqCst), per_query, "a first run read kept vectors");

    // Erased with the update.
    sqlx::query("delete from telegram_updates where bot_id = $1").bind(bot.0).execute(&db.pool).await.unwrap();
    let rerun = EarlyVectors::start(shared, &answering, q.to_owned(), kept(true));
    assert_eq!(rerun.take(q).await, Some(expected));
    assert_eq!(counting.1.load(SeqCst), per_query);
}
