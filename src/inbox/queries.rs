//! The inbox's SQL (one named file each under `src/db/queries/inbox_*.sql`)
//! and its rows, decoded with `try_get`. Every read is bounded by the
//! user's tenant: a channel is theirs when they are a member and it is of
//! the tenant of their `outpost.recipients` row.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;

use super::Snapshot;
use crate::db::{DbError, Pg};

const KEYS: &str = include_str!("../db/queries/inbox_keys.sql");
const ROTATE_KEY: &str = include_str!("../db/queries/inbox_rotate_key.sql");
const CHANNELS: &str = include_str!("../db/queries/inbox_channels.sql");
const MEMBER: &str = include_str!("../db/queries/inbox_member.sql");
const PAGE: &str = include_str!("../db/queries/inbox_page.sql");
const REPLAY: &str = include_str!("../db/queries/inbox_replay.sql");
const REPLAY_SINCE: &str = include_str!("../db/queries/inbox_replay_since.sql");
const CURSOR: &str = include_str!("../db/queries/inbox_cursor.sql");
const DELIVER_MESSAGES: &str = include_str!("../db/queries/inbox_deliver_messages.sql");
const DELIVER_READS: &str = include_str!("../db/queries/inbox_deliver_reads.sql");
const POST: &str = include_str!("../db/queries/inbox_post.sql");
const MARK_READ: &str = include_str!("../db/queries/inbox_mark_read.sql");

/// A chat message as the inbox shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    pub id: i64,
    pub channel_id: i64,
    /// `None`: a system message.
    pub sender: Option<String>,
    pub body: String,
    /// `plaintext` or `html` (system messages only).
    pub format: String,
    pub created_at: DateTime<Utc>,
}

impl ChatMessage {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            channel_id: row.try_get("channel_id")?,
            sender: row.try_get("sender")?,
            body: row.try_get("body")?,
            format: row.try_get("format")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// One of a user's channels with its unread count.
#[derive(Debug, Clone, Serialize)]
pub struct InboxChannel {
    pub channel_id: i64,
    pub kind: String,
    pub subject: Option<String>,
    pub last_read_message_id: i64,
    pub last_message_id: Option<i64>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub unread: i64,
}

/// A new message for one member with a stream, and their unread count.
#[derive(Debug, Clone)]
pub struct ForMember {
    pub message: ChatMessage,
    pub user: String,
    pub unread: i64,
}

/// A member's read mark and unread count in one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadState {
    pub channel_id: i64,
    #[serde(skip)]
    pub user: String,
    pub last_read_message_id: i64,
    pub unread: i64,
}

/// The signing keys, `(version, secret)`.
pub async fn keys(db: &impl Pg) -> Result<Vec<(i32, Vec<u8>)>, DbError> {
    let rows = db.pg_query(KEYS, &[]).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("version")?, r.try_get("secret")?)))
        .collect()
}

/// A new signing key; its version.
pub async fn rotate_key(db: &impl Pg) -> Result<i32, DbError> {
    Ok(db.pg_query_one(ROTATE_KEY, &[]).await?.try_get("version")?)
}

/// `user`'s channels, newest activity first (at most 1,000).
pub async fn channels(db: &impl Pg, user: &str) -> Result<Vec<InboxChannel>, DbError> {
    let rows = db.pg_query(CHANNELS, &[&user]).await?;
    rows.iter()
        .map(|r| {
            Ok(InboxChannel {
                channel_id: r.try_get("channel_id")?,
                kind: r.try_get("kind")?,
                subject: r.try_get("subject")?,
                last_read_message_id: r.try_get("last_read_message_id")?,
                last_message_id: r.try_get("last_message_id")?,
                last_message_at: r.try_get("last_message_at")?,
                unread: r.try_get("unread")?,
            })
        })
        .collect()
}

/// Whether `user` belongs to `channel` (within their tenant).
pub async fn is_member(db: &impl Pg, user: &str, channel: i64) -> Result<bool, DbError> {
    Ok(db.pg_query_opt(MEMBER, &[&user, &channel]).await?.is_some())
}

/// `limit` of `channel`'s messages before id `before`, newest first.
pub async fn page(
    db: &impl Pg,
    user: &str,
    channel: i64,
    before: Option<i64>,
    limit: i32,
) -> Result<Vec<ChatMessage>, DbError> {
    let rows = db
        .pg_query(PAGE, &[&user, &channel, &before, &limit])
        .await?;
    Ok(rows
        .iter()
        .map(ChatMessage::from_row)
        .collect::<Result<_, _>>()?)
}

/// Where a reconnecting stream resumes (its `Last-Event-ID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// After this message id (a bare id, as streams sent before migration
    /// 0030; 0 replays everything).
    Id(i64),
    /// What committed since this snapshot.
    Snapshot(Snapshot),
}

/// Rows that came with the snapshot of the statement that read them.
#[derive(Debug)]
pub struct AsOf<T> {
    pub rows: Vec<T>,
    pub snapshot: Snapshot,
}

/// The `snapshot` column.
fn snapshot_in(row: &Row) -> Result<Snapshot, DbError> {
    let text: String = row.try_get("snapshot")?;
    Snapshot::parse(&text).ok_or_else(|| DbError::Unexpected(format!("snapshot {text:?}")))
}

impl<T> AsOf<T> {
    /// Decodes `rows` (each with the statement's snapshot; a row without an
    /// `id` holds only that) with `decode`.
    fn decode(rows: &[Row], decode: impl Fn(&Row) -> Result<T, DbError>) -> Result<Self, DbError> {
        let first = rows
            .first()
            .ok_or_else(|| DbError::Unexpected("no snapshot row".to_owned()))?;
        let snapshot = snapshot_in(first)?;
        let mut decoded = Vec::new();
        for row in rows {
            if row.try_get::<_, Option<i64>>("id")?.is_some() {
                decoded.push(decode(row)?);
            }
        }
        Ok(Self {
            rows: decoded,
            snapshot,
        })
    }
}

/// The messages `user` missed `since`, the newest `limit`, in id order.
pub async fn replay(
    db: &impl Pg,
    user: &str,
    since: &Since,
    limit: i32,
) -> Result<AsOf<ChatMessage>, DbError> {
    let rows = match since {
        Since::Id(after) => db.pg_query(REPLAY, &[&user, after, &limit]).await?,
        Since::Snapshot(s) => {
            let s = s.to_string();
            db.pg_query(REPLAY_SINCE, &[&user, &s, &limit]).await?
        }
    };
    AsOf::decode(&rows, |r| Ok(ChatMessage::from_row(r)?))
}

/// The snapshot now: where a stream without `Last-Event-ID` starts.
pub async fn cursor(db: &impl Pg) -> Result<Snapshot, DbError> {
    snapshot_in(&db.pg_query_one(CURSOR, &[]).await?)
}

/// The messages committed since `since` for the members among `users`,
/// with their unread counts (at most `limit` rows).
pub async fn deliver_messages(
    db: &impl Pg,
    since: &Snapshot,
    users: &[&str],
    limit: i32,
) -> Result<AsOf<ForMember>, DbError> {
    let since = since.to_string();
    let rows = db
        .pg_query(DELIVER_MESSAGES, &[&since, &users, &limit])
        .await?;
    AsOf::decode(&rows, |r| {
        Ok(ForMember {
            message: ChatMessage::from_row(r)?,
            user: r.try_get("user_id")?,
            unread: r.try_get("unread")?,
        })
    })
}

/// The read state of each `(channels[i], users[i])` pair that is a membership.
pub async fn deliver_reads(
    db: &impl Pg,
    channels: &[i64],
    users: &[&str],
) -> Result<Vec<ReadState>, DbError> {
    let rows = db.pg_query(DELIVER_READS, &[&channels, &users]).await?;
    rows.iter()
        .map(|r| {
            Ok(ReadState {
                channel_id: r.try_get("channel_id")?,
                user: r.try_get("user_id")?,
                last_read_message_id: r.try_get("last_read_message_id")?,
                unread: r.try_get("unread")?,
            })
        })
        .collect()
}

/// `user`'s message to `channel`; `None` when they do not belong to it.
pub async fn post(
    db: &impl Pg,
    user: &str,
    channel: i64,
    body: &str,
) -> Result<Option<ChatMessage>, DbError> {
    let row = db.pg_query_opt(POST, &[&user, &channel, &body]).await?;
    Ok(row.as_ref().map(ChatMessage::from_row).transpose()?)
}

/// Marks `channel` read for `user`; how many messages were unread.
pub async fn mark_read(db: &impl Pg, user: &str, channel: i64) -> Result<i64, DbError> {
    Ok(db
        .pg_query_one(MARK_READ, &[&user, &channel])
        .await?
        .try_get("marked")?)
}
