//! What `outpost status` prints: one message with all its attempts, or counts
//! by kind and status with the age of the oldest due message.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::db::Pg;
use crate::db::lenient::Timestamp;
use crate::db::{DbError, statements};
use crate::message::MessageId;

/// A message and its attempts as readable text, or `None` if no such message.
pub async fn message_report(client: &impl Pg, id: MessageId) -> Result<Option<String>, DbError> {
    let Some(m) = client.pg_query_opt(statements::MESSAGE, &[&id.0]).await? else {
        return Ok(None);
    };
    let mut out = String::new();
    // Every column read with try_get, times and text leniently: a row an
    // application wrote is shown whatever it holds.
    let opt_text = |name: &str| m.try_get::<_, Option<String>>(name).ok().flatten();
    let text = |name: &str| opt_text(name).unwrap_or_else(|| "-".into());
    let time = |name: &str| m.try_get::<_, Option<Timestamp>>(name).ok().flatten();
    let _ = writeln!(
        out,
        "message {}  kind {}  status {}{}",
        id,
        text("kind"),
        text("status"),
        if m.try_get::<_, bool>("possible_duplicate").unwrap_or(false) {
            "  (possible duplicate: more than one attempt may have reached the provider)"
        } else {
            ""
        }
    );
    for field in [
        "to_user",
        "to_address",
        "template",
        "subject",
        "provider",
        "tenant",
        "worker",
        "provider_message_id",
        "last_error",
    ] {
        if let Some(v) = opt_text(field) {
            let _ = writeln!(out, "  {field:<20} {v}");
        }
    }
    let max: Option<i32> = m.try_get("max_attempts").ok().flatten();
    let _ = writeln!(
        out,
        "  {:<20} {} of {}",
        "attempts",
        m.try_get::<_, i32>("attempts").unwrap_or_default(),
        max.map_or_else(|| "the configured maximum".to_owned(), |n| n.to_string())
    );
    let _ = writeln!(
        out,
        "  {:<20} {}",
        "priority",
        m.try_get::<_, i16>("priority").unwrap_or_default()
    );
    let deferrals: i32 = m.try_get("deferrals").unwrap_or_default();
    if deferrals > 0 {
        let _ = writeln!(
            out,
            "  {:<20} {deferrals} (sent back unsent while the provider's circuit was open)",
            "deferrals"
        );
    }
    for field in [
        "created_at",
        "run_at",
        "expires_at",
        "leased_until",
        "sent_at",
        "finished_at",
        "updated_at",
    ] {
        if let Some(t) = time(field) {
            let _ = writeln!(out, "  {field:<20} {}", fmt_stamp(t));
        }
    }
    let attempts = client
        .pg_query(statements::MESSAGE_ATTEMPTS, &[&id.0])
        .await?;
    if attempts.is_empty() {
        let _ = writeln!(out, "no attempts yet");
    }
    for a in &attempts {
        let _ = writeln!(
            out,
            "attempt {}  {}  via {}  by {}  {} → {}{}",
            a.get::<_, i32>("attempt"),
            match a.get::<_, Option<String>>("late_outcome") {
                Some(late) => format!("{} (late report: {late})", a.get::<_, String>("outcome")),
                None => a.get::<_, String>("outcome"),
            },
            a.get::<_, Option<String>>("provider")
                .unwrap_or_else(|| "-".into()),
            a.get::<_, String>("worker"),
            fmt_time(a.get("started_at")),
            fmt_time(a.get("finished_at")),
            if a.get::<_, bool>("applied") {
                ""
            } else {
                "  (not applied: lease lost)"
            },
        );
        for field in ["provider_code", "provider_message_id", "error", "note"] {
            if let Some(v) = a.get::<_, Option<String>>(field) {
                let _ = writeln!(out, "    {field:<19} {v}");
            }
        }
    }
    Ok(Some(out))
}

/// Counts by kind and status, and how long the oldest due message has waited.
pub async fn summary(
    client: &impl Pg,
    limits: &crate::config::LimitsSettings,
) -> Result<String, DbError> {
    let rows = client.pg_query(statements::STATUS_COUNTS, &[]).await?;
    let mut out = String::new();
    if !limits.daily.is_empty() {
        let mut sent = std::collections::HashMap::new();
        for row in client.pg_query(statements::TENANT_DAYS, &[]).await? {
            let (tenant, kind, n): (String, String, i32) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            sent.insert((tenant, kind), n);
        }
        let mut caps: Vec<_> = limits.daily.iter().collect();
        caps.sort();
        for ((tenant, kind), cap) in caps {
            let n = sent
                .get(&(tenant.clone(), kind.as_str().to_owned()))
                .copied()
                .unwrap_or(0);
            let _ = writeln!(
                out,
                "{} tenant {tenant} {kind}: {n} of {cap} sent today (UTC){}",
                if i64::from(n) >= i64::from(*cap) {
                    "CAPPED"
                } else {
                    "daily cap"
                },
                if i64::from(n) >= i64::from(*cap) {
                    "; the rest wait until tomorrow"
                } else {
                    ""
                },
            );
        }
    }
    for rate in rates(client, limits).await? {
        let _ = writeln!(out, "{rate}");
    }
    for p in crate::pause::list(client).await? {
        let _ = writeln!(
            out,
            "PAUSED {} {} by {} since {}{}{}",
            p.scope,
            p.name,
            p.paused_by,
            p.paused_at.format("%Y-%m-%d %H:%M:%S UTC"),
            p.held
                .map(|n| format!(", holding {n} queued"))
                .unwrap_or_default(),
            p.reason.map(|r| format!(": {r}")).unwrap_or_default(),
        );
    }
    let _ = writeln!(out, "{:<8} {:<11} {:>10}", "kind", "status", "messages");
    for r in &rows {
        let _ = writeln!(
            out,
            "{:<8} {:<11} {:>10}",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, i64>(2)
        );
    }
    if rows.is_empty() {
        let _ = writeln!(out, "(no messages)");
    }
    let oldest: Option<f64> = client
        .pg_query_one(statements::OLDEST_QUEUED, &[])
        .await?
        .get(0);
    match oldest {
        Some(secs) => {
            let age = std::time::Duration::from_secs(secs.max(0.0) as u64);
            let _ = writeln!(
                out,
                "oldest due queued message: waiting {}",
                humantime::format_duration(age)
            );
        }
        None => {
            let _ = writeln!(out, "no due queued messages");
        }
    }
    Ok(out)
}

/// A time as [`fmt_time`] writes it, or what it is when it is not one.
fn fmt_stamp(t: Timestamp) -> String {
    t.to_utc()
        .map_or_else(|| t.to_string(), |utc| fmt_time(Some(utc)))
}

fn fmt_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".into(),
        |t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
    )
}

/// A user's messages created since `since`, one line each.
pub async fn user_report(
    client: &impl Pg,
    user: &str,
    since: DateTime<Utc>,
) -> Result<String, DbError> {
    let rows = client
        .pg_query(statements::STATUS_USER, &[&user, &since])
        .await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>10}  {:<6} {:<10} {:>8}  {:<10} {:<27} last event / error",
        "id", "kind", "status", "attempts", "provider", "created"
    );
    for r in &rows {
        let tail = r
            .get::<_, Option<String>>("last_event")
            .or_else(|| r.get::<_, Option<String>>("last_error"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:>10}  {:<6} {:<10} {:>8}  {:<10} {:<27} {}",
            r.get::<_, i64>("id"),
            r.get::<_, String>("kind"),
            r.get::<_, String>("status"),
            r.get::<_, i32>("attempts"),
            r.get::<_, String>("provider"),
            fmt_time(r.get("created_at")),
            tail
        );
    }
    let _ = writeln!(
        out,
        "{} message(s) for user {user} since {}",
        rows.len(),
        fmt_time(Some(since))
    );
    Ok(out)
}

/// Counts, success rate and latency percentiles since `since`.
pub async fn stats(client: &impl Pg, since: DateTime<Utc>) -> Result<String, DbError> {
    let mut out = String::new();
    let _ = writeln!(out, "messages created since {}:", fmt_time(Some(since)));
    for r in client.pg_query(statements::STATS_STATUS, &[&since]).await? {
        let _ = writeln!(
            out,
            "  {:<6} {:<11} {:>10}",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, i64>(2)
        );
    }
    let _ = writeln!(
        out,
        "attempts:\n  {:<6} {:<10} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "kind",
        "provider",
        "attempts",
        "sent",
        "retried",
        "failed",
        "unknown",
        "success",
        "p50 ms",
        "p95 ms"
    );
    for r in client.pg_query(statements::STATS, &[&since]).await? {
        let attempts: i64 = r.get("attempts");
        let sent: i64 = r.get("sent");
        let rate = if attempts > 0 {
            100.0 * sent as f64 / attempts as f64
        } else {
            0.0
        };
        let ms = |name: &str| {
            r.get::<_, Option<f64>>(name)
                .map_or_else(|| "-".to_owned(), |s| format!("{:.1}", s * 1000.0))
        };
        let _ = writeln!(
            out,
            "  {:<6} {:<10} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8.1}% {:>9} {:>9}",
            r.get::<_, String>("kind"),
            r.get::<_, String>("provider"),
            attempts,
            sent,
            r.get::<_, i64>("retried"),
            r.get::<_, i64>("failed"),
            r.get::<_, i64>("unknown"),
            rate,
            ms("p50"),
            ms("p95"),
        );
    }
    Ok(out)
}

/// A rated tenant's kind (`[limits.rate]`) as it stands now.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rate {
    pub tenant: String,
    pub kind: String,
    /// Most messages a second.
    pub per_second: f64,
    /// Whole messages its bucket lets go now.
    pub allowance: i32,
    /// Its queued messages due now.
    pub due: i64,
}

impl Rate {
    /// More are due than its bucket lets go now: they wait their turn.
    pub fn holding(&self) -> bool {
        self.due > i64::from(self.allowance)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            tenant,
            kind,
            per_second,
            due,
            ..
        } = self;
        if self.holding() {
            write!(
                f,
                "RATE-LIMITED tenant {tenant} {kind}: {per_second} a second \
                 (limits.rate.{tenant}.{kind}); {due} due wait their turn"
            )
        } else {
            write!(
                f,
                "rate tenant {tenant} {kind}: {per_second} a second; {due} due"
            )
        }
    }
}

/// Every rated tenant's kind in `limits`, with its bucket and due messages.
pub async fn rates(
    client: &impl Pg,
    limits: &crate::config::LimitsSettings,
) -> Result<Vec<Rate>, DbError> {
    if limits.rate.is_empty() {
        return Ok(Vec::new());
    }
    let tenants: Vec<&str> = limits.rate.keys().map(|(t, _)| t.as_str()).collect();
    let kinds: Vec<&str> = limits.rate.keys().map(|(_, k)| k.as_str()).collect();
    let per_second: Vec<f64> = limits.rate.values().copied().collect();
    let rows = client
        .pg_query(statements::TENANT_RATES, &[&tenants, &kinds, &per_second])
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Rate {
                tenant: row.try_get("tenant")?,
                kind: row.try_get("kind")?,
                per_second: row.try_get("rate")?,
                allowance: row.try_get("allowance")?,
                due: row.try_get("due")?,
            })
        })
        .collect()
}
