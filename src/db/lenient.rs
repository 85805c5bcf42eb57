//! Columns read leniently, for pages and reports: a `timestamptz` that may be
//! infinite or past chrono's range, and JSON nested deeper than serde_json
//! reads. Their decoders never fail on what PostgreSQL stores, so a message
//! written before the schema refused such values is shown, not an error.

use std::fmt;

use chrono::{DateTime, Utc};
use tokio_postgres::types::{FromSql, Type};

/// Microseconds since 2000-01-01 UTC, PostgreSQL's own representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(i64);

/// 2000-01-01 00:00:00 UTC in microseconds since the Unix epoch.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

impl Timestamp {
    /// The time, when it is finite and within chrono's range.
    pub fn to_utc(self) -> Option<DateTime<Utc>> {
        if self.0 == i64::MAX || self.0 == i64::MIN {
            return None;
        }
        self.0
            .checked_add(POSTGRES_EPOCH_MICROS)
            .and_then(DateTime::<Utc>::from_timestamp_micros)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t.timestamp_micros().saturating_sub(POSTGRES_EPOCH_MICROS))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.to_utc()) {
            (i64::MAX, _) => f.write_str("infinity"),
            (i64::MIN, _) => f.write_str("-infinity"),
            (_, Some(t)) => write!(f, "{}", t.format("%Y-%m-%d %H:%M:%S UTC")),
            (_, None) => f.write_str("out of range"),
        }
    }
}

impl<'a> FromSql<'a> for Timestamp {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let bytes: [u8; 8] = raw
            .try_into()
            .map_err(|_| "a timestamp is 8 bytes on the wire")?;
        Ok(Self(i64::from_be_bytes(bytes)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ || *ty == Type::TIMESTAMP
    }
}

/// A `jsonb` value, or its text when serde_json cannot read it (too deep).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Value(serde_json::Value),
    Unreadable { text: String, reason: String },
}

impl Json {
    /// Indented JSON, or the stored text with the reason it could not be read.
    pub fn pretty(&self) -> String {
        match self {
            Json::Value(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
            Json::Unreadable { text, reason } => {
                format!("{text}\n(not readable as JSON here: {reason})")
            }
        }
    }

    /// The value, or an empty object when it cannot be read.
    pub fn value_or_empty(self) -> serde_json::Value {
        match self {
            Json::Value(v) => v,
            Json::Unreadable { .. } => serde_json::Value::Object(serde_json::Map::new()),
        }
    }
}

impl<'a> FromSql<'a> for Json {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        // jsonb's binary form is a version byte (1) then the text.
        let text = if *ty == Type::JSONB {
            match raw.split_first() {
                Some((1, rest)) => rest,
                _ => return Err("unsupported jsonb version".into()),
            }
        } else {
            raw
        };
        Ok(match serde_json::from_slice(text) {
            Ok(v) => Json::Value(v),
            Err(e) => Json::Unreadable {
                text: String::from_utf8_lossy(text).into_owned(),
                reason: e.to_string(),
            },
        })
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinite_and_far_times_are_shown_not_refused() {
        let decode =
            |micros: i64| Timestamp::from_sql(&Type::TIMESTAMPTZ, &micros.to_be_bytes()).unwrap();
        assert_eq!(decode(i64::MAX).to_string(), "infinity");
        assert_eq!(decode(i64::MIN).to_string(), "-infinity");
        assert_eq!(decode(0).to_string(), "2000-01-01 00:00:00 UTC");
        // About the year 270000: valid in PostgreSQL, past chrono's 262143.
        assert_eq!(
            decode(8_457_263_136_000_000_000).to_string(),
            "out of range"
        );
        assert_eq!(decode(i64::MAX).to_utc(), None);
        let now = Utc::now();
        let round = Timestamp::from(now).to_utc().unwrap();
        assert_eq!(round.timestamp_micros(), now.timestamp_micros());
    }

    #[test]
    fn json_too_deep_for_serde_keeps_its_text() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let mut raw = vec![1u8];
        raw.extend_from_slice(deep.as_bytes());
        let json = Json::from_sql(&Type::JSONB, &raw).unwrap();
        assert!(matches!(&json, Json::Unreadable { text, .. } if *text == deep));
        assert!(json.pretty().contains("recursion limit"));
        let ok = Json::from_sql(&Type::JSONB, b"\x01{\"a\":1}").unwrap();
        assert_eq!(ok, Json::Value(serde_json::json!({"a": 1})));
    }
}
