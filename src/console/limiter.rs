//! The login limiter: failed sign-ins counted per client address and per
//! user name *from* that address, in bounded memory, with a cap on the
//! password checks running at once.
//!
//! Each count is a token bucket kept as one instant (GCRA): the moment the
//! bucket is full again. A failure spends a token; a success gives back the
//! address's token and forgets the user's failures from that address. Because
//! a user name's count is kept per address, an attacker who fails as `admin`
//! locks `admin` out only from the attacker's own address (or /64): the
//! administrator signs in from anywhere else, and the lock lifts
//! `login_period` per token after the attacker stops. Guessing one password
//! from many addresses is bounded by `login_address_burst` per address and by
//! `login_concurrency` overall.
//!
//! Memory: user names are normalised (trimmed) exactly as the lookup uses
//! them, and anything that cannot be a user name shares one key, so a key is
//! at most 64 bytes; each table holds at most `login_max_entries`; full
//! (idle) buckets are swept every `login_period`; when a table is full of live
//! entries the one closest to full is forgotten.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Settings;

/// Longest console user name (`users::valid_name`).
pub const MAX_NAME: usize = 64;

/// The key shared by every name that cannot be a console user.
const NOT_A_NAME: &str = "\0";

/// The user name as the login looks it up: trimmed; `None` when it cannot
/// be a console user (empty, too long or with other characters).
pub fn normalise_name(name: &str) -> Option<&str> {
    let name = name.trim();
    super::users::valid_name(name).then_some(name)
}

/// An address as the limiter counts it: IPv4 (also when IPv4-mapped) as
/// is, IPv6 by its /64, the block one subscriber usually gets.
pub fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::from(octets)
        }
        v4 => v4,
    }
}

/// Token buckets keyed by `K`, at most `cap` of them.
struct Buckets<K> {
    full_at: HashMap<K, Instant>,
    burst: u32,
    cap: usize,
}

impl<K: Eq + Hash + Clone> Buckets<K> {
    fn new(burst: u32, cap: usize) -> Self {
        Self {
            full_at: HashMap::new(),
            burst: burst.max(1),
            cap,
        }
    }

    /// Whether `key` has a token left (nothing is spent).
    fn has_token(&self, key: &K, now: Instant, period: Duration) -> bool {
        match self.full_at.get(key) {
            Some(&full_at) if full_at > now => full_at - now + period <= period * self.burst,
            _ => true,
        }
    }

    /// Spends one of `key`'s tokens (the caller checked there is one).
    fn spend(&mut self, key: &K, now: Instant, period: Duration) {
        if !self.full_at.contains_key(key) && self.full_at.len() >= self.cap {
            self.make_room(now);
        }
        let full_at = self.full_at.entry(key.clone()).or_insert(now);
        *full_at = (*full_at).max(now) + period;
    }

    /// Gives one token back to `key`.
    fn refund(&mut self, key: &K, now: Instant, period: Duration) {
        if let Some(full_at) = self.full_at.get_mut(key) {
            *full_at = full_at.checked_sub(period).unwrap_or(now);
            if *full_at <= now {
                self.full_at.remove(key);
            }
        }
    }

    /// Drops full buckets, then, if still at the cap, the eighth closest to
    /// full (in one pass, so a flood of new keys costs O(1) each on average).
    fn make_room(&mut self, now: Instant) {
        self.sweep(now);
        if self.full_at.len() >= self.cap {
            let mut times: Vec<Instant> = self.full_at.values().copied().collect();
            let drop = (self.cap / 8).clamp(1, times.len());
            let (_, threshold, _) = times.select_nth_unstable(drop - 1);
            let threshold = *threshold;
            self.full_at.retain(|_, at| *at > threshold);
        }
    }

    fn sweep(&mut self, now: Instant) {
        self.full_at.retain(|_, at| *at > now);
    }
}

struct Tables {
    by_address: Buckets<IpAddr>,
    by_user: Buckets<(String, IpAddr)>,
    swept: Instant,
}

/// Why a login attempt was not let through to the password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too many failures from this address, or for this name from it (429).
    TooMany,
    /// `login_concurrency` password checks are running (503).
    Busy,
}

/// The login limits of one console.
pub struct LoginLimits {
    tables: Mutex<Tables>,
    period: Duration,
    checks: Arc<Semaphore>,
}

/// One attempt let through: its tokens are spent; [`LoginLimits::succeeded`]
/// gives them back. Holds a password-check slot until dropped.
pub struct Attempt {
    user: String,
    address: IpAddr,
    _slot: OwnedSemaphorePermit,
}

impl LoginLimits {
    pub fn new(settings: &Settings) -> Self {
        Self {
            tables: Mutex::new(Tables {
                by_address: Buckets::new(settings.login_address_burst, settings.login_max_entries),
                by_user: Buckets::new(settings.login_burst, settings.login_max_entries),
                swept: Instant::now(),
            }),
            period: settings.login_period,
            checks: Arc::new(Semaphore::new(settings.login_concurrency.max(1))),
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Lets one attempt for `name` from `address` through, spending a token
    /// of each count and taking a password-check slot, or says why not.
    pub fn attempt(&self, name: &str, address: IpAddr) -> Result<Attempt, Refused> {
        let user = normalise_name(name).unwrap_or(NOT_A_NAME).to_owned();
        let address = address_key(address);
        let now = Instant::now();
        let mut tables = self.tables();
        if now.duration_since(tables.swept) >= self.period {
            tables.by_address.sweep(now);
            tables.by_user.sweep(now);
            tables.swept = now;
        }
        let key = (user, address);
        if !tables.by_address.has_token(&address, now, self.period)
            || !tables.by_user.has_token(&key, now, self.period)
        {
            return Err(Refused::TooMany);
        }
        let slot = self
            .checks
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Busy)?;
        tables.by_address.spend(&address, now, self.period);
        tables.by_user.spend(&key, now, self.period);
        Ok(Attempt {
            user: key.0,
            address,
            _slot: slot,
        })
    }

    /// The attempt signed in: its address token comes back and the user's
    /// failures from that address are forgotten.
    pub fn succeeded(&self, attempt: Attempt) {
        let now = Instant::now();
        let mut tables = self.tables();
        tables.by_address.refund(&attempt.address, now, self.period);
        tables
            .by_user
            .full_at
            .remove(&(attempt.user.clone(), attempt.address));
    }

    /// Entries held (addresses, user-and-address pairs).
    pub fn entries(&self) -> (usize, usize) {
        let tables = self.tables();
        (
            tables.by_address.full_at.len(),
            tables.by_user.full_at.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(burst: u32, address_burst: u32, cap: usize, concurrency: usize) -> Settings {
        let mut s = crate::config::Config::load(&crate::config::Sources::default())
            .expect("the defaults load")
            .console;
        s.login_burst = burst;
        s.login_address_burst = address_burst;
        s.login_max_entries = cap;
        s.login_concurrency = concurrency;
        s.login_period = Duration::from_secs(3600);
        s
    }

    fn fail(limits: &LoginLimits, name: &str, address: &str) -> Result<(), Refused> {
        limits.attempt(name, address.parse().unwrap()).map(drop)
    }

    #[test]
    fn a_leading_space_or_padding_is_the_same_user() {
        let limits = LoginLimits::new(&settings(2, 100, 1000, 4));
        fail(&limits, "admin", "192.0.2.1").unwrap();
        fail(&limits, " admin", "192.0.2.1").unwrap();
        assert_eq!(
            fail(&limits, "\tadmin  ", "192.0.2.1"),
            Err(Refused::TooMany)
        );
        assert_eq!(normalise_name("  admin "), Some("admin"));
        assert_eq!(normalise_name(&"a".repeat(65)), None);
    }

    #[test]
    fn memory_stays_bounded_with_many_distinct_keys() {
        let cap = 1000;
        let limits = LoginLimits::new(&settings(5, 1_000_000, cap, 4));
        for i in 0..50_000u32 {
            let name = format!("user{i}-{}", "x".repeat(40));
            let address = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            limits.attempt(&name, address).unwrap();
            // A huge name costs no more than any other invalid one.
            limits.attempt(&"y".repeat(10_000), address).ok();
        }
        let (addresses, users) = limits.entries();
        assert!(addresses <= cap && users <= cap, "{addresses} {users}");
        let keys: usize = limits
            .tables()
            .by_user
            .full_at
            .keys()
            .map(|(k, _)| k.len())
            .max()
            .unwrap_or(0);
        assert!(keys <= MAX_NAME, "a key of {keys} bytes");
    }

    #[test]
    fn a_user_locked_out_from_one_address_signs_in_from_another() {
        let limits = LoginLimits::new(&settings(3, 100, 1000, 4));
        for _ in 0..3 {
            fail(&limits, "admin", "203.0.113.9").unwrap();
        }
        assert_eq!(fail(&limits, "admin", "203.0.113.9"), Err(Refused::TooMany));
        let attempt = limits.attempt("admin", "198.51.100.7".parse().unwrap());
        limits.succeeded(attempt.expect("another address is not locked out"));
        assert_eq!(limits.entries(), (1, 1), "the success left no trace");
    }

    #[test]
    fn an_address_is_limited_whatever_names_it_tries_and_ipv6_by_its_64() {
        let limits = LoginLimits::new(&settings(100, 3, 1000, 4));
        for (i, address) in ["2001:db8::1", "2001:db8::2", "2001:db8::ffff:3"]
            .iter()
            .enumerate()
        {
            fail(&limits, &format!("name{i}"), address).unwrap();
        }
        assert_eq!(fail(&limits, "other", "2001:db8::9"), Err(Refused::TooMany));
        fail(&limits, "other", "2001:db8:0:1::9").unwrap();
        assert_eq!(
            address_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn password_checks_beyond_the_bound_are_refused_at_once() {
        let limits = LoginLimits::new(&settings(100, 100, 1000, 2));
        let a = limits.attempt("a", "192.0.2.1".parse().unwrap()).unwrap();
        let _b = limits.attempt("b", "192.0.2.2".parse().unwrap()).unwrap();
        assert!(matches!(
            limits.attempt("c", "192.0.2.3".parse().unwrap()),
            Err(Refused::Busy)
        ));
        drop(a);
        assert!(limits.attempt("c", "192.0.2.3".parse().unwrap()).is_ok());
    }

    #[test]
    fn tokens_come_back_one_per_period() {
        let mut buckets = Buckets::<u8>::new(2, 10);
        let period = Duration::from_secs(60);
        let t0 = Instant::now();
        for _ in 0..2 {
            assert!(buckets.has_token(&1, t0, period));
            buckets.spend(&1, t0, period);
        }
        assert!(!buckets.has_token(&1, t0, period));
        assert!(!buckets.has_token(&1, t0 + Duration::from_secs(59), period));
        assert!(buckets.has_token(&1, t0 + period, period));
        buckets.sweep(t0 + period * 2);
        assert!(buckets.full_at.is_empty(), "a full bucket is swept");
    }
}
