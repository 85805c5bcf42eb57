//! A point in commit order: a PostgreSQL snapshot (`pg_snapshot`,
//! `xmin:xmax:xip,…`) names exactly which transactions had committed when
//! it was taken. "What committed since snapshot S" is the rows whose writer
//! S does not see, however their ids were ordered; the inbox keeps one per
//! stream and puts it in each message event's id, so that a reconnect
//! replays exactly what the client had not been sent.

use std::fmt;

/// In-progress transactions kept in an event id; a snapshot with more is
/// cut down to one that sees less (a replay then sends a few messages
/// twice, never too few).
const MOST_IN_PROGRESS: usize = 32;

/// Transactions below `xmin` had ended when the snapshot was taken, those
/// from `xmax` on had not begun, and those in `in_progress` had not ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    xmin: u64,
    xmax: u64,
    in_progress: Vec<u64>,
}

impl Snapshot {
    /// Parses PostgreSQL's text form; `None` unless it is well formed
    /// (`xmin <= xip < xmax`, the xips ascending, within the bound).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let (xmin, xmax, xips) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let number = |s: &str| {
            (!s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
                .filter(|n| *n < 1 << 62)
        };
        let (xmin, xmax) = (number(xmin)?, number(xmax)?);
        let in_progress = if xips.is_empty() {
            Vec::new()
        } else {
            xips.split(',').map(number).collect::<Option<Vec<u64>>>()?
        };
        let ascending = in_progress.windows(2).all(|w| w[0] < w[1]);
        let within = in_progress.iter().all(|x| (xmin..xmax).contains(x));
        (xmin <= xmax && ascending && within && in_progress.len() <= MOST_IN_PROGRESS * 8)
            .then_some(Self {
                xmin,
                xmax,
                in_progress,
            })
    }

    fn sees(&self, xid: u64) -> bool {
        xid < self.xmin || (xid < self.xmax && self.in_progress.binary_search(&xid).is_err())
    }

    /// Whether this snapshot sees every transaction `other` sees: none of
    /// its in-progress ones is seen by `other`, and every transaction from
    /// its `xmax` to `other`'s was in progress for `other`.
    pub fn contains(&self, other: &Snapshot) -> bool {
        let beyond = if other.xmax <= self.xmax {
            true
        } else {
            let unseen = other
                .in_progress
                .iter()
                .filter(|x| **x >= self.xmax)
                .count();
            self.xmax >= other.xmin && u64::try_from(unseen).ok() == Some(other.xmax - self.xmax)
        };
        beyond && self.in_progress.iter().all(|x| !other.sees(*x))
    }

    /// The later of the two: `other` when it contains this one.
    pub fn later(self, other: Snapshot) -> Snapshot {
        if other.contains(&self) { other } else { self }
    }

    /// The same or a snapshot that sees less, with at most
    /// `MOST_IN_PROGRESS` in-progress transactions.
    fn bounded(&self) -> Snapshot {
        if self.in_progress.len() <= MOST_IN_PROGRESS {
            return self.clone();
        }
        Snapshot {
            xmin: self.xmin,
            xmax: self.in_progress[MOST_IN_PROGRESS],
            in_progress: self.in_progress[..MOST_IN_PROGRESS].to_vec(),
        }
    }
}

/// PostgreSQL's text form, bounded for an event id.
impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.bounded();
        write!(f, "{}:{}:", s.xmin, s.xmax)?;
        for (i, x) in s.in_progress.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Snapshot;

    fn s(text: &str) -> Snapshot {
        Snapshot::parse(text).unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn postgres_text_form_round_trips_and_bad_forms_are_refused() {
        for text in ["10:10:", "10:20:10,14,15", "0:0:"] {
            assert_eq!(s(text).to_string(), text);
        }
        for bad in [
            "",
            "10",
            "10:20",
            "20:10:",
            "10:20:9",
            "10:20:20",
            "10:20:15,14",
            "10:20:14,14",
            "a:20:",
            "10:20:,",
            "-1:2:",
            "10:20::",
            "1:99999999999999999999:",
        ] {
            assert_eq!(Snapshot::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_later_snapshot_contains_an_earlier_one_and_not_the_reverse() {
        // 12 and 15 were in progress; then 12 ended, 20 and 21 began, 21 ended.
        let earlier = s("12:16:12,15");
        let later = s("15:22:15,20");
        assert!(later.contains(&earlier));
        assert!(!earlier.contains(&later));
        assert!(earlier.contains(&earlier));
        assert_eq!(earlier.clone().later(later.clone()), later);
        assert_eq!(later.clone().later(earlier.clone()), later);
        // 15 was seen by the other: not contained.
        assert!(!s("15:22:15").contains(&s("14:16:14")));
        // Beyond xmax, only what the other had in progress.
        assert!(s("10:12:").contains(&s("10:14:12,13")));
        assert!(!s("10:12:").contains(&s("10:14:13")));
    }

    #[test]
    fn a_long_in_progress_list_is_cut_to_a_snapshot_that_sees_less() {
        let xips: Vec<String> = (100..200).map(|x| (x * 2).to_string()).collect();
        let full = s(&format!("200:500:{}", xips.join(",")));
        let written = Snapshot::parse(&full.to_string()).unwrap();
        assert!(full.contains(&written), "the bound sees less");
        assert!(written.to_string().len() < 200, "{written}");
    }
}
