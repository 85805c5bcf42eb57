//! `[housekeeping]`: retention windows, batch size and the cron jobs.

use std::str::FromStr;

use super::super::settings::{HousekeepingSettings, Job, Task};
use super::super::{ConfigError, HousekeepingSection};
use super::positive;

/// `None` when housekeeping is off.
pub(in crate::config) fn housekeeping(
    raw: &HousekeepingSection,
) -> Result<Option<HousekeepingSettings>, ConfigError> {
    if !raw.enabled {
        return Ok(None);
    }
    if !(1..=100_000).contains(&raw.batch_size) {
        return Err(ConfigError::invalid(
            "housekeeping.batch_size",
            "must be between 1 and 100000",
        ));
    }
    let job = |name: &'static str, expression: &str, task: Task| {
        let cron = croner::Cron::from_str(expression.trim()).map_err(|e| {
            ConfigError::invalid(
                &format!("housekeeping.{name}"),
                format!("invalid cron expression {expression:?}: {e}"),
            )
        })?;
        Ok::<_, ConfigError>(Job { name, cron, task })
    };
    Ok(Some(HousekeepingSettings {
        retention: positive("housekeeping.retention", raw.retention)?,
        event_retention: positive("housekeeping.event_retention", raw.event_retention)?,
        inbound_retention: positive("housekeeping.inbound_retention", raw.inbound_retention)?,
        batch_size: raw.batch_size,
        jobs: vec![
            job("purge_messages", &raw.purge_messages, Task::PurgeMessages)?,
            job("purge_events", &raw.purge_events, Task::PurgeEvents)?,
            job("purge_inbound", &raw.purge_inbound, Task::PurgeInbound)?,
            job("expire", &raw.expire, Task::Expire)?,
            job("schedules", &raw.schedules, Task::Schedules)?,
        ],
    }))
}
