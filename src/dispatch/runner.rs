//! The long-running claim loop: claims while there is capacity, sends each
//! message on its own task, hands outcomes to a batching recorder, and on
//! shutdown finishes or releases what it holds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::outcome::Outcome;
use super::{Dispatcher, Unfinished};
use crate::message::MessageId;

/// Outcome batches written at once, each on its own connection: the
/// database can work on one batch while the next is gathered.
const RECORDERS: usize = 2;

type InFlight = Arc<Mutex<HashMap<MessageId, Unfinished>>>;

/// What a run did, reported when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    pub claimed: usize,
    /// Messages handed back to the queue at shutdown.
    pub released: usize,
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
    let capacity = Arc::new(Semaphore::new(settings.concurrency));
    let freed = Arc::new(Notify::new());
    let in_flight: InFlight = Arc::default();
    // Set before in-flight tasks are aborted: a send not yet begun is withdrawn.
    let aborting = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Outcome>(settings.concurrency.max(16));
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let recorders: Vec<_> = (0..RECORDERS)
        .map(|_| {
            tokio::spawn(record_loop(
                dispatcher.clone(),
                rx.clone(),
                settings.batch_size as usize,
            ))
        })
        .collect();
    let mut tasks = JoinSet::new();
    let mut report = RunReport::default();
    let mut failures = 0u32;

    while !shutdown.is_cancelled() {
        dispatcher.heartbeat().beat();
        while tasks.try_join_next().is_some() {}
        let free = capacity.available_permits();
        let kinds = dispatcher.kinds_with_capacity();
        // Claim in batches: while sends are in flight, wait until at least half
        // a batch of capacity is free rather than claiming a few rows at a time.
        let worth_claiming = (settings.batch_size as usize)
            .min(settings.concurrency)
            .div_ceil(2);
        let busy = free < settings.concurrency;
        if free == 0 || kinds.is_empty() || (busy && free < worth_claiming) {
            tokio::select! {
                () = freed.notified() => continue,
                () = tokio::time::sleep(settings.poll_interval) => continue,
                () = shutdown.cancelled() => break,
            }
        }
        let limit = settings.batch_size.min(free as u32);
        match dispatcher.claim(limit, &kinds).await {
            Ok(batch) => {
                failures = 0;
                let full = batch.len() as u32 == limit;
                report.claimed += batch.len();
                for message in batch {
                    let Ok(permit) = capacity.clone().try_acquire_owned() else {
                        break;
                    };
                    let id = message.id;
                    lock(&in_flight).insert(
                        id,
                        Unfinished {
                            id,
                            started_at: None,
                        },
                    );
                    let (d, tx, in_flight, freed, aborting) = (
                        dispatcher.clone(),
                        tx.clone(),
                        in_flight.clone(),
                        freed.clone(),
                        aborting.clone(),
                    );
                    tasks.spawn(async move {
                        let marker = in_flight.clone();
                        let delivered = d
                            .deliver_with(message, move |at| {
                                if aborting.load(Ordering::SeqCst) {
                                    return false;
                                }
                                if let Some(u) = lock(&marker).get_mut(&id) {
                                    u.started_at = Some(at);
                                }
                                true
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
                if full {
                    continue;
                }
            }
            Err(e) => {
                failures += 1;
                let delay = backoff(failures);
                tracing::warn!(error = %e, retry_in = ?delay, "claim failed");
                tokio::select! {
                    () = tokio::time::sleep(delay) => continue,
                    () = shutdown.cancelled() => break,
                }
            }
        }
        // A short claim: nothing more is due, or a kind is saturated. In the
        // second case a finishing send frees a slot, so wait for that too.
        let saturated = kinds.len() < crate::message::Kind::ALL.len();
        tokio::select! {
            () = wake.notified() => {}
            () = freed.notified(), if saturated => {}
            () = tokio::time::sleep(settings.poll_interval) => {}
            () = shutdown.cancelled() => break,
        }
    }

    // Shutdown: no more claims; let sends finish within the grace period.
    let grace = tokio::time::sleep(settings.shutdown_grace);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() { break },
            () = &mut grace => {
                tracing::warn!(in_flight = tasks.len(), "shutdown grace elapsed; releasing unfinished messages");
                aborting.store(true, Ordering::SeqCst);
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
        }
    }
    drop(tx);
    for recorder in recorders {
        if recorder.await.is_err() {
            tracing::error!("an outcome recorder stopped unexpectedly");
        }
    }
    let unfinished: Vec<Unfinished> = lock(&in_flight).drain().map(|(_, u)| u).collect();
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

/// Writes outcomes in batches: whatever has arrived, up to `batch` at a time.
/// A failed write is retried until it succeeds or the leases it guards have
/// expired anyway (the rescuer then requeues those messages).
async fn record_loop(
    dispatcher: Arc<Dispatcher>,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Outcome>>>,
    batch: usize,
) {
    let mut buffer = Vec::with_capacity(batch);
    loop {
        // One recorder gathers a batch while the others write theirs.
        let received = rx.lock().await.recv_many(&mut buffer, batch).await;
        if received == 0 {
            break;
        }
        let give_up_at = tokio::time::Instant::now() + dispatcher.settings().lease;
        let mut failures = 0;
        loop {
            match dispatcher.record(&buffer).await {
                Ok(r) => {
                    if r.lost > 0 {
                        tracing::warn!(lost = r.lost, "outcomes arrived after their lease expired");
                    }
                    break;
                }
                Err(e) if tokio::time::Instant::now() < give_up_at => {
                    failures += 1;
                    let delay = backoff(failures);
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

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << failures.min(7))).min(Duration::from_secs(10))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
