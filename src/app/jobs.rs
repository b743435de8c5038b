//! Every job kind this binary runs: its name (stored with each job: never rename one that may be
//! queued), its queue, its payload, and its handler — which unpacks the application state into
//! the narrow handles the domain code takes.
use crate::storage::announcements::AnnouncementId;
use super::{AppState, sources, updates};
use crate::domain::{BotId, SourceId, TenantId};
use crate::jobs::{self, DEFAULT, Job, JobError, Queue, Registry};
use crate::storage::jobs::NewJob;
use serde::{Deserialize, Serialize};

/// One update of a business's bot, stored by its webhook: answering (and billing's payments).
pub const BOT_UPDATE: &str = "bot.update";
/// A `bot.update` job dead-lettered: its customer hears the bot cannot answer right now
/// ([`crate::jobs::Registry::when_dead`]; the payload is the dead job's).
pub const BOT_UPDATE_DEAD: &str = "bot.update.dead";
/// One update of the manager bot, stored by its webhook.
pub const MANAGER_UPDATE: &str = "manager.update";
/// Bring a business's bot to `live` (webhook, commands, descriptions, welcome).
pub const PROVISION: &str = "bot.provision";
/// Read and index one of an owner's sources.
pub const INGEST: &str = "knowledge.ingest";
/// Ingestion's own queue: a big upload never delays customers' answers.
pub const INGEST_QUEUE: &str = "ingest";
/// A read's serial key is `{INGEST_KEY_PREFIX}:{tenant}:{source}` (the repair of abandoned
/// reads finds a source's job by it: never change its shape).
pub const INGEST_KEY_PREFIX: &str = "ingest";
/// Apply one stored Stripe event.
pub const STRIPE_EVENT: &str = "billing.stripe_event";
/// Send one of an owner's announcements to its recipients.
pub const ANNOUNCE: &str = "bot.announce";
/// An announcement's job's dedup key is `{ANNOUNCE_KEY_PREFIX}:{announcement}` (the repair of
/// abandoned announcements finds it by that: never change its shape).
pub const ANNOUNCE_KEY_PREFIX: &str = "announce";
/// Announcements' own queue: sending one to thousands of customers holds its worker for minutes
/// (Telegram's per-bot limit), and customers' answers never wait for that.
pub const ANNOUNCE_QUEUE: &str = "announce";

#[derive(Serialize, Deserialize)]
pub struct BotUpdateJob {
    pub bot_id: BotId,
    pub update_id: i64,
}

#[derive(Serialize, Deserialize)]
pub struct ManagerUpdateJob {
    pub update_id: i64,
}

#[derive(Serialize, Deserialize)]
pub struct ProvisionJob {
    pub bot_id: BotId,
}

#[derive(Serialize, Deserialize)]
pub struct IngestJob {
    pub source_id: SourceId,
}

#[derive(Serialize, Deserialize)]
pub struct AnnounceJob {
    pub bot_id: BotId,
    pub announcement_id: AnnouncementId,
}

#[derive(Serialize, Deserialize)]
pub struct StripeEventJob {
    pub event_id: String,
}

/// The job of a business's bot's update, on `lane` (updates with a deadline go to the
/// priority lane). `chat`: the conversation the update belongs to (`"{chat}"` for a private
/// chat, `"{chat}:{user}"` in a group), when it has one: one conversation's updates are handled
/// one at a time, in order, by whichever worker — so an answer sees the messages before it, and
/// a customer's burst of messages can be answered once (see `answering`).
pub fn bot_update(queue: &Queue, lane: &'static str, tenant: TenantId, bot_id: BotId, update_id: i64, chat: Option<&str>) -> NewJob {
    let mut job = queue.job(lane, BOT_UPDATE, &BotUpdateJob { bot_id, update_id });
    job.tenant_id = Some(tenant);
    job.serial_key = chat.map(|c| chat_serial_key(bot_id, c));
    job
}

/// The serial key of one conversation's update jobs.
pub fn chat_serial_key(bot_id: BotId, chat: &str) -> String {
    format!("chat:{}:{chat}", bot_id.0)
}

/// The job of a manager update, on `lane`. `chat`: the chat it came from, when it has one: an
/// owner's commands and replies in the manager chat are handled one at a time.
pub fn manager_update(queue: &Queue, lane: &'static str, update_id: i64, chat: Option<&str>) -> NewJob {
    let mut job = queue.job(lane, MANAGER_UPDATE, &ManagerUpdateJob { update_id });
    job.serial_key = chat.map(|c| format!("manager:{c}"));
    job
}

/// Provisioning `bot_id` for `tenant`: requests for the same tenant made while one is queued are
/// that job.
///
/// No dedup key: a finished job's key stays taken for as long as the job is kept (days), and a
/// bot disconnected and connected again with the same token must be provisioned again.
pub fn provision(queue: &Queue, tenant: TenantId, bot_id: BotId) -> NewJob {
    let mut job = queue.job(DEFAULT, PROVISION, &ProvisionJob { bot_id });
    job.tenant_id = Some(tenant);
    // One provisioning of a bot at a time across every worker (two at once could leave
    // Telegram and the database with different webhook secrets), and one queued at most per
    // owner: a job queued for the bot's earlier owner ends at once (the bot is no longer that
    // tenant's), so it must not swallow the new owner's.
    job.serial_key = Some(format!("provision:{}", bot_id.0));
    job.coalesce_key = Some(format!("provision:{}:{}", bot_id.0, tenant.0));
    job
}

/// Reading source `source_id` of `tenant`.
pub fn ingest(queue: &Queue, tenant: TenantId, source_id: SourceId) -> NewJob {
    let mut job = queue.job(INGEST_QUEUE, INGEST, &IngestJob { source_id });
    job.tenant_id = Some(tenant);
    // A source is read by one worker at a time; asked again while a reading waits, once.
    job.serial_key = Some(format!("{INGEST_KEY_PREFIX}:{}:{source_id}", tenant.0));
    job.coalesce_key = job.serial_key.clone();
    job
}

/// The job kinds and keys the retention purge and its repairs look at.
pub fn names() -> crate::storage::retention::JobNames {
    crate::storage::retention::JobNames {
        update_kinds: [BOT_UPDATE, MANAGER_UPDATE],
        ingest_kind: INGEST,
        ingest_key_prefix: INGEST_KEY_PREFIX,
        announce_kind: ANNOUNCE,
        announce_key_prefix: ANNOUNCE_KEY_PREFIX,
    }
}

/// The dedup key of [`stripe_event`]'s job.
pub fn stripe_event_key(event_id: &str) -> String {
    format!("stripe:{event_id}")
}

/// Applying stored Stripe event `event_id` (once per event).
pub fn stripe_event(queue: &Queue, event_id: &str) -> NewJob {
    let mut job = queue.job(DEFAULT, STRIPE_EVENT, &StripeEventJob { event_id: event_id.to_owned() });
    job.dedup_key = Some(stripe_event_key(event_id));
    job
}

/// The job that sends announcement `id` (one per announcement). Twice the usual attempts: with
/// the default backoff, it keeps trying for two to four hours of a Telegram outage instead of
/// one to two minutes, and only then marks the customers it has not reached
/// ([`crate::answering::announce::give_up`]; when the job ends without it — its worker killed on
/// the last attempt, a panic — the periodic repair does:
/// [`crate::storage::announcements::end_abandoned`]).
///
/// On its own queue, one bot's announcements one at a time (they share its per-second limit: two
/// at once would only each take twice as long, holding two workers).
pub fn announce(queue: &Queue, tenant: TenantId, bot_id: BotId, id: AnnouncementId) -> NewJob {
    let mut job = queue.job(ANNOUNCE_QUEUE, ANNOUNCE, &AnnounceJob { bot_id, announcement_id: id });
    job.max_attempts = queue.max_attempts() * 2;
    job.tenant_id = Some(tenant);
    job.dedup_key = Some(format!("{ANNOUNCE_KEY_PREFIX}:{id}"));
    job.serial_key = Some(format!("announce-bot:{}", bot_id.0));
    job
}

/// Outages besides the database's ([`crate::jobs::OutageCause`]): the vector index unreachable
/// (a Qdrant server restarting), also under the answering's search.
pub fn index_outage(e: &(dyn std::error::Error + 'static)) -> bool {
    use crate::retrieval::{IndexError, SearchError};
    if let Some(i) = e.downcast_ref::<IndexError>() {
        return matches!(i, IndexError::Unavailable(_));
    }
    e.downcast_ref::<SearchError>().is_some_and(|s| matches!(s, SearchError::Index(IndexError::Unavailable(_))))
}

/// Every job kind this binary can run.
pub fn registry() -> Registry<AppState> {
    let mut r = Registry::default();
    r.outage_causes(index_outage);
    jobs::selftest::register(&mut r, |s: &AppState| &s.db);
    r.register(BOT_UPDATE, DEFAULT, updates::child_update);
    r.register(BOT_UPDATE_DEAD, DEFAULT, updates::child_update_dead);
    r.when_dead(BOT_UPDATE, BOT_UPDATE_DEAD);
    r.register(MANAGER_UPDATE, DEFAULT, updates::manager_update);
    r.register(PROVISION, DEFAULT, run_provision);
    r.register(INGEST, INGEST_QUEUE, sources::run_ingest);
    r.register(STRIPE_EVENT, DEFAULT, run_stripe_event);
    r.register(ANNOUNCE, ANNOUNCE_QUEUE, run_announce);
    r
}

pub(super) fn tenant_of(job: &Job, what: &str) -> Result<TenantId, JobError> {
    job.tenant_id.ok_or_else(|| JobError::Permanent(anyhow::anyhow!("{what} job without a tenant")))
}

/// Whether a failure of this attempt is final.
pub(super) fn last_attempt(job: &Job) -> bool {
    job.attempt >= job.max_attempts
}

/// A business's bot that could not be opened: the database's failure is worth another attempt
/// (it may be restarting); a token that does not open (a lost key, a damaged row) is not.
pub(super) fn opening_failed(e: anyhow::Error) -> JobError {
    match e.downcast_ref::<sqlx::Error>() {
        Some(_) => JobError::Retry(e),
        None => JobError::Permanent(e),
    }
}

async fn run_provision(app: AppState, job: Job) -> Result<(), JobError> {
    let p: ProvisionJob = job.payload()?;
    let tenant = tenant_of(&job, "provisioning")?;
    crate::manager::provision::run(&app.bots, app.manager.as_ref(), &app.cfg.public_url, app.cfg.telegram.updates, tenant, p.bot_id, last_attempt(&job)).await
}

async fn run_announce(app: AppState, job: Job) -> Result<(), JobError> {
    let p: AnnounceJob = job.payload()?;
    let tenant = tenant_of(&job, "announcement")?;
    let sent = match app.bots.open(tenant, p.bot_id).await.map_err(opening_failed) {
        Ok(Some(bot)) => crate::answering::announce::send(&app.db, &bot, tenant, p.announcement_id).await,
        Ok(None) => {
            // Disconnected (its token forgotten) or moved to another business meanwhile: it sends
            // nothing more, and the announcement ends with the rest not reached.
            let why = crate::answering::announce::gone(&app.db, tenant, p.bot_id).await?.unwrap_or("the bot could no longer send");
            crate::answering::announce::end(&app.db, tenant, p.announcement_id, why).await?;
            return Ok(());
        }
        // A token that does not open (dead-lettered at once), or the database failing on the
        // last attempt: the job gives up like a failed sending, below, and the announcement ends.
        Err(e) => Err(e),
    };
    if let Err(e) = &sent
        && (!e.worth_retrying() || last_attempt(&job))
    {
        crate::answering::announce::give_up(&app.db, tenant, p.announcement_id, e).await?;
    }
    sent
}

async fn run_stripe_event(app: AppState, job: Job) -> Result<(), JobError> {
    let p: StripeEventJob = job.payload()?;
    crate::billing::stripe::process_event(&app.billing, &p.event_id).await?;
    // A card payment may have upgraded a plan: parked bots that fit now are provisioned.
    super::parking::provision_parked_everywhere(&app).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::{IndexError, SearchError};

    #[test]
    fn an_unreachable_vector_index_is_an_outage_however_it_is_wrapped() {
        let down = || IndexError::Unavailable("connection refused".into());
        assert!(JobError::Retry(anyhow::Error::new(down())).is_outage(index_outage));
        assert!(JobError::Retry(anyhow::Error::new(SearchError::Index(down())).context("answering")).is_outage(index_outage));
        assert!(!JobError::Retry(anyhow::Error::new(IndexError::Other("bad payload".into()))).is_outage(index_outage));
        assert!(!JobError::Retry(anyhow::Error::new(down())).is_outage(|_| false), "the jobs alone know only the database's");
    }
}
