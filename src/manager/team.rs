//! Invitations to a business's team. The owner makes a one-time link on the Team page:
//! `{links_url}/{manager}?start=join_<token>` — opened in Telegram, it starts the manager bot
//! with `/start join_<token>`, and whoever sends that joins the team (once, within a week).
//! 256 random bits; only the SHA-256 is stored.
use crate::domain::ChatId;
use super::{Manager, login};
use crate::domain::{TenantId, UserId};
use crate::jobs::{JobError, job_error};
use crate::storage::{self, Db, now_ms, team};
use crate::telegram::html::escape;
use crate::telegram::methods::SendMessage;

/// How long an invitation link works.
pub const INVITE_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// The `/start` payload's prefix.
pub const JOIN: &str = "join_";

/// A fresh invitation link to the team of `tenant`.
pub async fn invite(db: &Db, links_url: &url::Url, manager_username: &str, tenant: TenantId) -> anyhow::Result<String> {
    let token = login::random_token();
    team::insert_invite(&db.pool, &login::hash(&token), tenant, now_ms() + INVITE_TTL_MS).await?;
    Ok(format!("{}/{manager_username}?start={JOIN}{token}", links_url.as_str().trim_end_matches('/')))
}

/// `/start join_<token>` from `user` (`name` as Telegram shows them): joins the team, tells
/// them how it works and tells the owner.
pub async fn join(db: &Db, m: &Manager, chat: ChatId, user: UserId, name: &str, token: &str) -> Result<(), JobError> {
    let mut tx = db.begin().await?;
    let joined = team::join(&mut tx, &login::hash(token), user, name).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    let reply = match &joined {
        team::Joined::Now { business, .. } => format!(
            "✅ <b>You're on the team of {}.</b>\n\nWhen a customer asks for a person, I'll send you the conversation here. Reply to it and your answer goes to the customer through the business's bot — the first of the team to reply takes the conversation.\n\nSend /login for a link to the admin page.",
            escape(business)
        ),
        team::Joined::Already { business } => format!("You're already on the team of {}. Send /login for a link to the admin page.", escape(business)),
        team::Joined::Cancelled => "This invitation was cancelled, so it doesn't add you to any team. If you should be on a team, ask its owner for a new link.".to_owned(),
        team::Joined::Invalid => {
            "This invitation has expired or was already used. Ask the owner for a new one: invitations work once, within 7 days.".to_owned()
        }
    };
    m.bot.send_message(&SendMessage::html(chat, reply)).await.map_err(|e| job_error(e, "sendMessage in the manager chat"))?;
    if let team::Joined::Now { owner, tenant, .. } = joined {
        tracing::info!(tenant_id = tenant.0, "a teammate joined");
        let note = format!("👥 <b>{}</b> joined your team. They'll get customers who ask for a person too. You can remove them on the Team page.", escape(name));
        if let Err(e) = m.bot.send_message(&SendMessage::html(owner.0, note)).await {
            tracing::warn!(error = %e, "could not tell the owner that a teammate joined");
        }
    }
    Ok(())
}

/// The businesses `user` may sign in to: their own first, then the teams they are on.
pub async fn businesses(db: &Db, user: UserId) -> anyhow::Result<Vec<(TenantId, String)>> {
    let mut out: Vec<(TenantId, String)> = storage::tenants::find_by_owner(&db.pool, user).await?.map(|t| (t.id, t.name)).into_iter().collect();
    out.extend(team::teams_of(&db.pool, user).await?.into_iter().map(|t| (t.tenant_id, t.name)));
    Ok(out)
}
