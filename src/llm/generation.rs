//! What both in-process runtimes ([`super::LlamaChat`], [`super::LocalSmolLm`]) share: the
//! counters tests and metrics read, what one generation reports, and the bridge from a
//! generating thread to an async [`TextStream`].
//!
//! Generation is CPU-bound and runs on a blocking thread. It hands pieces over a small bounded
//! channel; the runtime calls `on_token` after every answer token, which answers `false` once the
//! reader has hung up, so dropping the stream (the customer's request gone, a timeout) stops the
//! thread within one token.
use super::{ModelError, Piece, TextStream};
use futures::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Pieces buffered between the generating thread and the reader. Small, so a reader that hung
/// up is noticed within a few tokens even if it stopped reading long before dropping.
const CHANNEL: usize = 8;

/// Counters of generations, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalStats {
    /// Generating right now.
    pub running: usize,
    /// Stopped because the reader hung up.
    pub cancelled: u64,
    /// Ended on their own (end of turn, `max_tokens`, context full) or with an error.
    pub completed: u64,
}

/// Why a generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The model ended its turn (end-of-generation or another control token).
    EndOfTurn,
    /// `max_tokens` (or the context) reached.
    Length,
    /// The reader hung up.
    Cancelled,
}

/// What one generation did, for the benchmark.
#[derive(Debug, Clone)]
pub struct Generation {
    pub prompt_tokens: usize,
    pub answer_tokens: usize,
    /// Making this generation's KV cache (context).
    pub setup: Duration,
    /// The forward passes over the prompt.
    pub prompt_time: Duration,
    /// From start to the first answer token sampled (setup and prompt processing included).
    pub first_token: Option<Duration>,
    pub elapsed: Duration,
    pub stop: Stop,
}

/// The counters behind [`LocalStats`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    running: AtomicUsize,
    cancelled: AtomicU64,
    completed: AtomicU64,
}

impl Counters {
    pub(super) fn stats(&self) -> LocalStats {
        LocalStats {
            running: self.running.load(Ordering::SeqCst),
            cancelled: self.cancelled.load(Ordering::SeqCst),
            completed: self.completed.load(Ordering::SeqCst),
        }
    }
}

/// Counts a generation as running while alive; records how it ended when dropped.
struct Running {
    counters: Arc<Counters>,
    cancelled: bool,
}

impl Running {
    fn start(counters: Arc<Counters>) -> Self {
        counters.running.fetch_add(1, Ordering::SeqCst);
        Running { counters, cancelled: false }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let counter = if self.cancelled { &self.counters.cancelled } else { &self.counters.completed };
        counter.fetch_add(1, Ordering::SeqCst);
        self.counters.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `generate` on a blocking thread and streams what it produces. `generate` gets the
/// `on_token` callback: call it after every answer token with the text that token completed (if
/// any); it returns `false` once the reader is gone, and generation should stop.
///
/// Errors before the first piece come out of the returned future, so the caller can fall back
/// before showing anything; later ones end the stream. A panic becomes a permanent error.
pub(super) fn stream_from_thread<G>(counters: Arc<Counters>, model: String, generate: G) -> BoxFuture<'static, Result<TextStream, ModelError>>
where
    G: FnOnce(&mut dyn FnMut(Option<String>) -> bool) -> Result<Generation, ModelError> + Send + 'static,
{
    Box::pin(async move {
        let (tx, mut rx) = mpsc::channel::<Result<Piece, ModelError>>(CHANNEL);
        let mut running = Running::start(counters);
        tokio::task::spawn_blocking(move || {
            let mut on_token = |piece: Option<String>| match piece {
                Some(p) => tx.blocking_send(Ok(Piece::Text(p))).is_ok(),
                None => !tx.is_closed(),
            };
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| generate(&mut on_token)));
            match run {
                Ok(Ok(g)) => {
                    running.cancelled = g.stop == Stop::Cancelled;
                    tracing::debug!(model, prompt_tokens = g.prompt_tokens, answer_tokens = g.answer_tokens, stop = ?g.stop, elapsed_ms = g.elapsed.as_millis() as u64, "llm.generate");
                    if g.stop == Stop::Length {
                        let _ = tx.blocking_send(Ok(Piece::Cut));
                    }
                }
                Ok(Err(e)) => {
                    // Counted as ended before the reader hears of it, so stats read after the
                    // error never show it still running.
                    drop(running);
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
                Err(_) => {
                    drop(running);
                    let _ = tx.blocking_send(Err(ModelError::Permanent(format!("{model} generation panicked"))));
                    return;
                }
            }
            // Dropped before `tx`, so the stream ends only after the generation is counted.
            drop(running);
        });
        match rx.recv().await {
            None => Ok(Box::pin(futures::stream::empty()) as TextStream),
            Some(Err(e)) => Err(e),
            Some(Ok(first)) => {
                let rest = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
                Ok(Box::pin(futures::StreamExt::chain(futures::stream::once(async move { Ok(first) }), rest)) as TextStream)
            }
        }
    })
}
