//! Durations in configuration: read as humantime text (`90d`, `1h30m`,
//! `500ms`), printed back in the largest unit that divides them exactly
//! (`90d`, not `2months 29days 2h 52m 48s`).

use std::time::Duration;

use serde::{Deserializer, Serializer};

pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    humantime_serde::deserialize(deserializer)
}

pub(super) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*value))
}

/// `90d`, `36h`, `90m`, `45s`, `1500ms`, `250us`, `7ns`; `0s` for zero.
pub fn format(value: Duration) -> String {
    let nanos = value.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    const UNITS: [(u128, &str); 7] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    let (size, unit) = UNITS
        .iter()
        .find(|(size, _)| nanos.is_multiple_of(*size))
        .copied()
        .unwrap_or((1, "ns"));
    format!("{}{unit}", nanos / size)
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn prints_as_written() {
        for text in [
            "90d", "30d", "10m", "30s", "1h", "500ms", "36h", "90m", "0s", "1500ms",
        ] {
            let parsed = humantime::parse_duration(text).unwrap();
            assert_eq!(format(parsed), text);
        }
        assert_eq!(format(humantime::parse_duration("1h30m").unwrap()), "90m");
    }
}
