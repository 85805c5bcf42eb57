//! Quiet hours: a daily window of local wall-clock time (`22:00-07:00`) in
//! the recipient's time zone during which messages of some kinds wait. Pure
//! functions: whether an instant falls inside a window, and when it ends,
//! correct across DST changes and windows that cross midnight.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::message::Kind;

/// `[quiet_hours]`, checked (by `config`): which window applies to whom.
#[derive(Debug, Clone, Default)]
pub struct QuietHoursSettings {
    /// For recipients without their own and without a tenant default; `None`: off.
    pub default: Option<Window>,
    /// Per tenant, for recipients without their own.
    pub tenants: HashMap<String, Window>,
    /// The kinds that wait (default sms, voice, push).
    pub kinds: Vec<Kind>,
    /// Messages with at least this priority are sent at once.
    pub bypass_priority: i32,
}

/// A message's recipient as quiet hours see it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecipientHours<'a> {
    /// Their own window (`recipients.quiet_hours`), as stored.
    pub own: Option<&'a str>,
    pub tenant: Option<&'a str>,
    pub timezone: Option<&'a str>,
}

/// A message held back until its recipient's quiet hours end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub until: DateTime<Utc>,
    /// Why, for `last_error` while it waits.
    pub reason: String,
}

impl QuietHoursSettings {
    /// Whether a message of `kind` and `priority` to `to` waits at `now`,
    /// and until when: the recipient's own window, else their tenant's,
    /// else the default.
    pub fn hold(
        &self,
        kind: Kind,
        priority: i32,
        to: RecipientHours<'_>,
        now: DateTime<Utc>,
    ) -> Option<Held> {
        if !self.kinds.contains(&kind) || priority >= self.bypass_priority {
            return None;
        }
        let (window, whose) = match to.own.map(str::parse::<Window>) {
            Some(Ok(own)) => (own, "the recipient's"),
            _ => match to.tenant.and_then(|t| self.tenants.get(t)) {
                Some(tenant) => (*tenant, "the tenant's"),
                None => (self.default?, "the default"),
            },
        };
        let (tz, unknown) = zone(to.timezone);
        let until = window.ends_after(now, tz)?;
        let mut reason = format!(
            "quiet hours {window} ({whose}, {tz}): not sent, waiting until {}",
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        if let Some(unknown) = unknown {
            reason = format!("{reason}; {unknown}");
        }
        Some(Held { until, reason })
    }
}

/// A daily window `start-end` of local time; it crosses midnight when `end`
/// is earlier than `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// Why a window could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quiet hours {text:?}: {reason} (expected HH:MM-HH:MM, e.g. 22:00-07:00)")]
pub struct WindowError {
    text: String,
    reason: &'static str,
}

impl FromStr for Window {
    type Err = WindowError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason| WindowError {
            text: text.to_owned(),
            reason,
        };
        let (start, end) = text.trim().split_once('-').ok_or(error("no '-'"))?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| error("not a time of day"))
        };
        let window = Window {
            start: time(start)?,
            end: time(end)?,
        };
        if window.start == window.end {
            return Err(error("start and end are the same"));
        }
        Ok(window)
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

impl Window {
    /// When the window that `now` falls in ends, in `tz`; `None` when `now`
    /// is outside the window.
    pub fn ends_after(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&tz);
        let (date, time) = (local.date_naive(), local.time());
        let end_date = if self.start < self.end {
            (self.start <= time && time < self.end).then_some(date)?
        } else if time >= self.start {
            date.checked_add_days(Days::new(1))?
        } else if time < self.end {
            date
        } else {
            return None;
        };
        Some(first_instant_at_or_after(tz, end_date, self.end))
    }
}

/// The first instant whose local time in `tz` is `time` on `date` or, when
/// that wall-clock time does not exist (a DST gap), the first that does after
/// it; of two (a DST overlap), the earlier.
fn first_instant_at_or_after(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let wanted = date.and_time(time);
    // Gaps are at most a few hours long; step through one a minute at a time.
    for minutes in 0..=24 * 60 {
        match tz.from_local_datetime(&(wanted + Duration::minutes(minutes))) {
            LocalResult::Single(at) => return at.with_timezone(&Utc),
            LocalResult::Ambiguous(earlier, _) => return earlier.with_timezone(&Utc),
            LocalResult::None => continue,
        }
    }
    // Unreachable for real zones: read the wall time as UTC.
    Utc.from_utc_datetime(&wanted)
}

/// The time zone named `name` (IANA, e.g. `Europe/Dublin`); UTC when unset
/// or unknown, with the reason in the second value.
pub fn zone(name: Option<&str>) -> (Tz, Option<String>) {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => (Tz::UTC, None),
        Some(n) => match n.parse::<Tz>() {
            Ok(tz) => (tz, None),
            Err(_) => (
                Tz::UTC,
                Some(format!("unknown time zone {n:?}; quiet hours read in UTC")),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn window(text: &str) -> Window {
        text.parse().unwrap()
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!(window("22:00-07:00").to_string(), "22:00-07:00");
        assert_eq!(window(" 9:05 - 17:30 ").to_string(), "09:05-17:30");
        for bad in ["", "22:00", "22:00-25:00", "x-07:00", "07:00-07:00"] {
            assert!(bad.parse::<Window>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_window_across_midnight_ends_the_next_morning() {
        let w = window("22:00-07:00");
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // 23:30 Berlin (CET, UTC+1) on 14 January → 07:00 CET on the 15th.
        assert_eq!(
            w.ends_after(utc("2026-01-14T22:30:00Z"), tz),
            Some(utc("2026-01-15T06:00:00Z"))
        );
        // 06:59 Berlin → 07:00 the same morning.
        assert_eq!(
            w.ends_after(utc("2026-01-15T05:59:00Z"), tz),
            Some(utc("2026-01-15T06:00:00Z"))
        );
        // 07:00 and 21:59 are outside.
        assert_eq!(w.ends_after(utc("2026-01-15T06:00:00Z"), tz), None);
        assert_eq!(w.ends_after(utc("2026-01-15T20:59:00Z"), tz), None);
    }

    #[test]
    fn a_window_within_a_day() {
        let w = window("12:00-14:00");
        let tz: Tz = "Asia/Tokyo".parse().unwrap();
        assert_eq!(
            w.ends_after(utc("2026-06-01T03:30:00Z"), tz),
            Some(utc("2026-06-01T05:00:00Z"))
        );
        assert_eq!(w.ends_after(utc("2026-06-01T05:00:00Z"), tz), None);
        assert_eq!(w.ends_after(utc("2026-06-01T02:59:00Z"), tz), None);
    }

    #[test]
    fn spring_forward_inside_the_window() {
        // Dublin: 29 March 2026 01:00 GMT becomes 02:00 IST. A night that
        // starts in winter time ends at 07:00 summer time: 06:00 UTC, not 07:00.
        let w = window("22:00-07:00");
        let tz: Tz = "Europe/Dublin".parse().unwrap();
        assert_eq!(
            w.ends_after(utc("2026-03-28T23:30:00Z"), tz),
            Some(utc("2026-03-29T06:00:00Z"))
        );
        // The same wall-clock window in New York, which changed on 8 March:
        // 23:30 EDT on the 28th is 03:30 UTC; the end is 07:00 EDT = 11:00 UTC.
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            w.ends_after(utc("2026-03-29T03:30:00Z"), ny),
            Some(utc("2026-03-29T11:00:00Z"))
        );
    }

    #[test]
    fn fall_back_inside_the_window() {
        // New York: 1 November 2026 02:00 EDT becomes 01:00 EST. 23:00 EDT on
        // 31 October (03:00 UTC) → 08:00 EST = 13:00 UTC: nine hours of UTC
        // for an eight-hour-later wall clock reading plus the extra hour.
        let w = window("21:00-08:00");
        let tz: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            w.ends_after(utc("2026-11-01T03:00:00Z"), tz),
            Some(utc("2026-11-01T13:00:00Z"))
        );
        // In the repeated hour (01:30 EST, the second time) still inside.
        assert_eq!(
            w.ends_after(utc("2026-11-01T06:30:00Z"), tz),
            Some(utc("2026-11-01T13:00:00Z"))
        );
    }

    #[test]
    fn an_end_in_a_dst_gap_or_overlap() {
        // Dublin has no 01:30 on 29 March 2026: the window ends at 02:00 IST.
        let tz: Tz = "Europe/Dublin".parse().unwrap();
        assert_eq!(
            window("00:00-01:30").ends_after(utc("2026-03-29T00:30:00Z"), tz),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        // New York reads 01:30 twice on 1 November 2026: the first one ends it.
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            window("00:00-01:30").ends_after(utc("2026-11-01T04:30:00Z"), ny),
            Some(utc("2026-11-01T05:30:00Z"))
        );
    }

    fn settings() -> QuietHoursSettings {
        QuietHoursSettings {
            default: None,
            tenants: [("acme".to_owned(), window("21:00-08:00"))].into(),
            kinds: vec![Kind::Sms, Kind::Voice, Kind::Push],
            bypass_priority: 10,
        }
    }

    #[test]
    fn own_window_then_tenant_then_default_and_urgency_bypasses() {
        let s = settings();
        let now = utc("2026-01-15T22:30:00Z");
        let dublin = RecipientHours {
            own: Some("22:00-07:00"),
            tenant: Some("acme"),
            timezone: Some("Europe/Dublin"),
        };
        let held = s.hold(Kind::Sms, 0, dublin, now).unwrap();
        assert_eq!(held.until, utc("2026-01-16T07:00:00Z"));
        assert!(
            held.reason
                .contains("22:00-07:00 (the recipient's, Europe/Dublin)")
        );
        // Urgent enough, or a kind quiet hours leave alone: no wait.
        assert_eq!(s.hold(Kind::Sms, 10, dublin, now), None);
        assert_eq!(s.hold(Kind::Email, 0, dublin, now), None);
        // No own window: the tenant's (21:00-08:00) in Tokyo (UTC+9):
        // 22:30 UTC is 07:30 there, still quiet until 08:00 = 23:00 UTC.
        let tokyo = RecipientHours {
            own: None,
            tenant: Some("acme"),
            timezone: Some("Asia/Tokyo"),
        };
        assert_eq!(
            s.hold(Kind::Push, 0, tokyo, now).unwrap().until,
            utc("2026-01-15T23:00:00Z")
        );
        // No tenant window and no default: off.
        let nobody = RecipientHours {
            own: None,
            tenant: Some("other"),
            timezone: Some("Asia/Tokyo"),
        };
        assert_eq!(s.hold(Kind::Push, 0, nobody, now), None);
        let with_default = QuietHoursSettings {
            default: Some(window("07:00-09:00")),
            ..settings()
        };
        assert_eq!(
            with_default.hold(Kind::Push, 0, nobody, now).unwrap().until,
            utc("2026-01-16T00:00:00Z")
        );
    }

    #[test]
    fn zones_fall_back_to_utc_with_a_reason() {
        assert_eq!(zone(None), (Tz::UTC, None));
        assert_eq!(zone(Some("Europe/Dublin")).0, Tz::Europe__Dublin);
        let (tz, why) = zone(Some("Mars/Olympus"));
        assert_eq!(tz, Tz::UTC);
        assert!(why.unwrap().contains("Mars/Olympus"));
    }
}
