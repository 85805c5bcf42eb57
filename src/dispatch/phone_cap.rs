//! The cap on SMS and voice per number (`limits.phone_per_hour`): a send
//! slot taken in the database before each send, across every daemon.

use chrono::Utc;

use super::Dispatcher;
use super::deliver::handed_back;
use super::outcome::{End, Outcome};
use crate::db::{DbError, statements};
use crate::message::{ClaimedMessage, Kind};

impl Dispatcher {
    /// For SMS and voice, a send slot for the number under
    /// `limits.phone_per_hour`; or the outcome that holds the message until
    /// one frees (a deferral, as an open circuit's: recorded, not failed).
    /// When the slot cannot be taken (the database is away), the send goes
    /// on: the cap guards against abuse, not against an outage.
    pub(super) async fn phone_cap(
        &self,
        message: &ClaimedMessage,
        to: &str,
        started_at: chrono::DateTime<Utc>,
    ) -> Option<Outcome> {
        let per_hour = self.limits.phone_per_hour;
        if per_hour == 0 || !matches!(message.kind, Kind::Sms | Kind::Voice) {
            return None;
        }
        let per_hour = i32::try_from(per_hour).unwrap_or(i32::MAX);
        let until = async {
            let client = self.pool.get().await.map_err(DbError::from)?;
            let row = client
                .query_one(statements::PHONE_SEND_SLOT, &[&to, &per_hour])
                .await
                .map_err(DbError::from)?;
            row.try_get::<_, Option<chrono::DateTime<Utc>>>(0)
                .map_err(DbError::from)
        };
        match until.await {
            Ok(None) => None,
            Ok(Some(until)) => {
                let mut held = handed_back(
                    message,
                    &format!(
                        "held: the number has been sent {per_hour} SMS and voice messages in the \
                         last hour (limits.phone_per_hour); waiting for a slot"
                    ),
                    until,
                    started_at,
                );
                if let End::HandedBack { deferred, .. } = &mut held.end {
                    *deferred = true;
                }
                Some(held)
            }
            Err(e) => {
                tracing::warn!(id = %message.id, error = %e,
                    "cannot take a phone send slot; sending without the cap");
                None
            }
        }
    }
}
