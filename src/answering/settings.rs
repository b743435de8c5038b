//! The texts a bot says on its own — welcome, help, privacy, payment support, "I don't know",
//! "temporarily unavailable" — from the owner's settings, or plain defaults naming the business.
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
}

fn or(owner: &str, default: String) -> String {
    if owner.trim().is_empty() { default } else { owner.trim().to_owned() }
}

pub fn texts(s: &BotSettings, business: &str) -> Texts {
    let b = business;
    Texts {
        welcome: or(&s.welcome_text, format!("👋 Hi! I'm the assistant of {b}. Ask me anything about {b} — I answer from their own information and show where each answer comes from. Send /human any time to talk to a person.")),
        help: or(&s.help_text, format!("Ask me a question in your own words. I answer from {b}'s information and show where the answer comes from. Send /human to talk to a person.")),
        privacy: or(&s.privacy_text, format!("Your messages are used only to answer you and to help {b} improve its answers. They are never shared with other businesses.")),
        paysupport: or(&s.paysupport_text, format!("For help with a payment, send /human and a person from {b} will reply here.")),
        fallback: or(&s.fallback_text, format!("I'm sorry — I couldn't find that in {b}'s information. Would you like to talk to a person?")),
        unavailable: or(&s.unavailable_text, format!("I can't answer questions right now. Would you like to talk to a person from {b}?")),
    }
}
