//! `GET /healthz` (the process answers), `GET /readyz` (database reachable,
//! schema current, dispatcher looping) and `GET /metrics`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::AppState;
use crate::db::migrate;

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let stale_after = state.stale_after;
    if state.databases.is_empty() {
        let report = report(
            &state.pool,
            state.heartbeat.as_deref(),
            state.listen.as_deref(),
            stale_after,
        )
        .await;
        let status = if report.ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return (status, axum::Json(report.json())).into_response();
    }
    // Several databases: each reported under its name, read at once; ready
    // when every one is.
    let reports = futures_util::future::join_all(state.databases.iter().map(|d| {
        report(
            &d.pool,
            Some(&*d.heartbeat),
            d.listen.as_deref(),
            stale_after,
        )
    }))
    .await;
    let ready = reports.iter().all(|r| r.ready);
    let databases: serde_json::Map<String, serde_json::Value> = state
        .databases
        .iter()
        .zip(&reports)
        .map(|(d, r)| (d.name.clone(), r.json()))
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({"ready": ready, "databases": databases})),
    )
        .into_response()
}

/// One database's readiness.
struct Readiness {
    ready: bool,
    database: String,
    migrations: String,
    dispatcher: String,
    listen: &'static str,
}

impl Readiness {
    fn json(&self) -> serde_json::Value {
        json!({"ready": self.ready, "database": self.database, "migrations": self.migrations,
               "dispatcher": self.dispatcher, "listen": self.listen})
    }
}

async fn report(
    pool: &deadpool_postgres::Pool,
    heartbeat: Option<&crate::dispatch::Heartbeat>,
    listen: Option<&crate::dispatch::listener::ListenState>,
    stale_after: Duration,
) -> Readiness {
    let database = tokio::time::timeout(Duration::from_secs(2), async {
        // The pool keeps trying every host of DATABASE_URL (a promoted
        // standby is found so): a connection it cannot make is a reconnect
        // under way.
        let client = pool
            .get()
            .await
            .map_err(|e| format!("reconnecting: cannot get a connection: {e}"))?;
        // Only reads the applied versions; a failure here is the database's,
        // not a migration's.
        let pending = migrate::pending(&client).await.map_err(|e| match e {
            migrate::MigrateError::Db(e) => format!(
                "unreachable: reading outpost.schema_migrations failed: {}",
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned())
            ),
            other => other.to_string(),
        })?;
        Ok::<_, String>(pending)
    })
    .await
    .unwrap_or_else(|_| Err("reconnecting: timed out".into()));
    let (database, migrations) = match database {
        Ok(pending) if pending.is_empty() => ("ok".to_owned(), "current".to_owned()),
        Ok(pending) => ("ok".to_owned(), format!("pending: {}", pending.join(", "))),
        Err(e) => (e, "unknown".to_owned()),
    };
    let dispatcher = match heartbeat {
        None => "not running in this process".to_owned(),
        Some(h) => match h.age() {
            Some(age) if age <= stale_after => "running".to_owned(),
            Some(age) => format!(
                "stalled for {}",
                humantime::format_duration(Duration::from_secs(age.as_secs()))
            ),
            None => "starting".to_owned(),
        },
    };
    // Without LISTEN the dispatcher still polls every poll_interval: slower
    // wake-ups, not unreadiness; reported so an operator sees it.
    let listen = match listen {
        None => "not running in this process",
        Some(l) if l.is_connected() => "connected",
        Some(_) => "reconnecting (polling meanwhile)",
    };
    let ready = database == "ok" && migrations == "current" && dispatcher == "running";
    Readiness {
        ready,
        database,
        migrations,
        dispatcher,
        listen,
    }
}

/// The gauges and counters as last stored: a scrape never touches the
/// database (the queue gauges are refreshed in the background). With
/// `ops.metrics_token` set, only `Authorization: Bearer TOKEN` gets them.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compared by digest so timing reveals nothing of the token.
        if Sha256::digest(given.trim().as_bytes()) != Sha256::digest(token.expose().as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is required (ops.metrics_token)\n",
            )
                .into_response();
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
