//! A message's escalation chain on its page: the first message, every
//! follow-up and fallback (migration 0028), each with its status and what
//! links it to the one before.

use crate::db::Pg;
use serde::Serialize;

use super::session::Session;
use super::{Result, queries};

/// One message of a chain.
#[derive(Serialize)]
pub(super) struct Link {
    id: i64,
    kind: String,
    status: String,
    tenant: Option<String>,
    due: String,
    last_error: Option<String>,
    depth: i32,
    /// How it follows the message before it (`None` for the first).
    link: Option<String>,
}

from_row!(Link {
    id,
    kind,
    status,
    tenant,
    due,
    last_error,
    depth,
    link
});

/// The chain message `id` belongs to, as `session` may see it; empty when
/// the message stands alone.
pub(super) async fn chain(
    client: &deadpool_postgres::Object,
    session: &Session,
    id: i64,
) -> Result<Vec<Link>> {
    let rows = client.pg_query(queries::MESSAGE_CHAIN, &[&id]).await?;
    let links: Vec<Link> = queries::decode(&rows)?;
    if links.len() < 2 {
        return Ok(Vec::new());
    }
    Ok(links
        .into_iter()
        .filter(|l| session.sees(l.tenant.as_deref()))
        .collect())
}
