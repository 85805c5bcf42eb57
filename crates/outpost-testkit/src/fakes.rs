//! An SMTP sink for the tests and the benchmark: accepts everything with
//! prompt replies and counts what it accepted per outbox id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How often the peer saw each outbox id.
pub type Seen = Arc<Mutex<HashMap<i64, u32>>>;

/// Starts an SMTP sink on 127.0.0.1 (no TLS, no AUTH); returns its port and
/// how often it accepted each outbox id (read from `Message-ID:
/// <outpost.ID@…>`). It replies to each command at once and leaves the
/// kernel's delayed ACKs alone, so a client that trips over Nagle shows it.
pub async fn smtp_sink() -> std::io::Result<(u16, Seen)> {
    smtp_sink_closing_after(None).await
}

/// [`smtp_sink`] that closes each connection after `messages` messages, as a
/// server with a short idle timeout would (`None`: never).
pub async fn smtp_sink_closing_after(messages: Option<u32>) -> std::io::Result<(u16, Seen)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let seen: Seen = Arc::default();
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let _ = socket.set_nodelay(true);
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                    return;
                }
                let mut line = String::new();
                let mut in_data = false;
                let mut id = None;
                let mut accepted = 0u32;
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let reply: &[u8] = if in_data {
                        if line == ".\r\n" {
                            in_data = false;
                            *count
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .entry(id.take().unwrap_or(0))
                                .or_insert(0) += 1;
                            accepted += 1;
                            if messages.is_some_and(|n| accepted >= n) {
                                let _ = write.write_all(b"250 2.0.0 queued\r\n").await;
                                return;
                            }
                            b"250 2.0.0 queued\r\n"
                        } else {
                            if id.is_none() {
                                id = outbox_id(&line);
                            }
                            continue;
                        }
                    } else {
                        let upper = line.to_ascii_uppercase();
                        if upper.starts_with("EHLO") {
                            b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("DATA") {
                            in_data = true;
                            b"354 go ahead\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 ok\r\n"
                        }
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((port, seen))
}

/// The outbox id in a `Message-ID: <outpost.ID@domain>` header line.
fn outbox_id(line: &str) -> Option<i64> {
    let (name, value) = line.split_once(':')?;
    if !name.eq_ignore_ascii_case("message-id") {
        return None;
    }
    let rest = value.trim().strip_prefix("<outpost.")?;
    rest.split_once('@')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_from_message_id_headers() {
        assert_eq!(
            outbox_id("Message-ID: <outpost.7@example.com>\r\n"),
            Some(7)
        );
        assert_eq!(outbox_id("Subject: <outpost.7@example.com>\r\n"), None);
    }
}
