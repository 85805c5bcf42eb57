//! Channel fallback: a message whose recipient lacks the address for its
//! kind, and that names `options.fallback = {"kind": K}`, is written again
//! as kind K (`outpost.fall_back`, migration 0028) and ends failed, its
//! `last_error` naming the message that stands for it.

use chrono::Utc;

use super::Dispatcher;
use super::outcome::Outcome;
use crate::channel::SendError;
use crate::db::Pg;
use crate::db::{DbError, statements};
use crate::message::ClaimedMessage;
use crate::recipient::{self, ResolveError};

impl Dispatcher {
    /// The outcome of falling back, or `None` when `message` has an address
    /// for its kind or names no fallback. If the fallback cannot be written
    /// (the database is away), the message is retried.
    pub(super) async fn fall_back(
        &self,
        message: &ClaimedMessage,
        started_at: chrono::DateTime<Utc>,
    ) -> Option<Outcome> {
        let kind = message.options.get("fallback")?.get("kind")?.as_str()?;
        let Err(missing @ ResolveError::MissingAddress { .. }) =
            recipient::resolve(message, &self.recipients, &self.default_locale)
        else {
            return None;
        };
        let made = async {
            let client = self.pool.get().await.map_err(DbError::from)?;
            let row = client
                .pg_query_one(statements::FALL_BACK, &[&message.id.0])
                .await
                .map_err(DbError::from)?;
            row.try_get::<_, Option<i64>>(0).map_err(DbError::from)
        };
        let result = match made.await {
            Ok(Some(id)) => Err(SendError::permanent(format!(
                "{missing}; sent as {kind} instead (message {id})"
            ))),
            Ok(None) => return None,
            Err(e) => Err(SendError::transient(format!(
                "{missing}; cannot write its {kind} fallback: {e}"
            ))),
        };
        Some(self.finish(message, None, result, started_at))
    }
}
