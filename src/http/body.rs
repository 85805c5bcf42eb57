//! Request bodies read under two bounds: a per-endpoint size limit (413) and
//! one memory budget shared by every body being read (503 when it is spent),
//! held until the request is answered.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The memory budget of all bodies in flight, in bytes.
#[derive(Debug, Clone)]
pub struct Budget(Arc<Semaphore>);

impl Budget {
    /// `bytes` must fit a u32 (checked by the configuration).
    pub fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(bytes)))
    }

    fn take(&self, bytes: usize) -> Result<OwnedSemaphorePermit, BodyError> {
        let n = u32::try_from(bytes).map_err(|_| BodyError::Busy)?;
        self.0
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| BodyError::Busy)
    }
}

/// A body read in full, holding its share of the budget until dropped.
pub struct HeldBody {
    pub bytes: Bytes,
    _permit: Option<OwnedSemaphorePermit>,
}

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("too many request bodies are being read; retry later")]
    Busy,
    #[error("cannot read the body: {0}")]
    Read(String),
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Read(_) => StatusCode::BAD_REQUEST,
        };
        (status, format!("{self}\n")).into_response()
    }
}

impl BodyError {
    /// The metrics label of this refusal.
    pub fn result(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::Busy => "busy",
            Self::Read(_) => "invalid",
        }
    }
}

/// Reads `body` of at most `limit` bytes. An announced Content-Length is
/// checked and reserved before any byte is read; a chunked body reserves
/// as it arrives.
pub async fn read(
    budget: &Budget,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<HeldBody, BodyError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut permit = match announced {
        Some(n) if n > limit as u64 => return Err(BodyError::TooLarge(limit)),
        Some(n) => Some(budget.take(n as usize)?),
        None => None,
    };
    let mut reserved = announced.unwrap_or(0) as usize;
    let mut buffer = Vec::with_capacity(reserved);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        let total = buffer.len() + chunk.len();
        if total > limit {
            return Err(BodyError::TooLarge(limit));
        }
        if total > reserved {
            let more = budget.take(total - reserved)?;
            reserved = total;
            match &mut permit {
                Some(p) => p.merge(more),
                None => permit = Some(more),
            }
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(HeldBody {
        bytes: Bytes::from(buffer),
        _permit: permit,
    })
}
