//! Issue 17, item 6: closing an account. The owner closes it on the Billing page: its bots are
//! disconnected and its sessions end at once; within the grace period it can be reopened; after
//! it, every row of the business's data is erased (the accounting records kept), and nothing of
//! another business's is touched. A renewing subscription must be stopped first.
use crate::helpers::*;
use crate::owner_lifecycle::{business, customer, get, manager_said, post, wait_reply};
use bellhop::storage::privacy::{ERASED_ON_ERASURE, KEPT_ON_ERASURE, SCRUBBED_ON_ERASURE};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

/// Rows of `tenant` in every erased table: (table, rows), only those with rows.
async fn tenant_rows(app: &TestApp, tenant: i64) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for t in ERASED_ON_ERASURE {
        let n = count(app.db(), &format!("select count(*) from {t} where tenant_id = {tenant}")).await;
        if n > 0 {
            out.push((t.to_string(), n));
        }
    }
    out
}

#[tokio::test]
async fn a_closed_account_is_disconnected_at_once_can_be_reopened_and_is_erased_after_the_grace_period() {
    let app = spawn_app().await;
    let b = business(&app, "Cora", "cora_close_bot", "Cora's Candles").await;
    let other = business(&app, "Dirk", "dirk_keep_bot", "Dirk's Drums").await;
    for (biz, name) in [(&b, "Emil"), (&other, "Fritz")] {
        bellhop::storage::sources::insert_qa(&app.db().pool, biz.tenant, Some(bellhop::domain::BotId(biz.bot)), "Are you open on Sunday?", "No, Monday to Saturday.").await.unwrap();
        let c = customer(&app, name, biz.bot).await;
        app.tg.say(c, biz.bot, "Are you open on Sunday?").await;
        wait_reply(&app, biz.bot, c, 1).await;
    }
    crate::owner_team::made_invite(&app, &b.cookie, &b.csrf).await;
    let others_before = tenant_rows(&app, other.tenant.0).await;
    assert!(tenant_rows(&app, b.tenant.0).await.len() >= 6, "data in many tables: {:?}", tenant_rows(&app, b.tenant.0).await);

    // Without the box ticked nothing happens.
    let (status, location, _) = post(&app, &b.cookie, "/app/account/close", &[("csrf", &b.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/app/billing?close_problem=confirm#close"));
    assert!(get(&app, &b.cookie, &location).await.1.contains("Nothing was closed: tick the box to confirm"));
    // Only that code: a link cannot put words of its own in the page's alert.
    let (_, page) = get(&app, &b.cookie, "/app/billing?close_problem=Your%20card%20failed.%20Close%20your%20account%20now.").await;
    assert!(!page.contains("Your card failed") && !page.contains("role=\"alert\""), "{page}");
    assert_eq!(count(app.db(), "select count(*) from tenants where closed_at is not null").await, 0);
    // Closed: the bot disconnected (token forgotten), the owner signed out and told in Telegram.
    let (status, _, body) = post(&app, &b.cookie, "/app/account/close", &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 200);
    assert!(body.contains("Your account is closed"), "{body}");
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {} and status = 'disconnected'", b.bot)).await == 1 }).await;
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and token_fingerprint = '' and token_key_id = ''", b.bot)).await, 1);
    assert_eq!(get(&app, &b.cookie, "/app").await.0, 401, "signed out everywhere");
    wait_until(WAIT, || async { manager_said(&app, b.owner).await.iter().any(|t| t.contains("Your account is closed") && t.contains("will be erased on")) }).await;

    // Signed in again within the grace period: "Keep my account" reopens it.
    let (_, cookie, csrf) = app.signed_in_owner(b.owner, "Cora's Candles").await;
    let (_, page) = get(&app, &cookie, "/app/billing").await;
    assert!(page.contains("Your account is closed. Everything will be erased on") && page.contains("Keep my account"), "{page}");
    assert!(page.contains("<title>Billing — bellhop</title>"), "a plain title: {page}");
    assert_eq!(page.matches("id=\"terms\"").count(), 1, "the terms once: {page}");
    // Every admin page says the account is closed, and what can still be done, not only Billing.
    for path in ["/app", "/app/sources", "/app/conversations", "/app/team", "/app/billing"] {
        let (_, page) = get(&app, &cookie, path).await;
        let notice = page.split("id=\"account-closed\">").nth(1).unwrap_or_else(|| panic!("no closed-account notice on {path}: {page}"));
        let notice = notice.split("</p>").next().unwrap();
        assert!(notice.starts_with("Your account is closed") && notice.contains("will be erased on"), "{path}: {notice}");
        assert!(notice.contains("href=\"/app/billing#close\"") && notice.contains("Keep my account") && notice.contains("download your conversations"), "{path}: {notice}");
    }
    let (status, location, _) = post(&app, &cookie, "/app/account/reopen", &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/app/billing?reopened=1"));
    assert_eq!(count(app.db(), "select count(*) from tenants where closed_at is not null").await, 0);
    assert!(!get(&app, &cookie, "/app").await.1.contains("account-closed"), "no notice once reopened");
    // Reopened, it is not erased when the sweep comes.
    assert!(!bellhop::app::account::erase(&app.state, b.tenant).await.unwrap());

    // Closed again, and the grace period over: erased — every table, no other business's row.
    let (status, _, _) = post(&app, &cookie, "/app/account/close", &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 200);
    sqlx::query(&format!("update tenants set erase_after = 1 where id = {}", b.tenant.0)).execute(&app.db().pool).await.unwrap();
    // Past the grace period and not erased yet: too late to keep it (the erasure deletes the
    // knowledge before it claims the row, and would delete that of an account open again).
    let (_, cookie, csrf) = app.signed_in_owner(b.owner, "Cora's Candles").await;
    let (status, _, body) = post(&app, &cookie, "/app/account/reopen", &[("csrf", &csrf)]).await;
    assert_eq!(status, 409);
    assert!(body.contains("Too late to keep this account"), "{body}");
    assert_eq!(count(app.db(), &format!("select count(*) from tenants where id = {} and closed_at is not null", b.tenant.0)).await, 1, "still closed");
    // Chunks with no source row (what a read cut short by a kill can leave after its source was
    // deleted), for this business and another.
    let retriever = app.state.retriever.get().await.unwrap();
    let settings = bellhop::knowledge::ChunkSettings { max_tokens: 200, overlap_tokens: 0 };
    let stray = bellhop::knowledge::Document { title: "Price list".into(), text: "A candle costs 12 euros.".into(), url: None };
    for t in [b.tenant, other.tenant] {
        bellhop::knowledge::index_document(&retriever, &settings, t, "src-999999", &stray).await.unwrap();
    }
    let others_chunks = retriever.index().count(other.tenant, None).await.unwrap();
    assert!(bellhop::app::account::erase(&app.state, b.tenant).await.unwrap());
    assert_eq!(retriever.index().count(b.tenant, None).await.unwrap(), 0, "nothing of the business is left in the index");
    assert_eq!(retriever.index().count(other.tenant, None).await.unwrap(), others_chunks, "another business's chunks are untouched");
    assert_eq!(tenant_rows(&app, b.tenant.0).await, vec![], "every row of the business's data is gone");
    // But its bot's tombstone, with nothing but ids in it.
    let tombstone = format!(
        "select count(*) from bots where tenant_id = {} and id = {} and status = 'deleted' and name = '' and username = '' and description = '' and short_description = ''
           and photo is null and token_key_id = '' and token_fingerprint = '' and webhook_secret_ct is null and prev_webhook_secret_ct is null",
        b.tenant.0, b.bot
    );
    assert_eq!(count(app.db(), &tombstone).await, 1, "the bot is a scrubbed tombstone");
    assert_eq!(count(app.db(), &format!("select count(*) from bots where tenant_id = {}", b.tenant.0)).await, 1);
    assert_eq!(count(app.db(), &format!("select count(*) from tenants where id = {} and name = '' and erased_at is not null", b.tenant.0)).await, 1);
    assert_eq!(count(app.db(), &format!("select count(*) from billing_accounts where tenant_id = {}", b.tenant.0)).await, 1, "accounting kept");
    assert_eq!(tenant_rows(&app, other.tenant.0).await, others_before, "another business's data is untouched");
    assert!(!bellhop::app::account::erase(&app.state, b.tenant).await.unwrap(), "erased once");
    app.stop().await.unwrap();
}

/// An owner whose closed account is past its grace period, and not erased yet, creates a new bot:
/// the erasure is done first (the old knowledge gone), then the account starts afresh with the
/// new bot live.
#[tokio::test]
async fn a_new_bot_of_an_account_past_its_grace_period_erases_it_first_and_starts_afresh() {
    let app = spawn_app().await;
    let b = business(&app, "Gus", "gus_close_bot", "Gus's Guitars").await;
    bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(bellhop::domain::BotId(b.bot)), "Do you tune guitars?", "Yes, for 20 euros.").await.unwrap();
    let (status, _, _) = post(&app, &b.cookie, "/app/account/close", &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 200);
    sqlx::query(&format!("update tenants set erase_after = 1 where id = {}", b.tenant.0)).execute(&app.db().pool).await.unwrap();
    let new_bot = app.tg.create_managed_bot(b.owner, "gus_again_bot", "Gus's Guitars").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{new_bot}")).await["token"].as_str().unwrap());
    crate::owner_lifecycle::wait_live(&app, new_bot).await;
    let tenant = b.tenant.0;
    assert_eq!(count(app.db(), &format!("select count(*) from tenants where id = {tenant} and closed_at is null and erase_after is null")).await, 1, "open again");
    assert_eq!(count(app.db(), &format!("select count(*) from sources where tenant_id = {tenant}")).await, 0, "the old knowledge was erased");
    assert_eq!(count(app.db(), &format!("select count(*) from bots where tenant_id = {tenant} and id = {new_bot}")).await, 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_renewing_subscription_must_be_stopped_before_closing() {
    let app = spawn_app().await;
    let b = business(&app, "Gus", "gus_renew_bot", "Gus' Guitars").await;
    get(&app, &b.cookie, "/app/billing").await;
    let later = bellhop::storage::now_ms() + 10 * 86_400_000;
    sqlx::query(&format!("update billing_accounts set plan_source = 'stars', stars_charge_id = 'charge-1', stars_canceled = 0, plan_expires_at = {later} where tenant_id = {}", b.tenant.0))
        .execute(&app.db().pool)
        .await
        .unwrap();
    // Back on the Billing page, opened at the reason (a refresh sends nothing again).
    let (status, location, _) = post(&app, &b.cookie, "/app/account/close", &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!((status, location.as_str()), (303, "/app/billing?close_problem=renews#close"));
    let (_, page) = get(&app, &b.cookie, &location).await;
    assert!(page.contains("<p class=\"problem\" role=\"alert\">Your subscription still renews"), "{page}");
    // The reason links to the button that stops the renewal, not only names it.
    let reason = page.split("<p class=\"problem\" role=\"alert\">Your subscription still renews").nth(1).unwrap().split("</p>").next().unwrap();
    assert!(reason.contains("<a href=\"#renewal\">Cancel renewal</a>"), "{reason}");
    assert!(page.contains("action=\"/app/billing/renewal\" id=\"renewal\""), "{page}");
    assert_eq!(count(app.db(), "select count(*) from tenants where closed_at is not null").await, 0);
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and status = 'live'", b.bot)).await, 1);
    app.stop().await.unwrap();
}

/// Every table with a `tenant_id` column is either erased with an account or kept on purpose:
/// a new table with a business's data cannot be forgotten by the erasure.
#[tokio::test]
async fn every_table_with_tenant_data_is_erased_or_kept_on_purpose() {
    let app = spawn_app().await;
    let sql = if engine() == "postgres" {
        "select table_name::text from information_schema.columns where column_name = 'tenant_id' and table_schema = current_schema() order by 1"
    } else {
        "select m.name from sqlite_master m join pragma_table_info(m.name) p where m.type = 'table' and p.name = 'tenant_id' order by 1"
    };
    let tables: Vec<String> = sqlx::query_scalar(sql).fetch_all(&app.db().pool).await.unwrap();
    assert!(tables.len() > 20, "{tables:?}");
    for t in &tables {
        let listed = [ERASED_ON_ERASURE, KEPT_ON_ERASURE, SCRUBBED_ON_ERASURE].iter().filter(|l| l.contains(&t.as_str())).count();
        assert_eq!(listed, 1, "table {t} holds a business's data: add it to one of ERASED_ON_ERASURE, KEPT_ON_ERASURE or SCRUBBED_ON_ERASURE");
    }
    for t in ERASED_ON_ERASURE.iter().chain(SCRUBBED_ON_ERASURE) {
        assert!(tables.iter().any(|x| x == t), "{t} is listed but has no tenant_id");
    }
    app.stop().await.unwrap();
}

/// The manager bot's `managed_bot` updates handled so far (done jobs).
async fn manager_updates_done(app: &TestApp) -> i64 {
    count(app.db(), "select count(*) from jobs where kind = 'manager.update' and state = 'done'").await
}

/// Makes a new token for `bot` in Telegram (Telegram then sends the manager `managed_bot`, as
/// for a new bot) and waits until bellhop handled that update.
async fn new_token_in_telegram(app: &TestApp, bot: i64) {
    let before = manager_updates_done(app).await;
    let manager = app.state.manager.as_ref().unwrap();
    let fresh = manager.bot.call(&bellhop::telegram::methods::ReplaceManagedBotToken { user_id: bellhop::domain::UserId(bot) }).await.unwrap();
    token_used(&fresh);
    wait_until(WAIT, || async { manager_updates_done(app).await > before }).await;
    app.drain_jobs(WAIT).await;
}

/// Telegram sends `managed_bot` for a new token too, not only for a new bot. A new token for a
/// bot of a closed account does not reopen it (its erasure stays due on the same date) nor
/// connect the bot: only creating a new bot reopens an account.
#[tokio::test]
async fn a_new_token_for_a_bot_of_a_closed_account_neither_reopens_it_nor_connects_the_bot() {
    let app = spawn_app().await;
    let b = business(&app, "Hal", "hal_close_token_bot", "Hal's Hats").await;
    let (status, _, _) = post(&app, &b.cookie, "/app/account/close", &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 200);
    app.drain_jobs(WAIT).await;
    let erase_after = bellhop::storage::privacy::erase_date(&app.db().pool, b.tenant).await.unwrap().expect("closed");
    let provisionings = count(app.db(), "select count(*) from jobs where kind = 'bot.provision'").await;

    new_token_in_telegram(&app, b.bot).await;

    assert_eq!(bellhop::storage::privacy::erase_date(&app.db().pool, b.tenant).await.unwrap(), Some(erase_after), "still closed, erased on the same date");
    assert!(bellhop::storage::privacy::is_closed(&app.db().pool, b.tenant).await.unwrap());
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and status = 'disconnected' and token_key_id = ''", b.bot)).await, 1, "not connected, no token kept");
    assert_eq!(count(app.db(), "select count(*) from jobs where kind = 'bot.provision'").await, provisionings, "nothing provisioned");
    assert!(app.tg.get(&format!("bots/{}", b.bot)).await["webhook"].is_null());
    // Its erasure comes as planned.
    sqlx::query(&format!("update tenants set erase_after = 1 where id = {}", b.tenant.0)).execute(&app.db().pool).await.unwrap();
    assert!(bellhop::app::account::erase(&app.state, b.tenant).await.unwrap());
    app.stop().await.unwrap();
}

/// An erased account's bots stay as tombstones: a later `managed_bot` update about one (a new
/// token made in Telegram) does not connect it again, nor reopen the account.
#[tokio::test]
async fn a_bot_of_an_erased_account_is_not_connected_again_by_a_later_update() {
    let app = spawn_app().await;
    let b = business(&app, "Ida", "ida_erased_bot", "Ida's Inks").await;
    let (status, _, _) = post(&app, &b.cookie, "/app/account/close", &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 200);
    app.drain_jobs(WAIT).await;
    sqlx::query(&format!("update tenants set erase_after = 1 where id = {}", b.tenant.0)).execute(&app.db().pool).await.unwrap();
    assert!(bellhop::app::account::erase(&app.state, b.tenant).await.unwrap());

    new_token_in_telegram(&app, b.bot).await;

    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and status = 'deleted' and token_key_id = '' and name = ''", b.bot)).await, 1, "still a tombstone");
    assert_eq!(count(app.db(), &format!("select count(*) from tenants where id = {} and erased_at is not null and closed_at is not null", b.tenant.0)).await, 1, "not reopened");
    assert!(app.tg.get(&format!("bots/{}", b.bot)).await["webhook"].is_null(), "not connected");
    assert_eq!(tenant_rows(&app, b.tenant.0).await, vec![], "nothing recorded for it");
    app.stop().await.unwrap();
}

/// Closing an account with a live bot and a parked one (the Free plan has one bot): the first
/// one's disconnect frees a place on the plan, but the parked bot does not take it — both end
/// disconnected, nothing is set up, no "is live" welcome goes out and no webhook is left.
/// The parked bot's disconnect is held at Telegram until every job ran, so a provisioning
/// queued by the first disconnect would have run by then.
#[tokio::test]
async fn closing_an_account_with_a_parked_bot_disconnects_both_and_sets_neither_up() {
    let app = spawn_app().await;
    let b = business(&app, "Jo", "jo_first_bot", "Jo's Jams").await;
    let second = app.tg.create_managed_bot(b.owner, "jo_second_bot", "Jo's Jellies").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{second}")).await["token"].as_str().unwrap());
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {second} and status = 'parked'")).await == 1 }).await;
    app.drain_jobs(WAIT).await;
    let welcomes = || async { manager_said(&app, b.owner).await.iter().filter(|t| t.contains("is live")).count() };
    assert_eq!(welcomes().await, 1, "the first bot's welcome");

    app.tg.hold(second, "deleteWebhook", 1).await;
    let closing = {
        let (http, url, cookie, csrf) = (app.http.clone(), app.url("/app/account/close"), b.cookie.clone(), b.csrf.clone());
        tokio::spawn(async move { http.post(url).header("cookie", cookie).form(&[("csrf", csrf.as_str()), ("confirm", "yes")]).send().await.unwrap().status().as_u16() })
    };
    wait_until(WAIT, || async { app.tg.held(second, "deleteWebhook").await == 1 }).await;
    app.drain_jobs(WAIT).await;
    app.tg.release(second, "deleteWebhook", false).await;
    assert_eq!(closing.await.unwrap(), 200);
    app.drain_jobs(WAIT).await;

    for bot in [b.bot, second] {
        assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {bot} and status = 'disconnected' and token_key_id = ''")).await, 1, "bot {bot} disconnected");
        assert!(app.tg.get(&format!("bots/{bot}")).await["webhook"].is_null(), "no webhook left for bot {bot}");
    }
    assert_eq!(welcomes().await, 1, "no welcome for the parked bot");
    assert_eq!(count(app.db(), &format!("select count(*) from jobs where kind = 'bot.provision' and payload like '%{second}%'")).await, 0, "the parked bot was never set up");
    app.stop().await.unwrap();
}

/// A closed account's bot is not connected again from its settings page: it would answer
/// customers until the erasure took it, and everything it answers from, without a word. The
/// owner is told to keep the account first; kept, the bot connects.
#[tokio::test]
async fn a_closed_accounts_bot_is_not_connected_again_until_the_account_is_kept() {
    let app = spawn_app().await;
    let b = business(&app, "Hedy", "hedy_close_bot", "Hedy's Hats").await;
    let (status, _, _) = post(&app, &b.cookie, "/app/account/close", &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 200);
    let disconnected = format!("select count(*) from bots where id = {} and status = 'disconnected' and token_fingerprint = ''", b.bot);
    wait_until(WAIT, || async { count(app.db(), &disconnected).await == 1 }).await;

    let (_, cookie, csrf) = app.signed_in_owner(b.owner, "Hedy's Hats").await;
    let (status, _, body) = post(&app, &cookie, &format!("/app/bots/{}/connect", b.bot), &[("csrf", &csrf)]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Your account is closed") && body.contains("will be erased on") && body.contains("Keep my account"), "{body}");
    assert_eq!(count(app.db(), &disconnected).await, 1, "the bot stays disconnected");
    assert_eq!(count(app.db(), &format!("select count(*) from tenants where id = {} and closed_at is not null", b.tenant.0)).await, 1, "still closed");

    // Kept: the bot connects again.
    let (status, location, _) = post(&app, &cookie, "/app/account/reopen", &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/app/billing?reopened=1"));
    let (status, location, _) = post(&app, &cookie, &format!("/app/bots/{}/connect", b.bot), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert!(location.contains("connected"), "{location}");
    crate::owner_lifecycle::wait_live(&app, b.bot).await;
    app.stop().await.unwrap();
}

/// Closing an account signs everyone out; during the grace period only the owner may come back
/// (to keep it). A teammate's `/login` no longer offers the business, and a sign-in link they got
/// before the closing opens nothing.
#[tokio::test]
async fn a_teammate_cannot_sign_in_to_a_closed_account() {
    let app = spawn_app().await;
    let b = business(&app, "Lena", "lena_close_bot", "Lena's Lamps").await;
    let page = crate::owner_team::made_invite(&app, &b.cookie, &b.csrf).await;
    let tom = app.tg.user("Tom").await;
    crate::owner_team::say_to_manager(&app, tom, &format!("/start {}", crate::owner_team::invite_token(&page)), None).await;
    crate::owner_team::manager_message(&app, tom, "You're on the team of Lena's Lamps").await;
    // (/bots tells a teammate with no bot of their own where the team's bots are.)
    crate::owner_team::say_to_manager(&app, tom, "/bots", None).await;
    crate::owner_team::manager_message(&app, tom, "send /login to open its admin page").await;
    let said = manager_said(&app, tom).await;
    assert!(said.iter().any(|t| t.contains("You're on the team of Lena's Lamps: send /login")), "{said:?}");
    let tom = bellhop::domain::UserId(tom);
    assert_eq!(bellhop::storage::team::teams_of(&app.db().pool, tom).await.unwrap().len(), 1);
    let early_link = bellhop::manager::login::issue(app.db(), &app.state.cfg.public_url, b.tenant, tom).await.unwrap();

    let (status, _, _) = post(&app, &b.cookie, "/app/account/close", &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 200);
    assert!(bellhop::storage::team::teams_of(&app.db().pool, tom).await.unwrap().is_empty(), "not offered by /login");
    let r = app.sign_in(&early_link).await;
    if r.status() == 303 {
        let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
        assert_eq!(get(&app, &cookie, "/app/conversations").await.0, 401, "a teammate's session opens nothing of a closed account");
    }
    // The owner still may, to keep it.
    let (_, cookie, csrf) = app.signed_in_owner(b.owner, "Lena's Lamps").await;
    let (status, _, _) = post(&app, &cookie, "/app/account/reopen", &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert_eq!(bellhop::storage::team::teams_of(&app.db().pool, tom).await.unwrap().len(), 1, "kept: the team is back");
    // (The settings page says what deleting a bot's data means for the bot, before it is done.)
    let (_, settings) = get(&app, &cookie, &format!("/app/bots/{}/settings", b.bot)).await;
    assert!(settings.contains("this bot can't be connected to bellhop again afterwards"), "{settings}");
    app.stop().await.unwrap();
}

/// A bot someone gives to an owner whose account is closed does not reopen it (nor cancel the
/// erasure they asked for): the bot is theirs, left disconnected, until they keep the account
/// and connect it.
#[tokio::test]
async fn a_bot_given_to_a_closed_account_neither_reopens_it_nor_answers() {
    let app = spawn_app().await;
    let a = business(&app, "Olga", "olga_closed_bot", "Olga's Oils").await;
    let b = business(&app, "Paul", "paul_gives_bot", "Paul's Pens").await;
    let (status, _, _) = post(&app, &a.cookie, "/app/account/close", &[("csrf", &a.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 200);
    let closed = format!("select count(*) from tenants where id = {} and closed_at is not null and erase_after is not null", a.tenant.0);
    assert_eq!(count(app.db(), &closed).await, 1);

    app.tg.post(&format!("bots/{}/owner", b.bot), serde_json::json!({ "user_id": a.owner })).await;
    let given = format!("select count(*) from bots where id = {} and tenant_id = {} and status = 'disconnected' and token_fingerprint = ''", b.bot, a.tenant.0);
    wait_until(WAIT, || async { count(app.db(), &given).await == 1 }).await;
    app.drain_jobs(WAIT).await;
    assert_eq!(count(app.db(), &closed).await, 1, "still closed, its erasure still due");
    assert_eq!(count(app.db(), &given).await, 1, "recorded as theirs, not connected");

    // Kept: the bot connects like any other of theirs.
    let (_, cookie, csrf) = app.signed_in_owner(a.owner, "Olga's Oils").await;
    let (status, _, _) = post(&app, &cookie, "/app/account/reopen", &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let (status, location, _) = post(&app, &cookie, &format!("/app/bots/{}/connect", b.bot), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303, "{location}");
    crate::owner_lifecycle::wait_live(&app, b.bot).await;
    app.stop().await.unwrap();
}
