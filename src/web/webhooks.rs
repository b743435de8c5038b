//! Webhook ingress. The rule for every webhook: authenticate (constant time) → record the
//! update and enqueue its job in one transaction → 200. Nothing slow before the 200, nothing
//! acknowledged before it is durably stored.
use super::AppError;
use crate::domain::BotId;
use crate::app::{AppState, jobs};
use crate::storage;
use super::limits::{Client, EdgeLimits};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Telegram's header carrying the `secret_token` given to `setWebhook`.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Before `POST /tg/bot/{bot_id}`: a client that has called for too many bots that do not exist
/// gets 429 before its body is read or anything is looked up, unless the bot is one already seen
/// (see [`super::limits`]).
pub async fn unknown_bot_limit(State(limits): State<Arc<EdgeLimits>>, Path(bot_id): Path<i64>, req: Request, next: Next) -> Response {
    match req.extensions().get::<Client>().and_then(|c| limits.webhook_refused_before_lookup(*c, bot_id)) {
        Some(wait) => {
            tracing::info!("webhook refused: this client called for too many unknown bots");
            super::limits::webhook_refused(wait)
        }
        None => next.run(req).await,
    }
}

/// `POST /tg/bot/{bot_id}`: a child bot's update.
#[tracing::instrument(name = "webhook.child_bot", skip_all, fields(bot_id = bot_id, tenant_id, update_id))]
pub async fn child_bot(
    State(app): State<AppState>,
    Extension(limits): Extension<Arc<EdgeLimits>>,
    client: Option<Extension<Client>>,
    Path(bot_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let bot = BotId(bot_id);
    let given = headers.get(SECRET_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    let Some((tenant, Some(sealed))) = storage::bots::webhook_auth(&app.db.pool, bot).await? else {
        if let Some(Extension(client)) = client
            && !storage::bots::exists(&app.db.pool, bot).await?
        {
            limits.unknown_bot_webhooks.charge(client);
        }
        return Err(AppError::Unauthorized);
    };
    let expected = app.keys.open(&sealed, &storage::bots::webhook_secret_aad(bot)).map_err(|e| AppError::Internal(e.into()))?;
    if !bool::from(expected.as_slice().ct_eq(given)) {
        // While a new secret is being set (a new token, a repair), Telegram may still sign with
        // the one it replaces: accepted until `setWebhook` with the new one succeeded.
        let previous = match storage::bots::previous_webhook_secret(&app.db.pool, bot).await? {
            Some(prev) => app.keys.open(&prev, &storage::bots::webhook_secret_aad(bot)).map_err(|e| AppError::Internal(e.into()))?,
            None => return Err(AppError::Unauthorized),
        };
        if !bool::from(previous.as_slice().ct_eq(given)) {
            return Err(AppError::Unauthorized);
        }
    }
    limits.bot_seen(bot_id);
    tracing::Span::current().record("tenant_id", tenant.0);

    let peek = peek(&body);
    store_and_enqueue(&app, bot, Some(tenant), &body, peek.from, |update_id| jobs::bot_update(&app.queue, peek.lane, tenant, bot, update_id, peek.chat.as_deref())).await
}

/// The ingress rule, shared by every webhook: in one transaction, record the update (a
/// redelivery is a no-op) and enqueue its job; commit; only then acknowledge. An authenticated
/// body without an `update_id` is stored as dead and acknowledged: Telegram would otherwise
/// redeliver it forever, and dropping it silently would lose it.
async fn store_and_enqueue(
    app: &AppState,
    bot: BotId,
    tenant: Option<crate::domain::TenantId>,
    body: &[u8],
    user_id: Option<i64>,
    job_for: impl FnOnce(i64) -> crate::storage::jobs::NewJob,
) -> Result<StatusCode, AppError> {
    let update_id = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| v.get("update_id")?.as_i64());
    // No update_id to deduplicate on: a dead letter keyed by a hash of the body instead.
    let dead_key = -(i64::from_be_bytes(sha2_prefix(body)) & i64::MAX);
    if let Some(id) = update_id {
        tracing::Span::current().record("update_id", id);
    } else {
        tracing::warn!("storing an unparsable update as dead");
    }
    let pending = crate::app::ingress::Pending { bot, tenant, update_id, dead_key, body: String::from_utf8_lossy(body).into_owned(), user_id, job: update_id.map(job_for) };
    app.ingress.store(pending).await?;
    Ok(StatusCode::OK)
}

/// What the ingress reads of an update before storing it.
struct Peeked {
    /// The queue of the update's job: a `pre_checkout_query` must be answered within 10 s, so
    /// it goes to the priority lane and never waits behind answer jobs; so does a payment's
    /// `successful_payment` message (cheap, and the payer waits for it).
    lane: &'static str,
    /// The conversation a message or button press belongs to (see `jobs::bot_update`); none for
    /// priority-lane updates, which must never wait behind a conversation's answer.
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
        Some(q.or(m).or(c)?.id)
    });
    let (lane, chat) = match parsed {
        Some(Peek { pre_checkout_query: Some(_), .. }) | Some(Peek { message: Some(PeekMessage { successful_payment: Some(_), .. }), .. }) => (crate::jobs::PRIORITY, None),
        Some(Peek { message: Some(m), .. }) => (crate::jobs::DEFAULT, conversation(m.chat.as_ref(), m.from.as_ref())),
        Some(Peek { callback_query: Some(q), .. }) => (crate::jobs::DEFAULT, conversation(q.message.as_ref().and_then(|m| m.chat.as_ref()), q.from.as_ref())),
        _ => (crate::jobs::DEFAULT, None),
    };
    Peeked { lane, chat, from }
}

fn sha2_prefix(body: &[u8]) -> [u8; 8] {
    use sha2::Digest;
    let d = sha2::Sha256::digest(body);
    d[..8].try_into().expect("8 bytes")
}

/// `POST /tg/manager`: the manager bot's update. Authenticated with the configured secret.
#[tracing::instrument(name = "webhook.manager", skip_all, fields(update_id))]
pub async fn manager(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<StatusCode, AppError> {
    let (Some(manager), Some(secret)) = (&app.manager, &app.cfg.telegram.manager_webhook_secret) else {
        return Err(AppError::Unauthorized);
    };
    let given = headers.get(SECRET_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    if !bool::from(secret.expose().as_bytes().ct_eq(given)) {
        return Err(AppError::Unauthorized);
    }
    let peek = peek(&body);
    store_and_enqueue(&app, manager.id, None, &body, peek.from, |update_id| jobs::manager_update(&app.queue, peek.lane, update_id, peek.chat.as_deref())).await
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
}
