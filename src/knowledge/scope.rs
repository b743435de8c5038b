//! What one bot answers from: its own sources and those its owner shared with it, every page of
//! each, as the index's source filter. The database says which sources; the index is asked for
//! those only, so a bot never retrieves another bot's passages (docs/retrieval.md).
use crate::domain::{BotId, TenantId};
use crate::retrieval::Sources;
use crate::storage::sources::{self, index_id};
use sqlx::{Any, Executor};

/// The index's filter for `bot` of `tenant` (`None`: the knowledge no bot uses yet): every page
/// a read of each of its sources may have indexed (a read reserves its page count before it
/// indexes, as deleting relies on too).
pub async fn of_bot<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: Option<BotId>) -> sqlx::Result<Sources> {
    let ids = sources::scope(e, tenant, bot).await?;
    Ok(Sources::Only(ids.into_iter().flat_map(|s| (0..s.page_count.max(1) as usize).map(move |p| index_id(s.id, p))).collect()))
}
