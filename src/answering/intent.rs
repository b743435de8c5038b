//! What a customer's message is, when it is not a question for the business's information: a
//! request for a person in words ("I want to talk to a human", "quiero hablar con una persona",
//! "хочу поговорить с человеком") — handled as `/human` — or small talk as the whole message
//! ("hi", "thanks a lot!", "ok", "bye" and the same in the languages the bot recognises), which
//! gets a short reply. Neither goes to retrieval or the model, costs a credit, or becomes a
//! knowledge gap.
//!
//! Conservative on purpose: a question that only mentions a person ("Can a person pick up the
//! order?", "Do you have staff who speak Spanish?") is a question; a person is asked for only in
//! the shape of a request — "want/like/can I" + "talk/speak/chat" + "with a person" (in German
//! and Persian the verb comes last) — or by a message that is only "human", "operator", "agent"
//! or "real person". Small talk is only a message made of nothing else (a few words; punctuation
//! and emoji aside): "Hi, how much is a cake?" is a question.
use crate::retrieval::analysis::normalize;

/// What a message is, when it is not a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// The customer asks for a person: as `/human`.
    Person,
    Greeting,
    Thanks,
    /// "ok", "got it", "great".
    Ok,
    Bye,
}

/// What `text` (a customer's message, trimmed) is, when it is not a question; None for a
/// question (and for anything else the assistant answers as before).
pub fn of(text: &str) -> Option<Intent> {
    let lower = normalize(&text.to_lowercase()).replace('ё', "е");
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return None;
    }
    if asks_for_person(&words) {
        return Some(Intent::Person);
    }
    small_talk(&words)
}

/// The longest request for a person, in words.
const MAX_REQUEST_WORDS: usize = 14;

fn asks_for_person(words: &[&str]) -> bool {
    if words.len() > MAX_REQUEST_WORDS {
        return false;
    }
    // A bare "human", "operator", "real person" (please).
    let bare: Vec<&str> = words.iter().copied().filter(|w| !POLITE.contains(w) && !ARTICLES.contains(w)).collect();
    if BARE.contains(&bare.join(" ").as_str()) {
        return true;
    }
    // "Talk to a human (please)", as the message's start: an imperative.
    let start = words.iter().take_while(|w| POLITE.contains(w)).count();
    if talk_to_person(&words[start..]) {
        return true;
    }
    // "I want to / Can I / Ich möchte / می‌خواهم …" + talk to a person.
    (0..words.len()).any(|i| {
        OPENERS.iter().any(|o| {
            if !words[i..].starts_with(o) {
                return false;
            }
            let mut j = i + o.len();
            let mut skipped = 0;
            while j < words.len() && skipped < 3 && LINKS.contains(&words[j]) {
                j += 1;
                skipped += 1;
            }
            talk_to_person(&words[j..])
        })
    })
}

/// Whether `words` start with talking to a person: a verb, then "to/with" a person ("talk to a
/// human", "hablar con una persona", "поговорить с человеком"); or "with" a person, then the verb
/// ("mit einem Menschen sprechen", "با یک انسان صحبت کنم").
fn talk_to_person(words: &[&str]) -> bool {
    let person_at = |from: usize| -> Option<usize> {
        let mut k = from;
        while k < words.len() && k < from + 3 && FILLERS.contains(&words[k]) && !TARGETS.contains(&words[k]) {
            k += 1;
        }
        // "someone's …" is somebody else's thing, not a person to talk to.
        (k < words.len() && TARGETS.contains(&words[k]) && words.get(k + 1) != Some(&"s")).then_some(k)
    };
    let Some(&first) = words.first() else { return false };
    if VERBS.contains(&first) {
        let mut k = 1;
        while k < words.len() && k < 3 && matches!(words[k], "me" | "us" | "through" | "over") {
            k += 1;
        }
        if k < words.len() && PREPS.contains(&words[k]) {
            k += 1;
        }
        return person_at(k).is_some();
    }
    if PREPS.contains(&first)
        && let Some(t) = person_at(1)
    {
        return words[t + 1..].iter().take(2).any(|w| VERBS.contains(w));
    }
    false
}

/// Words that open a request: "I want", "can I", "quiero", "хочу", "möchte", "می‌خواهم" …
const OPENERS: &[&[&str]] = &[
    // English
    &["i", "want"], &["i", "wanna"], &["i", "d", "like"], &["i", "would", "like"], &["id", "like"], &["i", "d", "love"], &["i", "need"], &["can", "i"], &["could", "i"], &["may", "i"], &["can", "we"], &["could", "we"], &["let", "me"], &["can", "you"], &["could", "you"], &["is", "it", "possible"],
    // Spanish
    &["quiero"], &["quisiera"], &["puedo"], &["podría"], &["podria"], &["me", "gustaría"], &["me", "gustaria"], &["necesito"], &["se", "puede"], &["deseo"],
    // Russian
    &["хочу"], &["хотел"], &["хотела"], &["хотелось"], &["можно"], &["могу"], &["нужно"], &["надо"],
    // Persian
    &["می", "خواهم"], &["میخواهم"], &["می", "خوام"], &["میخوام"], &["می", "توانم"], &["میتوانم"], &["می", "تونم"], &["میتونم"],
    // German
    &["möchte"], &["will"], &["würde"], &["kann", "ich"], &["könnte", "ich"], &["darf", "ich"],
    // French
    &["veux"], &["voudrais"], &["peux"], &["puis", "je"], &["pourrais"], &["aimerais"], &["souhaite"], &["souhaiterais"],
    // Italian
    &["voglio"], &["vorrei"], &["posso"], &["potrei"],
    // Portuguese
    &["quero"], &["queria"], &["gostaria"], &["poderia"], &["preciso"],
];

/// Words between an opener and the verb: "(want) to", "(gostaria) de", "(хотел) бы", "(kann ich) bitte" …
const LINKS: &[&str] = &["to", "please", "just", "de", "di", "бы", "я", "ли", "мне", "ich", "gern", "gerne", "bitte", "mal", "kurz", "je", "io", "eu", "por", "favor", "لطفا"];

/// Talking: "talk", "hablar", "поговорить", "sprechen", "صحبت" …
const VERBS: &[&str] = &[
    "talk", "speak", "chat", "connect", "transfer", "reach", "contact", // English
    "hablar", "chatear", "contactar", "comunicarme", "comunicarse", // Spanish
    "поговорить", "говорить", "пообщаться", "общаться", "связаться", "переговорить", "побеседовать", "соедините", "позовите", "позвать", // Russian
    "صحبت", "حرف", "گفتگو", "چت", "تماس", // Persian
    "sprechen", "reden", "chatten", "schreiben", // German
    "parler", "discuter", "contacter", "joindre", // French
    "parlare", "chattare", "contattare", // Italian
    "falar", "conversar", "contatar", "contactar", // Portuguese
];

/// "to", "with", "con", "с", "mit", "با" …
const PREPS: &[&str] = &["to", "with", "con", "al", "с", "со", "mit", "à", "a", "avec", "au", "com", "ao", "alla", "allo", "al", "با", "به"];

/// Between "with" and the person: "a", "real", "una", "живым", "einem", "یک" …
const FILLERS: &[&str] = &[
    "a", "an", "the", "some", "your", "real", "live", "actual", "human", "member", "of", "customer", "service", // English
    "una", "un", "alguna", "algún", "algun", "el", "la", "verdadera", "su", // Spanish
    "живым", "настоящим", "вашим", "каким", "нибудь", // Russian
    "یک", // Persian
    "einem", "einer", "einen", "echten", "echtem", "richtigen", "ihrem", "euren", // German
    "une", "vrai", "vraie", "votre", "le", // French
    "uno", "vero", "vera", "il", "lo", // Italian
    "um", "uma", "o", // Portuguese
];

/// The person asked for: "human", "persona", "человеком", "Menschen", "انسان" …
const TARGETS: &[&str] = &[
    "human", "humans", "person", "people", "someone", "somebody", "anyone", "anybody", "agent", "operator", "staff", "manager", "representative", "rep", "employee", "owner", "support", "team", // English
    "persona", "humano", "alguien", "agente", "operador", "operadora", "encargado", "encargada", "gerente", "empleado", "dueño", "asesor", "soporte", // Spanish
    "человеком", "человек", "оператором", "менеджером", "сотрудником", "кем", "консультантом", "администратором", "владельцем", "поддержкой", // Russian
    "انسان", "آدم", "نفر", "شخص", "اپراتور", "کارمند", "مدیر", "پشتیبان", "پشتیبانی", "کسی", // Persian
    "menschen", "mensch", "jemandem", "jemand", "mitarbeiter", "mitarbeiterin", "berater", "beraterin", "inhaber", // German
    "humain", "personne", "quelqu", "conseiller", "conseillère", "opérateur", "responsable", // French
    "umano", "qualcuno", "operatore", "operatrice", "addetto", "consulente", // Italian
    "pessoa", "alguém", "atendente", "responsável", "funcionário", // Portuguese
];

/// A message that is only the person asked for (politeness and articles aside).
const BARE: &[&str] = &[
    "human", "operator", "agent", "real person", "live person", "live agent", "human agent", "human being", // English
    "humano", "operador", "agente", "persona real", "una persona real", // Spanish
    "оператор", "оператора", "живой человек", "живого человека", // Russian
    "اپراتور", "انسان", // Persian
    "mensch", "echter mensch", // German
    "humain", "opérateur", "vraie personne", // French
    "umano", "operatore", "persona reale", // Italian
    "humano", "atendente", "pessoa real", // Portuguese
];

/// Left out of a bare request.
const POLITE: &[&str] = &["please", "pls", "plz", "now", "por", "favor", "пожалуйста", "لطفا", "bitte", "s", "il", "vous", "plait", "plaît", "per", "favore", "faz"];
const ARTICLES: &[&str] = &["a", "an", "the"];

/// The whole message as small talk: at most this many words.
const MAX_SMALL_TALK_WORDS: usize = 6;

fn small_talk(words: &[&str]) -> Option<Intent> {
    if words.len() > MAX_SMALL_TALK_WORDS {
        return None;
    }
    let mut found = Vec::new();
    for w in words {
        if let Some((_, i)) = SMALL_TALK.iter().find(|(ws, _)| ws.contains(w)) {
            found.push(*i);
        } else if !SMALL_TALK_FILLERS.contains(w) {
            return None;
        }
    }
    // "Thanks, bye!" is a goodbye; "hi, thanks" thanks; "good morning" a greeting.
    [Intent::Bye, Intent::Thanks, Intent::Greeting, Intent::Ok].into_iter().find(|i| found.contains(i))
}

const SMALL_TALK: &[(&[&str], Intent)] = &[
    (
        &[
            "hi", "hello", "hey", "hiya", "howdy", "day", "morning", "afternoon", "evening", "greetings", // English
            "hola", "buenos", "buenas", "días", "dias", "tardes", // Spanish
            "привет", "здравствуйте", "здравствуй", "добрый", "доброе", "день", "вечер", "утро", "приветствую", // Russian
            "سلام", "درود", // Persian
            "hallo", "guten", "tag", "morgen", "abend", "servus", "moin", // German
            "bonjour", "salut", "bonsoir", "coucou", // French
            "ciao", "salve", "buongiorno", "buonasera", // Italian
            "olá", "ola", "oi", "bom", "boa", "dia", "tarde", // Portuguese
        ],
        Intent::Greeting,
    ),
    (
        &[
            "thanks", "thank", "thx", "ty", "cheers", "thankyou", // English
            "gracias", // Spanish
            "спасибо", "благодарю", "спс", // Russian
            "مرسی", "ممنون", "ممنونم", "متشکرم", "متشکر", "سپاس", "سپاسگزارم", "تشکر", // Persian
            "danke", "dankeschön", "dank", // German
            "merci", // French
            "grazie", // Italian
            "obrigado", "obrigada", // Portuguese
        ],
        Intent::Thanks,
    ),
    (
        &[
            "ok", "okay", "okey", "okie", "k", "kk", "alright", "great", "cool", "perfect", "fine", "good", "nice", "got", // English
            "vale", "bueno", "perfecto", "genial", "entendido", // Spanish
            "ок", "окей", "хорошо", "ладно", "понятно", "отлично", "ясно", // Russian
            "باشه", "اوکی", "خوب", "عالی", // Persian
            "gut", "alles", "klar", "super", // German
            "accord", "parfait", "compris", // French
            "va", "bene", "perfetto", "capito", // Italian
            "certo", "beleza", "entendi", // Portuguese
        ],
        Intent::Ok,
    ),
    (
        &[
            "bye", "goodbye", "cya", "night", "later", // English
            "adiós", "adios", "chao", "noches", "luego", "pronto", // Spanish
            "пока", "свидания", "ночи", // Russian
            "خداحافظ", "خدانگهدار", // Persian
            "tschüss", "tschüs", "wiedersehen", // German
            "revoir", "bientôt", // French
            "arrivederci", "presto", // Italian
            "tchau", "logo", // Portuguese
        ],
        Intent::Bye,
    ),
];

/// Words that go with small talk: "thank *you* *so much*", "hi *there*", "*muchas* gracias",
/// "*большое* спасибо", "*خیلی* ممنون", "*vielen* Dank", "*merci beaucoup*" …
const SMALL_TALK_FILLERS: &[&str] = &[
    "you", "a", "lot", "so", "very", "much", "many", "there", "all", "again", "everyone", "guys", "it", "see", "good", "bye", "and", "for", "your", "help", "oh", // English
    "muchas", "muchísimas", "mil", "hasta", "de", "acuerdo", "muy", "bien", "y", "por", "todo", // Spanish
    "большое", "огромное", "до", "всего", "доброго", "хорошего", "спокойной", "и", "вам", "тебе", // Russian
    "خیلی", "ممنونم", "هم", "و", // Persian
    "vielen", "schön", "schon", "sehr", "auf", "und", // German
    "beaucoup", "d", "à", "et", // French
    "mille", "tante", "molte", "e", // Italian
    "muito", "muita", "até", "noite", // Portuguese
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_for_a_person_in_words() {
        for t in [
            "I want to talk to a human",
            "Can I speak to someone?",
            "I'd like to speak with a real person please",
            "talk to a human",
            "Human!",
            "operator",
            "agent please",
            "real person",
            "Hi, can I chat with an agent?",
            "Ich möchte mit einem Menschen sprechen",
            "Kann ich bitte mit jemandem sprechen?",
            "quiero hablar con una persona",
            "¿Puedo hablar con alguien?",
            "хочу поговорить с человеком",
            "Можно поговорить с живым человеком?",
            "Хотел бы связаться с оператором",
            "می‌خواهم با یک انسان صحبت کنم",
            "میخوام با اپراتور حرف بزنم",
            "Je voudrais parler à un conseiller",
            "Vorrei parlare con un operatore",
            "Quero falar com uma pessoa",
            "Gostaria de falar com um atendente",
        ] {
            assert_eq!(of(t), Some(Intent::Person), "{t:?}");
        }
    }

    #[test]
    fn a_question_that_only_mentions_a_person_is_a_question() {
        for t in [
            "Can a person pick up the order?",
            "Do you have staff who speak Spanish?",
            "Can I put someone's name on the cake?",
            "Can I speak Spanish in the shop?",
            "Is there a human-sized cake?",
            "How many people does the big cake feed?",
            "person",
            "¿Cuántas personas caben en la tienda?",
            "Сколько человек можно пригласить?",
        ] {
            assert_eq!(of(t), None, "{t:?}");
        }
    }

    #[test]
    fn small_talk_only_when_it_is_the_whole_message() {
        let cases = [
            ("hi", Intent::Greeting),
            ("Hello there 👋", Intent::Greeting),
            ("Good morning!", Intent::Greeting),
            ("hola", Intent::Greeting),
            ("привет", Intent::Greeting),
            ("سلام", Intent::Greeting),
            ("Bonjour !", Intent::Greeting),
            ("olá", Intent::Greeting),
            ("thanks", Intent::Thanks),
            ("Thank you so much!", Intent::Thanks),
            ("Thanks a lot!", Intent::Thanks),
            ("muchas gracias", Intent::Thanks),
            ("большое спасибо", Intent::Thanks),
            ("خیلی ممنون", Intent::Thanks),
            ("مرسی", Intent::Thanks),
            ("Vielen Dank", Intent::Thanks),
            ("merci beaucoup", Intent::Thanks),
            ("grazie mille", Intent::Thanks),
            ("obrigada", Intent::Thanks),
            ("ok", Intent::Ok),
            ("OK 👍", Intent::Ok),
            ("got it", Intent::Ok),
            ("bye", Intent::Bye),
            ("Thanks, bye!", Intent::Bye),
            ("до свидания", Intent::Bye),
            ("hasta luego", Intent::Bye),
        ];
        for (t, i) in cases {
            assert_eq!(of(t), Some(i), "{t:?}");
        }
        for t in ["Hi, how much is a cake?", "thanks, and do you deliver?", "hello, are you open today?", "Спасибо, а сколько стоит доставка?", "👍", "?", "ok so what about Sundays"] {
            assert_eq!(of(t), None, "{t:?}");
        }
    }
}
