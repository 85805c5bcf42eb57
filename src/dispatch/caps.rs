//! The caps a send must fit in, each a slot taken in the database before the
//! send, across every daemon: SMS and voice per number
//! (`limits.phone_per_hour`), and a tenant's messages of a kind per UTC day
//! (`[limits.daily]`). A message past a cap waits, deferred and said, not
//! failed.

use chrono::Utc;
use tokio_postgres::types::ToSql;

use super::Dispatcher;
use super::deliver::handed_back;
use super::outcome::{End, Outcome};
use crate::db::Pg;
use crate::db::{DbError, statements};
use crate::message::{ClaimedMessage, Kind};

impl Dispatcher {
    /// The outcome that holds `message` until a cap frees a slot, or `None`
    /// when it may go (every cap it falls under has given it a slot). When a
    /// slot cannot be taken (the database is away), the send goes on: the
    /// caps guard against abuse, not against an outage.
    pub(super) async fn caps(
        &self,
        message: &ClaimedMessage,
        to: &str,
        started_at: chrono::DateTime<Utc>,
    ) -> Option<Outcome> {
        // The daily cap first: a slot taken there when the number's cap then
        // holds the message is one of many; the other way round, one of few.
        // (No key is built for a message when no tenant is capped.)
        if !self.limits.daily.is_empty()
            && let Some(tenant) = message.tenant.as_deref()
            && let Some(cap) = self.limits.daily.get(&(tenant.to_owned(), message.kind))
        {
            let cap = i32::try_from(*cap).unwrap_or(i32::MAX);
            let kind = message.kind.as_str();
            let why = format!(
                "held: tenant {tenant} has been sent its {cap} {kind} messages for today \
                 (limits.daily.{tenant}.{kind}); waiting for tomorrow (UTC)"
            );
            let held = self
                .slot(
                    message,
                    statements::TENANT_DAY_SLOT,
                    &[&tenant, &kind, &cap],
                    &why,
                    started_at,
                )
                .await;
            if held.is_some() {
                return held;
            }
        }
        let per_hour = self.limits.phone_per_hour;
        if per_hour > 0 && matches!(message.kind, Kind::Sms | Kind::Voice) {
            let per_hour = i32::try_from(per_hour).unwrap_or(i32::MAX);
            let why = format!(
                "held: the number has been sent {per_hour} SMS and voice messages in the last \
                 hour (limits.phone_per_hour); waiting for a slot"
            );
            return self
                .slot(
                    message,
                    statements::PHONE_SEND_SLOT,
                    &[&to, &per_hour],
                    &why,
                    started_at,
                )
                .await;
        }
        None
    }

    /// Takes a slot with `sql` (NULL: go; else when one frees).
    async fn slot(
        &self,
        message: &ClaimedMessage,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        why: &str,
        started_at: chrono::DateTime<Utc>,
    ) -> Option<Outcome> {
        let until = async {
            let client = self.pool.get().await.map_err(DbError::from)?;
            let row = client
                .pg_query_one(sql, params)
                .await
                .map_err(DbError::from)?;
            row.try_get::<_, Option<chrono::DateTime<Utc>>>(0)
                .map_err(DbError::from)
        };
        match until.await {
            Ok(None) => None,
            Ok(Some(until)) => {
                let mut held = handed_back(message, why, until, started_at);
                if let End::HandedBack { deferred, .. } = &mut held.end {
                    *deferred = true;
                }
                Some(held)
            }
            Err(e) => {
                tracing::warn!(id = %message.id, error = %e,
                    "cannot take a send slot; sending without the cap");
                None
            }
        }
    }
}
