//! The owner's knowledge pages: sources (files, web pages, sites) with live status, Q&A pairs,
//! and the search playground — one bot's at a time, chosen with a selector when the owner has
//! more than one (`?bot=ID`; `bot=0` is the knowledge no bot uses). A source can also be used by
//! the owner's other bots ("Also use for"). Every query is scoped to the signed-in owner's
//! tenant; every form that changes something carries the session's CSRF token.
use super::AppError;
use super::auth::Owner;
use super::pages::render;
use crate::app::AppState;
use crate::domain::{BotId, QaId, SourceId, TenantId};
use crate::knowledge::ingest;
use crate::knowledge::qa::{NearWhy, QaVerdict};
use crate::retrieval::Hit;
use crate::storage::{bots, sources};
use askama::Template;
use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

/// One entry of the bot selector.
pub struct Choice {
    pub id: i64,
    pub label: String,
    pub selected: bool,
}

/// Which bot's knowledge a page is about, and the selector that changes it.
pub struct Picker {
    /// The page the selector reloads.
    pub action: &'static str,
    pub choices: Vec<Choice>,
    /// There is a choice: more than one bot, or knowledge no bot uses beside a bot.
    pub show: bool,
    /// The bot shown; 0: the knowledge no bot uses (all of it while the owner has no bot).
    pub bot_id: i64,
    /// The owner has no bot yet.
    pub no_bot: bool,
    /// The owner's bots (not deleted), for "Also use for".
    pub bots: Vec<bots::Bot>,
}

impl Picker {
    pub fn bot(&self) -> Option<BotId> {
        (self.bot_id != 0).then_some(BotId(self.bot_id))
    }

    /// Whose knowledge is shown, for a sentence: "@rosas_bakery_bot", "your knowledge" (no
    /// bot yet) or "the knowledge no bot uses".
    pub fn whose(&self) -> String {
        match self.bots.iter().find(|b| b.id.0 == self.bot_id) {
            Some(b) => format!("@{}", b.username),
            None if self.no_bot => "your knowledge".into(),
            None => "the knowledge no bot uses".into(),
        }
    }

    /// The other bots a source of the shown bot could also be used for.
    pub fn others(&self) -> Vec<&bots::Bot> {
        self.bots.iter().filter(|b| b.id.0 != self.bot_id).collect()
    }

    /// A form named a bot (`asked`) that is not one of the owner's: another business's, a
    /// deleted one. What it adds is refused and nothing is written — never given to the first
    /// bot instead, which would answer for another. (0, the knowledge no bot uses, is not a bot.)
    fn not_the_asked(&self, asked: Option<i64>) -> bool {
        asked.is_some_and(|b| b != 0 && !self.bots.iter().any(|x| x.id.0 == b))
    }
}

/// A form's bot that is not one of the owner's, in the owner's words.
const NOT_YOUR_BOT: &str = "Not added: the bot you were adding it to is not one of your bots (was it deleted?). Nothing was changed.";

/// The bot `asked` (`?bot=`) if it is one of the owner's — or 0 for the knowledge no bot uses,
/// when there is some — else the owner's first bot. `orphans`: offer the knowledge no bot uses.
pub async fn pick(app: &AppState, tenant: TenantId, asked: Option<i64>, action: &'static str, orphans: bool) -> Result<Picker, AppError> {
    let list = bots::list_for_tenant(&app.db.pool, tenant).await?;
    let unused = if orphans && !list.is_empty() { sources::orphans(&app.db.pool, tenant).await? } else { 0 };
    let bot_id = match asked {
        Some(0) if unused > 0 => 0,
        Some(b) if list.iter().any(|x| x.id.0 == b) => b,
        _ => list.first().map_or(0, |b| b.id.0),
    };
    let mut choices: Vec<Choice> = list.iter().map(|b| Choice { id: b.id.0, label: format!("{} (@{})", b.name, b.username), selected: b.id.0 == bot_id }).collect();
    if unused > 0 {
        choices.push(Choice { id: 0, label: "Not used by any bot".into(), selected: bot_id == 0 });
    }
    Ok(Picker { action, show: choices.len() > 1, choices, bot_id, no_bot: list.is_empty(), bots: list })
}

pub struct SourceRow {
    pub id: SourceId,
    pub kind: String,
    pub name: String,
    pub content_type: Option<String>,
    pub size: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub chunk_count: i64,
    /// A failing scheduled source: when it is tried again ("12 Mar 2027").
    pub next_try: Option<String>,
    /// A source read well that is read again on a schedule: how often and when next ("Read
    /// again every day — next on 7 Dec 2026.").
    pub next_read: Option<String>,
    /// Another bot's source shared with the shown bot: that bot ("@flowers_bot").
    pub shared_from: Option<String>,
    /// The shown bot's own source: the owner's other bots, each ticked if it also uses it.
    pub also: Vec<Choice>,
    /// Reading it again may help: not a file that failed for good (unsupported, damaged).
    pub rereadable: bool,
    /// While it is being read: how far, in percent, once that is known.
    pub progress: Option<i64>,
    /// A web page's or site's title, shown above its address.
    pub title: Option<String>,
    /// A site read up to its page limit: that pages of it were left out ([`left_out`]).
    pub left_out: Option<String>,
}

/// A site whose last read stopped at its page limit with more of it unread, in the owner's
/// words: which limit, and that other pages were left out. `cap`: the most pages the server
/// reads of one site (`knowledge.crawl_max_pages`).
pub fn left_out(s: &sources::Source, cap: usize) -> Option<String> {
    let limit = s.page_limit_reached.filter(|_| s.status == "ready" && s.kind == "site")?;
    let pages = format!("{limit} page{}", if limit == 1 { "" } else { "s" });
    Some(if limit >= cap as i64 {
        format!("Read {pages} — the most bellhop reads from one site. Other pages of this site were left out.")
    } else {
        format!("Read {pages} — the number you chose. Other pages of this site were left out: to read more, delete it and add the site again with more pages.")
    })
}

#[derive(Template)]
#[template(path = "admin_sources.html")]
struct SourcesPage {
    tab: &'static str,
    csrf: String,
    picker: Picker,
    sources: Vec<SourceRow>,
    qa: Vec<sources::QaPair>,
    notice: Option<String>,
    problem: Option<String>,
    max_file: String,
    max_total: String,
    /// "3 of the 5 sources of the Free plan".
    allowance: String,
}

/// How often a source is read again, in words: 24 hours → "every day".
fn every(hours: i64) -> String {
    match hours {
        24 => "every day".into(),
        168 => "every week".into(),
        720 => "every month".into(),
        h if h % 24 == 0 => format!("every {} days", h / 24),
        1 => "every hour".into(),
        h => format!("every {h} hours"),
    }
}

/// Sizes as owners read them ("340 KB", "20 MB"), the same wording as the extractor's errors.
pub fn human_size(bytes: i64) -> String {
    crate::knowledge::extract::human_size(bytes.max(0) as u64)
}

/// The tenant's plan's limit on sources: how many it has, how many the plan allows, the plan's name.
struct Allowance {
    used: i64,
    limit: i64,
    plan: String,
}

impl Allowance {
    async fn of(app: &AppState, owner: &Owner) -> Result<Self, AppError> {
        let (_, plan, _) = crate::billing::account::current(&app.db, &app.cfg.billing, owner.tenant_id, crate::storage::now_ms()).await?;
        let used = sources::count(&app.db.pool, owner.tenant_id).await?;
        Ok(Self { used, limit: plan.sources, plan: plan.name.clone() })
    }

    fn room(&self) -> i64 {
        (self.limit - self.used).max(0)
    }

    /// What a new source must fit, checked again when it is stored.
    fn limits(&self, app: &AppState) -> crate::app::sources::SourceLimits {
        crate::app::sources::SourceLimits { max_sources: self.limit, max_bytes: app.cfg.knowledge.max_tenant_bytes.min(i64::MAX as u64) as i64 }
    }

    /// Why more sources are refused, in the owner's words.
    fn full(&self, what: &str) -> String {
        self.refused(what, "not added")
    }

    /// [`Self::full`], saying what was not done (`"not added"`, `"not read again"`).
    fn refused(&self, what: &str, not_done: &str) -> String {
        format!(
            "{what} {not_done}: the {} plan holds {} sources and you have {}. Delete a source you no longer need, or choose a bigger plan on the Billing page.",
            self.plan, self.limit, self.used
        )
    }
}

async fn page(app: &AppState, owner: &Owner, bot: Option<i64>, notice: Option<String>, problem: Option<String>) -> Result<Response, AppError> {
    let picker = pick(app, owner.tenant_id, bot, "/app/sources", true).await?;
    let allowance = Allowance::of(app, owner).await?;
    let list = sources::list_for(&app.db.pool, owner.tenant_id, picker.bot()).await?;
    let qa = sources::list_qa(&app.db.pool, owner.tenant_id, picker.bot()).await?;
    let shares = sources::shares(&app.db.pool, owner.tenant_id).await?;
    let k = &app.cfg.knowledge;
    let handle = |id: i64| picker.bots.iter().find(|b| b.id.0 == id).map(|b| format!("@{}", b.username));
    let rows = list
        .into_iter()
        .map(|s| {
            // On the page of the knowledge no bot uses, every source listed is that knowledge's.
            let own = picker.bot().is_none() || s.bot_id == picker.bot().map(|b| b.0);
            SourceRow {
                shared_from: if own { None } else { Some(s.bot_id.and_then(&handle).unwrap_or_else(|| "the knowledge no bot uses".into())) },
                also: if own {
                    picker.others().into_iter().map(|b| Choice { id: b.id.0, label: format!("@{}", b.username), selected: shares.contains(&sources::Share { source_id: s.id, bot_id: b.id }) }).collect()
                } else {
                    vec![]
                },
                next_try: s.next_crawl_at.filter(|_| s.status == "failed").map(crate::billing::stars::date),
                next_read: s.next_scheduled_read().zip(s.recrawl_hours).map(|(at, hours)| format!("Read again {} — next on {}.", every(hours), crate::billing::stars::date(at))),
                rereadable: !(s.status == "failed" && s.kind == "file" && s.status_reason.as_deref().is_some_and(crate::knowledge::extract::fails_for_good)),
                progress: s.progress_percent(),
                title: s.title.clone().filter(|t| !t.trim().is_empty() && *t != s.name),
                left_out: left_out(&s, k.crawl_max_pages),
                id: s.id,
                kind: s.kind,
                name: s.name,
                content_type: s.content_type,
                size: human_size(s.size_bytes),
                status: s.status,
                status_reason: s.status_reason,
                chunk_count: s.chunk_count,
            }
        })
        .collect();
    let mut r = render(&SourcesPage {
        tab: "sources",
        csrf: owner.csrf.clone(),
        sources: rows,
        picker,
        qa,
        notice,
        problem: problem.clone(),
        max_file: human_size(k.max_file_bytes as i64),
        max_total: human_size(k.max_tenant_bytes as i64),
        allowance: format!("{} of the {} sources of the {} plan", allowance.used, allowance.limit, allowance.plan),
    })?;
    if problem.is_some() {
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(r)
}

#[derive(serde::Deserialize)]
pub struct Which {
    #[serde(default)]
    bot: Option<i64>,
    /// What was just done, to say so (`source-deleted`, `qa-deleted`, `source-importing`,
    /// `source-rereading`, `qa-added`, `qa-updated`).
    #[serde(default)]
    done: Option<String>,
    /// The source it was done to (looked up in the owner's tenant).
    #[serde(default)]
    source: Option<i64>,
    /// The Q&A pair it was done to (looked up in the owner's tenant).
    #[serde(default)]
    qa: Option<i64>,
}

/// `GET /app/sources?bot=ID`.
pub async fn list(State(app): State<AppState>, owner: Owner, Query(w): Query<Which>) -> Result<Response, AppError> {
    let notice = match w.done.as_deref() {
        Some("source-deleted") => Some("Source deleted. Your bot no longer answers from it.".to_owned()),
        Some("qa-deleted") => Some("Question & answer deleted.".to_owned()),
        Some(done @ ("source-importing" | "source-again" | "source-rereading")) => match w.source {
            Some(id) => sources::get(&app.db.pool, owner.tenant_id, SourceId(id)).await?.map(|s| match done {
                "source-importing" => format!("Importing {}. This page updates by itself.", s.name),
                "source-again" => format!("{} was already in your knowledge: it is being read again.", s.name),
                _ if s.chunk_count > 0 => format!("Reading “{}” again; your bot keeps answering from the earlier version until it is done.", s.name),
                _ => format!("Reading “{}” again. This page updates by itself.", s.name),
            }),
            None => None,
        },
        Some(done @ ("qa-added" | "qa-updated")) => match w.qa {
            Some(id) => sources::get_qa(&app.db.pool, owner.tenant_id, QaId(id))
                .await?
                .map(|p| format!("{} the answer to “{}”.", if done == "qa-added" { "Added" } else { "Updated" }, p.question)),
            None => None,
        },
        _ => None,
    };
    page(&app, &owner, w.bot, notice, None).await
}

#[derive(serde::Serialize)]
pub struct StatusRow {
    id: SourceId,
    status: String,
    status_reason: Option<String>,
    chunk_count: i64,
    /// While it is being read: how far, in percent, once that is known.
    progress: Option<i64>,
    /// A site read up to its page limit: that pages of it were left out ([`left_out`]).
    left_out: Option<String>,
}

/// `GET /app/sources/status`: the list's live status, for the page's polling script.
pub async fn status(State(app): State<AppState>, owner: Owner) -> Result<Json<Vec<StatusRow>>, AppError> {
    let list = sources::list(&app.db.pool, owner.tenant_id).await?;
    let cap = app.cfg.knowledge.crawl_max_pages;
    Ok(Json(
        list.into_iter()
            .map(|s| StatusRow { progress: s.progress_percent(), left_out: left_out(&s, cap), id: s.id, status: s.status, status_reason: s.status_reason, chunk_count: s.chunk_count })
            .collect(),
    ))
}

/// Upload requests this process reads at once. Each holds at most its body limit in memory (five
/// files of `knowledge.max_file_bytes` and the form), so together they stay within a few hundred
/// megabytes however many are sent; the others wait their turn.
static UPLOADS_AT_ONCE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// A file as read from an upload: its bytes, or only its size when it is over the limit.
#[derive(Debug, PartialEq)]
enum Capped {
    Kept(Vec<u8>),
    TooBig(u64),
}

/// Reads a file part as it arrives, keeping at most `cap` bytes: past that it is read to its end
/// and dropped as it comes (the owner still gets the page that says which file was too big, and
/// how big it was), so a file far over the limit never sits in memory.
async fn read_capped<S, E>(mut part: S, cap: u64) -> Result<Capped, E>
where
    S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
{
    use futures::StreamExt;
    let mut kept = Vec::new();
    let mut seen: u64 = 0;
    while let Some(chunk) = part.next().await {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > cap {
            kept = Vec::new();
        } else {
            kept.extend_from_slice(&chunk);
        }
    }
    Ok(if seen > cap { Capped::TooBig(seen) } else { Capped::Kept(kept) })
}

/// `POST /app/sources/upload` (multipart): one or more files. Each is checked against the
/// per-file and per-tenant limits, stored, and queued for reading — all before the answer.
pub async fn upload(State(app): State<AppState>, owner: Owner, mut form: Multipart) -> Result<Response, AppError> {
    let limits = &app.cfg.knowledge;
    // Waits its turn (within the upload timeout) rather than adding to what uploads hold.
    let _reading = UPLOADS_AT_ONCE.acquire().await.map_err(anyhow::Error::from)?;
    let mut csrf = None;
    let mut bot = None;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut problems = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let too_big = e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE;
                let msg = if too_big {
                    format!("That upload is too large: at most {} per file.", human_size(limits.max_file_bytes as i64))
                } else {
                    "The upload was interrupted; please try again.".to_owned()
                };
                return page(&app, &owner, bot, None, Some(msg)).await;
            }
        };
        match field.name() {
            Some("csrf") => csrf = Some(field.text().await.unwrap_or_default()),
            Some("bot") => bot = field.text().await.ok().and_then(|b| b.trim().parse::<i64>().ok()),
            Some("files") => {
                let name = field.file_name().map(clean_name).unwrap_or_else(|| "file".into());
                let bytes = match read_capped(field, limits.max_file_bytes).await {
                    Ok(Capped::Kept(b)) => b,
                    Ok(Capped::TooBig(size)) => {
                        problems.push(format!("“{name}” is {}; the limit is {} per file.", human_size(size as i64), human_size(limits.max_file_bytes as i64)));
                        continue;
                    }
                    Err(_) => {
                        problems.push(format!("“{name}” is larger than {}.", human_size(limits.max_file_bytes as i64)));
                        continue;
                    }
                };
                if bytes.is_empty() && name == "file" {
                    continue; // the empty file input of a form sent with nothing chosen
                }
                files.push((name, bytes));
            }
            _ => {}
        }
    }
    owner.check_csrf(csrf.as_deref().unwrap_or_default())?;
    if files.is_empty() && problems.is_empty() {
        return page(&app, &owner, bot, None, Some("Choose at least one file to upload.".into())).await;
    }
    let picker = pick(&app, owner.tenant_id, bot, "/app/sources", true).await?;
    if picker.not_the_asked(bot) {
        return page(&app, &owner, None, None, Some(NOT_YOUR_BOT.to_owned())).await;
    }
    let holder = picker.bot();
    // Two files of one name in one upload: the later is the newer version, as if sent after.
    let mut names = std::collections::HashSet::new();
    let mut files: Vec<_> = files.into_iter().rev().filter(|(name, _)| names.insert(name.clone())).collect();
    files.reverse();
    let mut used = sources::total_bytes(&app.db.pool, owner.tenant_id).await?;
    let mut allowance = Allowance::of(&app, &owner).await?;
    let mut added = Vec::new();
    let mut replaced = Vec::new();
    let mut refused = Vec::new();
    for (name, bytes) in files {
        let size = bytes.len() as i64;
        let new = sources::NewSource { bot: holder, kind: "file", name: &name, size_bytes: size, content: Some(&bytes), max_pages: None, recrawl_hours: None };
        // A file named like one of the bot's own files is its new version: it replaces it, in
        // one transaction with the limits' check, like a new source.
        let replacing = if size > 0 && size as u64 <= limits.max_file_bytes {
            crate::app::sources::replace_file_within(&app, owner.tenant_id, &new, allowance.limits(&app)).await?
        } else {
            None
        };
        let replaces = replacing.is_some();
        let stored = match replacing {
            Some(stored) => stored,
            None => {
                if allowance.room() == 0 {
                    refused.push(format!("“{name}”"));
                    continue;
                }
                if size == 0 {
                    problems.push(format!("“{name}” is empty."));
                    continue;
                }
                if size as u64 > limits.max_file_bytes {
                    problems.push(format!("“{name}” is {}; the limit is {} per file.", human_size(size), human_size(limits.max_file_bytes as i64)));
                    continue;
                }
                if let Err(e) = crate::knowledge::extract::check_tenant_quota(used as u64, size as u64, limits.max_tenant_bytes) {
                    problems.push(format!("“{name}”: {e}"));
                    continue;
                }
                // Checked again where it is stored, in one transaction with the insert: uploads
                // sent at the same time cannot go past the plan's number of sources or the byte
                // quota together.
                crate::app::sources::add_source_within(&app, owner.tenant_id, &new, allowance.limits(&app)).await?
            }
        };
        match stored {
            Ok(_) => {}
            Err(crate::app::sources::Refused::TooMany { used: now, .. }) => {
                allowance.used = now;
                refused.push(format!("“{name}”"));
                continue;
            }
            Err(crate::app::sources::Refused::TooBig { used: now, size, limit }) => {
                let e = crate::knowledge::extract::ExtractError::OverTenantLimit { used: now.max(0) as u64, size: size as u64, limit: limit as u64 };
                problems.push(format!("“{name}”: {e}"));
                continue;
            }
        }
        if replaces {
            used = sources::total_bytes(&app.db.pool, owner.tenant_id).await?;
            replaced.push(name);
            continue;
        }
        used += size;
        allowance.used += 1;
        added.push(name);
    }
    if !refused.is_empty() {
        problems.push(allowance.full(&refused.join(", ")));
    }
    let mut said = Vec::new();
    if !added.is_empty() {
        said.push(format!("Added {}. Reading now — this page updates by itself.", added.join(", ")));
    }
    match replaced.as_slice() {
        [] => {}
        [one] => said.push(format!("Replaced {one} with the new version; your bot answers from it once it is read.")),
        many => said.push(format!("Replaced {} with the new versions; your bot answers from them once they are read.", many.join(", "))),
    }
    let notice = (!said.is_empty()).then(|| said.join(" "));
    let problem = (!problems.is_empty()).then(|| problems.join(" "));
    page(&app, &owner, holder.map(|b| b.0), notice, problem).await
}

/// Keeps a file name displayable: no paths, no control characters, at most 200 characters.
fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let s: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if s.trim().is_empty() { "file".into() } else { s }
}

#[derive(serde::Deserialize)]
pub struct UrlForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    bot: Option<i64>,
    url: String,
    #[serde(default)]
    whole_site: Option<String>,
    #[serde(default)]
    max_pages: Option<String>,
    #[serde(default)]
    recrawl_hours: Option<String>,
}

pub async fn import_url(State(app): State<AppState>, owner: Owner, axum::Form(f): axum::Form<UrlForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let url = match url::Url::parse(f.url.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
        _ => return page(&app, &owner, f.bot, None, Some("That doesn't look like a web address. It should start with https://".into())).await,
    };
    let picker = pick(&app, owner.tenant_id, f.bot, "/app/sources", true).await?;
    if picker.not_the_asked(f.bot) {
        return page(&app, &owner, None, None, Some(NOT_YOUR_BOT.to_owned())).await;
    }
    let holder = picker.bot();
    let back = holder.map(|b| b.0);
    let site = f.whole_site.is_some();
    let cap = app.cfg.knowledge.crawl_max_pages as i64;
    let max_pages = if site { Some(f.max_pages.and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(50).clamp(1, cap)) } else { None };
    let recrawl = f.recrawl_hours.and_then(|v| v.trim().parse::<i64>().ok()).filter(|h| (1..=24 * 366).contains(h));
    let allowance = Allowance::of(&app, &owner).await?;
    // An address the bot already has (read or not) is read again, like its "Re-read": a second
    // row would repeat it.
    let kind = if site { "site" } else { "url" };
    if let Some(old) = sources::own_address(&app.db.pool, owner.tenant_id, holder, kind, url.as_str()).await? {
        match crate::app::sources::requeue_within(&app, owner.tenant_id, old.id, allowance.limits(&app)).await? {
            Some(Ok(())) => return Ok(back_about(back, "source-again", "source", old.id.0)),
            Some(Err(refused)) => return page(&app, &owner, back, None, Some(reread_refused(&allowance, &old.name, refused))).await,
            // Deleted meanwhile: a new source.
            None => {}
        }
    }
    if allowance.room() == 0 {
        return page(&app, &owner, back, None, Some(allowance.full(url.as_str()))).await;
    }
    // Its size is known once it is read: the quota is checked then (knowledge::ingest).
    let new = sources::NewSource { bot: holder, kind: if site { "site" } else { "url" }, name: url.as_str(), size_bytes: 0, content: None, max_pages, recrawl_hours: recrawl };
    match crate::app::sources::add_source_within(&app, owner.tenant_id, &new, allowance.limits(&app)).await? {
        // Back to the page (a refresh does not send the form again), which says so.
        Ok(id) => Ok(back_about(back, "source-importing", "source", id.0)),
        Err(crate::app::sources::Refused::TooMany { used, .. }) => page(&app, &owner, back, None, Some(Allowance { used, ..allowance }.full(url.as_str()))).await,
        Err(crate::app::sources::Refused::TooBig { used, limit, .. }) => {
            let full = crate::knowledge::extract::storage_full(None, used.max(0) as u64, limit.max(0) as u64);
            page(&app, &owner, back, None, Some(full)).await
        }
    }
}

/// A form about one source or pair, from the page of bot `bot` (where it goes back to).
#[derive(serde::Deserialize)]
pub struct OnBot {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    bot: Option<i64>,
}

/// Back to the knowledge page of the bot a form came from.
fn back_to(bot: Option<i64>) -> Response {
    match bot {
        Some(b) => Redirect::to(&format!("/app/sources?bot={b}")).into_response(),
        None => Redirect::to("/app/sources").into_response(),
    }
}

/// [`back_to`], saying what was done (`done`, see [`list`]) to which source or pair (`what`:
/// `source` or `qa`, and its id).
fn back_about(bot: Option<i64>, done: &str, what: &str, id: i64) -> Response {
    match bot {
        Some(b) => Redirect::to(&format!("/app/sources?bot={b}&done={done}&{what}={id}")).into_response(),
        None => Redirect::to(&format!("/app/sources?done={done}&{what}={id}")).into_response(),
    }
}

/// [`back_to`], saying what was done (`done`, see [`list`]).
fn back_saying(bot: Option<i64>, done: &str) -> Response {
    match bot {
        Some(b) => Redirect::to(&format!("/app/sources?bot={b}&done={done}")).into_response(),
        None => Redirect::to(&format!("/app/sources?done={done}")).into_response(),
    }
}

pub async fn reindex(State(app): State<AppState>, owner: Owner, Path(id): Path<i64>, axum::Form(f): axum::Form<OnBot>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    // A source that failed with nothing read takes no place; read again, it would: it must fit
    // the plan like a new one.
    let allowance = Allowance::of(&app, &owner).await?;
    match crate::app::sources::requeue_within(&app, owner.tenant_id, SourceId(id), allowance.limits(&app)).await? {
        None => Err(AppError::NotFound),
        Some(Ok(())) => Ok(back_about(f.bot, "source-rereading", "source", id)),
        Some(Err(refused)) => {
            let name = sources::get(&app.db.pool, owner.tenant_id, SourceId(id)).await?.map(|s| s.name).unwrap_or_default();
            page(&app, &owner, f.bot, None, Some(reread_refused(&allowance, &name, refused))).await
        }
    }
}

/// Why source `name` was not read again, in the owner's words.
fn reread_refused(allowance: &Allowance, name: &str, refused: crate::app::sources::Refused) -> String {
    match refused {
        crate::app::sources::Refused::TooMany { used, .. } => Allowance { used, limit: allowance.limit, plan: allowance.plan.clone() }.refused(&format!("“{name}”"), "not read again"),
        crate::app::sources::Refused::TooBig { used, size, limit } => {
            let what = format!("“{name}”");
            crate::knowledge::extract::storage_full((size > 0).then_some((what.as_str(), size as u64)), used.max(0) as u64, limit.max(0) as u64)
        }
    }
}

pub async fn delete(State(app): State<AppState>, owner: Owner, Path(id): Path<i64>, axum::Form(f): axum::Form<OnBot>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    if !ingest::delete_source(&app.db, &app.retriever, owner.tenant_id, SourceId(id)).await? {
        return Err(AppError::NotFound);
    }
    Ok(back_saying(f.bot, "source-deleted"))
}

/// `POST /app/sources/{id}/bots`: the owner's other bots that also use source `id` — exactly
/// those ticked (`also`, repeated). Only the source's own bot's page offers it.
pub async fn share(State(app): State<AppState>, owner: Owner, Path(id): Path<i64>, body: axum::body::Bytes) -> Result<Response, AppError> {
    let (mut csrf, mut bot, mut also) = (String::new(), None, Vec::new());
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "csrf" => csrf = v.into_owned(),
            "bot" => bot = v.trim().parse::<i64>().ok(),
            "also" => also.extend(v.trim().parse::<i64>().ok().map(BotId)),
            _ => {}
        }
    }
    owner.check_csrf(&csrf)?;
    let source = sources::get(&app.db.pool, owner.tenant_id, SourceId(id)).await?.ok_or(AppError::NotFound)?;
    let mut tx = app.db.begin().await?;
    sources::unshare_all(&mut *tx, owner.tenant_id, source.id).await?;
    for b in also {
        sources::share(&mut *tx, owner.tenant_id, source.id, b).await?;
    }
    tx.commit().await?;
    Ok(back_to(bot))
}

#[derive(serde::Deserialize)]
pub struct QaForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    bot: Option<i64>,
    question: String,
    answer: String,
}

/// A Q&A pair as the owner typed it, trimmed — or what to fix, in plain words.
pub fn check_qa<'a>(question: &'a str, answer: &'a str) -> Result<(&'a str, &'a str), String> {
    let (q, a) = (question.trim(), answer.trim());
    if q.is_empty() || a.is_empty() || q.chars().count() > 500 || a.chars().count() > 4000 {
        return Err("Write both a question (up to 500 characters) and its answer (up to 4,000).".into());
    }
    Ok((q, a))
}

pub async fn add_qa(State(app): State<AppState>, owner: Owner, axum::Form(f): axum::Form<QaForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let (q, a) = match check_qa(&f.question, &f.answer) {
        Ok(pair) => pair,
        Err(problem) => return page(&app, &owner, f.bot, None, Some(problem)).await,
    };
    let picker = pick(&app, owner.tenant_id, f.bot, "/app/sources", true).await?;
    if picker.not_the_asked(f.bot) {
        return page(&app, &owner, None, None, Some(NOT_YOUR_BOT.to_owned())).await;
    }
    let holder = picker.bot();
    match crate::app::sources::add_qa_within(&app, owner.tenant_id, holder, q, a, app.cfg.knowledge.max_qa_pairs).await? {
        Ok(crate::app::sources::QaAdded::New(id)) => Ok(back_about(holder.map(|b| b.0), "qa-added", "qa", id.0)),
        Ok(crate::app::sources::QaAdded::Updated(id, _)) => Ok(back_about(holder.map(|b| b.0), "qa-updated", "qa", id.0)),
        Err(count) => page(&app, &owner, holder.map(|b| b.0), None, Some(crate::app::sources::qa_full(&picker.whose(), count))).await,
    }
}

/// `POST /app/qa/{id}`: a pair's question and answer as the owner edited them. Only the
/// tenant's own pair: another's id is not found, as for a delete.
pub async fn edit_qa(State(app): State<AppState>, owner: Owner, Path(id): Path<i64>, axum::Form(f): axum::Form<QaForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let (q, a) = match check_qa(&f.question, &f.answer) {
        Ok(pair) => pair,
        Err(problem) => return page(&app, &owner, f.bot, None, Some(problem)).await,
    };
    match crate::app::sources::edit_qa_within(&app, owner.tenant_id, QaId(id), q, a).await? {
        Ok(()) => Ok(back_about(f.bot, "qa-updated", "qa", id)),
        Err(crate::app::sources::QaEditRefused::NotFound) => Err(AppError::NotFound),
        Err(crate::app::sources::QaEditRefused::Taken(other)) => {
            let problem = format!("Not changed: you already have an answer to “{other}”. Change that one instead, or delete it first.");
            page(&app, &owner, f.bot, None, Some(problem)).await
        }
    }
}

pub async fn delete_qa(State(app): State<AppState>, owner: Owner, Path(id): Path<i64>, axum::Form(f): axum::Form<OnBot>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    if !sources::delete_qa(&app.db.pool, owner.tenant_id, QaId(id)).await? {
        return Err(AppError::NotFound);
    }
    Ok(back_saying(f.bot, "qa-deleted"))
}

pub struct HitRow {
    pub source: String,
    pub heading: Option<String>,
    pub text: String,
    pub similarity: String,
    pub score: String,
    pub confident: bool,
    /// Below the threshold, but one of its lines answers by itself (`Selection::answers_alone`):
    /// the bot quotes that line.
    pub one_line: bool,
}

/// `min_similarity`: the bot's own threshold (`answering.min_similarity_percent`), so the page
/// calls confident exactly the passages the bot would answer from.
fn hit_row(h: Hit, min_similarity: f32) -> HitRow {
    let p = h.payload;
    let source = match (&p.url, p.title.is_empty()) {
        (Some(u), true) => u.clone(),
        (_, false) => p.title.clone(),
        (None, true) => "Untitled".into(),
    };
    HitRow {
        source,
        // The first heading is often the title itself, or part of it; don't say it twice.
        heading: {
            let hs = p.sections();
            (!hs.is_empty()).then(|| hs.join(" › "))
        },
        text: p.text,
        similarity: h.similarity.map(|s| format!("{:.0}%", (s.max(0.0) * 100.0))).unwrap_or_else(|| "—".into()),
        score: format!("{:.3}", h.score),
        confident: h.similarity.unwrap_or(0.0) >= min_similarity,
        one_line: false,
    }
}

#[derive(Template)]
#[template(path = "admin_search.html")]
struct SearchPage {
    tab: &'static str,
    csrf: String,
    picker: Picker,
    q: String,
    hits: Vec<HitRow>,
    qa_match: Option<(String, String)>,
    /// No Q&A pair used, but one came near: which, and why it wasn't used ([`qa_near`]).
    qa_near: Option<String>,
    /// What the bot would quote (its answer's sentences), when no Q&A pair answers and the
    /// sources do: the bot's own decision (`answering::compose::find_for`), not the page's.
    would_quote: Option<String>,
    /// The bot's threshold, in percent.
    min_percent: u32,
    /// Whether some passage is close enough to look for an answer in (shown in green).
    any_close: bool,
}

#[derive(serde::Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    bot: Option<i64>,
}

/// `GET /app/search?q=…`: the passages the bot would use, with their scores and sources.
pub async fn search(State(app): State<AppState>, owner: Owner, Query(sq): Query<SearchQuery>) -> Result<Response, AppError> {
    let q = sq.q.trim().chars().take(1000).collect::<String>();
    let picker = pick(&app, owner.tenant_id, sq.bot, "/app/search", true).await?;
    let (hits, verdict) = if q.is_empty() { (Vec::new(), QaVerdict::NoPair) } else { ingest::playground(&app.db, &app.retriever, owner.tenant_id, picker.bot(), &q).await? };
    let qa_near = qa_near(&q, &verdict);
    let qa_match = match verdict {
        QaVerdict::Match(p) => Some((p.question, p.answer)),
        QaVerdict::Near { .. } | QaVerdict::NoPair => None,
    };
    let min = app.cfg.answering.min_similarity;
    // What the bot would quote, and the passages its lines come from.
    let (would_quote, quoted_from) = if q.is_empty() || qa_match.is_some() {
        (None, Vec::new())
    } else {
        let retriever = app.retriever.get().await?;
        let scope = crate::knowledge::scope::of_bot(&app.db.pool, owner.tenant_id, picker.bot()).await?;
        let mut found = crate::answering::compose::find_for(&app.cfg.answering, &retriever, owner.tenant_id, &scope, &q).await?.filter(|p| p.selection.confident());
        // As the bot does: a message that tells something besides its question is also searched
        // by its question alone.
        if let (None, Some(asked)) = (&found, crate::answering::the_question_alone(&q)) {
            found = crate::answering::compose::find_for(&app.cfg.answering, &retriever, owner.tenant_id, &scope, asked).await?.filter(|p| p.selection.confident());
        }
        match found {
            Some(p) => {
                let quote = p.selection.quoted();
                let from: Vec<String> = quote.iter().filter_map(|(hit, _)| p.hits.get(*hit)).map(|h| h.payload.text.clone()).collect();
                (Some(quote.iter().map(|(_, text)| text.as_str()).collect::<Vec<_>>().join(" … ")), from)
            }
            None => (None, Vec::new()),
        }
    };
    // Closest first, as the page shows each passage's closeness (the bot's own ranking mixes in
    // the words the passages share with the question).
    let mut hits = hits;
    hits.sort_by(|a, b| b.similarity.unwrap_or(0.0).total_cmp(&a.similarity.unwrap_or(0.0)));
    let hits: Vec<HitRow> = hits
        .into_iter()
        .map(|h| {
            let mut row = hit_row(h, min);
            // A passage too far as a whole that the quote comes from: one of its lines answers.
            row.one_line = !row.confident && quoted_from.contains(&row.text);
            row
        })
        .collect();
    let any_close = hits.iter().any(|h| h.confident);
    render(&SearchPage { tab: "search", csrf: owner.csrf.clone(), picker, q, hits, qa_match, qa_near, would_quote, min_percent: (min * 100.0).round() as u32, any_close })
}

/// How close a Q&A pair not used must be for Try a question to show it: near enough that
/// rewording the pair may make it answer.
const NEAR_PAIR: f32 = 0.5;

/// The Q&A pair that came nearest a question without being used, and why, in the owner's words
/// (the rule's own reasons, [`crate::knowledge::qa::judge`]); `None` if none came within
/// [`NEAR_PAIR`]. It tells the owner to add the words of the question that a pair lacks only when
/// the pair is about the question ([`about`]), and never a name ([`names`]): "can you deliver
/// flowers to France?" is 54 % from "Do you do flowers for corporate events?", and adding
/// "deliver" and "france" to that pair would have it answer delivery questions with the
/// corporate events answer. Otherwise it says that no pair is about the question.
fn qa_near(question: &str, verdict: &QaVerdict) -> Option<String> {
    let QaVerdict::Near { pair, cosine, why } = verdict else { return None };
    if *cosine < NEAR_PAIR {
        return None;
    }
    let percent = cosine.max(0.0) * 100.0;
    let quoted = |words: &[String]| words.iter().map(|w| format!("“{w}”")).collect::<Vec<_>>().join(", ");
    let why = match why {
        NearWhy::Lacks(words) if words.is_empty() => "close, but not close enough in meaning.".to_owned(),
        NearWhy::Lacks(words) => {
            let names = names(question);
            let words: Vec<String> = words.iter().filter(|w| !names.contains(w)).cloned().collect();
            let shared = crate::knowledge::qa::sharing(question, &pair.question, &pair.answer);
            if !about(shared.len(), words.len(), *cosine) {
                let common = if shared.is_empty() { "no word".to_owned() } else { format!("only {}", quoted(&shared)) };
                return Some(format!(
                    "No Q&A pair is about this. The nearest, “{}” (match {percent:.0}%), has {common} in common with your question. To have your bot answer it, add a Q&A pair for this question.",
                    pair.question
                ));
            }
            if words.is_empty() {
                "close, but not close enough in meaning.".to_owned()
            } else {
                format!(
                    "close, but your question has {} it lacks: {}. If the pair answers this too, add {} to its question or answer.",
                    if words.len() == 1 { "a word" } else { "words" },
                    quoted(&words),
                    if words.len() == 1 { "it" } else { "them" },
                )
            }
        }
        NearWhy::NamedElsewhere(words) => format!(
            "your question asks about {}, which your information speaks of elsewhere, so your bot answers from your information instead.",
            quoted(words)
        ),
        NearWhy::AsCloseAs(other) => format!("your pair “{other}” is just as close, so your bot can't tell which one is meant."),
        NearWhy::Swapped => "it asks the same about something else.".to_owned(),
    };
    Some(format!("Not used: your Q&A pair “{}” (match {percent:.0}%) — {why}", pair.question))
}

/// How close a pair must be to be about a question that has as many words the pair has as
/// words it lacks ([`about`]): "can I bring my own car?" is 70 % from "Can I use my own car for
/// lessons?" ("car" / "bring"), "what if I miss my appointment" 62 % from "What should I do
/// before the appointment?" ("appointment" / "miss").
const ABOUT_WHEN_EVEN: f32 = 0.65;

/// Whether a pair near a question (at `cosine`) is about it, by how many of the question's words
/// it has (`shared`) and lacks (`lacking`, names left out): more of them than it lacks, or as many
/// and close ([`ABOUT_WHEN_EVEN`]).
fn about(shared: usize, lacking: usize, cosine: f32) -> bool {
    shared > lacking || (shared > 0 && shared == lacking && cosine >= ABOUT_WHEN_EVEN)
}

/// The words of `question` written as names — with a capital letter, not at the start of a
/// sentence, and not "I" — in lower case, as [`crate::knowledge::qa::lacking`] gives them:
/// "polish" of "I have a Polish driving licence", "dvsa", "france". A pair needs no name added:
/// no owner can list every country or nationality a customer may name.
fn names(question: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = true;
    for token in question.split_whitespace() {
        let word = crate::knowledge::qa::normalise(token);
        let first = word.split(' ').next().unwrap_or("");
        let capital = token.chars().find(|c| c.is_alphanumeric()).is_some_and(char::is_uppercase);
        if !start && capital && first != "i" && !first.is_empty() {
            out.push(first.to_owned());
        }
        start = token.ends_with(['.', '?', '!']);
    }
    out
}


#[cfg(test)]
mod tests {
    use super::*;

    /// Try a question's line about a near pair, for `question` at `cosine` from the one pair.
    fn near(question: &str, cosine: f32, pair: &str, answer: &str) -> String {
        let why = NearWhy::Lacks(crate::knowledge::qa::lacking(question, pair, answer));
        let pair = crate::storage::sources::QaPair { id: crate::domain::QaId(1), question: pair.to_owned(), answer: answer.to_owned() };
        qa_near(question, &QaVerdict::Near { pair, cosine, why }).unwrap()
    }

    /// The florist walkthrough: "can you deliver flowers to France?" was told to add "deliver"
    /// and "france" to the corporate events pair, which has only "flowers" of it; the driving
    /// school's to add "polish" to the pair about a test passed abroad.
    #[test]
    fn try_a_question_asks_to_add_words_only_to_a_pair_about_the_question() {
        let (corporate, corporate_answer) = ("Do you do flowers for corporate events?", "Yes, we make arrangements for offices, hotels and events. Contact us at least two weeks ahead for a quote.");
        for (asked, common) in [
            ("can you deliver flowers to France?", "only “flowers”"),
            ("what if I'm not home when the flowers arrive?", "only “flowers”"),
            ("can I send flowers to my mum in Spain?", "only “flowers”"),
            ("can I include a note with the flowers?", "only “flowers”"),
        ] {
            assert_eq!(
                near(asked, 0.54, corporate, corporate_answer),
                format!("No Q&A pair is about this. The nearest, “Do you do flowers for corporate events?” (match 54%), has {common} in common with your question. To have your bot answer it, add a Q&A pair for this question."),
                "{asked}"
            );
        }
        assert_eq!(
            near("I'd like flowers for our office reception every week", 0.69, corporate, corporate_answer),
            "Not used: your Q&A pair “Do you do flowers for corporate events?” (match 69%) — close, but your question has words it lacks: “reception”, “every”. If the pair answers this too, add them to its question or answer."
        );
        // As many words in the pair as not: close enough, or not.
        let (own_car, own_car_answer) = ("Can I use my own car for lessons?", "No, all lessons are in our own dual-controlled cars. You can practise in your own car with a qualified friend or family member between lessons, if you are insured.");
        assert_eq!(
            near("can I bring my own car?", 0.70, own_car, own_car_answer),
            "Not used: your Q&A pair “Can I use my own car for lessons?” (match 70%) — close, but your question has a word it lacks: “bring”. If the pair answers this too, add it to its question or answer."
        );
        assert_eq!(
            near("what if I miss my appointment", 0.62, "What should I do before the appointment?", "Please walk your dog before drop-off."),
            "No Q&A pair is about this. The nearest, “What should I do before the appointment?” (match 62%), has only “appointment” in common with your question. To have your bot answer it, add a Q&A pair for this question."
        );
        assert_eq!(
            near("can I learn in my dad's car?", 0.72, own_car, own_car_answer),
            "No Q&A pair is about this. The nearest, “Can I use my own car for lessons?” (match 72%), has only “car” in common with your question. To have your bot answer it, add a Q&A pair for this question."
        );
        // A name is never to be added, nor counted against the pair: no owner can list every
        // nationality.
        assert_eq!(
            near("will you arrange the test date with the DVSA for me?", 0.52, "Can you book my practical driving test for me?", "We can't book it for you, but we are happy to help you choose a date."),
            "Not used: your Q&A pair “Can you book my practical driving test for me?” (match 52%) — close, but your question has a word it lacks: “arrange”. If the pair answers this too, add it to its question or answer."
        );
        let (abroad, abroad_answer) = ("I already passed my test abroad. Can you help me?", "Yes, we offer refresher lessons for drivers with a foreign licence who need to take the UK test.");
        assert_eq!(
            near("I have a Polish driving licence, can you help?", 0.50, abroad, abroad_answer),
            "Not used: your Q&A pair “I already passed my test abroad. Can you help me?” (match 50%) — close, but not close enough in meaning."
        );
        assert_eq!(names("I have a Polish licence. Can you help? We moved from the UK."), ["polish", "uk"]);
    }

    fn part(chunks: &[usize]) -> impl futures::Stream<Item = Result<bytes::Bytes, std::convert::Infallible>> + Unpin {
        futures::stream::iter(chunks.iter().map(|n| Ok(bytes::Bytes::from(vec![b'x'; *n]))).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn an_upload_is_kept_up_to_the_limit_and_only_measured_past_it() {
        assert_eq!(read_capped(part(&[400, 600]), 1000).await.unwrap(), Capped::Kept(vec![b'x'; 1000]));
        assert_eq!(read_capped(part(&[]), 1000).await.unwrap(), Capped::Kept(vec![]));
        // Read to the end, so the owner learns its size; not kept.
        assert_eq!(read_capped(part(&[400, 600, 1, 5000]), 1000).await.unwrap(), Capped::TooBig(6001));
    }
}
