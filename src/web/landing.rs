//! The landing page: what bellhop does, and the form that turns a business name and a bot
//! username into a creation link `{links_url}/newbot/{manager}/{username}?name={name}` — as a
//! button and a QR code. The same rules as Telegram's are checked here (and in the browser).
//! Without a manager bot (none configured) there is no link to make: the page says so instead
//! of offering the form.
use super::AppError;
use super::pages::render;
use crate::domain::{BotName, BotUsername};
use crate::app::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing {
    name: String,
    username: String,
    name_error: Option<String>,
    username_error: Option<String>,
    link: Option<String>,
    qr_svg: String,
    /// The manager bot's username; `None`: the operator has not connected one.
    manager: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub struct NewBotForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    username: String,
}

fn manager_username(app: &AppState) -> Option<String> {
    app.manager.as_ref().map(|m| m.username.clone())
}

pub async fn index(State(app): State<AppState>) -> Result<Response, AppError> {
    render(&Landing {
        name: String::new(),
        username: String::new(),
        name_error: None,
        username_error: None,
        link: None,
        qr_svg: String::new(),
        manager: manager_username(&app),
    })
}

/// `GET /new?name=…&username=…` (a GET, so it works without JavaScript and can be shared).
pub async fn new_bot(State(app): State<AppState>, Query(form): Query<NewBotForm>) -> Result<Response, AppError> {
    let Some(manager) = manager_username(&app) else {
        let mut r = render(&Landing {
            name: form.name.clone(),
            username: form.username.trim().trim_start_matches('@').to_owned(),
            name_error: None,
            username_error: None,
            link: None,
            qr_svg: String::new(),
            manager: None,
        })?;
        *r.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
        return Ok(r);
    };
    let name = BotName::parse(&form.name);
    // No username typed: one made from the business's name (the owner can still change it in
    // Telegram before confirming); a name with no Latin letters or digits gives none.
    let typed = form.username.trim().trim_start_matches('@');
    let suggested = if typed.is_empty() { suggest_username(&form.name) } else { None };
    let username: Result<BotUsername, String> = match suggested.as_deref() {
        Some(s) => BotUsername::parse(s).map_err(|e| e.to_string()),
        None if typed.is_empty() => Err("Choose a username for your bot: Latin letters, digits and underscores, ending in “bot” — for example rosas_bakery_bot.".to_owned()),
        None => BotUsername::parse(typed).map_err(|e| e.to_string()),
    };
    let (Ok(name), Ok(username)) = (&name, &username) else {
        let page = Landing {
            name: form.name.clone(),
            username: form.username.trim().trim_start_matches('@').to_owned(),
            name_error: name.err().map(|e| e.to_string()),
            username_error: username.err(),
            link: None,
            qr_svg: String::new(),
            manager: Some(manager),
        };
        let mut r = render(&page)?;
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(r);
    };
    let link = creation_link(&app.cfg.telegram.links_url, &manager, username, name);
    Ok(render(&Landing {
        name: name.to_string(),
        username: username.to_string(),
        name_error: None,
        username_error: None,
        qr_svg: qr_svg(&link),
        link: Some(link),
        manager: Some(manager),
    })?)
}

/// A bot username made from a business's name: "Rosa's Bakery" → `rosas_bakery_bot`. Latin
/// letters and digits are kept (lower case), an apostrophe is dropped, anything else separates
/// words; it starts with a letter, ends in "bot", and fits Telegram's 32 characters. `None` for
/// a name with no Latin letter (the owner types one). An "&" inside a word is "n": "Harbour View
/// B&B" → `harbour_view_bnb_bot`, not `harbour_view_b_b_bot`. (The same rule is in static/app.js.)
pub fn suggest_username(name: &str) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    let name: String = chars.iter().enumerate().map(|(i, &c)| if c == '&' && i > 0 && chars[i - 1].is_alphanumeric() && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric()) { 'n' } else { c }).collect();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in name.chars().flat_map(|c| fold(c).chars().collect::<Vec<_>>()) {
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        } else if c == '\'' || c == '’' {
            continue;
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    // It must start with a letter: leading words that start with a digit go.
    while words.first().is_some_and(|w| !w.starts_with(|c: char| c.is_ascii_alphabetic())) {
        words.remove(0);
    }
    // Ending in "bot" already ("Help Bot", "Pizzabot"), or "_bot" added; whole words while they
    // fit in Telegram's 32 characters.
    let tail = if words.last().is_some_and(|w| w.ends_with("bot")) { words.pop().unwrap_or_default() } else { "bot".to_owned() };
    let mut out = String::new();
    for w in &words {
        let sep = usize::from(!out.is_empty());
        if out.len() + sep + w.len() + 1 + tail.len() > 32 {
            break;
        }
        if sep == 1 {
            out.push('_');
        }
        out.push_str(w);
    }
    if !out.is_empty() {
        out.push('_');
    }
    out.push_str(&tail);
    if out.len() > 32 {
        return None;
    }
    (out.len() >= 5 && out.starts_with(|c: char| c.is_ascii_alphabetic())).then_some(out)
}

/// A Latin letter with an accent as its plain letters ("é" → "e", "ß" → "ss"); any other
/// character as it is.
fn fold(c: char) -> String {
    let plain = match c.to_lowercase().next().unwrap_or(c) {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' => "r",
        'ś' | 'š' | 'ş' => "s",
        'ß' => "ss",
        'ť' | 'ţ' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return c.to_string(),
    };
    plain.to_owned()
}

/// `https://t.me/newbot/{manager}/{username}?name={url-encoded name}`
pub fn creation_link(base: &url::Url, manager: &str, username: &BotUsername, name: &BotName) -> String {
    format!("{}/newbot/{}/{}?name={}", base.as_str().trim_end_matches('/'), manager, username, urlencoding::encode(name.as_str()))
}

pub(super) fn qr_svg(data: &str) -> String {
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(220, 220)
            .quiet_zone(true)
            .dark_color(qrcode::render::svg::Color("#1d2430"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_creation_link_has_telegrams_shape_with_the_name_encoded() {
        let base = url::Url::parse("https://t.me").unwrap();
        let link = creation_link(&base, "bellhop_bot", &BotUsername::parse("rosas_bakery_bot").unwrap(), &BotName::parse("Rosa's Bakery & Café").unwrap());
        assert_eq!(link, "https://t.me/newbot/bellhop_bot/rosas_bakery_bot?name=Rosa%27s%20Bakery%20%26%20Caf%C3%A9");
        assert!(qr_svg(&link).starts_with("<?xml"));
    }

    #[test]
    fn a_username_is_suggested_from_the_business_name() {
        assert_eq!(suggest_username("Rosa's Bakery & Café").as_deref(), Some("rosas_bakery_cafe_bot"));
        assert_eq!(suggest_username("Harbour View B&B").as_deref(), Some("harbour_view_bnb_bot"));
        assert_eq!(suggest_username("Pizzabot").as_deref(), Some("pizzabot"));
        assert_eq!(suggest_username("Кофейня"), None);
    }
}
