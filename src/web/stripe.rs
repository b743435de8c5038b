//! `POST /stripe/webhook`: Stripe's events, under the ingress rule — the signature checked
//! ([`billing::stripe::verify`]), then the event stored by its id and its job enqueued in one
//! transaction, then 200. A bad request changes nothing; a redelivered event is stored once, and
//! tried again if its job had given up without applying it.
use super::AppError;
use crate::app::AppState;
use crate::app::jobs;
use crate::billing;
use crate::storage::billing as sql;
use crate::storage::now_ms;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// `POST /stripe/webhook`.
#[tracing::instrument(name = "webhook.stripe", skip_all, fields(event_id, event_type))]
pub async fn webhook(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<StatusCode, AppError> {
    let Some(stripe) = &app.cfg.billing.stripe else { return Err(AppError::NotFound) };
    let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let now = now_ms();
    if let Err(e) = billing::stripe::verify(header, &body, stripe.webhook_secret.expose(), now / 1000) {
        tracing::warn!(reason = %e, "Stripe webhook refused");
        return Err(AppError::BadRequest(e.to_string()));
    }
    let event: Value = serde_json::from_slice(&body).map_err(|_| AppError::BadRequest("the body is not a JSON Stripe event".into()))?;
    let (Some(id), Some(kind), Some(created)) = (event["id"].as_str(), event["type"].as_str(), event["created"].as_i64()) else {
        return Err(AppError::BadRequest("the event has no id, type or created".into()));
    };
    tracing::Span::current().record("event_id", id).record("event_type", kind);
    let mut tx = app.db.begin().await?;
    if sql::insert_stripe_event(&mut tx, id, kind, created, &String::from_utf8_lossy(&body), now).await? {
        app.queue.enqueue_in(&mut tx, &jobs::stripe_event(&app.queue, id)).await?;
    } else if sql::unprocessed_stripe_event(&mut *tx, id).await?.is_some() {
        // Sent again (Stripe's "Resend", or a redelivery) after its job gave up unprocessed —
        // e.g. its customer's business was linked only later: it is tried again. Its dead job
        // is revived; if the retention purge has removed it, a new one is queued (the dedup key
        // makes that nothing while a job for it is queued, running or done).
        let revived = crate::storage::jobs::revive_dead(&mut *tx, &jobs::stripe_event_key(id), app.queue.max_attempts()).await?;
        if revived || app.queue.enqueue_in(&mut tx, &jobs::stripe_event(&app.queue, id)).await?.is_some() {
            tracing::info!("a Stripe event that had not been applied was sent again; trying it again");
        }
    }
    tx.commit().await?;
    app.queue.notify(crate::jobs::DEFAULT);
    Ok(StatusCode::OK)
}
