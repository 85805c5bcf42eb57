//! LISTEN on a dedicated connection (the pool's connections drop
//! notifications), reconnecting with bounded backoff, waking the claim loop;
//! the same connection hears the inbox's notifications and hands their
//! payloads on (`crate::inbox` fans them out to the open streams).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backon::Retryable;
use futures_util::StreamExt;
use tokio::sync::{Notify, broadcast, mpsc};
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

use crate::db::{DbError, pg_config};

/// The channel the messages trigger notifies.
pub const CHANNEL: &str = "outpost_messages";
/// The channel new chat messages and read marks notify (migration 0029).
pub const INBOX_CHANNEL: &str = "outpost_inbox";
/// What the inbox is handed after every (re)connect: notifications sent
/// while disconnected are lost, so every stream reads what it missed.
pub const RECONNECTED: &str = "";

/// Whether the LISTEN connection is up, for readiness reporting.
#[derive(Debug, Default)]
pub struct ListenState {
    connected: AtomicBool,
}

impl ListenState {
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}

/// What the connection hears.
enum Heard {
    /// LISTEN took effect.
    Listening,
    /// A new message (`outpost_messages`).
    Message,
    /// An inbox notification's payload.
    Inbox(String),
}

/// Listens until `shutdown`, calling `wake.notify_one()` for every
/// notification and after every (re)connect, since notifications sent while
/// disconnected are lost; with `inbox`, also listens on [`INBOX_CHANNEL`] and
/// sends it each payload, and [`RECONNECTED`] after every (re)connect.
pub async fn listen(
    url: String,
    wake: Arc<Notify>,
    state: Arc<ListenState>,
    inbox: Option<broadcast::Sender<String>>,
    shutdown: CancellationToken,
) {
    let backoff = crate::db::reconnect_backoff();
    while !shutdown.is_cancelled() {
        let connect = || subscribe(&url, inbox.is_some());
        let attempt = connect.retry(backoff).notify(|e: &DbError, after| {
            tracing::warn!(error = %e, retry_in = ?after, "LISTEN connection failed");
        });
        let mut notifications = tokio::select! {
            r = attempt => match r {
                Ok(rx) => rx,
                Err(_) => continue,
            },
            () = shutdown.cancelled() => return,
        };
        state.connected.store(true, Ordering::Relaxed);
        tracing::info!(channel = CHANNEL, "listening for new messages");
        wake.notify_one();
        loop {
            tokio::select! {
                n = notifications.recv() => match n {
                    Some(Heard::Listening) => {
                        wake.notify_one();
                        if let Some(inbox) = &inbox {
                            let _ = inbox.send(RECONNECTED.to_owned());
                        }
                    }
                    Some(Heard::Message) => wake.notify_one(),
                    Some(Heard::Inbox(payload)) => {
                        if let Some(inbox) = &inbox {
                            let _ = inbox.send(payload);
                        }
                    }
                    None => break,
                },
                () = shutdown.cancelled() => {
                    state.connected.store(false, Ordering::Relaxed);
                    return;
                }
            }
        }
        state.connected.store(false, Ordering::Relaxed);
        tracing::warn!("LISTEN connection lost; reconnecting");
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Connects, subscribes (to the inbox's channel too with `inbox`), and
/// returns a receiver that yields what is heard and closes when the
/// connection ends.
async fn subscribe(url: &str, inbox: bool) -> Result<mpsc::UnboundedReceiver<Heard>, DbError> {
    let (config, tls) = pg_config(url)?;
    let (client, mut connection) = config.connect(tls).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        // The client must stay alive as long as the connection is driven.
        let _client_guard = &client;
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        let sql = if inbox {
            format!("LISTEN {CHANNEL}; LISTEN {INBOX_CHANNEL}")
        } else {
            format!("LISTEN {CHANNEL}")
        };
        let subscribed = async { client.batch_execute(&sql).await };
        tokio::pin!(subscribed);
        let mut listening = false;
        loop {
            tokio::select! {
                r = &mut subscribed, if !listening => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "LISTEN failed");
                        return;
                    }
                    listening = true;
                    if tx.send(Heard::Listening).is_err() {
                        return;
                    }
                }
                m = messages.next() => match m {
                    Some(Ok(AsyncMessage::Notification(n))) => {
                        let heard = if n.channel() == INBOX_CHANNEL {
                            Heard::Inbox(n.payload().to_owned())
                        } else {
                            Heard::Message
                        };
                        if tx.send(heard).is_err() {
                            return;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        // After shutdown nobody listens any more: not worth a warning.
                        if !tx.is_closed() {
                            tracing::warn!(error = %e, "LISTEN connection error");
                        }
                        return;
                    }
                    None => return,
                },
            }
        }
    });
    Ok(rx)
}
