//! Text analysis for BM25 (and the lexical side of sentence selection): words → terms, the same
//! function for documents and queries, in the languages a business's customers write.
//!
//! Each word is analysed by its script:
//! - **Cyrillic** → `ё` folded to `е`, the Snowball Russian stop words dropped, the Snowball
//!   Russian stemmer ("торта", "тортов" → "торт").
//! - **Arabic script** (Persian, and Arabic alike) → normalised first, over the whole text:
//!   Arabic letter forms folded to the Persian ones (ي ى → ی, ك → ک, ة → ه, أ إ ٱ → ا, ؤ → و),
//!   vowel marks and tatweel removed, Persian and Arabic-Indic digits → ASCII digits ("۴۵" finds
//!   "45"), the zero-width non-joiner a word break ("جمعه‌ها" → "جمعه" + the plural "ها", a stop
//!   word); then Persian stop words dropped and a light suffix stemmer (plural ها / های / هایی).
//! - **Latin script** → the text's language: English unless whatlang (restricted to English and
//!   Spanish) says reliably that the text is Spanish (a short English text can look Spanish). English: English stop words, Snowball English (Porter2)
//!   — exactly the analysis bellhop always had, so English figures stay as they were. Spanish:
//!   Spanish stop words (accents ignored: "qué" = "que"), Snowball Spanish ("pasteles", "pastel"
//!   → "pastel"; it drops acute accents from the stem, but a word typed without its accent can
//!   still stem differently: "informacion" is not "información").
//!
//! A document is analysed in its own detected language (Spanish only when whatlang is sure). A
//! short query may not say which language it is in, so a query that is surely Spanish, or is
//! written with Spanish's marks (ñ ¿ ¡ á é í ó ú), gets both Latin analyses of each word (a word
//! whose two stems agree counts once; a stop word of either language is left out): it then finds
//! Spanish chunks analysed as Spanish and short ones analysed as English. Any other query is
//! analysed exactly as before (on the English eval sets every document, and all queries but one
//! of SciFact's 809, get the same terms as before).
//!
//! Digits and other scripts pass through lower-cased (Latin analysis; the stemmers leave them).
use rust_stemmers::{Algorithm, Stemmer};
use std::sync::LazyLock;
use whatlang::{Detector, Lang};

/// The language Latin-script words of a text are analysed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latin {
    English,
    Spanish,
}

struct Stemmers {
    en: Stemmer,
    es: Stemmer,
    ru: Stemmer,
    latin: Detector,
}

static STEMMERS: LazyLock<Stemmers> = LazyLock::new(|| Stemmers {
    en: Stemmer::create(Algorithm::English),
    es: Stemmer::create(Algorithm::Spanish),
    ru: Stemmer::create(Algorithm::Russian),
    latin: Detector::with_allowlist(vec![Lang::Eng, Lang::Spa]),
});

/// The language of a text's Latin-script words, and whether the detection is reliable.
pub fn latin_language(text: &str) -> (Latin, bool) {
    match STEMMERS.latin.detect(text) {
        Some(info) if info.lang() == Lang::Spa => (Latin::Spanish, info.is_reliable()),
        Some(info) => (Latin::English, info.is_reliable()),
        None => (Latin::English, false),
    }
}

/// The analysed terms of a document's `text`, in order.
pub fn document_terms(text: &str) -> Vec<String> {
    let text = normalize(text);
    // Spanish only when clearly so: a short English text can look Spanish ("I don't qualify").
    let latin = match latin_language(&text) {
        (Latin::Spanish, true) => Latin::Spanish,
        _ => Latin::English,
    };
    let mut out = Vec::new();
    for_each_word(&text, |w| {
        if let Some(t) = analyse(w, latin) {
            out.push(t);
        }
    });
    out
}

/// The analysed terms of a query's `text`, in order: each word's term, and — when the query is
/// surely Spanish or has Spanish's marks — its term in the other Latin analysis too when that one differs (a stop word of
/// either language is then left out).
pub fn query_terms(text: &str) -> Vec<String> {
    let text = normalize(text);
    let (latin, sure) = latin_language(&text);
    // Surely Spanish, or written with Spanish's marks: both analyses. Otherwise English alone,
    // as always (an English query can look Spanish to whatlang: "Tirasemtiv targets cardiac
    // muscle.").
    let both = (latin == Latin::Spanish && sure) || text.contains(['ñ', 'Ñ', '¿', '¡', 'á', 'é', 'í', 'ó', 'ú']);
    let latin = if both { latin } else { Latin::English };
    let mut out = Vec::new();
    for_each_word(&text, |w| {
        let first = analyse(w, latin);
        if both && script(w) == Script::Latin {
            // A stop word in either language is left out; otherwise both stems, once if equal.
            let other = analyse(w, if latin == Latin::English { Latin::Spanish } else { Latin::English });
            if let (Some(first), Some(other)) = (first, other) {
                if other != first {
                    out.push(other);
                }
                out.push(first);
            }
        } else {
            out.extend(first);
        }
    });
    out
}

/// Arabic-script normalisation (letter forms, marks, digits) and ZWNJ as a word break; every
/// other character as it is.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'ي' | 'ى' | 'ئ' => out.push('ی'),
            'ك' => out.push('ک'),
            'ة' => out.push('ه'),
            'أ' | 'إ' | 'ٱ' => out.push('ا'),
            'ؤ' => out.push('و'),
            // Vowel marks (harakat, hamza above/below, superscript alef) and tatweel.
            '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0640}' => {}
            '۰'..='۹' => out.push(char::from(b'0' + (c as u32 - '۰' as u32) as u8)),
            '٠'..='٩' => out.push(char::from(b'0' + (c as u32 - '٠' as u32) as u8)),
            '\u{200C}' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Calls `f` with each lower-cased word part (apostrophes and possessives split as English
/// needs: "owner's" → "owner"; "don't" → "don", "t").
fn for_each_word(text: &str, mut f: impl FnMut(&str)) {
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’')) {
        let lower = word.to_lowercase().replace('’', "'");
        let lower = lower.strip_suffix("'s").unwrap_or(&lower);
        for part in lower.split('\'') {
            if !part.is_empty() {
                f(part);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Arabic,
}

/// A word's script, by its first letter (Latin stands for everything neither Cyrillic nor Arabic).
fn script(w: &str) -> Script {
    match w.chars().find(|c| c.is_alphabetic()) {
        Some('\u{0400}'..='\u{052F}') => Script::Cyrillic,
        Some('\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}') => Script::Arabic,
        _ => Script::Latin,
    }
}

/// The term of one lower-cased word (`None`: a stop word).
pub fn analyse(w: &str, latin: Latin) -> Option<String> {
    let s = &*STEMMERS;
    match script(w) {
        Script::Cyrillic => {
            let w = w.replace('ё', "е");
            (!RU_STOP.contains(&w.as_str())).then(|| s.ru.stem(&w).into_owned())
        }
        Script::Arabic => (!FA_STOP.contains(&w)).then(|| persian_stem(w).to_owned()),
        Script::Latin => match latin {
            Latin::English => (!is_english_stop_word(w)).then(|| s.en.stem(w).into_owned()),
            Latin::Spanish => (!ES_STOP.contains(&fold_accents(w).as_str())).then(|| s.es.stem(w).into_owned()),
        },
    }
}

/// A word's term for comparing sentences (sentence selection): a Cyrillic or Arabic-script word
/// as [`analyse`] makes it (`Some(None)`: a stop word); `None` for other words, which the caller
/// stems as it always did. The word may hold a zero-width non-joiner ("جمعه‌ها" is one word).
pub fn non_latin_term(w: &str) -> Option<Option<String>> {
    match script(w) {
        Script::Latin => None,
        Script::Cyrillic => Some(analyse(&w.to_lowercase(), Latin::English)),
        Script::Arabic => Some(analyse(&normalize(w).replace(' ', ""), Latin::English)),
    }
}

/// Whether most of a text's letters are Cyrillic or Arabic script.
pub fn mostly_non_latin(text: &str) -> bool {
    let (mut other, mut all) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        all += 1;
        if script(c.encode_utf8(&mut [0; 4])) != Script::Latin {
            other += 1;
        }
    }
    other * 2 > all
}

/// Light Persian stemming: the plural suffixes ها / های / هایی, when a stem of two letters or
/// more is left (the zero-width non-joiner before them is already a word break).
fn persian_stem(w: &str) -> &str {
    for suffix in ["هایی", "های", "ها"] {
        if let Some(stem) = w.strip_suffix(suffix)
            && stem.chars().count() >= 2
        {
            return stem;
        }
    }
    w
}

fn fold_accents(w: &str) -> String {
    w.chars()
        .map(|c| match c {
            'á' => 'a',
            'é' => 'e',
            'í' => 'i',
            'ó' => 'o',
            'ú' | 'ü' => 'u',
            _ => c,
        })
        .collect()
}

/// English stop words: the Snowball project's list
/// (<https://snowballstem.org/algorithms/english/stop.txt>), apostrophes split as the words are.
pub fn is_english_stop_word(w: &str) -> bool {
    EN_STOP.binary_search(&w).is_ok()
}

const EN_STOP: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before",
    "being", "below", "between", "both", "but", "by", "can", "cannot", "could", "d", "did", "do", "does", "doing", "don", "down", "during", "each",
    "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i",
    "if", "in", "into", "is", "it", "its", "itself", "ll", "m", "me", "more", "most", "my", "myself", "no", "nor", "not", "of", "off", "on", "once",
    "only", "or", "other", "ought", "our", "ours", "ourselves", "out", "over", "own", "re", "s", "same", "she", "should", "so", "some", "such", "t",
    "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too",
    "under", "until", "up", "ve", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with",
    "would", "you", "your", "yours", "yourself", "yourselves",
];

/// Spanish stop words: the Snowball project's list
/// (<https://snowballstem.org/algorithms/spanish/stop.txt>), its forms of "estar", "haber", "ser"
/// and "tener" shortened to the common ones; accents folded.
const ES_STOP: &[&str] = &[
    "de", "la", "que", "el", "en", "y", "a", "los", "del", "se", "las", "por", "un", "para", "con", "no", "una", "su", "al", "lo", "como", "mas",
    "pero", "sus", "le", "ya", "o", "este", "si", "porque", "esta", "entre", "cuando", "muy", "sin", "sobre", "tambien", "me", "hasta", "hay",
    "donde", "quien", "desde", "todo", "nos", "durante", "todos", "uno", "les", "ni", "contra", "otros", "ese", "eso", "ante", "ellos", "e",
    "esto", "mi", "antes", "algunos", "que", "unos", "yo", "otro", "otras", "otra", "el", "tanto", "esa", "estos", "mucho", "quienes", "nada",
    "muchos", "cual", "poco", "ella", "estar", "estas", "algunas", "algo", "nosotros", "mis", "tu", "te", "ti", "tus", "ellas", "nosotras",
    "vosotros", "vosotras", "os", "mio", "mia", "mios", "mias", "tuyo", "tuya", "tuyos", "tuyas", "suyo", "suya", "suyos", "suyas", "nuestro",
    "nuestra", "nuestros", "nuestras", "vuestro", "vuestra", "vuestros", "vuestras", "esos", "esas", "estoy", "estas", "esta", "estamos", "estan",
    "este", "estan", "he", "has", "ha", "hemos", "han", "soy", "eres", "es", "somos", "son", "sea", "era", "fue", "ser", "tengo", "tiene",
    "tienen", "tenemos", "tienes", "tener", "usted", "ustedes",
];

/// Russian stop words: the Snowball project's list
/// (<https://snowballstem.org/algorithms/russian/stop.txt>), `ё` written `е`.
const RU_STOP: &[&str] = &[
    "и", "в", "во", "не", "что", "он", "на", "я", "с", "со", "как", "а", "то", "все", "она", "так", "его", "но", "да", "ты", "к", "у", "же", "вы",
    "за", "бы", "по", "только", "ее", "мне", "было", "вот", "от", "меня", "еще", "нет", "о", "из", "ему", "теперь", "когда", "даже", "ну", "вдруг",
    "ли", "если", "уже", "или", "ни", "быть", "был", "него", "до", "вас", "нибудь", "опять", "уж", "вам", "ведь", "там", "потом", "себя", "ничего",
    "ей", "может", "они", "тут", "где", "есть", "надо", "ней", "для", "мы", "тебя", "их", "чем", "была", "сам", "чтоб", "без", "будто", "чего",
    "раз", "тоже", "себе", "под", "будет", "ж", "тогда", "кто", "этот", "того", "потому", "этого", "какой", "совсем", "ним", "здесь", "этом",
    "один", "почти", "мой", "тем", "чтобы", "нее", "сейчас", "были", "куда", "зачем", "всех", "никогда", "можно", "при", "наконец", "два", "об",
    "другой", "хоть", "после", "над", "больше", "тот", "через", "эти", "нас", "про", "всего", "них", "какая", "много", "разве", "три", "эту",
    "моя", "впрочем", "хорошо", "свою", "этой", "перед", "иногда", "лучше", "чуть", "том", "нельзя", "такой", "им", "более", "всегда", "конечно",
    "всю", "между",
];

/// Persian stop words: common function words (prepositions, conjunctions, pronouns, the copula,
/// plural and verbal particles split off at the zero-width non-joiner), after normalisation.
const FA_STOP: &[&str] = &[
    "و", "در", "به", "از", "که", "این", "آن", "را", "با", "برای", "تا", "یا", "هم", "اما", "اگر", "بر", "ها", "های", "هایی", "ای", "ی", "می",
    "نمی", "است", "هست", "هستند", "هستیم", "هستید", "بود", "شد", "شود", "میشود", "کرد", "کند", "ما", "من", "شما", "او", "ایشان", "آنها", "اینها",
    "خود", "چه", "چی", "آیا", "هر", "همه", "نیز", "پس", "یک", "دیگر", "باید", "ولی", "چون", "تنها", "اند", "ام", "ایم", "اید", "کنید", "دارد",
    "دارید", "داریم",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_stop_word_list_is_sorted_for_binary_search() {
        assert!(EN_STOP.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn russian_inflections_share_a_term() {
        assert_eq!(document_terms("Торт"), document_terms("торта"));
        assert_eq!(document_terms("торт"), vec!["торт"]);
        assert_eq!(query_terms("а сколько стоит торт?"), vec!["скольк", "сто", "торт"], "the stop word «а» dropped");
        assert_eq!(document_terms("Торты стоят"), vec!["торт", "сто"]);
        assert_eq!(document_terms("ещё"), document_terms("еще"));
    }

    #[test]
    fn spanish_plurals_accents_and_stop_words() {
        let doc = document_terms("Los pasteles de chocolate para doce personas cuestan 45 euros.");
        assert!(doc.contains(&"pastel".to_owned()) && !doc.iter().any(|t| t == "los" || t == "de" || t == "para"), "{doc:?}");
        let q = query_terms("¿Cuánto cuesta un pastel?");
        assert!(q.contains(&"pastel".to_owned()), "{q:?}");
        assert!(q.iter().any(|t| t == "cuest" || t == "cuesta") && !q.contains(&"un".to_owned()), "{q:?}");
        assert_eq!(document_terms("Los pasteles de la pastelería"), document_terms("el pastel de las pastelerías"));
    }

    #[test]
    fn persian_letter_variants_zwnj_and_digits() {
        // Arabic yeh and kaf, as keyboards and converted documents often write them.
        assert_eq!(document_terms("کیک"), document_terms("كيك"));
        assert_eq!(document_terms("قیمت کیک ۴۵ یورو"), document_terms("قيمت كيك 45 يورو"));
        assert_eq!(document_terms("جمعه‌ها"), vec!["جمعه"]);
        assert_eq!(document_terms("جمعهها"), vec!["جمعه"]);
        assert_eq!(document_terms("جمعه ها"), vec!["جمعه"]);
        assert_eq!(document_terms("کِیک"), vec!["کیک"], "vowel marks ignored");
    }

    #[test]
    fn sentence_terms_of_non_latin_words() {
        assert_eq!(non_latin_term("Торта"), Some(Some("торт".to_owned())));
        assert_eq!(non_latin_term("для"), Some(None));
        assert_eq!(non_latin_term("جمعه‌ها"), Some(Some("جمعه".to_owned())));
        assert_eq!(non_latin_term("cakes"), None);
    }

    #[test]
    fn an_english_query_is_analysed_as_before() {
        let q = "What is the cancellation policy for cake orders?";
        assert_eq!(latin_language(q), (Latin::English, true));
        assert_eq!(query_terms(q), document_terms(q));
    }
}

#[cfg(test)]
mod english_unchanged {
    use super::*;

    /// The analysis before languages: every word English.
    fn old_terms(text: &str) -> Vec<String> {
        let en = Stemmer::create(Algorithm::English);
        let mut out = Vec::new();
        for word in text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’')) {
            let lower = word.to_lowercase().replace('’', "'");
            let lower = lower.strip_suffix("'s").unwrap_or(&lower);
            for part in lower.split('\'') {
                if part.is_empty() || is_english_stop_word(part) {
                    continue;
                }
                out.push(en.stem(part).into_owned());
            }
        }
        out
    }

    /// On the English eval sets (`data/eval`): `scripts/test.sh` runs it once; by hand,
    /// `cargo test --lib eval_sets_are_analysed_as_before -- --ignored --nocapture` (30 s).
    #[test]
    #[ignore = "reads the whole eval sets (30 s): the README's test command runs it once"]
    fn eval_sets_are_analysed_as_before() {
        for (corpus, queries) in [("data/eval/orsharc/corpus.jsonl", "data/eval/orsharc/dev.queries.jsonl"), ("data/eval/scifact/corpus.jsonl", "data/eval/scifact/train.queries.jsonl")] {
            let (mut docs, mut changed_docs, mut qs, mut changed_qs) = (0, 0, 0, 0);
            for line in std::fs::read_to_string(corpus).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let text = format!("{} {}", v["title"].as_str().unwrap_or(""), v["text"].as_str().unwrap_or(""));
                docs += 1;
                if document_terms(&text) != old_terms(&text) {
                    changed_docs += 1;
                    eprintln!("doc changed: {}", &text.chars().take(120).collect::<String>());
                }
            }
            for line in std::fs::read_to_string(queries).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let text = v["text"].as_str().unwrap_or("");
                qs += 1;
                if query_terms(text) != old_terms(text) {
                    changed_qs += 1;
                    eprintln!("query changed: {text} {:?} {:?}", query_terms(text), old_terms(text));
                }
            }
            eprintln!("{corpus}: {changed_docs} of {docs} documents and {changed_qs} of {qs} queries analysed differently");
            assert_eq!(changed_docs, 0, "{corpus}: English documents keep their terms");
            assert!(changed_qs * 200 < qs, "{corpus}: at most 0.5 % of English queries get Spanish stems beside their English ones");
        }
    }
}
