//! Checks bellhop's Bot API types against the reference (`bot-api.json`, see [`reference_path`],
//! Bot API 10.1): every method bellhop calls exists; every field a request or object can carry
//! exists in the reference; every field the reference marks required is required in Rust (it
//! cannot be left out of a request).
use bellhop_telegram::methods::{self, Method};
use bellhop_telegram::*;
use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Where the Bot API reference is read from: `BELLHOP_BOT_API_JSON` if set, else the
/// repository's `data/telegram/bot-api.json` (data/README.md: source and licence). The one place
/// that knows the path.
pub fn reference_path() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("BELLHOP_BOT_API_JSON") {
        return p.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/telegram/bot-api.json")
}

pub fn reference() -> Value {
    let path = reference_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading the Bot API reference ({}): {e}; set BELLHOP_BOT_API_JSON", path.display()));
    serde_json::from_str(&text).expect("bot-api.json is JSON")
}

/// A deserializer that only records the field names a struct asks for.
struct FieldNames;

#[derive(Debug)]
struct Captured(Vec<&'static str>);
impl std::fmt::Display for Captured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
impl std::error::Error for Captured {}
impl de::Error for Captured {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Captured(vec![])
    }
}

impl<'de> de::Deserializer<'de> for FieldNames {
    type Error = Captured;
    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Captured> {
        Err(Captured(vec![]))
    }
    fn deserialize_struct<V: Visitor<'de>>(self, _: &'static str, fields: &'static [&'static str], _: V) -> Result<V::Value, Captured> {
        Err(Captured(fields.to_vec()))
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

fn rust_fields<T: DeserializeOwned>() -> BTreeSet<String> {
    match T::deserialize(FieldNames) {
        Err(Captured(f)) => f.into_iter().map(str::to_owned).collect(),
        Ok(_) => unreachable!(),
    }
}

fn sample(reference: &Value, types: &[Value], owner: &str, field: &str) -> Value {
    let t = types[0].as_str().unwrap_or("");
    match (owner, field, t) {
        ("TransactionPartnerUser", "type", _) => json!("user"),
        (_, _, "Integer") => json!(1),
        (_, _, "String") => json!("x"),
        (_, _, "Boolean") => json!(true),
        (_, _, "Float") => json!(1.0),
        (_, _, t) if t.starts_with("Array of") => json!([]),
        (_, _, "InputProfilePhoto") => json!({"type": "static", "photo": "attach://p"}),
        (_, _, t) => required_object(reference, &reference["types"][t], t, None),
    }
}

fn required_object(reference: &Value, spec: &Value, owner: &str, without: Option<&str>) -> Value {
    let mut obj = serde_json::Map::new();
    for f in spec["fields"].as_array().into_iter().flatten() {
        let name = f["name"].as_str().unwrap_or_default();
        if f["required"] == json!(true) && Some(name) != without {
            obj.insert(name.to_owned(), sample(reference, f["types"].as_array().map(Vec::as_slice).unwrap_or(&[]), owner, name));
        }
    }
    Value::Object(obj)
}

/// Fields where Rust is deliberately stricter than the reference.
const STRICTER: &[&str] = &[
    // bellhop never sends `rich_message`, so `text` is what an edit is about.
    "editMessageText.text",
];

/// Checks one Rust type against the reference's entry `spec` named `name`.
fn check<T: DeserializeOwned>(reference: &Value, spec: &Value, name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if spec.is_null() {
        return vec![format!("{name} is not in the Bot API reference")];
    }
    let known: BTreeSet<String> = spec["fields"].as_array().into_iter().flatten().filter_map(|f| f["name"].as_str().map(str::to_owned)).collect();
    for f in rust_fields::<T>() {
        if !known.contains(&f) {
            problems.push(format!("{name}.{f} is not in the reference"));
        }
    }
    let full = required_object(reference, spec, name, None);
    let stricter: Vec<&str> = STRICTER.iter().filter_map(|s| s.strip_prefix(&format!("{name}."))).collect();
    let mut full_with_stricter = full.clone();
    for s in &stricter {
        full_with_stricter[*s] = json!("x");
    }
    if let Err(e) = serde_json::from_value::<T>(full_with_stricter.clone()) {
        problems.push(format!("{name}: a value with only the reference's required fields is refused: {e}"));
    }
    for f in spec["fields"].as_array().into_iter().flatten().filter(|f| f["required"] == json!(true)) {
        let field = f["name"].as_str().unwrap_or_default();
        let mut without = full_with_stricter.clone();
        without.as_object_mut().map(|o| o.remove(field));
        if serde_json::from_value::<T>(without).is_ok() {
            problems.push(format!("{name}.{field} is required by the reference but optional in Rust"));
        }
    }
    problems
}

fn check_method<M: Method + DeserializeOwned>(reference: &Value) -> Vec<String> {
    check::<M>(reference, &reference["methods"][M::NAME], M::NAME)
}

fn check_type<T: DeserializeOwned>(reference: &Value, name: &str) -> Vec<String> {
    check::<T>(reference, &reference["types"][name], name)
}

/// Calls `$then!` with every request type bellhop has, in `ALL_METHODS` order.
macro_rules! every_method {
    ($then:ident) => {
        $then!(
            GetMe, SetWebhook, DeleteWebhook, GetWebhookInfo, GetUpdates, LogOut, Close, GetManagedBotToken,
            ReplaceManagedBotToken, SavePreparedKeyboardButton, SetChatMenuButton, GetManagedBotAccessSettings,
            SetManagedBotAccessSettings, SetMyCommands, SetMyName, SetMyDescription,
            SetMyShortDescription, SetMyProfilePhoto, SendMessage, SendMessageDraft, EditMessageText,
            SendChatAction, AnswerCallbackQuery, SendInvoice, CreateInvoiceLink, AnswerPreCheckoutQuery,
            RefundStarPayment, EditUserStarSubscription, GetStarTransactions,
        )
    };
}

#[test]
fn every_method_and_field_bellhop_sends_exists_in_the_reference_and_required_fields_are_required() {
    let r = reference();
    let mut problems = Vec::new();
    macro_rules! methods { ($($m:ident),* $(,)?) => {{
        let names = vec![$(<methods::$m as Method>::NAME),*];
        $(problems.extend(check_method::<methods::$m>(&r));)*
        names
    }}}
    let checked = every_method!(methods);
    assert_eq!(checked, methods::ALL_METHODS, "the table above must list every method bellhop calls");
    assert!(problems.is_empty(), "request types disagree with the reference:\n{}", problems.join("\n"));
}

/// A request of type `M` with exactly the reference's required fields (sample values).
fn minimal_request<M: Method + DeserializeOwned>(reference: &Value) -> M {
    let spec = &reference["methods"][M::NAME];
    let mut value = required_object(reference, spec, M::NAME, None);
    for field in STRICTER.iter().filter_map(|s| s.strip_prefix(&format!("{}.", M::NAME))) {
        value[field] = json!("x");
    }
    serde_json::from_value(value).unwrap_or_else(|e| panic!("{}: {e}", M::NAME))
}

/// Whether the reference says `method` returns a message it put into a chat (`Message`,
/// `MessageId`, or arrays of them; an edit's "Message or True" included).
fn returns_a_message(reference: &Value, method: &str) -> bool {
    reference["methods"][method]["returns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|t| matches!(t.trim_start_matches("Array of "), "Message" | "MessageId"))
}

/// The throttle's coverage, decided by the reference rather than by a hand-kept list: a method
/// goes through the client's throttle (`Method::posts_to` is `Some`) exactly when the reference
/// says it returns a message it put into a chat — messages, invoices, edits, and media, copies
/// and forwards should bellhop ever call them. Drafts and chat actions return `True`.
#[test]
fn every_method_that_puts_a_message_into_a_chat_goes_through_the_throttle() {
    let r = reference();
    macro_rules! coverage { ($($m:ident),* $(,)?) => {
        vec![$((<methods::$m as Method>::NAME, minimal_request::<methods::$m>(&r).posts_to().is_some())),*]
    }}
    let table: Vec<(&str, bool)> = every_method!(coverage);
    let wrong: Vec<String> = table
        .iter()
        .filter(|(name, throttled)| *throttled != returns_a_message(&r, name))
        .map(|(name, throttled)| format!("{name}: posts_to is {}", if *throttled { "Some but it returns no message" } else { "None but it returns a message" }))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let throttled: Vec<&str> = table.iter().filter(|t| t.1).map(|t| t.0).collect();
    assert_eq!(throttled, ["sendMessage", "editMessageText", "sendInvoice"]);
    assert!(returns_a_message(&r, "sendPhoto") && returns_a_message(&r, "sendMediaGroup") && returns_a_message(&r, "copyMessage"));
    assert!(!returns_a_message(&r, "sendMessageDraft") && !returns_a_message(&r, "sendChatAction") && !returns_a_message(&r, "createInvoiceLink"));
}

#[test]
fn every_object_field_bellhop_reads_or_writes_exists_in_the_reference() {
    let r = reference();
    let mut p = Vec::new();
    p.extend(check_type::<User>(&r, "User"));
    p.extend(check_type::<Chat>(&r, "Chat"));
    p.extend(check_type::<Message>(&r, "Message"));
    p.extend(check_type::<PhotoSize>(&r, "PhotoSize"));
    p.extend(check_type::<Voice>(&r, "Voice"));
    p.extend(check_type::<Audio>(&r, "Audio"));
    p.extend(check_type::<Video>(&r, "Video"));
    p.extend(check_type::<Video>(&r, "Animation"));
    p.extend(check_type::<VideoNote>(&r, "VideoNote"));
    p.extend(check_type::<Document>(&r, "Document"));
    p.extend(check_type::<Sticker>(&r, "Sticker"));
    p.extend(check_type::<Location>(&r, "Location"));
    p.extend(check_type::<Contact>(&r, "Contact"));
    p.extend(check_type::<MessageEntity>(&r, "MessageEntity"));
    p.extend(check_type::<CallbackQuery>(&r, "CallbackQuery"));
    p.extend(check_type::<PreCheckoutQuery>(&r, "PreCheckoutQuery"));
    p.extend(check_type::<SuccessfulPayment>(&r, "SuccessfulPayment"));
    p.extend(check_type::<RefundedPayment>(&r, "RefundedPayment"));
    p.extend(check_type::<Invoice>(&r, "Invoice"));
    p.extend(check_type::<LabeledPrice>(&r, "LabeledPrice"));
    p.extend(check_type::<StarTransactions>(&r, "StarTransactions"));
    p.extend(check_type::<StarTransaction>(&r, "StarTransaction"));
    p.extend(check_type::<TransactionPartnerUser>(&r, "TransactionPartnerUser"));
    p.extend(check_type::<ManagedBotUpdated>(&r, "ManagedBotUpdated"));
    p.extend(check_type::<ManagedBotCreated>(&r, "ManagedBotCreated"));
    p.extend(check_type::<InlineKeyboardMarkup>(&r, "InlineKeyboardMarkup"));
    p.extend(check_type::<InlineKeyboardButton>(&r, "InlineKeyboardButton"));
    p.extend(check_type::<ReplyKeyboardMarkup>(&r, "ReplyKeyboardMarkup"));
    p.extend(check_type::<KeyboardButton>(&r, "KeyboardButton"));
    p.extend(check_type::<KeyboardButtonRequestManagedBot>(&r, "KeyboardButtonRequestManagedBot"));
    p.extend(check_type::<KeyboardButtonRequestUsers>(&r, "KeyboardButtonRequestUsers"));
    p.extend(check_type::<KeyboardButtonRequestChat>(&r, "KeyboardButtonRequestChat"));
    p.extend(check_type::<ChatAdministratorRights>(&r, "ChatAdministratorRights"));
    p.extend(check_type::<KeyboardButtonPollType>(&r, "KeyboardButtonPollType"));
    p.extend(check_type::<WebAppInfo>(&r, "WebAppInfo"));
    p.extend(check_type::<LoginUrl>(&r, "LoginUrl"));
    p.extend(check_type::<SwitchInlineQueryChosenChat>(&r, "SwitchInlineQueryChosenChat"));
    p.extend(check_type::<CopyTextButton>(&r, "CopyTextButton"));
    p.extend(check_type::<BotAccessSettings>(&r, "BotAccessSettings"));
    p.extend(check_type::<PreparedKeyboardButton>(&r, "PreparedKeyboardButton"));
    p.extend(check_type::<ReplyKeyboardRemove>(&r, "ReplyKeyboardRemove"));
    p.extend(check_type::<ForceReply>(&r, "ForceReply"));
    p.extend(check_type::<ReplyParameters>(&r, "ReplyParameters"));
    p.extend(check_type::<LinkPreviewOptions>(&r, "LinkPreviewOptions"));
    p.extend(check_type::<WebhookInfo>(&r, "WebhookInfo"));
    p.extend(check_type::<BotCommand>(&r, "BotCommand"));
    assert!(p.is_empty(), "types disagree with the reference:\n{}", p.join("\n"));
}

#[test]
fn the_reference_check_catches_an_optional_required_field_and_an_invented_one() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Bad {
        chat_id: Option<i64>,
        text: String,
        colour: Option<String>,
    }
    let r = reference();
    let problems = check::<Bad>(&r, &r["methods"]["sendMessage"], "sendMessage");
    assert!(problems.iter().any(|p| p.contains("sendMessage.chat_id is required")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("sendMessage.colour is not in the reference")), "{problems:?}");
}
