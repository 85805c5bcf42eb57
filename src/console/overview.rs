//! `GET /`: messages by kind and status, attempt outcomes per minute over
//! the last hour and per hour over the last day, the oldest queued
//! message's age, each daemon's heartbeat and its providers' circuits.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;
use tokio_postgres::Row;

use super::chart::{self, Chart};
use super::format::{age, time};
use super::pages;
use super::session::Session;
use super::{ConsoleError, ConsoleState, Result, queries};
use crate::db::Pg;
use crate::db::statements;
use crate::message::{AttemptResult, Kind, Status};

/// Statuses in the order the table shows them.
pub const STATUSES: [Status; 9] = Status::ALL;

/// Their names, for the templates.
pub fn status_names() -> [&'static str; 9] {
    STATUSES.map(Status::as_str)
}

/// A daemon is alive while its heartbeat is younger than this (it beats every 10 s).
pub const ALIVE_SECONDS: f64 = 45.0;

#[derive(Serialize)]
struct CountRow {
    kind: &'static str,
    counts: Vec<i64>,
    total: i64,
}

#[derive(Serialize)]
struct Circuit {
    provider: String,
    state: String,
    retry_in: Option<String>,
}

#[derive(Serialize)]
struct Daemon {
    worker: String,
    host: String,
    pid: i32,
    version: String,
    started_at: String,
    last_seen: String,
    age: String,
    alive: bool,
    circuits: Vec<Circuit>,
}

impl TryFrom<&Row> for Daemon {
    type Error = tokio_postgres::Error;
    fn try_from(r: &Row) -> Result<Self, Self::Error> {
        let seconds: f64 = r.try_get("age")?;
        let circuits: serde_json::Value = r.try_get("circuits")?;
        Ok(Daemon {
            worker: r.try_get("worker")?,
            host: r.try_get("host")?,
            pid: r.try_get("pid")?,
            version: r.try_get("version")?,
            started_at: time(r.try_get("started_at")?),
            last_seen: time(r.try_get("last_seen")?),
            age: age(seconds),
            alive: seconds < ALIVE_SECONDS,
            circuits: circuits
                .as_array()
                .map(|a| a.iter().map(Circuit::from_json).collect())
                .unwrap_or_default(),
        })
    }
}

impl Circuit {
    /// A circuit as the heartbeat stores it.
    fn from_json(c: &serde_json::Value) -> Self {
        Circuit {
            provider: c["provider"].as_str().unwrap_or("?").to_owned(),
            state: c["state"].as_str().unwrap_or("?").to_owned(),
            retry_in: c["retry_in_ms"]
                .as_f64()
                .map(|ms| age((ms / 1000.0).ceil())),
        }
    }
}

/// The overview page.
#[derive(Serialize, Default)]
pub(super) struct OverviewPage {
    statuses: [&'static str; 9],
    counts: Vec<CountRow>,
    per_minute: Chart,
    per_hour: Chart,
    oldest_queued: Option<String>,
    daemons: Vec<Daemon>,
    pauses: Vec<crate::pause::Pause>,
    rates: Vec<crate::status::Rate>,
    tenants: Vec<TenantQueue>,
    /// The tenant a scoped user sees, alone; `None` for every tenant.
    scoped: Option<String>,
    now: String,
}

/// One tenant's queue of one kind.
#[derive(Serialize)]
struct TenantQueue {
    tenant: String,
    kind: String,
    queued: i64,
    due: i64,
    /// How long its longest-waiting due message has waited, in seconds.
    waited: Option<f64>,
}

from_row!(TenantQueue {
    tenant,
    kind,
    queued,
    due,
    waited
});

page! {
    OverviewPage => "overview.html", "overview";
}

/// `GET /`. A user scoped to a tenant sees that tenant's messages, queue,
/// attempts, rates and the pauses that hold it, and not the daemons.
pub async fn page(State(state): State<ConsoleState>, session: Session) -> Result<Response> {
    let tenant = session.tenant.as_deref();
    // The three costly reads run at once, each on its own connection.
    let (client, second, third) =
        tokio::try_join!(state.pool.get(), state.pool.get(), state.pool.get())?;
    let now: DateTime<Utc> = client.pg_query_one(queries::NOW, &[]).await?.try_get(0)?;
    let (count_rows, hours, minutes) = tokio::try_join!(
        async {
            client
                .pg_query(queries::OVERVIEW_COUNTS, &[&tenant])
                .await
                .map_err(ConsoleError::from)
        },
        activity(
            &second,
            now,
            24,
            Duration::hours(1),
            "hour",
            "%H:00",
            tenant
        ),
        activity(
            &third,
            now,
            60,
            Duration::minutes(1),
            "minute",
            "%H:%M",
            tenant
        ),
    )?;
    let tenants: Vec<TenantQueue> = queries::decode(
        &client
            .pg_query(queries::OVERVIEW_TENANTS, &[&tenant])
            .await?,
    )?;
    let oldest: Option<f64> = match tenant {
        None => client
            .pg_query_one(statements::OLDEST_QUEUED, &[])
            .await?
            .try_get(0)?,
        Some(_) => tenants.iter().filter_map(|t| t.waited).reduce(f64::max),
    };
    let daemons = match tenant {
        None => queries::decode(&client.pg_query(queries::DAEMONS, &[]).await?)?,
        Some(_) => Vec::new(),
    };
    let mut pauses = crate::pause::list(&**client).await?;
    let mut rates = crate::status::rates(&**client, &state.config.limits).await?;
    if let Some(tenant) = tenant {
        pauses.retain(|p| p.scope != "tenant" || p.name == tenant);
        rates.retain(|r| r.tenant == tenant);
    }
    let page = OverviewPage {
        statuses: status_names(),
        counts: counts(&count_rows)?,
        per_minute: chart::stacked("Attempts per minute, last hour", &minutes, 10),
        per_hour: chart::stacked("Attempts per hour, last 24 hours", &hours, 3),
        oldest_queued: oldest.map(age),
        daemons,
        pauses,
        rates,
        tenants,
        scoped: tenant.map(str::to_owned),
        now: time(now),
    };
    Ok(pages::render(&session, &page)?.into_response())
}

/// Messages by kind (every kind, in order) and status (in [`STATUSES`] order).
fn counts(rows: &[Row]) -> Result<Vec<CountRow>> {
    let mut table: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let Ok(status) = row.try_get::<_, Status>("status") else {
            continue;
        };
        let Some(k) = Kind::ALL.iter().find(|k| k.as_str() == kind) else {
            continue;
        };
        if let Some(i) = STATUSES.iter().position(|s| *s == status) {
            table
                .entry(k.as_str())
                .or_insert_with(|| vec![0; STATUSES.len()])[i] += row.try_get::<_, i64>("n")?;
        }
    }
    Ok(Kind::ALL
        .iter()
        .map(|k| {
            let counts = table
                .remove(k.as_str())
                .unwrap_or_else(|| vec![0; STATUSES.len()]);
            CountRow {
                kind: k.as_str(),
                total: counts.iter().sum(),
                counts,
            }
        })
        .collect())
}

/// `n` buckets of `step` ending at `now`: (label, [sent, retried, failed]).
async fn activity(
    client: &deadpool_postgres::Object,
    now: DateTime<Utc>,
    n: i64,
    step: Duration,
    unit: &str,
    format: &str,
    tenant: Option<&str>,
) -> Result<Vec<(String, [i64; 3])>> {
    let end = now.duration_trunc(step).unwrap_or(now);
    let start = end - step * (n as i32 - 1);
    let mut buckets: Vec<(DateTime<Utc>, [i64; 3])> =
        (0..n).map(|i| (start + step * i as i32, [0; 3])).collect();
    for row in client
        .pg_query(queries::OVERVIEW_ACTIVITY, &[&start, &unit, &tenant])
        .await?
    {
        let at: DateTime<Utc> = row.try_get("bucket")?;
        let outcome: AttemptResult = row.try_get("outcome")?;
        let Some(series) = chart::SERIES.iter().position(|(o, _)| *o == outcome) else {
            continue;
        };
        if let Some(b) = buckets.iter_mut().find(|(t, _)| *t == at) {
            b.1[series] += row.try_get::<_, i64>("n")?;
        }
    }
    Ok(buckets
        .into_iter()
        .map(|(t, v)| (t.format(format).to_string(), v))
        .collect())
}
