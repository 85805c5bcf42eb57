//! `/schedules`: every schedule with its next fire time and last error;
//! enable, disable, fire now.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::csrf::Csrf;
use super::form::Switch;
use super::format::time;
use super::pages::{self, ActionResult, PAGES};
use super::session::{Admin, Session};
use super::{ConsoleError, ConsoleState, Result, audit, queries};
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

/// `GET /schedules`.
pub async fn list(State(state): State<ConsoleState>, session: Session) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let schedules: Vec<Schedule> = client
        .query(queries::SCHEDULES_LIST, &[])
        .await?
        .into_iter()
        .map(|r| {
            let cron: String = r.get("cron");
            let timezone: String = r.get("timezone");
            let enabled: bool = r.get("enabled");
            let message: serde_json::Value = r.get("message");
            Schedule {
                next_fire: next_fire(&cron, &timezone, enabled),
                name: r.get("name"),
                cron,
                timezone,
                message: serde_json::to_string(&message).unwrap_or_default(),
                enabled,
                last_fired_at: r.get::<_, Option<DateTime<Utc>>>("last_fired_at").map(time),
                last_error: r.get("last_error"),
            }
        })
        .collect();
    PAGES.render(
        "schedules.html",
        Some(&session),
        "schedules",
        ctx! { schedules },
    )
}

/// `POST /schedules/{name}/enable` and `…/disable`.
pub async fn switch(
    State(state): State<ConsoleState>,
    session: Admin,
    Path((name, to)): Path<(String, Switch)>,
    _: Csrf,
) -> Result<Response> {
    let enabled = to.on();
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let changed = tx
        .execute(queries::SCHEDULE_ENABLE, &[&name, &enabled])
        .await?;
    if changed == 0 {
        return Err(ConsoleError::NotFound);
    }
    audit::record(
        &tx,
        &session,
        &to.action("schedule"),
        &format!("schedule {name}"),
        Some(json!({ "enabled": !enabled })),
        Some(json!({ "enabled": enabled })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/schedules").into_response())
}

/// `POST /schedules/{name}/fire`: insert its message now (once), as a
/// regular firing would.
pub async fn fire(
    State(state): State<ConsoleState>,
    session: Admin,
    Path(name): Path<String>,
    _: Csrf,
) -> Result<Response> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let now: DateTime<Utc> = tx.query_one(queries::NOW, &[]).await?.get(0);
    let reply = |outcome| pages::result(&session, "schedules", "Fire now", "/schedules", outcome);
    let outcome = match tx.query(statements::SCHEDULE_FIRE, &[&name, &now]).await {
        Ok(rows) => match rows.first().and_then(|r| r.get::<_, Option<i64>>(0)) {
            Some(id) => ActionResult::done(format!("Schedule {name} fired: message {id}.")),
            None => ActionResult::failed(
                StatusCode::OK,
                format!("Schedule {name} did not fire: it is disabled or unknown."),
            ),
        },
        Err(e) => {
            let reason = e
                .as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned());
            drop(tx);
            return reply(ActionResult::failed(
                StatusCode::BAD_REQUEST,
                format!("Schedule {name} could not fire: {reason}"),
            ));
        }
    };
    if outcome.ok {
        audit::record(
            &tx,
            &session,
            "schedule.fire",
            &format!("schedule {name}"),
            None,
            Some(json!({ "fired_at": now })),
        )
        .await?;
    }
    tx.commit().await?;
    reply(outcome)
}
