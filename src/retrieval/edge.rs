//! [`VectorIndex`] on Qdrant Edge (crate `qdrant-edge` 0.7.1), in-process: one shard directory
//! per tenant under `{data_dir}/index/`, so tenants share no files, no segments and no IDF
//! statistics. The default backend. Docs: <https://qdrant.tech/documentation/edge/>.
//!
//! Edge shards are synchronous; every call runs on tokio's blocking pool. Shards are opened on
//! first use and kept open (an open shard holds its WAL and memory-mapped segments).
use super::index::{ChunkPayload, DENSE, IndexError, IndexHit, IndexQuery, IndexedChunk, SPARSE, SentenceVectors, Sources, VectorIndex, check_chunks, only_sources, only_tenant};
use crate::domain::TenantId;
use futures::future::BoxFuture;
use qdrant_edge::external::serde_json;
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeConfigBuilder, EdgeShard, EdgeSparseVectorParamsBuilder, EdgeVectorParamsBuilder, FieldCondition,
    FieldIndexOperations, Filter, Match, Modifier, PayloadOps, SetPayloadOp, PayloadFieldSchema, PayloadSchemaType, NamedQuery, PointId, PointInsertOperations, PointOperations, PointStruct, QueryEnum, QueryRequest, ScoringQuery,
    UpdateOperation, ValueVariants, Vector, VectorInternal, VectorStructInternal, Vectors, WalOptions, WithPayloadInterface, WithVector,
};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Qdrant Edge shards, one per tenant, under one directory. Cheap to clone.
#[derive(Clone)]
pub struct EdgeIndex {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    dim: usize,
    shards: Mutex<HashMap<TenantId, Arc<EdgeShard>>>,
}

impl EdgeIndex {
    /// An index under `root` (created if missing) for `dim`-dimensional dense vectors.
    pub fn open(root: &Path, dim: usize) -> Result<Self, IndexError> {
        std::fs::create_dir_all(root).map_err(|e| IndexError::Other(format!("creating {}: {e}", root.display())))?;
        Ok(Self { inner: Arc::new(Inner { root: root.to_path_buf(), dim, shards: Mutex::default() }) })
    }

    fn blocking<T: Send + 'static>(
        &self,
        tenant: TenantId,
        f: impl FnOnce(&EdgeShard) -> Result<T, IndexError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, IndexError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let shard = inner.shard(tenant)?;
                f(&shard)
            })
            .await
            .map_err(|e| IndexError::Other(format!("index task stopped: {e}")))?
        })
    }
}

impl Inner {

    fn config(&self) -> EdgeConfig {
        EdgeConfigBuilder::new()
            .vector(DENSE, EdgeVectorParamsBuilder::new(self.dim, Distance::Cosine).build())
            .sparse_vector(SPARSE, EdgeSparseVectorParamsBuilder::new().modifier(Modifier::Idf).build())
            // The default WAL preallocates 32 MiB segments; with a shard per tenant that adds
            // up. 4 MiB holds thousands of chunks per segment.
            .wal_options(WalOptions { segment_capacity: 4 << 20, segment_queue_len: 0, retain_closed: NonZeroUsize::MIN })
            .build()
    }

    /// The tenant's shard, opened or created on first use. Blocking.
    fn shard(&self, tenant: TenantId) -> Result<Arc<EdgeShard>, IndexError> {
        let mut shards = self.shards.lock().expect("edge shard map lock");
        if let Some(s) = shards.get(&tenant) {
            return Ok(s.clone());
        }
        let path = self.root.join(format!("tenant-{}", tenant.0));
        let shard = if path.join("edge_config.json").is_file() {
            let s = EdgeShard::load(&path, None).map_err(|e| IndexError::Other(format!("opening {}: {e}", path.display())))?;
            let stored = s.config().vectors.get(DENSE).map(|v| v.size);
            if stored != Some(self.dim) {
                return Err(IndexError::DimensionMismatch { expected: stored.unwrap_or(0), got: self.dim });
            }
            s
        } else {
            std::fs::create_dir_all(&path).map_err(|e| IndexError::Other(format!("creating {}: {e}", path.display())))?;
            EdgeShard::new(&path, self.config()).map_err(|e| IndexError::Other(format!("creating shard {}: {e}", path.display())))?
        };
        // A keyword index on the source id: re-indexing or deleting a source finds its chunks
        // through it instead of reading every chunk's payload (ingesting a large knowledge base
        // source by source was quadratic without it). Creating it again is a no-op.
        shard
            .update(UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(CreateIndex {
                field_name: "source_id".try_into().expect("valid JSON path"),
                field_schema: Some(PayloadFieldSchema::FieldType(PayloadSchemaType::Keyword)),
            })))
            .map_err(|e| IndexError::Other(format!("indexing source ids in {}: {e}", path.display())))?;
        let shard = Arc::new(shard);
        shards.insert(tenant, shard.clone());
        Ok(shard)
    }
}

fn err(what: &str) -> impl Fn(qdrant_edge::OperationError) -> IndexError + '_ {
    move |e| IndexError::Other(format!("{what}: {e}"))
}

fn source_filter(source_id: &str) -> Filter {
    Filter::new_must(Condition::Field(FieldCondition::new_match(
        "source_id".try_into().expect("valid JSON path"),
        Match::new_value(ValueVariants::String(source_id.to_owned())),
    )))
}

/// The filter of a search limited to some sources (none for the whole tenant: the shard is the
/// tenant's).
fn sources_filter(sources: &Sources) -> Option<Filter> {
    match sources {
        Sources::All => None,
        Sources::Only(ids) => Some(Filter::new_must(Condition::Field(FieldCondition::new_match(
            "source_id".try_into().expect("valid JSON path"),
            Match::from(ids.clone()),
        )))),
    }
}

fn point_id(chunk_id: uuid::Uuid) -> PointId {
    PointId::Uuid(qdrant_edge::external::uuid::Uuid::from_bytes(*chunk_id.as_bytes()))
}

fn to_point(c: IndexedChunk) -> Result<PointStruct, IndexError> {
    let payload = serde_json::to_value(&c.payload).map_err(|e| IndexError::Other(format!("payload: {e}")))?;
    let sparse = Vector::new_sparse(c.sparse.indices, c.sparse.values).map_err(err("sparse vector"))?;
    let vectors = Vectors::new_named([(DENSE, Vector::new_dense(c.dense)), (SPARSE, sparse)]);
    Ok(PointStruct::new(point_id(c.payload.chunk_id), vectors, payload))
}

fn to_hit(p: qdrant_edge::ScoredPoint) -> Result<IndexHit, IndexError> {
    let map = p.payload.ok_or_else(|| IndexError::Other("hit without payload".into()))?;
    let payload: ChunkPayload =
        serde_json::from_value(serde_json::Value::Object(map.0.into_iter().collect())).map_err(|e| IndexError::Other(format!("stored payload: {e}")))?;
    let dense = match p.vector {
        Some(VectorStructInternal::Named(mut m)) => match m.remove(DENSE) {
            Some(VectorInternal::Dense(v)) => Some(v),
            _ => None,
        },
        Some(VectorStructInternal::Single(v)) => Some(v),
        _ => None,
    };
    Ok(IndexHit { payload, score: p.score, dense })
}

impl VectorIndex for EdgeIndex {
    fn backend(&self) -> &'static str {
        "qdrant-edge"
    }

    fn dim(&self) -> usize {
        self.inner.dim
    }

    fn upsert(&self, tenant: TenantId, chunks: Vec<IndexedChunk>) -> BoxFuture<'_, Result<(), IndexError>> {
        if let Err(e) = check_chunks(tenant, self.inner.dim, &chunks) {
            return Box::pin(async move { Err(e) });
        }
        self.blocking(tenant, move |shard| {
            if chunks.is_empty() {
                return Ok(());
            }
            let points = chunks.into_iter().map(|c| to_point(c).map(Into::into)).collect::<Result<Vec<_>, _>>()?;
            shard
                .update(UpdateOperation::PointOperation(PointOperations::UpsertPoints(PointInsertOperations::PointsList(points))))
                .map_err(err("upserting chunks"))
        })
    }

    fn delete_source<'a>(&'a self, tenant: TenantId, source_id: &'a str) -> BoxFuture<'a, Result<(), IndexError>> {
        let filter = source_filter(source_id);
        self.blocking(tenant, move |shard| {
            shard.update(UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter))).map_err(err("deleting a source"))
        })
    }

    fn delete_tenant(&self, tenant: TenantId) -> BoxFuture<'_, Result<(), IndexError>> {
        let filter = Filter::new_must(Condition::Field(FieldCondition::new_match(
            "tenant_id".try_into().expect("valid JSON path"),
            Match::new_value(ValueVariants::String(tenant.0.to_string())),
        )));
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                // A tenant that never had a shard has nothing to delete (and gets none made).
                let known = inner.shards.lock().expect("edge shard map lock").contains_key(&tenant)
                    || inner.root.join(format!("tenant-{}", tenant.0)).join("edge_config.json").is_file();
                if !known {
                    return Ok(());
                }
                inner.shard(tenant)?.update(UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter))).map_err(err("deleting a tenant's chunks"))
            })
            .await
            .map_err(|e| IndexError::Other(format!("index task stopped: {e}")))?
        })
    }

    fn delete_source_except<'a>(&'a self, tenant: TenantId, source_id: &'a str, keep: Vec<uuid::Uuid>) -> BoxFuture<'a, Result<(), IndexError>> {
        let mut filter = source_filter(source_id);
        if !keep.is_empty() {
            filter.must_not = Some(vec![Condition::HasId(keep.into_iter().map(point_id).collect())]);
        }
        self.blocking(tenant, move |shard| {
            shard.update(UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter))).map_err(err("deleting a source's earlier chunks"))
        })
    }

    fn keep_sentences(&self, tenant: TenantId, chunk_id: uuid::Uuid, vectors: SentenceVectors) -> BoxFuture<'_, Result<(), IndexError>> {
        self.blocking(tenant, move |shard| {
            let value = serde_json::json!({ "sentences": vectors });
            let payload = serde_json::from_value(value).map_err(|e| IndexError::Other(format!("payload: {e}")))?;
            // By filter, not by id: a chunk deleted meanwhile matches nothing (an id that does
            // not exist would be an error).
            let only = Filter::new_must(Condition::HasId([point_id(chunk_id)].into_iter().collect()));
            shard
                .update(UpdateOperation::PayloadOperation(PayloadOps::SetPayload(SetPayloadOp { payload, points: None, filter: Some(only), key: None })))
                .map_err(err("keeping sentence vectors"))
        })
    }

    fn search(&self, tenant: TenantId, sources: Sources, queries: Vec<IndexQuery>, limit: usize, with_dense: bool) -> BoxFuture<'_, Result<Vec<Vec<IndexHit>>, IndexError>> {
        if sources == Sources::Only(Vec::new()) {
            return Box::pin(async move { Ok(queries.iter().map(|_| Vec::new()).collect()) });
        }
        let filter = sources_filter(&sources);
        self.blocking(tenant, move |shard| {
            let mut out = Vec::with_capacity(queries.len());
            for q in queries {
                let (query, using) = match q {
                    IndexQuery::Dense(v) => (VectorInternal::from(v), DENSE),
                    IndexQuery::Sparse(s) if s.is_empty() => {
                        out.push(Vec::new());
                        continue;
                    }
                    IndexQuery::Sparse(s) => (
                        Vector::new_sparse(s.indices, s.values).map_err(err("sparse query"))?.0,
                        SPARSE,
                    ),
                };
                let points = shard
                    .query(QueryRequest {
                        prefetches: vec![],
                        query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery { query, using: Some(using.to_owned()) }))),
                        filter: filter.clone(),
                        score_threshold: None,
                        limit,
                        offset: 0,
                        params: None,
                        with_vector: if with_dense { WithVector::Selector(vec![DENSE.into()]) } else { WithVector::Bool(false) },
                        with_payload: WithPayloadInterface::Bool(true),
                    })
                    .map_err(err("searching"))?;
                let hits = points.into_iter().map(to_hit).collect::<Result<Vec<_>, _>>()?;
                out.push(only_sources(&sources, only_tenant(tenant, hits)));
            }
            Ok(out)
        })
    }

    fn count<'a>(&'a self, tenant: TenantId, source_id: Option<&'a str>) -> BoxFuture<'a, Result<usize, IndexError>> {
        let filter = source_id.map(source_filter);
        self.blocking(tenant, move |shard| shard.count(CountRequest { filter, exact: true }).map_err(err("counting")))
    }
}
