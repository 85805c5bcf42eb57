//! The outbox row as the dispatcher sees it: ids, kinds, statuses and a claimed message.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use crate::suppression::Verdict;

mod decode;
pub use decode::{Undecodable, decode};

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
    /// A signed POST to an application's endpoint (`outpost.webhook_endpoints`).
    Webhook,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Email,
        Kind::Sms,
        Kind::Voice,
        Kind::Push,
        Kind::Chat,
        Kind::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Sms => "sms",
            Kind::Voice => "voice",
            Kind::Push => "push",
            Kind::Chat => "chat",
            Kind::Webhook => "webhook",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind name that is not one of the six.
#[derive(Debug, thiserror::Error)]
#[error("unknown message kind {0:?} (expected email, sms, voice, push, chat or webhook)")]
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

/// A `kind` or `status` value that is not one of the names the schema admits.
#[derive(Debug, thiserror::Error)]
#[error("unexpected {column} {value:?} in the database")]
struct UnknownValue {
    column: &'static str,
    value: String,
}

/// Reads and writes a text column holding one of an enum's names.
macro_rules! text_enum_sql {
    ($ty:ty, $column:literal) => {
        impl<'a> FromSql<'a> for $ty {
            fn from_sql(
                ty: &Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                let text = <&str as FromSql>::from_sql(ty, raw)?;
                <$ty>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| {
                        UnknownValue {
                            column: $column,
                            value: text.to_owned(),
                        }
                        .into()
                    })
            }

            fn accepts(ty: &Type) -> bool {
                <&str as FromSql>::accepts(ty)
            }
        }

        impl ToSql for $ty {
            fn to_sql(
                &self,
                ty: &Type,
                out: &mut bytes::BytesMut,
            ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.as_str().to_sql(ty, out)
            }

            fn accepts(ty: &Type) -> bool {
                <&str as ToSql>::accepts(ty)
            }

            to_sql_checked!();
        }
    };
}

text_enum_sql!(Kind, "kind");
text_enum_sql!(Status, "status");
text_enum_sql!(AttemptResult, "outcome");

/// The `status` column. Terminal statuses never change again, except through
/// `outpost.retry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
    pub const ALL: [Status; 9] = [
        Status::Queued,
        Status::Sending,
        Status::Sent,
        Status::Delivered,
        Status::Failed,
        Status::Bounced,
        Status::Cancelled,
        Status::Expired,
        Status::Suppressed,
    ];

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

    /// Whether the message is finished: it changes again only through
    /// `outpost.retry`.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Status::Queued | Status::Sending)
    }

    /// Whether `outpost.retry` (and the console's Retry) takes it back to
    /// the queue: it ended without reaching its recipient.
    pub fn can_retry(self) -> bool {
        matches!(
            self,
            Status::Failed
                | Status::Expired
                | Status::Cancelled
                | Status::Bounced
                | Status::Suppressed
        )
    }

    /// Whether `outpost.cancel` (and the console's Cancel) can stop it: only
    /// while it waits in the queue.
    pub fn can_cancel(self) -> bool {
        self == Status::Queued
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of the nine.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown status {0:?} (expected queued, sending, sent, delivered, failed, bounced, \
     cancelled, expired or suppressed)"
)]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// The `outcome` column of `outpost.attempts`: how one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttemptResult {
    /// The provider took the message.
    Sent,
    /// A transient failure; the message was queued again.
    Retry,
    /// A permanent failure (or expiry, or suppression).
    Failed,
    /// Cut short mid-send (a crash, a lost lease, a shutdown past its
    /// grace): the message may have been sent. Written by the rescuer.
    Unknown,
}

impl AttemptResult {
    pub const ALL: [AttemptResult; 4] = [
        AttemptResult::Sent,
        AttemptResult::Retry,
        AttemptResult::Failed,
        AttemptResult::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Sent => "sent",
            AttemptResult::Retry => "retry",
            AttemptResult::Failed => "failed",
            AttemptResult::Unknown => "unknown",
        }
    }
}

impl fmt::Display for AttemptResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An attempt outcome that is not one of the four.
#[derive(Debug, thiserror::Error)]
#[error("unknown attempt outcome {0:?} (expected sent, retry, failed or unknown)")]
pub struct UnknownAttemptResult(pub String);

impl FromStr for AttemptResult {
    type Err = UnknownAttemptResult;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttemptResult::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownAttemptResult(s.to_owned()))
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
    /// Where it goes, as the claim decided (`message_shape.sql`): its
    /// `to_address`, else its recipient's address for its kind, trimmed;
    /// `None` when there is none.
    pub address: Option<String>,
    /// What the suppression list means for it, as the claim decided.
    pub suppression: Verdict,
    /// When this worker's lease on the message runs out, as this process
    /// measures time (never later than the database's `leased_until`).
    pub lease_deadline: std::time::Instant,
    /// What the recipient controls about it, as the claim found it.
    pub controls: Controls,
}

#[cfg(test)]
impl ClaimedMessage {
    /// A claimed message of `kind` with nothing set, for unit tests.
    pub(crate) fn example(kind: Kind) -> Self {
        Self {
            id: MessageId(1),
            attempt: 1,
            kind,
            to_user: None,
            to_address: None,
            template: None,
            context: serde_json::json!({}),
            locale: None,
            subject: None,
            body: None,
            html: None,
            options: serde_json::json!({}),
            provider: None,
            tenant: None,
            max_attempts: None,
            expires_at: None,
            created_at: chrono::Utc::now(),
            recipient: None,
            address: None,
            suppression: Verdict::Clear,
            lease_deadline: std::time::Instant::now() + std::time::Duration::from_secs(3600),
            controls: Controls::default(),
        }
    }
}

/// A message's category, priority and what its recipient decided about it:
/// a preference that stops it, quiet hours, the messages it is a digest of.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Controls {
    /// `None`: transactional, never subject to preferences.
    pub category: Option<String>,
    pub priority: i32,
    /// The preference that stops it, as a sentence for `last_error`.
    pub blocked_by: Option<String>,
    /// The recipient's own quiet hours (`22:00-07:00`), as stored.
    pub quiet_hours: Option<String>,
    /// When this message leads a digest: every member's item (itself
    /// first), for the digest template.
    pub digest: Option<Vec<serde_json::Value>>,
}

#[cfg(test)]
mod status_tests {
    use super::Status;

    #[test]
    fn names_round_trip_through_display_from_str_and_serde() {
        for status in Status::ALL {
            let name = status.to_string();
            assert_eq!(name.parse::<Status>().unwrap(), status);
            assert_eq!(serde_json::to_value(status).unwrap(), name.as_str());
            assert_eq!(
                serde_json::from_value::<Status>(serde_json::json!(name)).unwrap(),
                status
            );
        }
        let err = "sendng".parse::<Status>().unwrap_err().to_string();
        assert!(
            err.contains("\"sendng\"") && err.contains("suppressed"),
            "{err}"
        );
    }

    #[test]
    fn only_finished_messages_are_terminal_and_only_those_unreached_can_be_retried() {
        for status in Status::ALL {
            assert!(!status.can_retry() || status.is_terminal(), "{status}");
            assert_eq!(status.can_cancel(), status == Status::Queued, "{status}");
        }
        assert!(!Status::Sent.can_retry() && !Status::Delivered.can_retry());
    }
}
