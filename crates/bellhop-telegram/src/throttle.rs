//! The outbound throttle: keeps each bot inside Telegram's limits
//! (<https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this>).
//!
//! - FIFO per chat, and at most one call in flight per chat, so messages arrive in order.
//! - Private chats: about 1 message per second, with short bursts (a token bucket).
//! - Groups (negative chat ids): 20 messages per minute.
//! - Per bot: 30 messages per second across all chats.
//! - A 429 pauses only the chat it came from for `retry_after` (the bot's other chats and other
//!   bots go on); the call is retried, up to [`ThrottleLimits::max_retries`] times and
//!   [`ThrottleLimits::max_retry_wait`] of waiting, then the caller gets the `RetryAfter` (a job
//!   goes back to the durable queue rather than wait in memory without end). The throttle keeps
//!   the per-bot limit itself, so a 429 is a chat's flood control, as Telegram's per-chat limits
//!   and the sandbox report it.
//! - Bounded: at most [`ThrottleLimits::max_queued_per_chat`] calls waiting for one chat and
//!   [`ThrottleLimits::max_queued_per_bot`] for one bot; beyond that a call fails at once with
//!   [`TelegramError::QueueFull`] (transient) instead of growing memory and delay without limit.
//!
//! Every bot has its own worker task, so one slow or rate-limited bot never delays another.
//!
//! **Several processes.** The limits above hold within one process. When several processes send
//! for the same bots (web and worker processes on one database), a [`Pacer`] shared by all of them
//! ([`Throttle::with_pacer`]) books each message's moment for the whole cluster before it is sent
//! — by [`PACE_BOT`] and [`PACE_PRIVATE`] / [`PACE_GROUP`], with margins below Telegram's limits so
//! that network jitter between our send and Telegram's count cannot push a window over — and a 429
//! pauses the chat for every process. The in-process limits still apply on top.
//!
//! Window limits count a call from the moment it is sent until `window` after its response:
//! Telegram counts arrivals, and an arrival lies somewhere between our send and the response, so
//! this is the rule that holds whatever the network does (a burst of slow requests followed by
//! fast ones must not squeeze more than the limit into one of Telegram's windows).
//!
//! **Withdrawn at its turn.** A call runs when its turn comes, which may be a second or more after
//! it was queued. Just before its request goes out the throttle checks that it is still wanted:
//! a call whose caller stopped waiting (its future was dropped) is not sent, and a caller may give
//! a [`Preflight`] — for example, claiming a stored reply as "being sent" in its database — that
//! runs then, after every wait, and cancels the call with its error. A process that stops while a
//! message waits for its turn has therefore claimed nothing: the message is still to be sent, by
//! whoever runs the job next. Either way the caller gets [`TelegramError::Withdrawn`] or the
//! preflight's error, and nothing reached Telegram.
//!
//! **Which methods go through it** ([`crate::Method::posts_to`]): every method that puts
//! something visible into a chat — `sendMessage`, `sendInvoice` (an invoice is a message) and
//! `editMessageText` (Telegram answers too-frequent edits with 429 like sends) — and, when bellhop
//! adds them, media, copies and forwards. A [`Client`] built with [`Client::with_throttle`]
//! routes them here from `Client::call` and `Bot::call`, so no caller can bypass it by accident.
//! Not throttled: `sendMessageDraft` and `sendChatAction` (ephemeral previews and "typing…"
//! statuses, not messages: Telegram documents no message limit for them, callers ignore their
//! failures, and queueing them behind real messages would only show them late), answers to
//! callback and pre-checkout queries (not posts, and a pre-checkout answer must arrive within
//! 10 s), and configuration calls.
use super::client::Client;
use super::error::TelegramError;
use super::methods::{Method, SendMessage};
use super::types::Message;
use crate::ids::{BotId, ChatId};
use crate::token::BotToken;
use futures::future::BoxFuture;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A rate as a generic cell rate (GCRA): one message per `interval`, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaceRule {
    pub interval: Duration,
    pub burst: u32,
}

/// A bot, all chats together: 25 messages a second, evenly spaced (Telegram: 30 per second).
pub const PACE_BOT: PaceRule = PaceRule { interval: Duration::from_millis(40), burst: 1 };
/// A private chat: 3 at once, then one a second (Telegram, as the sandbox models it: 4, then 1/s).
pub const PACE_PRIVATE: PaceRule = PaceRule { interval: Duration::from_secs(1), burst: 3 };
/// A group: one every 3.2 s, under 19 a minute (Telegram: 20 per minute).
pub const PACE_GROUP: PaceRule = PaceRule { interval: Duration::from_millis(3200), burst: 1 };

impl PaceRule {
    /// The rule for messages to `chat` (groups have negative ids).
    pub fn for_chat(chat: ChatId) -> PaceRule {
        if is_group(chat.0) { PACE_GROUP } else { PACE_PRIVATE }
    }

    /// How far ahead of its theoretical arrival time a message may go (GCRA's tolerance).
    pub fn tolerance(&self) -> Duration {
        self.interval * self.burst.saturating_sub(1)
    }
}

/// The moment (Unix ms) a message may go, given each key's stored theoretical arrival time
/// (`next_at`, Unix ms) and rule, at `now`; and each key's next theoretical arrival time after it.
/// The arithmetic of every [`Pacer`].
pub fn pace(now_ms: i64, keys: &[(i64, PaceRule)]) -> (i64, Vec<i64>) {
    let at = keys.iter().fold(now_ms, |at, (next, rule)| at.max(next - rule.tolerance().as_millis() as i64));
    let after = keys.iter().map(|(next, rule)| (*next).max(at) + rule.interval.as_millis() as i64).collect();
    (at, after)
}

/// Telegram's limits kept for every process that shares this pacer (a table in the database
/// they share): see the module's documentation.
pub trait Pacer: Send + Sync + 'static {
    /// Books the next moment a message from `bot` to `chat` may be sent, under [`PACE_BOT`] and
    /// [`PaceRule::for_chat`], and returns how long from now that is. An error fails the call as a
    /// transient failure (nothing is sent).
    fn reserve(&self, bot: BotId, chat: ChatId) -> BoxFuture<'static, Result<Duration, TelegramError>>;
    /// Telegram answered `chat` with 429: no process sends there for `wait`.
    fn pause(&self, bot: BotId, chat: ChatId, wait: Duration) -> BoxFuture<'static, ()>;
}

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
    /// Calls one chat may have waiting (or in flight); more fail with `QueueFull`. 64 is about a
    /// minute of a private chat's rate and three of a group's.
    pub max_queued_per_chat: usize,
    /// Calls one bot may have waiting (or in flight) over all its chats; more fail with
    /// `QueueFull`. 4,096 is about two minutes at the bot's 30 messages per second.
    pub max_queued_per_bot: usize,
    /// How many times one call is retried after a 429 before its caller gets the `RetryAfter`.
    pub max_retries: u32,
    /// How long one call may wait out 429s in total; a `retry_after` that would go past it is
    /// returned to the caller at once (the chat stays paused for everyone either way).
    pub max_retry_wait: Duration,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            private_burst: 3,
            private_interval: Duration::from_secs(1),
            group_max: 20,
            group_window: Duration::from_secs(60),
            bot_max: 30,
            bot_window: Duration::from_millis(1000),
            max_queued_per_chat: 64,
            max_queued_per_bot: 4096,
            max_retries: 20,
            max_retry_wait: Duration::from_secs(60),
        }
    }
}

type Call = Arc<dyn Fn() -> BoxFuture<'static, Result<serde_json::Value, TelegramError>> + Send + Sync>;

type Check = Box<dyn FnMut() -> BoxFuture<'static, Result<(), TelegramError>> + Send>;

/// A check run right before a call's request goes out (after the throttle's and the pacer's
/// waits); an error cancels the call with that error, and nothing is sent. See the module's
/// documentation ("Withdrawn at its turn").
///
/// The check holds until it is undone: a call answered 429 (Telegram refused it; nothing was
/// delivered) that waits out `retry_after` and tries again is not checked again — unless the
/// preflight has an [`undo`](Preflight::undone_by), which then runs as soon as the 429 arrives
/// and the check runs again at the retry's turn. A claim ("this message is being sent") is thus
/// not held during a 429's wait: a process stopped in it leaves the message still to be sent.
pub struct Preflight {
    check: Check,
    undo: Option<Check>,
    /// The check passed and was not undone since.
    holds: bool,
}

impl Preflight {
    /// A preflight running `check`.
    pub fn new(check: impl FnMut() -> BoxFuture<'static, Result<(), TelegramError>> + Send + 'static) -> Self {
        Preflight { check: Box::new(check), undo: None, holds: false }
    }

    /// With `undo`, run after a 429 to take back what the check did; when it fails, the check
    /// is taken to still hold (and is not run again).
    pub fn undone_by(mut self, undo: impl FnMut() -> BoxFuture<'static, Result<(), TelegramError>> + Send + 'static) -> Self {
        self.undo = Some(Box::new(undo));
        self
    }

    /// Runs `note` each time the check runs: at the call's turn, right before its request goes
    /// out (after the limits' waits and any 429's pause: what the caller may leave out of its
    /// own time).
    pub fn before_each(mut self, mut note: impl FnMut() + Send + 'static) -> Self {
        let mut check = self.check;
        self.check = Box::new(move || {
            note();
            check()
        });
        self
    }

    /// Runs the check unless it holds already.
    pub async fn check(&mut self) -> Result<(), TelegramError> {
        if !self.holds {
            (self.check)().await?;
            self.holds = true;
        }
        Ok(())
    }

    /// After a 429: undoes the check, if the preflight can.
    pub async fn undo(&mut self) {
        if let (true, Some(undo)) = (self.holds, self.undo.as_mut()) {
            self.holds = undo().await.is_err();
        }
    }
}

struct Job {
    chat: i64,
    call: Call,
    /// Checked before each request; undone after a 429 (see [`Preflight`]).
    preflight: Option<Preflight>,
    reply: oneshot::Sender<Result<serde_json::Value, TelegramError>>,
    /// 429s this call has waited out so far, and for how long in total.
    retries: u32,
    waited: Duration,
    /// Holds the call's place in the queue bounds until the job is dropped.
    _slot: Slot,
}

/// Calls submitted for one bot and not finished yet, in total and per chat.
#[derive(Default)]
struct Pending {
    total: usize,
    per_chat: HashMap<i64, usize>,
}

/// One call's share of [`Pending`]; given back when the job ends, however it ends.
struct Slot {
    pending: Arc<Mutex<Pending>>,
    chat: i64,
}

impl Slot {
    /// Takes a place for `chat` if the bounds allow it.
    fn take(pending: &Arc<Mutex<Pending>>, chat: i64, limits: &ThrottleLimits) -> Option<Slot> {
        let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
        let in_chat = p.per_chat.get(&chat).copied().unwrap_or(0);
        if p.total >= limits.max_queued_per_bot || in_chat >= limits.max_queued_per_chat {
            return None;
        }
        p.total += 1;
        *p.per_chat.entry(chat).or_default() += 1;
        Some(Slot { pending: pending.clone(), chat })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.total -= 1;
        if let Some(n) = p.per_chat.get_mut(&self.chat) {
            *n -= 1;
            if *n == 0 {
                p.per_chat.remove(&self.chat);
            }
        }
    }
}

/// A bot's worker and its queue bounds.
struct WorkerHandle {
    tx: mpsc::UnboundedSender<Event>,
    pending: Arc<Mutex<Pending>>,
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
    pacer: Option<Arc<dyn Pacer>>,
    workers: Arc<Mutex<HashMap<i64, WorkerHandle>>>,
}

impl Throttle {
    /// A throttle that sends through `client`.
    pub fn new(client: Client, limits: ThrottleLimits) -> Self {
        Self { client: Some(client), limits: Arc::new(limits), pacer: None, workers: Arc::default() }
    }

    /// Books every message with `pacer` too, so the limits hold across the processes sharing it.
    pub fn with_pacer(mut self, pacer: Arc<dyn Pacer>) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// The cluster-wide pacer, if any.
    pub fn pacer(&self) -> Option<Arc<dyn Pacer>> {
        self.pacer.clone()
    }

    /// The limits this throttle keeps to.
    pub fn limits(&self) -> &ThrottleLimits {
        &self.limits
    }

    /// A throttle for [`Throttle::submit`] only (tests, custom transports).
    pub fn without_client(limits: ThrottleLimits) -> Self {
        Self { client: None, limits: Arc::new(limits), pacer: None, workers: Arc::default() }
    }

    /// Queues a message at once (so calls made in order are sent in order) and returns a future
    /// that resolves when it was sent: after the chat's and the bot's limits allow it, and after
    /// any 429 retries.
    pub fn send_message(&self, token: &BotToken, request: SendMessage) -> impl Future<Output = Result<Message, TelegramError>> + Send + 'static {
        let chat = request.chat_id.id().unwrap_or(ChatId(0));
        self.call(token, chat, &request)
    }

    /// Queues a chat-posting method `request` addressed to `chat`; see [`Throttle::send_message`].
    pub fn call<M: Method>(&self, token: &BotToken, chat: ChatId, request: &M) -> impl Future<Output = Result<M::Response, TelegramError>> + Send + use<M> {
        self.call_with(token, chat, request, None)
    }

    /// [`Throttle::call`], with `preflight` run right before the request goes out.
    pub fn call_with<M: Method>(&self, token: &BotToken, chat: ChatId, request: &M, preflight: Option<Preflight>) -> impl Future<Output = Result<M::Response, TelegramError>> + Send + use<M> {
        let queued = match (self.client.clone(), serde_json::to_value(request)) {
            (Some(client), Ok(body)) => {
                let body = Arc::new(body);
                let token = token.clone();
                let bot = token.bot_id();
                let name = M::NAME;
                let call: Call = Arc::new(move || {
                    let (client, token, body) = (client.clone(), token.clone(), body.clone());
                    Box::pin(async move { client.call_raw(&token, name, &body).await })
                });
                Ok(self.submit_with(bot, chat, call, preflight))
            }
            (None, _) => Err(TelegramError::Network("throttle has no client".into())),
            (_, Err(e)) => Err(TelegramError::BadRequest(e.to_string())),
        };
        async move {
            let value = queued?.await?;
            crate::client::decode_result::<M>(value)
        }
    }

    /// Queues `call` for `chat` of `bot` now; the future resolves with its result once it was
    /// sent (after any 429 retries), or at once with `QueueFull` when the chat's or the bot's
    /// queue is full. `call` may run more than once.
    pub fn submit(
        &self,
        bot: BotId,
        chat: ChatId,
        call: Arc<dyn Fn() -> BoxFuture<'static, Result<serde_json::Value, TelegramError>> + Send + Sync>,
    ) -> impl Future<Output = Result<serde_json::Value, TelegramError>> + Send + use<> {
        self.submit_with(bot, chat, call, None)
    }

    /// [`Throttle::submit`], with `preflight` run right before the request goes out.
    pub fn submit_with(
        &self,
        bot: BotId,
        chat: ChatId,
        call: Arc<dyn Fn() -> BoxFuture<'static, Result<serde_json::Value, TelegramError>> + Send + Sync>,
        preflight: Option<Preflight>,
    ) -> impl Future<Output = Result<serde_json::Value, TelegramError>> + Send + use<> {
        let (tx, rx) = oneshot::channel();
        let queued = {
            let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
            let worker = workers.entry(bot.0).or_insert_with(|| spawn_worker(self.limits.clone(), bot, self.pacer.clone()));
            match Slot::take(&worker.pending, chat.0, &self.limits) {
                None => false,
                Some(slot) => {
                    let job = Job { chat: chat.0, call, preflight, reply: tx, retries: 0, waited: Duration::ZERO, _slot: slot };
                    if let Err(mpsc::error::SendError(Event::Job(job))) = worker.tx.send(Event::Job(job)) {
                        // The worker ended (its runtime was shut down); start a fresh one.
                        let fresh = spawn_worker(self.limits.clone(), bot, self.pacer.clone());
                        let _ = fresh.tx.send(Event::Job(job));
                        *worker = fresh;
                    }
                    true
                }
            }
        };
        async move {
            if !queued {
                return Err(TelegramError::QueueFull);
            }
            rx.await.map_err(|_| TelegramError::Network("throttle worker stopped".into()))?
        }
    }
}

fn spawn_worker(limits: Arc<ThrottleLimits>, bot: BotId, pacer: Option<Arc<dyn Pacer>>) -> WorkerHandle {
    // Unbounded channel, bounded contents: `Slot::take` admits a job before it is sent here.
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(BotWorker { bot, pacer, ..BotWorker::new(limits, tx.downgrade()) }.run(rx));
    WorkerHandle { tx, pending: Arc::default() }
}

#[derive(Default)]
struct ChatQueue {
    queue: VecDeque<Job>,
    in_flight: bool,
    /// Private chats: token bucket level and when it was last refilled.
    tokens: f64,
    refilled: Option<Instant>,
    /// Groups: response times of calls still inside the window.
    sent: VecDeque<Instant>,
    /// Set by a 429: nothing goes to this chat before then.
    paused_until: Option<Instant>,
}

struct BotWorker {
    bot: BotId,
    pacer: Option<Arc<dyn Pacer>>,
    limits: Arc<ThrottleLimits>,
    me: mpsc::WeakUnboundedSender<Event>,
    chats: HashMap<i64, ChatQueue>,
    /// Chats with queued work, in arrival order of their first pending job (fairness).
    order: VecDeque<i64>,
    /// Response times of calls still inside the bot window (plus `in_flight` calls).
    sent: VecDeque<Instant>,
    in_flight: usize,
}

impl BotWorker {
    fn new(limits: Arc<ThrottleLimits>, me: mpsc::WeakUnboundedSender<Event>) -> Self {
        Self { bot: BotId(0), pacer: None, limits, me, chats: HashMap::new(), order: VecDeque::new(), sent: VecDeque::new(), in_flight: 0 }
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
                let now = Instant::now();
                self.in_flight -= 1;
                self.sent.push_back(now);
                let chat = job.chat;
                let q = self.chats.entry(chat).or_default();
                q.in_flight = false;
                if is_group(chat) {
                    q.sent.push_back(now);
                }
                match result {
                    Err(TelegramError::RetryAfter(secs)) => {
                        let wait = Duration::from_secs(secs.max(1));
                        q.paused_until = Some(now + wait);
                        if let Some(p) = &self.pacer {
                            tokio::spawn(p.pause(self.bot, ChatId(chat), wait));
                        }
                        if job.retries < self.limits.max_retries && job.waited + wait <= self.limits.max_retry_wait {
                            let mut job = job;
                            job.retries += 1;
                            job.waited += wait;
                            q.queue.push_front(job);
                        } else {
                            let _ = job.reply.send(Err(TelegramError::RetryAfter(secs)));
                        }
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
            let busy = q.in_flight || !q.queue.is_empty() || q.paused_until.is_some_and(|p| p > now);
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
        let mut wake: Option<Instant> = None;
        let mut still_waiting = VecDeque::new();
        while let Some(chat) = self.order.pop_front() {
            while self.sent.front().is_some_and(|t| now.duration_since(*t) >= self.limits.bot_window) {
                self.sent.pop_front();
            }
            if self.sent.len() + self.in_flight >= self.limits.bot_max as usize {
                // Full: a slot frees when the oldest response leaves the window, or when a call
                // in flight answers (a Done event wakes the worker anyway).
                if let Some(oldest) = self.sent.front() {
                    let at = *oldest + self.limits.bot_window;
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                }
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
                    // No sender left means the throttle is gone; the worker ends with it.
                    let me = self.me.upgrade()?;
                    let Some(mut job) = q.queue.pop_front() else { continue };
                    take_chat_slot(q, chat, &self.limits, now);
                    q.in_flight = true;
                    self.in_flight += 1;
                    let (pacer, bot) = (self.pacer.clone(), self.bot);
                    tokio::spawn(async move {
                        let result = async {
                            if let Some(p) = pacer {
                                tokio::time::sleep(p.reserve(bot, ChatId(chat)).await?).await;
                            }
                            if job.reply.is_closed() {
                                return Err(TelegramError::Withdrawn("its caller stopped waiting".into()));
                            }
                            if let Some(p) = job.preflight.as_mut() {
                                p.check().await?;
                            }
                            let result = (job.call)().await;
                            if let (Err(TelegramError::RetryAfter(_)), Some(p)) = (&result, job.preflight.as_mut()) {
                                p.undo().await;
                            }
                            result
                        }
                        .await;
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
    if let Some(until) = q.paused_until {
        if now < until {
            return Some(until);
        }
        q.paused_until = None;
    }
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
    // Groups count the call when it answers (see `Event::Done`); at most one is in flight.
    if !is_group(chat) {
        refill(q, l, now);
        q.tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_books_the_latest_moment_any_rule_allows_and_moves_every_key_past_it() {
        // One bot, one private chat, both fresh: now, and each key one interval on.
        assert_eq!(pace(1000, &[(0, PACE_BOT), (0, PACE_PRIVATE)]), (1000, vec![1040, 2000]));
        // A private chat: three at once, then one a second.
        let mut next = 0;
        let mut times = Vec::new();
        for _ in 0..5 {
            let (at, after) = pace(1000, &[(next, PACE_PRIVATE)]);
            next = after[0];
            times.push(at);
        }
        assert_eq!(times, [1000, 1000, 1000, 2000, 3000]);
        // The bot's spacing holds even when the chat would allow a burst; the chat's clock moves
        // to the moment actually booked.
        assert_eq!(pace(1000, &[(1100, PACE_BOT), (0, PACE_PRIVATE)]), (1100, vec![1140, 2100]));
        // A group: one every 3.2 s.
        assert_eq!(pace(0, &[(3200, PACE_GROUP)]), (3200, vec![6400]));
    }
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
            handles.push(tokio::spawn(t.submit(BotId(1), ChatId(42), call)));
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
    async fn a_call_is_checked_at_its_turn_and_one_withdrawn_there_or_no_longer_awaited_is_not_sent() {
        let t = Throttle::without_client(ThrottleLimits::default());
        let log: Log = Arc::default();
        let start = Instant::now();
        // A burst of three uses the chat's budget: the fourth call waits about a second.
        for i in 0..3 {
            t.submit(BotId(1), ChatId(42), recording(log.clone(), 1, 42, i, Arc::new(AtomicUsize::new(0)), 0)).await.unwrap();
        }
        let checked: Arc<Mutex<Vec<Duration>>> = Arc::default();
        let check = |ok: bool| -> Preflight {
            let checked = checked.clone();
            Preflight::new(move || {
                let checked = checked.clone();
                Box::pin(async move {
                    checked.lock().unwrap().push(start.elapsed());
                    if ok { Ok(()) } else { Err(TelegramError::Withdrawn("another attempt has it".into())) }
                })
            })
        };
        let fourth = t.submit_with(BotId(1), ChatId(42), recording(log.clone(), 1, 42, 3, Arc::new(AtomicUsize::new(0)), 0), Some(check(true)));
        assert_eq!(fourth.await.unwrap(), serde_json::json!(3));
        assert!(checked.lock().unwrap()[0] >= Duration::from_millis(999), "the check ran at queueing, not at the call's turn: {:?}", checked.lock().unwrap());
        // A check that says no: the call is not made, and its caller hears why.
        let refused = t.submit_with(BotId(1), ChatId(42), recording(log.clone(), 1, 42, 4, Arc::new(AtomicUsize::new(0)), 0), Some(check(false)));
        assert!(matches!(refused.await, Err(TelegramError::Withdrawn(_))));
        // A caller that stops waiting (its future dropped while the call waits for its turn): not
        // sent either, and the chat's next message still goes.
        let dropped = t.submit(BotId(1), ChatId(42), recording(log.clone(), 1, 42, 5, Arc::new(AtomicUsize::new(0)), 0));
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(dropped);
        let next = t.submit(BotId(1), ChatId(42), recording(log.clone(), 1, 42, 6, Arc::new(AtomicUsize::new(0)), 0));
        assert_eq!(next.await.unwrap(), serde_json::json!(6));
        assert_eq!(log.lock().unwrap().len(), 5, "calls 0–3 and 6 were made; 4 (refused at its turn) and 5 (no longer awaited) were not");
        assert_eq!(checked.lock().unwrap().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_is_undone_while_its_call_waits_out_a_429_and_runs_again_at_the_retry() {
        let t = Throttle::without_client(ThrottleLimits::default());
        let log: Log = Arc::default();
        // (what happened, when): "check" and "undo" as the preflight saw them.
        let events: Arc<Mutex<Vec<(&'static str, Instant)>>> = Arc::default();
        let preflight = |undo_works: Option<bool>| -> Preflight {
            let e = events.clone();
            let p = Preflight::new(move || {
                let e = e.clone();
                Box::pin(async move {
                    e.lock().unwrap().push(("check", Instant::now()));
                    Ok(())
                })
            });
            let e = events.clone();
            match undo_works {
                None => p,
                Some(ok) => p.undone_by(move || {
                    let e = e.clone();
                    Box::pin(async move {
                        e.lock().unwrap().push(("undo", Instant::now()));
                        if ok { Ok(()) } else { Err(TelegramError::Network("database down".into())) }
                    })
                }),
            }
        };
        let start = Instant::now();
        // Answered 429 (retry_after 2 s) twice, then sent: the claim is given back during each
        // wait and taken again at each retry's turn.
        let call = recording(log.clone(), 1, 42, 0, Arc::new(AtomicUsize::new(2)), 2);
        t.submit_with(BotId(1), ChatId(42), call, Some(preflight(Some(true)))).await.unwrap();
        let seen: Vec<(&str, u64)> = events.lock().unwrap().drain(..).map(|(w, at)| (w, (at - start).as_secs())).collect();
        assert_eq!(seen, [("check", 0), ("undo", 0), ("check", 2), ("undo", 2), ("check", 4)], "undone at once after each 429, checked again at each retry");
        // Without an undo, or when the undo fails, the check holds through the retries.
        for undo in [None, Some(false)] {
            let call = recording(log.clone(), 1, 43, 1, Arc::new(AtomicUsize::new(1)), 1);
            t.submit_with(BotId(1), ChatId(43), call, Some(preflight(undo))).await.unwrap();
            let seen: Vec<&str> = events.lock().unwrap().drain(..).map(|(w, _)| w).collect();
            let expected: &[&str] = if undo.is_some() { &["check", "undo"] } else { &["check"] };
            assert_eq!(seen, expected, "checked once (undo: {undo:?})");
        }
        assert_eq!(log.lock().unwrap().len(), 3, "each call was made once it was not refused");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_only_the_limited_chat() {
        let t = Throttle::without_client(ThrottleLimits::default());
        let log: Log = Arc::default();
        let start = Instant::now();
        let limited = t.submit(BotId(1), ChatId(5), recording(log.clone(), 1, 5, 0, Arc::new(AtomicUsize::new(1)), 7));
        let queued_behind = t.submit(BotId(1), ChatId(5), recording(log.clone(), 1, 5, 1, Arc::new(AtomicUsize::new(0)), 0));
        let other_chat = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            t.submit(BotId(1), ChatId(6), recording(log.clone(), 1, 6, 0, Arc::new(AtomicUsize::new(0)), 0)).await
        };
        let other_bot = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            t.submit(BotId(2), ChatId(5), recording(log.clone(), 2, 5, 0, Arc::new(AtomicUsize::new(0)), 0)).await
        };
        let (a, b, c, d) = tokio::join!(limited, queued_behind, other_chat, other_bot);
        assert!(a.is_ok() && b.is_ok() && c.is_ok() && d.is_ok());
        let log = log.lock().unwrap();
        let at = |bot, chat| log.iter().find(|e| e.0 == bot && e.1 == chat).unwrap().2 - start;
        assert!(at(1, 5) >= Duration::from_secs(7), "the limited chat resumed after {:?}", at(1, 5));
        assert_eq!(b.unwrap(), serde_json::json!(1), "the queued message went after the retried one");
        assert!(at(1, 6) < Duration::from_millis(200), "another chat of the same bot was delayed to {:?}", at(1, 6));
        assert!(at(2, 5) < Duration::from_millis(200), "another bot was delayed to {:?}", at(2, 5));
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
            handles.push(tokio::spawn(t.submit(BotId(1), ChatId(chat), call)));
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

    /// A call that counts its attempts and always answers 429 with `retry_after`.
    fn always_limited(attempts: Arc<AtomicUsize>, retry_after: u64) -> Call {
        Arc::new(move || {
            let attempts = attempts.clone();
            Box::pin(async move {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err(TelegramError::RetryAfter(retry_after))
            })
        })
    }

    /// A call that takes `secs` seconds and succeeds.
    fn slow(secs: u64) -> Call {
        Arc::new(move || {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                Ok(serde_json::json!(true))
            })
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_answered_429_every_time_gives_up_after_the_retry_cap() {
        let limits = ThrottleLimits { max_retries: 3, max_retry_wait: Duration::from_secs(60), ..ThrottleLimits::default() };
        let t = Throttle::without_client(limits);
        let attempts = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let result = t.submit(BotId(1), ChatId(9), always_limited(attempts.clone(), 2)).await;
        assert_eq!(result, Err(TelegramError::RetryAfter(2)), "the last 429 reaches the caller");
        assert_eq!(attempts.load(Ordering::SeqCst), 4, "one call and three retries");
        assert_eq!(start.elapsed().as_secs(), 6, "each retry waited its retry_after");
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_beyond_the_wait_budget_is_returned_at_once_and_still_pauses_the_chat() {
        let limits = ThrottleLimits { max_retry_wait: Duration::from_secs(10), ..ThrottleLimits::default() };
        let t = Throttle::without_client(limits);
        let attempts = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let result = t.submit(BotId(1), ChatId(9), always_limited(attempts.clone(), 30)).await;
        assert_eq!(result, Err(TelegramError::RetryAfter(30)));
        assert_eq!(attempts.load(Ordering::SeqCst), 1, "not retried: 30 s is over the 10 s budget");
        assert!(start.elapsed() < Duration::from_secs(1), "returned at once, not after {:?}", start.elapsed());
        let log: Log = Arc::default();
        let next = t.submit(BotId(1), ChatId(9), recording(log.clone(), 1, 9, 0, Arc::new(AtomicUsize::new(0)), 0)).await;
        assert!(next.is_ok());
        assert!(log.lock().unwrap()[0].2 - start >= Duration::from_secs(30), "the chat stayed paused for retry_after");
    }

    #[tokio::test(start_paused = true)]
    async fn queues_are_bounded_per_chat_and_per_bot() {
        use futures::FutureExt;
        let limits = ThrottleLimits { max_queued_per_chat: 3, max_queued_per_bot: 5, ..ThrottleLimits::default() };
        let t = Throttle::without_client(limits);
        // Chat 1 takes its three places (one in flight, two waiting); a fourth is refused at once.
        let mut held: Vec<_> = (0..3).map(|_| tokio::spawn(t.submit(BotId(1), ChatId(1), slow(5)))).collect();
        assert_eq!(t.submit(BotId(1), ChatId(1), slow(5)).now_or_never(), Some(Err(TelegramError::QueueFull)));
        // Two more chats fill the bot's five; the sixth call is refused whatever its chat.
        held.push(tokio::spawn(t.submit(BotId(1), ChatId(2), slow(5))));
        held.push(tokio::spawn(t.submit(BotId(1), ChatId(3), slow(5))));
        assert_eq!(t.submit(BotId(1), ChatId(4), slow(5)).now_or_never(), Some(Err(TelegramError::QueueFull)));
        // Another bot has its own bounds.
        assert_eq!(t.submit(BotId(2), ChatId(1), slow(1)).await, Ok(serde_json::json!(true)));
        for h in held {
            assert_eq!(h.await.unwrap(), Ok(serde_json::json!(true)), "admitted calls are all sent");
        }
        // Finished calls give their places back.
        assert_eq!(t.submit(BotId(1), ChatId(1), slow(1)).await, Ok(serde_json::json!(true)));
    }
}
