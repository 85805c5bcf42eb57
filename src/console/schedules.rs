//! `/schedules`: every schedule with its next fire time and last error;
//! enable, disable, fire now.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use tokio_postgres::Row;

use super::audit::{self, Action, Change, Ending};
use super::csrf::Csrf;
use super::form::Switch;
use super::format::time;
use super::pages::{self, ActionResult};
use super::session::{Admin, Session};
use super::{ConsoleError, ConsoleState, Result, queries};
use crate::db::Pg;
use crate::db::statements;

#[derive(Serialize)]
struct Schedule {
    name: String,
    cron: String,
    timezone: String,
    message: String,
    enabled: bool,
    last_fired_at: Option<String>,
    next_fire: String,
    last_error: Option<String>,
}

/// The next firing after now, or why there is none.
fn next_fire(cron: &str, timezone: &str, enabled: bool) -> String {
    if !enabled {
        return "— (disabled)".into();
    }
    match crate::schedule::parse(cron, timezone) {
        Ok((cron, tz)) => cron
            .find_next_occurrence(&Utc::now().with_timezone(&tz), false)
            .map(|at| {
                format!(
                    "{} UTC ({} {})",
                    time(at.with_timezone(&Utc)),
                    at.format("%H:%M"),
                    tz
                )
            })
            .unwrap_or_else(|e| format!("none: {e}")),
        Err(e) => e.to_string(),
    }
}

impl TryFrom<&Row> for Schedule {
    type Error = tokio_postgres::Error;
    fn try_from(r: &Row) -> Result<Self, Self::Error> {
        let cron: String = r.try_get("cron")?;
        let timezone: String = r.try_get("timezone")?;
        let enabled: bool = r.try_get("enabled")?;
        let message: serde_json::Value = r.try_get("message")?;
        let last_fired_at: Option<DateTime<Utc>> = r.try_get("last_fired_at")?;
        Ok(Schedule {
            next_fire: next_fire(&cron, &timezone, enabled),
            name: r.try_get("name")?,
            cron,
            timezone,
            message: serde_json::to_string(&message).unwrap_or_default(),
            enabled,
            last_fired_at: last_fired_at.map(time),
            last_error: r.try_get("last_error")?,
        })
    }
}

/// The page: every schedule.
#[derive(Serialize, Default)]
pub(super) struct SchedulesPage {
    schedules: Vec<Schedule>,
}

page! {
    SchedulesPage => "schedules.html", "schedules";
}

/// `GET /schedules`.
pub async fn list(State(state): State<ConsoleState>, session: Session) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let rows = client.pg_query(queries::SCHEDULES_LIST, &[]).await?;
    let schedules = queries::decode(&rows)?;
    pages::render(&session, &SchedulesPage { schedules })
}

/// `POST /schedules/{name}/enable` and `…/disable`.
pub async fn switch(
    admin: Admin,
    Path((name, to)): Path<(String, Switch)>,
    _: Csrf,
) -> Result<Response> {
    let enabled = to.on();
    audit::change(&admin, async |tx| {
        let changed = tx
            .pg_execute(queries::SCHEDULE_ENABLE, &[&name, &enabled])
            .await?;
        if changed == 0 {
            return Err(ConsoleError::NotFound);
        }
        let action = to.pick(Action::ScheduleEnable, Action::ScheduleDisable);
        let change = Change::new(action, format!("schedule {name}"))
            .before(json!({ "enabled": !enabled }))
            .after(json!({ "enabled": enabled }));
        Ok(change.into())
    })
    .await?;
    Ok(Redirect::to("/schedules").into_response())
}

/// `POST /schedules/{name}/fire`: insert its message now (once), as a
/// regular firing would.
pub async fn fire(admin: Admin, Path(name): Path<String>, _: Csrf) -> Result<Response> {
    let outcome = audit::change(&admin, async |tx| {
        let now: DateTime<Utc> = tx.pg_query_one(queries::NOW, &[]).await?.try_get(0)?;
        let rows = match tx.pg_query(statements::SCHEDULE_FIRE, &[&name, &now]).await {
            Ok(rows) => rows,
            Err(e) => {
                let reason = e
                    .as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned());
                return Ok(Ending::Refused(ActionResult::failed(
                    StatusCode::BAD_REQUEST,
                    format!("Schedule {name} could not fire: {reason}"),
                )));
            }
        };
        let fired = match rows.first() {
            Some(r) => r.try_get::<_, Option<i64>>(0)?,
            None => None,
        };
        Ok(match fired {
            Some(id) => Ending::Changed(
                Change::new(Action::ScheduleFire, format!("schedule {name}"))
                    .after(json!({ "fired_at": now })),
                ActionResult::done(format!("Schedule {name} fired: message {id}.")),
            ),
            None => Ending::Unchanged(ActionResult::failed(
                StatusCode::OK,
                format!("Schedule {name} did not fire: it is disabled or unknown."),
            )),
        })
    })
    .await?;
    pages::result(&admin, "schedules", "Fire now", "/schedules", outcome)
}
