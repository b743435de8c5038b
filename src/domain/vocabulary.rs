//! Number words, weekdays and months in the languages customers write in: what the answer
//! verifier compares as values, and what tells two otherwise alike questions apart ("open on
//! Sunday?" / "open on Monday?").
use std::collections::BTreeSet;

/// Number words as digits ("twelve" → 12, "a dozen" → 12).
pub const NUMBER_WORDS: &[(&str, &str)] = &[
    ("two", "2"), ("three", "3"), ("four", "4"), ("five", "5"), ("six", "6"), ("seven", "7"), ("eight", "8"), ("nine", "9"), ("ten", "10"),
    ("eleven", "11"), ("twelve", "12"), ("thirteen", "13"), ("fourteen", "14"), ("fifteen", "15"), ("sixteen", "16"), ("seventeen", "17"),
    ("eighteen", "18"), ("nineteen", "19"), ("twenty", "20"), ("thirty", "30"), ("forty", "40"), ("fifty", "50"), ("sixty", "60"),
    ("seventy", "70"), ("eighty", "80"), ("ninety", "90"), ("hundred", "100"), ("thousand", "1000"), ("million", "1000000"), ("billion", "1000000000"),
    ("dozen", "12"), ("half", "50%"),
];
pub const CALENDAR: &[&str] = &[
    "january", "february", "march", "april", "june", "july", "august", "september", "october", "november", "december",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
];

/// Weekdays and months in the other languages customers write in (`answering::language`), with
/// their common inflections, each as its English name: an answer in Spanish that says "domingo"
/// needs a source that says Sunday in some language. Words that are also ordinary words are left
/// out: Spanish "mayo" (mayonnaise), Portuguese "segunda" … without "-feira" ("second"), French
/// "mars" when capitalised (the planet, the bar). Lower case is enough: these languages write
/// them in lower case, and German's capitals are folded.
pub const CALENDAR_ELSEWHERE: &[(&str, &[&str])] = &[
    ("monday", &["lunes", "lundi", "lundis", "lunedì", "lunedi", "montag", "montags", "понедельник", "понедельника", "понедельникам", "понедельники", "понедельнике"]),
    ("tuesday", &["martes", "mardi", "mardis", "martedì", "martedi", "dienstag", "dienstags", "вторник", "вторника", "вторникам", "вторники", "вторнике"]),
    ("wednesday", &["miércoles", "miercoles", "mercredi", "mercredis", "mercoledì", "mercoledi", "mittwoch", "mittwochs", "среда", "среду", "среды", "средам", "среде", "средой"]),
    ("thursday", &["jueves", "jeudi", "jeudis", "giovedì", "giovedi", "donnerstag", "donnerstags", "четверг", "четверга", "четвергам", "четверги", "четверге"]),
    ("friday", &["viernes", "vendredi", "vendredis", "venerdì", "venerdi", "freitag", "freitags", "пятница", "пятницу", "пятницы", "пятницам", "пятнице", "пятницей"]),
    ("saturday", &["sábado", "sábados", "sabado", "sabados", "samedi", "samedis", "sabato", "samstag", "samstags", "sonnabend", "суббота", "субботу", "субботы", "субботам", "субботе", "субботой"]),
    ("sunday", &["domingo", "domingos", "dimanche", "dimanches", "domenica", "domeniche", "sonntag", "sonntags", "воскресенье", "воскресенья", "воскресеньям", "воскресеньем"]),
    ("january", &["enero", "janvier", "gennaio", "januar", "janeiro", "январь", "января", "январе"]),
    ("february", &["febrero", "février", "fevrier", "febbraio", "februar", "fevereiro", "февраль", "февраля", "феврале"]),
    ("march", &["marzo", "märz", "maerz", "março", "marco", "март", "марта", "марте"]),
    ("april", &["abril", "avril", "aprile", "апрель", "апреля", "апреле"]),
    ("may", &["mai", "maggio", "maio", "май", "мая", "мае"]),
    ("june", &["junio", "juin", "giugno", "juni", "junho", "июнь", "июня", "июне"]),
    ("july", &["julio", "juillet", "luglio", "juli", "julho", "июль", "июля", "июле"]),
    ("august", &["agosto", "août", "aout", "август", "августа", "августе"]),
    ("september", &["septiembre", "setiembre", "septembre", "settembre", "setembro", "сентябрь", "сентября", "сентябре"]),
    ("october", &["octubre", "octobre", "ottobre", "oktober", "outubro", "октябрь", "октября", "октябре"]),
    ("november", &["noviembre", "novembre", "novembro", "ноябрь", "ноября", "ноябре"]),
    ("december", &["diciembre", "décembre", "decembre", "dicembre", "dezember", "dezembro", "декабрь", "декабря", "декабре"]),
];

/// The values a question turns on that an embedding barely sees: its numbers (digits or number
/// words) and the weekdays and months it names, each in one form ("12", "sunday"). "Are you open
/// on Sunday?" and "… on Monday?" are nearly the same sentence to a model, and different
/// questions. English months are months only when capitalised ("may I …", "march").
pub fn specifics(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for w in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let l = w.to_lowercase();
        if l.chars().all(|c| c.is_ascii_digit()) {
            found.insert(l.trim_start_matches('0').to_owned());
        } else if let Some((_, n)) = NUMBER_WORDS.iter().find(|(word, _)| *word == l) {
            found.insert((*n).to_owned());
        } else if let Some(day) = CALENDAR.iter().find(|c| {
            let singular = l.trim_end_matches('s');
            **c == singular && (w.starts_with(char::is_uppercase) || c.ends_with("day"))
        }) {
            found.insert((*day).to_owned());
        } else if let Some((name, _)) = CALENDAR_ELSEWHERE.iter().find(|(_, forms)| forms.contains(&l.as_str())) {
            found.insert((*name).to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::specifics;

    #[test]
    fn questions_alike_but_for_a_day_or_a_number_have_different_specifics() {
        assert_eq!(specifics("Are you open on Sunday?"), specifics("are you open sundays"));
        assert_ne!(specifics("Are you open on Sunday?"), specifics("Are you open on Monday?"));
        assert_ne!(specifics("How much is a cake for 12 people?"), specifics("How much is a cake for 20 people?"));
        assert_eq!(specifics("A cake for twelve people?"), specifics("a cake for 12 people"));
        assert_eq!(specifics("¿Abren el domingo?"), specifics("Open on Sunday?"));
        assert!(specifics("May I pay by card in march?").is_empty());
        assert_eq!(specifics("Are you open in June?").len(), 1);
    }
}
