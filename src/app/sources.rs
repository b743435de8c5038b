//! Owners' sources as work: a source is stored and its `knowledge.ingest` job queued in one
//! transaction; the job hands it to `knowledge::ingest`; a scheduler re-queues sites whose
//! re-crawl time has come.
use super::AppState;
use super::jobs::{self, INGEST_QUEUE, IngestJob};
use crate::domain::{BotId, QaId, SourceId, TenantId};
use crate::jobs::{Job, JobError};
use crate::storage::sources::{self, NewSource};

/// Stores a new source and queues it for reading, in one transaction.
pub async fn add_source(app: &AppState, tenant: TenantId, new: &NewSource<'_>) -> anyhow::Result<SourceId> {
    let mut tx = app.db.begin().await?;
    let id = sources::insert(&mut *tx, tenant, new).await?;
    app.queue.enqueue_in(&mut tx, &jobs::ingest(&app.queue, tenant, id)).await?;
    tx.commit().await?;
    app.queue.notify(INGEST_QUEUE);
    Ok(id)
}

/// The limits a new source must fit: the plan's number of sources and the deployment's bytes
/// per tenant (`knowledge.max_tenant_bytes`).
#[derive(Debug, Clone, Copy)]
pub struct SourceLimits {
    pub max_sources: i64,
    pub max_bytes: i64,
}

/// Why a source was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The plan's number of sources is reached: `used` of `limit`.
    TooMany { used: i64, limit: i64 },
    /// The bytes would go past the tenant's quota: `used` of `limit`, and this source's `size`.
    TooBig { used: i64, size: i64, limit: i64 },
}

/// Stores a new source and queues it for reading — if it fits the limits, checked in the same
/// transaction as the insert, under the tenant's lock: concurrent uploads cannot both take the
/// last place.
pub async fn add_source_within(app: &AppState, tenant: TenantId, new: &NewSource<'_>, limits: SourceLimits) -> anyhow::Result<Result<SourceId, Refused>> {
    let mut tx = app.db.begin().await?;
    crate::storage::tenants::lock(&mut tx, tenant).await?;
    let used = sources::count(&mut *tx, tenant).await?;
    if used >= limits.max_sources {
        return Ok(Err(Refused::TooMany { used, limit: limits.max_sources }));
    }
    let bytes = sources::total_bytes(&mut *tx, tenant).await?;
    if bytes.saturating_add(new.size_bytes) > limits.max_bytes {
        return Ok(Err(Refused::TooBig { used: bytes, size: new.size_bytes, limit: limits.max_bytes }));
    }
    let id = sources::insert(&mut *tx, tenant, new).await?;
    app.queue.enqueue_in(&mut tx, &jobs::ingest(&app.queue, tenant, id)).await?;
    tx.commit().await?;
    app.queue.notify(INGEST_QUEUE);
    Ok(Ok(id))
}

/// A file uploaded under the name of a file `new.bot` already owns replaces it: the same source
/// (its id, the bots it is shared with) gets the new bytes and size and is read again; its
/// earlier passages answer until the new ones are indexed (`knowledge::ingest`). Checked under
/// the tenant's lock, like a new source: the new size counts instead of the old one, and it
/// takes no new place among the plan's sources (unless the file it replaces held none).
/// `Ok(None)`: the bot has no such file; it is a new source.
pub async fn replace_file_within(app: &AppState, tenant: TenantId, new: &NewSource<'_>, limits: SourceLimits) -> anyhow::Result<Option<Result<SourceId, Refused>>> {
    let Some(content) = new.content.filter(|_| new.kind == "file") else { return Ok(None) };
    let mut tx = app.db.begin().await?;
    crate::storage::tenants::lock(&mut tx, tenant).await?;
    let Some(old) = sources::own_file_named(&mut *tx, tenant, new.bot, new.name).await? else { return Ok(None) };
    let counted = sources::count(&mut *tx, tenant).await?;
    if !sources::replace_content(&mut *tx, tenant, old.id, content).await? {
        return Ok(None);
    }
    // Measured after the change (it is undone on refusal): whatever counts toward the limits,
    // the old version's place and bytes are the new one's.
    let count = sources::count(&mut *tx, tenant).await?;
    if count > counted && count > limits.max_sources {
        return Ok(Some(Err(Refused::TooMany { used: counted, limit: limits.max_sources })));
    }
    let bytes = sources::total_bytes(&mut *tx, tenant).await?;
    if bytes > limits.max_bytes {
        return Ok(Some(Err(Refused::TooBig { used: bytes - new.size_bytes, size: new.size_bytes, limit: limits.max_bytes })));
    }
    app.queue.enqueue_in(&mut tx, &jobs::ingest(&app.queue, tenant, old.id)).await?;
    tx.commit().await?;
    app.queue.notify(INGEST_QUEUE);
    Ok(Some(Ok(old.id)))
}

/// What adding a Q&A pair did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QaAdded {
    /// A new pair.
    New(QaId),
    /// The bot had a pair with the same question (see [`same_question`]): its answer is now this
    /// one. Its question, as it was written.
    Updated(QaId, String),
}

/// Two questions are the same pair's: the same words, whatever the case, spacing and
/// punctuation (a trailing "?") — as the bot matches them (`knowledge::qa::normalise`).
pub fn same_question(a: &str, b: &str) -> bool {
    let a = crate::knowledge::qa::normalise(a);
    !a.is_empty() && a == crate::knowledge::qa::normalise(b)
}

/// Stores a Q&A pair of `bot` unless it already holds `max` pairs (`knowledge.max_qa_pairs`);
/// `Err(count)` then. Counted and inserted in one transaction under the tenant's lock, so pairs
/// added at the same time cannot go past the cap together.
pub async fn add_qa_within(app: &AppState, tenant: TenantId, bot: Option<BotId>, question: &str, answer: &str, max: i64) -> anyhow::Result<Result<QaAdded, i64>> {
    let mut tx = app.db.begin().await?;
    crate::storage::tenants::lock(&mut tx, tenant).await?;
    // The same question again is a new answer to it: two pairs would list both, and the bot
    // would only ever give the newer.
    if let Some(same) = sources::list_qa(&mut *tx, tenant, bot).await?.into_iter().find(|p| same_question(&p.question, question)) {
        sources::update_qa(&mut *tx, tenant, same.id, &same.question, answer).await?;
        tx.commit().await?;
        return Ok(Ok(QaAdded::Updated(same.id, same.question)));
    }
    let count = sources::count_qa(&mut *tx, tenant, bot).await?;
    if count >= max {
        return Ok(Err(count));
    }
    let id = sources::insert_qa(&mut *tx, tenant, bot, question, answer).await?;
    tx.commit().await?;
    Ok(Ok(QaAdded::New(id)))
}

/// Why an edited Q&A pair was not saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QaEditRefused {
    /// The tenant has no such pair.
    NotFound,
    /// Another pair of the same bot has that question: the question, as it was written.
    Taken(String),
}

/// Rewrites the tenant's Q&A pair `id` — unless another pair of its bot asks the same question
/// (two pairs would answer one question). The matching is by the words (see `knowledge::qa`),
/// so the edited question is what a customer's is compared with from now on.
pub async fn edit_qa_within(app: &AppState, tenant: TenantId, id: QaId, question: &str, answer: &str) -> anyhow::Result<Result<(), QaEditRefused>> {
    let mut tx = app.db.begin().await?;
    crate::storage::tenants::lock(&mut tx, tenant).await?;
    let Some(pair) = sources::get_qa(&mut *tx, tenant, id).await? else { return Ok(Err(QaEditRefused::NotFound)) };
    let bot = pair.bot_id.map(BotId);
    if let Some(other) = sources::list_qa(&mut *tx, tenant, bot).await?.into_iter().find(|p| p.id != id && same_question(&p.question, question)) {
        return Ok(Err(QaEditRefused::Taken(other.question)));
    }
    if !sources::update_qa(&mut *tx, tenant, id, question, answer).await? {
        return Ok(Err(QaEditRefused::NotFound));
    }
    tx.commit().await?;
    Ok(Ok(()))
}

/// Why a Q&A pair was not added, in the owner's words: `whose` holds `count` pairs already, the
/// most allowed.
pub fn qa_full(whose: &str, count: i64) -> String {
    format!(
        "Not added: {whose} already has {} questions & answers, the most it can hold. Delete some you no longer need (or fold similar questions into one answer), then add this one again.",
        grouped(count)
    )
}

/// `2000` → "2,000".
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Reads a source again (re-index, scheduled re-crawl). False if the tenant has no such source.
pub async fn requeue(app: &AppState, tenant: TenantId, id: SourceId) -> anyhow::Result<bool> {
    let mut tx = app.db.begin().await?;
    if !sources::set_status(&mut *tx, tenant, id, "queued", None, None, None).await? {
        return Ok(false);
    }
    app.queue.enqueue_in(&mut tx, &jobs::ingest(&app.queue, tenant, id)).await?;
    tx.commit().await?;
    app.queue.notify(INGEST_QUEUE);
    Ok(true)
}

/// Reads a source again at the owner's asking ("Re-read"). A source that failed with nothing read
/// from it takes no place among the plan's sources nor the storage ([`sources::count`]); read
/// again, it would, so it must fit the limits like a new source, checked under the tenant's lock
/// in the same transaction: `Some(Err(_))` then, nothing changed. `None` if the tenant has no
/// such source.
pub async fn requeue_within(app: &AppState, tenant: TenantId, id: SourceId, limits: SourceLimits) -> anyhow::Result<Option<Result<(), Refused>>> {
    let mut tx = app.db.begin().await?;
    crate::storage::tenants::lock(&mut tx, tenant).await?;
    let Some(source) = sources::get(&mut *tx, tenant, id).await? else {
        return Ok(None);
    };
    if source.status == "failed" && source.chunk_count == 0 {
        let used = sources::count(&mut *tx, tenant).await?;
        if used >= limits.max_sources {
            return Ok(Some(Err(Refused::TooMany { used, limit: limits.max_sources })));
        }
        let bytes = sources::total_bytes(&mut *tx, tenant).await?;
        if bytes.saturating_add(source.size_bytes) > limits.max_bytes {
            return Ok(Some(Err(Refused::TooBig { used: bytes, size: source.size_bytes, limit: limits.max_bytes })));
        }
    }
    if !sources::set_status(&mut *tx, tenant, id, "queued", None, None, None).await? {
        return Ok(None);
    }
    app.queue.enqueue_in(&mut tx, &jobs::ingest(&app.queue, tenant, id)).await?;
    tx.commit().await?;
    app.queue.notify(INGEST_QUEUE);
    Ok(Some(Ok(())))
}

/// The `knowledge.ingest` job; a scheduled source that started failing is told to its owner.
pub(super) async fn run_ingest(app: AppState, job: Job) -> Result<(), JobError> {
    let p: IngestJob = job.payload()?;
    let tenant = jobs::tenant_of(&job, "ingest")?;
    let read = crate::knowledge::ingest::ingest(&app.db, &app.cfg.knowledge, &app.retriever, tenant, p.source_id, jobs::last_attempt(&job)).await;
    if let Err(e) = tell_owner_of_failing_source(&app, tenant, p.source_id).await {
        tracing::warn!(tenant_id = tenant.0, source_id = p.source_id.0, error = %format!("{e:#}"), "could not tell the owner about a failing source");
    }
    read
}

/// Tells the owner, in the manager chat, once per failing streak, that a web page or site their
/// bot re-reads on a schedule could not be read, when it is tried next, and what to do.
async fn tell_owner_of_failing_source(app: &AppState, tenant: TenantId, id: SourceId) -> anyhow::Result<()> {
    let Some(manager) = app.manager.as_ref() else { return Ok(()) };
    let Some(n) = sources::claim_failure_notice(&app.db.pool, tenant, id, crate::storage::now_ms()).await? else { return Ok(()) };
    let owner = crate::storage::tenants::get(&app.db.pool, tenant).await?.map(|t| t.owner_user_id.0);
    let Some(owner) = owner else { return Ok(()) };
    let escape = crate::telegram::html::escape;
    let next = n.next_crawl_at.map(|t| format!(" I'll try again on {}, then less and less often while it keeps failing.", crate::billing::stars::date(t))).unwrap_or_default();
    // The page of the bot the source belongs to.
    let page = match sources::get(&app.db.pool, tenant, id).await?.and_then(|s| s.bot_id) {
        Some(bot) => format!("app/sources?bot={bot}"),
        None => "app/sources".to_owned(),
    };
    let link = app.cfg.public_url.join(&page).map(|u| u.to_string()).unwrap_or_default();
    let text = format!(
        "⚠️ <b>I couldn't read {name}</b> for your bot's knowledge.

{reason}

Your bot keeps answering from what it read before.{next} If the page has moved or is gone, delete it on your Sources page and add the new address: {link}",
        name = escape(&n.name),
        reason = escape(&n.reason),
        link = escape(&link),
    );
    if let Err(e) = manager.bot.send_message(&crate::telegram::methods::SendMessage::html(owner, text)).await {
        sources::unclaim_failure_notice(&app.db.pool, tenant, id).await?;
        return Err(anyhow::Error::new(e).context("telling the owner about a failing source"));
    }
    Ok(())
}

/// Queues source `id` for its scheduled re-crawl, within the plan's limits like the owner's
/// "Re-read" ([`requeue_within`]): a source that failed with nothing read takes no place, and the
/// owner may have filled the plan since. Then it is not read; its reason says why, and it is
/// tried again later (its interval, doubling), as after a failed read. True if queued.
pub async fn recrawl(app: &AppState, tenant: TenantId, id: SourceId) -> anyhow::Result<bool> {
    let now = crate::storage::now_ms();
    let (_, plan, _) = crate::billing::account::current(&app.db, &app.cfg.billing, tenant, now).await?;
    let limits = SourceLimits { max_sources: plan.sources, max_bytes: app.cfg.knowledge.max_tenant_bytes.min(i64::MAX as u64) as i64 };
    let refused = match requeue_within(app, tenant, id, limits).await? {
        None => return Ok(false),
        Some(Ok(())) => return Ok(true),
        Some(Err(refused)) => refused,
    };
    let Some(source) = sources::get(&app.db.pool, tenant, id).await? else { return Ok(false) };
    let why = match refused {
        Refused::TooMany { used, limit } => format!("the {} plan holds {limit} sources and you have {used}. Delete a source you no longer need, or choose a bigger plan on the Billing page.", plan.name),
        Refused::TooBig { used, limit, .. } => {
            let size = crate::knowledge::extract::human_size;
            format!("your sources take {} of the {} your business can store. Delete a source you no longer need.", size(used.max(0) as u64), size(limit.max(0) as u64))
        }
    };
    let reason = format!("Not read again on its schedule: {why}");
    if sources::set_status(&app.db.pool, tenant, id, "failed", Some(&reason), None, None).await? {
        let failures = source.recrawl_failures + 1;
        let next = now + crate::knowledge::ingest::recrawl_backoff(source.recrawl_hours.unwrap_or(24), failures);
        sources::record_recrawl_failure(&app.db.pool, tenant, id, failures, next).await?;
    }
    Ok(false)
}

/// Scheduled re-crawls: every `every`, sources whose `recrawl_hours` have passed since they were
/// last read are queued again, until shutdown. Runs in every worker process; re-queueing the
/// same source twice is harmless (the second read replaces the first). A failed look-up is
/// logged and tried again at the next tick.
pub async fn recrawl_scheduler(app: AppState, every: std::time::Duration) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = app.shutdown.cancelled() => return Ok(()),
        }
        match sources::due_for_recrawl(&app.db.pool, crate::storage::now_ms()).await {
            Ok(due) => {
                for (tenant, id) in due {
                    if let Err(e) = recrawl(&app, tenant, id).await {
                        tracing::warn!(tenant_id = tenant.0, source_id = id.0, error = %format!("{e:#}"), "could not queue a re-crawl");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "looking for sources to re-crawl failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_qa_list_is_explained_in_plain_words() {
        assert_eq!(grouped(7), "7");
        assert_eq!(grouped(2000), "2,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(
            qa_full("@rosas_bakery_bot", 2000),
            "Not added: @rosas_bakery_bot already has 2,000 questions & answers, the most it can hold. Delete some you no longer need (or fold similar questions into one answer), then add this one again."
        );
    }
}
