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
        return Err(AppError::Unauthorized);
    }
    limits.bot_seen(bot_id);
    tracing::Span::current().record("tenant_id", tenant.0);

    let peek = peek(&body);
    store_and_enqueue(&app, bot, Some(tenant), &body, |update_id| jobs::bot_update(&app.queue, peek.lane, tenant, bot, update_id, peek.chat.as_deref())).await
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
    let pending = crate::app::ingress::Pending { bot, tenant, update_id, dead_key, body: String::from_utf8_lossy(body).into_owned(), job: update_id.map(job_for) };
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
}

fn peek(body: &[u8]) -> Peeked {
    #[derive(serde::Deserialize)]
    struct Peek {
        pre_checkout_query: Option<serde::de::IgnoredAny>,
        message: Option<PeekMessage>,
        callback_query: Option<PeekCallback>,
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
    match serde_json::from_slice::<Peek>(body) {
        Ok(Peek { pre_checkout_query: Some(_), .. }) | Ok(Peek { message: Some(PeekMessage { successful_payment: Some(_), .. }), .. }) => {
            Peeked { lane: crate::jobs::PRIORITY, chat: None }
        }
        Ok(Peek { message: Some(m), .. }) => Peeked { lane: crate::jobs::DEFAULT, chat: conversation(m.chat.as_ref(), m.from.as_ref()) },
        Ok(Peek { callback_query: Some(q), .. }) => {
            Peeked { lane: crate::jobs::DEFAULT, chat: conversation(q.message.as_ref().and_then(|m| m.chat.as_ref()), q.from.as_ref()) }
        }
        _ => Peeked { lane: crate::jobs::DEFAULT, chat: None },
    }
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
    store_and_enqueue(&app, manager.id, None, &body, |update_id| jobs::manager_update(&app.queue, peek.lane, update_id, peek.chat.as_deref())).await
}
