//! `bellhop eval retrieval` and `bellhop bench retrieval` (here), `bellhop eval answers`
//! ([`answers`]), `bellhop eval qa` ([`qa`]). Retrieval: retrieval quality on a BEIR-format set
//! (recall@1/5/10, MRR@10, nDCG@10) and its speed (ingestion chunks/s, query latency), both
//! through the real pipeline — chunk → embed → Qdrant Edge → hybrid search — into a fresh
//! tenant of a temporary data directory.
//!
//! BEIR format (<https://github.com/beir-cellar/beir>): `corpus.jsonl` lines
//! `{"_id","title","text","metadata"}`, queries lines `{"_id","text"}`, qrels TSV
//! `query-id  corpus-id  score` with a header line. A document is one source; a query's
//! ranking is its chunks' ranking with each source kept at its best chunk.
pub mod answers;
pub mod qa;

use crate::config::Config;
use crate::domain::TenantId;
use crate::knowledge::{ChunkSettings, Document, index_documents};
use crate::retrieval::{EdgeIndex, Fusion, Mode, Retriever, SearchOptions};
use anyhow::{Context, bail};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The tenant eval data goes into (in its own temporary data directory).
const EVAL_TENANT: TenantId = TenantId(1);

/// What `bellhop eval retrieval` was asked to do.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// `corpus.jsonl` of a BEIR-format set.
    #[arg(long)]
    pub corpus: PathBuf,
    /// Queries (`.jsonl`).
    #[arg(long)]
    pub queries: PathBuf,
    /// Relevance judgements (`.tsv` with a header line).
    #[arg(long)]
    pub qrels: PathBuf,
    #[arg(long, value_enum, default_value = "hybrid")]
    pub mode: Mode,
    /// Fusion of the hybrid mode (for ablations; the default is what answering uses).
    #[arg(long, value_enum, default_value = "convex")]
    pub fusion: FusionArg,
    /// Weight of the dense score in convex fusion, 0–1.
    #[arg(long, default_value_t = 0.5)]
    pub dense_weight: f32,
    /// Do not also embed the last question of a multi-sentence query on its own.
    #[arg(long)]
    pub no_question_focus: bool,
    /// Chunks taken from each list before fusion.
    #[arg(long, default_value_t = 50)]
    pub candidates: usize,
    /// Keep the index in DIR and reuse it when it already holds this corpus with these chunk
    /// settings (for comparing query-side settings without re-embedding). Default: a fresh
    /// temporary directory, removed afterwards.
    #[arg(long)]
    pub index_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FusionArg {
    Convex,
    Rrf,
}

impl EvalArgs {
    fn options(&self) -> SearchOptions {
        SearchOptions {
            mode: self.mode,
            limit: 100,
            candidates: self.candidates,
            fusion: match self.fusion {
                FusionArg::Convex => Fusion::Convex { dense_weight: self.dense_weight },
                FusionArg::Rrf => Fusion::Rrf { k: 60.0 },
            },
            question_focus: !self.no_question_focus,
        }
    }
}

/// A BEIR corpus: (doc id, document) in file order.
pub fn read_corpus(path: &Path) -> anyhow::Result<Vec<(String, Document)>> {
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(rename = "_id")]
        id: String,
        #[serde(default)]
        title: String,
        text: String,
        #[serde(default)]
        metadata: Option<serde_json::Value>,
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            let d: Line = serde_json::from_str(l).with_context(|| format!("{} line {}", path.display(), i + 1))?;
            let url = d.metadata.as_ref().and_then(|m| m.get("url")).and_then(|u| u.as_str()).map(str::to_owned);
            Ok((d.id, Document { title: d.title, text: d.text, url }))
        })
        .collect()
}

/// BEIR queries: (id, text).
pub fn read_queries(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(rename = "_id")]
        id: String,
        text: String,
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str::<Line>(l).map(|q| (q.id, q.text)).with_context(|| format!("{} line {}", path.display(), i + 1)))
        .collect()
}

/// BEIR qrels: query id → (doc id → graded relevance > 0).
pub fn read_qrels(path: &Path) -> anyhow::Result<HashMap<String, HashMap<String, u32>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out: HashMap<String, HashMap<String, u32>> = HashMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 3 {
            continue;
        }
        let score: u32 = f[2].trim().parse().with_context(|| format!("{} line {}: score", path.display(), i + 1))?;
        if score > 0 {
            out.entry(f[0].to_owned()).or_default().insert(f[1].to_owned(), score);
        }
    }
    Ok(out)
}

/// Metrics over a set of queries, each averaged over queries.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Metrics {
    pub queries: usize,
    pub recall_1: f64,
    pub recall_5: f64,
    pub recall_10: f64,
    pub mrr_10: f64,
    pub ndcg_10: f64,
}

/// Adds one query's ranking (doc ids, best first) to running sums.
fn score_query(ranked: &[String], relevant: &HashMap<String, u32>, m: &mut Metrics) {
    let total = relevant.len().max(1) as f64;
    let found = |k: usize| ranked.iter().take(k).filter(|d| relevant.contains_key(*d)).count() as f64 / total;
    m.recall_1 += found(1);
    m.recall_5 += found(5);
    m.recall_10 += found(10);
    m.mrr_10 += ranked.iter().take(10).position(|d| relevant.contains_key(d)).map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
    // nDCG with linear gains, as pytrec_eval (and so BEIR) computes it.
    let dcg: f64 = ranked.iter().take(10).enumerate().map(|(i, d)| f64::from(*relevant.get(d).unwrap_or(&0)) / (i as f64 + 2.0).log2()).sum();
    let mut ideal: Vec<u32> = relevant.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal.iter().take(10).enumerate().map(|(i, g)| f64::from(*g) / (i as f64 + 2.0).log2()).sum();
    m.ndcg_10 += if idcg > 0.0 { dcg / idcg } else { 0.0 };
    m.queries += 1;
}

fn finish(mut m: Metrics) -> Metrics {
    let n = m.queries.max(1) as f64;
    for x in [&mut m.recall_1, &mut m.recall_5, &mut m.recall_10, &mut m.mrr_10, &mut m.ndcg_10] {
        *x /= n;
    }
    m
}

/// A scratch data directory: the one asked for, or a temporary one removed on drop.
enum Scratch {
    Kept(PathBuf),
    Temp(tempfile::TempDir),
}

impl Scratch {
    fn path(&self) -> &Path {
        match self {
            Scratch::Kept(p) => p,
            Scratch::Temp(t) => t.path(),
        }
    }
}

/// Ingests the corpus (unless `reuse` finds it already indexed) and returns the retriever.
/// The index is Qdrant Edge in `dir`, or — with `qdrant.url` — a fresh collection on that Qdrant
/// server (named after `qdrant.collection`), so the two backends can be compared.
async fn ingest(cfg: &Config, corpus: &[(String, Document)], dir: &Path, fingerprint: &str) -> anyhow::Result<(Retriever, usize, Duration)> {
    let embedder = crate::models::from_config(cfg).await?;
    let server = cfg.qdrant.url.is_some();
    let index: Arc<dyn crate::retrieval::VectorIndex> = if server {
        let mut fresh = cfg.clone();
        fresh.qdrant.collection = format!("{}_eval_{}", cfg.qdrant.collection, uuid::Uuid::new_v4().simple());
        crate::retrieval::index_from_config(&fresh, embedder.dim()).await?
    } else {
        Arc::new(EdgeIndex::open(&dir.join("index"), embedder.dim())?)
    };
    eprintln!("index: {}", index.backend());
    let retriever = Retriever::new(embedder, index)?;
    let marker = dir.join("corpus.fingerprint");
    if !server && std::fs::read_to_string(&marker).ok().as_deref() == Some(fingerprint) {
        let n = retriever.index().count(EVAL_TENANT, None).await?;
        eprintln!("reusing the index in {} ({n} chunks)", dir.display());
        return Ok((retriever, n, Duration::ZERO));
    }
    let settings = ChunkSettings { max_tokens: cfg.knowledge.chunk_tokens, overlap_tokens: cfg.knowledge.chunk_overlap_tokens };
    let docs: Vec<(&str, &Document)> = corpus.iter().map(|(id, d)| (id.as_str(), d)).collect();
    let started = Instant::now();
    let mut last = Instant::now();
    eprintln!("indexing {} documents with {} …", docs.len(), retriever.embedder().name());
    let indexed = index_documents(&retriever, &settings, EVAL_TENANT, &docs, |done| {
        if last.elapsed() > Duration::from_secs(5) {
            last = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            eprintln!("  {done} chunks in {secs:.0} s ({:.0} chunks/s)", done as f64 / secs);
        }
    })
    .await?;
    let n = indexed.chunks;
    let searchable = started.elapsed();
    eprintln!("indexed {n} chunks in {:.1} s ({:.0} chunks/s); embedding their sentences …", searchable.as_secs_f64(), n as f64 / searchable.as_secs_f64());
    indexed.keep_sentences(&retriever).await?;
    let took = started.elapsed();
    eprintln!("sentences kept in {:.1} s; {n} chunks in {:.1} s in all ({:.0} chunks/s)", (took - searchable).as_secs_f64(), took.as_secs_f64(), n as f64 / took.as_secs_f64());
    if !server {
        std::fs::write(&marker, fingerprint)?;
    }
    Ok((retriever, n, took))
}

fn fingerprint(corpus: &Path, cfg: &Config) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(std::fs::read(corpus)?);
    h.update(format!("{}/{}/{}", cfg.knowledge.chunk_tokens, cfg.knowledge.chunk_overlap_tokens, env!("CARGO_PKG_VERSION")));
    Ok(hex::encode(h.finalize()))
}

fn scratch(dir: Option<&Path>) -> anyhow::Result<Scratch> {
    Ok(match dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            Scratch::Kept(d.to_path_buf())
        }
        None => Scratch::Temp(tempfile::Builder::new().prefix("bellhop-eval-").tempdir()?),
    })
}

/// `bellhop eval retrieval`: prints a table, then one JSON line with every figure.
pub async fn retrieval(cfg: Config, args: EvalArgs) -> anyhow::Result<()> {
    let corpus = read_corpus(&args.corpus)?;
    let queries = read_queries(&args.queries)?;
    let qrels = read_qrels(&args.qrels)?;
    let queries: Vec<_> = queries.into_iter().filter(|(id, _)| qrels.contains_key(id)).collect();
    if queries.is_empty() {
        bail!("no query in {} has a judgement in {}", args.queries.display(), args.qrels.display());
    }
    let dir = scratch(args.index_dir.as_deref())?;
    let (retriever, chunks, _) = ingest(&cfg, &corpus, dir.path(), &fingerprint(&args.corpus, &cfg)?).await?;
    let opts = args.options();
    let mut m = Metrics::default();
    let mut lat = Vec::with_capacity(queries.len());
    for (i, (qid, text)) in queries.iter().enumerate() {
        let t = Instant::now();
        let hits = retriever.search(EVAL_TENANT, &crate::retrieval::Sources::All, text, &opts).await?;
        lat.push(t.elapsed());
        let mut seen = HashSet::new();
        let ranked: Vec<String> = hits.into_iter().map(|h| h.payload.source_id).filter(|s| seen.insert(s.clone())).take(10).collect();
        score_query(&ranked, &qrels[qid], &mut m);
        if (i + 1) % 200 == 0 {
            eprintln!("  {} / {} queries", i + 1, queries.len());
        }
    }
    lat.sort();
    let (p50, p99) = (percentile_ms(&lat, 0.5), percentile_ms(&lat, 0.99));
    let m = finish(m);
    println!("corpus {} ({} documents, {chunks} chunks), {} queries, mode {:?}, index {}", args.corpus.display(), corpus.len(), m.queries, args.mode, retriever.index().backend());
    println!("recall@1 {:.3}  recall@5 {:.3}  recall@10 {:.3}  MRR@10 {:.3}  nDCG@10 {:.3}", m.recall_1, m.recall_5, m.recall_10, m.mrr_10, m.ndcg_10);
    println!("query latency (embedding included, one at a time): p50 {p50:.1} ms, p99 {p99:.1} ms");
    let line = serde_json::json!({
        "corpus": args.corpus.display().to_string(),
        "queries": args.queries.display().to_string(),
        "mode": args.mode,
        "fusion": format!("{:?}", opts.fusion),
        "question_focus": opts.question_focus,
        "documents": corpus.len(),
        "chunks": chunks,
        "index": retriever.index().backend(),
        "metrics": m,
        "latency_ms": {"p50": p50, "p99": p99},
    });
    println!("{line}");
    Ok(())
}

/// The `p` quantile of sorted durations, in milliseconds.
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}

/// `bellhop bench retrieval`: ingestion throughput with the configured embedder, then query
/// latency (embedding included) on a tenant grown to at least `chunks` chunks by indexing the
/// corpus's documents (repeated under new source ids if it is too small).
pub async fn bench(cfg: Config, corpus_path: &Path, queries_path: &Path, chunks: usize, samples: usize) -> anyhow::Result<()> {
    let corpus = read_corpus(corpus_path)?;
    let queries = read_queries(queries_path)?;
    if corpus.is_empty() || queries.is_empty() {
        bail!("empty corpus or query file");
    }
    let dir = scratch(None)?;
    let embedder = crate::models::from_config(&cfg).await?;
    let index = EdgeIndex::open(&dir.path().join("index"), embedder.dim())?;
    let retriever = Retriever::new(embedder, Arc::new(index))?;
    let settings = ChunkSettings { max_tokens: cfg.knowledge.chunk_tokens, overlap_tokens: cfg.knowledge.chunk_overlap_tokens };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("embedder {} ({} dims), index qdrant-edge, {cores} CPU cores", retriever.embedder().name(), retriever.embedder().dim());
    let mut total = 0;
    let mut round = 0;
    let started = Instant::now();
    // The two steps of ingestion, timed apart: until the chunks are searchable, then their
    // sentences embedded and kept.
    let mut sentences_took = Duration::ZERO;
    while total < chunks {
        let ids: Vec<String> = corpus.iter().map(|(id, _)| if round == 0 { id.clone() } else { format!("{id}#{round}") }).collect();
        let mut batch = Vec::new();
        for ((_, d), id) in corpus.iter().zip(&ids) {
            batch.push((id.as_str(), d));
        }
        let base = total;
        let mut last = Instant::now();
        let indexed = index_documents(&retriever, &settings, EVAL_TENANT, &batch, |done| {
            if last.elapsed() > Duration::from_secs(10) {
                last = Instant::now();
                eprintln!("  {} chunks, {:.0} chunks/s", base + done, (base + done) as f64 / (started.elapsed() - sentences_took).as_secs_f64());
            }
        })
        .await?;
        total += indexed.chunks;
        let t = Instant::now();
        indexed.keep_sentences(&retriever).await?;
        sentences_took += t.elapsed();
        round += 1;
    }
    let whole = started.elapsed().as_secs_f64();
    let (sentences_s, took) = (sentences_took.as_secs_f64(), whole - sentences_took.as_secs_f64());
    let stored = retriever.index().count(EVAL_TENANT, None).await?;
    println!("ingestion: {total} chunks searchable (chunk → embed → upsert) in {took:.1} s = {:.0} chunks/s", total as f64 / took);
    println!("then their sentences (split → embed → kept with each chunk) in {sentences_s:.1} s: {whole:.1} s in all = {:.0} chunks/s", total as f64 / whole);
    let opts = SearchOptions::default();
    // Warm-up: first calls fault in memory maps.
    for (_, q) in queries.iter().take(10) {
        retriever.search(EVAL_TENANT, &crate::retrieval::Sources::All, q, &opts).await?;
    }
    let mut lat = Vec::with_capacity(samples);
    for (_, q) in queries.iter().cycle().take(samples) {
        let t = Instant::now();
        let hits = retriever.search(EVAL_TENANT, &crate::retrieval::Sources::All, q, &opts).await?;
        lat.push(t.elapsed());
        std::hint::black_box(hits);
    }
    lat.sort();
    let pct = |p: f64| percentile_ms(&lat, p);
    println!("query latency on a tenant with {stored} chunks, hybrid, embedding included, {samples} queries one at a time: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", pct(0.5), pct(0.99), pct(1.0));
    println!(
        "{}",
        serde_json::json!({"chunks": stored, "ingest_chunks_per_s": total as f64 / took, "sentences_s": sentences_s, "ingest_with_sentences_chunks_per_s": total as f64 / whole, "query_p50_ms": pct(0.5), "query_p99_ms": pct(0.99), "cores": cores})
    );
    Ok(())
}
