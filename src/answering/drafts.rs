//! Drafts (`sendMessageDraft`, private chats only): while the model writes, the customer sees
//! the answer grow. A task sends the latest text at most every `answering.draft_interval`; the
//! final message replaces the draft.
use crate::domain::ChatId;
use crate::telegram::Bot;
use crate::telegram::methods::SendMessageDraft;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The running draft task of one answer.
pub(super) struct Drafts {
    done: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// Starts drafting into `chat`: every text sent to the returned sender becomes the draft
/// (at most 4,000 characters), paced by `interval`.
pub(super) fn start(bot: Bot, chat: ChatId, draft_id: i64, interval: Duration) -> (watch::Sender<String>, Drafts) {
    let (tx, mut rx) = watch::channel(String::new());
    let done = CancellationToken::new();
    let stop = done.clone();
    let task = tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let text: String = rx.borrow_and_update().chars().take(4000).collect();
            let _ = bot.call(&SendMessageDraft::new(chat.0, draft_id).text(text)).await;
            // Pace the drafts, but never hold up the final message.
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.cancelled() => break,
            }
        }
    });
    (tx, Drafts { done, task })
}

impl Drafts {
    /// Stops drafting (the sender must be dropped first) and waits for the task.
    pub(super) async fn finish(self) {
        self.done.cancel();
        let _ = self.task.await;
    }
}
