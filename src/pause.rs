//! Operator controls: a kind, a provider or a tenant paused (and resumed),
//! kept in `outpost.pauses` so that every daemon's next claim honours it.
//! Paused messages stay queued; nothing is lost.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::db::Pg;
use crate::db::{DbError, statements};

/// What a pause holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every message of a kind (`sms`).
    Kind,
    /// Every message that would go through a provider (`twilio`): its own,
    /// else its kind's default.
    Provider,
    /// Every message of a tenant.
    Tenant,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Kind => "kind",
            Scope::Provider => "provider",
            Scope::Tenant => "tenant",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pause in force.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pause {
    pub scope: String,
    pub name: String,
    pub paused_by: String,
    pub reason: Option<String>,
    pub paused_at: DateTime<Utc>,
    /// Queued messages it holds (kinds and tenants).
    pub held: Option<i64>,
}

/// Who pauses or resumes, for the audit log: the database role (`role
/// NAME`) or the console user, and where the console request came from.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub name: &'a str,
    pub address: Option<&'a str>,
}

/// Pauses `scope` `name` (recorded in the audit log); whether it was
/// running before.
pub async fn pause(
    client: &impl Pg,
    scope: Scope,
    name: &str,
    actor: Actor<'_>,
    reason: Option<&str>,
) -> Result<bool, DbError> {
    let row = client
        .pg_query_one(
            statements::PAUSE,
            &[&scope.as_str(), &name, &actor.name, &reason, &actor.address],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Resumes it (every daemon is woken); whether it was paused.
pub async fn resume(
    client: &impl Pg,
    scope: Scope,
    name: &str,
    actor: Actor<'_>,
) -> Result<bool, DbError> {
    let row = client
        .pg_query_one(
            statements::RESUME,
            &[&scope.as_str(), &name, &actor.name, &actor.address],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Every pause in force.
pub async fn list(client: &impl Pg) -> Result<Vec<Pause>, DbError> {
    let mut pauses = Vec::new();
    for row in client.pg_query(statements::PAUSES, &[]).await? {
        pauses.push(Pause {
            scope: row.try_get("scope")?,
            name: row.try_get("name")?,
            paused_by: row.try_get("paused_by")?,
            reason: row.try_get("reason")?,
            paused_at: row.try_get("paused_at")?,
            held: row.try_get("held")?,
        });
    }
    Ok(pauses)
}
