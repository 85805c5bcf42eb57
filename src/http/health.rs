//! `GET /healthz` (the process answers), `GET /readyz` (database reachable,
//! schema current, dispatcher looping) and `GET /metrics`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::db::{migrate, statements};

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = tokio::time::timeout(Duration::from_secs(2), async {
        let client = state
            .pool
            .get()
            .await
            .map_err(|e| format!("cannot get a connection: {e}"))?;
        // Only reads the applied versions; a failure here is the database's,
        // not a migration's.
        let pending = migrate::pending(&client).await.map_err(|e| match e {
            migrate::MigrateError::Db(e) => format!(
                "reading outpost.schema_migrations failed: {}",
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned())
            ),
            other => other.to_string(),
        })?;
        Ok::<_, String>(pending)
    })
    .await
    .unwrap_or_else(|_| Err("timed out".into()));
    let (database, migrations) = match database {
        Ok(pending) if pending.is_empty() => ("ok".to_owned(), "current".to_owned()),
        Ok(pending) => ("ok".to_owned(), format!("pending: {}", pending.join(", "))),
        Err(e) => (format!("unreachable: {e}"), "unknown".to_owned()),
    };
    let dispatcher = match &state.heartbeat {
        None => "not running in this process".to_owned(),
        Some(h) => match h.age() {
            Some(age) if age <= state.stale_after => "running".to_owned(),
            Some(age) => format!(
                "stalled for {}",
                humantime::format_duration(Duration::from_secs(age.as_secs()))
            ),
            None => "starting".to_owned(),
        },
    };
    // Without LISTEN the dispatcher still polls every poll_interval: slower
    // wake-ups, not unreadiness; reported so an operator sees it.
    let listen = match &state.listen {
        None => "not running in this process",
        Some(l) if l.is_connected() => "connected",
        Some(_) => "reconnecting (polling meanwhile)",
    };
    let ready = database == "ok" && migrations == "current" && dispatcher == "running";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(
            json!({"ready": ready, "database": database, "migrations": migrations, "dispatcher": dispatcher, "listen": listen}),
        ),
    )
        .into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    if let Ok(client) = state.pool.get().await {
        let counts = client.query(statements::STATUS_COUNTS, &[]).await;
        let oldest = client.query_one(statements::OLDEST_QUEUED, &[]).await;
        if let (Ok(rows), Ok(oldest)) = (counts, oldest) {
            let counts: Vec<(String, String, i64)> = rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            state
                .metrics
                .set_queue(&counts, oldest.get::<_, Option<f64>>(0).unwrap_or(0.0));
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}
