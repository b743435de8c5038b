//! The states and kinds of a conversation and its messages, as stored (a text column each).
//! Parsing a stored value that is none of them is an error, never a silent default.

bellhop_telegram::id_type!(
    /// A conversation: one customer's chat (or one forum topic) with one bot.
    ConversationId
);
bellhop_telegram::id_type!(
    /// A message stored in a conversation (bellhop's row, not Telegram's `message_id`).
    MsgId
);

/// An enum stored as one of a fixed set of texts.
macro_rules! stored_text {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The stored text.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(concat!("unknown ", stringify!($name), " `{}`"), other)),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use stored_text;

stored_text! {
    /// Who wrote a message.
    Author {
        Customer = "customer",
        /// The assistant (answers, notices, commands' replies).
        Bot = "bot",
        /// The owner or a teammate, relayed from the manager chat.
        Owner = "owner",
    }
}

stored_text! {
    /// What a message is. Customer messages are `Text` (or `Media`: a photo, voice note, … the
    /// bot cannot read); the bot's replies say how they were made.
    MessageKind {
        /// A customer's message (no kind of its own).
        Text = "",
        /// Written by the model from the sources, verified.
        Answer = "answer",
        /// Sentences quoted from the sources.
        Extractive = "extractive",
        /// The owner's own Q&A answer.
        Qa = "qa",
        /// "I don't know", with a person offered.
        Fallback = "fallback",
        /// The assistant could not answer (no credits, model down).
        Unavailable = "unavailable",
        /// A reply to a menu command.
        Command = "command",
        /// The bot is paused: the owner's notice.
        Paused = "paused",
        /// A message the bot cannot read (customer), or the reply saying so (bot).
        Media = "media",
        /// The customer asked for a person.
        Handoff = "handoff",
        /// `/forget`'s question, with its buttons.
        Forget = "forget",
        /// The conversation went back to the assistant (closed, or nobody answered in time).
        Closed = "closed",
        /// The owner's or a teammate's reply.
        Owner = "owner",
    }
}

impl MessageKind {
    /// A reply written from the business's knowledge (rated with 👍/👎, counted as answered).
    pub fn is_answer(self) -> bool {
        matches!(self, MessageKind::Answer | MessageKind::Extractive | MessageKind::Qa)
    }

    /// The assistant's reply to a customer's question (what the answer pipeline makes): never
    /// sent once a person has the conversation — they may take it over while it is written.
    pub fn is_reply_to_question(self) -> bool {
        self.is_answer() || matches!(self, MessageKind::Fallback | MessageKind::Unavailable)
    }
}

stored_text! {
    /// Where a stored message is on its way to Telegram: `Pending` → `Sending` (claimed right
    /// before the Bot API call) → `Sent`; `Unknown` when the call may or may not have arrived
    /// (never sent again); `Failed` for a customer's message Telegram refused to pass on to the
    /// owner.
    Delivery {
        Pending = "pending",
        Sending = "sending",
        Sent = "sent",
        Unknown = "unknown",
        Failed = "failed",
    }
}

stored_text! {
    /// Who answers the conversation.
    Mode {
        /// The assistant.
        Bot = "bot",
        /// A person (handed off): the assistant stays silent.
        Human = "human",
    }
}

stored_text! {
    /// The kind of Telegram chat a conversation is in (`Chat.type`).
    ChatKind {
        Private = "private",
        Group = "group",
        Supergroup = "supergroup",
        Channel = "channel",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_as_itself_and_a_stranger_is_an_error() {
        for k in [MessageKind::Text, MessageKind::Answer, MessageKind::Owner, MessageKind::Closed] {
            assert_eq!(k.as_str().parse::<MessageKind>(), Ok(k));
        }
        for d in [Delivery::Pending, Delivery::Sending, Delivery::Sent, Delivery::Unknown, Delivery::Failed] {
            assert_eq!(Delivery::try_from(d.to_string()), Ok(d));
        }
        assert_eq!("human".parse::<Mode>(), Ok(Mode::Human));
        assert_eq!("supergroup".parse::<ChatKind>(), Ok(ChatKind::Supergroup));
        assert!("robot".parse::<Author>().unwrap_err().contains("unknown Author `robot`"));
        assert!("Sent".parse::<Delivery>().is_err(), "stored texts are exact");
    }
}
