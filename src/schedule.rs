//! Recurring notifications from `outpost.schedules`: each due firing inserts
//! its message exactly once, however many daemons run; a firing missed while
//! none ran is caught up once (the latest due time only).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;
use deadpool_postgres::Pool;

use crate::db::Pg;
use crate::db::{DbError, statements};

/// The latest firing of `cron` in `timezone` after `since` and at or before
/// `now`, if any.
pub fn due_fire(
    cron: &Cron,
    timezone: chrono_tz::Tz,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let latest = cron
        .find_previous_occurrence(&now.with_timezone(&timezone), true)
        .ok()?;
    let latest = latest.with_timezone(&Utc);
    (latest > since).then_some(latest)
}

/// What is wrong with a schedule's cron expression or time zone.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid cron expression {cron:?}: {source}")]
    Cron {
        cron: String,
        #[source]
        source: croner::errors::CronError,
    },
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
}

/// Parses a schedule's cron expression and time zone, or says what is wrong.
pub fn parse(cron: &str, timezone: &str) -> Result<(Cron, chrono_tz::Tz), ScheduleError> {
    let parsed = Cron::from_str(cron.trim()).map_err(|source| ScheduleError::Cron {
        cron: cron.to_owned(),
        source,
    })?;
    let tz = chrono_tz::Tz::from_str(timezone.trim())
        .map_err(|_| ScheduleError::TimeZone(timezone.to_owned()))?;
    Ok((parsed, tz))
}

/// Fires every due schedule once; returns how many messages this call inserted.
pub async fn fire_due(pool: &Pool) -> Result<usize, DbError> {
    let client = pool.get().await?;
    let now = Utc::now();
    let mut fired = 0;
    for row in client.pg_query(statements::SCHEDULES_ENABLED, &[]).await? {
        let name: String = row.get("name");
        let (cron, tz) = match parse(row.get("cron"), row.get("timezone")) {
            Ok(parsed) => parsed,
            Err(e) => {
                client
                    .pg_execute(statements::SCHEDULE_ERROR, &[&name, &e.to_string()])
                    .await?;
                continue;
            }
        };
        let Some(at) = due_fire(&cron, tz, row.get("since"), now) else {
            continue;
        };
        match client
            .pg_query(statements::SCHEDULE_FIRE, &[&name, &at])
            .await
        {
            Ok(rows) => {
                fired += rows.len();
                if !rows.is_empty() {
                    tracing::info!(schedule = %name, fire_time = %at, "schedule fired");
                }
            }
            Err(e) => {
                // A bad message (unknown kind, no recipient) stays unfired and
                // says why; the next tick tries again.
                let reason = e
                    .as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned());
                tracing::warn!(schedule = %name, error = %reason, "schedule could not fire");
                client
                    .pg_execute(
                        statements::SCHEDULE_ERROR,
                        &[&name, &format!("cannot insert the message: {reason}")],
                    )
                    .await?;
            }
        }
    }
    Ok(fired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn only_the_latest_missed_firing_is_due() {
        let (cron, tz) = parse("*/5 * * * *", "UTC").unwrap();
        let due = due_fire(
            &cron,
            tz,
            at("2026-11-25T08:00:00Z"),
            at("2026-11-25T09:02:00Z"),
        );
        assert_eq!(due, Some(at("2026-11-25T09:00:00Z")));
        assert_eq!(
            due_fire(
                &cron,
                tz,
                at("2026-11-25T09:00:00Z"),
                at("2026-11-25T09:02:00Z")
            ),
            None
        );
    }

    #[test]
    fn time_zones_are_honoured() {
        // 09:00 in Dublin is 08:00 UTC in summer and 09:00 UTC in winter.
        let (cron, tz) = parse("0 9 * * *", "Europe/Dublin").unwrap();
        let summer = due_fire(
            &cron,
            tz,
            at("2026-07-01T00:00:00Z"),
            at("2026-07-01T12:00:00Z"),
        );
        assert_eq!(summer, Some(at("2026-07-01T08:00:00Z")));
        let winter = due_fire(
            &cron,
            tz,
            at("2026-12-01T00:00:00Z"),
            at("2026-12-01T12:00:00Z"),
        );
        assert_eq!(winter, Some(at("2026-12-01T09:00:00Z")));
        assert!(
            parse("0 9 * * *", "Mars/Olympus")
                .unwrap_err()
                .to_string()
                .contains("unknown time zone")
        );
        assert!(
            parse("every day", "UTC")
                .unwrap_err()
                .to_string()
                .contains("invalid cron expression")
        );
    }
}
