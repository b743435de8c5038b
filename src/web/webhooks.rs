//! Webhook ingress. The rule for every webhook: authenticate (constant time) → record the
//! update and enqueue its job in one transaction → 200. Nothing slow before the 200, nothing
//! acknowledged before it is durably stored.
use super::AppError;
use crate::domain::BotId;
use crate::app::{AppState, ingress};
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
    match req.extensions().get::<Client>().and_then(|c| limits.webhook_refused_before_lookup(*c, BotId(bot_id))) {
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
    let Some(storage::bots::WebhookAuth { tenant_id: tenant, secret: Some(sealed) }) = storage::bots::webhook_auth(&app.db.pool, bot).await? else {
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
    limits.bot_seen(BotId(bot_id));
    tracing::Span::current().record("tenant_id", tenant.0);

    store(&app, ingress::child_update(&app.queue, bot, tenant, &body)).await
}

/// The ingress rule, shared by every webhook: record the update (a redelivery is a no-op) and
/// enqueue its job in one transaction; commit; only then acknowledge. An authenticated body
/// without an `update_id` is stored as dead and acknowledged: Telegram would otherwise redeliver
/// it forever, and dropping it silently would lose it.
async fn store(app: &AppState, pending: ingress::Pending) -> Result<StatusCode, AppError> {
    match pending.update_id {
        Some(id) => {
            tracing::Span::current().record("update_id", id);
        }
        None => tracing::warn!("storing an unparsable update as dead"),
    }
    app.ingress.store(pending).await?;
    Ok(StatusCode::OK)
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
    store(&app, ingress::manager_update(&app.queue, manager.id, &body)).await
}
