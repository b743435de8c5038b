//! A business's team: teammates the owner invited (one-time links), and who took a handoff.
//! Every function takes the tenant, except the lookups by a Telegram user, which return only
//! the businesses that user belongs to.
use crate::domain::conversation::ConversationId;
use super::now_ms;
use crate::domain::{TenantId, UserId};
use sqlx::{Any, Executor};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Member {
    #[sqlx(try_from = "i64")]
    pub user_id: UserId,
    pub name: String,
    pub joined_at: i64,
}

/// The tenant's teammates, in the order they joined.
pub async fn members<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Vec<Member>> {
    sqlx::query_as("select user_id, name, joined_at from team_members where tenant_id = $1 order by joined_at, user_id").bind(tenant.0).fetch_all(e).await
}

/// Who gets a handoff in the manager chat: the owner first, then the teammates.
pub async fn recipients<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Vec<UserId>> {
    let rows: Vec<i64> = sqlx::query_scalar(
        "select owner_user_id from tenants where id = $1
         union all select user_id from (select user_id from team_members where tenant_id = $1 order by joined_at, user_id) m",
    )
    .bind(tenant.0)
    .fetch_all(e)
    .await?;
    Ok(rows.into_iter().map(UserId).collect())
}

/// A business someone is on the team of.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Team {
    #[sqlx(try_from = "i64")]
    pub tenant_id: TenantId,
    /// The business's name.
    pub name: String,
}

/// The businesses `user` is on the team of (not those they own), closed accounts left out: their
/// owner closed the admin page for everyone, and only the owner may keep the account.
pub async fn teams_of<'c>(e: impl Executor<'c, Database = Any>, user: UserId) -> sqlx::Result<Vec<Team>> {
    sqlx::query_as(
        "select t.id as tenant_id, t.name from team_members m join tenants t on t.id = m.tenant_id
          where m.user_id = $1 and t.closed_at is null order by m.joined_at, t.id",
    )
        .bind(user.0)
        .fetch_all(e)
        .await
}

/// Whether `user` is the owner of `tenant` or one of its teammates.
pub async fn belongs<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, user: UserId) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "select count(*) from tenants t where t.id = $1
           and (t.owner_user_id = $2 or exists (select 1 from team_members m where m.tenant_id = t.id and m.user_id = $2))",
    )
    .bind(tenant.0)
    .bind(user.0)
    .fetch_one(e)
    .await?;
    Ok(n > 0)
}

/// The teammate's name, or None when `user` is not on the tenant's team.
pub async fn member_name<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, user: UserId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select name from team_members where tenant_id = $1 and user_id = $2").bind(tenant.0).bind(user.0).fetch_optional(e).await
}

/// Removes a teammate: they no longer get handoffs, and their admin sessions end at once
/// (every request checks membership). Returns whether they were on the team.
pub async fn remove(tx: &mut super::Tx, tenant: TenantId, user: UserId) -> sqlx::Result<bool> {
    let done = sqlx::query("delete from team_members where tenant_id = $1 and user_id = $2").bind(tenant.0).bind(user.0).execute(&mut **tx).await?;
    sqlx::query("update sessions set revoked_at = $1 where tenant_id = $2 and user_id = $3 and revoked_at is null")
        .bind(now_ms())
        .bind(tenant.0)
        .bind(user.0)
        .execute(&mut **tx)
        .await?;
    // A conversation they had taken is free for the rest of the team again.
    sqlx::query("update conversations set taken_by = null where tenant_id = $1 and taken_by = $2").bind(tenant.0).bind(user.0).execute(&mut **tx).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_invite<'c>(e: impl Executor<'c, Database = Any>, token_hash: &str, tenant: TenantId, expires_at: i64) -> sqlx::Result<()> {
    sqlx::query("insert into team_invites (token_hash, tenant_id, created_at, expires_at) values ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(tenant.0)
        .bind(now_ms())
        .bind(expires_at)
        .execute(e)
        .await?;
    Ok(())
}

/// An invitation not used, cancelled or expired yet.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenInvite {
    /// The SHA-256 of its token: names it to [`revoke_invite`] (the token itself is not kept).
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The tenant's invitations not used, cancelled or expired yet, newest first.
pub async fn open_invites<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Vec<OpenInvite>> {
    sqlx::query_as(
        "select token_hash, created_at, expires_at from team_invites
          where tenant_id = $1 and used_at is null and revoked_at is null and expires_at > $2 order by created_at desc, token_hash",
    )
    .bind(tenant.0)
    .bind(now_ms())
    .fetch_all(e)
    .await
}

/// Cancels one of the tenant's invitations while it is unused: whoever opens it afterwards is told
/// it was cancelled, and joins nothing. Whether it was cancelled now (false: not the tenant's,
/// already used or cancelled). Of a cancel and a join at once, one wins: both change the row only
/// while it is unused and not cancelled.
pub async fn revoke_invite<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, token_hash: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("update team_invites set revoked_at = $1 where tenant_id = $2 and token_hash = $3 and used_at is null and revoked_at is null")
        .bind(now_ms())
        .bind(tenant.0)
        .bind(token_hash)
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// What opening an invitation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// `user` is now on the team of this business.
    Now { tenant: TenantId, business: String, owner: UserId },
    /// They were already (the owner, or a teammate): nothing changed, the link is still unused.
    Already { business: String },
    /// Unknown, used or expired.
    Invalid,
    /// The owner cancelled it: nothing changed.
    Cancelled,
}

/// Uses the invitation (once, before it expires) and adds `user` to the team, in one
/// transaction: two people opening one link at once cannot both join.
pub async fn join(tx: &mut super::Tx, token_hash: &str, user: UserId, name: &str) -> sqlx::Result<Joined> {
    let now = now_ms();
    #[derive(sqlx::FromRow)]
    struct Invite {
        #[sqlx(try_from = "i64")]
        tenant_id: TenantId,
        name: String,
        #[sqlx(try_from = "i64")]
        owner_user_id: UserId,
        revoked_at: Option<i64>,
    }
    // A no-op update of the invitation takes its row lock (on PostgreSQL; SQLite's transaction
    // holds the write lock from its start) before it is read: two teammates opening the same
    // link one after the other, not both at once.
    sqlx::query("update team_invites set used_at = used_at where token_hash = $1").bind(token_hash).execute(&mut **tx).await?;
    let r: Option<Invite> = sqlx::query_as(
        "select i.tenant_id, t.name, t.owner_user_id, i.revoked_at from team_invites i join tenants t on t.id = i.tenant_id
         where i.token_hash = $1 and i.used_at is null and i.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(Invite { tenant_id: tenant, name: business, owner_user_id: owner, revoked_at }) = r else { return Ok(Joined::Invalid) };
    if revoked_at.is_some() {
        return Ok(Joined::Cancelled);
    }
    if belongs(&mut **tx, tenant, user).await? {
        return Ok(Joined::Already { business });
    }
    let used = sqlx::query("update team_invites set used_at = $1, used_by = $2 where token_hash = $3 and used_at is null and revoked_at is null")
        .bind(now)
        .bind(user.0)
        .bind(token_hash)
        .execute(&mut **tx)
        .await?;
    if used.rows_affected() != 1 {
        return Ok(Joined::Invalid);
    }
    sqlx::query("insert into team_members (tenant_id, user_id, name, joined_at) values ($1, $2, $3, $4) on conflict do nothing")
        .bind(tenant.0)
        .bind(user.0)
        .bind(name)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(Joined::Now { tenant, business, owner })
}

/// What [`take`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Took {
    /// Theirs from now on.
    Now,
    /// Theirs already (or the conversation is gone).
    Already,
    /// Someone else took it first.
    Other(UserId),
    /// It is with the assistant, not a person (a Close or the handoff timeout came first):
    /// nobody took it.
    WithAssistant,
    /// `user` is neither the owner nor on the team any more (removed while their reply was on its
    /// way): nothing changed.
    NotOnTeam,
}

/// Takes the conversation's current handoff for `user` unless someone else has, and only while
/// it is with a person and `user` is the owner or on the team — one decision: of two replies at
/// once one takes it, a conversation the timeout or a Close has just handed back to the assistant
/// is not taken, and a teammate removed meanwhile takes nothing. `to_person`: hand the
/// conversation to a person first (an owner's reply to a conversation with the assistant), in
/// the same transaction, so a removed teammate's reply does not silence the assistant either.
///
/// The membership is checked and held in the transaction that takes: a no-op update of the
/// teammate's row locks it (on PostgreSQL; SQLite's transaction holds the write lock from its
/// start), so a removal ([`remove`]) either comes first — and the take finds no row — or waits
/// for the take and then frees the conversation it took.
pub async fn take(db: &super::Db, tenant: TenantId, conv: ConversationId, user: UserId, to_person: bool) -> sqlx::Result<Took> {
    let mut tx = db.begin_tx().await?;
    let member = sqlx::query("update team_members set name = name where tenant_id = $1 and user_id = $2").bind(tenant.0).bind(user.0).execute(&mut *tx).await?.rows_affected() == 1;
    let owner: i64 = sqlx::query_scalar("select count(*) from tenants where id = $1 and owner_user_id = $2").bind(tenant.0).bind(user.0).fetch_one(&mut *tx).await?;
    if !member && owner == 0 {
        return Ok(Took::NotOnTeam);
    }
    if to_person {
        super::conversations::set_mode(&mut *tx, tenant, conv, crate::domain::conversation::Mode::Human).await?;
    }
    let done = sqlx::query("update conversations set taken_by = $1 where tenant_id = $2 and id = $3 and mode = 'human' and taken_by is null")
        .bind(user.0)
        .bind(tenant.0)
        .bind(conv.0)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 1 {
        tx.commit().await?;
        return Ok(Took::Now);
    }
    #[derive(sqlx::FromRow)]
    struct Now {
        mode: String,
        taken_by: Option<i64>,
    }
    let now: Option<Now> = sqlx::query_as("select mode, taken_by from conversations where tenant_id = $1 and id = $2").bind(tenant.0).bind(conv.0).fetch_optional(&mut *tx).await?;
    tx.commit().await?;
    Ok(match now {
        Some(Now { mode, .. }) if mode != "human" => Took::WithAssistant,
        Some(Now { taken_by: Some(other), .. }) if other != user.0 => Took::Other(UserId(other)),
        _ => Took::Already,
    })
}

/// Gives the conversation back to the rest of the team if `user` had taken it: their reply never
/// reached the customer, or the manager bot can no longer reach them. Whether it was theirs.
pub async fn give_back<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, conv: ConversationId, user: UserId) -> sqlx::Result<bool> {
    let done = sqlx::query("update conversations set taken_by = null where tenant_id = $1 and id = $2 and taken_by = $3").bind(tenant.0).bind(conv.0).bind(user.0).execute(e).await?;
    Ok(done.rows_affected() == 1)
}

/// Undoes a take by `user` that handed the conversation to a person ([`take`]'s `to_person`):
/// their reply never reached the customer, so the conversation is with the assistant again, as
/// it was. Whether it was theirs.
pub async fn hand_back<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, conv: ConversationId, user: UserId) -> sqlx::Result<bool> {
    let done = sqlx::query("update conversations set mode = 'bot', handed_off_at = null, taken_by = null where tenant_id = $1 and id = $2 and mode = 'human' and taken_by = $3")
        .bind(tenant.0)
        .bind(conv.0)
        .bind(user.0)
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Who took the conversation's handoff, if anyone.
pub async fn taken_by<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, conv: ConversationId) -> sqlx::Result<Option<UserId>> {
    let r: Option<Option<i64>> = sqlx::query_scalar("select taken_by from conversations where tenant_id = $1 and id = $2").bind(tenant.0).bind(conv.0).fetch_optional(e).await?;
    Ok(r.flatten().map(UserId))
}

/// The display name of a member of the tenant's team, the owner included ("the owner" when the
/// owner has no name on record).
pub async fn display_name<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, user: UserId) -> sqlx::Result<String> {
    let name: Option<String> = sqlx::query_scalar("select name from team_members where tenant_id = $1 and user_id = $2").bind(tenant.0).bind(user.0).fetch_optional(e).await?;
    Ok(name.unwrap_or_else(|| "The owner".into()))
}
