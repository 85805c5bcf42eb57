//! The hub between the daemon's LISTEN connection and the open streams:
//! woken by the `outpost_inbox` notifications, it reads once per batch what
//! committed since its last read (by snapshot, so in commit order, not id
//! order) for the members with a stream (the messages and their unread
//! counts, or their read marks), and hands it to each of their streams.
//! A stream whose queue is full, a lost notification (a lagging receiver, a
//! reconnected LISTEN) or a failed read makes the streams concerned read
//! what they missed from the database instead: nothing is dropped silently.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use deadpool_postgres::Pool;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::Snapshot;
use super::queries::{self, ChatMessage, ReadState};
use super::token::{Claims, InboxTokenError, Keys};
use crate::config::InboxSettings;
use crate::db::DbError;

/// What the hub hands a stream.
#[derive(Debug, Clone)]
pub enum Handout {
    /// The user's new messages of one read, each with its channel's unread
    /// count, and that read's snapshot: with every read before it handed
    /// out, the stream has sent everything that snapshot sees.
    Messages {
        messages: Vec<(Arc<ChatMessage>, i64)>,
        through: Arc<Snapshot>,
    },
    Read(ReadState),
    /// Something may have been lost: read what was missed from the database.
    Resync,
}

/// Deliveries a stream may have queued; beyond, it reads from the database.
const QUEUE: usize = 64;
/// Payloads the LISTEN connection may hand on before the hub reads them.
const NOTICES: usize = 4096;
/// Most payloads read in one batch.
const BATCH: usize = 1000;
/// Most (message, member) rows one read hands out; beyond, the streams read
/// what they missed themselves.
const MOST_ROWS: i32 = 10_000;
/// How long a new stream waits for a read that began before it joined.
const JOIN_WAIT: Duration = Duration::from_secs(10);
/// An unknown key version reloads the keys at most this often.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    #[error("too many inbox streams are open")]
    Full,
    #[error("too many inbox streams are open for this user")]
    UserFull,
}

struct Slot {
    id: u64,
    tx: mpsc::Sender<Handout>,
    lagged: Arc<AtomicBool>,
}

impl Slot {
    fn send(&self, delivery: Handout) {
        if self.tx.try_send(delivery).is_err() {
            self.lagged.store(true, Ordering::SeqCst);
        }
    }
}

#[derive(Default)]
struct Registry {
    total: usize,
    next: u64,
    users: HashMap<String, Vec<Slot>>,
    /// Reads that have taken their list of users.
    reads_begun: u64,
}

/// The open streams, the signing keys, and the notifications' receiver.
pub struct Hub {
    pool: Pool,
    settings: InboxSettings,
    registry: Mutex<Registry>,
    keys: ArcSwap<Keys>,
    reloaded: tokio::sync::Mutex<Instant>,
    notices: broadcast::Sender<String>,
    /// Reads whose handouts are all queued.
    reads_done: watch::Sender<u64>,
    stop: CancellationToken,
}

/// One open stream's place in the hub; dropping it leaves.
pub struct Subscription {
    hub: Arc<Hub>,
    user: String,
    id: u64,
    pub rx: mpsc::Receiver<Handout>,
    /// Set when a delivery did not fit in the queue.
    pub lagged: Arc<AtomicBool>,
    /// Reads begun before it joined: they may not hand it what they read.
    reads_before: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut registry = self.hub.lock();
        if let Some(slots) = registry.users.get_mut(&self.user) {
            slots.retain(|s| s.id != self.id);
            if slots.is_empty() {
                registry.users.remove(&self.user);
            }
            registry.total -= 1;
        }
    }
}

impl Hub {
    /// Loads the keys and starts reading notifications until `stop`.
    pub async fn start(
        pool: Pool,
        settings: InboxSettings,
        stop: CancellationToken,
    ) -> Result<Arc<Self>, DbError> {
        let (keys, since) = {
            let client = pool.get().await?;
            (
                queries::keys(&**client).await?,
                queries::cursor(&**client).await?,
            )
        };
        let keys = Keys::new(keys);
        let (notices, rx) = broadcast::channel(NOTICES);
        let hub = Arc::new(Self {
            pool,
            settings,
            registry: Mutex::new(Registry::default()),
            keys: ArcSwap::from_pointee(keys),
            reloaded: tokio::sync::Mutex::new(Instant::now()),
            notices,
            reads_done: watch::Sender::new(0),
            stop,
        });
        tokio::spawn(hub.clone().run(rx, since));
        Ok(hub)
    }

    /// Where the LISTEN connection sends `outpost_inbox` payloads.
    pub fn notices(&self) -> broadcast::Sender<String> {
        self.notices.clone()
    }

    pub fn settings(&self) -> &InboxSettings {
        &self.settings
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Cancelled when the daemon stops: every stream ends.
    pub fn stopping(&self) -> &CancellationToken {
        &self.stop
    }

    /// Streams open now.
    pub fn streams(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What `token` says, when valid now. An unknown key version reloads
    /// the keys (at most once a second) before it is refused.
    pub async fn verify(&self, token: &str) -> Result<Claims, InboxTokenError> {
        let now = chrono::Utc::now().timestamp();
        match self.keys.load().verify(token, now) {
            Err(InboxTokenError::UnknownKey) => {}
            other => return other,
        }
        let wanted = Keys::version_of(token).ok_or(InboxTokenError::Malformed)?;
        {
            let mut last = self.reloaded.lock().await;
            if !self.keys.load().has(wanted) && last.elapsed() >= RELOAD_EVERY {
                *last = Instant::now();
                self.reload_keys().await;
            }
        }
        self.keys.load().verify(token, now)
    }

    async fn reload_keys(&self) {
        let loaded = async { queries::keys(&**self.pool.get().await?).await }.await;
        match loaded {
            Ok(keys) => self.keys.store(Arc::new(Keys::new(keys))),
            Err(e) => tracing::warn!(error = %e, "cannot reload the inbox keys"),
        }
    }

    /// A place for a stream of `user`'s, within the caps.
    pub fn subscribe(self: &Arc<Self>, user: &str) -> Result<Subscription, SubscribeError> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let lagged = Arc::new(AtomicBool::new(false));
        let mut registry = self.lock();
        if registry.total >= self.settings.max_streams {
            return Err(SubscribeError::Full);
        }
        let id = registry.next;
        registry.next += 1;
        let slots = registry.users.entry(user.to_owned()).or_default();
        if slots.len() >= self.settings.max_streams_per_user {
            return Err(SubscribeError::UserFull);
        }
        slots.push(Slot {
            id,
            tx,
            lagged: lagged.clone(),
        });
        registry.total += 1;
        Ok(Subscription {
            hub: self.clone(),
            user: user.to_owned(),
            id,
            rx,
            lagged,
            reads_before: registry.reads_begun,
        })
    }

    /// Waits until every read begun before `subscription` joined has handed
    /// out what it read (so that a snapshot taken next sees all of it, and
    /// every later read hands this stream its share); `false` when that
    /// takes longer than `JOIN_WAIT` or the daemon stops.
    pub async fn joined(&self, subscription: &Subscription) -> bool {
        let mut done = self.reads_done.subscribe();
        let wanted = subscription.reads_before;
        tokio::select! {
            r = tokio::time::timeout(JOIN_WAIT, done.wait_for(|d| *d >= wanted)) => {
                matches!(r, Ok(Ok(_)))
            }
            () = self.stop.cancelled() => false,
        }
    }

    async fn run(self: Arc<Self>, mut rx: broadcast::Receiver<String>, mut since: Snapshot) {
        loop {
            let first = tokio::select! {
                r = rx.recv() => r,
                () = self.stop.cancelled() => return,
            };
            let mut batch = Batch::default();
            match first {
                Ok(payload) => batch.add(&payload),
                Err(broadcast::error::RecvError::Lagged(_)) => batch.lost(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
            for _ in 1..BATCH {
                match rx.try_recv() {
                    Ok(payload) => batch.add(&payload),
                    Err(broadcast::error::TryRecvError::Lagged(_)) => batch.lost(),
                    Err(_) => break,
                }
            }
            since = self.handle(batch, since).await;
        }
    }

    /// Hands out what `batch` announced; the snapshot the next read starts from.
    async fn handle(&self, batch: Batch, since: Snapshot) -> Snapshot {
        if batch.reload_keys {
            self.reload_keys().await;
        }
        let mut resync = batch.resync;
        let mut next = since;
        if batch.messages {
            let users = self.begin_read();
            match self.messages(&next, &users).await {
                Ok((snapshot, complete)) => {
                    next = snapshot;
                    resync |= !complete;
                }
                Err(()) => resync = true,
            }
            self.reads_done.send_modify(|d| *d += 1);
        }
        if !batch.reads.is_empty() && !resync {
            resync = self.reads(&batch.reads).await.is_err();
        }
        if resync {
            let registry = self.lock();
            registry
                .users
                .values()
                .flatten()
                .for_each(|s| s.send(Handout::Resync));
        }
        next
    }

    fn users(&self) -> Vec<String> {
        self.lock().users.keys().cloned().collect()
    }

    /// The users with a stream, for a read of new messages (counted, so
    /// that a stream joining now knows to wait for it).
    fn begin_read(&self) -> Vec<String> {
        let mut registry = self.lock();
        registry.reads_begun += 1;
        registry.users.keys().cloned().collect()
    }

    fn deliver(&self, user: &str, deliveries: &[Handout]) {
        let registry = self.lock();
        for slot in registry.users.get(user).into_iter().flatten() {
            for d in deliveries {
                slot.send(d.clone());
            }
        }
    }

    /// Reads what committed since `since` for `users` and hands it out:
    /// the read's snapshot, and whether everything read was handed out
    /// (`false` past `MOST_ROWS`: the streams then read it themselves).
    async fn messages(&self, since: &Snapshot, users: &[String]) -> Result<(Snapshot, bool), ()> {
        let users: Vec<&str> = users.iter().map(String::as_str).collect();
        let read = async {
            let client = self.pool.get().await?;
            if users.is_empty() {
                let snapshot = queries::cursor(&**client).await?;
                return Ok(queries::AsOf {
                    rows: Vec::new(),
                    snapshot,
                });
            }
            queries::deliver_messages(&**client, since, &users, MOST_ROWS + 1).await
        }
        .await
        .map_err(|e: DbError| {
            tracing::warn!(error = %e, "cannot read new chat messages for the inbox");
        })?;
        if read.rows.len() > usize::try_from(MOST_ROWS).unwrap_or(usize::MAX) {
            return Ok((read.snapshot, false));
        }
        let through = Arc::new(read.snapshot.clone());
        let mut shared: HashMap<i64, Arc<ChatMessage>> = HashMap::new();
        let mut per_user: HashMap<&str, Vec<(Arc<ChatMessage>, i64)>> = HashMap::new();
        for row in &read.rows {
            let message = shared
                .entry(row.message.id)
                .or_insert_with(|| Arc::new(row.message.clone()))
                .clone();
            per_user
                .entry(row.user.as_str())
                .or_default()
                .push((message, row.unread));
        }
        for (user, messages) in per_user {
            self.deliver(
                user,
                &[Handout::Messages {
                    messages,
                    through: through.clone(),
                }],
            );
        }
        Ok((read.snapshot, true))
    }

    async fn reads(&self, reads: &[(i64, Option<String>)]) -> Result<(), DbError> {
        let connected = self.users();
        let (mut channels, mut users) = (Vec::new(), Vec::new());
        for (channel, user) in reads {
            match user {
                Some(user) if connected.contains(user) => {
                    channels.push(*channel);
                    users.push(user.as_str());
                }
                Some(_) => {}
                None => {
                    for user in &connected {
                        channels.push(*channel);
                        users.push(user.as_str());
                    }
                }
            }
        }
        if channels.is_empty() {
            return Ok(());
        }
        let rows = async {
            let client = self.pool.get().await?;
            queries::deliver_reads(&**client, &channels, &users).await
        }
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "cannot read chat read marks for the inbox"))?;
        for row in rows {
            let user = row.user.clone();
            self.deliver(&user, &[Handout::Read(row)]);
        }
        Ok(())
    }
}

/// The payloads read at once.
#[derive(Debug, Default)]
struct Batch {
    messages: bool,
    reads: Vec<(i64, Option<String>)>,
    reload_keys: bool,
    resync: bool,
}

impl Batch {
    /// `m` (new messages; before migration 0030, followed by their ids),
    /// `r<channel>:<user>` (a read mark moved; no user: every member's), `k`
    /// (a key was added), `` (LISTEN reconnected: anything may be lost).
    fn add(&mut self, payload: &str) {
        if payload.is_empty() {
            self.lost();
        } else if payload == "k" {
            self.reload_keys = true;
        } else if payload.starts_with('m') {
            self.messages = true;
        } else if let Some((channel, user)) = payload
            .strip_prefix('r')
            .and_then(|rest| rest.split_once(':'))
            && let Ok(channel) = channel.parse::<i64>()
        {
            let user = (!user.is_empty()).then(|| user.to_owned());
            if !self.reads.contains(&(channel, user.clone())) {
                self.reads.push((channel, user));
            }
        }
    }

    /// Notifications were lost: read new messages, and every stream reads
    /// its read marks and unread counts again.
    fn lost(&mut self) {
        self.messages = true;
        self.resync = true;
    }
}

#[cfg(test)]
mod tests {
    use super::Batch;

    #[test]
    fn payloads_are_parsed_and_repeats_merged() {
        let mut b = Batch::default();
        for p in ["m1,2", "m3", "r7:42", "r7:42", "r8:", "k", "x", "rbad:1"] {
            b.add(p);
        }
        assert!(b.messages);
        assert_eq!(b.reads, [(7, Some("42".to_owned())), (8, None)]);
        assert!(b.reload_keys && !b.resync);
        b.add("");
        assert!(b.resync);
        let mut quiet = Batch::default();
        quiet.add("r1:2");
        assert!(!quiet.messages, "a read mark alone reads no messages");
    }
}
