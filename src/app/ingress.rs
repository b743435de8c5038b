//! Group commit for webhook ingress. Every webhook request hands its update (and the job it
//! needs) to one writer task and waits; the writer stores everything that has arrived meanwhile
//! in a single transaction — one fsync for the lot — and only after the commit answers each
//! request. Durability per update is unchanged (nothing is acknowledged before its row and job
//! are committed); the cost of a commit is shared, which is what lets SQLite take thousands of
//! webhooks a second instead of one per fsync.
//!
//! Long polling (`app::polling`) stores through the same writer: a poll's updates go in as one
//! request together with the bot's next `offset`, written in the same transaction — Telegram is
//! told to forget an update (the next `getUpdates` carries that offset) only once it is stored.
//! A (bot, update_id) already stored is a no-op, whichever way it came, however often.
//!
//! The writer is one of the application's tracked tasks: it stops after the web server, and a
//! failure of it stops the process.
use super::jobs;
use crate::domain::{BotId, TenantId};
use crate::jobs::Queue;
use crate::storage::{self, Db, jobs::NewJob};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Most updates written in one transaction.
const MAX_BATCH: usize = 512;

/// One update waiting to be stored.
pub struct Pending {
    pub bot: BotId,
    pub tenant: Option<TenantId>,
    /// `None`: a body without `update_id`, stored as dead under `dead_key`.
    pub update_id: Option<i64>,
    pub dead_key: i64,
    pub body: String,
    /// The Telegram user it came from, when it says.
    pub user_id: Option<i64>,
    /// The job to enqueue if the update is new.
    pub job: Option<NewJob>,
}

/// A business's bot's update as the ingress stores it: its `bot.update` job (lane and
/// conversation read from the body) and its sender. `body` is the update as Telegram sent it.
pub fn child_update(queue: &Queue, bot: BotId, tenant: TenantId, body: &[u8]) -> Pending {
    let peek = peek(body);
    pending(bot, Some(tenant), body, peek.from, |update_id| jobs::bot_update(queue, peek.lane, tenant, bot, update_id, peek.chat.as_deref()))
}

/// The manager bot's update as the ingress stores it, with its `manager.update` job.
pub fn manager_update(queue: &Queue, manager: BotId, body: &[u8]) -> Pending {
    let peek = peek(body);
    pending(manager, None, body, peek.from, |update_id| jobs::manager_update(queue, peek.lane, update_id, peek.chat.as_deref()))
}

fn pending(bot: BotId, tenant: Option<TenantId>, body: &[u8], user_id: Option<i64>, job_for: impl FnOnce(i64) -> NewJob) -> Pending {
    let update_id = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| v.get("update_id")?.as_i64());
    // No update_id to deduplicate on: a dead letter keyed by a hash of the body instead.
    let dead_key = -(i64::from_be_bytes(sha2_prefix(body)) & i64::MAX);
    Pending { bot, tenant, update_id, dead_key, body: String::from_utf8_lossy(body).into_owned(), user_id, job: update_id.map(job_for) }
}

/// What the ingress reads of an update before storing it.
struct Peeked {
    /// The queue of the update's job: a `pre_checkout_query` must be answered within 10 s, so
    /// it goes to the priority lane and never waits behind answer jobs; so does a payment's
    /// `successful_payment` message (cheap, and the payer waits for it).
    lane: &'static str,
    /// The conversation a message or button press belongs to (see `jobs::bot_update`); none for
    /// priority-lane updates, which must never wait behind a conversation's answer. For the
    /// manager's `managed_bot` updates, the bot they are about (`managed:<bot id>`): each fetches
    /// the bot's current token, and two run at once (a new token, a new owner, in quick
    /// succession) could store the older token last, leaving the bot on a token Telegram no
    /// longer accepts. One at a time, each fetches after the previous one is stored.
    chat: Option<String>,
    /// The Telegram user the update came from (a message's sender, a button's presser, a
    /// payer), stored beside it so a customer's updates can be erased on request.
    from: Option<i64>,
}

fn peek(body: &[u8]) -> Peeked {
    #[derive(serde::Deserialize)]
    struct Peek {
        pre_checkout_query: Option<PeekFrom>,
        message: Option<PeekMessage>,
        edited_message: Option<PeekMessage>,
        callback_query: Option<PeekCallback>,
        managed_bot: Option<PeekManaged>,
    }
    #[derive(serde::Deserialize)]
    struct PeekManaged {
        user: Option<PeekId>,
        bot: Option<PeekId>,
    }
    #[derive(serde::Deserialize)]
    struct PeekFrom {
        from: Option<PeekId>,
    }
    #[derive(serde::Deserialize)]
    struct PeekMessage {
        successful_payment: Option<serde::de::IgnoredAny>,
        chat: Option<PeekId>,
        from: Option<PeekId>,
    }
    #[derive(serde::Deserialize)]
    struct PeekCallback {
        from: Option<PeekId>,
        message: Option<PeekMessage>,
    }
    #[derive(serde::Deserialize)]
    struct PeekId {
        id: i64,
    }
    fn conversation(chat: Option<&PeekId>, from: Option<&PeekId>) -> Option<String> {
        let chat = chat?.id;
        // Private chats have positive ids; in a group each member has a conversation.
        Some(if chat > 0 { chat.to_string() } else { format!("{chat}:{}", from.map_or(0, |f| f.id)) })
    }
    let parsed = serde_json::from_slice::<Peek>(body).ok();
    let from = parsed.as_ref().and_then(|p| {
        let q = p.pre_checkout_query.as_ref().and_then(|q| q.from.as_ref());
        let m = p.message.as_ref().or(p.edited_message.as_ref()).and_then(|m| m.from.as_ref());
        let c = p.callback_query.as_ref().and_then(|c| c.from.as_ref());
        let b = p.managed_bot.as_ref().and_then(|b| b.user.as_ref());
        Some(q.or(m).or(c).or(b)?.id)
    });
    let (lane, chat) = match parsed {
        Some(Peek { pre_checkout_query: Some(_), .. }) | Some(Peek { message: Some(PeekMessage { successful_payment: Some(_), .. }), .. }) => (crate::jobs::PRIORITY, None),
        Some(Peek { message: Some(m), .. }) => (crate::jobs::DEFAULT, conversation(m.chat.as_ref(), m.from.as_ref())),
        Some(Peek { callback_query: Some(q), .. }) => (crate::jobs::DEFAULT, conversation(q.message.as_ref().and_then(|m| m.chat.as_ref()), q.from.as_ref())),
        Some(Peek { managed_bot: Some(PeekManaged { bot: Some(b), .. }), .. }) => (crate::jobs::DEFAULT, Some(format!("managed:{}", b.id))),
        _ => (crate::jobs::DEFAULT, None),
    };
    Peeked { lane, chat, from }
}

fn sha2_prefix(body: &[u8]) -> [u8; 8] {
    use sha2::Digest;
    let d = sha2::Sha256::digest(body);
    d[..8].try_into().expect("8 bytes")
}

/// A polled bot's next `getUpdates` offset, stored with the updates below it.
#[derive(Debug, Clone, Copy)]
pub struct PollOffset {
    pub bot: BotId,
    pub next: i64,
}

/// One request to the writer: updates stored together, and a poll's offset.
struct Request {
    updates: Vec<Pending>,
    offset: Option<PollOffset>,
    done: Waiter,
}

/// Handle to the writer task. Cheap to clone.
#[derive(Clone)]
pub struct Ingress {
    tx: mpsc::Sender<Request>,
}

/// The writer task, to be run (and tracked) by the application: [`Writer::run`].
pub struct Writer {
    db: Db,
    queue: Queue,
    rx: mpsc::Receiver<Request>,
}

impl Ingress {
    /// The handle and its writer; nothing is stored until the writer runs.
    pub fn new(db: Db, queue: Queue) -> (Ingress, Writer) {
        let (tx, rx) = mpsc::channel(8 * MAX_BATCH);
        (Ingress { tx }, Writer { db, queue, rx })
    }

    /// Stores `p` durably (a redelivered update is a no-op) and enqueues its job; returns once
    /// committed.
    pub async fn store(&self, p: Pending) -> anyhow::Result<()> {
        self.store_polled(vec![p], None).await
    }

    /// Stores a poll's `updates` and the bot's next `offset` in one transaction; returns once
    /// committed. Nothing of it is stored if it fails.
    pub async fn store_polled(&self, updates: Vec<Pending>, offset: Option<PollOffset>) -> anyhow::Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Request { updates, offset, done }).await.map_err(|_| anyhow::anyhow!("the ingress writer has stopped"))?;
        wait.await.map_err(|_| anyhow::anyhow!("the ingress writer has stopped"))?.map_err(|e| anyhow::anyhow!("storing the update: {e}"))
    }
}

type Waiter = oneshot::Sender<Result<(), String>>;

impl Writer {
    /// Stores batches until `stop` (once the web server has answered its last request), then
    /// stores what has arrived meanwhile and returns. Later requests get an error (a 500:
    /// Telegram redelivers), never a false acknowledgement.
    pub async fn run(mut self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
        loop {
            let first = tokio::select! {
                biased;
                p = self.rx.recv() => match p {
                    Some(p) => p,
                    None => return Ok(()), // every handle dropped
                },
                _ = stop.cancelled() => break,
            };
            batch.push(first);
            self.write_batch(&mut batch).await;
        }
        self.rx.close();
        while let Ok(p) = self.rx.try_recv() {
            batch.push(p);
            if updates_in(&batch) >= MAX_BATCH {
                self.write_batch(&mut batch).await;
            }
        }
        if !batch.is_empty() {
            self.write_batch(&mut batch).await;
        }
        Ok(())
    }

    /// Tops `batch` up with whatever is waiting, stores it in one transaction and answers each
    /// request.
    async fn write_batch(&mut self, batch: &mut Vec<Request>) {
        while updates_in(batch) < MAX_BATCH {
            match self.rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let outcome = write(&self.db, &self.queue, batch).await;
        if let Err(e) = &outcome {
            tracing::error!(error = format!("{e:#}"), updates = batch.len(), "could not store a batch of webhook updates; Telegram will redeliver them");
        }
        for r in batch.drain(..) {
            let _ = r.done.send(outcome.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        }
    }
}

fn updates_in(batch: &[Request]) -> usize {
    batch.iter().map(|r| r.updates.len().max(1)).sum()
}

async fn write(db: &Db, queue: &Queue, batch: &[Request]) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    let mut woken: Vec<&'static str> = Vec::new();
    for p in batch.iter().flat_map(|r| &r.updates) {
        match p.update_id {
            None => {
                storage::updates::record_from(&mut *tx, p.bot, p.tenant, p.dead_key, &p.body, "dead", p.user_id).await?;
            }
            Some(update_id) => {
                let fresh = storage::updates::record_from(&mut *tx, p.bot, p.tenant, update_id, &p.body, "stored", p.user_id).await?;
                if let (true, Some(job)) = (fresh, &p.job) {
                    queue.enqueue_in(&mut tx, job).await?;
                    if !woken.contains(&job.queue) {
                        woken.push(job.queue);
                    }
                }
            }
        }
    }
    // After the updates, in their transaction: the offset that confirms them to Telegram.
    for o in batch.iter().filter_map(|r| r.offset) {
        storage::polling::set_offset(&mut *tx, o.bot, o.next).await?;
    }
    tx.commit().await?;
    for q in woken {
        queue.notify(q);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::peek;

    #[test]
    fn media_messages_take_their_conversations_lane_and_every_update_names_its_sender() {
        // A photo (no text) is a message of the customer's conversation like any other: it waits
        // behind that conversation's earlier updates (the serial key), never beside them.
        let photo = br#"{"update_id":1,"message":{"message_id":5,"date":1,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"A"},"photo":[{"file_id":"f","file_unique_id":"u","width":1,"height":1}],"caption":"price?"}}"#;
        let p = peek(photo);
        assert_eq!((p.lane, p.chat.as_deref(), p.from), (crate::jobs::DEFAULT, Some("42"), Some(42)));
        let group_sticker = br#"{"update_id":2,"message":{"message_id":6,"date":1,"chat":{"id":-100,"type":"group"},"from":{"id":7,"is_bot":false,"first_name":"B"},"sticker":{"file_id":"s","file_unique_id":"u","type":"regular","width":1,"height":1,"is_animated":false,"is_video":false}}}"#;
        assert_eq!(peek(group_sticker).chat.as_deref(), Some("-100:7"));
        let press = br#"{"update_id":3,"callback_query":{"id":"q","from":{"id":9,"is_bot":false,"first_name":"C"},"chat_instance":"1","data":"x","message":{"message_id":1,"date":1,"chat":{"id":9,"type":"private"}}}}"#;
        assert_eq!((peek(press).chat.as_deref(), peek(press).from), (Some("9"), Some(9)));
        let checkout = br#"{"update_id":4,"pre_checkout_query":{"id":"p","from":{"id":11,"is_bot":false,"first_name":"D"},"currency":"XTR","total_amount":1,"invoice_payload":"x"}}"#;
        let p = peek(checkout);
        assert_eq!((p.lane, p.chat, p.from), (crate::jobs::PRIORITY, None, Some(11)));
        let edited = br#"{"update_id":5,"edited_message":{"message_id":5,"date":1,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"A"},"text":"x"}}"#;
        assert_eq!(peek(edited).from, Some(42));
        assert_eq!(peek(b"not json").from, None);
    }

    #[test]
    fn one_bots_managed_bot_updates_are_handled_one_at_a_time() {
        let update = |id: i64, owner: i64| {
            format!(r#"{{"update_id":{id},"managed_bot":{{"user":{{"id":{owner},"is_bot":false,"first_name":"O"}},"bot":{{"id":777,"is_bot":true,"first_name":"Shop","username":"shop_bot"}}}}}}"#)
        };
        let (new_token, new_owner) = (peek(update(1, 5).as_bytes()), peek(update(2, 6).as_bytes()));
        assert_eq!((new_token.lane, new_token.chat.as_deref(), new_token.from), (crate::jobs::DEFAULT, Some("managed:777"), Some(5)));
        assert_eq!(new_owner.chat, new_token.chat, "the same bot: the same serial key");
    }
}
