//! Payments in Telegram Stars (currency `XTR`): invoices, the pre-checkout query that must be
//! answered within 10 seconds, the successful/refunded payment service messages, and the
//! bot's Star transactions. <https://core.telegram.org/bots/api#payments>
use super::User;
use serde::{Deserialize, Serialize};

/// A price component. For Stars, `amount` is the number of Stars and there is exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LabeledPrice {
    pub label: String,
    pub amount: i64,
}

/// `Message.invoice`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Invoice {
    pub title: String,
    pub description: String,
    pub start_parameter: String,
    pub currency: String,
    pub total_amount: i64,
}

/// `Update.pre_checkout_query`: answer with `answerPreCheckoutQuery` within 10 s or the
/// payment fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreCheckoutQuery {
    pub id: String,
    pub from: User,
    pub currency: String,
    pub total_amount: i64,
    pub invoice_payload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_option_id: Option<String>,
}

/// `Message.successful_payment`. Keep `telegram_payment_charge_id`: refunds and subscription
/// edits need it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SuccessfulPayment {
    pub currency: String,
    pub total_amount: i64,
    pub invoice_payload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_expiration_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_recurring: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_first_recurring: Option<bool>,
    pub telegram_payment_charge_id: String,
    pub provider_payment_charge_id: String,
}

/// `Message.refunded_payment`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RefundedPayment {
    pub currency: String,
    pub total_amount: i64,
    pub invoice_payload: String,
    pub telegram_payment_charge_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_payment_charge_id: Option<String>,
}

/// The result of `getStarTransactions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StarTransactions {
    pub transactions: Vec<StarTransaction>,
}

/// One Star movement. Incoming ones carry `source`, outgoing ones (refunds) `receiver`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StarTransaction {
    /// For payments, equal to `telegram_payment_charge_id`.
    pub id: String,
    pub amount: i64,
    pub date: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TransactionPartner>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<TransactionPartner>,
}

/// The other side of a transaction. Only `user` is modelled; other kinds are kept as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TransactionPartner {
    User(TransactionPartnerUser),
    Other(serde_json::Value),
}

/// <https://core.telegram.org/bots/api#transactionpartneruser>
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionPartnerUser {
    /// Always `user`.
    #[serde(rename = "type")]
    pub kind: TransactionPartnerUserTag,
    /// `invoice_payment`, `paid_media_payment`, `gift_purchase`, …
    pub transaction_type: String,
    pub user: User,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_period: Option<i64>,
}

/// The literal `"user"`, so that `TransactionPartner` picks the right variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionPartnerUserTag {
    User,
}

