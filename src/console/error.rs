//! Why a console request failed ([`ConsoleError`]), and the short plain page
//! every failure is shown as.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::form;
use super::pages::PAGES;
use crate::db::DbError;

/// Why a console request failed; rendered as a short plain page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error(transparent)]
    Refused(#[from] form::Refusal),
    /// A provider client could not be set up from what is stored (a test
    /// connection or a test push); the operator sees why.
    #[error("cannot set up the client: {0}")]
    Setup(#[source] crate::channel::SendError),
    #[error("cannot render the page: {0}")]
    Render(#[from] minijinja::Error),
    #[error("cannot build the session cookie: {0}")]
    Cookie(#[from] axum::http::header::InvalidHeaderValue),
    #[error("the configuration's {0} is unusable here")]
    Misconfigured(&'static str),
    /// A stored message cannot be read as a send would read it; the
    /// operator sees which column and why.
    #[error(transparent)]
    Unreadable(#[from] crate::message::Undecodable),
}

/// The console's results: a [`ConsoleError`] unless said otherwise.
pub(crate) type Result<T, E = ConsoleError> = std::result::Result<T, E>;

impl From<tokio_postgres::Error> for ConsoleError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

impl From<deadpool_postgres::PoolError> for ConsoleError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Db(DbError::Pool(e))
    }
}

impl ConsoleError {
    /// Whether PostgreSQL cancelled the statement (`console.statement_timeout`).
    fn timed_out(&self) -> bool {
        matches!(self, ConsoleError::Db(DbError::Query(e))
            if e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED))
    }

    /// Whether the operator is shown only that it failed (the log says why).
    fn internal(&self) -> bool {
        matches!(
            self,
            ConsoleError::Db(_)
                | ConsoleError::Render(_)
                | ConsoleError::Cookie(_)
                | ConsoleError::Misconfigured(_)
        )
    }

    fn status(&self) -> StatusCode {
        match self {
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::Refused(_) | ConsoleError::Setup(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Unreadable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if self.timed_out() {
            tracing::warn!(error = %self, "console statement cancelled by console.statement_timeout");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database took longer than console.statement_timeout allows; \
                 narrow the search or try again later"
                    .to_owned(),
            );
        }
        if !self.internal() {
            return error_page(self.status(), self.to_string());
        }
        let mut reason = self.to_string();
        let mut source = std::error::Error::source(&self);
        while let Some(cause) = source {
            reason = format!("{reason}: {cause}");
            source = cause.source();
        }
        tracing::error!(error = %reason, "console request failed");
        error_page(
            self.status(),
            "internal error (see the daemon's log)".to_owned(),
        )
    }
}

/// The page of a failed request: its status code and why.
#[derive(Serialize, Default)]
pub(super) struct ErrorPage {
    code: u16,
    text: String,
}

page! {
    ErrorPage => "error.html", "";
}

/// The short plain page a failed console request gets.
pub fn error_page(status: StatusCode, text: String) -> Response {
    let page = ErrorPage {
        code: status.as_u16(),
        text,
    };
    let body = PAGES.page(None, &page).map_or(page.text, |h| h.0);
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}
