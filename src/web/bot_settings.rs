//! One bot's settings: its voice (persona, tone, extra instructions), the texts it says on its
//! own, its Telegram profile texts and its command menu. Saving checks everything first — on any
//! problem nothing is saved — then stores the settings and queues the provisioning job again, so
//! Telegram shows the new descriptions and commands.
use super::AppError;
use super::auth::Owner;
use super::pages::render;
use crate::answering::{hours, settings};
use crate::domain::BotId;
use crate::app::AppState;
use crate::storage::bot_settings::{self, BotSettings};
use crate::storage::bots;
use crate::telegram::BotCommand;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// Telegram's limits: <https://core.telegram.org/bots/api#setmydescription>,
/// <https://core.telegram.org/bots/api#setmyshortdescription>, <https://core.telegram.org/bots/api#botcommand>.
const MAX_DESCRIPTION: usize = 512;
const MAX_SHORT_DESCRIPTION: usize = 120;
const MAX_COMMANDS: usize = 100;
/// The owner's own texts (Telegram's message limit is 4,096).
const MAX_TEXT: usize = 4000;

/// The form, as typed (also what is shown again when something needs fixing).
#[derive(Debug, Default, serde::Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub persona: String,
    #[serde(default)]
    pub tone: String,
    #[serde(default)]
    pub extra_instructions: String,
    #[serde(default)]
    pub welcome_text: String,
    #[serde(default)]
    pub fallback_text: String,
    #[serde(default)]
    pub unavailable_text: String,
    #[serde(default)]
    pub help_text: String,
    #[serde(default)]
    pub privacy_text: String,
    #[serde(default)]
    pub paysupport_text: String,
    #[serde(default)]
    pub media_text: String,
    #[serde(default)]
    pub paused_text: String,
    /// Minutes before an unanswered handoff goes back to the assistant (0: never).
    #[serde(default)]
    pub handoff_timeout: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub short_description: String,
    #[serde(default)]
    pub commands: String,
    /// Working hours on ("on") or always open.
    #[serde(default)]
    pub use_hours: String,
    /// Opening and closing times ("HH:MM"), Monday first; a day left empty is closed.
    #[serde(default)]
    pub open_0: String,
    #[serde(default)]
    pub close_0: String,
    #[serde(default)]
    pub open_1: String,
    #[serde(default)]
    pub close_1: String,
    #[serde(default)]
    pub open_2: String,
    #[serde(default)]
    pub close_2: String,
    #[serde(default)]
    pub open_3: String,
    #[serde(default)]
    pub close_3: String,
    #[serde(default)]
    pub open_4: String,
    #[serde(default)]
    pub close_4: String,
    #[serde(default)]
    pub open_5: String,
    #[serde(default)]
    pub close_5: String,
    #[serde(default)]
    pub open_6: String,
    #[serde(default)]
    pub close_6: String,
    #[serde(default)]
    pub timezone: String,
    #[serde(default)]
    pub away_text: String,
}

/// One row of the working-hours table.
pub struct DayRow {
    pub n: usize,
    pub name: &'static str,
    pub open: String,
    pub close: String,
}

/// The longest handoff timeout, in minutes (a week).
const MAX_HANDOFF_TIMEOUT: i64 = 10_080;

/// Parses the command menu: one `command - description` per line (a leading `/` is fine).
/// Commands are 1–32 characters of a–z, 0–9 and _; descriptions 1–256 characters.
pub fn parse_commands(text: &str) -> Result<Vec<BotCommand>, Vec<String>> {
    let mut out: Vec<BotCommand> = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let n = i + 1;
        let Some((c, d)) = line.split_once('-') else {
            problems.push(format!("Line {n}: write the command, a dash, then what it does — for example “hours - Our opening hours”."));
            continue;
        };
        let (c, d) = (c.trim().trim_start_matches('/').trim(), d.trim());
        if c.is_empty() || c.len() > 32 || !c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            problems.push(format!("Line {n}: “{c}” can't be a command. Use 1 to 32 lowercase Latin letters, digits or underscores (like “opening_hours”)."));
        } else if out.iter().any(|x| x.command == c) {
            problems.push(format!("Line {n}: /{c} is listed twice."));
        }
        let len = d.chars().count();
        if len == 0 || len > 256 {
            problems.push(format!("Line {n}: the description of /{c} must be 1 to 256 characters long."));
        }
        out.push(BotCommand { command: c.to_owned(), description: d.to_owned() });
    }
    if out.len() > MAX_COMMANDS {
        problems.push(format!("Telegram allows at most {MAX_COMMANDS} commands."));
    }
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

fn format_commands(c: &[BotCommand]) -> String {
    c.iter().map(|c| format!("{} - {}", c.command, c.description)).collect::<Vec<_>>().join("\n")
}

const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

impl SettingsForm {
    fn day_fields(&self) -> [(&String, &String); 7] {
        [
            (&self.open_0, &self.close_0),
            (&self.open_1, &self.close_1),
            (&self.open_2, &self.close_2),
            (&self.open_3, &self.close_3),
            (&self.open_4, &self.close_4),
            (&self.open_5, &self.close_5),
            (&self.open_6, &self.close_6),
        ]
    }

    pub fn day_rows(&self) -> Vec<DayRow> {
        self.day_fields().iter().enumerate().map(|(n, (o, c))| DayRow { n, name: DAYS[n], open: (*o).clone(), close: (*c).clone() }).collect()
    }

    fn set_hours(&mut self, s: &BotSettings) {
        self.timezone = s.timezone.clone();
        self.away_text = s.away_text.clone();
        let Some(h) = hours::Hours::from_settings(&s.working_hours, &s.timezone) else { return };
        self.use_hours = "on".into();
        let fields = [
            (&mut self.open_0, &mut self.close_0),
            (&mut self.open_1, &mut self.close_1),
            (&mut self.open_2, &mut self.close_2),
            (&mut self.open_3, &mut self.close_3),
            (&mut self.open_4, &mut self.close_4),
            (&mut self.open_5, &mut self.close_5),
            (&mut self.open_6, &mut self.close_6),
        ];
        for ((o, c), day) in fields.into_iter().zip(h.days) {
            if let Some((open, close)) = day {
                *o = hours::format_time(open);
                *c = hours::format_time(close);
            }
        }
    }

    /// The working hours as stored ('' = always open), or the problems.
    fn check_hours(&self, problems: &mut Vec<String>) -> String {
        let zone = self.timezone.trim();
        let zone = if zone.is_empty() { "UTC" } else { zone };
        if !hours::valid_zone(zone) {
            problems.push(format!("Time zone: “{zone}” isn't one we know. Write it as in the list, for example Europe/Berlin or America/New_York."));
        }
        if self.use_hours != "on" {
            return String::new();
        }
        let mut days: [Option<hours::Span>; 7] = [None; 7];
        for (n, (o, c)) in self.day_fields().iter().enumerate() {
            let (o, c) = (o.trim(), c.trim());
            if o.is_empty() && c.is_empty() {
                continue;
            }
            match (hours::parse_time(o), hours::parse_time(c)) {
                (Some(open), Some(close)) if hours::valid_span((open, close)) => days[n] = Some((open, close)),
                (Some(1440), Some(_)) => problems.push(format!("{}: 24:00 is a closing time; to open at midnight, write 00:00.", DAYS[n])),
                (Some(_), Some(_)) => problems.push(format!(
                    "{}: the opening and closing times can't be the same (a closing time earlier than the opening time means open past midnight, like 22:00 to 06:00).",
                    DAYS[n]
                )),
                _ => problems.push(format!("{}: write both times as hours and minutes, like 09:00 and 18:00 (or leave both empty: closed).", DAYS[n])),
            }
        }
        if days.iter().all(Option::is_none) && problems.is_empty() {
            problems.push("Working hours: give at least one day's hours, or untick “Use working hours” to be available any time.".into());
        }
        hours::Hours { days, tz: zone.parse().unwrap_or(chrono_tz::Tz::UTC) }.to_json()
    }

    /// Checks every field; the settings to store, or every problem found.
    fn check(&self) -> Result<BotSettings, Vec<String>> {
        let mut problems = Vec::new();
        let texts = [
            ("Persona", &self.persona),
            ("Tone", &self.tone),
            ("Extra instructions", &self.extra_instructions),
            ("Welcome message", &self.welcome_text),
            ("“Couldn't answer” message", &self.fallback_text),
            ("“Temporarily unavailable” message", &self.unavailable_text),
            ("Help message", &self.help_text),
            ("Privacy message", &self.privacy_text),
            ("Payment support message", &self.paysupport_text),
            ("Reply to photos, voice messages and files", &self.media_text),
            ("Message while paused", &self.paused_text),
        ];
        for (name, v) in texts {
            if v.trim().chars().count() > MAX_TEXT {
                problems.push(format!("{name}: at most 4,000 characters, please (it has {}).", v.trim().chars().count()));
            }
        }
        let d = self.description.trim().chars().count();
        if d > MAX_DESCRIPTION {
            problems.push(format!("Description: Telegram allows at most {MAX_DESCRIPTION} characters (it has {d})."));
        }
        let s = self.short_description.trim().chars().count();
        if s > MAX_SHORT_DESCRIPTION {
            problems.push(format!("Short description: Telegram allows at most {MAX_SHORT_DESCRIPTION} characters (it has {s})."));
        }
        let timeout = match self.handoff_timeout.trim() {
            "" => Some(bot_settings::DEFAULT_HANDOFF_TIMEOUT_MINUTES),
            t => t.parse::<i64>().ok().filter(|m| (0..=MAX_HANDOFF_TIMEOUT).contains(m)),
        };
        if timeout.is_none() {
            problems.push(format!("Waiting for a person: write a number of minutes from 1 to {MAX_HANDOFF_TIMEOUT} (a week), or 0 to wait until you close the conversation."));
        }
        if self.away_text.trim().chars().count() > MAX_TEXT {
            problems.push(format!("Away message: at most 4,000 characters, please (it has {}).", self.away_text.trim().chars().count()));
        }
        let working_hours = self.check_hours(&mut problems);
        let commands = parse_commands(&self.commands).map_err(|p| problems.extend(p)).ok();
        if !problems.is_empty() {
            return Err(problems);
        }
        let commands = commands.unwrap_or_default();
        let t = |v: &String| v.trim().to_owned();
        Ok(BotSettings {
            persona: t(&self.persona),
            tone: t(&self.tone),
            extra_instructions: t(&self.extra_instructions),
            welcome_text: t(&self.welcome_text),
            fallback_text: t(&self.fallback_text),
            unavailable_text: t(&self.unavailable_text),
            help_text: t(&self.help_text),
            privacy_text: t(&self.privacy_text),
            paysupport_text: t(&self.paysupport_text),
            media_text: t(&self.media_text),
            paused_text: t(&self.paused_text),
            handoff_timeout_minutes: timeout.unwrap_or(bot_settings::DEFAULT_HANDOFF_TIMEOUT_MINUTES),
            working_hours,
            timezone: if self.timezone.trim().is_empty() { "UTC".into() } else { self.timezone.trim().to_owned() },
            away_text: t(&self.away_text),
            // An empty menu means the defaults.
            commands: if commands.is_empty() { String::new() } else { serde_json::to_string(&commands).expect("commands serialise") },
        })
    }
}

#[derive(Template)]
#[template(path = "admin_bot_settings.html")]
struct SettingsPage {
    tab: &'static str,
    csrf: String,
    bot_id: i64,
    username: String,
    form: SettingsForm,
    defaults: settings::Texts,
    notice: Option<String>,
    problems: Vec<String>,
    /// The bot's connection: `disconnected`, or another status (connected).
    status: String,
    paused: bool,
    brand: super::brand::View,
    /// How saving the brand went: Telegram took it (`Some(true)`), or not (`Some(false)`).
    brand_applied: Option<bool>,
    brand_notice: Option<String>,
    /// Every time zone's name, for the picker.
    zones: &'static [&'static str],
    /// No AI model writes answers (`answering.model_answers`): the bot quotes the owner's
    /// sources, so who it is, its tone and extra instructions change nothing yet.
    quotes_only: bool,
}

/// (status, paused) of one of the tenant's bots.
async fn state_of(app: &AppState, owner: &Owner, bot: BotId) -> Result<(String, bool), AppError> {
    let status = bots::status_of(&app.db.pool, owner.tenant_id, bot).await?.ok_or(AppError::NotFound)?;
    if status == bots::DELETED {
        return Err(AppError::NotFound);
    }
    Ok((status, bots::paused_at(&app.db.pool, owner.tenant_id, bot).await?.is_some()))
}

#[derive(serde::Deserialize)]
pub struct Saved {
    #[serde(default)]
    saved: Option<String>,
    /// A lifecycle action just done (see `bot_lifecycle`).
    #[serde(default)]
    done: Option<String>,
    /// How saving the brand went (`web::brand`): applied, failed or stored.
    #[serde(default)]
    brand: Option<String>,
}

/// (name, username, description, short description) of one of the tenant's bots, or 404.
async fn bot_profile(app: &AppState, owner: &Owner, bot: BotId) -> Result<bots::Profile, AppError> {
    bots::profile(&app.db.pool, owner.tenant_id, bot).await?.ok_or(AppError::NotFound)
}

/// `GET /app/bots/{bot_id}/settings`.
pub async fn show(State(app): State<AppState>, owner: Owner, Path(bot_id): Path<i64>, Query(q): Query<Saved>) -> Result<Response, AppError> {
    settings_page(&app, &owner, BotId(bot_id), Some(q), vec![], None).await
}

/// The settings page as stored, with `problems` of a brand change that was refused (then 422:
/// nothing changed; `typed`: the brand card as the owner filled it in) or what was just done (`q`).
pub(super) async fn settings_page(app: &AppState, owner: &Owner, bot: BotId, q: Option<Saved>, problems: Vec<String>, typed: Option<super::brand::View>) -> Result<Response, AppError> {
    let (app, bot_id) = (app.clone(), bot.0);
    let q = q.unwrap_or(Saved { saved: None, done: None, brand: None });
    let bots::Profile { name, username, description, short_description } = bot_profile(&app, owner, bot).await?;
    let s = bot_settings::get(&app.db.pool, owner.tenant_id, bot).await?;
    let mut form = SettingsForm::default();
    form.set_hours(&s);
    let form = SettingsForm {
        commands: format_commands(&crate::manager::provision::commands(&s)),
        persona: s.persona,
        tone: s.tone,
        extra_instructions: s.extra_instructions,
        welcome_text: s.welcome_text,
        fallback_text: s.fallback_text,
        unavailable_text: s.unavailable_text,
        help_text: s.help_text,
        privacy_text: s.privacy_text,
        paysupport_text: s.paysupport_text,
        media_text: s.media_text,
        paused_text: s.paused_text,
        handoff_timeout: s.handoff_timeout_minutes.to_string(),
        description,
        short_description,
        ..form
    };
    let done = match q.done.as_deref() {
        Some("paused") => Some("Paused. Customers who write get your “taking a break” message; the assistant doesn't answer, so none of your plan's AI answers are used. Until you resume, announcements stop (one going out stops too), and replies from you or your team aren't sent."),
        Some("resumed") => Some("Resumed. Your assistant answers customers again."),
        Some("token") => Some("Done: your bot has a new token and the old one no longer works. Your bot reconnects by itself within a few seconds; messages sent meanwhile wait at Telegram and are answered then."),
        Some("disconnected") => Some("Disconnected. bellhop no longer answers for this bot and has forgotten its token. The bot is still yours in Telegram."),
        Some("connected") => Some("Connecting your bot again — this takes a few seconds."),
        Some("parked") => Some("Your bot is back, but parked: your plan's number of bots is used up. Upgrade on the Billing page to use it."),
        _ => None,
    };
    let notice = done.map(str::to_owned).or(q.saved.map(|_| "Saved. Your bot uses the new settings now; Telegram shows the new description and menu within a few seconds.".to_owned()));
    let defaults = settings::texts(&BotSettings::default(), &name);
    let (status, paused) = state_of(&app, owner, bot).await?;
    let stored = super::brand::view(&app, owner, bot).await?;
    let brand = typed.map(|t| super::brand::View { photo: stored.photo.clone(), error: stored.error.clone(), ..t }).unwrap_or(stored);
    let (brand_applied, brand_notice) = match q.brand.as_deref() {
        Some("applied") => (Some(true), Some("Saved, and Telegram shows it now: your customers see the new name, photo and descriptions.".to_owned())),
        Some("failed") => (Some(false), None),
        Some("stored") => (None, Some("Saved. Your bot isn't connected right now: Telegram gets this as soon as it is connected again.".to_owned())),
        _ => (None, None),
    };
    let unprocessable = !problems.is_empty();
    let page = SettingsPage { tab: "home", csrf: owner.csrf.clone(), bot_id, username, form, defaults, notice, problems, status, paused, brand, brand_applied, brand_notice, zones: hours::zone_names(), quotes_only: !app.cfg.answering.model_answers };
    let mut r = render(&page)?;
    if unprocessable {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(r)
}

/// `POST /app/bots/{bot_id}/settings`: everything checked, then saved together with a new
/// provisioning job in one transaction.
pub async fn save(State(app): State<AppState>, owner: Owner, Path(bot_id): Path<i64>, axum::Form(form): axum::Form<SettingsForm>) -> Result<Response, AppError> {
    owner.check_csrf(&form.csrf)?;
    let bot = BotId(bot_id);
    let bots::Profile { name, username, .. } = bot_profile(&app, &owner, bot).await?;
    let s = match form.check() {
        Ok(s) => s,
        Err(problems) => {
            let defaults = settings::texts(&BotSettings::default(), &name);
            let (status, paused) = state_of(&app, &owner, bot).await?;
            let brand = super::brand::view(&app, &owner, bot).await?;
            let page = SettingsPage { tab: "home", csrf: owner.csrf.clone(), bot_id, username, form, defaults, notice: None, problems, status, paused, brand, brand_applied: None, brand_notice: None, zones: hours::zone_names(), quotes_only: !app.cfg.answering.model_answers };
            let mut r = render(&page)?;
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(r);
        }
    };
    let mut tx = app.db.begin().await?;
    if !bots::set_descriptions(&mut *tx, owner.tenant_id, bot, form.description.trim(), form.short_description.trim()).await? {
        return Err(AppError::NotFound);
    }
    if !bot_settings::put(&mut tx, owner.tenant_id, bot, &s).await? {
        return Err(AppError::NotFound);
    }
    app.queue.enqueue_in(&mut tx, &crate::app::jobs::provision(&app.queue, owner.tenant_id, bot)).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    app.queue.notify(crate::jobs::DEFAULT);
    tracing::info!(tenant_id = owner.tenant_id.0, bot_id, "bot settings saved; provisioning again");
    Ok(Redirect::to(&format!("/app/bots/{bot_id}/settings?saved=1")).into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_commands;

    #[test]
    fn command_menus_are_checked_line_by_line() {
        let ok = parse_commands("/start - Start\n\nhours - Our opening hours - every day\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!((ok[1].command.as_str(), ok[1].description.as_str()), ("hours", "Our opening hours - every day"));
        let bad = parse_commands("Hours - x\nstart\nlong_description - \nstart - a\nstart - b").unwrap_err();
        assert_eq!(bad.len(), 4, "{bad:?}");
        assert!(bad[0].contains("“Hours” can't be a command"));
        assert!(bad[3].contains("listed twice"));
        assert!(parse_commands(&format!("{} - x", "a".repeat(33))).is_err());
        assert!(parse_commands(&format!("a - {}", "x".repeat(257))).is_err());
        assert!(parse_commands("").unwrap().is_empty());
    }
}
