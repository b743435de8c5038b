//! Group commit for webhook ingress. Every webhook request hands its update (and the job it
//! needs) to one writer task and waits; the writer stores everything that has arrived meanwhile
//! in a single transaction — one fsync for the lot — and only after the commit answers each
//! request. Durability per update is unchanged (nothing is acknowledged before its row and job
//! are committed); the cost of a commit is shared, which is what lets SQLite take thousands of
//! webhooks a second instead of one per fsync.
//!
//! The writer is one of the application's tracked tasks: it stops after the web server, and a
//! failure of it stops the process.
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

/// Handle to the writer task. Cheap to clone.
#[derive(Clone)]
pub struct Ingress {
    tx: mpsc::Sender<(Pending, Waiter)>,
}

/// The writer task, to be run (and tracked) by the application: [`Writer::run`].
pub struct Writer {
    db: Db,
    queue: Queue,
    rx: mpsc::Receiver<(Pending, Waiter)>,
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
        let (done, wait) = oneshot::channel();
        self.tx.send((p, done)).await.map_err(|_| anyhow::anyhow!("the ingress writer has stopped"))?;
        wait.await.map_err(|_| anyhow::anyhow!("the ingress writer has stopped"))?.map_err(|e| anyhow::anyhow!("storing the update: {e}"))
    }
}

type Waiter = oneshot::Sender<Result<(), String>>;

impl Writer {
    /// Stores batches until `stop` (once the web server has answered its last request), then
    /// stores what has arrived meanwhile and returns. Later requests get an error (a 500:
    /// Telegram redelivers), never a false acknowledgement.
    pub async fn run(mut self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut batch: Vec<(Pending, Waiter)> = Vec::with_capacity(MAX_BATCH);
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
            if batch.len() == MAX_BATCH {
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
    async fn write_batch(&mut self, batch: &mut Vec<(Pending, Waiter)>) {
        while batch.len() < MAX_BATCH {
            match self.rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let outcome = write(&self.db, &self.queue, batch).await;
        if let Err(e) = &outcome {
            tracing::error!(error = format!("{e:#}"), updates = batch.len(), "could not store a batch of webhook updates; Telegram will redeliver them");
        }
        for (_, waiter) in batch.drain(..) {
            let _ = waiter.send(outcome.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        }
    }
}

async fn write(db: &Db, queue: &Queue, batch: &[(Pending, Waiter)]) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    let mut woken: Vec<&'static str> = Vec::new();
    for (p, _) in batch {
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
    tx.commit().await?;
    for q in woken {
        queue.notify(q);
    }
    Ok(())
}
