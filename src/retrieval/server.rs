//! [`VectorIndex`] on a Qdrant server through qdrant-client (gRPC), used when `qdrant.url` is
//! set: one collection for every tenant, following Qdrant's multitenancy guide
//! (<https://qdrant.tech/documentation/guides/multiple-partitions/>) — a `tenant_id` keyword
//! payload index marked `is_tenant`, and a tenant filter that every call builds through
//! [`tenant_filter`], so no request can be made without it.
//!
//! Not exercised against a live server in this repository's tests (none runs here); the
//! request construction — above all the tenant filter — is unit-tested.
use super::index::{ChunkPayload, DENSE, IndexError, IndexHit, IndexQuery, IndexedChunk, SPARSE, SentenceVectors, Sources, VectorIndex, check_chunks, only_sources, only_tenant};
use crate::domain::TenantId;
use futures::future::BoxFuture;
use qdrant_client::Qdrant;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder, Distance, FieldType, Filter,
    KeywordIndexParamsBuilder, Modifier, NamedVectors, PointId, PointStruct, Query, QueryBatchPointsBuilder, QueryPointsBuilder, SetPayloadPointsBuilder, SparseVectorParamsBuilder, SparseVectorsConfigBuilder,
    UpsertPointsBuilder, Vector, VectorInput, VectorParamsBuilder, VectorsConfigBuilder, VectorsSelector,
};

/// A Qdrant server collection shared by all tenants.
pub struct ServerIndex {
    client: Qdrant,
    collection: String,
    dim: usize,
}

/// The filter every request carries: the tenant, plus the caller's conditions.
pub fn tenant_filter(tenant: TenantId, also: impl IntoIterator<Item = Condition>) -> Filter {
    let mut must = vec![Condition::matches("tenant_id", tenant.0.to_string())];
    must.extend(also);
    Filter::must(must)
}

/// The filter of a search: the tenant and, when the search is limited to some sources (a bot's),
/// those sources' ids.
pub fn search_filter(tenant: TenantId, sources: &Sources) -> Filter {
    tenant_filter(tenant, match sources {
        Sources::All => None,
        Sources::Only(ids) => Some(Condition::matches("source_id", ids.clone())),
    })
}

fn unavailable(what: &'static str) -> impl Fn(qdrant_client::QdrantError) -> IndexError {
    move |e| IndexError::Unavailable(format!("{what}: {e}"))
}

/// Whether the Qdrant server at `url` answers its health check within `timeout` (`/readyz`);
/// why not, if it does not. (A client of its own: the index a process searches with is loaded on
/// first use, and a process that never searched is just as unready without Qdrant.)
pub async fn health(url: &url::Url, api_key: Option<&str>, timeout: std::time::Duration) -> Result<(), String> {
    let mut b = Qdrant::from_url(url.as_str()).skip_compatibility_check().timeout(timeout).connect_timeout(timeout);
    if let Some(k) = api_key {
        b = b.api_key(k.to_owned());
    }
    let client = b.build().map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, client.health_check()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

impl ServerIndex {
    /// Connects and creates the collection (dense + BM25 sparse with IDF, tenant and source
    /// payload indexes) if it does not exist; checks the dense dimension if it does. Safe for
    /// many processes starting at once: one creates the collection, the others find it, and
    /// each makes sure of the payload indexes (creating an index that exists changes nothing),
    /// so a process that died between creating the collection and its indexes leaves nothing
    /// missing.
    pub async fn connect(url: &url::Url, api_key: Option<&str>, collection: &str, dim: usize) -> Result<Self, IndexError> {
        let mut b = Qdrant::from_url(url.as_str());
        if let Some(k) = api_key {
            b = b.api_key(k.to_owned());
        }
        let client = b.build().map_err(|e| IndexError::Other(format!("Qdrant client: {e}")))?;
        let this = Self { client, collection: collection.to_owned(), dim };
        if !this.client.collection_exists(collection).await.map_err(unavailable("checking the collection"))? {
            let mut vectors = VectorsConfigBuilder::default();
            vectors.add_named_vector_params(DENSE, VectorParamsBuilder::new(dim as u64, Distance::Cosine));
            let mut sparse = SparseVectorsConfigBuilder::default();
            sparse.add_named_vector_params(SPARSE, SparseVectorParamsBuilder::default().modifier(Modifier::Idf));
            let created = this.client.create_collection(CreateCollectionBuilder::new(collection).vectors_config(vectors).sparse_vectors_config(sparse)).await;
            // Another process may have created it since we looked: then it is there now.
            if let Err(e) = created
                && !this.client.collection_exists(collection).await.map_err(unavailable("checking the collection"))?
            {
                return Err(unavailable("creating the collection")(e));
            }
        }
        let info = this.client.collection_info(collection).await.map_err(unavailable("reading the collection"))?;
        let size = info
            .result
            .and_then(|r| r.config)
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| match v.config {
                Some(qdrant_client::qdrant::vectors_config::Config::ParamsMap(m)) => m.map.get(DENSE).map(|p| p.size as usize),
                _ => None,
            });
        if size != Some(dim) {
            return Err(IndexError::DimensionMismatch { expected: size.unwrap_or(0), got: dim });
        }
        this.client
            .create_field_index(
                CreateFieldIndexCollectionBuilder::new(collection, "tenant_id", FieldType::Keyword)
                    .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true))
                    .wait(true),
            )
            .await
            .map_err(unavailable("indexing tenant_id"))?;
        this.client
            .create_field_index(CreateFieldIndexCollectionBuilder::new(collection, "source_id", FieldType::Keyword).wait(true))
            .await
            .map_err(unavailable("indexing source_id"))?;
        Ok(this)
    }
}

fn to_point(c: IndexedChunk) -> Result<PointStruct, IndexError> {
    let payload = serde_json::to_value(&c.payload).map_err(|e| IndexError::Other(format!("payload: {e}")))?;
    let payload = qdrant_client::Payload::try_from(payload).map_err(|e| IndexError::Other(format!("payload: {e}")))?;
    let vectors = NamedVectors::default().add_vector(DENSE, Vector::new_dense(c.dense)).add_vector(SPARSE, Vector::new_sparse(c.sparse.indices, c.sparse.values));
    Ok(PointStruct::new(c.payload.chunk_id.to_string(), vectors, payload))
}

fn to_hit(p: qdrant_client::qdrant::ScoredPoint) -> Result<IndexHit, IndexError> {
    let json = serde_json::Value::from(qdrant_client::Payload::from(p.payload));
    let payload: ChunkPayload = serde_json::from_value(json).map_err(|e| IndexError::Other(format!("stored payload: {e}")))?;
    #[allow(deprecated)]
    let dense = p.vectors.as_ref().and_then(|v| v.get_vector_by_name(DENSE)).and_then(|v| match v {
        qdrant_client::qdrant::vector_output::Vector::Dense(d) => Some(d.data),
        _ => None,
    });
    Ok(IndexHit { payload, score: p.score, dense })
}

impl VectorIndex for ServerIndex {
    fn backend(&self) -> &'static str {
        "qdrant-server"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn upsert(&self, tenant: TenantId, chunks: Vec<IndexedChunk>) -> BoxFuture<'_, Result<(), IndexError>> {
        Box::pin(async move {
            check_chunks(tenant, self.dim, &chunks)?;
            if chunks.is_empty() {
                return Ok(());
            }
            let points = chunks.into_iter().map(to_point).collect::<Result<Vec<_>, _>>()?;
            self.client.upsert_points(UpsertPointsBuilder::new(&self.collection, points).wait(true)).await.map_err(unavailable("upserting chunks"))?;
            Ok(())
        })
    }

    fn delete_source<'a>(&'a self, tenant: TenantId, source_id: &'a str) -> BoxFuture<'a, Result<(), IndexError>> {
        Box::pin(async move {
            let filter = tenant_filter(tenant, [Condition::matches("source_id", source_id.to_owned())]);
            self.client.delete_points(DeletePointsBuilder::new(&self.collection).points(filter).wait(true)).await.map_err(unavailable("deleting a source"))?;
            Ok(())
        })
    }

    fn delete_tenant(&self, tenant: TenantId) -> BoxFuture<'_, Result<(), IndexError>> {
        Box::pin(async move {
            let filter = tenant_filter(tenant, []);
            self.client.delete_points(DeletePointsBuilder::new(&self.collection).points(filter).wait(true)).await.map_err(unavailable("deleting a tenant's chunks"))?;
            Ok(())
        })
    }

    fn delete_source_except<'a>(&'a self, tenant: TenantId, source_id: &'a str, keep: Vec<uuid::Uuid>) -> BoxFuture<'a, Result<(), IndexError>> {
        Box::pin(async move {
            let mut filter = tenant_filter(tenant, [Condition::matches("source_id", source_id.to_owned())]);
            if !keep.is_empty() {
                filter.must_not = vec![Condition::has_id(keep.into_iter().map(|id| PointId::from(id.to_string())))];
            }
            self.client
                .delete_points(DeletePointsBuilder::new(&self.collection).points(filter).wait(true))
                .await
                .map_err(unavailable("deleting a source's earlier chunks"))?;
            Ok(())
        })
    }

    fn search(&self, tenant: TenantId, sources: Sources, queries: Vec<IndexQuery>, limit: usize, with_dense: bool) -> BoxFuture<'_, Result<Vec<Vec<IndexHit>>, IndexError>> {
        Box::pin(async move {
            if sources == Sources::Only(Vec::new()) {
                return Ok(queries.iter().map(|_| Vec::new()).collect());
            }
            // Every query of the search in one request (Qdrant's batch query): one round trip,
            // whatever the number of query embeddings. An empty BM25 query matches nothing.
            let filter = search_filter(tenant, &sources);
            let mut batch = Vec::with_capacity(queries.len());
            let mut slots = Vec::with_capacity(queries.len());
            for q in queries {
                let (input, using) = match q {
                    IndexQuery::Dense(v) => (VectorInput::new_dense(v), DENSE),
                    IndexQuery::Sparse(s) if s.is_empty() => {
                        slots.push(None);
                        continue;
                    }
                    IndexQuery::Sparse(s) => (VectorInput::new_sparse(s.indices, s.values), SPARSE),
                };
                let mut req = QueryPointsBuilder::new(&self.collection)
                    .query(Query::new_nearest(input))
                    .using(using)
                    .filter(filter.clone())
                    .limit(limit as u64)
                    .with_payload(true);
                if with_dense {
                    req = req.with_vectors(VectorsSelector { names: vec![DENSE.to_owned()] });
                }
                slots.push(Some(batch.len()));
                batch.push(req.build());
            }
            let mut results = if batch.is_empty() {
                Vec::new()
            } else {
                let n = batch.len();
                let resp = self.client.query_batch(QueryBatchPointsBuilder::new(&self.collection, batch)).await.map_err(unavailable("searching"))?;
                if resp.result.len() != n {
                    return Err(IndexError::Unavailable(format!("Qdrant answered {} of {n} queries", resp.result.len())));
                }
                resp.result.into_iter().map(Some).collect()
            };
            let mut out = Vec::with_capacity(slots.len());
            for slot in slots {
                let Some(i) = slot else {
                    out.push(Vec::new());
                    continue;
                };
                let points = results[i].take().map(|r| r.result).unwrap_or_default();
                let hits = points.into_iter().map(to_hit).collect::<Result<Vec<_>, _>>()?;
                out.push(only_sources(&sources, only_tenant(tenant, hits)));
            }
            Ok(out)
        })
    }

    fn keep_sentences(&self, tenant: TenantId, chunk_id: uuid::Uuid, vectors: SentenceVectors) -> BoxFuture<'_, Result<(), IndexError>> {
        Box::pin(async move {
            let payload = qdrant_client::Payload::try_from(serde_json::json!({ "sentences": vectors })).map_err(|e| IndexError::Other(format!("payload: {e}")))?;
            // The tenant's filter and the id: another tenant's chunk, or one deleted meanwhile,
            // matches nothing.
            let filter = tenant_filter(tenant, [Condition::has_id([PointId::from(chunk_id.to_string())])]);
            self.client
                .set_payload(SetPayloadPointsBuilder::new(&self.collection, payload).points_selector(filter).wait(true))
                .await
                .map_err(unavailable("keeping sentence vectors"))?;
            Ok(())
        })
    }

    fn count<'a>(&'a self, tenant: TenantId, source_id: Option<&'a str>) -> BoxFuture<'a, Result<usize, IndexError>> {
        Box::pin(async move {
            let filter = tenant_filter(tenant, source_id.map(|s| Condition::matches("source_id", s.to_owned())));
            let resp = self.client.count(CountPointsBuilder::new(&self.collection).filter(filter).exact(true)).await.map_err(unavailable("counting"))?;
            Ok(resp.result.map_or(0, |r| r.count as usize))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant_client::qdrant::condition::ConditionOneOf;

    fn keys(f: &Filter) -> Vec<String> {
        f.must
            .iter()
            .filter_map(|c| match &c.condition_one_of {
                Some(ConditionOneOf::Field(fc)) => Some(format!("{}={:?}", fc.key, fc.r#match.as_ref().and_then(|m| m.match_value.clone()))),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_filter_starts_with_the_tenant_and_keeps_extra_conditions() {
        let f = tenant_filter(TenantId(42), [Condition::matches("source_id", "doc-1".to_owned())]);
        let k = keys(&f);
        assert_eq!(k.len(), 2);
        assert!(k[0].starts_with("tenant_id=") && k[0].contains("\"42\""), "{k:?}");
        assert!(k[1].starts_with("source_id=") && k[1].contains("doc-1"), "{k:?}");
        assert!(f.should.is_empty() && f.must_not.is_empty());
    }

    #[test]
    fn a_bots_search_filter_keeps_the_tenant_and_names_its_sources() {
        let f = search_filter(TenantId(42), &Sources::Only(vec!["src-1".into(), "src-2-p1".into()]));
        let k = keys(&f);
        assert_eq!(k.len(), 2, "{k:?}");
        assert!(k[0].starts_with("tenant_id=") && k[0].contains("\"42\""), "{k:?}");
        assert!(k[1].starts_with("source_id=") && k[1].contains("\"src-1\"") && k[1].contains("\"src-2-p1\""), "{k:?}");
        assert_eq!(keys(&search_filter(TenantId(42), &Sources::All)).len(), 1, "the whole tenant: the tenant only");
    }
}
