//! Drafts (`sendMessageDraft`, private chats only): while the model writes, the customer sees
//! the answer grow. A task sends the latest text at most every `answering.draft_interval`; the
//! final message replaces the draft.
//!
//! Once a person has the conversation (the owner or a teammate took it over while the model
//! wrote), no more drafts go out: the answer will not be sent either
//! ([`super::delivery::Given::Withdrawn`]). What was shown cannot be taken back — the Bot API
//! has no call to clear a draft — but a draft is an ephemeral preview that Telegram drops when
//! no message replaces it (after 30 seconds), so nothing of the answer stays in the chat.
use crate::domain::conversation::{ConversationId, Mode};
use crate::domain::{ChatId, TenantId};
use crate::storage::{Db, conversations};
use crate::telegram::Bot;
use crate::telegram::methods::SendMessageDraft;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Where an answer's drafts go, and the conversation whose mode is checked before each.
pub(super) struct Chat {
    pub chat: ChatId,
    pub draft_id: i64,
    pub db: Db,
    pub tenant: TenantId,
    pub conv: ConversationId,
}

/// The running draft task of one answer.
pub(super) struct Drafts {
    done: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// Starts drafting into `to`: every text sent to the returned sender becomes the draft
/// (at most 4,000 characters), paced by `interval`, while the conversation is with the
/// assistant.
pub(super) fn start(bot: Bot, to: Chat, interval: Duration) -> (watch::Sender<String>, Drafts) {
    let (tx, mut rx) = watch::channel(String::new());
    let done = CancellationToken::new();
    let stop = done.clone();
    let task = tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            // One read of the conversation's row per draft (paced by `interval`); a failed read
            // does not stop the drafts (the answer is checked again before it is sent).
            if conversations::mode_of(&to.db.pool, to.tenant, to.conv).await.is_ok_and(|m| m == Some(Mode::Human)) {
                tracing::debug!(conversation = to.conv.0, "a person has the conversation: no more drafts");
                break;
            }
            let text: String = rx.borrow_and_update().chars().take(4000).collect();
            let _ = bot.call(&SendMessageDraft::new(to.chat.0, to.draft_id).text(text)).await;
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
