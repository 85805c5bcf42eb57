//! How the console prints times and durations, in one place.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;

use crate::db::lenient::Timestamp;

/// A time as the console prints it (UTC, to the second).
pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A time an application wrote, as the console prints it, or what it is
/// when it is not one.
pub fn stamp(t: Timestamp) -> String {
    t.to_utc().map_or_else(|| t.to_string(), time)
}

/// A duration in words: "3 s", "4 min", "2 h 5 min", "3 d".
pub fn age(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

/// A row shown with when it was made (its `created_at`).
#[derive(Serialize)]
pub struct Dated<T> {
    #[serde(flatten)]
    pub item: T,
    pub created_at: String,
}

impl<T> TryFrom<&Row> for Dated<T>
where
    T: for<'a> TryFrom<&'a Row, Error = tokio_postgres::Error>,
{
    type Error = tokio_postgres::Error;
    fn try_from(r: &Row) -> Result<Self, Self::Error> {
        Ok(Dated {
            item: T::try_from(r)?,
            created_at: time(r.try_get("created_at")?),
        })
    }
}

/// The labelled values that are there, in order (a page's details).
pub fn present<K>(fields: impl IntoIterator<Item = (K, Option<String>)>) -> Vec<(K, String)> {
    fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_words() {
        assert_eq!(age(-1.0), "0 s");
        assert_eq!(age(59.9), "59 s");
        assert_eq!(age(125.0), "2 min");
        assert_eq!(age(7500.0), "2 h 5 min");
        assert_eq!(age(3.0 * 86400.0 + 7200.0), "3 d 2 h");
    }
}
