//! `Update` (<https://core.telegram.org/bots/api#update>): an `update_id` plus exactly one
//! payload. Kinds bellhop handles are typed; every other kind is kept as
//! [`UpdateKind::Other`] with its name and raw JSON — recorded, never a parse error.
use super::{CallbackQuery, ManagedBotUpdated, Message, PreCheckoutQuery};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One incoming update. `update_id` increases per bot; use it to drop duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub update_id: i64,
    pub kind: UpdateKind,
}

/// The payload of an update.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateKind {
    Message(Message),
    EditedMessage(Message),
    CallbackQuery(CallbackQuery),
    PreCheckoutQuery(PreCheckoutQuery),
    /// A managed bot was created, or its token or owner changed.
    ManagedBot(ManagedBotUpdated),
    /// Any kind not modelled above (`channel_post`, `my_chat_member`, `poll`, …), or a known
    /// kind whose payload did not parse; kept as received.
    Other { name: String, payload: serde_json::Value },
}

impl UpdateKind {
    /// The field name Telegram uses for this kind, also the value for `allowed_updates`.
    pub fn name(&self) -> &str {
        match self {
            UpdateKind::Message(_) => "message",
            UpdateKind::EditedMessage(_) => "edited_message",
            UpdateKind::CallbackQuery(_) => "callback_query",
            UpdateKind::PreCheckoutQuery(_) => "pre_checkout_query",
            UpdateKind::ManagedBot(_) => "managed_bot",
            UpdateKind::Other { name, .. } => name,
        }
    }
}

fn typed<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Option<T> {
    serde_json::from_value(v.clone()).ok()
}

impl<'de> Deserialize<'de> for Update {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let update_id = map
            .remove("update_id")
            .and_then(|v| v.as_i64())
            .ok_or_else(|| D::Error::missing_field("update_id"))?;
        let Some((name, payload)) = map.into_iter().next() else {
            return Ok(Update { update_id, kind: UpdateKind::Other { name: String::new(), payload: serde_json::Value::Null } });
        };
        let kind = match name.as_str() {
            "message" => typed(&payload).map(UpdateKind::Message),
            "edited_message" => typed(&payload).map(UpdateKind::EditedMessage),
            "callback_query" => typed(&payload).map(UpdateKind::CallbackQuery),
            "pre_checkout_query" => typed(&payload).map(UpdateKind::PreCheckoutQuery),
            "managed_bot" => typed(&payload).map(UpdateKind::ManagedBot),
            _ => None,
        }
        .unwrap_or(UpdateKind::Other { name, payload });
        Ok(Update { update_id, kind })
    }
}

impl Serialize for Update {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("update_id", &self.update_id)?;
        match &self.kind {
            UpdateKind::Message(x) | UpdateKind::EditedMessage(x) => m.serialize_entry(self.kind.name(), x)?,
            UpdateKind::CallbackQuery(x) => m.serialize_entry("callback_query", x)?,
            UpdateKind::PreCheckoutQuery(x) => m.serialize_entry("pre_checkout_query", x)?,
            UpdateKind::ManagedBot(x) => m.serialize_entry("managed_bot", x)?,
            UpdateKind::Other { name, payload } if !name.is_empty() => m.serialize_entry(name, payload)?,
            UpdateKind::Other { .. } => {}
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_update_kinds_are_kept_not_rejected() {
        let raw = r#"{"update_id":7,"poll":{"id":"1","question":"?","future_field":true}}"#;
        let u: Update = serde_json::from_str(raw).unwrap();
        assert_eq!(u.update_id, 7);
        assert!(matches!(&u.kind, UpdateKind::Other { name, .. } if name == "poll"));
        assert_eq!(serde_json::to_value(&u).unwrap(), serde_json::from_str::<serde_json::Value>(raw).unwrap());
    }

    #[test]
    fn managed_bot_updates_parse_with_unknown_fields() {
        let raw = r#"{"update_id":1,"managed_bot":{"user":{"id":5,"is_bot":false,"first_name":"A","x":1},"bot":{"id":9,"is_bot":true,"first_name":"B","username":"b_bot"}}}"#;
        let u: Update = serde_json::from_str(raw).unwrap();
        let UpdateKind::ManagedBot(m) = u.kind else { panic!("not managed_bot") };
        assert_eq!((m.user.id, m.bot.id), (5, 9));
    }
}
