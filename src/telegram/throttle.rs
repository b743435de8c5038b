//! The outbound throttle: keeps each bot inside Telegram's limits
//! (<https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this>).
//!
//! - FIFO per chat, and at most one call in flight per chat, so messages arrive in order.
//! - Private chats: about 1 message per second, with short bursts (a token bucket).
//! - Groups (negative chat ids): 20 messages per minute.
//! - Per bot: 30 messages per second across all chats.
//! - A 429 pauses only that bot for `retry_after`; the call is retried, not failed.
//!
//! Every bot has its own worker task, so one slow or rate-limited bot never delays another.
//! Windows are a little longer than Telegram's nominal ones, so that network jitter between
//! our clock and Telegram's cannot turn an exact-limit schedule into a breach.
//!
//! Only calls that post into a chat go through here (`sendMessage`, `sendInvoice`,
//! `editMessageText`); drafts and configuration calls use the [`Client`] directly.
use super::client::Client;
use super::error::TelegramError;
use super::methods::{Method, SendMessage};
use super::types::Message;
use crate::domain::{BotId, BotToken, ChatId};
use futures::future::BoxFuture;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// The limits the throttle keeps to.
#[derive(Debug, Clone)]
pub struct ThrottleLimits {
    /// Messages a private chat may receive at once before the steady rate applies.
    pub private_burst: u32,
    /// Steady interval between messages to one private chat.
    pub private_interval: Duration,
    /// Messages per `group_window` to one group.
    pub group_max: u32,
    pub group_window: Duration,
    /// Messages per `bot_window` from one bot, all chats together.
    pub bot_max: u32,
    pub bot_window: Duration,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            private_burst: 3,
            private_interval: Duration::from_secs(1),
            group_max: 20,
            group_window: Duration::from_secs(61),
            bot_max: 30,
            bot_window: Duration::from_millis(1050),
        }
    }
}

type Call = Arc<dyn Fn() -> BoxFuture<'static, Result<serde_json::Value, TelegramError>> + Send + Sync>;

struct Job {
    chat: i64,
    call: Call,
    reply: oneshot::Sender<Result<serde_json::Value, TelegramError>>,
}

enum Event {
    Job(Job),
    Done { job: Job, result: Result<serde_json::Value, TelegramError> },
}

/// Per-bot throttling for any number of bots; cheap to clone.
#[derive(Clone)]
pub struct Throttle {
    client: Option<Client>,
    limits: Arc<ThrottleLimits>,
    workers: Arc<Mutex<HashMap<i64, mpsc::UnboundedSender<Event>>>>,
}

impl Throttle {
    /// A throttle that sends through `client`.
    pub fn new(client: Client, limits: ThrottleLimits) -> Self {
        Self { client: Some(client), limits: Arc::new(limits), workers: Arc::default() }
    }

    /// A throttle for [`Throttle::submit`] only (tests, custom transports).
    pub fn without_client(limits: ThrottleLimits) -> Self {
        Self { client: None, limits: Arc::new(limits), workers: Arc::default() }
    }

    /// Sends a message in its turn. Waits for the chat's and the bot's limits; retries after 429.
    pub async fn send_message(&self, token: &BotToken, request: SendMessage) -> Result<Message, TelegramError> {
        let chat = request.chat_id.id().unwrap_or(ChatId(0));
        self.call(token, chat, request).await
    }

    /// Calls a chat-posting method `request` addressed to `chat`, in its turn.
    pub async fn call<M>(&self, token: &BotToken, chat: ChatId, request: M) -> Result<M::Response, TelegramError>
    where
        M: Method + Send + Sync + 'static,
    {
        let client = self.client.clone().ok_or_else(|| TelegramError::Network("throttle has no client".into()))?;
        let body = Arc::new(serde_json::to_value(&request).map_err(|e| TelegramError::BadRequest(e.to_string()))?);
        let token = token.clone();
        let bot = token.bot_id();
        let call: Call = Arc::new(move || {
            let (client, token, body) = (client.clone(), token.clone(), body.clone());
            Box::pin(async move { client.call_raw(&token, M::NAME, &body).await })
        });
        let value = self.submit(bot, chat, call).await?;
        serde_json::from_value(value).map_err(|e| TelegramError::Server(format!("unexpected {} result: {e}", M::NAME)))
    }

    /// Queues `call` for `chat` of `bot` and resolves with its result once it was sent (after any
    /// 429 retries). `call` may run more than once.
    pub async fn submit(
        &self,
        bot: BotId,
        chat: ChatId,
        call: Arc<dyn Fn() -> BoxFuture<'static, Result<serde_json::Value, TelegramError>> + Send + Sync>,
    ) -> Result<serde_json::Value, TelegramError> {
        let (tx, rx) = oneshot::channel();
        let job = Job { chat: chat.0, call, reply: tx };
        {
            let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
            let sender = workers.entry(bot.0).or_insert_with(|| spawn_worker(self.limits.clone()));
            if let Err(mpsc::error::SendError(Event::Job(job))) = sender.send(Event::Job(job)) {
                // The worker ended (its runtime was shut down); start a fresh one.
                let fresh = spawn_worker(self.limits.clone());
                let _ = fresh.send(Event::Job(job));
                *sender = fresh;
            }
        }
        rx.await.map_err(|_| TelegramError::Network("throttle worker stopped".into()))?
    }
}

fn spawn_worker(limits: Arc<ThrottleLimits>) -> mpsc::UnboundedSender<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(BotWorker::new(limits, tx.downgrade()).run(rx));
    tx
}

#[derive(Default)]
struct ChatQueue {
    queue: VecDeque<Job>,
    in_flight: bool,
    /// Private chats: token bucket level and when it was last refilled.
    tokens: f64,
    refilled: Option<Instant>,
    /// Groups: send times within the window.
    sent: VecDeque<Instant>,
}

struct BotWorker {
    limits: Arc<ThrottleLimits>,
    me: mpsc::WeakUnboundedSender<Event>,
    chats: HashMap<i64, ChatQueue>,
    /// Chats with queued work, in arrival order of their first pending job (fairness).
    order: VecDeque<i64>,
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
    in_flight: usize,
}

impl BotWorker {
    fn new(limits: Arc<ThrottleLimits>, me: mpsc::WeakUnboundedSender<Event>) -> Self {
        Self { limits, me, chats: HashMap::new(), order: VecDeque::new(), sent: VecDeque::new(), paused_until: None, in_flight: 0 }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Event>) {
        loop {
            while let Ok(ev) = rx.try_recv() {
                self.handle(ev);
            }
            let now = Instant::now();
            let wake = self.dispatch(now);
            let event = match wake {
                Some(at) => tokio::select! {
                    ev = rx.recv() => ev,
                    _ = tokio::time::sleep_until(at) => continue,
                },
                None => rx.recv().await,
            };
            match event {
                Some(ev) => self.handle(ev),
                None => return,
            }
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Job(job) => {
                let chat = job.chat;
                let q = self.chats.entry(chat).or_default();
                if q.queue.is_empty() && !q.in_flight {
                    self.order.push_back(chat);
                }
                q.queue.push_back(job);
            }
            Event::Done { job, result } => {
                self.in_flight -= 1;
                let chat = job.chat;
                let q = self.chats.entry(chat).or_default();
                q.in_flight = false;
                match result {
                    Err(TelegramError::RetryAfter(secs)) => {
                        let until = Instant::now() + Duration::from_secs(secs.max(1));
                        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
                        q.queue.push_front(job);
                    }
                    other => {
                        let _ = job.reply.send(other);
                    }
                }
                if !q.queue.is_empty() {
                    self.order.push_back(chat);
                }
                self.prune();
            }
        }
    }

    /// Forgets idle chats whose limits have fully recovered, so memory follows active chats.
    fn prune(&mut self) {
        if self.chats.len() < 4096 {
            return;
        }
        let now = Instant::now();
        let l = self.limits.clone();
        self.chats.retain(|&chat, q| {
            let busy = q.in_flight || !q.queue.is_empty();
            let recovering = if is_group(chat) {
                q.sent.back().is_some_and(|t| now.duration_since(*t) < l.group_window)
            } else {
                q.refilled.is_some_and(|t| now.duration_since(t) < l.private_interval * l.private_burst)
            };
            busy || recovering
        });
    }

    /// Starts every call that may go now; returns when to look again, if anything is waiting.
    fn dispatch(&mut self, now: Instant) -> Option<Instant> {
        if let Some(p) = self.paused_until {
            if now < p {
                return (!self.order.is_empty()).then_some(p);
            }
            self.paused_until = None;
        }
        let mut wake: Option<Instant> = None;
        let mut still_waiting = VecDeque::new();
        while let Some(chat) = self.order.pop_front() {
            while self.sent.front().is_some_and(|t| now.duration_since(*t) >= self.limits.bot_window) {
                self.sent.pop_front();
            }
            if self.sent.len() >= self.limits.bot_max as usize {
                let at = self.sent[0] + self.limits.bot_window;
                wake = Some(wake.map_or(at, |w| w.min(at)));
                still_waiting.push_back(chat);
                still_waiting.extend(self.order.drain(..));
                break;
            }
            let Some(q) = self.chats.get_mut(&chat) else { continue };
            if q.in_flight || q.queue.is_empty() {
                continue;
            }
            match chat_ready_at(q, chat, &self.limits, now) {
                Some(at) => {
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                    still_waiting.push_back(chat);
                }
                None => {
                    take_chat_slot(q, chat, &self.limits, now);
                    self.sent.push_back(now);
                    q.in_flight = true;
                    self.in_flight += 1;
                    let Some(job) = q.queue.pop_front() else { continue };
                    let Some(me) = self.me.upgrade() else { return None };
                    tokio::spawn(async move {
                        let result = (job.call)().await;
                        let _ = me.send(Event::Done { job, result });
                    });
                }
            }
        }
        self.order = still_waiting;
        wake
    }
}

fn is_group(chat: i64) -> bool {
    chat < 0
}

/// `None` if the chat may receive a message now, else when it may.
fn chat_ready_at(q: &mut ChatQueue, chat: i64, l: &ThrottleLimits, now: Instant) -> Option<Instant> {
    if is_group(chat) {
        while q.sent.front().is_some_and(|t| now.duration_since(*t) >= l.group_window) {
            q.sent.pop_front();
        }
        (q.sent.len() >= l.group_max as usize).then(|| q.sent[0] + l.group_window)
    } else {
        refill(q, l, now);
        (q.tokens < 1.0).then(|| now + l.private_interval.mul_f64(1.0 - q.tokens))
    }
}

fn refill(q: &mut ChatQueue, l: &ThrottleLimits, now: Instant) {
    match q.refilled {
        None => q.tokens = l.private_burst as f64,
        Some(t) => {
            let gained = now.duration_since(t).as_secs_f64() / l.private_interval.as_secs_f64();
            q.tokens = (q.tokens + gained).min(l.private_burst as f64);
        }
    }
    q.refilled = Some(now);
}

fn take_chat_slot(q: &mut ChatQueue, chat: i64, l: &ThrottleLimits, now: Instant) {
    if is_group(chat) {
        q.sent.push_back(now);
    } else {
        refill(q, l, now);
        q.tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    type Log = Arc<Mutex<Vec<(i64, i64, Instant)>>>;

    /// A call that records (bot, chat, time) and answers 429 the first `fail_first` times.
    fn recording(log: Log, bot: i64, chat: i64, seq: i64, fail_first: Arc<AtomicUsize>, retry_after: u64) -> Call {
        Arc::new(move || {
            let log = log.clone();
            let fail = fail_first.clone();
            Box::pin(async move {
                if fail.load(Ordering::SeqCst) > 0 {
                    fail.fetch_sub(1, Ordering::SeqCst);
                    return Err(TelegramError::RetryAfter(retry_after));
                }
                log.lock().unwrap().push((bot, chat, Instant::now()));
                Ok(serde_json::json!(seq))
            })
        })
    }

    #[tokio::test(start_paused = true)]
    async fn private_chat_gets_a_burst_then_one_per_second_in_order() {
        let t = Throttle::without_client(ThrottleLimits::default());
        let log: Log = Arc::default();
        let start = Instant::now();
        let mut handles = Vec::new();
        for i in 0..8 {
            let call = recording(log.clone(), 1, 42, i, Arc::new(AtomicUsize::new(0)), 0);
            let t = t.clone();
            handles.push(tokio::spawn(async move { t.submit(BotId(1), ChatId(42), call).await }));
            tokio::task::yield_now().await;
        }
        let results: Vec<i64> = futures::future::join_all(handles).await.into_iter().map(|r| r.unwrap().unwrap().as_i64().unwrap()).collect();
        assert_eq!(results, (0..8).collect::<Vec<_>>());
        let times: Vec<Duration> = log.lock().unwrap().iter().map(|e| e.2 - start).collect();
        assert!(times[2] < Duration::from_millis(10), "burst of 3: {times:?}");
        for w in times[3..].windows(2) {
            assert!(w[1] - w[0] >= Duration::from_millis(999), "{times:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_only_the_limited_bot() {
        let t = Throttle::without_client(ThrottleLimits::default());
        let log: Log = Arc::default();
        let start = Instant::now();
        let limited = t.submit(BotId(1), ChatId(5), recording(log.clone(), 1, 5, 0, Arc::new(AtomicUsize::new(1)), 7));
        let other = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            t.submit(BotId(2), ChatId(5), recording(log.clone(), 2, 5, 0, Arc::new(AtomicUsize::new(0)), 0)).await
        };
        let (a, b) = tokio::join!(limited, other);
        assert!(a.is_ok() && b.is_ok());
        let log = log.lock().unwrap();
        let at = |bot| log.iter().find(|e| e.0 == bot).unwrap().2 - start;
        assert!(at(1) >= Duration::from_secs(7), "bot 1 retried after {:?}", at(1));
        assert!(at(2) < Duration::from_millis(200), "bot 2 was delayed to {:?}", at(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bot_never_exceeds_its_global_rate_and_groups_their_minute_limit() {
        let limits = ThrottleLimits::default();
        let t = Throttle::without_client(limits.clone());
        let log: Log = Arc::default();
        let mut handles = Vec::new();
        for i in 0..120 {
            let chat = if i < 25 { -100 } else { i };
            let call = recording(log.clone(), 1, chat, i, Arc::new(AtomicUsize::new(0)), 0);
            let t = t.clone();
            handles.push(tokio::spawn(async move { t.submit(BotId(1), ChatId(chat), call).await }));
        }
        for h in handles {
            h.await.unwrap().unwrap();
        }
        let log = log.lock().unwrap();
        let times: Vec<Instant> = log.iter().map(|e| e.2).collect();
        for (i, t0) in times.iter().enumerate() {
            let in_window = times[i..].iter().filter(|t| **t - *t0 < Duration::from_secs(1)).count();
            assert!(in_window <= 30, "{in_window} sends within 1 s");
        }
        let group: Vec<Instant> = log.iter().filter(|e| e.1 == -100).map(|e| e.2).collect();
        assert_eq!(group.len(), 25);
        assert!(group[20] - group[0] >= Duration::from_secs(60), "21st group message came too early");
    }
}
