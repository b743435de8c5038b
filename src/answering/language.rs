//! The customer's language, and the bot's own words in it.
//!
//! The language a customer is answered in comes from what they write, and from Telegram's
//! `language_code` (the language of their Telegram app) when the message does not say — a
//! command, "ok", a short Latin-script message that could be English or Spanish
//! ([`customer_language`]). The bot's fixed texts ("I don't know", the buttons, the handoff
//! note, the welcome …) exist in English, Russian, Spanish, Persian, German, French, Italian and
//! Portuguese ([`Lang`]); other
//! languages get English. Texts the owner wrote are shown as written. The bot's command menu and
//! default descriptions are set in the same languages at provisioning (`manager::provision`),
//! shown by Telegram to customers whose app is in one of them.
use std::sync::LazyLock;
use whatlang::{Detector, Lang as Detected, Script};

/// The languages the bot's own texts are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Ru,
    Es,
    Fa,
    De,
    Fr,
    It,
    Pt,
}

impl Lang {
    /// The texts' language for a language code ("ru", "es-MX", "fa", "pt-BR"); English otherwise.
    pub fn of(code: Option<&str>) -> Lang {
        match code.map(primary).as_deref() {
            Some("ru") => Lang::Ru,
            Some("es") => Lang::Es,
            Some("fa") => Lang::Fa,
            Some("de") => Lang::De,
            Some("fr") => Lang::Fr,
            Some("it") => Lang::It,
            Some("pt") => Lang::Pt,
            _ => Lang::En,
        }
    }
}

/// The primary subtag of a language code, lower case: "es-MX" → "es".
fn primary(code: &str) -> String {
    code.split(['-', '_']).next().unwrap_or(code).trim().to_lowercase()
}

/// Languages recognised in a message: those with texts or a lead-in of their own. Arabic is left
/// out on purpose: Arabic-script messages without a Telegram language say are taken as Persian.
static DETECTOR: LazyLock<Detector> = LazyLock::new(|| {
    use Detected::*;
    Detector::with_allowlist(vec![Eng, Spa, Rus, Ukr, Pes, Deu, Fra, Ita, Por])
});

fn code_of(l: Detected) -> &'static str {
    match l {
        Detected::Spa => "es",
        Detected::Rus => "ru",
        Detected::Ukr => "uk",
        Detected::Pes => "fa",
        Detected::Deu => "de",
        Detected::Fra => "fr",
        Detected::Ita => "it",
        Detected::Por => "pt",
        _ => "en",
    }
}

/// The script a language code is written in, for the codes whose script is known.
fn script_of(code: &str) -> Option<Script> {
    match code {
        "en" | "es" | "de" | "fr" | "it" | "pt" | "nl" | "pl" | "tr" | "id" => Some(Script::Latin),
        "ru" | "uk" | "be" | "bg" | "kk" | "sr" => Some(Script::Cyrillic),
        "fa" | "ar" | "ur" => Some(Script::Arabic),
        _ => None,
    }
}

/// The customer's language (a two-letter code) from Telegram's `language_code` and their message:
/// the message's language when it is clear — a reliable detection, or a script other than Latin
/// that their Telegram language is not written in (Cyrillic → Russian, Arabic script → Persian);
/// else Telegram's language; else, for a message in another script than Latin, what it looks
/// like most; else nothing (English).
pub fn customer_language(telegram: Option<&str>, message: &str) -> Option<String> {
    said(message).with_app(telegram)
}

/// What a message says of its own language, read once: the small words' vote, else the
/// detector's guess (nothing for a command).
pub struct Said {
    voted: Option<&'static str>,
    guess: Option<(String, Script, bool)>,
}

/// Reads what `message` says of its language (see [`Said`]).
pub fn said(message: &str) -> Said {
    let text = message.trim();
    if text.starts_with('/') {
        return Said { voted: None, guess: None };
    }
    let info = DETECTOR.detect(text);
    // A Latin-script message's small words say its language when they are clear: a short one the
    // detector is unsure of ("How much does a cake … cost?"), and a long one it is sure of wrongly
    // (one English sentence repeated to 3,000 characters, "I would like to know about your
    // croissants.", reads as French to its trigrams).
    let voted = if info.as_ref().is_none_or(|i| i.script() == Script::Latin) { small_words_vote(text) } else { None };
    let guess = info.map(|info| {
        let lang = match info.lang() {
            // An unsure guess of Ukrainian for Cyrillic without a letter only Ukrainian has
            // ("спасибо" alone) is Russian, as for Cyrillic the rule is.
            Detected::Ukr if !info.is_reliable() && !text.chars().any(|c| "іїєґІЇЄҐ".contains(c)) => "ru".to_owned(),
            l => code_of(l).to_owned(),
        };
        (lang, info.script(), info.is_reliable())
    });
    Said { voted, guess }
}

impl Said {
    /// The message's language when the message alone says it (whatever the app's language).
    pub fn clearly(&self) -> Option<&str> {
        if let Some(v) = self.voted {
            return Some(v);
        }
        let (lang, script, reliable) = self.guess.as_ref()?;
        (*reliable || *script != Script::Latin).then_some(lang.as_str())
    }

    /// The language with Telegram's `language_code` to fall back on ([`customer_language`]).
    pub fn with_app(&self, telegram: Option<&str>) -> Option<String> {
        let code = telegram.map(primary).filter(|c| !c.is_empty());
        if let Some(v) = self.voted {
            return Some(v.to_owned());
        }
        let Some((detected, script, reliable)) = &self.guess else { return code };
        let other_script = *script != Script::Latin;
        match code {
            None => (*reliable || other_script).then(|| detected.clone()),
            Some(c) if *reliable || (other_script && script_of(&c) != Some(*script)) => Some(detected.clone()),
            Some(c) => Some(c),
        }
    }
}

/// Small words (articles, question words, prepositions, "thanks") of the Latin-script languages
/// the bot writes in. A word in two lists ("de", "para", "a") tells nothing and is left out.
const SMALL_WORDS: &[(&str, &[&str])] = &[
    ("en", &["the", "is", "are", "do", "does", "did", "you", "your", "how", "what", "when", "where", "which", "who", "why", "much", "many", "can", "could", "have", "has", "for", "and", "with", "of", "to", "at", "my", "it", "this", "that", "there", "any", "will", "would", "please", "thanks", "thank", "i", "an", "get", "need"]),
    ("es", &["el", "la", "los", "las", "del", "que", "qué", "por", "cuánto", "cuanto", "cuánta", "cuesta", "cuestan", "es", "son", "y", "tienen", "tienes", "hay", "dónde", "donde", "cuándo", "cuando", "cómo", "mi", "su", "sus", "al", "también", "hola", "gracias", "puedo", "pueden", "está", "están", "necesito", "quiero"]),
    ("de", &["der", "die", "das", "den", "dem", "des", "ist", "sind", "und", "mit", "für", "wie", "was", "wann", "wo", "ich", "sie", "ein", "eine", "einen", "haben", "habt", "kann", "können", "kostet", "kosten", "nicht", "auch", "bitte", "danke", "viel", "hallo", "gibt"]),
    ("fr", &["le", "les", "des", "du", "est", "sont", "et", "avec", "pour", "combien", "quel", "quelle", "quand", "où", "je", "vous", "nous", "une", "avez", "pouvez", "coûte", "coûtent", "pas", "aussi", "merci", "bonjour", "ce", "cette"]),
    ("it", &["il", "gli", "della", "delle", "dei", "è", "sono", "per", "costa", "costano", "dove", "io", "voi", "avete", "potete", "anche", "grazie", "ciao", "quanti", "quante"]),
    ("pt", &["o", "os", "as", "dos", "das", "é", "são", "custa", "custam", "onde", "eu", "vocês", "você", "têm", "tem", "obrigado", "obrigada", "olá", "um", "uma", "não", "quantos"]),
];

/// The language a Latin-script message's small words say, when they say it clearly: two of them
/// or more, and more than twice as many as any other language's.
fn small_words_vote(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let only_in = |w: &str, lang: &str| SMALL_WORDS.iter().all(|(l, list)| (*l == lang) == list.contains(&w));
    let mut counts: Vec<(&'static str, usize)> = SMALL_WORDS.iter().map(|(l, _)| (*l, words.iter().filter(|w| only_in(w, l)).count())).collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1));
    let (best, n) = counts[0];
    (n >= 2 && n > 2 * counts[1].1).then_some(best)
}

/// The language of a customer's message in a private conversation: as [`customer_language`],
/// except that a message that does not say which language it is in ("ok", "and for 20?", a
/// command) keeps the language the customer has been writing in (`so_far`), rather than
/// switching to their Telegram app's. A Spanish phone whose owner writes English gets English
/// throughout, not English and Spanish by turns.
pub fn message_language(telegram: Option<&str>, said: &Said, so_far: Option<&str>) -> Option<String> {
    match so_far {
        Some(kept) if said.clearly().is_none() => Some(kept.to_owned()),
        _ => said.with_app(telegram),
    }
}

/// The bot's default texts and labels in one language. `{b}` stands for the business's name.
pub struct Words {
    pub welcome: &'static str,
    pub help: &'static str,
    pub privacy: &'static str,
    pub paysupport: &'static str,
    pub fallback: &'static str,
    pub unavailable: &'static str,
    pub handoff: &'static str,
    pub talk_to_person: &'static str,
    pub person: &'static str,
    pub sources: &'static str,
    pub feedback_failed: &'static str,
    pub feedback_up: &'static str,
    pub feedback_down: &'static str,
    /// The reply to a photo, voice note, video, document, sticker, location or contact.
    pub media: &'static str,
    /// Before the away note ([`Self::away`]), in the one reply to such a message outside working
    /// hours.
    pub text_only: &'static str,
    /// What a paused bot says.
    pub paused: &'static str,
    /// `/forget`: the question, its two buttons, and the two outcomes.
    pub forget_ask: &'static str,
    pub forget_yes: &'static str,
    pub forget_no: &'static str,
    pub forget_done: &'static str,
    pub forget_kept: &'static str,
    /// `/forget` in a group.
    pub forget_private: &'static str,
    /// To the customer when the owner hands the conversation back to the assistant.
    pub back_with_assistant: &'static str,
    /// To the customer when nobody answered their handoff in time.
    pub handoff_timed_out: &'static str,
    /// Above an owner's reply that takes the conversation from the assistant: a person answers
    /// from now on, and the customer's messages go to them.
    pub person_joined: &'static str,
    /// Under every announcement: how to get no more.
    pub announcement_footer: &'static str,
    /// `/stop`: the confirmation.
    pub stop_done: &'static str,
    /// `/start` after `/stop`: announcements again.
    pub stop_undone: &'static str,
    /// To a customer who asks for a person outside working hours (`{when}`: [`Self::back_at`]).
    pub away: &'static str,
    /// The same when no working hours are ahead at all.
    pub away_later: &'static str,
    /// To a customer who asks for a person again while waiting for one.
    pub already_waiting: &'static str,
    /// The same outside working hours (`{when}`: [`Self::back_at`]).
    pub already_waiting_away: &'static str,
    /// When the team is back: `{day}` at `{time}` (`{tz}` time).
    pub back_at: &'static str,
    pub today: &'static str,
    pub tomorrow: &'static str,
    /// A later day (`{d}`: the weekday).
    pub on_weekday: &'static str,
    /// Monday first.
    pub weekdays: [&'static str; 7],
    /// The reply to a customer's "thanks" ([`super::intent`]).
    pub thanks_reply: &'static str,
    /// The reply to "ok", "got it".
    pub ok_reply: &'static str,
    /// The reply to "bye".
    pub bye_reply: &'static str,
}

const EN: Words = Words {
    welcome: "👋 Hi! I'm the assistant of {b}. Ask me anything about {b} — I answer from their own information and show where each answer comes from. Send /human any time to talk to a person.",
    help: "Ask me a question in your own words. I answer from {b}'s information and show where the answer comes from. Send /human to talk to a person.",
    privacy: "Your messages are used only to answer you and to help {b} improve its answers. They are never shared with other businesses. Send /forget to delete our conversation.",
    paysupport: "For help with a payment, send /human and a person from {b} will reply here.",
    fallback: "I'm sorry — I couldn't find that in {b}'s information. Would you like to talk to a person?",
    unavailable: "I can't answer questions right now. Would you like to talk to a person from {b}?",
    handoff: "I've asked a person from {b} to help you. They'll reply here.",
    talk_to_person: "🙋 Talk to a person",
    person: "🙋 Person",
    sources: "Sources",
    feedback_failed: "Sorry, I couldn't record that.",
    feedback_up: "Thanks! Glad it helped.",
    feedback_down: "Thanks — we'll use this to improve. Send /human to talk to a person.",
    media: "I can only read text messages, so I've passed this on to a person from {b} — they'll reply here. If you have a question, you can also type it.",
    text_only: "I can only read text messages.",
    paused: "{b}'s assistant is taking a short break and isn't answering right now. Please try again later.",
    forget_ask: "Delete our conversation? Everything you wrote to me and my replies will be erased from {b}'s records. This can't be undone.",
    forget_yes: "🗑 Yes, delete",
    forget_no: "Keep it",
    forget_done: "Done — our conversation has been deleted from {b}'s records. If you write again, we start fresh.",
    forget_kept: "Nothing was deleted.",
    forget_private: "To delete your messages, send /forget to me in a private chat.",
    back_with_assistant: "Thanks for your patience! You're back with the assistant — ask me anything, or send /human to reach a person again.",
    announcement_footer: "Send /stop to get no more announcements.",
    handoff_timed_out: "Sorry — no one was free to reply in time. You're back with the assistant: ask me anything, or send /human to try a person again later.",
    person_joined: "A person from the team has joined the chat and will answer you here. Until they hand you back to the assistant, your messages go to them.",
    stop_done: "Done: you won't get announcements from this bot any more. You can still ask questions here. Send /start to get them again.",
    stop_undone: "You'll get this bot's announcements again. Send /stop to get no more.",
    away: "Our team is away right now and back {when}. I've passed your message on — they'll reply here then. Until then, I can answer your questions: just ask.",
    away_later: "Our team is away right now. I've passed your message on — they'll reply here. Until then, I can answer your questions: just ask.",
    already_waiting: "You're already waiting for a person from {b}: they'll reply here.",
    already_waiting_away: "You're already waiting for a person from {b}. Our team is away right now and back {when}; they'll reply here then.",
    back_at: "{day} at {time} ({tz} time)",
    today: "today",
    tomorrow: "tomorrow",
    on_weekday: "on {d}",
    weekdays: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    thanks_reply: "You're welcome! If you have another question about {b}, just ask.",
    ok_reply: "👍 If you have another question, just ask.",
    bye_reply: "Goodbye! Write here any time you have a question about {b}.",
};

const RU: Words = Words {
    welcome: "👋 Здравствуйте! Я помощник {b}. Спросите меня о {b} что угодно — я отвечаю по их собственной информации и показываю, откуда взят каждый ответ. Чтобы поговорить с человеком, отправьте /human в любой момент.",
    help: "Задайте вопрос своими словами. Я отвечаю по информации {b} и показываю, откуда взят ответ. Чтобы поговорить с человеком, отправьте /human.",
    privacy: "Ваши сообщения используются только для ответов вам и чтобы помочь {b} улучшать ответы. Они никогда не передаются другим компаниям. Чтобы удалить нашу переписку, отправьте /forget.",
    paysupport: "Если нужна помощь с оплатой, отправьте /human — сотрудник {b} ответит здесь.",
    fallback: "Извините, я не нашёл этого в информации {b}. Хотите поговорить с человеком?",
    unavailable: "Сейчас я не могу отвечать на вопросы. Хотите поговорить с сотрудником {b}?",
    handoff: "Я попросил сотрудника {b} помочь вам. Вам ответят здесь.",
    talk_to_person: "🙋 Поговорить с человеком",
    person: "🙋 Человек",
    sources: "Источники",
    feedback_failed: "Извините, не удалось это сохранить.",
    feedback_up: "Спасибо! Рад, что помог.",
    feedback_down: "Спасибо — учтём это. Чтобы поговорить с человеком, отправьте /human.",
    media: "Я читаю только текстовые сообщения, поэтому передал это сотруднику {b} — вам ответят здесь. Если у вас есть вопрос, можно написать его текстом.",
    text_only: "Я читаю только текстовые сообщения.",
    paused: "Помощник {b} сейчас на небольшом перерыве и не отвечает. Пожалуйста, напишите позже.",
    forget_ask: "Удалить нашу переписку? Всё, что вы мне написали, и мои ответы будут стёрты из записей {b}. Это нельзя отменить.",
    forget_yes: "🗑 Да, удалить",
    forget_no: "Оставить",
    forget_done: "Готово — наша переписка удалена из записей {b}. Если напишете снова, начнём с чистого листа.",
    forget_kept: "Ничего не удалено.",
    forget_private: "Чтобы удалить свои сообщения, отправьте мне /forget в личном чате.",
    back_with_assistant: "Спасибо за терпение! Вы снова общаетесь с помощником — спрашивайте что угодно или отправьте /human, чтобы снова связаться с человеком.",
    announcement_footer: "Отправьте /stop, чтобы больше не получать объявления.",
    handoff_timed_out: "Извините — никто не смог ответить вовремя. Вы снова общаетесь с помощником: спрашивайте что угодно или отправьте /human, чтобы позже снова позвать человека.",
    person_joined: "К чату подключился сотрудник — он ответит вам здесь. Пока он не вернёт вас помощнику, ваши сообщения получает он.",
    stop_done: "Готово: вы больше не будете получать объявления от этого бота. Задавать вопросы здесь можно по-прежнему. Чтобы снова получать их, отправьте /start.",
    stop_undone: "Вы снова будете получать объявления этого бота. Отправьте /stop, чтобы отказаться.",
    away: "Сейчас наша команда не на связи и вернётся {when}. Я передал ваше сообщение — вам ответят здесь. А пока я могу ответить на ваши вопросы: просто спросите.",
    away_later: "Сейчас наша команда не на связи. Я передал ваше сообщение — вам ответят здесь. А пока я могу ответить на ваши вопросы: просто спросите.",
    already_waiting: "Вы уже ждёте ответа сотрудника {b} — вам ответят здесь.",
    already_waiting_away: "Вы уже ждёте ответа сотрудника {b}. Сейчас наша команда не на связи и вернётся {when} — тогда вам ответят здесь.",
    back_at: "{day} в {time} (время {tz})",
    today: "сегодня",
    tomorrow: "завтра",
    on_weekday: "{d}",
    weekdays: ["в понедельник", "во вторник", "в среду", "в четверг", "в пятницу", "в субботу", "в воскресенье"],
    thanks_reply: "Пожалуйста! Если будут ещё вопросы о {b}, просто спросите.",
    ok_reply: "👍 Если будут ещё вопросы, просто спросите.",
    bye_reply: "До свидания! Пишите сюда в любое время, если будут вопросы о {b}.",
};

const ES: Words = Words {
    welcome: "👋 ¡Hola! Soy el asistente de {b}. Pregúntame lo que quieras sobre {b}: respondo con su propia información y muestro de dónde sale cada respuesta. Envía /human en cualquier momento para hablar con una persona.",
    help: "Hazme una pregunta con tus propias palabras. Respondo con la información de {b} y muestro de dónde sale la respuesta. Envía /human para hablar con una persona.",
    privacy: "Tus mensajes se usan solo para responderte y para ayudar a {b} a mejorar sus respuestas. Nunca se comparten con otras empresas. Envía /forget para borrar nuestra conversación.",
    paysupport: "Para ayuda con un pago, envía /human y una persona de {b} te responderá aquí.",
    fallback: "Lo siento, no encontré eso en la información de {b}. ¿Quieres hablar con una persona?",
    unavailable: "Ahora mismo no puedo responder preguntas. ¿Quieres hablar con una persona de {b}?",
    handoff: "He pedido a una persona de {b} que te ayude. Te responderá aquí.",
    talk_to_person: "🙋 Hablar con una persona",
    person: "🙋 Persona",
    sources: "Fuentes",
    feedback_failed: "Lo siento, no pude registrarlo.",
    feedback_up: "¡Gracias! Me alegra haber ayudado.",
    feedback_down: "Gracias: lo usaremos para mejorar. Envía /human para hablar con una persona.",
    media: "Solo puedo leer mensajes de texto, así que he pasado esto a una persona de {b}: te responderá aquí. Si tienes una pregunta, también puedes escribirla.",
    text_only: "Solo puedo leer mensajes de texto.",
    paused: "El asistente de {b} está en una breve pausa y no responde ahora. Inténtalo de nuevo más tarde.",
    forget_ask: "¿Borrar nuestra conversación? Todo lo que me escribiste y mis respuestas se borrarán de los registros de {b}. No se puede deshacer.",
    forget_yes: "🗑 Sí, borrar",
    forget_no: "Conservarla",
    forget_done: "Listo: nuestra conversación se ha borrado de los registros de {b}. Si vuelves a escribir, empezamos de cero.",
    forget_kept: "No se ha borrado nada.",
    forget_private: "Para borrar tus mensajes, envíame /forget en un chat privado.",
    back_with_assistant: "¡Gracias por tu paciencia! Vuelves a hablar con el asistente: pregúntame lo que quieras o envía /human para hablar de nuevo con una persona.",
    announcement_footer: "Envía /stop para no recibir más anuncios.",
    handoff_timed_out: "Lo sentimos: nadie pudo responder a tiempo. Vuelves a hablar con el asistente: pregúntame lo que quieras o envía /human para intentar hablar con una persona más tarde.",
    person_joined: "Una persona del equipo se ha unido al chat y te responderá aquí. Hasta que te devuelva al asistente, tus mensajes le llegan a ella.",
    stop_done: "Hecho: ya no recibirás anuncios de este bot. Puedes seguir haciendo preguntas aquí. Envía /start para volver a recibirlos.",
    stop_undone: "Volverás a recibir los anuncios de este bot. Envía /stop para dejar de recibirlos.",
    away: "Nuestro equipo no está disponible ahora y vuelve {when}. He pasado tu mensaje: te responderán aquí. Mientras tanto, puedo responder a tus preguntas: solo pregunta.",
    away_later: "Nuestro equipo no está disponible ahora. He pasado tu mensaje: te responderán aquí. Mientras tanto, puedo responder a tus preguntas: solo pregunta.",
    already_waiting: "Ya estás esperando a una persona de {b}: te responderá aquí.",
    already_waiting_away: "Ya estás esperando a una persona de {b}. Nuestro equipo no está disponible ahora y vuelve {when}: te responderán aquí.",
    back_at: "{day} a las {time} (hora de {tz})",
    today: "hoy",
    tomorrow: "mañana",
    on_weekday: "el {d}",
    weekdays: ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
    thanks_reply: "¡De nada! Si tienes otra pregunta sobre {b}, solo pregunta.",
    ok_reply: "👍 Si tienes otra pregunta, solo pregunta.",
    bye_reply: "¡Adiós! Escribe aquí cuando quieras si tienes una pregunta sobre {b}.",
};

const FA: Words = Words {
    welcome: "👋 سلام! من دستیار {b} هستم. هر سؤالی درباره {b} دارید بپرسید — از اطلاعات خود آن‌ها پاسخ می‌دهم و نشان می‌دهم هر پاسخ از کجا آمده است. هر وقت خواستید با یک نفر صحبت کنید، /human را بفرستید.",
    help: "سؤال خود را با کلمات خودتان بپرسید. از اطلاعات {b} پاسخ می‌دهم و نشان می‌دهم پاسخ از کجا آمده است. برای صحبت با یک نفر، /human را بفرستید.",
    privacy: "پیام‌های شما فقط برای پاسخ دادن به شما و کمک به {b} برای بهتر کردن پاسخ‌هایش به کار می‌روند و هرگز با کسب‌وکارهای دیگر به اشتراک گذاشته نمی‌شوند. برای پاک کردن گفتگوی ما، /forget را بفرستید.",
    paysupport: "برای کمک درباره پرداخت، /human را بفرستید تا یک نفر از {b} همین‌جا پاسخ دهد.",
    fallback: "متأسفم، این را در اطلاعات {b} پیدا نکردم. می‌خواهید با یک نفر صحبت کنید؟",
    unavailable: "الان نمی‌توانم به سؤال‌ها پاسخ دهم. می‌خواهید با یک نفر از {b} صحبت کنید؟",
    handoff: "از یک نفر از {b} خواستم به شما کمک کند. همین‌جا پاسخ می‌دهد.",
    talk_to_person: "🙋 گفتگو با یک نفر",
    person: "🙋 یک نفر",
    sources: "منابع",
    feedback_failed: "متأسفم، نتوانستم این را ثبت کنم.",
    feedback_up: "ممنون! خوشحالم که کمک کرد.",
    feedback_down: "ممنون — از این برای بهتر شدن استفاده می‌کنیم. برای صحبت با یک نفر، /human را بفرستید.",
    media: "من فقط پیام‌های متنی را می‌خوانم، پس این را به یک نفر از {b} دادم — همین‌جا پاسخ می‌دهد. اگر سؤالی دارید، می‌توانید آن را بنویسید.",
    text_only: "من فقط پیام‌های متنی را می‌خوانم.",
    paused: "دستیار {b} در یک استراحت کوتاه است و الان پاسخ نمی‌دهد. لطفاً بعداً دوباره امتحان کنید.",
    forget_ask: "گفتگوی ما پاک شود؟ هر چه برای من نوشته‌اید و پاسخ‌های من از سوابق {b} پاک می‌شود. این کار برگشت‌پذیر نیست.",
    forget_yes: "🗑 بله، پاک شود",
    forget_no: "نگه دار",
    forget_done: "انجام شد — گفتگوی ما از سوابق {b} پاک شد. اگر دوباره بنویسید، از نو شروع می‌کنیم.",
    forget_kept: "چیزی پاک نشد.",
    forget_private: "برای پاک کردن پیام‌هایتان، /forget را در گفتگوی خصوصی برای من بفرستید.",
    back_with_assistant: "از صبر شما ممنونیم! دوباره با دستیار صحبت می‌کنید — هر سؤالی دارید بپرسید، یا برای صحبت دوباره با یک نفر /human را بفرستید.",
    announcement_footer: "برای دریافت نکردن اطلاعیه‌های بیشتر، /stop را بفرستید.",
    handoff_timed_out: "متأسفیم — کسی نتوانست به‌موقع پاسخ دهد. دوباره با دستیار صحبت می‌کنید: هر سؤالی دارید بپرسید، یا بعداً برای صحبت با یک نفر /human را بفرستید.",
    person_joined: "یک نفر از تیم به گفتگو پیوست و همین‌جا پاسخ می‌دهد. تا وقتی شما را به دستیار برنگرداند، پیام‌هایتان به او می‌رسد.",
    stop_done: "انجام شد: دیگر اطلاعیه‌ای از این ربات دریافت نمی‌کنید. همچنان می‌توانید اینجا سؤال بپرسید. برای دریافت دوباره، /start را بفرستید.",
    stop_undone: "دوباره اطلاعیه‌های این ربات را دریافت می‌کنید. برای لغو، /stop را بفرستید.",
    away: "تیم ما اکنون در دسترس نیست و {when} برمی‌گردد. پیام شما را منتقل کردم — همین‌جا پاسخ می‌دهند. تا آن زمان می‌توانم به پرسش‌های شما پاسخ دهم: کافی است بپرسید.",
    away_later: "تیم ما اکنون در دسترس نیست. پیام شما را منتقل کردم — همین‌جا پاسخ می‌دهند. تا آن زمان می‌توانم به پرسش‌های شما پاسخ دهم: کافی است بپرسید.",
    already_waiting: "شما هم‌اکنون منتظر پاسخ یک نفر از {b} هستید — همین‌جا پاسخ می‌دهد.",
    already_waiting_away: "شما هم‌اکنون منتظر پاسخ یک نفر از {b} هستید. تیم ما اکنون در دسترس نیست و {when} برمی‌گردد — آن وقت همین‌جا پاسخ می‌دهند.",
    back_at: "{day} ساعت {time} (به وقت {tz})",
    today: "امروز",
    tomorrow: "فردا",
    on_weekday: "{d}",
    weekdays: ["دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه", "شنبه", "یکشنبه"],
    thanks_reply: "خواهش می‌کنم! اگر سؤال دیگری درباره {b} دارید، کافی است بپرسید.",
    ok_reply: "👍 اگر سؤال دیگری دارید، کافی است بپرسید.",
    bye_reply: "خداحافظ! هر وقت سؤالی درباره {b} داشتید، همین‌جا بنویسید.",
};

const DE: Words = Words {
    welcome: "👋 Hallo! Ich bin der Assistent von {b}. Fragen Sie mich alles über {b} – ich antworte anhand ihrer eigenen Informationen und zeige, woher jede Antwort stammt. Senden Sie jederzeit /human, um mit einem Menschen zu sprechen.",
    help: "Stellen Sie Ihre Frage in eigenen Worten. Ich antworte anhand der Informationen von {b} und zeige, woher die Antwort stammt. Senden Sie /human, um mit einem Menschen zu sprechen.",
    privacy: "Ihre Nachrichten werden nur verwendet, um Ihnen zu antworten und {b} zu helfen, die Antworten zu verbessern. Sie werden nie an andere Unternehmen weitergegeben. Senden Sie /forget, um unser Gespräch zu löschen.",
    paysupport: "Für Hilfe bei einer Zahlung senden Sie /human – eine Person von {b} antwortet Ihnen hier.",
    fallback: "Das tut mir leid – das habe ich in den Informationen von {b} nicht gefunden. Möchten Sie mit einem Menschen sprechen?",
    unavailable: "Ich kann gerade keine Fragen beantworten. Möchten Sie mit einer Person von {b} sprechen?",
    handoff: "Ich habe eine Person von {b} gebeten, Ihnen zu helfen. Sie bekommen die Antwort hier.",
    talk_to_person: "🙋 Mit einem Menschen sprechen",
    person: "🙋 Mensch",
    sources: "Quellen",
    feedback_failed: "Entschuldigung, das konnte ich nicht speichern.",
    feedback_up: "Danke! Schön, dass es geholfen hat.",
    feedback_down: "Danke – wir nutzen das, um besser zu werden. Senden Sie /human, um mit einem Menschen zu sprechen.",
    media: "Ich kann nur Textnachrichten lesen, deshalb habe ich das an eine Person von {b} weitergegeben – Sie bekommen die Antwort hier. Wenn Sie eine Frage haben, können Sie sie auch eintippen.",
    text_only: "Ich kann nur Textnachrichten lesen.",
    paused: "Der Assistent von {b} macht gerade eine kurze Pause und antwortet im Moment nicht. Bitte versuchen Sie es später noch einmal.",
    forget_ask: "Unser Gespräch löschen? Alles, was Sie mir geschrieben haben, und meine Antworten werden aus den Unterlagen von {b} gelöscht. Das lässt sich nicht rückgängig machen.",
    forget_yes: "🗑 Ja, löschen",
    forget_no: "Behalten",
    forget_done: "Erledigt – unser Gespräch wurde aus den Unterlagen von {b} gelöscht. Wenn Sie wieder schreiben, fangen wir neu an.",
    forget_kept: "Es wurde nichts gelöscht.",
    forget_private: "Um Ihre Nachrichten zu löschen, senden Sie mir /forget in einem privaten Chat.",
    back_with_assistant: "Danke für Ihre Geduld! Sie sprechen wieder mit dem Assistenten – fragen Sie mich alles, oder senden Sie /human, um wieder einen Menschen zu erreichen.",
    announcement_footer: "Senden Sie /stop, um keine Mitteilungen mehr zu bekommen.",
    handoff_timed_out: "Entschuldigung – leider konnte niemand rechtzeitig antworten. Sie sprechen wieder mit dem Assistenten: Fragen Sie mich alles, oder senden Sie /human, um es später noch einmal bei einem Menschen zu versuchen.",
    person_joined: "Eine Person aus dem Team ist jetzt im Chat und antwortet Ihnen hier. Bis sie Sie wieder an den Assistenten übergibt, gehen Ihre Nachrichten an sie.",
    stop_done: "Erledigt: Sie bekommen keine Mitteilungen mehr von diesem Bot. Fragen können Sie hier weiterhin stellen. Senden Sie /start, um sie wieder zu bekommen.",
    stop_undone: "Sie bekommen wieder die Mitteilungen dieses Bots. Senden Sie /stop, um keine mehr zu bekommen.",
    away: "Unser Team ist gerade nicht da und ist {when} wieder erreichbar. Ich habe Ihre Nachricht weitergegeben – Sie bekommen die Antwort dann hier. Bis dahin beantworte ich gern Ihre Fragen: Fragen Sie einfach.",
    away_later: "Unser Team ist gerade nicht da. Ich habe Ihre Nachricht weitergegeben – Sie bekommen die Antwort hier. Bis dahin beantworte ich gern Ihre Fragen: Fragen Sie einfach.",
    already_waiting: "Sie warten bereits auf eine Person von {b} – Sie bekommen die Antwort hier.",
    already_waiting_away: "Sie warten bereits auf eine Person von {b}. Unser Team ist gerade nicht da und ist {when} wieder erreichbar – Sie bekommen die Antwort dann hier.",
    back_at: "{day} um {time} Uhr (Zeitzone {tz})",
    today: "heute",
    tomorrow: "morgen",
    on_weekday: "am {d}",
    weekdays: ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
    thanks_reply: "Gern geschehen! Wenn Sie noch eine Frage zu {b} haben, fragen Sie einfach.",
    ok_reply: "👍 Wenn Sie noch eine Frage haben, fragen Sie einfach.",
    bye_reply: "Auf Wiedersehen! Schreiben Sie hier jederzeit, wenn Sie eine Frage zu {b} haben.",
};

const FR: Words = Words {
    welcome: "👋 Bonjour ! Je suis l'assistant de {b}. Posez-moi toutes vos questions sur {b} : je réponds à partir de leurs propres informations et je montre d'où vient chaque réponse. Envoyez /human à tout moment pour parler à une personne.",
    help: "Posez votre question avec vos propres mots. Je réponds à partir des informations de {b} et je montre d'où vient la réponse. Envoyez /human pour parler à une personne.",
    privacy: "Vos messages servent uniquement à vous répondre et à aider {b} à améliorer ses réponses. Ils ne sont jamais partagés avec d'autres entreprises. Envoyez /forget pour effacer notre conversation.",
    paysupport: "Pour de l'aide avec un paiement, envoyez /human et une personne de {b} vous répondra ici.",
    fallback: "Désolé, je n'ai pas trouvé cela dans les informations de {b}. Voulez-vous parler à une personne ?",
    unavailable: "Je ne peux pas répondre aux questions pour le moment. Voulez-vous parler à une personne de {b} ?",
    handoff: "J'ai demandé à une personne de {b} de vous aider. Elle vous répondra ici.",
    talk_to_person: "🙋 Parler à une personne",
    person: "🙋 Une personne",
    sources: "Sources",
    feedback_failed: "Désolé, je n'ai pas pu l'enregistrer.",
    feedback_up: "Merci ! Ravi d'avoir pu aider.",
    feedback_down: "Merci, cela nous aidera à nous améliorer. Envoyez /human pour parler à une personne.",
    media: "Je ne peux lire que les messages texte, j'ai donc transmis ceci à une personne de {b} : elle vous répondra ici. Si vous avez une question, vous pouvez aussi l'écrire.",
    text_only: "Je ne peux lire que les messages texte.",
    paused: "L'assistant de {b} fait une courte pause et ne répond pas pour le moment. Merci de réessayer plus tard.",
    forget_ask: "Effacer notre conversation ? Tout ce que vous m'avez écrit et mes réponses seront effacés des données de {b}. C'est définitif.",
    forget_yes: "🗑 Oui, effacer",
    forget_no: "La garder",
    forget_done: "C'est fait : notre conversation a été effacée des données de {b}. Si vous écrivez à nouveau, nous repartons de zéro.",
    forget_kept: "Rien n'a été effacé.",
    forget_private: "Pour effacer vos messages, envoyez-moi /forget dans une conversation privée.",
    back_with_assistant: "Merci de votre patience ! Vous êtes de nouveau avec l'assistant : posez-moi vos questions, ou envoyez /human pour joindre à nouveau une personne.",
    announcement_footer: "Envoyez /stop pour ne plus recevoir d'annonces.",
    handoff_timed_out: "Désolé, personne n'a pu répondre à temps. Vous êtes de nouveau avec l'assistant : posez-moi vos questions, ou envoyez /human pour réessayer plus tard avec une personne.",
    person_joined: "Une personne de l'équipe a rejoint la conversation et vous répondra ici. Jusqu'à ce qu'elle vous rende à l'assistant, vos messages lui sont transmis.",
    stop_done: "C'est fait : vous ne recevrez plus d'annonces de ce bot. Vous pouvez toujours poser vos questions ici. Envoyez /start pour les recevoir à nouveau.",
    stop_undone: "Vous recevrez à nouveau les annonces de ce bot. Envoyez /stop pour ne plus les recevoir.",
    away: "Notre équipe est absente pour le moment et sera de retour {when}. J'ai transmis votre message : on vous répondra ici à ce moment-là. En attendant, je peux répondre à vos questions : il suffit de demander.",
    away_later: "Notre équipe est absente pour le moment. J'ai transmis votre message : on vous répondra ici. En attendant, je peux répondre à vos questions : il suffit de demander.",
    already_waiting: "Vous attendez déjà une personne de {b} : elle vous répondra ici.",
    already_waiting_away: "Vous attendez déjà une personne de {b}. Notre équipe est absente pour le moment et sera de retour {when} : on vous répondra ici à ce moment-là.",
    back_at: "{day} à {time} (heure de {tz})",
    today: "aujourd'hui",
    tomorrow: "demain",
    on_weekday: "{d}",
    weekdays: ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
    thanks_reply: "Avec plaisir ! Si vous avez une autre question sur {b}, n'hésitez pas à demander.",
    ok_reply: "👍 Si vous avez une autre question, n'hésitez pas à demander.",
    bye_reply: "Au revoir ! Écrivez ici quand vous voulez si vous avez une question sur {b}.",
};

const IT: Words = Words {
    welcome: "👋 Ciao! Sono l'assistente di {b}. Chiedimi qualsiasi cosa su {b}: rispondo con le loro informazioni e mostro da dove viene ogni risposta. Invia /human in qualsiasi momento per parlare con una persona.",
    help: "Fammi una domanda con parole tue. Rispondo con le informazioni di {b} e mostro da dove viene la risposta. Invia /human per parlare con una persona.",
    privacy: "I tuoi messaggi servono solo a risponderti e ad aiutare {b} a migliorare le sue risposte. Non vengono mai condivisi con altre aziende. Invia /forget per cancellare la nostra conversazione.",
    paysupport: "Per un aiuto con un pagamento, invia /human e una persona di {b} ti risponderà qui.",
    fallback: "Mi dispiace, non ho trovato questa informazione tra quelle di {b}. Vuoi parlare con una persona?",
    unavailable: "Al momento non posso rispondere alle domande. Vuoi parlare con una persona di {b}?",
    handoff: "Ho chiesto a una persona di {b} di aiutarti. Ti risponderà qui.",
    talk_to_person: "🙋 Parla con una persona",
    person: "🙋 Persona",
    sources: "Fonti",
    feedback_failed: "Mi dispiace, non sono riuscito a registrarlo.",
    feedback_up: "Grazie! Sono contento di esserti stato utile.",
    feedback_down: "Grazie: lo useremo per migliorare. Invia /human per parlare con una persona.",
    media: "Posso leggere solo messaggi di testo, quindi ho passato questo messaggio a una persona di {b}: ti risponderà qui. Se hai una domanda, puoi anche scriverla.",
    text_only: "Posso leggere solo messaggi di testo.",
    paused: "L'assistente di {b} è in una breve pausa e ora non risponde. Riprova più tardi.",
    forget_ask: "Cancellare la nostra conversazione? Tutto quello che mi hai scritto e le mie risposte verranno cancellati dai registri di {b}. Non si può annullare.",
    forget_yes: "🗑 Sì, cancella",
    forget_no: "Tienila",
    forget_done: "Fatto: la nostra conversazione è stata cancellata dai registri di {b}. Se scrivi di nuovo, ricominciamo da zero.",
    forget_kept: "Non è stato cancellato nulla.",
    forget_private: "Per cancellare i tuoi messaggi, inviami /forget in una chat privata.",
    back_with_assistant: "Grazie per la pazienza! Sei di nuovo con l'assistente: chiedimi qualsiasi cosa, oppure invia /human per parlare di nuovo con una persona.",
    announcement_footer: "Invia /stop per non ricevere più annunci.",
    handoff_timed_out: "Ci dispiace: nessuno è riuscito a rispondere in tempo. Sei di nuovo con l'assistente: chiedimi qualsiasi cosa, oppure invia /human per riprovare più tardi con una persona.",
    person_joined: "Una persona del team si è unita alla chat e ti risponderà qui. Finché non ti riporta all'assistente, i tuoi messaggi arrivano a lei.",
    stop_done: "Fatto: non riceverai più annunci da questo bot. Puoi comunque fare domande qui. Invia /start per riceverli di nuovo.",
    stop_undone: "Riceverai di nuovo gli annunci di questo bot. Invia /stop per non riceverli più.",
    away: "Il nostro team ora non è disponibile e torna {when}. Ho passato il tuo messaggio: ti risponderanno qui. Nel frattempo posso rispondere alle tue domande: chiedi pure.",
    away_later: "Il nostro team ora non è disponibile. Ho passato il tuo messaggio: ti risponderanno qui. Nel frattempo posso rispondere alle tue domande: chiedi pure.",
    already_waiting: "Stai già aspettando una persona di {b}: ti risponderà qui.",
    already_waiting_away: "Stai già aspettando una persona di {b}. Il nostro team ora non è disponibile e torna {when}: ti risponderanno qui.",
    back_at: "{day} alle {time} (ora di {tz})",
    today: "oggi",
    tomorrow: "domani",
    on_weekday: "{d}",
    weekdays: ["lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"],
    thanks_reply: "Prego! Se hai un'altra domanda su {b}, chiedi pure.",
    ok_reply: "👍 Se hai un'altra domanda, chiedi pure.",
    bye_reply: "Ciao! Scrivi qui quando vuoi se hai una domanda su {b}.",
};

const PT: Words = Words {
    welcome: "👋 Olá! Sou o assistente de {b}. Pode perguntar o que quiser sobre {b}: respondo com as informações da própria empresa e mostro de onde vem cada resposta. Envie /human a qualquer momento para falar com uma pessoa.",
    help: "Faça a sua pergunta com as suas próprias palavras. Respondo com as informações de {b} e mostro de onde vem a resposta. Envie /human para falar com uma pessoa.",
    privacy: "As suas mensagens são usadas apenas para responder às suas perguntas e ajudar {b} a melhorar as respostas. Nunca são passadas a outras empresas. Envie /forget para apagar a nossa conversa.",
    paysupport: "Para ajuda com um pagamento, envie /human e uma pessoa de {b} vai responder aqui.",
    fallback: "Desculpe, não encontrei isso nas informações de {b}. Quer falar com uma pessoa?",
    unavailable: "Neste momento não consigo responder a perguntas. Quer falar com uma pessoa de {b}?",
    handoff: "Pedi a uma pessoa de {b} para ajudar. Ela vai responder aqui.",
    talk_to_person: "🙋 Falar com uma pessoa",
    person: "🙋 Pessoa",
    sources: "Fontes",
    feedback_failed: "Desculpe, não consegui registrar isso.",
    feedback_up: "Obrigado! Que bom que ajudou.",
    feedback_down: "Obrigado! Vamos usar isto para melhorar. Envie /human para falar com uma pessoa.",
    media: "Só consigo ler mensagens de texto, por isso passei isto a uma pessoa de {b}: ela vai responder aqui. Se tiver uma pergunta, também pode escrevê-la.",
    text_only: "Só consigo ler mensagens de texto.",
    paused: "O assistente de {b} está numa pequena pausa e não responde neste momento. Tente novamente mais tarde.",
    forget_ask: "Apagar a nossa conversa? Tudo o que você me escreveu e as minhas respostas serão apagados dos registros de {b}. Isto não pode ser desfeito.",
    forget_yes: "🗑 Sim, apagar",
    forget_no: "Manter",
    forget_done: "Pronto: a nossa conversa foi apagada dos registros de {b}. Se escrever de novo, começamos do zero.",
    forget_kept: "Nada foi apagado.",
    forget_private: "Para apagar as suas mensagens, envie /forget numa conversa privada comigo.",
    back_with_assistant: "Obrigado pela paciência! Você está de novo com o assistente: pergunte o que quiser ou envie /human para falar de novo com uma pessoa.",
    announcement_footer: "Envie /stop para não receber mais avisos.",
    handoff_timed_out: "Desculpe: ninguém conseguiu responder a tempo. Você está de novo com o assistente: pergunte o que quiser ou envie /human para tentar falar com uma pessoa mais tarde.",
    person_joined: "Uma pessoa da equipe entrou na conversa e vai te responder aqui. Até ela te devolver ao assistente, suas mensagens vão para ela.",
    stop_done: "Pronto: você não vai receber mais avisos deste bot. Pode continuar a fazer perguntas aqui. Envie /start para voltar a recebê-los.",
    stop_undone: "Você vai voltar a receber os avisos deste bot. Envie /stop para deixar de recebê-los.",
    away: "A nossa equipe não está disponível agora e volta {when}. Passei a sua mensagem: vão responder aqui. Até lá, posso responder às suas perguntas: é só perguntar.",
    away_later: "A nossa equipe não está disponível agora. Passei a sua mensagem: vão responder aqui. Até lá, posso responder às suas perguntas: é só perguntar.",
    already_waiting: "Você já está aguardando uma pessoa de {b}: ela vai responder aqui.",
    already_waiting_away: "Você já está aguardando uma pessoa de {b}. A nossa equipe não está disponível agora e volta {when}: vão responder aqui.",
    back_at: "{day} às {time} (hora de {tz})",
    today: "hoje",
    tomorrow: "amanhã",
    on_weekday: "{d}",
    weekdays: ["na segunda-feira", "na terça-feira", "na quarta-feira", "na quinta-feira", "na sexta-feira", "no sábado", "no domingo"],
    thanks_reply: "De nada! Se tiver outra pergunta sobre {b}, é só perguntar.",
    ok_reply: "👍 Se tiver outra pergunta, é só perguntar.",
    bye_reply: "Até logo! Escreva aqui quando quiser se tiver uma pergunta sobre {b}.",
};

impl Lang {
    /// The bot's own words in this language.
    pub fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::Ru => &RU,
            Lang::Es => &ES,
            Lang::Fa => &FA,
            Lang::De => &DE,
            Lang::Fr => &FR,
            Lang::It => &IT,
            Lang::Pt => &PT,
        }
    }
}

/// `template` with the business's name in place of `{b}` — and of `{b}'s`, its English
/// possessive ([`possessive`]).
pub fn fill(template: &str, business: &str) -> String {
    template.replace("{b}'s", &possessive(business)).replace("{b}", business)
}

/// The English possessive of a business's name: "Rosa" → "Rosa's"; a name ending in "s" gets
/// only the apostrophe ("Rosa's Flowers" → "Rosa's Flowers'"); a name that is a possessive
/// already ("Sam's", "McDonald’s") stays as it is, not "Sam's'".
pub fn possessive(name: &str) -> String {
    let lower = name.trim_end().to_lowercase();
    if lower.ends_with("'s") || lower.ends_with("’s") {
        name.trim_end().to_owned()
    } else if lower.ends_with('s') {
        format!("{}'", name.trim_end())
    } else {
        format!("{name}'s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_message_s_small_words_say_its_language() {
        assert_eq!(customer_language(Some("es"), "How much does a cake for twelve people cost?").as_deref(), Some("en"));
        assert_eq!(customer_language(Some("en"), "Wie viel kostet die Torte?").as_deref(), Some("de"));
        assert_eq!(customer_language(Some("en"), "Combien coûte le gâteau ?").as_deref(), Some("fr"));
        // Too little to go by: the app's language.
        assert_eq!(customer_language(Some("es"), "ok").as_deref(), Some("es"));
        assert_eq!(customer_language(Some("pt"), "y para 20?").as_deref(), Some("pt"));
        assert_eq!(small_words_vote("price?"), None);
        // Words of two languages count for neither ("de", "para").
        assert_eq!(small_words_vote("de para"), None);
    }

    #[test]
    fn a_long_message_s_small_words_outweigh_a_wrong_sure_guess() {
        let long = "I would like to know about your croissants. ".repeat(70);
        assert_eq!(customer_language(Some("en"), &long).as_deref(), Some("en"));
        let french = "Bonjour, je voudrais savoir combien coûte le gâteau au chocolat pour douze personnes, et si vous livrez le dimanche. Merci beaucoup !";
        assert_eq!(customer_language(Some("en"), french).as_deref(), Some("fr"));
        let german = "Guten Tag, ich möchte wissen, was die Schokoladentorte für zwölf Personen kostet und ob Sie auch am Sonntag liefern. Vielen Dank!";
        assert_eq!(customer_language(Some("en"), german).as_deref(), Some("de"));
    }

    #[test]
    fn a_message_that_does_not_say_keeps_the_language_the_customer_writes_in() {
        // A Spanish phone, English written: a short message stays English…
        assert_eq!(customer_language(Some("es"), "20?").as_deref(), Some("es"), "alone, it would switch");
        assert_eq!(message_language(Some("es"), &said("20?"), Some("en")).as_deref(), Some("en"));
        assert_eq!(message_language(Some("es"), &said("/help"), Some("en")).as_deref(), Some("en"));
        // …a clear message decides, whatever came before…
        assert_eq!(message_language(Some("en"), &said("¿Cuánto cuesta un pastel de chocolate para doce personas?"), Some("en")).as_deref(), Some("es"));
        assert_eq!(message_language(Some("es"), &said("Сколько стоит торт на двенадцать человек?"), Some("en")).as_deref(), Some("ru"));
        // …and with nothing before, Telegram's language as ever.
        assert_eq!(message_language(Some("es"), &said("20?"), None).as_deref(), Some("es"));
    }

    #[test]
    fn the_message_decides_when_it_is_clear_telegram_otherwise() {
        // A Cyrillic or Persian message, whatever the app's language.
        assert_eq!(customer_language(Some("en"), "Сколько стоит торт на двенадцать человек?").as_deref(), Some("ru"));
        assert_eq!(customer_language(Some("en-US"), "قیمت کیک برای دوازده نفر چقدر است؟").as_deref(), Some("fa"));
        assert_eq!(customer_language(None, "جمعه‌ها باز هستید؟").as_deref(), Some("fa"));
        assert_eq!(customer_language(None, "а доставка?").as_deref(), Some("ru"));
        // A Russian word alone, which an unsure guess took for Ukrainian; Ukrainian letters still
        // say Ukrainian.
        assert_eq!(customer_language(None, "спасибо").as_deref(), Some("ru"));
        assert_eq!(customer_language(Some("en"), "Спасибо!").as_deref(), Some("ru"));
        assert_eq!(customer_language(None, "спасибо большое").as_deref(), Some("ru"));
        assert_eq!(customer_language(None, "Дякую, що відповіли так швидко!").as_deref(), Some("uk"));
        // A clear Spanish message from an English app.
        assert_eq!(customer_language(Some("en"), "¿Cuánto cuesta un pastel de chocolate para doce personas?").as_deref(), Some("es"));
        // Commands and short messages: the app's language.
        assert_eq!(customer_language(Some("es-MX"), "/start").as_deref(), Some("es"));
        assert_eq!(customer_language(Some("fa"), "ok").as_deref(), Some("fa"));
        assert_eq!(customer_language(None, "/start"), None);
        assert_eq!(customer_language(Some("en"), "How much is a cake for twelve people?").as_deref(), Some("en"));
        assert_eq!(Lang::of(Some("es-AR")), Lang::Es);
        assert_eq!(Lang::of(Some("de")), Lang::De);
        assert_eq!(Lang::of(Some("fr-CA")), Lang::Fr);
        assert_eq!(Lang::of(Some("it")), Lang::It);
        assert_eq!(Lang::of(Some("pt-BR")), Lang::Pt);
        assert_eq!(Lang::of(Some("nl")), Lang::En);
        assert_eq!(Lang::of(None), Lang::En);
    }

    const ALL: [Lang; 8] = [Lang::En, Lang::Ru, Lang::Es, Lang::Fa, Lang::De, Lang::Fr, Lang::It, Lang::Pt];

    /// Every text of `w`, named; no `..`, so a new text is checked too.
    fn texts(w: &Words) -> Vec<(&'static str, &'static str)> {
        let Words {
            welcome, help, privacy, paysupport, fallback, unavailable, handoff, talk_to_person, person, sources, feedback_failed, feedback_up,
            feedback_down, media, text_only, paused, forget_ask, forget_yes, forget_no, forget_done, forget_kept, forget_private, back_with_assistant,
            handoff_timed_out, person_joined, announcement_footer, stop_done, stop_undone, away, away_later, already_waiting, already_waiting_away, back_at, today, tomorrow, on_weekday, weekdays: _,
            thanks_reply, ok_reply, bye_reply,
        } = w;
        vec![
            ("welcome", welcome), ("help", help), ("privacy", privacy), ("paysupport", paysupport), ("fallback", fallback), ("unavailable", unavailable),
            ("handoff", handoff), ("talk_to_person", talk_to_person), ("person", person), ("sources", sources), ("feedback_failed", feedback_failed),
            ("feedback_up", feedback_up), ("feedback_down", feedback_down), ("media", media), ("text_only", text_only), ("paused", paused), ("forget_ask", forget_ask),
            ("forget_yes", forget_yes), ("forget_no", forget_no), ("forget_done", forget_done), ("forget_kept", forget_kept), ("forget_private", forget_private),
            ("back_with_assistant", back_with_assistant), ("handoff_timed_out", handoff_timed_out), ("person_joined", person_joined), ("announcement_footer", announcement_footer),
            ("stop_done", stop_done), ("stop_undone", stop_undone), ("away", away), ("away_later", away_later), ("already_waiting", already_waiting),
            ("already_waiting_away", already_waiting_away), ("back_at", back_at), ("today", today),
            ("tomorrow", tomorrow), ("on_weekday", on_weekday), ("thanks_reply", thanks_reply), ("ok_reply", ok_reply), ("bye_reply", bye_reply),
        ]
        .into_iter()
        .map(|(n, t)| (n, *t))
        .collect()
    }

    /// The `{placeholders}` and `/commands` in a text, sorted, each once.
    fn marks(text: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find('{') {
            let end = rest[i..].find('}').map_or(rest.len(), |e| i + e + 1);
            out.push(rest[i..end].to_owned());
            rest = &rest[end..];
        }
        out.extend(text.split(|c: char| !(c.is_alphanumeric() || c == '/')).filter(|w| w.starts_with('/') && w.len() > 1).map(str::to_owned));
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn every_language_has_every_text_with_the_same_placeholders_and_commands() {
        let en = texts(Lang::En.words());
        for lang in ALL {
            let w = lang.words();
            for ((name, text), (_, english)) in texts(w).into_iter().zip(&en) {
                assert!(!text.trim().is_empty(), "{lang:?} {name} is empty");
                assert_eq!(marks(text), marks(english), "{lang:?} {name}: {text:?}");
                assert!(lang == Lang::En || text != *english || name == "sources", "{lang:?} {name} is the English text: {text:?}");
            }
            assert!(w.weekdays.iter().all(|d| !d.trim().is_empty() && !d.contains('{')), "{lang:?}: {:?}", w.weekdays);
            let weekdays: std::collections::HashSet<_> = w.weekdays.iter().collect();
            assert_eq!(weekdays.len(), 7, "{lang:?}: seven different weekdays");
        }
        // The new languages are not English underneath.
        for (lang, fallback, sources) in [
            (Lang::De, "Das tut mir leid – das habe ich in den Informationen von Rosa nicht gefunden.", "Quellen"),
            (Lang::Fr, "Désolé, je n'ai pas trouvé cela dans les informations de Rosa.", "Sources"),
            (Lang::It, "Mi dispiace, non ho trovato questa informazione tra quelle di Rosa.", "Fonti"),
            (Lang::Pt, "Desculpe, não encontrei isso nas informações de Rosa.", "Fontes"),
        ] {
            assert!(fill(lang.words().fallback, "Rosa").starts_with(fallback), "{lang:?}");
            assert_eq!(lang.words().sources, sources, "{lang:?}");
        }
    }
}
