//! The admin billing page (`/app/billing`): plan, usage this period with a chart of answers per
//! day (inline SVG, no script), payments, and upgrading or downgrading with Stars (in the
//! manager chat) or by card (Stripe, when configured); the customer paywall switch.
//! Every query is scoped to the signed-in owner's tenant.
use super::AppError;
use super::auth::AccountOwner;
use crate::app::AppState;
use crate::billing::{account, stars, stripe};
use crate::storage::billing::{self as sql, DayCount, PaywallSettings};
use crate::storage::now_ms;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};

pub struct PlanRow {
    pub id: String,
    pub name: String,
    pub answers: i64,
    pub bots: i64,
    pub sources: i64,
    pub stars: i64,
    /// Offered in Stars (not while a card subscription pays for the plan).
    pub stars_offer: bool,
    pub card: bool,
    pub current: bool,
}

pub struct PaymentRow {
    pub date: String,
    pub what: String,
    pub amount: String,
    pub status: String,
    /// Telegram's id of a payment in Stars: what the operator needs to refund it
    /// (`bellhop billing refund --charge-id`).
    pub reference: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_billing.html")]
struct BillingPage {
    tab: &'static str,
    csrf: String,
    manager: String,
    /// Where the manager bot's link goes: `telegram.links_url` (Telegram, or the demo's sandbox).
    links: String,
    plan_name: String,
    source: String,
    /// A paid plan whose renewal is cancelled: when it ends, the plan that follows, and what
    /// then happens to sources and bots past that plan's numbers.
    ending: Option<String>,
    used: i64,
    allowance: i64,
    percent: i64,
    from_packs: i64,
    pack_credits: i64,
    chart: String,
    plans: Vec<PlanRow>,
    payments: Vec<PaymentRow>,
    stripe: bool,
    stripe_customer: bool,
    /// A card subscription is running: plans change in Stripe's portal, not by a new Checkout.
    pays_by_card: bool,
    stars_subscription: bool,
    stars_canceled: bool,
    attempt: String,
    notice: String,
    paywall: PaywallSettings,
    /// A closed account's erasure date (it can still be reopened).
    closing: Option<String>,
    grace_days: i64,
    /// Days raw Telegram updates are kept (the terms say so).
    updates_days: u64,
    /// A problem with closing the account, in words.
    close_problem: Option<String>,
    /// With it, a link to what solves it (href, label): the renewal to cancel.
    close_link: Option<(&'static str, &'static str)>,
}

/// Answers per day as bars: one per day of the last 30, the busiest day full height.
pub fn chart_svg(days: &[DayCount], today: i64) -> String {
    let (w, h, n) = (600, 160, 30i64);
    let busiest = days.iter().map(|d| d.answers).max().unwrap_or(0).max(0);
    let max = busiest.max(1);
    let bar = w / n;
    let mut s = format!(r#"<svg class="chart" viewBox="0 0 {w} {}" role="img" aria-label="AI answers per day, last 30 days" xmlns="http://www.w3.org/2000/svg">"#, h + 20);
    for i in 0..n {
        let day = today - (n - 1 - i);
        let v = days.iter().find(|d| d.day == day).map_or(0, |d| d.answers.max(0));
        let bh = (v * (h - 10) / max).max(if v > 0 { 2 } else { 0 });
        let x = i * bar;
        s.push_str(&format!(r#"<rect x="{}" y="{}" width="{}" height="{bh}" rx="2"><title>{} answers on {}</title></rect>"#, x + 2, h - bh, bar - 4, v, stars::date_of_day(day)));
    }
    s.push_str(&format!(r#"<line x1="0" y1="{h}" x2="{w}" y2="{h}" /><text x="0" y="{}">30 days ago</text><text x="{w}" y="{}" text-anchor="end">today</text>{}</svg>"#, h + 16, h + 16, if busiest > 0 { format!(r#"<text x="{w}" y="12" text-anchor="end">most in one day: {busiest}</text>"#) } else { r#"<text x="300" y="80" text-anchor="middle">No AI answers in the last 30 days</text>"#.to_owned() }));
    s
}

#[derive(serde::Deserialize, Default)]
pub struct ShowQuery {
    #[serde(default)]
    paid: Option<String>,
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    close_problem: Option<String>,
    #[serde(default)]
    reopened: Option<String>,
}

/// Closing without ticking the box, or while the subscription still renews: the refusals that
/// come back through the page's address (`?close_problem=confirm` / `renews`), after a redirect,
/// so the page opens at them and a refresh sends nothing again. Any other text there is
/// ignored: a link must not be able to put words of its own into the page's alerts.
const CLOSE_UNCONFIRMED: &str = "Nothing was closed: tick the box to confirm, then press Close my account again.";

pub async fn show(State(app): State<AppState>, AccountOwner(owner): AccountOwner, Query(q): Query<ShowQuery>) -> Result<Response, AppError> {
    let close_problem = match q.close_problem.as_deref() {
        Some("confirm") => Some(CLOSE_UNCONFIRMED.to_owned()),
        Some("renews") => Some(crate::app::account::STILL_RENEWS.to_owned()),
        _ => None,
    };
    page(&app, &owner, &q, close_problem).await
}

/// The billing page, with `close_problem` (why the account was not closed) above the close form.
async fn page(app: &AppState, owner: &super::auth::Owner, q: &ShowQuery, close_problem: Option<String>) -> Result<Response, AppError> {
    let cfg = &app.cfg.billing;
    let tenant = owner.tenant_id;
    let now = now_ms();
    let (acc, plan, usage) = account::current(&app.db, cfg, tenant, now).await?;
    let today = now.div_euclid(86_400_000);
    let days = sql::answers_per_day(&app.db.pool, tenant, (today - 29) * 86_400_000).await?;
    let payments = sql::payments_for_tenant(&app.db.pool, tenant, 20)
        .await?
        .into_iter()
        .map(|p| PaymentRow {
            date: stars::date(p.created_at),
            what: match p.kind.as_str() {
                "plan" => format!("{} plan, one month", cfg.plans.iter().find(|x| x.id == p.product).map_or(p.product.as_str(), |x| x.name.as_str())),
                "pack" => cfg.packs.iter().find(|x| x.id == p.product).map_or(p.product.clone(), |x| x.name.clone()),
                _ => format!("{} questions bought by a customer", p.credits),
            },
            amount: if p.currency == "XTR" { format!("{} ⭐", p.amount) } else { format!("{}.{:02} {}", p.amount / 100, p.amount % 100, p.currency.to_uppercase()) },
            status: if p.status == "refunded" { "refunded".into() } else { "paid".into() },
            reference: (p.provider != "stripe").then(|| p.external_id.clone()),
        })
        .collect();
    let stripe = cfg.stripe.is_some();
    let plans = cfg
        .plans
        .iter()
        // No second card subscription for a business that pays by card: it changes plan in
        // Stripe's portal.
        .map(|p| PlanRow {
            id: p.id.clone(),
            name: p.name.clone(),
            answers: p.answers,
            bots: p.bots,
            sources: p.sources,
            stars: p.stars,
            stars_offer: p.stars > 0 && !stripe::pays_by_card(&acc),
            // Nor beside a Stars subscription that still renews: both would charge.
            card: stripe && p.stripe_price.is_some() && !stripe::pays_by_card(&acc) && !stars::renews_in_stars(&acc, now),
            current: p.id == plan.id,
        })
        .collect();
    let notice = match (q.paid.as_deref(), q.done.as_deref()) {
        (Some(_), _) => "Thank you! Your card payment is being confirmed; your plan changes here as soon as Stripe tells us (usually within a minute).".into(),
        (_, Some("paywall")) => "Saved.".into(),
        (_, Some("cancel")) => "Renewal cancelled. Your plan stays until the end of the paid month.".into(),
        (_, Some("resume")) => "Renewal resumed.".into(),
        (_, Some("noportal")) => "There is no card subscription to manage yet.".into(),
        _ if q.reopened.is_some() => "Your account is open again and nothing will be erased. Your bots are still disconnected: connect each again on its settings page.".into(),
        _ => String::new(),
    };
    let stars_subscription = acc.plan_source == "stars" && acc.stars_charge_id.is_some() && (!acc.stars_canceled || stars::resume_refusal(&acc, false, now).is_none());
    // Closing refused while the plan renews: a link to the button that stops it, not only its name.
    let close_link = match close_problem.as_deref() {
        Some(crate::app::account::STILL_RENEWS) if stars_subscription && !acc.stars_canceled => Some(("#renewal", "Cancel renewal")),
        Some(crate::app::account::STILL_RENEWS) if stripe && acc.stripe_customer_id.is_some() => Some(("#card-renewal", "Change or cancel the card subscription")),
        _ => None,
    };
    let ending = match acc.plan_expires_at {
        Some(end) if acc.plan_source == "stars" && acc.stars_canceled && plan.id != cfg.plans[0].id => Some(plan_ending(app, tenant, &plan.name, &cfg.plans[0], end).await?),
        _ => None,
    };
    let page = BillingPage {
        ending,
        tab: "billing",
        csrf: owner.csrf.clone(),
        manager: app.manager.as_ref().map(|m| m.username.clone()).unwrap_or_default(),
        links: app.cfg.telegram.links_url.as_str().trim_end_matches('/').to_owned(),
        plan_name: plan.name.clone(),
        // What the plan costs and when its month turns, in one line under its name.
        source: match acc.plan_source.as_str() {
            "stars" => format!("Paid monthly in Telegram Stars · this month of the plan ends on {}", stars::date(acc.period_end)),
            "stripe" => format!("Paid monthly by card · this month of the plan ends on {}", stars::date(acc.period_end)),
            _ => format!("Free of charge · the plan's answers start again on {}", stars::date(acc.period_end)),
        },
        // The plan's answers only; what packs have left is shown beside them.
        used: usage.used,
        allowance: usage.allowance,
        percent: if usage.allowance > 0 { (usage.used * 100 / usage.allowance).clamp(0, 100) } else { 100 },
        from_packs: usage.from_packs,
        pack_credits: acc.pack_credits,
        chart: chart_svg(&days, today),
        plans,
        payments,
        stripe,
        stripe_customer: acc.stripe_customer_id.is_some(),
        pays_by_card: stripe::pays_by_card(&acc),
        // Resume is offered only where it is allowed (`stars::resume_refusal`).
        stars_subscription,
        stars_canceled: acc.stars_canceled,
        attempt: crate::manager::login::random_token(),
        notice,
        paywall: acc.paywall,
        closing: crate::storage::privacy::erase_date(&app.db.pool, owner.tenant_id).await?.map(crate::app::account::date),
        grace_days: crate::app::account::GRACE_DAYS,
        updates_days: app.cfg.retention.updates.as_secs() / 86_400,
        close_problem,
        close_link,
    };
    super::render_page(&page)
}

/// What the owner of a paid plan whose renewal is cancelled should know: it ends on `end`, then
/// `next`'s limits apply. Sources and bots past them stay (nothing is parked or deleted at the
/// change); new ones are refused, or parked, until the business is within them.
async fn plan_ending(app: &AppState, tenant: crate::domain::TenantId, name: &str, next: &crate::domain::plans::Plan, end: i64) -> Result<String, AppError> {
    let plural = |n: i64, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    let mut text = format!(
        "Renewal is cancelled: your {name} plan ends on {}. After that, the {} plan's limits apply: {} a month, {}, {}.",
        stars::date(end),
        next.name,
        plural(next.answers, "AI answer", "AI answers"),
        plural(next.bots, "bot", "bots"),
        plural(next.sources, "source", "sources"),
    );
    let sources = crate::storage::sources::count(&app.db.pool, tenant).await?;
    if sources > next.sources {
        text.push_str(&format!(
            " You have {sources} sources: they all stay and your bots keep answering from them, but you can't add another while you have {} or more.",
            next.sources
        ));
    }
    let bots = crate::storage::bots::count_connected(&app.db.pool, tenant).await?;
    if bots > next.bots {
        text.push_str(&format!(
            " You have {bots} bots: they stay connected, but the {} plan includes {}, so a bot you add or connect again is parked (it doesn't answer anyone).",
            next.name,
            plural(next.bots, "bot", "bots"),
        ));
    }
    Ok(text)
}

#[derive(serde::Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /app/account/close`: the owner closes the account (see `app::account`).
pub async fn close_account(State(app): State<AppState>, AccountOwner(owner): AccountOwner, axum::Form(f): axum::Form<CloseForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    if f.confirm.as_deref() != Some("yes") {
        return Ok(Redirect::to("/app/billing?close_problem=confirm#close").into_response());
    }
    match crate::app::account::close(&app, owner.tenant_id).await {
        Ok(when) => {
            let manager = app.manager.as_ref().map(|m| m.username.clone()).unwrap_or_default();
            let text = format!(
                "Your bots are disconnected (they stay yours in Telegram) and you are signed out. Everything kept here for your business will be erased on {}. Changed your mind? Send /login to @{manager} in Telegram before then and press “Keep my account” on the Billing page.",
                crate::app::account::date(when)
            );
            let mut res = super::pages::message(axum::http::StatusCode::OK, "Your account is closed", &text, Some(("Back to bellhop", "/")));
            res.headers_mut().insert(axum::http::header::SET_COOKIE, axum::http::HeaderValue::from_static("bellhop_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"));
            Ok(res)
        }
        Err(crate::app::lifecycle::LifecycleError::Refused(problem)) if problem == crate::app::account::STILL_RENEWS => {
            Ok(Redirect::to("/app/billing?close_problem=renews#close").into_response())
        }
        // Shown at once, not through the address (see `CLOSE_UNCONFIRMED`).
        Err(crate::app::lifecycle::LifecycleError::Refused(problem)) => {
            let mut res = page(&app, &owner, &ShowQuery::default(), Some(problem)).await?;
            *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(crate::app::lifecycle::LifecycleError::NotFound) => Err(AppError::NotFound),
        Err(crate::app::lifecycle::LifecycleError::Internal(e)) => Err(AppError::Internal(e)),
    }
}

/// `POST /app/account/reopen`: a closed account kept after all.
pub async fn reopen_account(State(app): State<AppState>, AccountOwner(owner): AccountOwner, axum::Form(f): axum::Form<CloseForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    match crate::app::account::reopen(&app, owner.tenant_id).await {
        Ok(_) => Ok(Redirect::to("/app/billing?reopened=1").into_response()),
        Err(crate::app::lifecycle::LifecycleError::Refused(problem)) => Ok(super::pages::message(axum::http::StatusCode::CONFLICT, "Too late to keep this account", &problem, Some(("Back to bellhop", "/"))).into_response()),
        Err(e) => Err(AppError::Internal(anyhow::anyhow!("{e}"))),
    }
}

#[derive(serde::Deserialize)]
pub struct CheckoutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    attempt: String,
}

fn plausible_attempt(a: &str) -> bool {
    (8..=64).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Upgrade by card: a Stripe Checkout Session, then off to Stripe's page.
pub async fn checkout(State(app): State<AppState>, AccountOwner(owner): AccountOwner, axum::Form(f): axum::Form<CheckoutForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    if app.cfg.billing.stripe.is_none() {
        return Err(AppError::BadRequest("Card payments are not set up on this bellhop. Pay with Telegram Stars: send /plan to the manager bot.".into()));
    }
    let acc = crate::storage::billing::get_account(&app.db.pool, owner.tenant_id).await?;
    if acc.as_ref().is_some_and(stripe::pays_by_card) {
        return Err(AppError::BadRequest(
            "You already pay by card. To change your plan or card, use “Change or cancel the card subscription” on the Billing page — a second subscription would charge you twice.".into(),
        ));
    }
    if acc.as_ref().is_some_and(|a| stars::renews_in_stars(a, now_ms())) {
        return Err(AppError::BadRequest(
            "Your plan is paid monthly in Telegram Stars. To pay by card instead, first cancel the Stars renewal on this page (or with /plan in Telegram) — paying both ways would charge you twice.".into(),
        ));
    }
    let Some(plan) = app.cfg.billing.plans.iter().find(|p| p.id == f.plan && p.stripe_price.is_some()) else {
        return Err(AppError::BadRequest("That plan can't be bought by card. Reload the page and pick another.".into()));
    };
    if !plausible_attempt(&f.attempt) {
        return Err(AppError::BadRequest("This form has expired; reload the page and try again.".into()));
    }
    let url = stripe::checkout(&app.billing, &app.cfg.public_url, owner.tenant_id, plan, &f.attempt).await?;
    Ok(Redirect::to(&url).into_response())
}

/// Manage or cancel the card subscription: Stripe's customer portal.
pub async fn portal(State(app): State<AppState>, AccountOwner(owner): AccountOwner, axum::Form(f): axum::Form<CheckoutForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    if app.cfg.billing.stripe.is_none() || !plausible_attempt(&f.attempt) {
        return Err(AppError::BadRequest("This form has expired; reload the page and try again.".into()));
    }
    match stripe::portal(&app.billing, &app.cfg.public_url, owner.tenant_id, &f.attempt).await? {
        Some(url) => Ok(Redirect::to(&url).into_response()),
        None => Ok(Redirect::to("/app/billing?done=noportal").into_response()),
    }
}

#[derive(serde::Deserialize)]
pub struct RenewalForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

/// Cancel or resume the Star subscription's renewal.
pub async fn renewal(State(app): State<AppState>, AccountOwner(owner): AccountOwner, axum::Form(f): axum::Form<RenewalForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let cancel = match f.action.as_str() {
        "cancel" => true,
        "resume" => false,
        _ => return Err(AppError::BadRequest("Unknown action.".into())),
    };
    let m = app.manager.as_ref().ok_or_else(|| AppError::BadRequest("Telegram is not connected.".into()))?;
    let done = stars::set_renewal(&app.billing, m, owner.tenant_id, cancel).await.map_err(|e| match e {
        crate::jobs::JobError::Retry(e) | crate::jobs::JobError::Permanent(e) => AppError::Internal(e),
    })?;
    if let stars::Renewal::Refused(why) = done {
        return Err(AppError::BadRequest(why));
    }
    Ok(Redirect::to(if cancel { "/app/billing?done=cancel" } else { "/app/billing?done=resume" }).into_response())
}

#[derive(serde::Deserialize)]
pub struct PaywallForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    free_per_day: String,
    #[serde(default)]
    pack_stars: String,
    #[serde(default)]
    pack_questions: String,
}

/// The customer paywall settings. Bad numbers change nothing and say which one.
pub async fn paywall(State(app): State<AppState>, AccountOwner(owner): AccountOwner, axum::Form(f): axum::Form<PaywallForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let number = |v: &str, what: &str, min: i64, max: i64| -> Result<i64, AppError> {
        v.trim().parse::<i64>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| AppError::BadRequest(format!("{what} must be a whole number from {min} to {max}.")))
    };
    let s = PaywallSettings {
        enabled: f.enabled.is_some(),
        free_per_day: number(&f.free_per_day, "Free questions a day", 0, 1000)?,
        pack_stars: number(&f.pack_stars, "The price in Stars", 1, 10_000)?,
        pack_questions: number(&f.pack_questions, "Questions per pack", 1, 10_000)?,
    };
    let mut tx = app.db.begin().await?;
    account::open(&mut tx, &app.cfg.billing, owner.tenant_id, now_ms()).await?;
    sql::set_paywall(&mut tx, owner.tenant_id, &s).await?;
    tx.commit().await?;
    Ok(Redirect::to("/app/billing?done=paywall").into_response())
}
