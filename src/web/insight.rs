//! How the bot is doing: the overview page (charts of the last days — questions by how they were
//! answered, 👍/👎, the busiest hours — and the top unanswered questions of those days) and the
//! conversations export (CSV). Charts are SVG drawn here from counts (no script, no third-party
//! library; the numbers are also in each chart's text for screen readers).
use super::AppError;
use super::auth::Owner;
use super::pages::render;
use crate::app::AppState;
use crate::domain::{BotId, civil};
use crate::domain::conversation::{Author, MessageKind, MsgId};
use crate::storage::{bots, insight, now_ms};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

const DAY_MS: i64 = 86_400_000;

/// How a question was answered, as the chart shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// From the owner's knowledge, written by the model or a Q&A pair.
    Answered,
    /// The sentences of a source, quoted.
    Quoted,
    /// "I don't know".
    DontKnow,
    /// Passed to a person.
    HandedOff,
}

impl Outcome {
    /// The outcome a bot reply of `kind` stands for; none for greetings, commands and notices.
    pub fn of(kind: MessageKind) -> Option<Outcome> {
        match kind {
            MessageKind::Answer | MessageKind::Qa => Some(Outcome::Answered),
            MessageKind::Extractive => Some(Outcome::Quoted),
            MessageKind::Fallback => Some(Outcome::DontKnow),
            MessageKind::Handoff | MessageKind::Media => Some(Outcome::HandedOff),
            _ => None,
        }
    }
    const ALL: [Outcome; 4] = [Outcome::Answered, Outcome::Quoted, Outcome::DontKnow, Outcome::HandedOff];
    fn label(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Quoted => "quoted from your sources",
            Outcome::DontKnow => "\"don't know\"",
            Outcome::HandedOff => "handed to a person",
        }
    }
    fn color(self) -> &'static str {
        match self {
            Outcome::Answered => "#2e9d5b",
            Outcome::Quoted => "#3a7bd5",
            Outcome::DontKnow => "#e8a33d",
            Outcome::HandedOff => "#d9534f",
        }
    }
}

/// The overview's figures for `days` days ending today (UTC days).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    /// The first day (days since 1970-01-01, UTC).
    pub first_day: i64,
    /// Per day: replies by [`Outcome::ALL`] order.
    pub per_day: Vec<[u32; 4]>,
    /// Per day: (👍, 👎) on the bot's replies of that day.
    pub feedback: Vec<(u32, u32)>,
    /// Customer messages by hour of the day, in the time zone asked for.
    pub hours: [u32; 24],
}

impl Figures {
    /// `tz`: the time zone the hours of the day are counted in (the bot's; UTC if it has none).
    pub fn from_activity(rows: &[insight::ActivityCount], days: usize, today: i64, tz: chrono_tz::Tz) -> Figures {
        let first_day = today - days as i64 + 1;
        let mut f = Figures { first_day, per_day: vec![[0; 4]; days], feedback: vec![(0, 0); days], hours: [0; 24] };
        for r in rows {
            let Some(i) = usize::try_from(r.day - first_day).ok().filter(|&i| i < days) else { continue };
            let n = u32::try_from(r.messages).unwrap_or(u32::MAX);
            match r.author {
                Author::Customer => {
                    if let Some(h) = usize::try_from(local_hour(r.day, r.hour, tz)).ok().and_then(|h| f.hours.get_mut(h)) {
                        *h = h.saturating_add(n);
                    }
                }
                Author::Bot => {
                    if let Some(o) = Outcome::of(r.kind) {
                        let c = &mut f.per_day[i][Outcome::ALL.iter().position(|x| *x == o).expect("listed")];
                        *c = c.saturating_add(n);
                    }
                    match r.feedback {
                        Some(1) => f.feedback[i].0 = f.feedback[i].0.saturating_add(n),
                        Some(-1) => f.feedback[i].1 = f.feedback[i].1.saturating_add(n),
                        _ => {}
                    }
                }
                Author::Owner => {}
            }
        }
        f
    }

    /// Totals by outcome.
    pub fn totals(&self) -> [u32; 4] {
        let mut t = [0; 4];
        for d in &self.per_day {
            for (a, b) in t.iter_mut().zip(d) {
                *a += b;
            }
        }
        t
    }
}

/// The hour of the day in `tz` that UTC hour `hour` of day `day` (days since 1970-01-01) starts
/// in, daylight saving time included. A zone half an hour off UTC counts the hour by its start.
fn local_hour(day: i64, hour: i64, tz: chrono_tz::Tz) -> i64 {
    use chrono::{TimeZone, Timelike};
    match tz.timestamp_millis_opt(day * DAY_MS + hour * 3_600_000).single() {
        Some(t) => i64::from(t.hour()),
        None => hour,
    }
}

/// The time zone the overview counts hours of the day in: the bot's, or that of all the owner's
/// bots when they share one; `None` (UTC) when none is set or they differ.
async fn zone_of(app: &AppState, owner: &Owner, bots: &[BotId]) -> Result<Option<chrono_tz::Tz>, AppError> {
    let mut zone = None;
    for (i, b) in bots.iter().enumerate() {
        let tz = crate::storage::bot_settings::get(&app.db.pool, owner.tenant_id, *b).await?.timezone.parse::<chrono_tz::Tz>().ok().filter(|z| *z != chrono_tz::UTC);
        if tz.is_none() || (i > 0 && tz != zone) {
            return Ok(None);
        }
        zone = tz;
    }
    Ok(zone)
}

/// A day as "Mar 14".
fn day_label(day: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (_, m, d) = civil(day * DAY_MS);
    format!("{} {d}", MONTHS[(m - 1) as usize])
}

const W: f64 = 720.0;
const H: f64 = 180.0;
const LEFT: f64 = 36.0;
const BOTTOM: f64 = 22.0;

/// A bar chart: one stack of `series` per column, with `labels` under every few columns.
fn bars(title: &str, columns: &[Vec<u32>], colors: &[&str], labels: &[String], every: usize) -> String {
    let max = columns.iter().map(|c| c.iter().sum::<u32>()).max().unwrap_or(0).max(1);
    let n = columns.len().max(1) as f64;
    let step = (W - LEFT) / n;
    let bar = (step * 0.75).max(1.0);
    let plot = H - BOTTOM - 8.0;
    let mut s = String::new();
    let _ = write!(s, r#"<svg class="bars" viewBox="0 0 {W} {H}" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg">"#);
    // The scale: 0 and the largest column.
    let _ = write!(s, r##"<line x1="{LEFT}" y1="{y}" x2="{W}" y2="{y}" stroke="#c9d1dd"/>"##, y = H - BOTTOM);
    let _ = write!(s, r##"<text x="{x}" y="14" font-size="11" text-anchor="end" fill="#5b6575">{max}</text>"##, x = LEFT - 4.0);
    let _ = write!(s, r##"<text x="{x}" y="{y}" font-size="11" text-anchor="end" fill="#5b6575">0</text>"##, x = LEFT - 4.0, y = H - BOTTOM);
    for (i, col) in columns.iter().enumerate() {
        let x = LEFT + i as f64 * step + (step - bar) / 2.0;
        let mut top = H - BOTTOM;
        for (v, color) in col.iter().zip(colors) {
            if *v == 0 {
                continue;
            }
            let h = plot * f64::from(*v) / f64::from(max);
            top -= h;
            let _ = write!(s, r#"<rect x="{x:.1}" y="{top:.1}" width="{bar:.1}" height="{h:.1}" fill="{color}"><title>{v}</title></rect>"#);
        }
        if i % every == 0 {
            if let Some(l) = labels.get(i) {
                let _ = write!(s, r##"<text x="{cx:.1}" y="{y}" font-size="11" text-anchor="middle" fill="#5b6575">{l}</text>"##, cx = x + bar / 2.0, y = H - 6.0);
            }
        }
    }
    s.push_str("</svg>");
    s
}

pub struct Legend {
    pub label: &'static str,
    pub color: &'static str,
    pub total: u32,
}

pub struct TopQuestion {
    pub question: String,
    pub times: usize,
    /// The bots it was asked of, (id, "@username"): its answer belongs to each one's knowledge,
    /// so each gets a link to its own gaps page.
    pub bots: Vec<(i64, String)>,
}

/// The `n` questions asked most often, of `(question, times, bot)` (one bot's or several's): the
/// same question (as Q&A pairs match it) is one row, its times added up; ties keep their order.
fn top_questions(asked: Vec<(String, usize, (i64, String))>, n: usize) -> Vec<TopQuestion> {
    let mut top: Vec<TopQuestion> = Vec::new();
    for (question, times, bot) in asked {
        let key = crate::knowledge::qa::normalise(&question);
        match top.iter_mut().find(|t| crate::knowledge::qa::normalise(&t.question) == key) {
            Some(t) => {
                t.times += times;
                if !t.bots.contains(&bot) {
                    t.bots.push(bot);
                }
            }
            None => top.push(TopQuestion { question, times, bots: vec![bot] }),
        }
    }
    top.sort_by(|a, b| b.times.cmp(&a.times));
    top.truncate(n);
    top
}

#[derive(Template)]
#[template(path = "admin_overview.html")]
struct Page {
    tab: &'static str,
    csrf: String,
    days: usize,
    questions: u32,
    legend: Vec<Legend>,
    per_day_svg: String,
    thumbs_up: u32,
    thumbs_down: u32,
    feedback_svg: String,
    hours_svg: String,
    busiest: String,
    top: Vec<TopQuestion>,
    bots: Vec<(i64, String, bool)>,
}

#[derive(serde::Deserialize)]
pub struct OverviewQuery {
    #[serde(default)]
    days: Option<usize>,
    #[serde(default)]
    bot: Option<i64>,
}

/// `GET /app/overview[?days=7|30|90&bot=ID]`.
pub async fn overview(State(app): State<AppState>, owner: Owner, Query(q): Query<OverviewQuery>) -> Result<Response, AppError> {
    let days = match q.days {
        Some(d @ (7 | 30 | 90)) => d,
        _ => 30,
    };
    let all = bots::list_for_tenant(&app.db.pool, owner.tenant_id).await?;
    let bot = match q.bot.filter(|&b| b != 0) {
        Some(b) => Some(all.iter().find(|x| x.id.0 == b).map(|x| x.id).ok_or(AppError::NotFound)?),
        None => None,
    };
    let today = now_ms().div_euclid(DAY_MS);
    let since = (today - days as i64 + 1) * DAY_MS;
    let rows = insight::activity(&app.db.pool, owner.tenant_id, bot, since).await?;
    let shown: Vec<BotId> = all.iter().map(|b| b.id).filter(|b| bot.is_none_or(|x| x == *b)).collect();
    let zone = zone_of(&app, &owner, &shown).await?;
    let f = Figures::from_activity(&rows, days, today, zone.unwrap_or(chrono_tz::UTC));
    let zone_name = zone.map_or_else(|| "UTC".to_owned(), |z| format!("{} time", z.name()));
    let totals = f.totals();
    let labels: Vec<String> = (0..days).map(|i| day_label(f.first_day + i as i64)).collect();
    let every = (days / 6).max(1);
    let colors: Vec<&str> = Outcome::ALL.iter().map(|o| o.color()).collect();
    let per_day_svg = bars("Questions per day, by how they were answered", &f.per_day.iter().map(|d| d.to_vec()).collect::<Vec<_>>(), &colors, &labels, every);
    let feedback_svg = bars("👍 and 👎 per day", &f.feedback.iter().map(|(u, d)| vec![*u, *d]).collect::<Vec<_>>(), &["#2e9d5b", "#d9534f"], &labels, every);
    let hour_labels: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let hours_svg = bars(&format!("Customer messages by hour of the day ({zone_name})"), &f.hours.iter().map(|h| vec![*h]).collect::<Vec<_>>(), &["#3a7bd5"], &hour_labels, 3);
    let busiest = match f.hours.iter().enumerate().max_by_key(|(h, n)| (**n, std::cmp::Reverse(*h))) {
        Some((h, n)) if *n > 0 => match zone {
            Some(_) => format!("{h:02}:00–{:02}:00 ({zone_name}, {n} messages)", (h + 1) % 24),
            None => format!("{h:02}:00–{:02}:00 UTC ({n} messages)", (h + 1) % 24),
        },
        _ => "no messages yet".into(),
    };
    // Gaps are per bot (a bot's own Q&A pairs close its gaps); for all bots, the same question
    // asked of several is one row. Only the period's, like the charts: "asked 40 times" next to
    // "the last 7 days" must mean in those 7 days.
    let mut asked: Vec<(String, usize, (i64, String))> = Vec::new();
    for b in all.iter().filter(|b| bot.is_none_or(|x| x == b.id)) {
        let whose = (b.id.0, format!("@{}", b.username));
        asked.extend(super::gaps::open_gaps(&app, &owner, Some(b.id), since, true).await?.into_iter().filter(|g| g.unanswered).map(|g| (g.question, g.times, whose.clone())));
    }
    let top = top_questions(asked, 10);
    render(&Page {
        tab: "overview",
        csrf: owner.csrf.clone(),
        days,
        questions: totals.iter().sum(),
        legend: Outcome::ALL.iter().zip(totals).map(|(o, t)| Legend { label: o.label(), color: o.color(), total: t }).collect(),
        per_day_svg,
        thumbs_up: f.feedback.iter().map(|x| x.0).sum(),
        thumbs_down: f.feedback.iter().map(|x| x.1).sum(),
        feedback_svg,
        hours_svg,
        busiest,
        top,
        bots: all.iter().map(|b| (b.id.0, format!("{} (@{})", b.name, b.username), Some(b.id) == bot)).collect(),
    })
}

/// A cell as a spreadsheet reads it safely: text that would start a formula (`=`, `+`, `-`, `@`,
/// a tab or a carriage return) gets a leading apostrophe.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() }
}

/// A time as "2026-03-14 09:30:00" (UTC).
fn utc(ms: i64) -> String {
    let (y, m, d) = civil(ms);
    let s = ms.rem_euclid(DAY_MS) / 1000;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `GET /app/conversations.csv`: every message of every conversation, oldest first.
pub async fn conversations_csv(State(app): State<AppState>, owner: Owner) -> Result<Response, AppError> {
    let names: std::collections::HashMap<BotId, String> = bots::list_for_tenant(&app.db.pool, owner.tenant_id).await?.into_iter().map(|b| (b.id, format!("@{}", b.username))).collect();
    let mut w = csv_writer();
    let header = ["conversation", "bot", "chat", "customer", "time (UTC)", "from", "reply kind", "text", "rating"];
    w.write_record(header).map_err(anyhow::Error::from)?;
    let mut after = MsgId(0);
    loop {
        let page = insight::export_page(&app.db.pool, owner.tenant_id, after, 2_000).await?;
        let Some(last) = page.last() else { break };
        after = last.message_id;
        for r in &page {
            let rating = match r.feedback {
                Some(1) => "👍",
                Some(-1) => "👎",
                _ => "",
            };
            let bot = names.get(&r.bot_id).cloned().unwrap_or_default();
            w.write_record([r.conversation_id.to_string(), bot, r.chat_kind.to_string(), cell(&r.customer_name), utc(r.created_at), r.author.to_string(), r.kind.to_string(), cell(&r.text), rating.to_owned()])
                .map_err(anyhow::Error::from)?;
        }
    }
    let body = w.into_inner().map_err(|e| anyhow::anyhow!("writing the export: {e}"))?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, "attachment; filename=\"conversations.csv\"")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(at: i64, author: &str, kind: &str, feedback: Option<i64>) -> insight::ActivityCount {
        insight::ActivityCount { day: at.div_euclid(DAY_MS), hour: at.rem_euclid(DAY_MS) / 3_600_000, author: author.parse().unwrap(), kind: kind.parse().unwrap(), feedback, messages: 1 }
    }

    #[test]
    fn replies_are_counted_by_day_and_outcome_and_customer_messages_by_hour() {
        let today = 20_000;
        let at = |day: i64, hour: i64| day * DAY_MS + hour * 3_600_000 + 5;
        let rows = [
            act(at(today, 9), "customer", "", None),
            act(at(today, 9), "bot", "answer", Some(1)),
            act(at(today, 10), "customer", "", None),
            act(at(today, 10), "bot", "qa", None),
            act(at(today - 1, 9), "customer", "", None),
            act(at(today - 1, 9), "bot", "fallback", Some(-1)),
            act(at(today - 1, 23), "bot", "extractive", None),
            act(at(today - 2, 9), "bot", "handoff", None),
            act(at(today - 2, 9), "bot", "command", None),
            // Before the period: not counted.
            act(at(today - 3, 9), "bot", "answer", None),
        ];
        let f = Figures::from_activity(&rows, 3, today, chrono_tz::UTC);
        assert_eq!(f.per_day, vec![[0, 0, 0, 1], [0, 1, 1, 0], [2, 0, 0, 0]]);
        assert_eq!(f.feedback, vec![(0, 0), (0, 1), (1, 0)]);
        assert_eq!((f.hours[9], f.hours[10], f.hours[23]), (2, 1, 0));
        assert_eq!(f.totals(), [2, 1, 1, 1]);
    }

    #[test]
    fn counts_of_many_messages_add_up() {
        let today = 20_000;
        let at = today * DAY_MS + 9 * 3_600_000;
        let rows = [insight::ActivityCount { messages: 250_000, ..act(at, "bot", "answer", Some(1)) }, insight::ActivityCount { messages: 250_000, ..act(at, "customer", "", None) }];
        let f = Figures::from_activity(&rows, 7, today, chrono_tz::UTC);
        assert_eq!((f.totals(), f.feedback[6], f.hours[9]), ([250_000, 0, 0, 0], (250_000, 0), 250_000));
    }

    #[test]
    fn the_top_questions_are_the_most_asked_of_all_bots_not_the_first_ones_found() {
        // Ten questions the first bot was asked once, then one the second bot was asked five
        // times, and one both were asked (twice and twice).
        let (first, second) = ((1, "@first_bot".to_owned()), (2, "@second_bot".to_owned()));
        let mut asked: Vec<(String, usize, (i64, String))> = (0..10).map(|i| (format!("Question {i}?"), 1, first.clone())).collect();
        asked.insert(0, ("Do you ship abroad?".into(), 2, first.clone()));
        asked.push(("Are you open on Sunday?".into(), 5, second.clone()));
        asked.push(("do you ship abroad".into(), 2, second.clone()));
        let top = top_questions(asked, 3);
        let rows: Vec<(&str, usize, Vec<i64>)> = top.iter().map(|t| (t.question.as_str(), t.times, t.bots.iter().map(|b| b.0).collect())).collect();
        assert_eq!(rows, vec![("Are you open on Sunday?", 5, vec![2]), ("Do you ship abroad?", 4, vec![1, 2]), ("Question 0?", 1, vec![1])]);
    }

    #[test]
    fn a_cell_that_would_start_a_formula_is_quoted() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("Hello"), "Hello");
        assert_eq!(day_label(0), "Jan 1");
        assert_eq!(utc(86_400_000 + 3_600_000), "1970-01-02 01:00:00");
    }
}

#[derive(serde::Deserialize)]
pub struct KnowledgeQuery {
    /// The bot whose knowledge (its own and shared sources; its Q&A pairs); 0: the knowledge no
    /// bot uses.
    #[serde(default)]
    bot: Option<i64>,
}

/// A CSV export's writer: its body starts with a UTF-8 byte order mark, without which Excel reads
/// the file in the computer's local encoding and garbles every letter outside English (Numbers,
/// Google Sheets and bellhop's own upload of a CSV file skip it).
fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::Writer::from_writer("\u{FEFF}".as_bytes().to_vec())
}

fn csv_file(name: &str, body: Vec<u8>) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}

/// `GET /app/sources.csv[?bot=ID]`: the bot's sources (files and web pages), newest first.
pub async fn sources_csv(State(app): State<AppState>, owner: Owner, Query(q): Query<KnowledgeQuery>) -> Result<Response, AppError> {
    let picker = super::sources::pick(&app, owner.tenant_id, q.bot, "/app/sources", true).await?;
    let list = crate::storage::sources::list_for(&app.db.pool, owner.tenant_id, picker.bot()).await?;
    let mut w = csv_writer();
    w.write_record(["id", "kind", "name or address", "status", "problem", "passages", "bytes", "updated (UTC)"]).map_err(anyhow::Error::from)?;
    for s in &list {
        w.write_record([s.id.to_string(), s.kind.clone(), cell(&s.name), s.status.clone(), cell(s.status_reason.as_deref().unwrap_or_default()), s.chunk_count.to_string(), s.size_bytes.to_string(), utc(s.updated_at)])
            .map_err(anyhow::Error::from)?;
    }
    let body = w.into_inner().map_err(|e| anyhow::anyhow!("writing the export: {e}"))?;
    Ok(csv_file("sources.csv", body))
}

/// `GET /app/qa.csv[?bot=ID]`: the bot's questions and answers.
pub async fn qa_csv(State(app): State<AppState>, owner: Owner, Query(q): Query<KnowledgeQuery>) -> Result<Response, AppError> {
    let picker = super::sources::pick(&app, owner.tenant_id, q.bot, "/app/sources", true).await?;
    let pairs = crate::storage::sources::list_qa(&app.db.pool, owner.tenant_id, picker.bot()).await?;
    let mut w = csv_writer();
    w.write_record(["question", "answer"]).map_err(anyhow::Error::from)?;
    for p in &pairs {
        w.write_record([cell(&p.question), cell(&p.answer)]).map_err(anyhow::Error::from)?;
    }
    let body = w.into_inner().map_err(|e| anyhow::anyhow!("writing the export: {e}"))?;
    Ok(csv_file("questions-and-answers.csv", body))
}
