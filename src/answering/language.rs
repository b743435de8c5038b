//! The customer's language, and the bot's own words in it.
//!
//! The language a customer is answered in comes from what they write, and from Telegram's
//! `language_code` (the language of their Telegram app) when the message does not say — a
//! command, "ok", a short Latin-script message that could be English or Spanish
//! ([`customer_language`]). The bot's fixed texts ("I don't know", the buttons, the handoff
//! note, the welcome …) exist in English, Russian, Spanish and Persian ([`Lang`]); other
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
}

impl Lang {
    /// The texts' language for a language code ("ru", "es-MX", "fa"); English otherwise.
    pub fn of(code: Option<&str>) -> Lang {
        match code.map(primary).as_deref() {
            Some("ru") => Lang::Ru,
            Some("es") => Lang::Es,
            Some("fa") => Lang::Fa,
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
    let code = telegram.map(primary).filter(|c| !c.is_empty());
    let text = message.trim();
    let info = if text.starts_with('/') { None } else { DETECTOR.detect(text) };
    let Some(info) = info else { return code };
    let detected = code_of(info.lang()).to_owned();
    let other_script = info.script() != Script::Latin;
    match code {
        None => (info.is_reliable() || other_script).then_some(detected),
        Some(c) => {
            if info.is_reliable() || (other_script && script_of(&c) != Some(info.script())) {
                Some(detected)
            } else {
                Some(c)
            }
        }
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
    stop_done: "Done: you won't get announcements from this bot any more. You can still ask questions here. Send /start to get them again.",
    stop_undone: "You'll get this bot's announcements again. Send /stop to get no more.",
    away: "Our team is away right now and back {when}. I've passed your message on — they'll reply here then. Until then, I can answer your questions: just ask.",
    away_later: "Our team is away right now. I've passed your message on — they'll reply here. Until then, I can answer your questions: just ask.",
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
    stop_done: "Готово: вы больше не будете получать объявления от этого бота. Задавать вопросы здесь можно по-прежнему. Чтобы снова получать их, отправьте /start.",
    stop_undone: "Вы снова будете получать объявления этого бота. Отправьте /stop, чтобы отказаться.",
    away: "Сейчас наша команда не на связи и вернётся {when}. Я передал ваше сообщение — вам ответят здесь. А пока я могу ответить на ваши вопросы: просто спросите.",
    away_later: "Сейчас наша команда не на связи. Я передал ваше сообщение — вам ответят здесь. А пока я могу ответить на ваши вопросы: просто спросите.",
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
    stop_done: "Hecho: ya no recibirás anuncios de este bot. Puedes seguir haciendo preguntas aquí. Envía /start para volver a recibirlos.",
    stop_undone: "Volverás a recibir los anuncios de este bot. Envía /stop para dejar de recibirlos.",
    away: "Nuestro equipo no está disponible ahora y vuelve {when}. He pasado tu mensaje: te responderán aquí. Mientras tanto, puedo responder a tus preguntas: solo pregunta.",
    away_later: "Nuestro equipo no está disponible ahora. He pasado tu mensaje: te responderán aquí. Mientras tanto, puedo responder a tus preguntas: solo pregunta.",
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
    stop_done: "انجام شد: دیگر اطلاعیه‌ای از این ربات دریافت نمی‌کنید. همچنان می‌توانید اینجا سؤال بپرسید. برای دریافت دوباره، /start را بفرستید.",
    stop_undone: "دوباره اطلاعیه‌های این ربات را دریافت می‌کنید. برای لغو، /stop را بفرستید.",
    away: "تیم ما اکنون در دسترس نیست و {when} برمی‌گردد. پیام شما را منتقل کردم — همین‌جا پاسخ می‌دهند. تا آن زمان می‌توانم به پرسش‌های شما پاسخ دهم: کافی است بپرسید.",
    away_later: "تیم ما اکنون در دسترس نیست. پیام شما را منتقل کردم — همین‌جا پاسخ می‌دهند. تا آن زمان می‌توانم به پرسش‌های شما پاسخ دهم: کافی است بپرسید.",
    back_at: "{day} ساعت {time} (به وقت {tz})",
    today: "امروز",
    tomorrow: "فردا",
    on_weekday: "{d}",
    weekdays: ["دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه", "شنبه", "یکشنبه"],
    thanks_reply: "خواهش می‌کنم! اگر سؤال دیگری درباره {b} دارید، کافی است بپرسید.",
    ok_reply: "👍 اگر سؤال دیگری دارید، کافی است بپرسید.",
    bye_reply: "خداحافظ! هر وقت سؤالی درباره {b} داشتید، همین‌جا بنویسید.",
};

impl Lang {
    /// The bot's own words in this language.
    pub fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::Ru => &RU,
            Lang::Es => &ES,
            Lang::Fa => &FA,
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
    fn the_message_decides_when_it_is_clear_telegram_otherwise() {
        // A Cyrillic or Persian message, whatever the app's language.
        assert_eq!(customer_language(Some("en"), "Сколько стоит торт на двенадцать человек?").as_deref(), Some("ru"));
        assert_eq!(customer_language(Some("en-US"), "قیمت کیک برای دوازده نفر چقدر است؟").as_deref(), Some("fa"));
        assert_eq!(customer_language(None, "جمعه‌ها باز هستید؟").as_deref(), Some("fa"));
        assert_eq!(customer_language(None, "а доставка?").as_deref(), Some("ru"));
        // A clear Spanish message from an English app.
        assert_eq!(customer_language(Some("en"), "¿Cuánto cuesta un pastel de chocolate para doce personas?").as_deref(), Some("es"));
        // Commands and short messages: the app's language.
        assert_eq!(customer_language(Some("es-MX"), "/start").as_deref(), Some("es"));
        assert_eq!(customer_language(Some("fa"), "ok").as_deref(), Some("fa"));
        assert_eq!(customer_language(None, "/start"), None);
        assert_eq!(customer_language(Some("en"), "How much is a cake for twelve people?").as_deref(), Some("en"));
        assert_eq!(Lang::of(Some("es-AR")), Lang::Es);
        assert_eq!(Lang::of(Some("de")), Lang::En);
    }
}
