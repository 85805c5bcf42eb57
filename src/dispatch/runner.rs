//! The long-running claim loop: claims only what can start sending at once
//! (per kind, its free send slots), sends each message on its own task,
//! renews the leases of sends in flight, hands outcomes to one batching
//! recorder, and on shutdown finishes or releases what it holds.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::deliver::Start;
use super::outcome::Outcome;
use super::{Dispatcher, Startable, Unfinished};
use crate::message::{Kind, MessageId};

/// A message this process holds: what shutdown must hand back, and until
/// when its lease is known to be ours.
#[derive(Debug, Clone, Copy)]
struct Flight {
    unfinished: Unfinished,
    lease_deadline: Instant,
}

type InFlight = Arc<Mutex<HashMap<MessageId, Flight>>>;

/// What a run did, reported when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    pub claimed: usize,
    /// Messages handed back to the queue at shutdown.
    pub released: usize,
}

/// The loop's shared state.
struct Runner {
    dispatcher: Arc<Dispatcher>,
    capacity: Arc<Semaphore>,
    /// A send finished: capacity was freed.
    freed: Arc<Notify>,
    in_flight: InFlight,
    /// Set before in-flight tasks are aborted: a send not yet begun is withdrawn.
    aborting: Arc<AtomicBool>,
    outcomes: mpsc::Sender<Outcome>,
    tasks: JoinSet<()>,
    /// Kinds whose last claim came back short: nothing more of them is due
    /// until a NOTIFY or the poll interval says otherwise.
    drained: HashSet<Kind>,
}

/// Claims and delivers until `shutdown`, waking on `wake` (LISTEN) or every
/// `poll_interval`. Returns after in-flight sends have finished or, past
/// `shutdown_grace`, been released.
pub async fn run(
    dispatcher: Arc<Dispatcher>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) -> RunReport {
    let settings = dispatcher.settings().clone();
    let (tx, rx) = mpsc::channel::<Outcome>(settings.concurrency.max(16));
    // One recorder: outcomes arriving while it writes a batch wait in the
    // channel and make the next batch. Two recorders writing at once were
    // slower on two cores: the database spent twice the CPU per outcome
    // (BENCHMARKS.md, "One outcome recorder").
    let recorder = tokio::spawn(record_loop(
        dispatcher.clone(),
        rx,
        settings.batch_size as usize,
    ));
    let mut runner = Runner {
        dispatcher: dispatcher.clone(),
        capacity: Arc::new(Semaphore::new(settings.concurrency)),
        freed: Arc::new(Notify::new()),
        in_flight: Arc::default(),
        aborting: Arc::new(AtomicBool::new(false)),
        outcomes: tx,
        tasks: JoinSet::new(),
        drained: HashSet::new(),
    };
    let renewing = CancellationToken::new();
    let renewer = tokio::spawn(renew_loop(
        dispatcher.clone(),
        runner.in_flight.clone(),
        renewing.clone(),
    ));

    let claimed = runner.claim_loop(&wake, &shutdown).await;
    runner.finish_sends(settings.shutdown_grace).await;
    renewing.cancel();
    let _ = renewer.await;
    let Runner {
        in_flight,
        outcomes,
        ..
    } = runner;
    drop(outcomes);
    if recorder.await.is_err() {
        tracing::error!("the outcome recorder stopped unexpectedly");
    }
    let unfinished: Vec<Unfinished> = lock(&in_flight)
        .drain()
        .map(|(_, f)| f.unfinished)
        .collect();
    let mut report = RunReport {
        claimed,
        released: 0,
    };
    match dispatcher.release(&unfinished).await {
        Ok(n) => report.released = n,
        Err(e) => tracing::error!(
            error = %e,
            count = unfinished.len(),
            "could not release unfinished messages; the rescuer will requeue them when their lease expires"
        ),
    }
    report
}

impl Runner {
    /// Claims until `shutdown`; returns how many messages were claimed.
    async fn claim_loop(&mut self, wake: &Notify, shutdown: &CancellationToken) -> usize {
        let settings = self.dispatcher.settings().clone();
        let mut claimed = 0;
        let mut backoff = crate::db::reconnect_backoff().build();
        while !shutdown.is_cancelled() {
            self.dispatcher.heartbeat().beat();
            while self.tasks.try_join_next().is_some() {}
            let Some((limit, per_kind)) = self.plan() else {
                // Nothing worth claiming now: wait for a finished send, a
                // NOTIFY or the poll interval (the last two may bring rows
                // of a drained kind).
                tokio::select! {
                    () = self.freed.notified() => {}
                    () = wake.notified() => self.drained.clear(),
                    () = tokio::time::sleep(settings.poll_interval) => self.drained.clear(),
                    () = shutdown.cancelled() => break,
                }
                continue;
            };
            match self.dispatcher.claim_startable(limit, &per_kind).await {
                Ok(super::StartableBatch {
                    messages: batch,
                    full,
                }) => {
                    backoff = crate::db::reconnect_backoff().build();
                    claimed += batch.len();
                    let mut got: HashMap<Kind, u32> = HashMap::new();
                    for startable in &batch {
                        *got.entry(startable.message.kind).or_default() += 1;
                    }
                    let total = batch.len() as u32;
                    for (kind, asked) in &per_kind {
                        // Short of what was asked, and not because the
                        // claim reached its byte budget: nothing more is due.
                        if got.get(kind).copied().unwrap_or(0) < (*asked).min(limit)
                            && total < limit
                            && !full
                        {
                            self.drained.insert(*kind);
                        }
                    }
                    for startable in batch {
                        self.spawn(startable);
                    }
                }
                Err(e) => {
                    let delay = backoff.next().unwrap_or(Duration::from_secs(10));
                    tracing::warn!(error = %e, retry_in = ?delay, "claim failed");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = shutdown.cancelled() => break,
                    }
                }
            }
        }
        claimed
    }

    /// How many to claim in all and of each kind now, or `None` when it is
    /// not worth a claim: no free slot, or sends in flight and no kind with
    /// at least half its slots free (claims stay batched under load).
    fn plan(&self) -> Option<(u32, Vec<(Kind, u32)>)> {
        let settings = self.dispatcher.settings();
        let free = self.capacity.available_permits();
        if free == 0 {
            return None;
        }
        let limit = settings
            .batch_size
            .min(u32::try_from(free).unwrap_or(u32::MAX));
        let per_kind: Vec<(Kind, u32)> = self
            .dispatcher
            .free_slots()
            .into_iter()
            .filter(|(k, _)| !self.drained.contains(k))
            .map(|(k, n)| (k, n.min(limit)))
            .collect();
        if per_kind.is_empty() {
            return None;
        }
        let busy = free < settings.concurrency;
        let worth = |kind: Kind, n: u32| {
            let most = self
                .dispatcher
                .kind_limit(kind)
                .min(settings.batch_size as usize)
                .min(settings.concurrency);
            n as usize >= most.div_ceil(2)
        };
        if busy && !per_kind.iter().any(|(k, n)| worth(*k, *n)) {
            return None;
        }
        Some((limit, per_kind))
    }

    /// Sends one claimed message on its own task.
    fn spawn(&mut self, startable: Startable) {
        let Startable { message, slot } = startable;
        let id = message.id;
        let Ok(permit) = self.capacity.clone().try_acquire_owned() else {
            // Unreachable: the claim asked for no more than the free capacity.
            let outcome = self.dispatcher.unsent(&message);
            let tx = self.outcomes.clone();
            self.tasks.spawn(async move {
                let _ = tx.send(outcome).await;
            });
            return;
        };
        lock(&self.in_flight).insert(
            id,
            Flight {
                unfinished: Unfinished {
                    id,
                    attempt: message.attempt,
                    started_at: None,
                },
                lease_deadline: message.lease_deadline,
            },
        );
        let d = self.dispatcher.clone();
        let tx = self.outcomes.clone();
        let in_flight = self.in_flight.clone();
        let freed = self.freed.clone();
        let aborting = self.aborting.clone();
        let margin = d.lease_margin();
        self.tasks.spawn(async move {
            let marker = in_flight.clone();
            let delivered = d
                .deliver_with(message, slot, move |at| {
                    if aborting.load(Ordering::SeqCst) {
                        return Start::Stopping;
                    }
                    let mut flights = lock(&marker);
                    let Some(flight) = flights.get_mut(&id) else {
                        return Start::Stopping;
                    };
                    // Renewals move the deadline; a send never begins past it.
                    let start = Start::within_lease(flight.lease_deadline, margin);
                    if start == Start::Go {
                        flight.unfinished.started_at = Some(at);
                    }
                    start
                })
                .await;
            // A withdrawn message stays in `in_flight` and is released.
            if let Ok(outcome) = delivered
                && tx.send(outcome).await.is_ok()
            {
                lock(&in_flight).remove(&id);
            }
            drop(permit);
            freed.notify_one();
        });
    }

    /// Shutdown: no more claims; let sends finish within the grace period.
    async fn finish_sends(&mut self, grace: Duration) {
        let grace = tokio::time::sleep(grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                next = self.tasks.join_next() => if next.is_none() { break },
                () = &mut grace => {
                    tracing::warn!(in_flight = self.tasks.len(), "shutdown grace elapsed; releasing unfinished messages");
                    self.aborting.store(true, Ordering::SeqCst);
                    self.tasks.abort_all();
                    while self.tasks.join_next().await.is_some() {}
                    break;
                }
            }
        }
    }
}

/// Every lease/3, extends the leases of the messages in flight, so a slow
/// provider never gets a live worker's messages rescued. A message whose
/// lease could not be renewed (rescued, or taken by another worker) gets a
/// deadline in the past, so its send, if not begun, never begins.
async fn renew_loop(dispatcher: Arc<Dispatcher>, in_flight: InFlight, stop: CancellationToken) {
    let lease = dispatcher.settings().lease;
    let every = lease / 3;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        let held: Vec<(MessageId, i32)> = lock(&in_flight)
            .values()
            .map(|f| (f.unfinished.id, f.unfinished.attempt))
            .collect();
        if held.is_empty() {
            continue;
        }
        let before = Instant::now();
        match dispatcher.renew(&held).await {
            Ok(renewed) => {
                let mut lost = 0;
                let mut flights = lock(&in_flight);
                for (id, _) in &held {
                    if let Some(flight) = flights.get_mut(id) {
                        if renewed.contains(id) {
                            flight.lease_deadline = before + lease;
                        } else {
                            flight.lease_deadline = before;
                            lost += 1;
                        }
                    }
                }
                if lost > 0 {
                    tracing::warn!(
                        lost,
                        "leases lost: the rescuer or another worker took these messages"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, count = held.len(), "renewing leases failed"),
        }
    }
}

/// Writes outcomes in batches: whatever has arrived, up to `batch` at a time.
/// A failed write is retried until it succeeds or the leases it guards have
/// expired anyway (the rescuer then requeues those messages).
async fn record_loop(dispatcher: Arc<Dispatcher>, mut rx: mpsc::Receiver<Outcome>, batch: usize) {
    let mut buffer = Vec::with_capacity(batch);
    loop {
        let received = rx.recv_many(&mut buffer, batch).await;
        if received == 0 {
            break;
        }
        let give_up_at = tokio::time::Instant::now() + dispatcher.settings().lease;
        let mut backoff = crate::db::reconnect_backoff().build();
        loop {
            match dispatcher.record(&buffer).await {
                Ok(r) => {
                    if r.lost > 0 {
                        tracing::warn!(
                            lost = r.lost,
                            "outcomes arrived after their messages were rescued"
                        );
                    }
                    break;
                }
                Err(e) if tokio::time::Instant::now() < give_up_at => {
                    let delay = backoff.next().unwrap_or(Duration::from_secs(10));
                    tracing::warn!(error = %e, retry_in = ?delay, "recording outcomes failed");
                    tokio::time::sleep(delay).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, count = buffer.len(), "dropping outcomes after their leases expired; the rescuer will requeue them");
                    break;
                }
            }
        }
        buffer.clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
