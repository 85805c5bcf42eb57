//! Per-key request counters with bounded memory: at most `limit` events per
//! key in a fixed window of `period`, for at most `capacity` keys. When the
//! table is full, windows that have ended are dropped first, then the oldest
//! eighth, so a caller spraying keys can make the table forget old keys but
//! never grow it. Used for the inbound endpoint's failed logins (per source)
//! and the one-click unsubscribe (per token and per source).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One key's current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

/// At most `limit` events per key per `period`, for at most `capacity` keys.
#[derive(Debug)]
pub struct Throttle<K> {
    limit: u32,
    period: Duration,
    capacity: usize,
    windows: Mutex<HashMap<K, Window>>,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    pub fn new(limit: u32, period: Duration, capacity: usize) -> Self {
        Self {
            limit: limit.max(1),
            period,
            capacity: capacity.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `key`: `Err(retry_after)` when the key has had
    /// `limit` events in its current window already (the refused event is not
    /// counted).
    pub fn hit(&self, key: K) -> Result<(), Duration> {
        self.hit_at(key, Instant::now())
    }

    fn hit_at(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if !windows.contains_key(&key) && windows.len() >= self.capacity {
            self.make_room(&mut windows, now);
        }
        let window = windows.entry(key).or_insert(Window {
            start: now,
            count: 0,
        });
        if now.duration_since(window.start) >= self.period {
            *window = Window {
                start: now,
                count: 0,
            };
        }
        if window.count >= self.limit {
            return Err(self.retry_after(window, now));
        }
        window.count += 1;
        Ok(())
    }

    /// Whether `key` is over its limit now, without counting anything:
    /// `Err(retry_after)` when it is.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(key) {
            Some(w) if now.duration_since(w.start) < self.period && w.count >= self.limit => {
                Err(self.retry_after(w, now))
            }
            _ => Ok(()),
        }
    }

    /// How many keys the table holds.
    pub fn len(&self) -> usize {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the table holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn retry_after(&self, window: &Window, now: Instant) -> Duration {
        (window.start + self.period).saturating_duration_since(now)
    }

    /// Drops ended windows; if none ended, the oldest eighth of the table.
    fn make_room(&self, windows: &mut HashMap<K, Window>, now: Instant) {
        windows.retain(|_, w| now.duration_since(w.start) < self.period);
        if windows.len() < self.capacity {
            return;
        }
        let mut starts: Vec<Instant> = windows.values().map(|w| w.start).collect();
        let nth = (starts.len() / 8).max(1) - 1;
        let (_, cutoff, _) = starts.select_nth_unstable(nth);
        let cutoff = *cutoff;
        windows.retain(|_, w| w.start > cutoff);
    }
}

/// The key a client address counts under: the address itself for IPv4 (and
/// IPv4-mapped IPv6), its /64 network for IPv6, since one host commonly holds
/// a whole /64.
pub fn source_key(peer: Option<SocketAddr>) -> IpAddr {
    let Some(peer) = peer else {
        return IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    };
    match peer.ip().to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(Ipv6Addr::from(segments))
        }
    }
}

/// The 429 a throttled caller gets, with `Retry-After` in whole seconds.
pub fn too_many(retry_after: Duration, reason: &str) -> Response {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, seconds.max(1).to_string())],
        format!("{reason}; retry in {} s\n", seconds.max(1)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_limit_per_window_then_waits() {
        let t = Throttle::new(3, Duration::from_secs(60), 100);
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        for _ in 0..3 {
            assert_eq!(t.hit_at("a", at(0)), Ok(()));
        }
        assert_eq!(t.hit_at("a", at(0)), Err(Duration::from_secs(60)));
        assert_eq!(t.check_at(&"a", at(0)), Err(Duration::from_secs(60)));
        assert_eq!(
            t.hit_at("b", at(0)),
            Ok(()),
            "another key has its own count"
        );
        assert_eq!(t.hit_at("a", at(59)), Err(Duration::from_secs(1)));
        assert_eq!(t.check_at(&"a", at(60)), Ok(()));
        assert_eq!(t.hit_at("a", at(60)), Ok(()));
    }

    #[test]
    fn the_table_never_grows_past_its_capacity() {
        let t = Throttle::new(1, Duration::from_secs(60), 64);
        let start = Instant::now();
        for i in 0..10_000u32 {
            let now = start + Duration::from_millis(u64::from(i));
            let _ = t.hit_at(i, now);
            assert!(t.len() <= 64);
        }
        // The newest keys are still remembered; the oldest were forgotten.
        let end = start + Duration::from_millis(10_000);
        assert!(t.hit_at(9_999, end).is_err());
        assert!(t.hit_at(0, end).is_ok());
        // Once its window ends, a key counts afresh.
        let later = end + Duration::from_secs(61);
        assert!(t.hit_at(9_999, later).is_ok());
        // A full table of ended windows is emptied before a new key is counted.
        let small = Throttle::new(1, Duration::from_secs(60), 4);
        for i in 0..4u32 {
            assert!(small.hit_at(i, start).is_ok());
        }
        assert!(small.hit_at(4, later).is_ok());
        assert_eq!(small.len(), 1);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let a: SocketAddr = "[2001:db8:1:2:aaaa::1]:1".parse().unwrap();
        let b: SocketAddr = "[2001:db8:1:2:bbbb::2]:2".parse().unwrap();
        let c: SocketAddr = "[2001:db8:1:3::1]:1".parse().unwrap();
        assert_eq!(source_key(Some(a)), source_key(Some(b)));
        assert_ne!(source_key(Some(a)), source_key(Some(c)));
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:5".parse().unwrap();
        assert_eq!(
            source_key(Some(mapped)),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }
}
