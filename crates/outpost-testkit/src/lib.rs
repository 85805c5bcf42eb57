//! Test and benchmark peers for Outpost, outside the product: an SMTP sink
//! that counts what it accepted per outbox id, and bulk enqueueing. Used by
//! Outpost's integration tests and by outpost-bench.

pub mod fakes;

/// Enqueues `n` plain e-mails, 100,000 rows per statement.
pub async fn enqueue_bulk(
    client: &tokio_postgres::Client,
    n: u64,
) -> Result<(), tokio_postgres::Error> {
    let mut done = 0u64;
    while done < n {
        let chunk = i64::try_from((n - done).min(100_000)).unwrap_or(100_000);
        client
            .execute(include_str!("../sql/enqueue_bulk.sql"), &[&chunk])
            .await?;
        done += chunk as u64;
    }
    Ok(())
}
