//! The outbox row as the dispatcher sees it: ids, kinds, statuses and a claimed message.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The primary key of `outpost.messages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId(pub i64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a message is delivered as; the `kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Email,
    Sms,
    Voice,
    Push,
    Chat,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Email, Kind::Sms, Kind::Voice, Kind::Push, Kind::Chat];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Sms => "sms",
            Kind::Voice => "voice",
            Kind::Push => "push",
            Kind::Chat => "chat",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind name that is not one of the five.
#[derive(Debug, thiserror::Error)]
#[error("unknown message kind {0:?} (expected email, sms, voice, push or chat)")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// The `status` column. Terminal statuses never change again, except through
/// `outpost.retry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Queued,
    Sending,
    Sent,
    Delivered,
    Failed,
    Bounced,
    Cancelled,
    Expired,
    Suppressed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Bounced => "bounced",
            Status::Cancelled => "cancelled",
            Status::Expired => "expired",
            Status::Suppressed => "suppressed",
        }
    }
}

/// A row of the recipients relation, found by `to_user`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipient {
    pub user_id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub tenant: Option<String>,
    pub push_named_user: Option<String>,
    pub name: Option<String>,
}

/// A message this worker has claimed: the row as the claim returned it, with
/// its recipient looked up in the same statement.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    pub id: MessageId,
    /// The attempt number this claim began (the row's `attempts` after the claim).
    pub attempt: i32,
    pub kind: Kind,
    pub to_user: Option<String>,
    pub to_address: Option<String>,
    pub template: Option<String>,
    pub context: serde_json::Value,
    pub locale: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub html: Option<String>,
    pub options: serde_json::Value,
    pub provider: Option<String>,
    pub tenant: Option<String>,
    pub max_attempts: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// `None` when `to_user` is unset or names no row of the recipients relation.
    pub recipient: Option<Recipient>,
    /// Its recipients' addresses (to, cc and bcc; normalised) that are on
    /// `outpost.suppressions`.
    pub suppressed: Vec<String>,
    /// When this worker's lease on the message runs out, as this process
    /// measures time (never later than the database's `leased_until`).
    pub lease_deadline: std::time::Instant,
}
