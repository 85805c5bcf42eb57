//! The message search's filter: as the form sends it ([`RawFilter`], every
//! field optional text) and checked and typed ([`Filter`]), shared by the
//! list, the count and the bulk actions.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::types::ToSql;

use super::Result;
use super::form::Refusal;
use crate::message::{Kind, Status};

/// The filter as the form sends it: every field optional text.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub user: Option<String>,
    pub address: Option<String>,
    pub tenant: Option<String>,
    pub provider: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub id: Option<String>,
    pub key: Option<String>,
}

/// The filter checked and typed, in the parameter order of
/// `console_message_filter.sql`.
#[derive(Debug, Default)]
pub struct Filter {
    status: Option<String>,
    kind: Option<String>,
    user: Option<String>,
    address: Option<String>,
    tenant: Option<String>,
    provider: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    id: Option<i64>,
    key: Option<String>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `2026-11-25`, `2026-11-25T08:30` (a datetime-local field) or RFC 3339; UTC.
fn parse_time(field: &'static str, text: &str, end_of_day: bool) -> Result<DateTime<Utc>, Refusal> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        return Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(Refusal::new(
        field,
        format!("{text:?} is not a date (2026-11-25) or a time (2026-11-25T08:30)"),
    ))
}

impl RawFilter {
    pub fn check(&self) -> Result<Filter, Refusal> {
        let status = given(&self.status);
        if let Some(s) = &status
            && s.parse::<Status>().is_err()
        {
            return Err(Refusal::new("status", format!("unknown status {s:?}")));
        }
        let kind = given(&self.kind);
        if let Some(k) = &kind {
            k.parse::<Kind>()
                .map_err(|e| Refusal::new("kind", e.to_string()))?;
        }
        let id = match given(&self.id) {
            Some(text) => Some(
                text.trim_start_matches('#')
                    .parse::<i64>()
                    .map_err(|_| Refusal::new("id", format!("{text:?} is not a message id")))?,
            ),
            None => None,
        };
        Ok(Filter {
            status,
            kind,
            user: given(&self.user),
            address: given(&self.address),
            tenant: given(&self.tenant),
            provider: given(&self.provider),
            from: given(&self.from)
                .map(|t| parse_time("from", &t, false))
                .transpose()?,
            to: given(&self.to)
                .map(|t| parse_time("to", &t, true))
                .transpose()?,
            id,
            key: given(&self.key),
        })
    }

    /// The filter as a query string, for links and hidden fields.
    pub fn query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.query()
            .split('&')
            .all(|p| p.ends_with('=') || p.is_empty())
    }
}

impl Filter {
    /// Whether no filter was given (which would match every message).
    fn is_empty(&self) -> bool {
        let Filter {
            status,
            kind,
            user,
            address,
            tenant,
            provider,
            from,
            to,
            id,
            key,
        } = self;
        [status, kind, user, address, tenant, provider, key]
            .iter()
            .all(|v| v.is_none())
            && from.is_none()
            && to.is_none()
            && id.is_none()
    }

    /// The filter for a bulk action: refused when empty.
    pub(super) fn for_bulk(raw: &RawFilter) -> Result<Self, Refusal> {
        let filter = raw.check()?;
        if filter.is_empty() {
            return Err(Refusal::new(
                "filter",
                "a bulk action needs at least one filter (status, kind, user, address, tenant, \
                 provider, dates, id or key); it never acts on every message",
            ));
        }
        Ok(filter)
    }

    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.status,
            &self.kind,
            &self.user,
            &self.address,
            &self.tenant,
            &self.provider,
            &self.from,
            &self.to,
            &self.id,
            &self.key,
        ]
    }
}
