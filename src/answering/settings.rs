//! The texts a bot says on its own — welcome, help, privacy, payment support, "I don't know",
//! "temporarily unavailable", the reply to media, the paused notice — from the owner's settings (as written), or plain defaults naming
//! the business, in the customer's language ([`super::language`]).
use super::language::{Lang, fill};
use crate::storage::bot_settings::BotSettings;

/// Resolved texts (plain text: escaped when sent as HTML).
#[derive(Debug, Clone)]
pub struct Texts {
    pub welcome: String,
    pub help: String,
    pub privacy: String,
    pub paysupport: String,
    pub fallback: String,
    pub unavailable: String,
    /// The reply to a message the bot cannot read (photo, voice note, …).
    pub media: String,
    /// A paused bot's notice.
    pub paused: String,
    /// To a customer who asks for a person outside working hours; `{when}` is filled in.
    pub away: String,
}

fn or(owner: &str, default: String) -> String {
    if owner.trim().is_empty() { default } else { owner.trim().to_owned() }
}

/// The texts with English defaults (as the owner's settings page shows them).
pub fn texts(s: &BotSettings, business: &str) -> Texts {
    texts_in(s, business, Lang::En)
}

/// The texts a customer sees: the owner's own as written, the defaults in `lang`.
pub fn texts_in(s: &BotSettings, business: &str, lang: Lang) -> Texts {
    let w = lang.words();
    let d = |t: &str| fill(t, business);
    Texts {
        welcome: or(&s.welcome_text, d(w.welcome)),
        help: or(&s.help_text, d(w.help)),
        privacy: or(&s.privacy_text, d(w.privacy)),
        paysupport: or(&s.paysupport_text, d(w.paysupport)),
        fallback: or(&s.fallback_text, d(w.fallback)),
        unavailable: or(&s.unavailable_text, d(w.unavailable)),
        media: or(&s.media_text, d(w.media)),
        paused: or(&s.paused_text, d(w.paused)),
        away: or(&s.away_text, d(w.away)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_in_the_customers_language_and_the_owners_texts_as_written() {
        let s = BotSettings::default();
        assert!(texts(&s, "Rosa").fallback.starts_with("I'm sorry — I couldn't find that in Rosa's information"));
        // A name ending in "s" is not given a second one; a possessive name stays as it is.
        assert!(texts(&s, "Rosa's Flowers").fallback.starts_with("I'm sorry — I couldn't find that in Rosa's Flowers' information"));
        assert!(texts(&s, "Sam's").help.contains("I answer from Sam's information"));
        assert!(texts(&s, "McDonald’s").paused.starts_with("McDonald’s assistant is taking"));
        assert!(fill(Lang::En.words().forget_done, "Bliss").contains("from Bliss' records"));
        assert!(texts(&s, "Rosa's Flowers").welcome.contains("I'm the assistant of Rosa's Flowers."), "the name itself is untouched");
        assert!(texts_in(&s, "Rosa's Flowers", Lang::Es).fallback.contains("la información de Rosa's Flowers"));
        assert!(texts_in(&s, "Rosa", Lang::Ru).fallback.contains("в информации Rosa"));
        assert!(texts_in(&s, "Rosa", Lang::Es).welcome.contains("Soy el asistente de Rosa"));
        assert!(texts_in(&s, "Rosa", Lang::Fa).unavailable.contains("از Rosa"));
        assert!(texts_in(&s, "Rosa", Lang::De).fallback.contains("in den Informationen von Rosa"));
        assert!(texts_in(&s, "Rosa", Lang::Fr).welcome.contains("Je suis l'assistant de Rosa"));
        assert!(texts_in(&s, "Rosa", Lang::It).paused.contains("L'assistente di Rosa"));
        assert!(texts_in(&s, "Rosa", Lang::Pt).unavailable.contains("uma pessoa de Rosa"));
        let own = BotSettings { fallback_text: "Ask Rosa at the counter.".into(), ..BotSettings::default() };
        assert_eq!(texts_in(&own, "Rosa", Lang::Ru).fallback, "Ask Rosa at the counter.");
    }
}
